"""Browser tests: Debian's Chromium driven by Playwright, and the registry on a real port."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
from playwright.async_api import Browser, async_playwright

from involvim.local import LocalStack
from services.registry.bootstrap import create_app
from services.registry.settings import RegistrySettings
from tests.browser import PageFactory, Screenshots, launch_browser
from tests.conftest import Database
from tests.samples import ADMIN_KEY, SECRET
from tests.servers import HttpApp, MailServer, SmsProvider, stack_environment


def _chromium_processes() -> set[psutil.Process]:
    found = set()
    for process in psutil.Process().children(recursive=True):
        try:
            if "chrom" in process.name():
                found.add(process)
        except psutil.NoSuchProcess:
            pass
    return found


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for the whole session; its processes are gone at the end."""
    before = _chromium_processes()
    async with async_playwright() as playwright:
        launched = await launch_browser(playwright)
        ours = _chromium_processes() - before
        try:
            yield launched
        finally:
            await launched.close()
    _, left = psutil.wait_procs(list(ours), timeout=10)
    for process in left:
        process.kill()
    assert not left, f"Chromium processes still running after close: {[p.pid for p in left]}"


@pytest.fixture
async def new_page(browser: Browser) -> AsyncIterator[PageFactory]:
    """``await new_page(locale="uk-UA", viewport=PHONE)``: a page in a fresh context."""
    factory = PageFactory(browser)
    yield factory
    await factory.close()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Screenshots:
    """``await shots.take(page, "step")`` -> test-artifacts/screenshots/<test>/<NN>-step.png"""
    return Screenshots(request.node.name)


@dataclass
class RunningRegistry:
    """The registry app served by uvicorn on a free port of 127.0.0.1."""

    url: str
    settings: RegistrySettings
    api: httpx.AsyncClient  # base_url is ``url``


@pytest.fixture
async def registry_server(
    clean_database: Database, clean_nats: str
) -> AsyncIterator[RunningRegistry]:
    """The registry (lifespan, outbox relay and all) against the session's PostgreSQL and NATS,
    with emptied tables and streams."""
    settings = RegistrySettings(
        _env_file=None,
        database_url=clean_database.url,
        nats_url=clean_nats,
        admin_api_key=ADMIN_KEY,
        service_token=SECRET,
        link_secret=SECRET,
        outbox_poll_seconds=0.05,
    )
    server = HttpApp(create_app(settings))
    settings.public_base_url = server.url
    await asyncio.wait_for(server.start(), 60)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as api:
            yield RunningRegistry(server.url, settings, api)
    finally:
        await server.stop()


@asynccontextmanager
async def running_system(
    data: Path, **settings: str
) -> AsyncIterator[tuple[LocalStack, MailServer, SmsProvider, httpx.AsyncClient]]:
    """The three services as separate processes, as ``involvim run`` starts them, on embedded
    PostgreSQL and NATS, with a real SMTP server and an SMS provider stand-in; timings are
    short so that offers, retries and expiries happen within a test."""
    mail, sms = MailServer(), SmsProvider()
    mail.start()
    sms.start()
    given = stack_environment(mail, sms, "AC-journey") | {
        "DELIVERY_BACKOFF_SECONDS": "0.3",
        "DELIVERY_POLL_SECONDS": "0.2",
        "OUTBOX_POLL_SECONDS": "0.1",
        "MATCHER_BATCH_WINDOW_MS": "20",
        "OFFER_TTL_CRITICAL_SECONDS": "4",
        "OFFER_EXPIRY_CHECK_SECONDS": "0.5",
        # Quiet hours that never apply, so the SMS checks hold at any time of day.
        "QUIET_HOURS_START": "0",
        "QUIET_HOURS_END": "0",
        **settings,
    }
    stack = LocalStack(data, given=given, familiar_ports=False)
    try:
        await asyncio.to_thread(stack.start_infrastructure)  # migrations run their own event loop
        for name in ("registry", "matcher", "notifier"):
            stack.start_service(name)
        urls = [
            stack.env["REGISTRY_URL"],
            f"http://127.0.0.1:{stack.env['MATCHER_METRICS_PORT']}",
            f"http://127.0.0.1:{stack.env['NOTIFIER_METRICS_PORT']}",
        ]
        async with httpx.AsyncClient(base_url=stack.env["REGISTRY_URL"], timeout=10) as api:
            deadline = time.monotonic() + 60
            for url in urls:
                while True:
                    try:
                        if (await api.get(f"{url}/readyz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    assert stack.first_exited() is None, f"{stack.first_exited()} exited"
                    assert time.monotonic() < deadline, f"{url} not ready"
                    await asyncio.sleep(0.2)
            yield stack, mail, sms, api
    finally:
        stack.stop()
        mail.stop()
        sms.stop()
