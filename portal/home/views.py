from flask import redirect, url_for
from flask_login import current_user

from portal.authz import current_actor, public
from portal.db import get_session
from portal.home import bp, service
from portal.web import render


@bp.get("/")
@public
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    actor = current_actor()
    sections = service.home_sections(session=get_session(), actor=actor)
    return render("home/index.html", sections=sections)
