"""Organisations: created by an operator, known by their API key or a desk session."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.registry import domain
from services.registry.adapters.orm import Organisation
from services.registry.adapters.unit_of_work import UnitOfWork
from services.registry.usecases import audit


async def create_organisation(
    uow: UnitOfWork, name: str, email: str, locale: str = "en"
) -> tuple[Organisation, str]:
    """The new organisation and its API key, which is shown this once and kept only as a hash."""
    api_key = domain.new_secret("org")
    organisation = Organisation(
        id=uuid.uuid4(),
        name=name,
        email=email,
        locale=locale,
        api_key_hash=domain.hash_secret(api_key),
        created_at=datetime.now(UTC),
    )
    async with uow:
        uow.organisations.add(organisation)
        audit.record(uow, domain.OPERATOR, "organisation.created", organisation.id, organisation.id)
        await uow.commit()
    return organisation, api_key


async def organisation_for_key(uow: UnitOfWork, api_key: str) -> Organisation:
    async with uow:
        organisation = await uow.organisations.by_api_key_hash(domain.hash_secret(api_key))
    if organisation is None or not domain.secret_matches(api_key, organisation.api_key_hash):
        raise domain.Unauthorised("unknown organisation key")
    return organisation


async def find_organisation(uow: UnitOfWork, organisation_id: uuid.UUID) -> Organisation | None:
    """The organisation a desk session names; None once it is gone."""
    async with uow:
        return await uow.organisations.get(organisation_id)
