"""The compacted changelog topic that holds room checkpoints (rows of :mod:`liveflow.core.checkpoint`).

Name: ``<app_id>-room-checkpoints-changelog`` (the name earlier releases' faust table used, so their
checkpoints are found). One partition per input partition: a room's rows live in the partition of its
input partition. Created by the worker when missing, compacted with short segments so that compaction
keeps a restore's read close to the size of the live state.
"""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from liveflow.adapters.kafka.options import aiokafka_kwargs, start_client
from liveflow.core.topics import INPUT_TOPICS
from liveflow.settings import Settings

CHANGELOG_CONFIG = {
    "cleanup.policy": "compact",
    "segment.ms": str(10 * 60 * 1000),
    "segment.bytes": str(64 * 1024 * 1024),
    "min.cleanable.dirty.ratio": "0.3",
}


class ChangelogError(Exception):
    """The changelog cannot serve the input topics (one line for the operator)."""


def changelog_topic(settings: Settings) -> str:
    return f"{settings.app_id}-room-checkpoints-changelog"


async def ensure_changelog(settings: Settings) -> None:
    """Create the changelog topic if missing; refuse one whose partition count differs from the inputs'.

    Brokers that refuse the credentials raise :class:`~liveflow.adapters.kafka.options.KafkaConfigError`
    (not a ``KafkaError``: nothing to wait for)."""
    admin = AIOKafkaAdminClient(**aiokafka_kwargs(settings))
    await start_client(admin, settings)
    try:
        described = {
            t["topic"]: len(t["partitions"]) for t in await admin.describe_topics() if not t["error_code"]
        }
        counts = {described.get(settings.topic(name)) for name in INPUT_TOPICS}
        if None in counts or len(counts) != 1:
            found = ", ".join(f"{settings.topic(n)}={described.get(settings.topic(n))}" for n in INPUT_TOPICS)
            raise ChangelogError(
                f"the input topics are missing or not co-partitioned ({found}); "
                "create them with `liveflow dev topics`"
            )
        partitions = counts.pop()
        assert partitions is not None
        name = changelog_topic(settings)
        existing = described.get(name)
        if existing is not None:
            if existing != partitions:
                raise ChangelogError(
                    f"{name} has {existing} partitions but the input topics have {partitions}: "
                    "a room's checkpoint must live in its input partition's number"
                )
            return
        response = await admin.create_topics(
            [NewTopic(name, partitions, settings.replication_factor, topic_configs=CHANGELOG_CONFIG)]
        )
        for _topic, code, *message in response.topic_errors:
            if code not in (0, TopicAlreadyExistsError.errno):
                raise ChangelogError(f"cannot create {name}: {for_code(code).__name__} {message}")
    finally:
        await admin.close()
