"""Prometheus counters of the notifier, in units of alert records per channel.

``liveflow_notifier_sent_total{channel}``: records delivered; ``..._failed_total{channel}``: records
dead-lettered; ``..._throttled_total{channel}``: records whose delivery a rate limit delayed (ours or the
service's 429 / rate-limit code; once per delay); ``..._resent_total{channel}``: firing records sent
again (Alertmanager), counted when an endpoint took them; ``liveflow_notifier_silenced_total``: records
kept from every channel by a silence. Every configured channel's series exist from the start at 0
(:meth:`NotifierMetrics.for_channels`), so ``increase()`` sees a channel's first delivery, dead letter or
delay. Counters live in the registry given (the process's default one in production, a fresh one per test).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class NotifierMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.sent = Counter(
            "liveflow_notifier_sent", "Alert records delivered, per channel", ["channel"], registry=registry
        )
        self.failed = Counter(
            "liveflow_notifier_failed",
            "Alert records that could not be delivered (dead-lettered), per channel",
            ["channel"],
            registry=registry,
        )
        self.throttled = Counter(
            "liveflow_notifier_throttled",
            "Alert records delayed by a rate limit (client-side or the service's), per channel",
            ["channel"],
            registry=registry,
        )
        self.resent = Counter(
            "liveflow_notifier_resent",
            "Firing alert records sent again to a receiver that keeps alerts in memory, per channel",
            ["channel"],
            registry=registry,
        )
        self.silenced = Counter(
            "liveflow_notifier_silenced",
            "Alert records not delivered because of a silence",
            registry=registry,
        )

    def for_channels(self, names: list[str]) -> None:
        """Create each channel's series at 0."""
        for name in names:
            for counter in (self.sent, self.failed, self.throttled, self.resent):
                counter.labels(channel=name)
