"""The faust application of ``liveflow worker`` (also ``faust -A agents.app worker``).

:func:`build` makes the app from :class:`~liveflow.settings.Settings`: one
:class:`~agents.worker.LiveflowWorker` (the owner of the pipeline, the runtime and the Kafka clients) run as
a service of the app; a channel the worker's fetch loop fills with whole fetches; the agent
``liveflow.rooms`` consuming that channel, one fetch per hand-over (faust's per-message cost is paid per
fetch, not per event); the ``/metrics`` page and ``/healthz`` (:mod:`agents.health`). faust starts no Kafka
client of its own.

Invariant: importing this module builds the app once from the environment (faust's CLI needs a module-level
``app``); a bad setting exits with one line naming it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

import faust
from faust.types import StreamT
from faust.web import Request, Response, View
from mode import ServiceT
from prometheus_client import CONTENT_TYPE_LATEST

from agents import health
from agents.factory import create_app
from agents.gc_tuning import tune_for_streaming
from agents.worker import LiveflowWorker
from liveflow.configfile import ConfigFileError
from liveflow.core.runtime.ports import Fetch
from liveflow.settings import Settings, SettingsError, load_settings

log = logging.getLogger(__name__)
HAND_OVER_QUEUE = 4  # fetches waiting for the agent before the fetch loop waits


def build(settings: Settings) -> tuple[faust.App, LiveflowWorker]:
    app = create_app(settings, kafka=False)
    fetches = app.channel(maxsize=HAND_OVER_QUEUE)

    async def hand_over(fetch: Fetch) -> None:
        await fetches.send(value=fetch)

    worker = LiveflowWorker(settings, hand_over, app.crash)

    @app.agent(fetches, name="liveflow.rooms", concurrency=1)
    async def rooms(stream: StreamT[Fetch]) -> None:
        process, not_committing = worker.process, worker.runtime.not_committing
        async for fetch in stream:
            if not not_committing.is_set():  # a checkpoint is committing: let its round trips go first
                await not_committing.wait()
            try:
                process(fetch)
            except Exception as exc:  # a restarted agent would miss fetches sent meanwhile: stop instead
                log.exception("processing a fetch failed; stopping the worker")
                await app.crash(exc)
                raise
            # taking the next fetch from a full queue does not yield to the event loop: let the checkpoints,
            # the fetch loop's heartbeats and /metrics run between two fetches
            await asyncio.sleep(0)

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            response = self.bytes(worker.metrics_text())
            response.headers["Content-Type"] = CONTENT_TYPE_LATEST
            return response

    health.install(app, worker)

    # faust starts extra services after the agents subscribed to the channel, and accepts an instance
    # (App._prepare_subservice) although its signature names a class
    app.service(cast(type[ServiceT], worker))
    app.flow_control.resume()  # no faust consumer will resume the channel's flow: do it here
    return app, worker


def _built_or_exit() -> tuple[faust.App, LiveflowWorker]:
    """The app from the settings; a bad setting or configuration file exits with its lines."""
    try:
        return build(load_settings())
    except SettingsError as exc:
        raise SystemExit(f"liveflow: {exc}") from None
    except ConfigFileError as exc:
        raise SystemExit("\n".join(f"liveflow: {line}" for line in exc.problems)) from None


app, worker = _built_or_exit()
# Everything the worker needs is built: keep the collector off it and off short-lived per-fetch objects.
tune_for_streaming()
