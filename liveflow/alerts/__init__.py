"""Alerting: pure, event-time rules over room metrics and moderation hits, and their lifecycle.

Entry point: :class:`~liveflow.alerts.engine.AlertEngine` built from
:class:`~liveflow.alerts.config.AlertConfig`.
Silences (:mod:`liveflow.alerts.silences`) are applied outside the engine, which stays pure.
"""
