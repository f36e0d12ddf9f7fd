"""Alembic, one migration chain per service, each in its own PostgreSQL schema."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from sqlalchemy.ext.asyncio import create_async_engine


def alembic_config(schema: str, script_location: Path, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["schema"] = schema
    return config


def upgrade(database_url: str, chains: Mapping[str, Path]) -> None:
    """Bring each chain (schema name -> its ``migrations`` folder) to its head."""
    for schema, script_location in chains.items():
        command.upgrade(alembic_config(schema, script_location, database_url), "head")


def run_env(context: EnvironmentContext, target_metadata: sa.MetaData) -> None:
    """Body of every service's ``env.py``: create the schema, then migrate inside it."""
    config = context.config
    schema = config.attributes["schema"]
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None

    def migrate(connection: sa.Connection) -> None:
        connection.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_name=lambda name, type_, parent: type_ != "schema" or name == schema,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(migrate)
        await engine.dispose()

    asyncio.run(run())
