"""Every query the operators rely on, evaluated by a real Prometheus scraping the real services.

The three services run as processes, as ``involvim run`` starts them, against embedded
PostgreSQL, an SMTP server, an SMS provider stand-in and a NATS server started from
``deploy/nats/nats.conf`` itself, each service logging in as its own NATS user: the services
only work if those subject permissions are enough. Prometheus (Debian's package, installed
when missing) runs with ``deploy/prometheus/prometheus.yml``, its targets pointed at the local
processes and its intervals shortened to one second, and with ``deploy/prometheus/alerts.yml``.

A small workload then goes through the public API: an organisation, volunteers, a request that
is accepted (with the volunteer's manage token) and completed, one that is declined and goes to
the next volunteer, one that is cancelled, a critical one in a language nobody speaks, a
refused one, SMS that fail, time out and are retried, and one malformed event that is parked.

How each expression is judged:

* Dashboard panels (``targets[].expr`` in every panel, rows included): the expression must
  evaluate without error and return at least one series, since a panel that shows nothing is a
  bug. Grafana's ``$__rate_interval``, ``$__interval`` and ``$__range`` are replaced by fixed
  windows that cover the run.
* Alert rules are conditions and return nothing while all is well, so for them: the whole
  expression must evaluate without error; every metric it reads (the names left once label
  matchers, ranges, grouping clauses and function calls are taken out) must have series; and
  Prometheus's own evaluation of every rule must report it healthy. The workload makes the
  failure-rate and dead-letter alerts fire, and the others must stay quiet.
* Whether each alert fires in the right situations, and only then, is checked apart from the
  running system with ``promtool test rules`` on synthetic series (``ALERT_CASES``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from involvim.embedded import EmbeddedNats, free_port, wait_for_port
from involvim.local import LocalStack
from shared.vocabulary import DAYS
from tests.samples import request_body, volunteer_body
from tests.servers import MailServer, SmsProvider
from tests.tools import prometheus_binary, promtool_binary

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
NATS_CONFIG = ROOT / "deploy" / "nats" / "nats.conf"
SERVICES = ("registry", "matcher", "notifier")
NATS_USERS = (*SERVICES, "operator")

# Grafana's own variables, as fixed windows that cover the whole run.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "5s", "$__range": "10m"}

# Alerts the workload sets off (it fails, times out and parks on purpose); the rest stay quiet.
EXPECTED_ALERTS = {"NotificationFailureRateHigh", "EventsDeadLettered"}

EVENINGS = [{"day": d, "start": "16:00", "end": "21:00"} for d in DAYS[:5]]


# --- the expressions --------------------------------------------------------------------------


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, expression) for every query target of every dashboard panel."""
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in panels(dashboard["panels"]):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    found.append(
                        (f"{path.name}: {panel['title']} [{target['refId']}]", target["expr"])
                    )
    return found


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def with_grafana_variables(expr: str) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metrics an expression reads: what is left once strings, label matchers, ranges,
    grouping clauses and function calls are taken out."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set(re.findall(r"(?<![\w.])([a-zA-Z_][a-zA-Z0-9_:]*)\b(?!\s*\()", text))
    return names - KEYWORDS


def test_metric_names_are_found_in_an_expression() -> None:
    expr = (
        'max by (consumer) (x_pending{c="a"} > 0) and on (consumer) '
        "(time() - max by (consumer) (y_last[5m] offset 1m)) > 3e2 or vector(0)"
    )
    assert metric_names(expr) == {"x_pending", "y_last"}


def test_there_are_four_dashboards_with_queries_and_the_alerts_the_operators_need() -> None:
    names = {p.name for p in DASHBOARDS.glob("*.json")}
    assert names == {"overview.json", "matching.json", "delivery.json", "system.json"}
    for name in names:
        assert any(where.startswith(name) for where, _ in dashboard_queries()), name
    alerts = {rule["alert"] for rule in alert_rules()}
    assert {
        "CriticalRequestUnmatched",
        "OutboxStuck",
        "NotificationFailureRateHigh",
        "ConsumerNotAcking",
    } <= alerts


def test_alert_rules_pass_promtool() -> None:
    result = subprocess.run(
        [promtool_binary(), "check", "rules", str(ALERTS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# Synthetic series, one minute apart, and how many series an alert's condition returns at each
# evaluation time: it fires when it should, and stays quiet otherwise.
AlertCase = tuple[str, dict[str, str], dict[str, int]]
ALERT_CASES: list[AlertCase] = [
    (
        "CriticalRequestUnmatched",
        {
            # Two registry replicas report the same age: max, not sum.
            'involvim_oldest_unmatched_critical_request_age_seconds{instance="a"}': "0+600x12",
            'involvim_oldest_unmatched_critical_request_age_seconds{instance="b"}': "0+600x12",
        },
        {"5m": 0, "7m": 1},
    ),
    (
        "OutboxStuck",
        {
            'involvim_outbox_oldest_age_seconds{service="matcher"}': "0 0 30 90 0",
            'involvim_outbox_oldest_age_seconds{service="registry"}': "0 0 0 0 0",
        },
        {"2m": 0, "3m": 1, "4m": 0},
    ),
    (
        "NotificationFailureRateHigh",
        {
            # A third of the deliveries fail from 10m on.
            'involvim_notifications_total{outcome="sent"}': "0+10x30",
            'involvim_notifications_total{outcome="failed",reason="permanent"}': "_x10 5+5x20",
        },
        {"9m": 0, "12m": 1, "30m": 1},
    ),
    (
        "NotificationFailureRateHigh",
        {
            # The very first failure creates its series, and still counts: 1 in 13.
            'involvim_notifications_total{outcome="sent"}': "0+1x30",
            'involvim_notifications_total{outcome="unknown",reason="unknown outcome"}': "_x10 1x20",
        },
        {"9m": 0, "12m": 1, "30m": 0},
    ),
    (
        "NotificationFailureRateHigh",
        {
            # One in a hundred is normal.
            'involvim_notifications_total{outcome="sent"}': "0+100x30",
            'involvim_notifications_total{outcome="failed",reason="permanent"}': "_x10 1+1x20",
        },
        {"12m": 0, "30m": 0},
    ),
    (
        "ConsumerNotAcking",
        {
            # Stuck: messages wait and nothing was acknowledged since the start.
            'involvim_consumer_ack_pending_messages{consumer="stuck"}': "3x10",
            'involvim_consumer_pending_messages{consumer="stuck"}': "0x10",
            'involvim_consumer_last_active_timestamp_seconds{consumer="stuck"}': "0x10",
            # Idle: nothing waits.
            'involvim_consumer_ack_pending_messages{consumer="idle"}': "0x10",
            'involvim_consumer_pending_messages{consumer="idle"}': "0x10",
            'involvim_consumer_last_active_timestamp_seconds{consumer="idle"}': "0x10",
            # Busy: messages wait, and it acknowledges every minute.
            'involvim_consumer_ack_pending_messages{consumer="busy"}': "5x10",
            'involvim_consumer_pending_messages{consumer="busy"}': "50x10",
            'involvim_consumer_last_active_timestamp_seconds{consumer="busy"}': "0+60x10",
        },
        {"4m": 0, "6m": 1},
    ),
    (
        "EventsDeadLettered",
        {'involvim_dead_letters_total{service="matcher",reason="malformed"}': "_x3 1x30"},
        {"2m": 0, "4m": 1, "20m": 0},
    ),
    (
        "ServiceDown",
        {'up{job="matcher",instance="a"}': "1 1 0 0 0", 'up{job="registry",instance="b"}': "1x5"},
        {"1m": 0, "3m": 1},
    ),
]


def test_alert_rules_fire_when_they_should_and_only_then(tmp_path: Path) -> None:
    """Each condition is counted (``count(expr)``) so that values and annotations do not matter;
    ``for:`` durations are Prometheus's business and not repeated here."""
    exprs = {rule["alert"]: rule["expr"] for rule in alert_rules()}
    assert {case[0] for case in ALERT_CASES} == set(exprs), "every alert needs a case"
    tests = []
    for alert, series, expected in ALERT_CASES:
        checks = [
            {
                "expr": f"count({exprs[alert]})",
                "eval_time": at,
                "exp_samples": [{"labels": "{}", "value": count}] if count else [],
            }
            for at, count in expected.items()
        ]
        tests.append(
            {
                "name": alert,
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series.items()],
                "promql_expr_test": checks,
            }
        )
    path = tmp_path / "alerts.test.yml"
    path.write_text(yaml.safe_dump({"rule_files": [str(ALERTS)], "tests": tests}))
    result = subprocess.run(
        [promtool_binary(), "test", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- the running system -----------------------------------------------------------------------


class ConfiguredNats(EmbeddedNats):
    """NATS started from the installation's own configuration, on local ports and folders."""

    def __init__(self, data_dir: Path, passwords: dict[str, str]) -> None:
        super().__init__(data_dir)
        self.passwords = passwords
        self.monitor_port = free_port()

    def user_url(self, user: str) -> str:
        return f"nats://{user}:{self.passwords[user]}@127.0.0.1:{self.port}"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        text = NATS_CONFIG.read_text()
        for old, new in (
            ("store_dir: /data", f'store_dir: "{self.data_dir / "jetstream"}"'),
            ("\nport: 4222", f"\nhost: 127.0.0.1\nport: {self.port}"),
            ("\nhttp_port: 8222", f"\nhttp: 127.0.0.1:{self.monitor_port}"),
        ):
            assert old in text, f"{NATS_CONFIG.name} no longer says {old.strip()!r}"
            text = text.replace(old, new)
        config = self.data_dir / "nats.conf"
        config.write_text(text)
        env = os.environ | {f"{u.upper()}_NATS_PASSWORD": p for u, p in self.passwords.items()}
        log = (self.data_dir / "nats-server.log").open("ab")
        self._process = subprocess.Popen(
            [self.binary(), "-c", str(config)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        wait_for_port("127.0.0.1", self.port)

    def violations(self) -> list[str]:
        log = (self.data_dir / "nats-server.log").read_text(errors="replace")
        # "Publish Violation", "Subscription Violation", "Authorization Violation"
        return [line for line in log.splitlines() if " Violation" in line]


class Prometheus:
    def __init__(self, data_dir: Path, targets: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = data_dir / "prometheus.yml"
        self.config.write_text(yaml.safe_dump(self.local_config(targets)))
        self._process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def local_config(targets: dict[str, str]) -> dict[str, Any]:
        """The installation's scrape configuration, pointed at the local processes."""
        config: dict[str, Any] = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
        config["global"] |= {"scrape_interval": "1s", "evaluation_interval": "1s"}
        config["rule_files"] = [str(ALERTS)]
        config.pop("alerting", None)
        jobs = []
        for job in config["scrape_configs"]:
            name = job["job_name"]
            if name not in targets:
                continue
            for discovery in [k for k in job if k.endswith("_sd_configs")]:
                del job[discovery]
            job["static_configs"] = [{"targets": [targets[name]]}]
            job["scrape_interval"] = "1s"
            jobs.append(job)
        assert {j["job_name"] for j in jobs} == set(targets), "a service is not scraped"
        config["scrape_configs"] = jobs
        return config

    def start(self) -> None:
        check = subprocess.run(
            [promtool_binary(), "check", "config", str(self.config)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        log = (self.data_dir / "prometheus.log").open("ab")
        self._process = subprocess.Popen(
            [
                prometheus_binary(),
                f"--config.file={self.config}",
                f"--storage.tsdb.path={self.data_dir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            assert self._process.poll() is None, (self.data_dir / "prometheus.log").read_text()
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "Prometheus did not become ready"
            time.sleep(0.2)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def get(self, path: str, **params: str) -> Any:
        response = httpx.get(f"{self.url}{path}", params=params, timeout=10)
        body = response.json()
        if body.get("status") != "success":
            raise ValueError(body.get("error", response.text))
        return body["data"]

    def query(self, expr: str) -> list[Any]:
        data = self.get("/api/v1/query", query=expr)
        if data["resultType"] == "scalar":
            return [data["result"]]
        result: list[Any] = data["result"]
        return result


@dataclass
class System:
    stack: LocalStack
    nats: ConfiguredNats
    prometheus: Prometheus
    api: httpx.Client
    org_key: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.org_key}"}

    def volunteer(self, name: str, email: str, **changes: Any) -> dict[str, Any]:
        body = volunteer_body(name=name, email=email, availability=EVENINGS, **changes)
        response = self.api.post("/v1/volunteers", json=body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def submit(self, **changes: Any) -> dict[str, Any]:
        body = request_body(windows=EVENINGS, **changes)
        response = self.api.post("/v1/requests", json=body, headers=self.headers)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def wait_for(self, request_id: str, status: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            body: dict[str, Any] = self.api.get(
                f"/v1/requests/{request_id}", headers=self.headers
            ).json()
            if body["status"] == status:
                return body
            assert self.stack.first_exited() is None, f"{self.stack.first_exited()} exited"
            assert time.monotonic() < deadline, f"still {body['status']}, wanted {status}"
            time.sleep(0.2)


def wait_until_ready(stack: LocalStack, urls: list[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    for url in urls:
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert stack.first_exited() is None, f"{stack.first_exited()} exited"
            assert time.monotonic() < deadline, f"{url} not ready"
            time.sleep(0.2)


async def publish_malformed_event(url: str) -> None:
    import nats

    connection = await nats.connect(url)
    try:
        await connection.jetstream().publish("registry.request.submitted.v1", b"{not json")
    finally:
        await connection.close()


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    data_dir = tmp_path_factory.mktemp("operators") / ".data"
    mail = MailServer()
    # The first SMS is refused, the second fails for a moment, the third is never answered.
    sms = SmsProvider(responses=[400, 500, "hang"])
    mail.start()
    sms.start()
    nats = ConfiguredNats(data_dir / "nats", {u: f"{u}-{os.urandom(8).hex()}" for u in NATS_USERS})
    nats.start()
    given = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")} | {
        "NATS_URL": nats.user_url("operator"),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(mail.port),
        "SMS_PROVIDER": "twilio",
        "TWILIO_ACCOUNT_SID": "AC-operators",
        "TWILIO_AUTH_TOKEN": "operators-token",
        "TWILIO_FROM": "+48500100200",
        "TWILIO_API_BASE": sms.url,
        "SMS_TIMEOUT_SECONDS": "1",
        "DELIVERY_BACKOFF_SECONDS": "0.3",
        "DELIVERY_POLL_SECONDS": "0.2",
        "OUTBOX_POLL_SECONDS": "0.1",
        "MATCHER_BATCH_WINDOW_MS": "20",
        "OFFER_EXPIRY_CHECK_SECONDS": "0.5",
        "QUIET_HOURS_START": "0",
        "QUIET_HOURS_END": "0",
    }
    stack = LocalStack(data_dir, given=given)
    prometheus: Prometheus | None = None
    try:
        stack.start_infrastructure()
        for name in SERVICES:
            stack.start_service(name, {"NATS_URL": nats.user_url(name)})
        matcher = f"127.0.0.1:{stack.env['MATCHER_METRICS_PORT']}"
        notifier = f"127.0.0.1:{stack.env['NOTIFIER_METRICS_PORT']}"
        registry = stack.env["REGISTRY_URL"].removeprefix("http://")
        wait_until_ready(stack, [f"http://{a}" for a in (registry, matcher, notifier)])
        # Scraping starts before the workload, so that rates see every increment.
        prometheus = Prometheus(
            data_dir, {"registry": registry, "matcher": matcher, "notifier": notifier}
        )
        prometheus.start()
        with httpx.Client(base_url=stack.env["REGISTRY_URL"], timeout=10) as api:
            org = api.post(
                "/v1/organisations",
                json={"name": "Płock Family Foundation", "email": "desk@example.org"},
                headers={"Authorization": f"Bearer {stack.env['ADMIN_API_KEY']}"},
            )
            assert org.status_code == 201, org.text
            yield System(stack, nats, prometheus, api, org.json()["api_key"])
    finally:
        if prometheus is not None:
            prometheus.stop()
        stack.stop()
        nats.stop()
        mail.stop()
        sms.stop()


@pytest.fixture(scope="module")
def workload(system: System) -> System:
    s = system
    olena = s.volunteer("Olena Kovalenko", "olena@example.org", phone="+48601000001")
    iryna = s.volunteer(
        "Iryna Bondar", "iryna@example.org", phone="+48601000011", skills=["housing"]
    )
    s.volunteer(
        "Marta Wiśniewska",
        "marta@example.org",
        phone="+48601000012",
        skills=["housing"],
        locale="pl",
        location={"lat": 52.57, "lon": 19.75},
        max_travel_km=15,
    )
    tomasz = s.volunteer(
        "Tomasz Zieliński",
        "tomasz@example.org",
        phone="+48601000051",
        skills=["digital_help"],
        locale="pl",
        channels=["email"],
    )

    # Accepted with the manage token, then completed.
    accepted = s.submit()
    match_id = s.wait_for(accepted["id"], "proposed")["match"]["id"]
    answer = s.api.post(
        f"/v1/matches/{match_id}/accept",
        headers={"Authorization": f"Bearer {olena['manage_token']}"},
    )
    assert answer.status_code == 200, answer.text

    # Declined, so it goes to the next volunteer.
    declined = s.submit(skills=["housing"], urgency="high")
    match_id = s.wait_for(declined["id"], "proposed")["match"]["id"]
    answer = s.api.post(
        f"/v1/matches/{match_id}/decline",
        headers={"Authorization": f"Bearer {iryna['manage_token']}"},
    )
    assert answer.status_code == 200, answer.text

    # Cancelled while its offer waits.
    cancelled = s.submit(skills=["digital_help"], urgency="low")
    s.wait_for(cancelled["id"], "proposed")
    assert s.api.post(f"/v1/requests/{cancelled['id']}/cancel", headers=s.headers).is_success

    # Critical, and nobody speaks Georgian.
    unmatched = s.submit(
        languages=["ka"],
        beneficiary={"display_name": "Nino", "locale": "ka", "contact_consent": True},
        skills=["legal_aid"],
        urgency="critical",
    )
    # Refused input, for the error panels.
    refused = s.api.post("/v1/requests", json=request_body(windows=[]), headers=s.headers)
    assert refused.status_code == 422

    asyncio.run(publish_malformed_event(s.nats.user_url("operator")))

    done = s.api.post(
        f"/v1/matches/{s.wait_for(accepted['id'], 'accepted')['match']['id']}/complete",
        json={"rating": 5, "comment": "Residence permit form filled in."},
        headers=s.headers,
    )
    assert done.status_code == 200, done.text
    s.wait_for(accepted["id"], "completed")
    s.wait_for(declined["id"], "proposed")
    s.wait_for(unmatched["id"], "unmatched")
    assert tomasz["id"]
    assert s.nats.violations() == []
    return s


def empty_queries(prometheus: Prometheus) -> dict[str, str]:
    """What is wrong with each dashboard query, by where it is: invalid, or no series."""
    problems = {}
    for where, expr in dashboard_queries():
        try:
            if not prometheus.query(with_grafana_variables(expr)):
                problems[where] = f"no series: {expr}"
        except ValueError as exc:
            problems[where] = f"invalid ({exc}): {expr}"
    return problems


def test_every_dashboard_query_returns_series(workload: System) -> None:
    # Gauges are refreshed every few seconds and scraped every second: wait for them.
    deadline = time.monotonic() + 30
    while (problems := empty_queries(workload.prometheus)) and time.monotonic() < deadline:
        time.sleep(1)
    assert problems == {}, "\n" + "\n".join(f"{w}: {p}" for w, p in problems.items())


def test_every_alert_rule_is_valid_and_reads_metrics_that_exist(workload: System) -> None:
    problems = []
    for rule in alert_rules():
        try:
            workload.prometheus.query(rule["expr"])
        except ValueError as exc:
            problems.append(f"{rule['alert']}: invalid ({exc})")
            continue
        names = metric_names(rule["expr"])
        if not names:
            problems.append(f"{rule['alert']}: reads no metric")
        for name in sorted(names):
            if not workload.prometheus.query(f'count({{__name__="{name}"}})'):
                problems.append(f"{rule['alert']}: {name} has no series")
    assert problems == [], "\n" + "\n".join(problems)

    groups = workload.prometheus.get("/api/v1/rules")["groups"]
    health = {r["name"]: (r["health"], r.get("lastError", "")) for g in groups for r in g["rules"]}
    assert {r["alert"] for r in alert_rules()} == set(health)
    assert {n: h for n, h in health.items() if h[0] != "ok"} == {}


def test_the_workload_sets_off_exactly_the_alerts_it_should(workload: System) -> None:
    deadline = time.monotonic() + 20
    while True:
        active = {
            a["labels"]["alertname"] for a in workload.prometheus.get("/api/v1/alerts")["alerts"]
        }
        if active >= EXPECTED_ALERTS or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert active == EXPECTED_ALERTS
