"""Reading what reached JetStream, for assertions."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import nats
from nats.js.errors import NotFoundError

from shared.broker import STREAMS, ensure_streams
from shared.events import Event


async def purge_all(url: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    for stream in STREAMS:
        with contextlib.suppress(NotFoundError):
            await js.purge_stream(stream.name)
    await nc.close()


def _decode(data: bytes, headers: dict[str, str] | None) -> dict[str, Any]:
    """JSON bodies as dicts; anything else (a parked poison message) as its raw text."""
    try:
        body = json.loads(data)
    except ValueError:
        body = None
    decoded: dict[str, Any] = (
        body if isinstance(body, dict) else {"raw": data.decode(errors="replace")}
    )
    if headers:
        decoded["_headers"] = dict(headers)
    return decoded


async def stream_messages(url: str, stream: str) -> list[tuple[str, dict[str, Any]]]:
    """Every message stored in ``stream``, in order, as (subject, decoded JSON)."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        await nc.close()
        return []
    messages = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        if info.state.messages == 0:
            break
        try:
            raw = await js.get_msg(stream, seq)
        except NotFoundError:
            continue
        messages.append((raw.subject or "", _decode(raw.data or b"{}", raw.headers)))
    await nc.close()
    return messages


async def wait_for_messages(
    url: str, stream: str, count: int, timeout: float = 20.0
) -> list[tuple[str, dict[str, Any]]]:
    """Wait until ``stream`` holds at least ``count`` messages, then a moment more for extras."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        messages = await stream_messages(url, stream)
        if len(messages) >= count or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)
    return await stream_messages(url, stream)


async def publish(url: str, *items: Event, msg_id: str | None = None) -> None:
    """Publish events as a producer would (``Nats-Msg-Id`` = ``event_id`` unless given)."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    await ensure_streams(js)
    for event in items:
        await js.publish(
            event.subject,
            event.model_dump_json().encode(),
            headers={"Nats-Msg-Id": msg_id or str(event.event_id)},
        )
    await nc.close()


async def publish_raw(url: str, subject: str, data: bytes) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await ensure_streams(js)
    await js.publish(subject, data)
    await nc.close()
