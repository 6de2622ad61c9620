"""Học bạ số portal: the application factory."""

from __future__ import annotations

import os
import secrets

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx

from portal import config as defaults

csrf = CSRFProtect()
htmx = Htmx()

# Blueprints in registration order (module path, url prefix).
BLUEPRINTS = (
    ("portal.auth", None),
    ("portal.home", None),
    ("portal.school", None),
    ("portal.admin", "/quan-tri"),
    ("portal.imports", "/quan-tri/nhap-du-lieu"),
    ("portal.gradebook", "/giang-day"),
    ("portal.homeroom", "/chu-nhiem"),
    ("portal.review", None),
    ("portal.periods", "/ky-danh-gia"),
    ("portal.audit_trail", "/nhat-ky"),
    ("portal.dashboard", "/tien-do"),
    ("portal.transcripts", None),
    ("portal.public", None),
    ("portal.transfer", None),
    ("portal.delivery", None),
    ("portal.parents", None),
)


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: config layers, extensions, blueprints, the default-deny access check."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    instance = (test_config or {}).get("INSTANCE_PATH") or os.environ.get("PORTAL_INSTANCE")
    app = Flask(
        __name__,
        instance_path=instance or os.path.join(root, "instance"),
        instance_relative_config=True,
        template_folder=os.path.join(root, "templates"),
        static_folder=os.path.join(root, "static"),
    )
    app.config.from_object(defaults)
    app.config.from_pyfile("config.py", silent=True)
    _config_from_env(app)
    if test_config:
        app.config.update(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app.instance_path)
    app.permanent_session_lifetime = app.config["SESSION_LIFETIME"]

    from portal import auth, authz, db, errors, web

    db.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    auth.init_login(app)
    errors.init_app(app)
    web.init_app(app)

    import importlib

    for module_name, prefix in BLUEPRINTS:
        app.register_blueprint(importlib.import_module(module_name).bp, url_prefix=prefix)

    from portal import cli

    cli.init_app(app)
    authz.check_every_view_has_policy(app)
    return app


def _config_from_env(app: Flask) -> None:
    env = os.environ
    if env.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = env["DATABASE_URL"]
    for key, value in env.items():
        if key.startswith("PORTAL_") and key not in ("PORTAL_INSTANCE", "PORTAL_HTTPS"):
            app.config[key[len("PORTAL_"):]] = value
    if env.get("PORTAL_HTTPS", "").lower() in ("1", "true", "yes"):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["PREFERRED_URL_SCHEME"] = "https"


def _instance_secret(instance_path: str) -> str:
    """Return the secret key kept in instance/secret_key, creating it (mode 0600) on first use."""
    path = os.path.join(instance_path, "secret_key")
    if not os.path.exists(path):
        # Write aside, then link into place: several workers starting at once agree on one key.
        tmp = f"{path}.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    with open(path) as f:
        return f.read().strip()
