"""Web views on the worker's web port: ``/metrics`` (Prometheus text format).

faust's own Prometheus sensor is not installed: it runs several callbacks per event, which cost more
than the whole room pipeline; the pipeline's counters are exported at scrape time instead.
"""

from __future__ import annotations

from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from agents.app import app
from agents.rooms import room_exposition


@app.page("/metrics")
class Metrics(View):
    async def get(self, request: Request) -> Response:
        response = self.bytes(generate_latest(REGISTRY) + room_exposition.text())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response
