"""Two matcher processes against one burst of requests never over-book anyone."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from involvim.embedded import free_port
from shared.vocabulary import URGENCIES
from tests import jetstream
from tests.conftest import Database
from tests.integration.test_matcher import request, volunteer


@pytest.fixture
def two_matchers(
    clean_database: Database, clean_nats: str, tmp_path: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    processes = []
    for n in range(2):
        port = free_port()
        env = os.environ | {
            "DATABASE_URL": clean_database.url,
            "NATS_URL": clean_nats,
            "MATCHER_METRICS_PORT": str(port),
            "MATCHER_BATCH_SIZE": "7",
            "MATCHER_BATCH_WINDOW_MS": "5",
            "OUTBOX_POLL_SECONDS": "0.05",
        }
        log = (tmp_path / f"matcher-{n}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "involvim.cli", "matcher"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (tmp_path / f"matcher-{n}.log").read_text()
            assert time.monotonic() < deadline, "matcher not ready"
            time.sleep(0.2)
    yield processes
    for process in processes:
        process.send_signal(signal.SIGINT)
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


async def test_no_volunteer_over_capacity_and_no_request_matched_twice(
    two_matchers: list[subprocess.Popen[bytes]], clean_database: Database, clean_nats: str
) -> None:
    volunteers = [volunteer(capacity=1 + n % 2, remote_ok=True) for n in range(15)]
    capacity = {v.volunteer_id: v.capacity for v in volunteers}
    await jetstream.publish(clean_nats, *volunteers)
    burst = [request(urgency=URGENCIES[n % 4]) for n in range(60)]
    await jetstream.publish(clean_nats, *burst)

    engine = create_async_engine(clean_database.url)
    deadline = time.monotonic() + 60
    async with engine.connect() as conn:
        while True:
            settled = await conn.scalar(
                sa.text(
                    "SELECT count(*) FROM matcher.requests WHERE status IN ('proposed', 'unmatched')"
                )
            )
            if settled == len(burst) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
            await conn.rollback()
        assert settled == len(burst)
        active = (
            await conn.execute(
                sa.text(
                    "SELECT volunteer_id, request_id FROM matcher.matches WHERE status = 'proposed'"
                )
            )
        ).all()
        booked = dict(
            (
                await conn.execute(
                    sa.text("SELECT volunteer_id, active_matches FROM matcher.volunteers")
                )
            ).all()
        )
    await engine.dispose()

    per_volunteer = Counter(v for v, _ in active)
    per_request = Counter(r for _, r in active)
    assert all(per_volunteer[v] <= capacity[v] for v in capacity), per_volunteer
    assert all(count == 1 for count in per_request.values())
    assert {v: booked[v] for v in capacity} == {v: per_volunteer[v] for v in capacity}
    # Every volunteer fits every request, so all capacity is used and the rest wait.
    assert len(active) == sum(capacity.values())

    messages = await jetstream.wait_for_messages(clean_nats, "MATCHER", len(burst))
    proposed = [e for s, e in messages if s == "matcher.match.proposed.v1"]
    assert len(proposed) == len(active)
    assert Counter(p["request_id"] for p in proposed).most_common(1)[0][1] == 1
    assert {uuid.UUID(p["request_id"]) for p in proposed} == set(per_request)
    unmatched = {e["request_id"] for s, e in messages if s == "matcher.request.unmatched.v1"}
    assert len(unmatched) == len(burst) - len(active)
