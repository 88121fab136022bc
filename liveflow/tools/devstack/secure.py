"""A single-node Kafka broker that only speaks SASL_SSL with SCRAM-SHA-512, for the security tests.

The same jars, JVM options and process helpers as :mod:`liveflow.tools.devstack.kafka`; what differs is
the listener: TLS with a certificate of a throw-away CA, and SCRAM-SHA-512 logins. The broker talks to
itself over the same listener as the ``admin`` user, whose SCRAM credentials are written at format time
(``StorageTool format --add-scram``); client users are added afterwards with ``kafka-configs``
(:func:`add_scram_user`, the ``kafka.admin.ConfigCommand`` class), as an operator would.

Data layout of ``work_dir``::

    tls/ca.key, tls/ca.pem      the CA (made with the openssl command line, valid two days)
    tls/broker.pem              the broker's private key (PKCS#8) and its certificate signed by the CA,
                                for 127.0.0.1 and localhost (Kafka reads it as ssl.keystore.type=PEM)
    kafka/server.properties     one combined KRaft node: SASL_SSL on 127.0.0.1:<port>, the controller
                                listener (plaintext) on 127.0.0.1:<controller port>
    kafka/admin.properties      the client configuration of the admin user, for kafka-configs
    kafka/data/                 the log dir, formatted on every start (a secure broker starts empty)
    logs/kafka.log, logs/kafka-format.log, logs/kafka-configs.log

Invariants: no port of this broker accepts a client without TLS and a SCRAM login; the admin password is
drawn anew on every start; a user's password is handed to kafka-configs in a file, and no password is
in a log line or an error message of this module.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from pydantic import SecretStr

from liveflow.adapters.kafka.options import aiokafka_kwargs, refusal
from liveflow.settings import Settings
from liveflow.tools.devstack import DevStackError, kafka, run_sync
from liveflow.tools.devstack.process import (
    HOST,
    alive,
    exited_error,
    log_summary,
    spawn,
    stop,
    wait_listening,
)

MECHANISM = "SCRAM-SHA-512"
ADMIN_USER = "admin"
LISTENER = "SASL_SSL"


@dataclass(frozen=True)
class TlsFiles:
    ca: Path  # the CA certificate: what clients trust (LIVEFLOW_KAFKA_SSL_CAFILE)
    keystore: Path  # the broker's key and certificate


@dataclass(frozen=True)
class SecureBroker:
    """A running secure broker of :func:`start`."""

    pid: int
    port: int
    work_dir: Path
    tls: TlsFiles
    admin_password: str

    @property
    def brokers(self) -> str:
        return f"{HOST}:{self.port}"

    def client_settings(self, base: Settings, username: str, password: str) -> Settings:
        """``base`` pointed at this broker as ``username`` (SASL_SSL, SCRAM-SHA-512, the test CA)."""
        return base.model_copy(update=self.client_environment(username, password, typed=True))

    def client_environment(self, username: str, password: str, *, typed: bool = False) -> dict[str, object]:
        """The documented ``LIVEFLOW_KAFKA_*`` settings of a client of this broker (field names when
        ``typed``, for :meth:`Settings.model_copy`; else environment variables)."""
        values: dict[str, object] = {
            "brokers": self.brokers,
            "kafka_security_protocol": LISTENER,
            "kafka_sasl_mechanism": MECHANISM,
            "kafka_sasl_username": username,
            "kafka_sasl_password": SecretStr(password) if typed else password,
            "kafka_ssl_cafile": self.tls.ca if typed else str(self.tls.ca),
        }
        return values if typed else {f"LIVEFLOW_{name.upper()}": value for name, value in values.items()}


def make_tls(directory: Path) -> TlsFiles:
    """A CA and a broker certificate for 127.0.0.1 signed by it, made with the openssl command line."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise DevStackError("openssl not found: install it with apt-get install -y openssl")
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, request = (directory / name for name in ("ca.key", "ca.pem", "broker.key", "broker.csr"))
    extensions = directory / "broker.ext"
    extensions.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    certificate = directory / "broker.crt"
    steps = [
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=LiveFlow test CA", "-keyout", str(ca_key), "-out", str(ca),
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ],
        [
            openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={HOST}",
            "-keyout", str(key), "-out", str(request),
        ],
        [
            openssl, "x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey", str(ca_key),
            "-CAcreateserial", "-days", "2", "-extfile", str(extensions), "-out", str(certificate),
        ],
    ]  # fmt: skip
    for command in steps:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise DevStackError(f"openssl {command[1]} failed (exit {result.returncode}): {reason}")
    keystore = directory / "broker.pem"
    keystore.write_text(key.read_text() + certificate.read_text())
    for path in (ca_key, key, keystore):
        path.chmod(0o600)
    return TlsFiles(ca, keystore)


def _jaas(username: str, password: str) -> str:
    return (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{username}" password="{password}";'
    )


def server_properties(
    port: int, controller_port: int, data: Path, tls: TlsFiles, admin_password: str
) -> dict[str, str]:
    """One combined KRaft node whose only client listener is SASL_SSL with SCRAM-SHA-512."""
    properties = kafka.server_properties(port, controller_port, data)
    properties.update(
        {
            "listeners": f"{LISTENER}://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
            "advertised.listeners": f"{LISTENER}://{HOST}:{port}",
            "inter.broker.listener.name": LISTENER,
            "listener.security.protocol.map": f"CONTROLLER:PLAINTEXT,{LISTENER}:{LISTENER}",
            "sasl.enabled.mechanisms": MECHANISM,
            "sasl.mechanism.inter.broker.protocol": MECHANISM,
            f"listener.name.{LISTENER.lower()}.{MECHANISM.lower()}.sasl.jaas.config": _jaas(
                ADMIN_USER, admin_password
            ),
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(tls.keystore),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(tls.ca),
            "ssl.client.auth": "none",
        }
    )
    return properties


