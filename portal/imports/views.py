from portal.authz import ANY, policy
from portal.imports import bp
from portal.web import render


@bp.get("/")
@policy(admin=ANY)
def index():
    return render("admin/index.html")
