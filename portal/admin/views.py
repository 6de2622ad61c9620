"""Placeholder routes; replaced by the administration screens."""

from portal.admin import bp
from portal.authz import ANY, policy
from portal.web import render

ADMIN = {"admin": ANY}


@bp.get("/")
@policy(**ADMIN)
def index():
    return render("admin/index.html")


for _name, _path in (("school", "/truong"), ("years", "/nam-hoc"), ("classes", "/lop"),
                     ("assignments", "/phan-cong"), ("teachers", "/giao-vien"), ("students", "/hoc-sinh")):
    bp.add_url_rule(_path, _name, policy(**ADMIN)(lambda: render("admin/index.html")))
