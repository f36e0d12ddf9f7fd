"""The installation as files: the compose file is a valid Compose document, every image is pinned,
every service is watched and gets only its own secrets, and the NATS, Prometheus and Grafana
files it mounts agree with it. (tests/integration/test_dashboards.py runs them for real.)"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ONE_SHOT = {"migrate"}
APPS = {"registry": 8000, "matcher": 9101, "notifier": 9102}


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def test_compose_file_follows_the_compose_specification() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            "docker-compose.yml",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_long_running_service_has_a_health_check() -> None:
    services = compose()["services"]
    missing = [
        name for name, s in services.items() if name not in ONE_SHOT and "healthcheck" not in s
    ]
    assert missing == []


def test_every_image_is_pinned_to_a_version() -> None:
    for name, service in compose()["services"].items():
        image = service.get("image", "")
        assert re.fullmatch(r"[\w./-]+:v?\d+\.\d+[\w.-]*", image), (
            f"{name}: {image!r} is not pinned"
        )


def test_no_secret_is_committed() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert "${POSTGRES_PASSWORD:?" in text
    for line in (ROOT / "deploy" / "env.example").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            if any(word in key for word in ("PASSWORD", "SECRET", "TOKEN", "KEY")):
                assert value in ("", "change-me") or value.startswith("change-me"), key


def test_the_services_run_from_the_one_image_and_are_ready_only_when_their_readyz_says_so() -> None:
    services = compose()["services"]
    images = {services[name]["image"] for name in [*APPS, "migrate"]}
    assert len(images) == 1
    for name, port in APPS.items():
        assert f"127.0.0.1:{port}/readyz" in " ".join(services[name]["healthcheck"]["test"]), name


def test_the_image_runs_as_a_user_who_is_not_root() -> None:
    users = re.findall(r"^USER\s+(\S+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_each_service_logs_in_to_nats_as_itself_with_only_its_own_secrets() -> None:
    services = compose()["services"]
    for name in APPS:
        env = services[name]["environment"]
        upper = name.upper()
        assert env["NATS_URL"].startswith(f"nats://{name}:${{{upper}_NATS_PASSWORD"), name
        others = [s.upper() for s in APPS if s != name]
        assert not any(f"${{{o}_NATS_PASSWORD" in str(env) for o in others), name
    assert "ADMIN_API_KEY" not in services["notifier"]["environment"]
    assert "LINK_SECRET" not in services["notifier"]["environment"]
    assert "SERVICE_TOKEN" not in services["matcher"]["environment"]


def test_nats_keeps_acknowledged_messages_on_disk_and_knows_every_user() -> None:
    conf = (DEPLOY / "nats" / "nats.conf").read_text()
    assert re.search(r"^\s*sync_interval:\s*always\s*$", conf, re.MULTILINE)
    for user in [*APPS, "operator"]:
        assert re.search(rf"user:\s*{user},?\s+password:\s*\${user.upper()}_NATS_PASSWORD", conf), (
            user
        )
    nats_env = compose()["services"]["nats"]["environment"]
    assert {f"{u.upper()}_NATS_PASSWORD" for u in [*APPS, "operator"]} <= set(nats_env)


def test_every_required_variable_is_in_the_env_example() -> None:
    required = set(re.findall(r"\$\{(\w+):\?", (ROOT / "docker-compose.yml").read_text()))
    example = {
        line.split("=", 1)[0]
        for line in (DEPLOY / "env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert required - example == set()


def test_every_mounted_file_exists() -> None:
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"


def test_staging_catches_mail_and_production_sends_it() -> None:
    services = compose()["services"]
    assert services["mailpit"]["profiles"] == ["staging"]
    assert services["notifier"]["environment"]["SMTP_HOST"] == "${SMTP_HOST:-mailpit}"
    assert all("profiles" not in s for n, s in services.items() if n != "mailpit")


def test_prometheus_scrapes_every_service_and_loads_the_alerts() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for name, port in APPS.items():
        [discovery] = jobs[name]["dns_sd_configs"]
        assert (discovery["names"], discovery["port"]) == ([name], port)
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    mounts = compose()["services"]["prometheus"]["volumes"]
    assert "./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in mounts


def test_the_dashboards_use_the_provisioned_data_source() -> None:
    datasources = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"]
    uids = {d["uid"] for d in datasources}
    seen = set()
    for path in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text())
        assert dashboard["uid"] not in seen
        seen.add(dashboard["uid"])
        panels = list(_panels(dashboard["panels"]))
        ids = [p["id"] for p in panels]
        assert len(ids) == len(set(ids)), path.name
        for panel in panels:
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] in uids, f"{path.name}: {panel['title']}"
                assert panel["targets"], f"{path.name}: {panel['title']} has no query"


def _panels(items: list[dict[str, Any]]) -> Any:
    for panel in items:
        yield panel
        yield from _panels(panel.get("panels", []))
