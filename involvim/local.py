"""The local runner: embedded PostgreSQL and NATS, migrations, and the three services as
separate processes, the way ``involvim run`` and the end-to-end tests start them."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from involvim.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from involvim.migrations import upgrade

SERVICES = ("registry", "matcher", "notifier")
SECRET_NAMES = ("ADMIN_API_KEY", "SERVICE_TOKEN", "LINK_SECRET")


def port_is_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _preferred_port(wanted: int) -> int:
    return wanted if port_is_free(wanted) else free_port()


@dataclass
class LocalStack:
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    postgres: EmbeddedPostgres | None = None
    nats: EmbeddedNats | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    mail_sink: Any = None
    # What the caller's environment already says (tests pass their own servers here).
    given: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    # The familiar ports (8000, 9101, 9102) when free; tests and benchmarks take any free port
    # so that they never collide with a running `make run`.
    familiar_ports: bool = True

    def start_infrastructure(self) -> None:
        """Start what DATABASE_URL / NATS_URL do not point at, then migrate."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.env.update(self._secrets())
        self.env.update({k: v for k, v in self.given.items() if k in SECRET_NAMES})
        if self.given.get("DATABASE_URL"):
            self.env["DATABASE_URL"] = self.given["DATABASE_URL"]
        else:
            self.postgres = EmbeddedPostgres(self.data_dir / "postgres")
            self.postgres.start()
            self.env["DATABASE_URL"] = self.postgres.url()
        if self.given.get("NATS_URL"):
            self.env["NATS_URL"] = self.given["NATS_URL"]
        else:
            self.nats = EmbeddedNats(self.data_dir / "nats")
            self.nats.start()
            self.env["NATS_URL"] = self.nats.url
        upgrade(self.env["DATABASE_URL"])

        def pick_port(name: str, familiar: int) -> int:
            if self.given.get(name):
                return int(self.given[name])
            return _preferred_port(familiar) if self.familiar_ports else free_port()

        registry_port = pick_port("REGISTRY_PORT", 8000)
        self.env.setdefault("REGISTRY_PORT", str(registry_port))
        self.env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{registry_port}")
        self.env.setdefault("REGISTRY_URL", f"http://127.0.0.1:{registry_port}")
        self.env.setdefault("MATCHER_METRICS_PORT", str(pick_port("MATCHER_METRICS_PORT", 9101)))
        self.env.setdefault("NOTIFIER_METRICS_PORT", str(pick_port("NOTIFIER_METRICS_PORT", 9102)))
        if not self.given.get("SMTP_HOST"):
            # Mail stays on this machine: every message becomes a file in .data/mail/.
            from involvim.mailsink import start_mail_sink

            port = free_port()
            self.mail_sink = start_mail_sink(self.data_dir / "mail", port)
            self.env |= {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port)}
        if not self.given.get("SMS_PROVIDER"):
            self.env |= {"SMS_PROVIDER": "log", "SMS_LOG_FILE": str(self.data_dir / "sms.jsonl")}

    def _secrets(self) -> dict[str, str]:
        """Local secrets, made once per data folder so links stay valid across restarts."""
        path = self.data_dir / "secrets.env"
        if not path.exists():
            lines = [f"{name}={secrets.token_urlsafe(32)}" for name in SECRET_NAMES]
            path.write_text("\n".join(lines) + "\n")
            path.chmod(0o600)
        return {k: v for k, v in dotenv_values(path).items() if v is not None}

    def write_runtime_env(self) -> Path:
        """Where commands in another terminal (org create, events tail, demo) find the stack."""
        path = self.data_dir / "runtime.env"
        keys = ("DATABASE_URL", "NATS_URL", "REGISTRY_URL", "ADMIN_API_KEY")
        path.write_text("".join(f"{k}={self.env[k]}\n" for k in keys))
        path.chmod(0o600)
        return path

    def start_service(self, name: str, extra_env: dict[str, str] | None = None) -> None:
        env = self.given | self.env | (extra_env or {})
        log = (self.data_dir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "involvim.cli", name],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def stop_service(self, name: str, timeout: float = 10.0) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop(self) -> None:
        for name in list(self.processes):
            self.stop_service(name)
        if self.mail_sink is not None:
            self.mail_sink.stop()
        if self.nats is not None:
            self.nats.stop()
        if self.postgres is not None:
            self.postgres.stop()
        (self.data_dir / "runtime.env").unlink(missing_ok=True)

    def first_exited(self) -> str | None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                return name
        return None


def run_foreground(data_dir: Path) -> int:
    """``involvim run``: everything up until Ctrl-C, then everything down cleanly."""
    stack = LocalStack(data_dir)
    exit_code = 0

    def stop_on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # SIGTERM (a service manager, `timeout`) stops as cleanly as Ctrl-C; and Ctrl-C stops even
    # a runner started with SIGINT ignored (in the background of a non-interactive shell).
    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGINT, stop_on_signal)
    try:
        print("Starting PostgreSQL and NATS ...", flush=True)
        stack.start_infrastructure()
        stack.write_runtime_env()
        for name in SERVICES:
            stack.start_service(name)
        print(
            f"INVOLVIM Match is running.\n"
            f"  web pages     {stack.env['REGISTRY_URL']}/  (volunteers; organisations at /desk)\n"
            f"  registry API  {stack.env['REGISTRY_URL']}  (docs: {stack.env['REGISTRY_URL']}/docs)\n"
            f"  matcher       http://127.0.0.1:{stack.env['MATCHER_METRICS_PORT']}/metrics\n"
            f"  notifier      http://127.0.0.1:{stack.env['NOTIFIER_METRICS_PORT']}/metrics\n"
            f"  NATS          {stack.env['NATS_URL']}\n"
            f"  mail, SMS     {data_dir}/mail/*.eml, {data_dir}/sms.jsonl\n"
            f"  logs          {data_dir}/<service>.log\n"
            f"Create an organisation in another terminal: .venv/bin/involvim org create 'My NGO'\n"
            f"Press Ctrl-C to stop.",
            flush=True,
        )
        while (exited := stack.first_exited()) is None:
            time.sleep(0.5)
        print(f"{exited} stopped unexpectedly; see {data_dir}/{exited}.log", file=sys.stderr)
        exit_code = 1
    except KeyboardInterrupt:
        print("\nStopping ...", flush=True)
    finally:
        stack.stop()
    return exit_code
