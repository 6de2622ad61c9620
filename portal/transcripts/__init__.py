"""Transcripts (học bạ số): the national record of a student's year, its PDF on the Ministry's template with
the XML embedded, the chain of signatures, release, revocation and public verification.

The blueprint holds the staff screens (views.py): the classes and their transcripts, one transcript, a
student's whole level, and the signer's queue with its live progress."""

from flask import Blueprint

bp = Blueprint("transcripts", __name__)

from portal.transcripts import views  # noqa: E402,F401
