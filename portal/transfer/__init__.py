"""Transfer of students between schools (chuyển trường): the office exports a student's signed transcripts as
one package; the receiving school verifies it and takes the student in with their learning history."""

from flask import Blueprint

bp = Blueprint("transfer", __name__)

from portal.transfer import views  # noqa: E402,F401
