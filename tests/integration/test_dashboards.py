"""Every PromQL expression of the Grafana dashboards, run by a real Prometheus against a real worker.

Processes, all on 127.0.0.1 and stopped by pid at the end: the session's Kafka and Redis
(tests/conftest.py), one ``liveflow worker``, ``liveflow notifier`` (two webhook channels: a local HTTP
receiver behind a tight rate limit, and a closed port, so that deliveries, throttling and dead letters
all happen), ``liveflow simulate`` (paced to the wall clock, a spam wave and a viewer drop in the room
under test, so that moderation hits and alerts exist) and ``prometheus`` (deploy/prometheus/prometheus.yml
with its rule files, scraping every second). A missing prometheus binary fails the test.

Expressions come from every ``expr`` in the dashboard JSON of both languages (asked once each) and from
the template variable queries, with Grafana's variables replaced by :data:`VARIABLES`. Each must be valid
and return at least one series; queries are repeated every few seconds until each has (a window-based
series needs a closed window, an alert needs its rule to fire) or :data:`DEADLINE` passes.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from liveflow.tools.devstack.process import free_port
from tests.conftest import Stack
from tests.integration.live import LIVEFLOW, Deployment, Worker

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
ROOM = "room-0002"  # the spam wave's room: $room_id of the room detail dashboard
VARIABLES = {"room_id": ROOM, "__rate_interval": "15s", "__interval": "5s", "__range": "30m"}
SIMULATION = [
    "--rate", "500", "--duration", "600s", "--seed", "7",
    "--scenario", f"spam_wave=5@5s+590s:{ROOM}",
    "--scenario", "drop@90s:room-0001",
]  # fmt: skip
DEADLINE = 300.0  # seconds after the simulator starts (the last alerts fire after about 150 s)


@dataclass(frozen=True)
class Query:
    source: str  # "<dashboard file>: <panel title or variable name>"
    expr: str  # PromQL with the variables substituted
    label: str | None = None  # label_values(): the label every series must carry ...
    offers: str | None = None  # ... and a value it must offer (the one substituted for the variable)


def substitute(expr: str) -> str:
    for name in sorted(VARIABLES, key=len, reverse=True):
        expr = expr.replace(f"${{{name}}}", VARIABLES[name]).replace(f"${name}", VARIABLES[name])
    assert "$" not in expr, f"unknown template variable in {expr!r}"
    return expr


def dashboard_queries() -> list[Query]:
    queries: list[Query] = []

    def visit(node: Any, where: str) -> None:
        if isinstance(node, dict):
            here = f"{where} / {node['title']}" if isinstance(node.get("title"), str) else where
            if isinstance(node.get("expr"), str):
                queries.append(Query(here, substitute(node["expr"])))
            for key, child in node.items():
                if key != "templating":
                    visit(child, here)
        elif isinstance(node, list):
            for child in node:
                visit(child, where)

    for path in sorted(DASHBOARDS.rglob("*.json")):
        name = str(path.relative_to(DASHBOARDS))
        board = json.loads(path.read_text())
        visit({key: value for key, value in board.items() if key != "title"}, name)
        for variable in board["templating"]["list"]:
            if variable["type"] == "datasource":  # Grafana's own list of Prometheus datasources
                continue
            match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", variable["query"])
            assert match, f"{name}: unsupported variable query {variable['query']!r}"
            source = f"{name} / ${variable['name']}"
            offers = VARIABLES[variable["name"]]
            queries.append(Query(source, substitute(match[1]), label=match[2], offers=offers))
    unique: dict[tuple[str, str | None], Query] = {}
    for query in queries:  # the zh and en sets share their queries: ask each once
        unique.setdefault((query.expr, query.label), query)
    return list(unique.values())


class Receiver(BaseHTTPRequestHandler):
    """A webhook endpoint that accepts everything (the notifier's happy channel)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the notifier's own metrics count the deliveries."""


@dataclass
class Processes:
    """Subprocesses started here, stopped by pid in reverse order."""

    tmp: Path
    started: list[tuple[str, subprocess.Popen[bytes]]]

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with (self.tmp / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(argv, env=env, cwd=self.tmp, stdout=log, stderr=subprocess.STDOUT)
        self.started.append((name, process))
        return process

    def log(self, name: str) -> str:
        return "\n".join((self.tmp / f"{name}.log").read_text(errors="replace").splitlines()[-30:])

    def stop_all(self) -> None:
        for _, process in reversed(self.started):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)


class Prometheus:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector (or scalar as one sample) of ``expr`` now; raises ValueError if invalid."""
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as exc:
            raise ValueError(json.load(exc).get("error", str(exc))) from None
        data = body["data"]
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def metric_names(self) -> set[str]:
        with urllib.request.urlopen(f"{self.url}/api/v1/label/__name__/values", timeout=10) as response:
            return set(json.load(response)["data"])


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        pytest.fail(
            "prometheus binary not found on PATH: the dashboards are checked against a real Prometheus; "
            "install it, e.g. apt-get install -y prometheus",
            pytrace=False,
        )
    return found


def prometheus_config(worker_port: int, notifier_port: int) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml scraping this test's processes every second, with its rule files."""
    config: dict[str, Any] = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"] |= {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(PROMETHEUS_DIR / name) for name in config["rule_files"]]
    config.pop("alerting")
    ports = {"liveflow-worker": worker_port, "liveflow-notifier": notifier_port}
    config["scrape_configs"] = [job for job in config["scrape_configs"] if job["job_name"] in ports]
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [f"127.0.0.1:{ports[job['job_name']]}"]}]
    assert len(config["scrape_configs"]) == 2
    return config


