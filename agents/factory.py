"""Builds the faust App from :class:`~liveflow.settings.Settings`, without import-time side effects.

Used by :mod:`agents.app` (the worker) and by ``bench/noop_app.py`` (the no-op agent the throughput
benchmark compares against), so both run with exactly the same faust configuration.
"""

from __future__ import annotations

import faust

from liveflow.kafka_config import ssl_context
from liveflow.settings import Settings


def broker_credentials(settings: Settings) -> faust.types.auth.CredentialsT | None:
    context = ssl_context(settings)
    if settings.kafka_sasl_mechanism is not None:
        password = settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username or "",
            password=password,
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def create_app(settings: Settings, origin: str = "agents") -> faust.App:
    return faust.App(
        settings.app_id,
        broker=[f"kafka://{server}" for server in settings.broker_list],
        broker_credentials=broker_credentials(settings),
        value_serializer="raw",
        key_serializer="raw",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        producer_linger=0.005,
        broker_session_timeout=settings.kafka_session_timeout / 1000,
        broker_heartbeat_interval=settings.kafka_heartbeat_interval / 1000,
        stream_buffer_maxsize=8192,
        # Offsets are acknowledged by agents.checkpointer only once a checkpoint covers them; messages
        # still buffered for alignment are never acknowledged before a rebalance, so faust must not wait
        # for them (it would wait forever) - it commits what is acknowledged and the rest is read again.
        stream_wait_empty=False,
        autodiscover=False,
        origin=origin,
    )
