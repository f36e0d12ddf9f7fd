"""``involvim run`` as a newcomer uses it: everything up, the main job works, Ctrl-C stops it all."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from dotenv import dotenv_values

from involvim.embedded import free_port
from tests import jetstream
from tests.samples import request_body, volunteer_body


def wait_until_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not ready after {timeout}s")


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")}
    env["INVOLVIM_DATA_DIR"] = str(tmp_path / ".data")
    # Ports of its own, so that a `make run` on the same machine is never in the way.
    for name in ("REGISTRY_PORT", "MATCHER_METRICS_PORT", "NOTIFIER_METRICS_PORT"):
        env[name] = str(free_port())
    yield tmp_path, env


def test_involvim_run_starts_everything_and_stops_cleanly(
    workdir: tuple[Path, dict[str, str]],
) -> None:
    cwd, env = workdir
    runner = subprocess.Popen(
        [sys.executable, "-m", "involvim.cli", "run"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    runtime = cwd / ".data" / "runtime.env"
    try:
        deadline = time.monotonic() + 90
        while not runtime.exists():
            assert runner.poll() is None, runner.stdout.read().decode() if runner.stdout else ""
            assert time.monotonic() < deadline, "the runner did not come up"
            time.sleep(0.2)
        stack = {k: v or "" for k, v in dotenv_values(runtime).items()}
        registry = stack["REGISTRY_URL"]
        wait_until_ready(registry)
        children = psutil.Process(runner.pid).children(recursive=True)
        assert len(children) >= 4  # nats-server and the three services

        created = subprocess.run(
            [sys.executable, "-m", "involvim.cli", "org", "create", "Płock Family Foundation"],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        api_key = created.stdout.strip().splitlines()[-1].split(": ", 1)[1]
        with httpx.Client(base_url=registry, timeout=10) as client:
            volunteer = client.post("/v1/volunteers", json=volunteer_body())
            assert volunteer.status_code == 201, volunteer.text
            request = client.post(
                "/v1/requests", json=request_body(), headers={"Authorization": f"Bearer {api_key}"}
            )
            assert request.status_code == 201, request.text
        messages = asyncio.run(jetstream.wait_for_messages(stack["NATS_URL"], "REGISTRY", 2))
        assert [s for s, _ in messages] == [
            "registry.volunteer.registered.v1",
            "registry.request.submitted.v1",
        ]
    finally:
        runner.send_signal(signal.SIGINT)
        try:
            code = runner.wait(60)
        except subprocess.TimeoutExpired:
            runner.kill()
            raise
    output = runner.stdout.read().decode() if runner.stdout else ""
    assert code == 0, output
    assert "Stopping" in output
    assert not runtime.exists()
    assert not any(
        child.is_running() and child.status() != psutil.STATUS_ZOMBIE for child in children
    )
    assert not (cwd / ".data" / "postgres" / "postmaster.pid").exists()
