"""The deployment files: Prometheus config and rules (promtool, unit tests for every alert), Alertmanager
(amtool), Grafana provisioning and the generated dashboards, the notifier example, docker-compose.yml (its
healthchecks, the liveflow one run for real against a local endpoint) and .dockerignore.

promtool and amtool are run for real; a missing one fails with the package to install (never skipped).
Whether every dashboard query returns data is tests/integration/test_dashboards.py's job.
"""

from __future__ import annotations

import http.server
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest
import yaml

from liveflow.adapters.notify.config import load_config
from liveflow.core.topics import ALL_TOPICS
from liveflow.settings import Settings
from liveflow.tools.simulate import FILE_START_TS, Scenario, SimConfig

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
COMPOSE = ROOT / "docker-compose.yml"
KNOWN_VARIABLES = {"datasource", "room_id", "__rate_interval", "__range", "__interval"}
DATA_LINK_MACROS = {"__value", "__field", "__url_time_range"}


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found on PATH: install it, e.g. apt-get install -y {package}", pytrace=False)
    return found


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def walk(node: Any) -> Iterator[Any]:
    """Every dict and list inside ``node`` (``node`` included), depth first."""
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    for child in children:
        yield from walk(child)


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.rglob("*.json"))


def dashboard_exprs() -> dict[str, list[str]]:
    """``{"<lang>/<file name>": [PromQL of every target and annotation]}``."""
    return {
        str(path.relative_to(DASHBOARDS)): [
            item["expr"]
            for item in walk(json.loads(path.read_text()))
            if isinstance(item, dict) and "expr" in item
        ]
        for path in dashboard_files()
    }


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("grafana_generate", DEPLOY / "grafana" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- Prometheus ----------------------------------------------------------------------------------------
def test_promtool_accepts_the_config_and_the_rule_files() -> None:
    promtool = tool("promtool", "prometheus")

    config = run(promtool, "check", "config", str(PROMETHEUS / "prometheus.yml"))
    rules = run(promtool, "check", "rules", *map(str, sorted(PROMETHEUS.glob("*.rules.yml"))))

    assert config.returncode == 0, config.stdout + config.stderr
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS: 2 rule files found" in config.stdout


def test_promtool_unit_tests_pass() -> None:
    promtool = tool("promtool", "prometheus")
    tests = sorted(map(str, (PROMETHEUS / "tests").glob("*.yml")))

    result = run(promtool, "test", "rules", *tests)

    assert len(tests) == 2
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_pipeline_alert_is_tested_firing_and_silent() -> None:
    alerts = {
        rule["alert"]
        for group in load_yaml(PROMETHEUS / "pipeline.rules.yml")["groups"]
        for rule in group["rules"]
    }
    cases = [
        case
        for test in load_yaml(PROMETHEUS / "tests" / "pipeline.rules.test.yml")["tests"]
        for case in test.get("alert_rule_test", [])
    ]

    fired = {case["alertname"] for case in cases if case["exp_alerts"]}
    silent = {case["alertname"] for case in cases if not case["exp_alerts"]}

    assert alerts == fired == silent
    assert {"LiveFlowWorkerDown", "LiveFlowConsumerLagGrowing", "LiveFlowDeadLetterRateHigh"} <= alerts
    assert {"LiveFlowCheckpointFailing", "LiveFlowRedisDown", "LiveFlowKafkaDown"} <= alerts
    assert {
        "LiveFlowConsumerLagHigh",
        "LiveFlowNotificationsDeadLettered",
        "LiveFlowLexiconRedisDown",
    } <= alerts


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_pipeline_alert_links_its_section_of_the_operations_guide() -> None:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    anchors = {github_anchor(line.lstrip("#")) for line in text.splitlines() if line.startswith("### ")}
    rules = [
        rule for group in load_yaml(PROMETHEUS / "pipeline.rules.yml")["groups"] for rule in group["rules"]
    ]

    for rule in rules:
        path, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        assert path == "docs/operations.md" and (ROOT / path).is_file(), rule["alert"]
        assert anchor == github_anchor(rule["alert"]) and anchor in anchors, rule["alert"]


def test_the_inhibit_rules_name_only_existing_alerts() -> None:
    alerts = {
        rule["alert"]
        for group in load_yaml(PROMETHEUS / "pipeline.rules.yml")["groups"]
        for rule in group["rules"]
    }
    config = load_yaml(DEPLOY / "alertmanager" / "alertmanager.yml")
    matchers = [
        matcher
        for rule in config["inhibit_rules"]
        for matcher in rule["source_matchers"] + rule["target_matchers"]
    ]
    named = {name for matcher in matchers for name in re.findall(r"LiveFlow\w+", matcher)}

    assert named <= alerts and "LiveFlowConsumerLagHigh" in named, named - alerts


def test_the_rule_files_in_the_config_exist_and_jobs_match_the_compose_services() -> None:
    config = load_yaml(PROMETHEUS / "prometheus.yml")
    compose = load_yaml(COMPOSE)
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}

    assert all((PROMETHEUS / name).is_file() for name in config["rule_files"])
    assert targets["liveflow-worker"] == [
        f"worker:{compose['services']['worker']['environment']['LIVEFLOW_WEB_PORT']}"
    ]
    notifier = load_config(DEPLOY / "notify" / "notify.yml")
    assert targets["liveflow-notifier"] == [f"notifier:{notifier.metrics_port}"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]


