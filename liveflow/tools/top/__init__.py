"""``liveflow top``: the control room in a terminal, without Grafana (works over SSH, keyboard only).

Module map, one job each:

- :mod:`~liveflow.tools.top.snapshot`: read and parse the worker's room hashes in Redis
  (:mod:`liveflow.adapters.redis.snapshot`);
- :mod:`~liveflow.tools.top.trend`: the 1-minute online trend, from top's own samples (kept in memory);
- :mod:`~liveflow.tools.top.feed`: the latest alerts and moderation hits, and the state of the Kafka link;
- :mod:`~liveflow.tools.top.follow`: consume ``alerts`` and ``moderation-hits`` from their end into the feed;
- :mod:`~liveflow.tools.top.view`: render one frame with rich (pure: same frame, same text);
- :mod:`~liveflow.tools.top.keys`: the terminal in cbreak mode and the keys that quit;
- :mod:`~liveflow.tools.top.app`: the loop that ties them together, once per refresh interval.

Degradation: without Kafka the rooms still show (the screen says that alerts and hits are missing and the
link is retried); without Redis the last rooms read stay on screen, marked stale, until Redis answers.
"""
