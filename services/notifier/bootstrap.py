"""Composition root of the notifier: settings, database, broker, consumers, delivery loop."""

from __future__ import annotations

import logging

import uvicorn
from fastapi import FastAPI

from services.notifier.adapters.channels import Email, LogSms, Sms, TwilioSms
from services.notifier.adapters.contacts import RegistryContacts
from services.notifier.adapters.orm import outbox
from services.notifier.service import DeliveryPolicy, Notifier
from services.notifier.settings import NotifierSettings
from shared.broker import make_broker
from shared.consumer import ConsumerObserver, subscribe
from shared.db import make_engine
from shared.outbox import OutboxRelay
from shared.worker import ops_app


def sms_provider(settings: NotifierSettings) -> Sms:
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
    relay = OutboxRelay(
        engine,
        outbox,
        broker,
        batch_size=settings.outbox_batch_size,
        poll_seconds=settings.outbox_poll_seconds,
    )
    contacts = RegistryContacts(settings.registry_url, settings.service_token)
    notifier = Notifier(
        engine,
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
        poll_seconds=settings.delivery_poll_seconds,
        on_commit=relay.wake,
    )
    subscribe(broker, "notifier", "matcher.>", "notifier-matcher", notifier.handle)
    subscribe(broker, "notifier", "registry.>", "notifier-registry", notifier.handle)
    observer = ConsumerObserver(
        broker, [("MATCHER", "notifier-matcher"), ("REGISTRY", "notifier-registry")]
    )

    app = ops_app(
        "INVOLVIM Match notifier",
        broker,
        engine,
        loops=[notifier, relay, observer],
        cleanup=[contacts.close],
    )
    app.state.notifier = notifier
    return app


def main() -> None:
    settings = NotifierSettings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    uvicorn.run(
        create_app(settings),
        host=settings.notifier_host,
        port=settings.notifier_metrics_port,
        log_level=settings.log_level.lower(),
    )
