"""Run the whole portal in the foreground: a private Redis, one RQ worker and the web app under gunicorn.

``make run`` calls ``.venv/bin/python -m portal.serve`` after ``make setup``. This supervisor

1. writes ``instance/redis/redis.conf`` (no TCP port: a unix socket ``instance/redis/redis.sock`` with mode
   700, append-only file on, RDB snapshots off) and starts ``redis-server`` with it;
2. waits until the socket answers PING, then starts ``rq worker --with-scheduler --worker-ttl 60`` (warm
   parent: ``jobs.worker.WarmWorker``) on the
   app's queues and ``gunicorn wsgi:app`` on ``0.0.0.0:$PORT`` (default 5000) with ``$WEB_CONCURRENCY``
   workers (default 2) of 4 threads each; both get ``PORTAL_REDIS_URL`` pointing at the private socket;
3. waits until ``/dang-nhap`` answers 200, then prints the address(es) to open (the machine's LAN
   addresses too, for teachers' phones) and, when the demo school exists, the demo logins;
4. on Ctrl-C (SIGINT) or SIGTERM stops all three and exits 0; if any of them dies on its own it stops
   the others and exits 1.

Each child runs in its own process group (so that a Ctrl-C in the terminal reaches only this
supervisor, which stops the children in order: web and worker first, Redis last so that the worker
can finish its current job). Stopping a child sends SIGTERM to its whole group, waits up to 10 s, then
sends SIGKILL to whatever is left of the group. The children also get SIGTERM from the kernel if this
supervisor is killed outright (PR_SET_PDEATHSIG), so no process outlives it.

The instance folder is the app's (``PORTAL_INSTANCE`` or ``instance/``); ``DATABASE_URL`` and the other
``PORTAL_*`` variables pass through to the children unchanged.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STOP_TIMEOUT = 10.0
REDIS_TIMEOUT = 15.0
WEB_TIMEOUT = 90.0
PR_SET_PDEATHSIG = 1
SIOCGIFADDR = 0x8915
# Longest unix socket path the kernel accepts (sun_path is 108 bytes with the final NUL).
MAX_SOCKET_PATH = 107


class Stop(Exception):
    """Raised out of a wait when SIGINT, SIGTERM or SIGHUP arrived."""


class StartupError(Exception):
    pass


class ChildDied(Exception):
    def __init__(self, child: Child):
        super().__init__(f"{child.name} đã dừng (mã thoát {child.proc.returncode})")
        self.child = child


class Child:
    def __init__(self, name: str, proc: subprocess.Popen):
        self.name = name
        self.proc = proc

    @property
    def pgid(self) -> int:
        return self.proc.pid  # started with process_group=0: the child leads its own group


def log(message: str) -> None:
    print(f"[serve] {message}", flush=True)


try:
    _LIBC = ctypes.CDLL(None, use_errno=True)
except OSError:
    _LIBC = None


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the supervisor dies (Linux only; harmless elsewhere)."""
    prctl = getattr(_LIBC, "prctl", None)
    if prctl is not None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class Supervisor:
    def __init__(self, *, port: int, web_workers: int):
        from portal import create_app, tasks

        self.app = create_app()
        self.port = port
        self.web_workers = web_workers
        self.instance = os.path.abspath(self.app.instance_path)
        self.redis_dir = os.path.join(self.instance, "redis")
        self.socket_path = os.path.join(self.redis_dir, "redis.sock")
        self.redis_url = "unix://" + self.socket_path
        self.queues = tasks.queue_names(self.app)
        self.children: list[Child] = []
        self.stop_signal: int | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGHUP, self._on_signal)
        try:
            self._preflight()
            self._start_redis()
            self._start_worker()
            self._start_web()
            self._announce()
            while True:
                self._check()
                time.sleep(0.2)
        except Stop:
            log(f"Nhận {signal.Signals(self.stop_signal).name}: đang dừng…")
            code = 0
        except ChildDied as exc:
            log(f"LỖI: {exc}; dừng các tiến trình còn lại.")
            code = 1
        except StartupError as exc:
            log(f"LỖI: {exc}")
            code = 1
        except BaseException:
            self.stop_all()
            raise
        self.stop_all()
        if code == 0:
            log("Đã dừng gunicorn, RQ worker và Redis.")
        return code

    def _on_signal(self, signum, _frame) -> None:
        # Only note it: the loops below notice within 0.2 s, so that no child is ever started untracked.
        if self.stop_signal is None:
            self.stop_signal = signum

    def _check(self) -> None:
        """Raise Stop if a stop signal arrived, ChildDied if any child has exited."""
        if self.stop_signal is not None:
            raise Stop()
        for child in self.children:
            if child.proc.poll() is not None:
                raise ChildDied(child)

    # --- preflight -------------------------------------------------------------------------------

    def _preflight(self) -> None:
        if not shutil.which("redis-server"):
            raise StartupError("không tìm thấy redis-server: chạy `make setup` (cài gói redis-server).")
        if len(self.socket_path.encode()) > MAX_SOCKET_PATH:
            raise StartupError(f"đường dẫn socket quá dài ({len(self.socket_path)} > {MAX_SOCKET_PATH} byte): "
                               f"{self.socket_path}; đặt PORTAL_INSTANCE ở thư mục ngắn hơn.")
        if os.path.exists(self.socket_path) and _redis_answers(self.socket_path):
            raise StartupError(f"một Redis khác đang chạy trên {self.socket_path}: portal đã chạy rồi?")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("0.0.0.0", self.port))
            except OSError as exc:
                message = f"cổng {self.port} đang bận ({exc.strerror}); đặt PORT=… để dùng cổng khác."
                raise StartupError(message) from exc

    # --- children --------------------------------------------------------------------------------

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PORTAL_REDIS_URL"] = self.redis_url
        env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _spawn(self, name: str, argv: list[str]) -> Child:
        # The supervisor runs no threads, so preexec_fn is safe here.
        proc = subprocess.Popen(argv, cwd=ROOT, env=self._child_env(), stdin=subprocess.DEVNULL,
                                process_group=0, preexec_fn=_die_with_parent)  # noqa: PLW1509
        child = Child(name, proc)
        self.children.append(child)
        return child

    def _start_redis(self) -> None:
        os.makedirs(self.redis_dir, mode=0o700, exist_ok=True)
        os.chmod(self.redis_dir, 0o700)
        conf = os.path.join(self.redis_dir, "redis.conf")
        with open(conf, "w") as f:
            f.write(_redis_conf(self.redis_dir, self.socket_path))
        child = self._spawn("redis-server", [shutil.which("redis-server"), conf])
        deadline = time.monotonic() + REDIS_TIMEOUT
        while not (os.path.exists(self.socket_path) and _redis_answers(self.socket_path)):
            self._check()
            if time.monotonic() > deadline:
                raise StartupError(f"Redis không trả lời PING sau {REDIS_TIMEOUT:.0f} s; xem "
                                   f"{os.path.join(self.redis_dir, 'redis.log')}")
            time.sleep(0.1)
        log(f"Redis sẵn sàng: {self.socket_path} (pid {child.proc.pid})")

    def _start_worker(self) -> None:
        argv = [_venv_script("rq"), "worker", "--url", self.redis_url, "--with-scheduler",
                "--worker-ttl", "60", "--worker-class", "jobs.worker.WarmWorker", *self.queues]
        child = self._spawn("rq worker", argv)
        log(f"RQ worker đã khởi động trên hàng đợi {', '.join(self.queues)} (pid {child.proc.pid})")

    def _start_web(self) -> None:
        argv = [_venv_script("gunicorn"), "--bind", f"0.0.0.0:{self.port}", "--workers", str(self.web_workers),
                "--threads", "4", "--graceful-timeout", "8", "--access-logfile", "-",
                # The control socket would default to ~/.gunicorn/gunicorn.ctl, shared by every instance.
                "--no-control-socket", "wsgi:app"]
        child = self._spawn("gunicorn", argv)
        url = f"http://127.0.0.1:{self.port}/dang-nhap"
        deadline = time.monotonic() + WEB_TIMEOUT
        while not _http_ok(url):
            self._check()
            if time.monotonic() > deadline:
                raise StartupError(f"{url} không trả lời 200 sau {WEB_TIMEOUT:.0f} s")
            time.sleep(0.2)
        log(f"gunicorn sẵn sàng: {self.web_workers} worker × 4 luồng (pid {child.proc.pid})")

    def _announce(self) -> None:
        lines = ["", "Cổng thông tin Học bạ số đang chạy. Mở trình duyệt tại:",
                 f"  http://127.0.0.1:{self.port}/"]
        lines += [f"  http://{address}:{self.port}/   (trong mạng nội bộ, {name})" for name, address in lan_addresses()]
        if self._demo_school_exists():
            from portal.seed import format_demo_logins

            lines += ["", format_demo_logins(self.app)]
        lines += ["", "Nhấn Ctrl-C để dừng.", ""]
        print("\n".join(lines), flush=True)

    def _demo_school_exists(self) -> bool:
        from sqlalchemy.exc import SQLAlchemyError
        from sqlmodel import select

        from portal.db import engine_for, new_session
        from portal.models import User

        try:
            with self.app.app_context(), new_session(write=False, app=self.app) as session:
                return session.exec(select(User.id).where(User.username == "quantri")).first() is not None
        except SQLAlchemyError as exc:
            log(f"không đọc được cơ sở dữ liệu ({type(exc).__name__}): đã chạy `make setup` chưa?")
            return False
        finally:
            engine_for(self.app).dispose()  # the supervisor keeps no database connection open

    # --- stopping --------------------------------------------------------------------------------

    def stop_all(self) -> None:
        """Stop web and worker, then Redis; never raise Stop while doing it."""
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        redis = [c for c in self.children if c.name == "redis-server"]
        others = [c for c in self.children if c.name != "redis-server"]
        _stop_group(others)
        _stop_group(redis)
        for child in self.children:
            if child.proc.returncode not in (0, None, -signal.SIGTERM):
                log(f"{child.name} thoát với mã {child.proc.returncode}")


