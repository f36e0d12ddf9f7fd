"""Real servers standing in for the outside world: an SMTP server and an SMS provider."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from aiosmtpd.controller import Controller
from fastapi import FastAPI

from involvim.embedded import free_port


class MailServer:
    """aiosmtpd on a fixed port, so it can be stopped and started again like a real server."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.reply: str | None = None  # e.g. "451 try later" or "550 no such user"
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.reply:
            return self.reply
        parsed = message_from_bytes(
            envelope.original_content or envelope.content, policy=policy.default
        )
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@dataclass
class SmsCall:
    path: str
    username: str
    password: str
    form: dict[str, str]


@dataclass
class SmsProvider:
    """A Twilio-compatible Messages endpoint on a local HTTP server.

    ``responses`` is consumed one per call: a status code, or ``"hang"`` to answer only after
    the client gave up; when empty, every call succeeds with 201.
    """

    responses: list[int | str] = field(default_factory=list)
    calls: list[SmsCall] = field(default_factory=list)
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                user, _, password = (
                    base64.b64decode(
                        self.headers.get("Authorization", "Basic ").split(" ", 1)[1] or b""
                    )
                    .decode()
                    .partition(":")
                )
                provider.calls.append(SmsCall(self.path, user, password, form))
                reply = provider.responses.pop(0) if provider.responses else 201
                if reply == "hang":
                    time.sleep(3)
                    reply = 201
                assert isinstance(reply, int)
                if reply == 201:
                    body: dict[str, object] = {
                        "sid": f"SM{len(provider.calls):032d}",
                        "status": "queued",
                    }
                elif reply == 400:
                    body = {
                        "code": 21211,
                        "message": "The 'To' number is not a valid phone number.",
                    }
                else:
                    body = {"code": 20500, "message": "Internal error"}
                data = json.dumps(body).encode()
                # The client may have given up already (that is what "hang" tests).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(reply)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def sent(self) -> list[SmsCall]:
        return [c for c in self.calls if c.form]


class HttpApp:
    """An ASGI app served by uvicorn on a real port, inside the test's event loop."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self.task, 30)


def stack_environment(mail: MailServer, sms: SmsProvider, account_sid: str) -> dict[str, str]:
    """The environment of a local stack (``involvim run``) that delivers to these stand-ins:
    the caller's own settings, but embedded PostgreSQL and NATS of the stack's own."""
    own = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")}
    return own | {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(mail.port),
        "SMS_PROVIDER": "twilio",
        "TWILIO_ACCOUNT_SID": account_sid,
        "TWILIO_AUTH_TOKEN": f"{account_sid}-token",
        "TWILIO_FROM": "+48500100200",
        "TWILIO_API_BASE": sms.url,
    }
