"""Composition root of the notifier: settings, database, broker, relay, consumers, channels,
the delivery loop and the operations app."""

from __future__ import annotations

import functools

from fastapi import FastAPI

from services.notifier.adapters.channels import Email, LogSms, TwilioSms
from services.notifier.adapters.contacts import RegistryContacts
from services.notifier.adapters.orm import outbox
from services.notifier.adapters.unit_of_work import UnitOfWork
from services.notifier.domain.sending import DeliveryPolicy
from services.notifier.entrypoints.consumers import CONSUMERS, subscribe_events
from services.notifier.settings import NotifierSettings
from services.notifier.usecases.delivery import (
    Delivery,
    SmsChannel,
    deliver_round,
    observe_held,
    recover_stuck,
)
from shared.broker import make_broker
from shared.consumer import ConsumerObserver
from shared.db import make_engine
from shared.loop import WorkLoop
from shared.outbox import relay_for
from shared.worker import ops_app, serve

# After a failed delivery round (PostgreSQL away), the next one starts within about a second.
DELIVERY_MAX_BACKOFF_SECONDS = 1.0


def sms_provider(settings: NotifierSettings) -> SmsChannel:
    if settings.sms_provider == "twilio":
        if not (
            settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from
        ):
            raise ValueError(
                "SMS_PROVIDER=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM"
            )
        return TwilioSms(
            settings.twilio_api_base,
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            settings.twilio_from,
            settings.sms_timeout_seconds,
        )
    return LogSms(settings.sms_log_file)


def create_app(settings: NotifierSettings) -> FastAPI:
    engine = make_engine(settings.database_url)
    broker = make_broker(settings.nats_url, "notifier")
    relay = relay_for(engine, outbox, broker, settings)

    def new_uow() -> UnitOfWork:
        return UnitOfWork(engine, on_commit=relay.wake)

    contacts = RegistryContacts(settings.registry_url, settings.service_token)
    delivery = Delivery(
        new_uow,
        contacts,
        Email(
            settings.smtp_host,
            settings.smtp_port,
            settings.email_from,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
        ),
        sms_provider(settings),
        policy=DeliveryPolicy(
            max_attempts=settings.delivery_max_attempts,
            backoff_seconds=settings.delivery_backoff_seconds,
            quiet_start_hour=settings.quiet_hours_start,
            quiet_end_hour=settings.quiet_hours_end,
        ),
        concurrency=settings.delivery_concurrency,
    )
    delivery_loop = WorkLoop(
        "notifier delivery",
        functools.partial(deliver_round, delivery),
        idle_seconds=settings.delivery_poll_seconds,
        observe=functools.partial(observe_held, delivery),
        start=functools.partial(recover_stuck, delivery),
        max_backoff_seconds=DELIVERY_MAX_BACKOFF_SECONDS,
    )
    subscribe_events(broker, new_uow, on_recorded=delivery_loop.wake)
    observer = ConsumerObserver(broker, [(stream, durable) for _, stream, durable in CONSUMERS])

    return ops_app(
        "INVOLVIM Match notifier",
        broker,
        engine,
        loops=[delivery_loop, relay, observer],
        cleanup=[contacts.close],
    )


def main() -> None:
    settings = NotifierSettings()
    serve(create_app, settings, settings.notifier_host, settings.notifier_metrics_port)
