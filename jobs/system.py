"""System jobs: ``ping`` proves the whole chain (web → Redis → worker → database) works."""

from __future__ import annotations

from jobs import tracked


def ping(job_id: int) -> str:
    """Mark the Job row running then done, and answer "pong"."""
    with tracked(job_id):
        pass
    return "pong"