def test_every_recording_rule_is_used_by_a_dashboard_and_every_used_one_exists() -> None:
    recorded = {
        rule["record"]
        for group in load_yaml(PROMETHEUS / "recording.rules.yml")["groups"]
        for rule in group["rules"]
    }
    used = {
        name
        for exprs in dashboard_exprs().values()
        for expr in exprs
        for name in re.findall(r"[\w]+:[\w:]+", expr)
    }

    assert recorded == used


# -- Alertmanager --------------------------------------------------------------------------------------
def test_amtool_accepts_the_alertmanager_config_and_routes_as_documented() -> None:
    amtool = tool("amtool", "prometheus-alertmanager")
    path = str(DEPLOY / "alertmanager" / "alertmanager.yml")

    check = run(amtool, "check-config", path)
    assert check.returncode == 0, check.stdout + check.stderr

    def receiver(*labels: str) -> str:
        routed = run(amtool, "config", "routes", "test", f"--config.file={path}", *labels)
        assert routed.returncode == 0, routed.stderr
        return routed.stdout.strip()

    assert receiver("alertname=LiveFlowWorkerDown", "severity=critical") == "pipeline-oncall"
    assert receiver("alertname=LiveFlowConsumerLagGrowing", "severity=warning") == "pipeline-ops"
    assert receiver("alertname=LiveFlowNotificationsDeadLettered", "severity=warning") == "pipeline-ops"
    assert receiver("alertname=concurrency_drop", "source=liveflow", "severity=critical") == "live-ops"


# -- Grafana -------------------------------------------------------------------------------------------
def test_committed_dashboards_equal_the_generator_output() -> None:
    rendered = generator().render()

    committed = sorted(str(path.relative_to(DASHBOARDS)) for path in DASHBOARDS.rglob("*.json"))
    assert sorted(rendered) == committed
    for name, text in rendered.items():
        assert (DASHBOARDS / name).read_text(encoding="utf-8") == text, (
            f"{name} is stale: run python deploy/grafana/generate.py"
        )


