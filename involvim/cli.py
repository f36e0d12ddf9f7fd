"""The ``involvim`` command."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from pathlib import Path
from typing import Annotated

import typer
from dotenv import load_dotenv

app = typer.Typer(help="INVOLVIM Match: volunteer matching for NGOs.", no_args_is_help=True)
org_app = typer.Typer(help="Organisations.", no_args_is_help=True)
events_app = typer.Typer(help="Events on NATS.", no_args_is_help=True)
app.add_typer(org_app, name="org")
app.add_typer(events_app, name="events")

DATA_DIR = Path(os.environ.get("INVOLVIM_DATA_DIR", ".data"))


def _load_local_stack_env() -> None:
    """Commands run beside ``involvim run`` find its servers; the environment still wins."""
    load_dotenv(DATA_DIR / "runtime.env", override=False)


@app.command()
def run() -> None:
    """Run everything locally: embedded PostgreSQL and NATS plus the three services."""
    from involvim.local import run_foreground

    raise typer.Exit(run_foreground(DATA_DIR))


@app.command()
def registry() -> None:
    """Run the registry (HTTP API and outbox relay)."""
    from services.registry.bootstrap import main

    main()


@app.command()
def matcher() -> None:
    """Run the matcher."""
    from services.matcher.bootstrap import main

    main()


@app.command()
def notifier() -> None:
    """Run the notifier."""
    from services.notifier.bootstrap import main

    main()


@app.command()
def migrate() -> None:
    """Apply every service's database migrations (DATABASE_URL)."""
    from involvim.migrations import upgrade

    _load_local_stack_env()
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise typer.BadParameter("set DATABASE_URL")
    upgrade(url)
    typer.echo("migrations applied")


@org_app.command("create")
def org_create(
    name: str,
    email: Annotated[str, typer.Option(help="The desk address that hears about requests")] = "",
    locale: Annotated[str, typer.Option(help="The desk's language (ISO 639-1)")] = "en",
) -> None:
    """Create an organisation and print its API key (shown only this once)."""
    from services.registry.adapters.unit_of_work import SqlUnitOfWork
    from services.registry.entrypoints.schemas import OrganisationIn
    from services.registry.usecases.organisations import create_organisation
    from shared.db import make_engine, make_session_factory

    _load_local_stack_env()
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise typer.BadParameter("set DATABASE_URL or start `involvim run` first")
    body = OrganisationIn(name=name, email=email or "desk@example.org", locale=locale)

    async def create() -> tuple[str, str]:
        engine = make_engine(url)
        try:
            org, key = await create_organisation(
                SqlUnitOfWork(make_session_factory(engine)), body.name, str(body.email), body.locale
            )
        finally:
            await engine.dispose()
        return str(org.id), key

    org_id, api_key = asyncio.run(create())
    typer.echo(f"organisation {org_id}\napi key (shown once): {api_key}")


@events_app.command("tail")
def events_tail(
    subject: Annotated[str, typer.Argument(help="NATS subject filter")] = ">",
    history: Annotated[bool, typer.Option(help="Replay the stored events first")] = False,
) -> None:
    """Print events as they are published (Ctrl-C to stop)."""
    import nats
    from nats.js.api import DeliverPolicy

    from shared.broker import ensure_streams

    _load_local_stack_env()
    url = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")

    async def tail() -> None:
        nc = await nats.connect(url)
        js = nc.jetstream()
        await ensure_streams(js)
        policy = DeliverPolicy.ALL if history else DeliverPolicy.NEW
        streams = ("REGISTRY", "MATCHER", "NOTIFIER", "DEADLETTER")
        subs = [
            await js.subscribe(subject, stream=s, ordered_consumer=True, deliver_policy=policy)
            for s in streams
        ]
        typer.echo(f"listening on {url} for {subject!r}")
        queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

        async def pump(sub: object) -> None:
            async for msg in sub.messages:  # type: ignore[attr-defined]
                await queue.put((msg.subject, msg.data))

        tasks = [asyncio.create_task(pump(s)) for s in subs]
        try:
            while True:
                subj, data = await queue.get()
                try:
                    text = json.dumps(json.loads(data), ensure_ascii=False)
                except ValueError:
                    text = data.decode(errors="replace")
                typer.echo(f"{subj}  {text}")
        finally:
            for task in tasks:
                task.cancel()
            await nc.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(tail())


@app.command()
def demo(
    volunteers: Annotated[int, typer.Option(help="How many volunteers to register")] = 300,
    requests: Annotated[int, typer.Option(help="How many requests to submit")] = 40,
    seed: Annotated[int, typer.Option(help="Random seed of the data set")] = 2026,
) -> None:
    """Load a demo data set into a running system (`make run`) and watch the matches."""
    from involvim.demo import Target, run_demo

    # `make run` may still be starting in the other terminal: give it a minute.
    for _ in range(120):
        _load_local_stack_env()
        missing = [
            k for k in ("REGISTRY_URL", "ADMIN_API_KEY", "NATS_URL") if not os.environ.get(k)
        ]
        if not missing:
            break
        if _ == 0:
            typer.echo("waiting for `make run` to come up ...")
        time.sleep(0.5)
    if missing:
        raise typer.BadParameter(f"start `make run` first (or set {', '.join(missing)})")
    target = Target(
        os.environ["REGISTRY_URL"], os.environ["ADMIN_API_KEY"], os.environ["NATS_URL"], DATA_DIR
    )
    asyncio.run(run_demo(target, volunteers, requests, seed))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
