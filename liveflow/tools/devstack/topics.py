"""Create LiveFlow's topics (``liveflow.core.topics.ALL_TOPICS``) on a Kafka cluster, idempotently.

Physical names are ``settings.topic(logical)``; new topics get ``settings.partitions`` partitions and
``settings.replication_factor`` replicas; ``dead-letters`` gets a ``max.message.bytes`` of
:data:`liveflow.core.topics.DEAD_LETTER_MAX_BYTES`, so the dead letter of any input message fits. Existing
topics are left as they are, with one exception: the three input topics must be co-partitioned, so if the
inputs (existing ones with their actual count, missing ones with ``settings.partitions``) would not all have
the same partition count, nothing is created and a :class:`~liveflow.tools.devstack.DevStackError` names the
counts.

Existing topics are read from an all-topics metadata request, never by naming topics, so a broker
with ``auto.create.topics.enable`` never creates one as a side effect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from liveflow.adapters.kafka.options import aiokafka_kwargs, start_client
from liveflow.core.topics import ALL_TOPICS, DEAD_LETTER_MAX_BYTES, DEAD_LETTERS, INPUT_TOPICS
from liveflow.settings import Settings
from liveflow.tools.devstack import DevStackError


@dataclass(frozen=True)
class TopicsReport:
    """Physical topic names, split into those this call created and those that already existed."""

    created: tuple[str, ...]
    existing: tuple[str, ...]


def plan(settings: Settings, partitions: Mapping[str, int]) -> TopicsReport:
    """Which topics to create given the cluster's ``{physical name: partition count}``.

    Raises :class:`DevStackError` if the input topics would not be co-partitioned.
    """
    names = [settings.topic(name) for name in ALL_TOPICS]
    inputs = {name: partitions.get(name, settings.partitions) for name in map(settings.topic, INPUT_TOPICS)}
    if len(set(inputs.values())) > 1:
        counts = ", ".join(f"{name}={count}" for name, count in inputs.items())
        raise DevStackError(
            f"input topics must be co-partitioned but partition counts differ ({counts}; new ones get "
            f"LIVEFLOW_PARTITIONS={settings.partitions}): recreate them with one partition count"
        )
    return TopicsReport(
        created=tuple(name for name in names if name not in partitions),
        existing=tuple(name for name in names if name in partitions),
    )


async def ensure_topics(settings: Settings) -> TopicsReport:
    """Create the missing topics on ``settings.brokers``; report what was created and what existed."""
    admin = AIOKafkaAdminClient(**aiokafka_kwargs(settings))
    try:
        await start_client(admin, settings)
        described = await admin.describe_topics()
        report = plan(settings, {t["topic"]: len(t["partitions"]) for t in described if t["error_code"] == 0})
        configs = {settings.topic(DEAD_LETTERS): {"max.message.bytes": str(DEAD_LETTER_MAX_BYTES)}}
        if report.created:
            replicas = settings.replication_factor
            response = await admin.create_topics(
                [
                    NewTopic(name, settings.partitions, replicas, topic_configs=configs.get(name, {}))
                    for name in report.created
                ]
            )
            raced: set[str] = set()  # created by someone else since the metadata request
            for topic, code, *message in response.topic_errors:
                if code == TopicAlreadyExistsError.errno:
                    raced.add(topic)
                elif code != 0:
                    detail = f": {message[0]}" if message and message[0] else ""
                    raise DevStackError(f"cannot create topic {topic}: {for_code(code).__name__}{detail}")
            report = TopicsReport(
                created=tuple(name for name in report.created if name not in raced),
                existing=report.existing + tuple(name for name in report.created if name in raced),
            )
        return report
    except KafkaError as exc:
        raise DevStackError(f"Kafka at {settings.brokers}: {exc}") from None
    finally:
        await admin.close()
