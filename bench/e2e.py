"""End-to-end benchmark: the three services and the embedded servers on this machine.

A load generator posts requests at fixed rates against registered volunteers and records, per
request, the time to ``matcher.match.proposed.v1`` (or ``request.unmatched``) and to the
notification recorded as sent. Measured in the same run as the ceiling: the raw rate of a bare
asyncpg insert and of a bare JetStream publish on the same servers.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats
from nats.js.api import DeliverPolicy

from involvim.demo import CITIES, volunteer
from involvim.local import LocalStack
from shared.vocabulary import DAYS

RATES = [int(r) for r in os.environ.get("BENCH_RATES", "50,100,200").split(",")]
SECONDS_PER_RATE = float(os.environ.get("BENCH_SECONDS", "60"))
VOLUNTEERS = int(os.environ.get("BENCH_VOLUNTEERS", "10000"))


@dataclass
class Timeline:
    posted: dict[str, float] = field(default_factory=dict)  # request id -> monotonic time
    decided: dict[str, float] = field(default_factory=dict)  # proposed or unmatched
    proposed_event: dict[str, str] = field(default_factory=dict)  # proposal event id -> request
    notified: dict[str, float] = field(default_factory=dict)  # request id -> first sent
    refused: int = 0  # posts that got no answer in time (client-side timeout)


def _percentiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        single = values[0] if values else float("nan")
        return single, single, single
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


def _request_body(rng: random.Random) -> dict[str, Any]:
    city = CITIES["Płock"]
    return {
        "beneficiary": {"display_name": "Bench", "locale": "uk", "contact_consent": False},
        "languages": [rng.choice(["uk", "ru", "en"])],
        "skills": [rng.choice(["paperwork", "translation", "job_search", "digital_help"])],
        "location": {
            "lat": city["lat"] + rng.uniform(-0.05, 0.05),
            "lon": city["lon"] + rng.uniform(-0.05, 0.05),
        },
        "remote_ok": True,
        "windows": [
            {"day": d, "start": "08:00", "end": "20:00"}
            for d in DAYS[:5]  # the working week
        ],
        "timezone": "Europe/Warsaw",
        "urgency": rng.choice(["low", "normal", "normal", "high"]),
        "needed_by": (date.today() + timedelta(days=21)).isoformat(),
    }


async def _listen(nats_url: str, timeline: Timeline) -> asyncio.Task[None]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    subs = [
        await js.subscribe(
            "matcher.>", stream="MATCHER", ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
        ),
        await js.subscribe(
            "notifier.notification.sent.v1",
            stream="NOTIFIER",
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.NEW,
        ),
    ]

    async def pump(sub: Any) -> None:
        async for msg in sub.messages:
            now = time.monotonic()
            event = json.loads(msg.data)
            if msg.subject.startswith("matcher."):
                request_id = event["request_id"]
                timeline.decided.setdefault(request_id, now)
                if msg.subject == "matcher.match.proposed.v1":
                    timeline.proposed_event[event["event_id"]] = request_id
            else:
                request_id = timeline.proposed_event.get(event["source_event_id"], "")
                if request_id:
                    timeline.notified.setdefault(request_id, now)

    async def both() -> None:
        try:
            await asyncio.gather(*(pump(s) for s in subs))
        finally:
            await nc.close()

    return asyncio.create_task(both())


async def _register_volunteers(client: httpx.AsyncClient, count: int) -> None:
    rng = random.Random(7)
    limit = asyncio.Semaphore(16)
    done = 0

    async def one(n: int) -> None:
        nonlocal done
        body = volunteer(rng, n)
        body["email"] = f"bench{n}@example.org"
        body["capacity"] = 20  # enough room that the run measures latency, not exhaustion
        async with limit:
            (await client.post("/v1/volunteers", json=body)).raise_for_status()
        done += 1
        if done % 1000 == 0:
            print(f"  {done} volunteers registered", flush=True)

    await asyncio.gather(*(one(n) for n in range(count)))


async def _caught_up(nats_url: str, timeout: float = 900) -> None:
    """Wait until every consumer has taken in the registrations, so that the load runs against
    a settled system rather than behind a backlog."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        waiting = 0
        for stream, durable in (
            ("REGISTRY", "matcher-registry"),
            ("REGISTRY", "notifier-registry"),
        ):
            info = await js.consumer_info(stream, durable)
            waiting += (info.num_pending or 0) + (info.num_ack_pending or 0)
        if waiting == 0:
            break
        await asyncio.sleep(2)
    print(f"  consumers caught up after {time.perf_counter() - started:.0f} s", flush=True)
    await nc.close()


async def _drive(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    rate: int,
    seconds: float,
    timeline: Timeline,
) -> list[str]:
    rng = random.Random(rate)
    ids: list[str] = []
    start = time.monotonic()
    total = int(rate * seconds)
    in_flight: set[asyncio.Task[None]] = set()

    async def post() -> None:
        sent_at = time.monotonic()
        try:
            response = await client.post("/v1/requests", json=_request_body(rng), headers=headers)
        except httpx.HTTPError:
            timeline.refused += 1  # never accepted, so never owed a match
            return
        if response.status_code == 201:
            request_id = response.json()["id"]
            timeline.posted[request_id] = sent_at
            ids.append(request_id)

    for n in range(total):
        # Open loop: requests leave on schedule whether or not earlier ones were answered.
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(post())
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    await asyncio.gather(*in_flight)
    return ids


