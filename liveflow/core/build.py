"""Builds the core from settings: the one place that turns Settings into a configured Pipeline.

The live worker, ``liveflow replay`` and the benchmarks all call :func:`build_pipeline`, so they run the
same lexicon, the same alert rules and the same event-time knobs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from liveflow.configfile import load_table
from liveflow.core.alerts.config import AlertConfig
from liveflow.core.moderation import Moderator, load_default_lexicon
from liveflow.core.pipeline import CoreConfig, Pipeline
from liveflow.settings import Settings


def core_config(settings: Settings) -> CoreConfig:
    return CoreConfig(
        window_size=settings.window_size,
        allowed_lateness=settings.allowed_lateness,
        presence_timeout=settings.presence_timeout,
        dedup_horizon=settings.dedup_horizon,
        broadcast_gap=settings.broadcast_gap,
    )


def alert_config(settings: Settings) -> AlertConfig:
    """The rule thresholds: defaults, overridden by ``LIVEFLOW_ALERTS_CONFIG`` (YAML, TOML or JSON); a bad
    file raises :class:`~liveflow.configfile.ConfigFileError` (one line per problem, naming the file)."""
    path = settings.alerts_config
    data: dict[str, Any] = load_table(path) if path is not None else {}
    data.setdefault("language", settings.alerts_language)
    return AlertConfig.from_dict(data, source=str(path) if path is not None else "LIVEFLOW_ALERTS_LANGUAGE")


def build_pipeline(
    settings: Settings,
    *,
    moderator: Moderator | None = None,
    partition_of: Callable[[str], int] | None = None,
) -> Pipeline:
    """The configured core; ``moderator`` defaults to the packaged lexicon (the live worker swaps in the
    Redis lexicon when it loads)."""
    return Pipeline(
        core_config(settings),
        moderator=moderator if moderator is not None else Moderator.from_entries(load_default_lexicon()),
        alerts=alert_config(settings),
        partition_of=partition_of,
    )
