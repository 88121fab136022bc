"""Kafka client options derived from :class:`~liveflow.settings.Settings`.

One place turns the settings' security fields into aiokafka keyword arguments (and faust's broker
credentials), so the worker, the simulator, the dev tools and the tests connect the same way.
"""

from __future__ import annotations

import ssl
from typing import Any

from liveflow.settings import Settings


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """An SSL context for SSL / SASL_SSL, else ``None``."""
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    context = ssl.create_default_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    )
    if settings.kafka_ssl_certfile:
        context.load_cert_chain(
            str(settings.kafka_ssl_certfile),
            str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
        )
    return context


def aiokafka_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``AIOKafkaProducer`` / ``AIOKafkaConsumer`` / ``AIOKafkaAdminClient``."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.broker_list,
        "security_protocol": settings.kafka_security_protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        kwargs["ssl_context"] = context
    if settings.kafka_sasl_mechanism is not None:
        kwargs["sasl_mechanism"] = settings.kafka_sasl_mechanism
        kwargs["sasl_plain_username"] = settings.kafka_sasl_username
        if settings.kafka_sasl_password is not None:
            kwargs["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return kwargs
