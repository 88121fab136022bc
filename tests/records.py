"""Every derived record the test suite produces is checked against its committed JSON Schema.

``check(topic, document)`` validates one record (a decoded Kafka value); :func:`checked_take` wraps
``Pipeline.take`` so that every output of every in-process pipeline (unit tests, replay, the reference runs
of the integration tests) is checked as it is handed out (tests/conftest.py installs it for the session);
records read back from the real broker go through :func:`check` in ``tests.integration.live.values``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema
import msgspec

from liveflow.core.pipeline import Output, Pipeline
from liveflow.core.topics import DERIVED_TOPICS

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
_VALIDATORS: dict[str, Callable[[Any], Any]] = {
    topic: fastjsonschema.compile(json.loads((SCHEMAS / f"{topic}.schema.json").read_text(encoding="utf-8")))
    for topic in DERIVED_TOPICS
}


def check(topic: str, document: Any) -> Any:
    """``document`` if it fits the schema of ``topic``'s records; raises an AssertionError naming why."""
    try:
        _VALIDATORS[topic](document)
    except fastjsonschema.JsonSchemaException as exc:
        raise AssertionError(
            f"a {topic} record does not fit schemas/{topic}.schema.json: {exc}: {document}"
        ) from None
    return document


def checked_take(take: Callable[[Pipeline], list[Output]]) -> Callable[[Pipeline], list[Output]]:
    def wrapper(pipeline: Pipeline) -> list[Output]:
        outputs = take(pipeline)
        for output in outputs:
            check(output.topic, msgspec.to_builtins(output.value))
        return outputs

    return wrapper
