"""The pure parts of the Kafka dev broker: server.properties content and rendering, JVM command line."""

from __future__ import annotations

import base64
from pathlib import Path

from liveflow.tools.devstack import kafka


def test_server_properties_is_one_combined_kraft_node_on_loopback() -> None:
    props = kafka.server_properties(19092, 19093, Path("/srv/dev/kafka/data"))

    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["log.dirs"] == "/srv/dev/kafka/data"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert "0.0.0.0" not in "".join(props.values())


def test_render_properties_writes_one_key_per_line_in_order() -> None:
    text = kafka.render_properties({"a.b": "1", "c": "x,y"})

    lines = text.splitlines()
    assert lines[0].startswith("#")
    assert lines[1:] == ["a.b=1", "c=x,y"]
    assert text.endswith("\n")


def test_render_properties_escapes_what_java_would_misread() -> None:
    text = kafka.render_properties({"log.dirs": "/tmp/été 2\\x\n🎥"})

    assert text.isascii()
    assert "log.dirs=/tmp/\\u00e9t\\u00e9 2\\\\x\\n\\ud83c\\udfa5\n" in text


def test_java_command_runs_the_main_class_with_the_cached_jars(tmp_path: Path) -> None:
    command = kafka.java_command(
        "/usr/bin/java", tmp_path / "lib", tmp_path, "kafka.Kafka", "server.properties"
    )

    assert command[0] == "/usr/bin/java"
    assert command[-4:] == ["-cp", f"{tmp_path / 'lib'}/*", "kafka.Kafka", "server.properties"]
    assert {"-Xms512m", "-Xmx1g", "-XX:+UseG1GC"} <= set(command)
    assert f"-Dkafka.logs.dir={tmp_path / 'logs'}" in command
    log4j = next(arg for arg in command if arg.startswith("-Dlog4j.configuration=file:/"))
    assert log4j.endswith("/liveflow/tools/devstack/log4j.properties")


def test_broker_markers_name_this_dev_dirs_config(tmp_path: Path) -> None:
    assert kafka.markers(tmp_path) == ("kafka.Kafka", str(tmp_path / "kafka" / "server.properties"))


def test_cluster_ids_are_random_16_byte_urlsafe_base64_never_read_as_an_option() -> None:
    ids = {kafka.new_cluster_id() for _ in range(2000)}  # about 31 would start with "-" if allowed

    assert len(ids) == 2000
    assert all(len(base64.urlsafe_b64decode(cluster_id + "==")) == 16 for cluster_id in ids)
    assert not any(cluster_id.startswith("-") for cluster_id in ids)


def test_packaged_build_files_exist() -> None:
    here = Path(kafka.__file__).parent
    pom = (here / "pom.xml").read_text()
    assert "<artifactId>kafka_2.13</artifactId>" in pom
    assert f"<version>{kafka.KAFKA_VERSION}</version>" in pom
    assert "log4j.rootLogger=INFO, stdout" in (here / "log4j.properties").read_text()
