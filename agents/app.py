"""The faust application, built from :class:`~liveflow.settings.Settings`.

``faust -A agents.app worker`` and ``liveflow worker`` both start this app. Input and derived topics are
raw bytes (the core decodes and encodes); the consumer group is ``settings.app_id``.

Invariant: importing this module builds the app from the environment once; a bad setting exits with one
line naming it.
"""

from __future__ import annotations

from agents.factory import create_app
from liveflow.settings import Settings, SettingsError, load_settings


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise SystemExit(f"liveflow: {exc}") from None


settings = _settings_or_exit()
app = create_app(settings)

# Register topics and agents on the app (import for side effects, after `app` exists).
from agents import alert_control as _alert_control  # noqa: E402, F401
from agents import lexicon as _lexicon  # noqa: E402, F401
from agents import rooms as _rooms  # noqa: E402, F401
from agents import snapshots as _snapshots  # noqa: E402, F401
from agents import web as _web  # noqa: E402, F401

# Everything the worker needs is built: keep the collector off it and off short-lived per-message objects.
from agents.gc_tuning import tune_for_streaming  # noqa: E402

tune_for_streaming()
