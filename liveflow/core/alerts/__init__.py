"""Alerting: pure, event-time rules over room metrics and moderation hits, and their lifecycle.

Entry point: :class:`~liveflow.core.alerts.engine.AlertEngine` built from
:class:`~liveflow.core.alerts.config.AlertConfig`.
Silences (:mod:`liveflow.core.alerts.silences`) are applied outside the engine, which stays pure.
"""
