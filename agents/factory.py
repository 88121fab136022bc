"""Builds faust Apps from :class:`~liveflow.settings.Settings`, without import-time side effects.

:func:`create_app` with ``kafka=False`` is the worker's app: faust runs the lifecycle, the CLI, the web
server, the services and the agent, but starts no Kafka client of its own (the input path belongs to
:mod:`liveflow.adapters.kafka`). With ``kafka=True`` (``bench/noop_app.py``, the baseline the throughput
benchmark compares against) faust consumes topics itself, configured as earlier releases of the worker were.
"""

from __future__ import annotations

import faust
from faust.app.base import BootStrategy

from liveflow.adapters.kafka.options import ssl_context
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


class _NoKafka(BootStrategy):
    enable_kafka = False


class AppWithoutKafka(faust.App):
    """A faust App whose worker starts no faust consumer, producer or table manager."""

    BootStrategy = _NoKafka


def create_app(settings: Settings, origin: str = "agents", *, kafka: bool = True) -> faust.App:
    cls = faust.App if kafka else AppWithoutKafka
    return cls(
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
        autodiscover=False,
        origin=origin,
    )