def _stop_group(children: list[Child]) -> None:
    """SIGTERM each child's process group, wait up to STOP_TIMEOUT, then SIGKILL what is left."""
    for child in children:
        _killpg(child.pgid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in children:
        try:
            child.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log(f"{child.name} không dừng sau {STOP_TIMEOUT:.0f} s: SIGKILL")
    # Members of a group (gunicorn's workers, RQ's work horse) may outlive their leader for a moment.
    while time.monotonic() < deadline and any(_group_alive(c.pgid) for c in children):
        time.sleep(0.05)
    for child in children:
        if child.proc.poll() is None or _group_alive(child.pgid):
            _killpg(child.pgid, signal.SIGKILL)
        child.proc.wait()


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


# --- helpers -------------------------------------------------------------------------------------


def _redis_conf(directory: str, socket_path: str) -> str:
    return "\n".join([
        "# Written by portal/serve.py at each start: edits are lost.",
        "port 0",
        f'unixsocket "{socket_path}"',
        "unixsocketperm 700",
        "daemonize no",
        f'dir "{directory}"',
        'logfile "redis.log"',
        "appendonly yes",
        'appendfilename "appendonly.aof"',
        'save ""',
        "",
    ])


def _redis_answers(socket_path: str) -> bool:
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        client = Redis(unix_socket_path=socket_path, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (RedisError, OSError):
        return False


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _venv_script(name: str) -> str:
    """Return the console script installed beside this Python (the venv's), else the one on PATH."""
    candidate = os.path.join(os.path.dirname(sys.executable), name)
    if os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which(name)
    if not found:
        raise StartupError(f"không tìm thấy {name}: chạy `make setup`.")
    return found


def lan_addresses() -> list[tuple[str, str]]:
    """Return (interface, IPv4 address) for each non-loopback interface that has one (Linux)."""
    skip = ("lo", "docker", "veth", "br-", "virbr")
    found = []
    try:
        interfaces = socket.if_nameindex()
    except OSError:
        return found
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _index, name in interfaces:
            if name.startswith(skip):
                continue
            try:
                packed = fcntl.ioctl(s.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue
            address = socket.inet_ntoa(packed[20:24])
            if not address.startswith("127."):
                found.append((name, address))
    return found


def main() -> int:
    port = int(os.environ.get("PORT") or 5000)
    web_workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
    return Supervisor(port=port, web_workers=web_workers).run()


if __name__ == "__main__":
    sys.exit(main())