def notifier_config(tmp: Path, receiver_port: int, metrics_port: int) -> Path:
    closed = free_port()
    config = {
        "language": "en",
        "timezone": "UTC",
        "dead_letter_path": str(tmp / "notify-dead-letters.jsonl"),
        "retry": {"max_attempts": 2, "base_delay": "100ms", "max_delay": "1s"},
        "metrics": {"host": "127.0.0.1", "port": metrics_port},
        "channels": {
            "ops": {
                "type": "webhook",
                "url": f"http://127.0.0.1:{receiver_port}/hook",
                # the second message waits ~45 s; the notifier counts it as throttled once it goes out
                "rate_limits": [{"count": 1, "per_seconds": 45}],
            },
            "broken": {"type": "webhook", "url": f"http://127.0.0.1:{closed}/hook"},
        },
        "default_channels": ["ops", "broken"],
    }
    path = tmp / "notify.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@dataclass(frozen=True)
class Monitored:
    prometheus: Prometheus
    started: float  # time.monotonic() when the simulator started
    worker: Worker


@pytest.fixture(scope="module")
def monitored(live_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitored]:
    binary = prometheus_binary()
    tmp = tmp_path_factory.mktemp("dashboards")
    deployment = Deployment.create(live_stack.brokers, live_stack.redis_url, tmp)
    processes = Processes(tmp, [])
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        worker = deployment.start_worker()
        notifier_port = free_port()
        config = notifier_config(tmp, receiver.server_address[1], notifier_port)
        processes.start(
            "notifier", [LIVEFLOW, "notifier", "--config", str(config), "--from-beginning"], deployment.env
        )
        prometheus_port = free_port()
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(prometheus_config(worker.port, notifier_port)))
        prometheus = Prometheus(prometheus_port)
        processes.start(
            "prometheus",
            [
                binary,
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
            ],
        )
        deadline = time.monotonic() + 60
        while not prometheus.ready():
            assert time.monotonic() < deadline, f"prometheus not ready:\n{processes.log('prometheus')}"
            time.sleep(0.2)
        processes.start("simulate", [LIVEFLOW, "simulate", *SIMULATION], deployment.env)
        yield Monitored(prometheus, time.monotonic(), worker)
    finally:
        processes.stop_all()
        deployment.stop()
        receiver.shutdown()
        receiver.server_close()


def answers_variable(query: Query, result: list[dict[str, Any]]) -> bool:
    values = [item["metric"].get(query.label) for item in result]
    return None not in values and query.offers in values


def eventually(check: Any, what: str, timeout: float = 60) -> Any:
    """``check()`` until it returns something truthy; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(1)
    return value


def test_every_dashboard_query_is_valid_and_returns_data(monitored: Monitored) -> None:
    queries = dashboard_queries()
    assert len(queries) > 80
    pending = list(queries)
    while pending:
        waiting = []
        for query in pending:
            try:
                result = monitored.prometheus.query(query.expr)
            except ValueError as exc:
                pytest.fail(f"{query.source}: invalid query {query.expr!r}: {exc}", pytrace=False)
            if not result or (query.label and not answers_variable(query, result)):
                waiting.append(query)
        pending = waiting
        if pending and time.monotonic() - monitored.started > DEADLINE:
            break
        if pending:
            time.sleep(5)
    names = monitored.prometheus.metric_names()
    referenced = {name for query in queries for name in re.findall(r"(?<![\w:])liveflow_\w+", query.expr)}
    unknown = sorted(referenced - names)  # also catches names behind `or vector(0)`
    if pending or unknown:
        lines = [f"  {query.source}: {query.expr}" for query in pending]
        pytest.fail(
            f"{len(pending)} of {len(queries)} dashboard queries returned no data within {DEADLINE:.0f} s:\n"
            + "\n".join(lines)
            + f"\nmetric names the worker/notifier never exported: {', '.join(unknown) or 'none'}"
            + f"\nworker log tail:\n{monitored.worker.tail()}",
            pytrace=False,
        )


def test_the_pipeline_rules_are_healthy_and_only_the_broken_channel_fires(monitored: Monitored) -> None:
    def evaluated() -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{monitored.prometheus.url}/api/v1/rules", timeout=10) as response:
            groups = json.load(response)["data"]["groups"]
        rules: list[dict[str, Any]] = [rule for group in groups for rule in group["rules"]]
        return rules if all(rule["health"] != "unknown" for rule in rules) else []

    rules = eventually(evaluated, "every rule to be evaluated once")

    assert [rule["name"] for rule in rules if rule["health"] != "ok" or rule.get("lastError")] == []
    assert sum(rule["type"] == "alerting" for rule in rules) == 13
    assert sum(rule["type"] == "recording" for rule in rules) == 11
    # The notifier's "broken" channel (a closed port) dead-letters every alert: that one must fire, for
    # that channel only, and nothing else.
    dead = 'ALERTS{alertname="LiveFlowNotificationsDeadLettered"}'
    eventually(lambda: monitored.prometheus.query(dead), "LiveFlowNotificationsDeadLettered", timeout=180)
    firing = monitored.prometheus.query('ALERTS{alertname=~"LiveFlow.*"}')
    assert [(item["metric"]["alertname"], item["metric"].get("channel")) for item in firing] == [
        ("LiveFlowNotificationsDeadLettered", "broken")
    ]
