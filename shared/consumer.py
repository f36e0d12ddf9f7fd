"""Durable JetStream consumers that decode events, park what cannot be handled, and ack last.

Every subscriber names its durable consumer and acknowledges explicitly: a message is acked
only after its handler committed, redelivered (after a pause) when the handler failed, and
moved to the dead-letter stream when it cannot be decoded or keeps failing, so that one bad
message never blocks the ones behind it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from faststream import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from nats.js.api import DeliverPolicy
from pydantic import ValidationError

from shared.broker import stream_for
from shared.events import EVENT_TYPES, Event, parse_event
from shared.loop import every
from shared.metrics import (
    CONSUMER_ACK_PENDING,
    CONSUMER_LAST_ACTIVE,
    CONSUMER_PENDING,
    DEAD_LETTERS,
)

log = logging.getLogger(__name__)

MAX_DELIVERIES = 5

Handler = Callable[[Event], Awaitable[None]]


async def park(broker: NatsBroker, service: str, msg: NatsMessage, reason: str, error: str) -> None:
    subject = msg.raw_message.subject
    known = subject if subject in EVENT_TYPES else "unknown"
    metadata = msg.raw_message.metadata
    await broker.publish(
        msg.body,
        f"deadletter.{service}.{subject}",
        headers={
            # One parked copy per original message, however often parking is retried.
            "Nats-Msg-Id": f"{service}:{metadata.stream}:{metadata.sequence.stream}",
            "Involvim-Error": error[:1000],
            "Involvim-Original-Subject": subject,
        },
        stream="DEADLETTER",
    )
    DEAD_LETTERS.labels(service, known, reason).inc()
    log.warning("parked message %s#%s (%s)", subject, metadata.sequence.stream, reason)


def subscribe(
    broker: NatsBroker,
    service: str,
    subject: str,
    durable: str,
    handle: Handler,
    retry_delay: float = 2.0,
) -> None:
    """Register ``handle`` for every event on ``subject`` under the durable consumer ``durable``."""

    async def on_message(msg: NatsMessage) -> None:
        try:
            event = parse_event(msg.raw_message.subject, msg.body)
        except (KeyError, ValueError, ValidationError) as exc:
            await park(broker, service, msg, "malformed", f"{type(exc).__name__}: {exc}")
            await msg.ack()
            return
        try:
            await handle(event)
        except Exception as exc:
            deliveries = msg.raw_message.metadata.num_delivered
            if deliveries >= MAX_DELIVERIES:
                await park(broker, service, msg, "failing", f"{type(exc).__name__}: {exc}")
                await msg.ack()
                return
            log.exception("handling %s failed (delivery %s); retrying", event.subject, deliveries)
            await msg.nack(delay=retry_delay * deliveries)
            return
        await msg.ack()

    broker.subscriber(
        subject,
        stream=JStream(stream_for(subject), declare=False),
        durable=durable,
        # A pull consumer: replicas sharing the durable name share the work. One message per
        # pull: a larger batch makes nats-py wait for the batch to fill (up to the timeout)
        # before handing over the first message.
        pull_sub=PullSub(batch_size=1, timeout=5.0),
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.MANUAL,
        title=durable,
    )(on_message)


class ConsumerObserver:
    """Keeps the lag gauges of this service's durable consumers (stream, durable) current."""

    def __init__(
        self, broker: NatsBroker, durables: list[tuple[str, str]], every_seconds: float = 5.0
    ) -> None:
        self.broker = broker
        self.durables = durables
        # Until a consumer acknowledges its first message, count it active from its start.
        self.started = time.time()
        self.loop = every("consumer lag", every_seconds, self.observe)

    def stop(self) -> None:
        self.loop.stop()

    async def run(self) -> None:
        await self.loop.run()

    async def observe(self) -> None:
        try:
            js = self.broker.connection.jetstream()
            for stream, durable in self.durables:
                info = await js.consumer_info(stream, durable)
                CONSUMER_PENDING.labels(durable).set(info.num_pending or 0)
                CONSUMER_ACK_PENDING.labels(durable).set(info.num_ack_pending or 0)
                last = info.ack_floor.last_active if info.ack_floor else None
                CONSUMER_LAST_ACTIVE.labels(durable).set(
                    last.timestamp() if isinstance(last, datetime) else self.started
                )
        except Exception as exc:  # not connected yet, or the consumer is not bound yet
            log.debug("consumer lag not observed: %s", exc)
