"""Email over SMTP and SMS through a provider (or a log file), each failure sorted into what to
do next (``services.notifier.domain.errors``)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

import aiosmtplib
import httpx

from services.notifier.domain.errors import Permanent, Transient, Unknown

log = logging.getLogger(__name__)


class Email:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 15.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password = username, password
        self.starttls, self.timeout = starttls, timeout

    def build(
        self, to: str, subject: str, text: str, html: str, message_id: str, locale: str
    ) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        # Stable per notification: a retried send is recognisably the same message.
        message["Message-ID"] = message_id
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        # After the content: setting content replaces every Content-* header.
        message["Content-Language"] = locale
        return message

    async def send(self, message: EmailMessage) -> str:
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                start_tls=self.starttls,
                use_tls=False,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPResponseException as exc:
            if 400 <= exc.code < 500:
                raise Transient(f"SMTP {exc.code}: {exc.message}") from exc
            raise Permanent(f"SMTP {exc.code}: {exc.message}") from exc
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [error.code for error in exc.recipients]
            if all(400 <= code < 500 for code in codes):
                raise Transient(f"SMTP recipients refused: {codes}") from exc
            raise Permanent(f"SMTP recipients refused: {codes}") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise Transient(f"SMTP: {type(exc).__name__}: {exc}") from exc
        return str(message["Message-ID"])


class TwilioSms:
    """Twilio's Messages API (or anything that speaks it, at ``api_base``)."""

    def __init__(
        self, api_base: str, account_sid: str, auth_token: str, sender: str, timeout: float
    ) -> None:
        self.url = f"{api_base.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.auth = (account_sid, auth_token)
        self.sender = sender
        self.timeout = timeout

    async def send(self, to: str, body: str) -> str:
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(
                    self.url, auth=self.auth, data={"To": to, "From": self.sender, "Body": body}
                )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise Transient(f"SMS provider unreachable: {type(exc).__name__}") from exc
        except httpx.TimeoutException as exc:
            raise Unknown(f"SMS provider did not answer: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise Unknown(f"SMS provider: {type(exc).__name__}") from exc
        if response.status_code in (200, 201):
            return str(response.json().get("sid", ""))
        detail = _twilio_error(response)
        if response.status_code == 429 or response.status_code >= 500:
            raise Transient(f"SMS provider {response.status_code}: {detail}")
        raise Permanent(f"SMS provider {response.status_code}: {detail}")


def _twilio_error(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return f"{body.get('code', '')} {body.get('message', '')}".strip()


class LogSms:
    """For local runs: SMS are written to a file (one JSON line each) instead of being sent."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None

    async def send(self, to: str, body: str) -> str:
        message_id = f"log-{datetime.now(UTC).timestamp():.6f}"
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            line = json.dumps(
                {"id": message_id, "to": to, "body": body, "at": datetime.now(UTC).isoformat()},
                ensure_ascii=False,
            )
            with self.path.open("a", encoding="utf-8") as sink:
                sink.write(line + "\n")
        else:
            log.info("SMS %s (%d characters) not sent: log provider", message_id, len(body))
        return message_id
