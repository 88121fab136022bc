"""A single-node Apache Kafka 3.9.1 broker in KRaft mode, run from Maven Central jars.

Data layout:
- jars: ``~/.cache/liveflow/kafka-3.9.1/lib/*.jar``, fetched once by Maven from ``pom.xml`` next to
  this module into ``lib.partial-*`` and renamed to ``lib`` only after Maven succeeded, so a ``lib``
  directory is always complete and an interrupted fetch is never mistaken for a cache;
- ``<dev_dir>/kafka/server.properties``: rendered from the ports on every start (one combined
  broker+controller node, static quorum, listeners on 127.0.0.1 only);
- ``<dev_dir>/kafka/data``: the log dir; formatted with StorageTool only while it has no
  ``meta.properties``, then kept between runs (topics and offsets survive ``down``/``up``);
- ``<dev_dir>/logs/kafka.log`` (broker) and ``kafka-format.log`` (StorageTool): stdout+stderr,
  log4j configured by ``log4j.properties`` next to this module (console appender only).

Invariant: a running broker of ``dev_dir`` is recognised by its command line, which holds
``kafka.Kafka`` and the absolute path of that dev dir's ``server.properties`` (see :func:`markers`).
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from liveflow.tools.devstack import DevStackError, run_sync
from liveflow.tools.devstack.process import HOST, alive, exited_error, log_summary, wait_listening

KAFKA_VERSION = "3.9.1"
START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
# Internal topics: 10 partitions instead of 50 halve the first consumer-group join on 2 cores.
INTERNAL_TOPIC_PARTITIONS = 10

_HERE = Path(__file__).resolve().parent
_JVM_OPTIONS = (
    "-Xms512m",
    "-Xmx1g",
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
)

Progress = Callable[[str], None]


def jar_dir() -> Path:
    """Where the complete set of broker jars is cached."""
    return Path.home() / ".cache" / "liveflow" / f"kafka-{KAFKA_VERSION}" / "lib"


def properties_path(dev_dir: Path) -> Path:
    return dev_dir / "kafka" / "server.properties"


def data_dir(dev_dir: Path) -> Path:
    return dev_dir / "kafka" / "data"


def log_path(dev_dir: Path) -> Path:
    return dev_dir / "logs" / "kafka.log"


def markers(dev_dir: Path) -> tuple[str, ...]:
    """Substrings of the command line of this dev dir's broker."""
    return ("kafka.Kafka", str(properties_path(dev_dir)))


def find_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise DevStackError(
            "java not found: install a Java 17 runtime with apt-get install -y openjdk-17-jre-headless"
        )
    return java


