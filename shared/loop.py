"""One shape for every background loop of the services: do a round of work, then wait until
woken or until the idle time passes; keep gauges fresh on their own beat; log a failed round
and try again after a growing pause; stop between rounds, never mid-query.

A round answers whether more work is waiting, so a backlog is worked off without pauses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from time import monotonic

log = logging.getLogger(__name__)

Round = Callable[[], Awaitable[bool]]
Step = Callable[[], Awaitable[None]]


class WorkLoop:
    """Runs ``work`` until stopped.

    - ``work`` returns True when more is waiting: the next round starts at once.
    - Otherwise the loop waits for ``wake()`` or ``idle_seconds``, then ``settle_seconds`` more
      so that a burst of arrivals is taken in one round.
    - ``observe`` (gauges) runs before a round when ``observe_seconds`` have passed; its
      failures are ignored, a dashboard must never stop the work.
    - A failed round is logged; the loop waits ``idle_seconds``, doubling on each failure in a
      row up to ``max_backoff_seconds``, and calls ``on_failure`` (to reconnect, say).
    - ``start`` runs once before the first round (warm-up, recovery); if it fails, it is logged
      and the loop goes on.
    """

    def __init__(
        self,
        name: str,
        work: Round,
        *,
        idle_seconds: float,
        settle_seconds: float = 0.0,
        observe: Step | None = None,
        observe_seconds: float = 5.0,
        start: Step | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
        max_backoff_seconds: float = 5.0,
    ) -> None:
        self.name = name
        self.work = work
        self.idle_seconds = idle_seconds
        self.settle_seconds = settle_seconds
        self.observe = observe
        self.observe_seconds = observe_seconds
        self.start = start
        self.on_failure = on_failure
        self.max_backoff_seconds = max_backoff_seconds
        self._wake = asyncio.Event()
        self._stopping = False
        self._observed_at = -float("inf")

    def wake(self) -> None:
        """Something arrived: start the next round without waiting out the idle time."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the round in hand, then leave ``run``."""
        self._stopping = True
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stopping

    async def run(self) -> None:
        if self.start is not None:
            try:
                await self.start()
            except Exception:
                log.exception("%s: start failed; going on", self.name)
        backoff = self.idle_seconds
        while not self._stopping:
            # Cleared before the round, so an arrival during the round wakes the next one.
            self._wake.clear()
            await self._observe_when_due()
            try:
                more = await self.work()
                backoff = self.idle_seconds
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s: %s: %s; retrying", self.name, type(exc).__name__, exc)
                if self.on_failure is not None:
                    self.on_failure(exc)
                more = False
                backoff = min(backoff * 2, max(self.max_backoff_seconds, self.idle_seconds))
            if more or self._stopping:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            if self.settle_seconds and not self._stopping:
                await asyncio.sleep(self.settle_seconds)

    async def _observe_when_due(self) -> None:
        if self.observe is None or monotonic() - self._observed_at < self.observe_seconds:
            return
        self._observed_at = monotonic()
        try:
            await self.observe()
        except Exception as exc:
            log.debug("%s: not observed: %s", self.name, exc)


def every(name: str, seconds: float, step: Step, *, start: Step | None = None) -> WorkLoop:
    """A loop that does ``step`` every ``seconds`` (housekeeping, gauges), woken early by
    ``wake()``."""

    async def work() -> bool:
        await step()
        return False

    return WorkLoop(name, work, idle_seconds=seconds, start=start, max_backoff_seconds=seconds)