async def _ceiling(database_url: str, nats_url: str, count: int = 5000) -> tuple[float, float]:
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    await conn.execute("CREATE TEMP TABLE bench_insert (id bigserial primary key, payload jsonb)")
    started = time.perf_counter()
    for n in range(count):
        await conn.execute("INSERT INTO bench_insert (payload) VALUES ($1)", json.dumps({"n": n}))
    insert_rate = count / (time.perf_counter() - started)
    await conn.close()

    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await js.add_stream(name="BENCH", subjects=["bench.>"])
    started = time.perf_counter()
    for n in range(count):
        await js.publish("bench.raw", b'{"n": %d}' % n)
    publish_rate = count / (time.perf_counter() - started)
    await js.delete_stream("BENCH")
    await nc.close()
    return insert_rate, publish_rate


async def _run(data_dir: Path) -> None:
    from tests.servers import MailServer, SmsProvider, stack_environment

    mail, sms = MailServer(), SmsProvider()
    mail.start()
    sms.start()
    given = stack_environment(mail, sms, "ACbench") | {
        "QUIET_HOURS_START": "0",
        "QUIET_HOURS_END": "0",
        "OUTBOX_POLL_SECONDS": "0.1",
        "LOG_LEVEL": "WARNING",
    }
    stack = LocalStack(data_dir, given=given, familiar_ports=False)
    await asyncio.to_thread(stack.start_infrastructure)  # migrations run their own event loop
    for name in ("registry", "matcher", "notifier"):
        stack.start_service(name)
    timeline = Timeline()
    try:
        async with httpx.AsyncClient(base_url=stack.env["REGISTRY_URL"], timeout=30) as client:
            for url in (
                stack.env["REGISTRY_URL"],
                f"http://127.0.0.1:{stack.env['MATCHER_METRICS_PORT']}",
                f"http://127.0.0.1:{stack.env['NOTIFIER_METRICS_PORT']}",
            ):
                for _ in range(300):
                    try:
                        if (await client.get(f"{url}/readyz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.2)
            org = (
                await client.post(
                    "/v1/organisations",
                    json={"name": "Bench", "email": "bench@example.org"},
                    headers={"Authorization": f"Bearer {stack.env['ADMIN_API_KEY']}"},
                )
            ).json()
            headers = {"Authorization": f"Bearer {org['api_key']}"}
            print(f"Registering {VOLUNTEERS} volunteers through the API ...", flush=True)
            started = time.perf_counter()
            await _register_volunteers(client, VOLUNTEERS)
            print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)
            await _caught_up(stack.env["NATS_URL"])
            listener = await _listen(stack.env["NATS_URL"], timeline)
            results = []
            for rate in RATES:
                print(f"Posting {rate} requests/s for {SECONDS_PER_RATE:.0f} s ...", flush=True)
                ids = await _drive(client, headers, rate, SECONDS_PER_RATE, timeline)
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and not all(i in timeline.decided for i in ids):
                    await asyncio.sleep(0.5)
                await asyncio.sleep(2)
                results.append((rate, ids))
            await asyncio.sleep(3)
            listener.cancel()
        insert_rate, publish_rate = await _ceiling(stack.env["DATABASE_URL"], stack.env["NATS_URL"])
    finally:
        stack.stop()
        mail.stop()
        sms.stop()

    print(
        f"\n{'rate/s':>7} {'posted':>7} {'lost':>5} | {'to proposal p50/p95/p99 (ms)':>30} | {'to sent p50/p95/p99 (ms)':>26}"
    )
    held = 0
    for rate, ids in results:
        decided = [
            1000 * (timeline.decided[i] - timeline.posted[i]) for i in ids if i in timeline.decided
        ]
        notified = [
            1000 * (timeline.notified[i] - timeline.posted[i])
            for i in ids
            if i in timeline.notified
        ]
        lost = sum(1 for i in ids if i not in timeline.decided)
        d50, d95, d99 = _percentiles(decided)
        n50, n95, n99 = _percentiles(notified)
        print(
            f"{rate:>7} {len(ids):>7} {lost:>5} | {d50:>9.0f} {d95:>9.0f} {d99:>9.0f} | {n50:>8.0f} {n95:>8.0f} {n99:>8.0f}"
        )
        if lost == 0 and d99 < 1000:
            held = max(held, rate)
    print(f"Posts not answered within 30 s (not accepted, so not owed a match): {timeline.refused}")
    print(f"\nHighest rate held with p99 to proposal under 1 s: {held or 'none of'} requests/s")
    print(
        f"Ceiling on this machine: bare asyncpg insert {insert_rate:,.0f}/s, bare JetStream publish {publish_rate:,.0f}/s"
    )
    if held:
        print(
            f"Ratio of the held rate to the ceilings: {held / insert_rate:.3f} of inserts, {held / publish_rate:.3f} of publishes"
        )


def main(options: list[str]) -> None:
    """Options are not used: rates, duration and volunteers come from BENCH_* variables."""
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(_run(Path(folder) / ".data"))