def ensure_jars(progress: Progress) -> Path:
    """The jar directory, fetched with Maven on first use."""
    lib = jar_dir()
    if lib.is_dir():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise DevStackError(
            "mvn not found (needed once to fetch the Kafka jars): install it with apt-get install -y maven"
        )
    progress(f"fetching Apache Kafka {KAFKA_VERSION} jars from Maven Central into {lib} (once)")
    lib.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix="lib.partial-", dir=lib.parent))
    try:
        result = subprocess.run(
            [
                mvn, "-B", "-q", "-Dstyle.color=never", "-f", str(_HERE / "pom.xml"),
                "dependency:copy-dependencies", f"-DoutputDirectory={partial}", "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
        if result.returncode != 0:
            errors = [line for line in result.stdout.splitlines() if line.startswith("[ERROR]")]
            reason = errors[0] if errors else (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise DevStackError(f"mvn could not fetch the Kafka jars (exit {result.returncode}): {reason}")
        try:
            partial.rename(lib)
        except OSError:
            if not lib.is_dir():  # else a concurrent fetch finished first: use its copy
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return lib


def server_properties(port: int, controller_port: int, data: Path) -> dict[str, str]:
    """The broker configuration: one combined KRaft node listening on 127.0.0.1 only."""
    return {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{HOST}:{controller_port}",
        "listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data),
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": str(INTERNAL_TOPIC_PARTITIONS),
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": str(INTERNAL_TOPIC_PARTITIONS),
        "group.initial.rebalance.delay.ms": "0",
    }


def render_properties(properties: Mapping[str, str]) -> str:
    """A Java ``.properties`` text (ISO-8859-1 safe: other characters as ``\\uXXXX`` escapes)."""
    lines = ["# Written by liveflow dev up; rewritten on every start.\n"]
    lines += [f"{key}={_escape(value)}\n" for key, value in properties.items()]
    return "".join(lines)


def _escape(value: str) -> str:
    out = []
    for char in value:
        if char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif " " <= char <= "~":
            out.append(char)
        else:
            encoded = char.encode("utf-16-be")
            out += [f"\\u{int.from_bytes(encoded[i : i + 2]):04x}" for i in range(0, len(encoded), 2)]
    return "".join(out)


def java_command(java: str, lib: Path, dev_dir: Path, main: str, *args: str) -> list[str]:
    """``java <options> -cp '<lib>/*' <main> <args>`` with the broker's heap, GC and log4j settings."""
    return [
        java,
        *_JVM_OPTIONS,
        f"-Dlog4j.configuration={(_HERE / 'log4j.properties').as_uri()}",
        f"-Dkafka.logs.dir={dev_dir / 'logs'}",
        "-cp",
        f"{lib}/*",
        main,
        *args,
    ]


def new_cluster_id() -> str:
    """A random KRaft cluster id: URL-safe base64 of a UUID, no padding, never starting with ``-``.

    Like Kafka's ``Uuid.randomUuid()``, ids starting with ``-`` are drawn again: StorageTool's
    argument parser would read one as an option.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def prepare(
    dev_dir: Path, port: int, controller_port: int, progress: Progress
) -> tuple[list[str], float | None]:
    """Write server.properties, format storage if new; return the broker command and format seconds."""
    java = find_java()
    lib = ensure_jars(progress)
    config = properties_path(dev_dir)
    config.parent.mkdir(parents=True, exist_ok=True)
    (dev_dir / "logs").mkdir(parents=True, exist_ok=True)
    config.write_text(render_properties(server_properties(port, controller_port, data_dir(dev_dir))))
    format_seconds = None
    if not (data_dir(dev_dir) / "meta.properties").exists():
        format_seconds = _format_storage(java, lib, dev_dir)
    return java_command(java, lib, dev_dir, "kafka.Kafka", str(config)), format_seconds


def _format_storage(java: str, lib: Path, dev_dir: Path) -> float:
    log = dev_dir / "logs" / "kafka-format.log"
    command = java_command(
        java, lib, dev_dir, "kafka.tools.StorageTool", "format",
        "-t", new_cluster_id(), "-c", str(properties_path(dev_dir)), "--ignore-formatted",
    )  # fmt: skip
    started = time.monotonic()
    with log.open("w") as output:
        returncode = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, check=False).returncode
    if returncode != 0:
        raise DevStackError(f"Kafka storage format failed: {log_summary(log)} (log: {log})")
    return time.monotonic() - started


def wait_ready(pid: int, dev_dir: Path, port: int, timeout: float = START_TIMEOUT) -> None:
    """Block until the broker accepts connections and answers a metadata request."""
    deadline = time.monotonic() + timeout
    log = log_path(dev_dir)
    wait_listening(pid, port, timeout, name="Kafka", log=log)
    while True:
        try:
            run_sync(_list_topics(port))
            return
        except (KafkaError, OSError) as exc:
            if not alive(pid):
                raise exited_error("Kafka", log) from None
            if time.monotonic() >= deadline:
                raise DevStackError(f"Kafka on {HOST}:{port} answers no metadata request: {exc}") from None
            time.sleep(0.2)


async def _list_topics(port: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=f"{HOST}:{port}", request_timeout_ms=10_000)
    try:
        await admin.start()
        await admin.list_topics()
    finally:
        await admin.close()
