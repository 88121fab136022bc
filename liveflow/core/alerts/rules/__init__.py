"""The alert rules, one module each (:mod:`liveflow.core.alerts.rule` says what a rule is); the registry
that lists them is :mod:`liveflow.core.alerts.registry`."""
