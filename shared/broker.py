"""NATS JetStream wiring: the broker, the streams and the dead-letter subject."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from faststream.nats import NatsBroker
from faststream.nats.prometheus import NatsPrometheusMiddleware
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError
from prometheus_client import REGISTRY

log = logging.getLogger(__name__)

# A re-published event inside this window is dropped by JetStream (Nats-Msg-Id = event_id).
DUPLICATE_WINDOW_SECONDS = 15 * 60.0


@dataclass(frozen=True)
class Stream:
    name: str
    subjects: tuple[str, ...]


# One stream per producer, plus one for parked (dead-lettered) messages.
STREAMS: tuple[Stream, ...] = (
    Stream("REGISTRY", ("registry.>",)),
    Stream("MATCHER", ("matcher.>",)),
    Stream("NOTIFIER", ("notifier.>",)),
    Stream("DEADLETTER", ("deadletter.>",)),
)


def stream_for(subject: str) -> str:
    producer = subject.split(".", 1)[0]
    for stream in STREAMS:
        if any(pattern.split(".", 1)[0] == producer for pattern in stream.subjects):
            return stream.name
    raise KeyError(f"no stream holds subject {subject!r}")


def make_broker(nats_url: str, service: str) -> NatsBroker:
    """A broker that keeps reconnecting forever: a NATS outage delays work, never ends a process.
    FastStream's own Prometheus middleware counts and times every message it handles."""
    return NatsBroker(
        nats_url.split(","),
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=2,
        middlewares=[NatsPrometheusMiddleware(registry=REGISTRY, app_name=service)],
    )


async def ensure_streams(js: JetStreamContext) -> None:
    """Create or update every stream; safe to run from every process at every start."""
    for stream in STREAMS:
        config = StreamConfig(
            name=stream.name,
            subjects=list(stream.subjects),
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
        )
        try:
            existing = await js.stream_info(stream.name)
            # Keep the replica count an operator chose (R3 in a cluster); new streams start at R1.
            config.num_replicas = existing.config.num_replicas
            await js.update_stream(config)
        except NotFoundError:
            await js.add_stream(config)
            log.info("created stream %s", stream.name)
