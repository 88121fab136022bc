"""A no-op faust app: the floor of faust's per-message cost on LiveFlow's three input topics.

What: a ``faust.App`` configured like LiveFlow's (raw key/value serializers, same broker, same topic
prefix and partitions, same stream buffer, linger and session knobs) but with its own app id (consumer
group), the worker's garbage-collector settings (``agents.gc_tuning``), and one agent over the three
input topics that only iterates ``stream.events()`` and counts.
``bench/bench_pipeline.py`` runs it as the baseline of the full ``liveflow worker``.

How: configured from the same ``LIVEFLOW_*`` environment as the worker (``LIVEFLOW_BROKERS``,
``LIVEFLOW_APP_ID``, ``LIVEFLOW_TOPIC_PREFIX``, ``LIVEFLOW_PARTITIONS``, ``LIVEFLOW_WEB_PORT`` ...) and
started as a script (faust's CLI through ``app.main()``), from a scratch working directory because faust
writes ``<app id>-data/`` there::

    LIVEFLOW_APP_ID=bench-noop LIVEFLOW_WEB_PORT=6070 .venv/bin/python bench/noop_app.py worker -l warning

Output: ``GET /count`` on the web port returns JSON ``{"count": messages seen, "first": wall time of the
first, "last": wall time of the latest (Unix seconds, or null)}``.
"""

from __future__ import annotations

import time
from typing import Any

from faust.types import StreamT
from faust.web import Request, Response, View

from agents.factory import create_app
from agents.gc_tuning import tune_for_streaming
from liveflow.core.topics import INPUT_TOPICS
from liveflow.settings import load_settings

settings = load_settings()
app = create_app(settings, origin="bench.noop_app")
inputs = app.topic(
    *(settings.topic(name) for name in INPUT_TOPICS), value_serializer="raw", key_serializer="raw"
)
progress: dict[str, Any] = {"count": 0, "first": None, "last": None}


@app.agent(inputs, name="bench.noop", concurrency=1)
async def noop(stream: StreamT[bytes]) -> None:
    count = 0
    async for _event in stream.events():
        count += 1
        if count == 1:
            progress["first"] = time.time()
        progress["count"] = count
        progress["last"] = time.time()


@app.page("/count")
class Count(View):
    async def get(self, request: Request) -> Response:
        return self.json(progress)


if __name__ == "__main__":
    tune_for_streaming()
    app.main()
