"""``involvim demo``: a realistic synthetic data set, loaded through the public HTTP API into a
running system, and the matches printed as the matcher proposes them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.js.api import DeliverPolicy

from shared.broker import ensure_streams
from shared.skills import SKILL_LABELS
from shared.vocabulary import DAYS, LEVELS, URGENCIES

CITIES: dict[str, dict[str, Any]] = {
    "Płock": {
        "lat": 52.5463,
        "lon": 19.7065,
        "timezone": "Europe/Warsaw",
        "local": "pl",
        "phone": "+4860",
    },
    "Seinäjoki": {
        "lat": 62.7903,
        "lon": 22.8403,
        "timezone": "Europe/Helsinki",
        "local": "fi",
        "phone": "+35840",
    },
}
ORGANISATIONS = [
    ("Płock Family Foundation", "Płock"),
    ("Płock Social Welfare Centre", "Płock"),
    ("Seinäjoki Labour Office", "Seinäjoki"),
]
# Languages of work-based immigrants in both cities, with how often volunteers speak them.
NEWCOMER_LANGUAGES = {"uk": 30, "ru": 20, "en": 25, "be": 6, "ka": 4, "hi": 4, "vi": 4, "tl": 3}
FIRST_NAMES = {
    "pl": ["Anna", "Piotr", "Katarzyna", "Tomasz", "Magdalena", "Paweł", "Agnieszka", "Michał"],
    "fi": ["Aino", "Mikko", "Laura", "Juha", "Elina", "Ville", "Sanna", "Antti"],
    "uk": ["Olena", "Andrii", "Iryna", "Oleksii", "Natalia", "Dmytro"],
    "ru": ["Svetlana", "Sergei", "Tatiana", "Pavel"],
    "en": ["Emma", "James", "Grace", "Daniel"],
}
SKILLS = tuple(SKILL_LABELS)


@dataclass
class Target:
    registry_url: str
    admin_key: str
    nats_url: str
    data_dir: Path


def _spread(rng: random.Random, city: dict[str, Any], km: float) -> dict[str, float]:
    # About 111 km per degree of latitude; longitude shrinks with latitude.
    return {
        "lat": round(city["lat"] + rng.gauss(0, km) / 111, 5),
        "lon": round(city["lon"] + rng.gauss(0, km) / 60, 5),
    }


def _availability(rng: random.Random) -> list[dict[str, str]]:
    windows = []
    for day in rng.sample(DAYS, rng.randint(2, 5)):
        start = rng.choice([8, 10, 14, 16, 17, 18])
        windows.append(
            {
                "day": day,
                "start": f"{start:02d}:00",
                "end": f"{min(start + rng.choice([2, 3, 4]), 22):02d}:00",
            }
        )
    return windows


def volunteer(rng: random.Random, n: int) -> dict[str, Any]:
    city_name = rng.choice(list(CITIES))
    city = CITIES[city_name]
    local = city["local"]
    languages = [{"code": local, "level": "native"}]
    for code in rng.sample(list(NEWCOMER_LANGUAGES), k=rng.choice([1, 1, 2])):
        if rng.random() < NEWCOMER_LANGUAGES[code] / 30:
            languages.append({"code": code, "level": rng.choice(LEVELS)})
    if len(languages) == 1:
        languages.append({"code": "en", "level": rng.choice(LEVELS[1:])})
    own = languages[1]["code"] if rng.random() < 0.3 else local
    name = rng.choice(FIRST_NAMES.get(own, FIRST_NAMES[local]))
    return {
        "name": f"{name} Demo{n:03d}",
        "email": f"volunteer{n:03d}@example.org",
        "phone": f"{city['phone']}{rng.randint(1000000, 9999999)}",
        "locale": own if own in ("pl", "fi", "uk", "ru", "en") else local,
        "languages": languages,
        "skills": rng.sample(SKILLS, rng.randint(2, 4)),
        "location": _spread(rng, city, 4),
        "max_travel_km": rng.choice([3, 5, 10, 15, 25]),
        "remote_ok": rng.random() < 0.35,
        "availability": _availability(rng),
        "timezone": city["timezone"],
        "capacity": rng.choice([1, 1, 2, 3]),
        "consent": True,
    }


def support_request(rng: random.Random, city_name: str) -> dict[str, Any]:
    city = CITIES[city_name]
    language = rng.choices(list(NEWCOMER_LANGUAGES), weights=list(NEWCOMER_LANGUAGES.values()))[0]
    remote = rng.random() < 0.2
    return {
        "beneficiary": {
            "display_name": f"Client {rng.randint(100, 999)}",
            "locale": language,
            "contact_consent": rng.random() < 0.5,
        },
        "languages": [language],
        "skills": rng.sample(SKILLS, rng.choice([1, 1, 1, 2])),
        "location": None if remote else _spread(rng, city, 3),
        "remote_ok": remote or rng.random() < 0.3,
        "windows": _availability(rng),
        "timezone": city["timezone"],
        "urgency": rng.choices(URGENCIES, weights=[3, 6, 3, 1])[0],
        "needed_by": (date.today() + timedelta(days=rng.randint(3, 30))).isoformat(),
        "description": "Demo request",
    }


def _bar(done: int, total: int, label: str) -> None:
    if done % 10 and done != total:
        return
    width = 30
    filled = width * done // max(total, 1)
    print(
        f"\r  {label:<12} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}",
        end="",
        flush=True,
    )


async def _post_all(
    client: httpx.AsyncClient,
    path: str,
    bodies: list[dict[str, Any]],
    label: str,
    headers: list[dict[str, str]],
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    limit = asyncio.Semaphore(10)

    async def post(body: dict[str, Any], header: dict[str, str]) -> None:
        async with limit:
            response = await client.post(path, json=body, headers=header)
            response.raise_for_status()
            results.append(response.json())
            _bar(len(results), len(bodies), label)

    await asyncio.gather(*(post(b, h) for b, h in zip(bodies, headers, strict=True)))
    print()
    return results


def _reason_text(reasons: list[dict[str, Any]]) -> str:
    words = []
    for r in reasons[:3]:
        code = r.get("code")
        if code == "shared_language":
            words.append(f"speaks {r.get('language')} ({r.get('level')})")
        elif code == "skills":
            words.append("skills " + "+".join(r.get("skills", [])))
        elif code == "available":
            words.append(f"free {r.get('day')} {r.get('start')}")
        elif code == "remote":
            words.append("remote")
        elif code == "distance":
            continue
        else:
            words.append(str(code))
    return ", ".join(words)


async def run_demo(
    target: Target,
    volunteers: int = 300,
    requests: int = 40,
    seed: int = 2026,
    wait_seconds: float = 60,
) -> None:
    rng = random.Random(seed)
    nc = await nats.connect(target.nats_url)
    js = nc.jetstream()
    await ensure_streams(js)  # the services may not have made them yet
    matcher_events: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    sub = await js.subscribe(
        "matcher.>", stream="MATCHER", ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
    )

    async def pump() -> None:
        async for msg in sub.messages:
            await matcher_events.put((msg.subject, json.loads(msg.data)))

    pump_task = asyncio.create_task(pump())
    async with httpx.AsyncClient(base_url=target.registry_url, timeout=30) as client:
        for _ in range(120):
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/readyz")).status_code == 200:
                    break
            await asyncio.sleep(0.5)
        print(f"Loading a demo data set into {target.registry_url}")
        admin = {"Authorization": f"Bearer {target.admin_key}"}
        orgs = await _post_all(
            client,
            "/v1/organisations",
            [
                {"name": name, "email": f"desk{i}@example.org", "locale": CITIES[city]["local"]}
                for i, (name, city) in enumerate(ORGANISATIONS)
            ],
            "organisations",
            [admin] * len(ORGANISATIONS),
        )
        registered = await _post_all(
            client,
            "/v1/volunteers",
            [volunteer(rng, n) for n in range(volunteers)],
            "volunteers",
            [{}] * volunteers,
        )
        request_bodies, request_headers, request_org = [], [], []
        for _ in range(requests):
            index = rng.randrange(len(orgs))
            request_bodies.append(support_request(rng, ORGANISATIONS[index][1]))
            request_headers.append({"Authorization": f"Bearer {orgs[index]['api_key']}"})
            request_org.append(index)
        submitted = await _post_all(
            client, "/v1/requests", request_bodies, "requests", request_headers
        )

    names = {v["id"]: v["name"] for v in registered}
    pending = {r["id"] for r in submitted}
    by_id = {r["id"]: r for r in submitted}
    print(
        f"\n{'request':<10}{'urgency':<10}{'volunteer':<22}{'km':>6}  {'language':<10}{'score':>6}  reasons"
    )
    unmatched: dict[str, list[dict[str, Any]]] = {}
    deadline = time.monotonic() + wait_seconds
    while pending and time.monotonic() < deadline:
        try:
            subject, event = await asyncio.wait_for(matcher_events.get(), timeout=1)
        except TimeoutError:
            continue
        request_id = str(event.get("request_id"))
        if request_id not in by_id:
            continue
        if subject == "matcher.match.proposed.v1":
            pending.discard(request_id)
            unmatched.pop(request_id, None)
            reasons = event["reasons"]
            km = next((r.get("km") for r in reasons if r.get("code") == "distance"), None)
            language = next(
                (
                    f"{r['language']}/{r['level'][:4]}"
                    for r in reasons
                    if r.get("code") == "shared_language"
                ),
                "",
            )
            print(
                f"{request_id[:8]:<10}{by_id[request_id]['urgency']:<10}{names.get(event['volunteer_id'], '?')[:20]:<22}"
                f"{('remote' if km is None else f'{km:.1f}'):>6}  {language:<10}{event['score']:>6.2f}  {_reason_text(reasons)}"
            )
        elif subject == "matcher.request.unmatched.v1":
            pending.discard(request_id)
            unmatched[request_id] = event["reasons"]
    pump_task.cancel()
    await nc.close()

    if unmatched:
        print(f"\nUnmatched for now ({len(unmatched)}; retried when volunteers join or free up):")
        for request_id, reasons in unmatched.items():
            print(
                f"  {request_id[:8]}  {by_id[request_id]['urgency']:<9} "
                + "; ".join(
                    r["code"]
                    + (f" {r['languages']}" if "languages" in r else "")
                    + (f" {r['skills']}" if "skills" in r else "")
                    for r in reasons
                )
            )
    if pending:
        print(
            f"\n{len(pending)} requests had no answer from the matcher within {wait_seconds:.0f} s."
        )
    mail_dir, sms_file = target.data_dir / "mail", target.data_dir / "sms.jsonl"
    proposed = len(submitted) - len(unmatched) - len(pending)
    for _ in range(30):  # the notifier sends a moment after the proposal
        if mail_dir.exists() and len(list(mail_dir.glob("*.eml"))) >= proposed:
            break
        await asyncio.sleep(0.5)
    print("\nWhere the messages went:")
    print(
        f"  email  {mail_dir}/  ({len(list(mail_dir.glob('*.eml'))) if mail_dir.exists() else 0} messages so far)"
    )
    sms_count = len(sms_file.read_text().splitlines()) if sms_file.exists() else 0
    print(f"  SMS    {sms_file}  ({sms_count} messages so far)")