def client_properties(tls: TlsFiles, username: str, password: str) -> dict[str, str]:
    """A Java client's configuration (kafka-configs ``--command-config``) for this broker."""
    return {
        "security.protocol": LISTENER,
        "sasl.mechanism": MECHANISM,
        "sasl.jaas.config": _jaas(username, password),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(tls.ca),
    }


def start(work_dir: Path, port: int, controller_port: int) -> SecureBroker:
    """Make the TLS files, format a new log dir with the admin's SCRAM credentials, start the broker and
    wait until the admin can list topics; the broker is stopped again if it does not get ready."""
    admin_password = secrets.token_urlsafe(18)
    java = kafka.find_java()
    lib = kafka.ensure_jars(lambda message: None)
    tls = make_tls(work_dir / "tls")
    config = work_dir / "kafka" / "server.properties"
    data = work_dir / "kafka" / "data"
    shutil.rmtree(data, ignore_errors=True)
    config.parent.mkdir(parents=True, exist_ok=True)
    (work_dir / "logs").mkdir(parents=True, exist_ok=True)
    config.write_text(
        kafka.render_properties(server_properties(port, controller_port, data, tls, admin_password))
    )
    config.chmod(0o600)
    scram = f"{MECHANISM}=[name={ADMIN_USER},password={admin_password}]"
    _run_tool(
        java, lib, work_dir, "kafka-format",
        "kafka.tools.StorageTool", "format", "-t", kafka.new_cluster_id(), "-c", str(config),
        "--add-scram", scram,
    )  # fmt: skip
    log = work_dir / "logs" / "kafka.log"
    pid = spawn(kafka.java_command(java, lib, work_dir, "kafka.Kafka", str(config)), log)
    broker = SecureBroker(pid, port, work_dir, tls, admin_password)
    try:
        wait_listening(pid, port, kafka.START_TIMEOUT, name="Kafka (SASL_SSL)", log=log)
        _wait_ready(broker, log)
    except BaseException:
        stop(pid, kafka.STOP_TIMEOUT)
        raise
    return broker


def _wait_ready(broker: SecureBroker, log: Path, timeout: float = kafka.START_TIMEOUT) -> None:
    settings = broker.client_settings(Settings.model_construct(), ADMIN_USER, broker.admin_password)
    deadline = time.monotonic() + timeout
    while True:
        try:
            run_sync(_list_topics(settings))
            return
        except (KafkaError, OSError) as exc:
            if not alive(broker.pid):
                raise exited_error("Kafka (SASL_SSL)", log) from None
            if time.monotonic() >= deadline:
                raise DevStackError(f"Kafka on {broker.brokers} answers no metadata request: {exc}") from None
            time.sleep(0.2)


async def _list_topics(settings: Settings) -> None:
    admin = AIOKafkaAdminClient(**aiokafka_kwargs(settings), request_timeout_ms=10_000)
    try:
        await admin.start()
        await admin.list_topics()
    finally:
        await admin.close()


def add_scram_user(broker: SecureBroker, username: str, password: str, timeout: float = 60.0) -> None:
    """Create (or change) a SCRAM-SHA-512 user with ``kafka-configs``, then wait until it can log in."""
    java = kafka.find_java()
    lib = kafka.ensure_jars(lambda message: None)
    command_config = broker.work_dir / "kafka" / "admin.properties"
    command_config.write_text(
        kafka.render_properties(client_properties(broker.tls, ADMIN_USER, broker.admin_password))
    )
    command_config.chmod(0o600)
    # the password goes in a file (not on the command line); values there are not in brackets
    credentials = broker.work_dir / "kafka" / f"user-{username}.properties"
    credentials.write_text(kafka.render_properties({MECHANISM: f"iterations=4096,password={password}"}))
    credentials.chmod(0o600)
    _run_tool(
        java, lib, broker.work_dir, "kafka-configs",
        "kafka.admin.ConfigCommand", "--bootstrap-server", broker.brokers,
        "--command-config", str(command_config), "--alter", "--add-config-file", str(credentials),
        "--entity-type", "users", "--entity-name", username,
    )  # fmt: skip
    settings = broker.client_settings(Settings.model_construct(), username, password)
    deadline = time.monotonic() + timeout
    while (reason := run_sync(refusal(settings))) is not None:
        if time.monotonic() >= deadline:
            raise DevStackError(
                f"user {username} cannot log in {timeout:.0f} s after kafka-configs: {reason}"
            )
        time.sleep(0.2)


def _run_tool(java: str, lib: Path, work_dir: Path, name: str, main: str, *args: str) -> None:
    log = work_dir / "logs" / f"{name}.log"
    with log.open("w") as output:
        returncode = subprocess.run(
            kafka.java_command(java, lib, work_dir, main, *args),
            stdout=output,
            stderr=subprocess.STDOUT,
            check=False,
        ).returncode
    if returncode != 0:
        raise DevStackError(f"{name} failed (exit {returncode}): {log_summary(log)} (log: {log})")


def stop_broker(broker: SecureBroker) -> str:
    """Stop the broker (SIGTERM, then SIGKILL after the timeout)."""
    return stop(broker.pid, kafka.STOP_TIMEOUT)
