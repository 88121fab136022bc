"""Kafka client options derived from :class:`~liveflow.settings.Settings`.

One place turns the settings' security fields into aiokafka keyword arguments (and faust's broker
credentials), so the worker, the simulator, the dev tools and the tests connect the same way; and one place
tells a wrong security setting (:func:`refusal`, :class:`KafkaConfigError`) from a broker that is away.

Invariant: aiokafka reports a refused login like an absent broker (``KafkaConnectionError: Unable to
bootstrap``); :func:`refusal` opens one connection itself to tell them apart, and its reasons name the
broker, the user and the mechanism but never a password.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any

from aiokafka.conn import AIOKafkaConnection
from aiokafka.errors import (
    AuthenticationFailedError,
    IllegalSaslStateError,
    KafkaConnectionError,
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)

from liveflow.settings import Settings

REFUSAL_TIMEOUT_MS = 10_000
CLOSE_TIMEOUT_S = 2.0
_REFUSED = (
    SaslAuthenticationFailed,
    AuthenticationFailedError,
    UnsupportedSaslMechanismError,
    IllegalSaslStateError,
)


class KafkaConfigError(Exception):
    """The Kafka security settings cannot work (a refused login, an untrusted certificate, an unusable TLS
    file): a configuration error, not an outage to wait out. ``str(error)`` is one line without secrets."""


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """An SSL context for SSL / SASL_SSL, else ``None``; bad TLS files are a :class:`KafkaConfigError`."""
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    try:
        context = ssl.create_default_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        )
        if settings.kafka_ssl_certfile:
            context.load_cert_chain(
                str(settings.kafka_ssl_certfile),
                str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
            )
    except (OSError, ssl.SSLError) as exc:
        files = (settings.kafka_ssl_cafile, settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile)
        named = ", ".join(str(path) for path in files if path) or "the system's CA certificates"
        raise KafkaConfigError(f"cannot use the Kafka TLS files ({named}): {exc}") from None
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


async def refusal(settings: Settings) -> str | None:
    """Why the brokers refuse this client, if they do: one connection to each bootstrap server, made the
    way every client makes it (TLS, SASL handshake). Returns the one-line reason of the first refusal (a
    wrong password or user, a mechanism the broker does not enable, a broker certificate this client cannot
    verify, a failed TLS handshake), or ``None`` once a broker accepts or when none answers (an outage)."""
    kwargs = aiokafka_kwargs(settings)
    options: dict[str, Any] = {
        key: kwargs.get(key)
        for key in ("ssl_context", "sasl_mechanism", "sasl_plain_username", "sasl_plain_password")
    }
    login = (
        f"user {settings.kafka_sasl_username!r} ({settings.kafka_security_protocol}, "
        f"{settings.kafka_sasl_mechanism})"
    )
    for server in settings.broker_list:
        host, _, port = server.rpartition(":")
        connection = AIOKafkaConnection(
            host,
            int(port),
            security_protocol=settings.kafka_security_protocol,
            request_timeout_ms=REFUSAL_TIMEOUT_MS,
            **options,
        )
        try:
            await connection.connect()
        except _REFUSED as exc:
            await _closed(connection)
            detail = exc.args[0] if exc.args and isinstance(exc.args[0], str) else type(exc).__name__
            return (
                f"Kafka at {server} refused {login}: {detail}; "
                "check LIVEFLOW_KAFKA_SASL_USERNAME and LIVEFLOW_KAFKA_SASL_PASSWORD"
            )
        except ssl.SSLCertVerificationError as exc:
            return (
                f"Kafka at {server}: its TLS certificate is not trusted ({exc.verify_message}); "
                "check LIVEFLOW_KAFKA_SSL_CAFILE and the host names of LIVEFLOW_BROKERS"
            )
        except ssl.SSLError as exc:
            return (
                f"Kafka at {server}: TLS handshake failed ({exc.reason or exc}); "
                "check LIVEFLOW_KAFKA_SECURITY_PROTOCOL"
            )
        except (TimeoutError, OSError, KafkaError):
            continue
        await _closed(connection)
        return None
    return None


async def _closed(connection: AIOKafkaConnection) -> None:
    """Close a connection that got as far as Kafka's protocol and wait (briefly) until its socket is gone."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(connection.close(), CLOSE_TIMEOUT_S)


async def check_access(settings: Settings) -> None:
    """Raise :class:`KafkaConfigError` if the brokers refuse this client (see :func:`refusal`); return
    when one accepts it or none answers."""
    reason = await refusal(settings)
    if reason is not None:
        raise KafkaConfigError(reason)


async def start_client(client: Any, settings: Settings) -> None:
    """``await client.start()`` for an aiokafka producer, consumer or admin client built from ``settings``;
    a failed bootstrap raises :class:`KafkaConfigError` when the brokers refuse the client, else the
    ``KafkaConnectionError`` of an outage."""
    try:
        await client.start()
    except KafkaConnectionError:
        await check_access(settings)
        raise
