"""Topic planning: which of the topics to create, and the co-partitioning rule of the inputs."""

from __future__ import annotations

import pytest

from liveflow.core.topics import ALL_TOPICS
from liveflow.settings import Settings
from liveflow.tools.devstack import DevStackError
from liveflow.tools.devstack.topics import TopicsReport, plan


def test_an_empty_cluster_gets_every_prefixed_topic() -> None:
    settings = Settings(topic_prefix="dev.", partitions=4)

    report = plan(settings, {"unrelated": 1})

    assert report == TopicsReport(created=tuple(f"dev.{name}" for name in ALL_TOPICS), existing=())


def test_existing_topics_are_kept_even_with_another_partition_count() -> None:
    settings = Settings(partitions=4)
    existing = {"viewer-events": 8, "comment-events": 8, "order-events": 8, "alerts": 1}

    report = plan(settings, existing)

    assert set(report.existing) == set(existing)
    assert set(report.created) == {"room-metrics", "moderation-hits", "dead-letters", "broadcast-summaries"}


def test_inputs_that_would_not_be_co_partitioned_are_an_error() -> None:
    settings = Settings(partitions=4)

    with pytest.raises(DevStackError, match=r"viewer-events=8, comment-events=4, order-events=4") as error:
        plan(settings, {"viewer-events": 8, "comment-events": 4})
    assert "\n" not in str(error.value)


def test_derived_topics_may_differ_from_the_inputs() -> None:
    settings = Settings(partitions=4)

    report = plan(settings, {"room-metrics": 1, "dead-letters": 12})

    assert set(report.existing) == {"room-metrics", "dead-letters"}
