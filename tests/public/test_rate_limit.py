"""The public verification rate limit: counted in the database, per client, over a sliding window."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlmodel import func, select

from portal.models import VerifyAttempt, utcnow
from portal.public import service as public
from tests.conftest import base_config


@pytest.fixture
def app_config(tmp_path, database_url) -> dict:
    (tmp_path / "instance").mkdir(exist_ok=True)
    return {**base_config(tmp_path / "instance", database_url), "VERIFY_MAX_PER_WINDOW": 3,
            "VERIFY_WINDOW": timedelta(minutes=10)}


def test_the_fourth_check_in_the_window_gets_429(client, caplog):
    caplog.set_level(logging.INFO, logger="portal.public.service")
    assert client.get("/").status_code in (200, 302)  # pages other than checks are not counted
    for _ in range(3):
        assert client.get("/tra-cuu/HB-2345-6789-ABCD").status_code == 404
    for response in (client.get("/tra-cuu/HB-2345-6789-ABCD"), client.post("/tra-cuu/ma", data={"code": "x"}),
                     client.post("/tra-cuu", data={}, content_type="multipart/form-data")):
        assert response.status_code == 429
        assert "quá nhiều lần" in response.get_data(as_text=True)
        assert response.headers["Retry-After"] == "600"
    assert client.get("/tra-cuu").status_code == 200  # the form itself stays reachable
    assert any("rate limit" in r.getMessage() and "127.0.0.1" not in r.getMessage() for r in caplog.records)


def test_other_clients_are_not_limited(client):
    for _ in range(3):
        client.get("/tra-cuu/HB-2345-6789-ABCD")
    assert client.get("/tra-cuu/HB-2345-6789-ABCD").status_code == 429
    other = client.get("/tra-cuu/HB-2345-6789-ABCD", environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert other.status_code == 404


def test_the_window_slides_and_old_rows_are_pruned(app, session):
    past = utcnow() - timedelta(minutes=11)
    for _ in range(3):
        public.count_attempt(app=app, ip="10.0.0.8", now=past)
    with pytest.raises(public.RateLimited):
        public.count_attempt(app=app, ip="10.0.0.8", now=past + timedelta(minutes=1))
    public.count_attempt(app=app, ip="10.0.0.8")  # the three are older than the window now
    session.commit()
    assert session.exec(select(func.count()).select_from(VerifyAttempt)).one() == 1
    stored = session.exec(select(VerifyAttempt.client)).one()
    assert "10.0.0.8" not in stored and len(stored) == 32