def test_dashboards_query_the_datasource_variable_and_only_known_variables() -> None:
    for path in dashboard_files():
        board = json.loads(path.read_text())
        variables = {variable["name"]: variable for variable in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource", path.name
        assert variables["datasource"]["query"] == "prometheus", path.name
        sources = [
            item for item in walk(board) if isinstance(item, dict) and item.get("type") == "prometheus"
        ]
        assert sources and all(source["uid"] == "${datasource}" for source in sources), path.name
        assert "liveflow-prometheus" not in path.read_text(), path.name  # imports into any Grafana
        text = json.dumps(board["panels"]) + json.dumps(board["annotations"])
        used = set(re.findall(r"\$\{?(\w+)", text)) - DATA_LINK_MACROS
        assert used <= KNOWN_VARIABLES, (path.name, used)
        assert used - {"__rate_interval", "__range", "__interval"} <= set(variables), (path.name, used)
        ids = [panel["id"] for panel in board["panels"]]
        assert ids == list(range(1, len(ids) + 1)), path.name


def test_the_zh_and_en_sets_have_the_same_queries_and_their_own_texts() -> None:
    def chinese(text: str) -> bool:
        return re.search(r"[\u4e00-\u9fff]", text) is not None

    names = {"Kafka", "Redis", "GMV"}  # the same in both languages
    for name in ("live-overview.json", "room-detail.json", "moderation.json", "pipeline-health.json"):
        zh, en = (json.loads((DASHBOARDS / lang / name).read_text()) for lang in ("zh", "en"))
        exprs = [[item["expr"] for item in walk(board) if isinstance(item, dict) and "expr" in item]
                 for board in (zh, en)]  # fmt: skip
        assert exprs[0] == exprs[1], name
        assert en["uid"] == zh["uid"] + "-en" and (zh["tags"], en["tags"]) == (
            ["liveflow", "zh"],
            ["liveflow", "en"],
        )
        for board, lang in ((zh, "zh"), (en, "en")):
            texts = [board["title"], board["description"]] + [
                text for panel in board["panels"] for text in (panel["title"], panel.get("description", ""))
            ]
            wrong = [text for text in texts if text and text not in names and chinese(text) != (lang == "zh")]
            assert wrong == [], (lang, name, wrong)


def test_the_room_dashboard_compares_rooms_and_every_room_points_back_to_it() -> None:
    for lang in ("zh", "en"):
        board = json.loads((DASHBOARDS / lang / "room-detail.json").read_text())
        room = next(v for v in board["templating"]["list"] if v["name"] == "room_id")
        assert room["multi"] is True
        assert [panel["title"] for panel in board["panels"] if panel.get("repeat") == "room_id"] == [
            {"zh": "房间 $room_id", "en": "Room $room_id"}[lang]
        ]
        exprs = [item["expr"] for item in walk(board) if isinstance(item, dict) and "expr" in item]
        assert all('room_id="' not in expr for expr in exprs)  # =~: several rooms at once
        overview = json.loads((DASHBOARDS / lang / "live-overview.json").read_text())
        links = [
            link["url"]
            for item in walk(overview)
            if isinstance(item, dict) and isinstance(item.get("links"), list)
            for link in item["links"]
            if isinstance(link, dict) and "url" in link and "var-room_id" in link["url"]
        ]
        assert links and all(url.startswith(f"/d/{board['uid']}/") for url in links)
        room_panels = [
            panel
            for panel in overview["panels"]
            if panel["type"] not in {"row", "stat"}  # every table, bar and curve shows rooms
        ]
        assert room_panels and all("var-room_id" in json.dumps(panel) for panel in room_panels)


def test_the_dashboard_providers_point_where_compose_mounts_the_dashboards() -> None:
    providers = load_yaml(DEPLOY / "grafana" / "provisioning" / "dashboards" / "liveflow.yml")["providers"]
    grafana = load_yaml(COMPOSE)["services"]["grafana"]
    paths = {Path(provider["options"]["path"]) for provider in providers}

    assert {path.name for path in paths} == {"zh", "en"} and len({path.parent for path in paths}) == 1
    (mount,) = {path.parent for path in paths}
    assert f"./deploy/grafana/dashboards:{mount}:ro" in grafana["volumes"]
    home = Path(grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert (DASHBOARDS / home.relative_to(mount)).is_file() and home.parent in paths


def test_there_are_the_four_dashboards_in_each_language_with_panels_and_queries() -> None:
    exprs = dashboard_exprs()

    assert sorted(exprs) == [
        f"{lang}/{name}"
        for lang in ("en", "zh")
        for name in ("live-overview.json", "moderation.json", "pipeline-health.json", "room-detail.json")
    ]
    assert all(len(queries) >= 10 for queries in exprs.values())


# -- docker-compose.yml --------------------------------------------------------------------------------
def compose_services() -> dict[str, Any]:
    services: dict[str, Any] = load_yaml(COMPOSE)["services"]
    return services


def liveflow_services() -> dict[str, Any]:
    return {name: spec for name, spec in compose_services().items() if spec.get("image") == "liveflow:dev"}


def test_compose_parses_and_every_bind_mount_and_build_file_exists() -> None:
    services = compose_services()

    assert {
        "kafka",
        "redis",
        "topics",
        "worker",
        "notifier",
        "simulator",
        "prometheus",
        "alertmanager",
    } <= set(services)
    assert "grafana" in services
    for name, spec in services.items():
        for volume in spec.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"
        build = spec.get("build")
        if build:
            assert (ROOT / build["context"] / build["dockerfile"]).is_file(), name
    assert (ROOT / ".dockerignore").is_file()
    assert services["kafka"]["image"] == "apache/kafka:3.9.1"
    assert services["redis"]["image"].startswith("redis:7")


def test_compose_commands_name_existing_files_inside_their_mounts() -> None:
    notifier = compose_services()["notifier"]
    config = notifier["command"][notifier["command"].index("--config") + 1]
    directory, _, name = config.rpartition("/")
    sources = [volume.split(":")[0] for volume in notifier["volumes"] if volume.split(":")[1] == directory]

    assert len(sources) == 1 and (ROOT / sources[0] / name).is_file()
    assert load_config(ROOT / sources[0] / name).metrics_host == "0.0.0.0"


def test_liveflow_services_share_one_valid_set_of_settings() -> None:
    services = liveflow_services()
    shared = ("LIVEFLOW_BROKERS", "LIVEFLOW_REDIS_URL", "LIVEFLOW_APP_ID", "LIVEFLOW_TOPIC_PREFIX")

    assert set(services) == {"topics", "worker", "notifier", "simulator"}
    for name, spec in services.items():
        env = spec["environment"]
        Settings(
            **{key.removeprefix("LIVEFLOW_").lower(): value for key, value in env.items()}
        )  # no unknown key
        assert {key: env[key] for key in shared} == {
            key: services["worker"]["environment"][key] for key in shared
        }, name
    kafka = compose_services()["kafka"]["environment"]
    assert (
        f"DOCKER://{services['worker']['environment']['LIVEFLOW_BROKERS']}"
        in kafka["KAFKA_ADVERTISED_LISTENERS"]
    )
    assert "HOST://127.0.0.1:9092" in kafka["KAFKA_ADVERTISED_LISTENERS"]  # what `liveflow dev up` serves


def test_compose_creates_and_names_only_liveflow_topics() -> None:
    services = compose_services()
    prefix = services["worker"]["environment"]["LIVEFLOW_TOPIC_PREFIX"]
    named = [
        spec["command"][index + 1]
        for spec in services.values()
        for index, word in enumerate(spec.get("command", []))
        if word == "-t"
    ]

    assert services["topics"]["command"] == ["liveflow", "dev", "topics"]
    assert services["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert sorted(named) == [f"{prefix}alerts", f"{prefix}moderation-hits"], named
    assert set(named) <= {f"{prefix}{topic}" for topic in ALL_TOPICS}
    depends = services["worker"]["depends_on"]["topics"]["condition"]
    assert depends == "service_completed_successfully"


def test_the_compose_simulator_options_are_valid() -> None:
    command = compose_services()["simulator"]["command"]
    scenarios = tuple(
        Scenario.parse(command[i + 1]) for i, word in enumerate(command) if word == "--scenario"
    )

    assert command[:2] == ["liveflow", "simulate"]
    assert command[command.index("--duration") + 1] == "0"  # until stopped (paced to the wall clock)
    assert len(scenarios) == 2
    SimConfig(
        start_ms=FILE_START_TS,
        rate=float(command[command.index("--rate") + 1]),
        duration_ms=None,
        scenarios=scenarios,
    )


def test_redis_keeps_the_lexicon_silences_and_thresholds_in_an_append_only_file() -> None:
    redis = compose_services()["redis"]
    command = redis["command"]

    assert command[0] == "redis-server"
    assert command[command.index("--appendonly") + 1] == "yes"  # docs/moderation.md: Redis keeps them
    assert "redis-data:/data" in redis["volumes"]  # the image's working directory: the file survives `down`
    assert "redis-data" in load_yaml(COMPOSE)["volumes"]


ONE_SHOT_OR_NO_ENDPOINT = {"topics", "simulator"}  # exits when done / only produces: nothing to ask


def test_every_long_running_service_has_a_healthcheck() -> None:
    services = {name: spec for name, spec in compose_services().items() if "profiles" not in spec}

    assert set(services) - ONE_SHOT_OR_NO_ENDPOINT == {
        "kafka", "redis", "worker", "notifier", "prometheus", "alertmanager", "grafana",
    }  # fmt: skip
    for name, spec in services.items():
        if name in ONE_SHOT_OR_NO_ENDPOINT:
            continue
        check = spec["healthcheck"]
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, name
        assert {"interval", "timeout", "retries"} <= set(check), name


def test_the_liveflow_services_are_healthy_only_while_their_healthz_answers() -> None:
    services = compose_services()
    notifier = load_config(DEPLOY / "notify" / "notify.yml")
    ports = {
        "worker": services["worker"]["environment"]["LIVEFLOW_WEB_PORT"],
        "notifier": notifier.metrics_port,
    }

    for name, port in ports.items():
        command = services[name]["healthcheck"]["test"]
        assert command[:3] == ["CMD", "python", "-c"], name
        assert command[4:] == [f"http://127.0.0.1:{port}/healthz"], name
        compile(command[3], f"{name} healthcheck", "exec")
    assert services["worker"]["healthcheck"]["test"] == [
        *services["notifier"]["healthcheck"]["test"][:4],
        f"http://127.0.0.1:{ports['worker']}/healthz",
    ]  # one script (the x-healthz anchor)


class _Healthz(http.server.BaseHTTPRequestHandler):
    answers: ClassVar[list[tuple[int, bytes]]] = []

    def do_GET(self) -> None:
        status, body = self.answers.pop(0)
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_the_healthcheck_script_passes_on_200_and_fails_with_the_reason_on_503_or_no_answer() -> None:
    script = compose_services()["worker"]["healthcheck"]["test"][3]
    server = http.server.HTTPServer(("127.0.0.1", 0), _Healthz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/healthz"
    _Healthz.answers[:] = [
        (200, b'{"ready":true}'),
        (503, b'{"ready":false,"reason":"restoring partitions [1]"}'),
    ]

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", script, url], capture_output=True, text=True, timeout=30, check=False
        )

    try:
        ready, busy = check(), check()
    finally:
        server.shutdown()
        server.server_close()
    gone = check()

    assert (ready.returncode, ready.stdout) == (0, '{"ready":true}\n')
    assert (busy.returncode, busy.stderr) == (1, '{"ready":false,"reason":"restoring partitions [1]"}\n')
    assert gone.returncode == 1 and "Connection refused" in gone.stderr and "Traceback" not in gone.stderr


def test_services_wait_for_the_health_of_what_they_need() -> None:
    services = compose_services()
    waits = {
        (name, needed): condition["condition"]
        for name, spec in services.items()
        for needed, condition in spec.get("depends_on", {}).items()
    }

    for (name, needed), condition in waits.items():
        if condition == "service_healthy":
            assert "healthcheck" in services[needed], (name, needed)
    assert waits[("simulator", "worker")] == "service_healthy"  # traffic once the worker consumes
    assert waits[("worker", "redis")] == waits[("notifier", "redis")] == "service_healthy"
    assert waits[("notifier", "alertmanager")] == "service_healthy"
    assert waits[("grafana", "prometheus")] == "service_healthy"
    assert waits[("topics", "kafka")] == "service_healthy"


def test_the_image_build_context_leaves_out_compiled_modules() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()

    assert "**/*.so" in ignored  # the image compiles liveflow/_idset.c itself (Dockerfile, build stage)
