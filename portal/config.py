"""Default configuration. Secrets never live here.

Layers, later wins: these defaults, ``instance/config.py`` (if present), ``PORTAL_*`` environment
variables (``PORTAL_DATABASE_URL`` or plain ``DATABASE_URL``, ``PORTAL_REDIS_URL`` ...), and the
``test_config`` mapping given to ``create_app``.
"""

from datetime import timedelta

# Database: None means SQLite at instance/portal.db (see portal.db.database_url).
DATABASE_URL = None
# Redis for RQ: None means the private unix socket instance/redis/redis.sock started by `make run`.
REDIS_URL = None
RQ_QUEUES = ("default",)

# Sessions: the cookie carries only a random session id checked against user_sessions on each request.
SESSION_COOKIE_NAME = "hocba_session"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Set PORTAL_HTTPS=1 (or SESSION_COOKIE_SECURE=True) when the portal is served over HTTPS.
SESSION_COOKIE_SECURE = False
SESSION_LIFETIME = timedelta(hours=12)

# CSRF tokens live as long as the session: a teacher may keep a grid open for hours.
WTF_CSRF_TIME_LIMIT = None
WTF_CSRF_HEADERS = ["X-CSRFToken"]

# Uploads (imports, photos, scans). Larger bodies get HTTP 413 with a Vietnamese page.
MAX_CONTENT_LENGTH = 12 * 1024 * 1024
IMPORT_MAX_BYTES = 5 * 1024 * 1024
IMPORT_MAX_ROWS = 5000

# Login throttling: this many failures per account or per IP within the window → HTTP 429.
LOGIN_MAX_FAILURES = 10
LOGIN_WINDOW = timedelta(minutes=5)

# Argon2id (OWASP 2023 minimum: m = 46 MiB, t = 1, p = 1). Memory in KiB.
ARGON2_MEMORY_KIB = 47104
ARGON2_TIME_COST = 1
ARGON2_PARALLELISM = 1
PASSWORD_MIN_LENGTH = 8

# The demo school is seeded by `make setup` when the database is empty.
DEMO_PASSWORD = "Hocbaso@2026"

# Transcripts: the address printed in the QR code and the verification link of every transcript
# (PORTAL_PUBLIC_URL), and an RFC 3161 timestamp server for PAdES B-T (PORTAL_TIMESTAMP_URL; unset = B-B).
PUBLIC_URL = "http://localhost:5000"
TIMESTAMP_URL = None
# Public verification: at most this many checks per client address per window.
VERIFY_MAX_PER_WINDOW = 20
VERIFY_WINDOW = timedelta(minutes=10)
# How many of the demo class's transcripts `flask setup` signs and releases (the whole class of 30 by default;
# about 1 s each). Tests that only need a running demo set PORTAL_DEMO_RELEASED_TRANSCRIPTS=2.
DEMO_RELEASED_TRANSCRIPTS = 30

# Parents: a claim code printed on a slip links a parent account to a child once, within this lifetime; this many
# wrong codes per account or per IP address within the window → HTTP 429.
PARENT_CODE_LIFETIME = timedelta(days=30)
PARENT_CLAIM_MAX_FAILURES = 5
PARENT_CLAIM_WINDOW = timedelta(minutes=15)

# Sending (portal/delivery): the receiving endpoints, name → {"url", "token", "timeout" (s), "label"}, e.g.
# {"bo": {"url": "https://…/api/nhan-hoc-ba", "token": "…", "timeout": 30, "label": "Bộ GD&ĐT"}}; empty: nothing is
# sent. PORTAL_SEND_ENDPOINTS may hold the same as JSON. Retries wait base × 2^(n-1) seconds, at most the cap; a
# claim ("sending") expires after the endpoint's timeout + the margin; workers reconcile every few seconds.
SEND_ENDPOINTS: dict = {}
SEND_BACKOFF_BASE_SECONDS = 10
SEND_BACKOFF_MAX_SECONDS = 3600
SEND_LEASE_MARGIN_SECONDS = 60
SEND_RECONCILE_SECONDS = 60
# Receiving (POST /api/nhan-hoc-ba): bearer token → the sending school's code (matruong); empty: receive nothing.
# PORTAL_RECEIVER_TOKENS may hold the same as JSON.
RECEIVER_TOKENS: dict = {}
