"""Builds the core from settings: the one place that turns Settings into a configured Pipeline.

The live worker, ``liveflow replay`` and the benchmarks all call :func:`build_pipeline`, so they run the
same lexicon, the same alert rules and the same event-time knobs.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from liveflow.core.alerts.config import AlertConfig, AlertConfigError
from liveflow.core.moderation import Moderator, load_default_lexicon
from liveflow.core.pipeline import CoreConfig, Pipeline
from liveflow.settings import Settings, SettingsError


def core_config(settings: Settings) -> CoreConfig:
    return CoreConfig(
        window_size=settings.window_size,
        allowed_lateness=settings.allowed_lateness,
        presence_timeout=settings.presence_timeout,
        dedup_horizon=settings.dedup_horizon,
    )


def alert_config(settings: Settings) -> AlertConfig:
    """The rule thresholds: defaults, overridden by ``LIVEFLOW_ALERTS_CONFIG`` (YAML, TOML or JSON)."""
    data: dict[str, Any] = {}
    path = settings.alerts_config
    if path is not None:
        data = _read_table(path)
    data.setdefault("language", settings.alerts_language)
    try:
        return AlertConfig.from_dict(data)
    except AlertConfigError as exc:
        raise SettingsError(f"invalid setting LIVEFLOW_ALERTS_CONFIG ({path}): {exc}") from None


def _read_table(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SettingsError(
            f"invalid setting LIVEFLOW_ALERTS_CONFIG: cannot read {path}: {exc.strerror}"
        ) from None
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(raw.decode())
        elif path.suffix == ".json":
            data = json.loads(raw)
        else:
            data = yaml.safe_load(raw) or {}
    except (ValueError, yaml.YAMLError) as exc:
        raise SettingsError(f"invalid setting LIVEFLOW_ALERTS_CONFIG: {path} does not parse: {exc}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"invalid setting LIVEFLOW_ALERTS_CONFIG: {path} must hold a table")
    return data


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
