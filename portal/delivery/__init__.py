"""Delivery: sending released transcripts to the Ministry's and the Department's databases through an outbox
(the sending dashboard), and receiving them from other portals (the receiver API and its page)."""

from flask import Blueprint

bp = Blueprint("delivery", __name__)

from portal.delivery import views  # noqa: E402,F401
