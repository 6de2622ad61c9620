"""Uploaded files kept between a preview and its commit.

The bytes wait in instance/<area>/<token>.bin (never in the cookie) beside a JSON sidecar with what the
preview was about (who uploaded it, for what) and the SHA-256 that was previewed. `load` gives them back
only to the same uploader for the same purpose, and only when the bytes still hash to what was previewed
and to what the commit form says was previewed. Files left behind are purged after an hour.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time

from flask import current_app

TTL_SECONDS = 3600
TOKEN = re.compile(r"[0-9a-f]{32}")


class Gone(Exception):
    """The previewed file is gone, expired, belongs to someone else or another purpose."""


class Altered(Exception):
    """The kept bytes no longer hash to what was previewed."""


class PreviewStore:
    def __init__(self, area: str) -> None:
        self.area = area

    def folder(self) -> str:
        path = os.path.join(current_app.instance_path, self.area)
        os.makedirs(path, mode=0o700, exist_ok=True)
        return path

    def _paths(self, token: str) -> tuple[str, str]:
        folder = self.folder()
        return os.path.join(folder, f"{token}.bin"), os.path.join(folder, f"{token}.json")

    def purge(self, now: float | None = None) -> None:
        """Delete uploads older than an hour (previewed but never committed)."""
        now = now or time.time()
        folder = self.folder()
        for name in os.listdir(folder):
            path = os.path.join(folder, name)
            try:
                if now - os.path.getmtime(path) > TTL_SECONDS:
                    os.unlink(path)
            except FileNotFoundError:
                pass

    def store(self, data: bytes, meta: dict) -> str:
        """Keep the previewed bytes and their sidecar (plus the SHA-256); return the random token naming them."""
        self.purge()
        token = secrets.token_hex(16)
        meta = {**meta, "sha256": hashlib.sha256(data).hexdigest()}
        for path, content in zip(self._paths(token), (data, json.dumps(meta, ensure_ascii=False).encode("utf-8")),
                                 strict=True):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(content)
        return token

    def load(self, token: str, *, expect: dict, sha256: str) -> tuple[bytes, dict]:
        """The bytes and sidecar of a preview whose sidecar matches `expect` and whose hash is `sha256`."""
        if not TOKEN.fullmatch(token or ""):
            raise Gone(token)
        self.purge()
        data_path, meta_path = self._paths(token)
        try:
            with open(meta_path, encoding="utf-8") as f:
                meta = json.load(f)
            with open(data_path, "rb") as f:
                data = f.read()
        except (OSError, ValueError) as exc:
            raise Gone(token) from exc
        if any(meta.get(key) != value for key, value in expect.items()):
            raise Gone(token)
        digest = hashlib.sha256(data).hexdigest()
        if digest != meta.get("sha256") or not secrets.compare_digest(digest, sha256 or ""):
            self.discard(token)
            raise Altered(token)
        return data, meta

    def discard(self, token: str) -> None:
        if not TOKEN.fullmatch(token or ""):
            return
        for path in self._paths(token):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
