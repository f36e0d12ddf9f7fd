"""A local SMTP server that keeps every message as a file, for ``involvim run``.

Nothing leaves the machine; a newcomer opens ``.data/mail/*.eml`` to see what was sent.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class _SaveToFolder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{uuid.uuid4().hex}.eml"
        (self.folder / name).write_bytes(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def start_mail_sink(folder: Path, port: int) -> Controller:
    controller = Controller(_SaveToFolder(folder), hostname="127.0.0.1", port=port)
    controller.start()
    return controller
