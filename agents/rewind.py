"""Re-reads input records that faust drops around a rebalance.

faust 0.15.3 can lose records fetched while a rebalance finishes: ``Consumer.getmany`` stops iterating a
fetched batch when flow is suspended or the generation changes, after aiokafka has already moved its
position past the whole batch, and its seek back to the committed offset skips partitions without a
committed offset (``aiokafka.AIOKafkaConsumer.seek_to_committed`` seeks only to offsets > 0). A partition
newly assigned before anything was committed for it then starts up to one fetch (1 MiB) late, and the
rooms silently miss those events. Observed in the two-workers integration test.

The guard: after every assignment, the first record delivered for each input topic-partition must be the
expected start - the group's committed offset, or the log start offset when there is none. When it lies
beyond that, the records in between were dropped: seek back to the start and ignore deliveries until the
re-read arrives (stale records still buffered after the seek have offsets beyond the first one seen).

Layout: ``unverified`` (topic-partitions whose first delivery since the assignment is still to be checked;
empty in steady state, so the per-message cost is one set lookup), ``rewinding[tp]`` (a :class:`Rewind`:
the offset of the first record seen before a seek back, the offset sought, and when: deliveries above the
first are stale, ignored until the re-read starts, and each seeks back again, since faust advances its read
offset past them and would otherwise drop the re-read as already delivered). A stale record's read offset
can still land after the last seek (faust sets it once the record is queued, and the agent may take the
record first), so a re-read that has not begun ``RETRY_AFTER`` seconds after the last seek is sought again
(:meth:`Rewinder.retry_stalled`, called by the checkpointer's loop).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import IllegalStateError
from faust.types import TP, AppT, Message

from agents.metrics import input_rewinds
from liveflow.kafka_config import aiokafka_kwargs
from liveflow.settings import Settings

log = logging.getLogger(__name__)
RETRY_AFTER = 5.0  # seconds without the re-read after a seek back before seeking again
GIVE_UP_AFTER = 6  # retries; then the partition goes on from where it is (the log says what was skipped)


@dataclass(slots=True)
class Rewind:
    first_seen: int  # offset of the first record delivered after the assignment (beyond the expected start)
    start: int  # the offset sought back to
    sought_at: float  # time.monotonic() of the last seek
    retries: int = 0


class Rewinder:
    def __init__(self, app: AppT, settings: Settings) -> None:
        self._app = app
        self._settings = settings
        self._admin: AIOKafkaAdminClient | None = None
        self.unverified: set[TP] = set()
        self.rewinding: dict[TP, Rewind] = {}

    async def _client(self) -> AIOKafkaAdminClient:
        if self._admin is None:
            admin = AIOKafkaAdminClient(**aiokafka_kwargs(self._settings))
            await admin.start()
            self._admin = admin
        return self._admin

    async def stop(self) -> None:
        if self._admin is not None:
            await self._admin.close()
            self._admin = None

    def expect(self, tps: set[TP]) -> None:
        """The input topic-partitions of a new assignment: check the first record each delivers (the set is
        updated in place: the agent holds a reference to it)."""
        self.unverified.clear()
        self.unverified |= tps
        self.rewinding.clear()

    async def admit(self, message: Message) -> bool:
        """Whether ``message`` (of an unverified topic-partition) may be processed."""
        tp, offset = message.tp, message.offset
        rewind = self.rewinding.get(tp)
        if rewind is not None:
            if offset > rewind.first_seen:
                # still buffered from before the seek back; faust has meanwhile moved its read offset past
                # it and would drop the re-read as already seen, so seek again (the last one wins)
                await self._seek(tp, rewind.start)
                rewind.sought_at = time.monotonic()
                return False
            del self.rewinding[tp]
            self.unverified.discard(tp)
            return True
        expected = await self._expected_start(tp)
        if expected is None or offset <= expected:
            self.unverified.discard(tp)
            return True
        log.warning(
            "faust dropped offsets %d-%d of %s %d around a rebalance; reading them again",
            expected,
            offset - 1,
            tp.topic,
            tp.partition,
        )
        if not await self._seek(tp, expected):
            return False
        self.rewinding[tp] = Rewind(offset, expected, time.monotonic())
        input_rewinds.inc()
        return False

    async def retry_stalled(self) -> None:
        """Seek again where the re-read has not begun ``RETRY_AFTER`` seconds after the last seek."""
        if not self.rewinding:
            return
        now = time.monotonic()
        for tp, rewind in list(self.rewinding.items()):
            if now - rewind.sought_at < RETRY_AFTER:
                continue
            if rewind.retries >= GIVE_UP_AFTER:  # e.g. retention deleted the records meanwhile: do not stall
                log.error(
                    "gave up re-reading offsets %d-%d of %s %d; going on without them",
                    rewind.start,
                    rewind.first_seen - 1,
                    tp.topic,
                    tp.partition,
                )
                del self.rewinding[tp]
                self.unverified.discard(tp)
                continue
            rewind.retries += 1
            log.warning(
                "re-read of %s %d from offset %d has not begun %.0f s after the seek; seeking again",
                tp.topic,
                tp.partition,
                rewind.start,
                now - rewind.sought_at,
            )
            rewind.sought_at = now
            await self._seek(tp, rewind.start)

    async def _seek(self, tp: TP, offset: int) -> bool:
        """Seek in the consumer's own thread (``seek_wait``, as faust's recovery does): faust's ``seek`` calls
        aiokafka from the event loop's thread, racing the fetcher (seen: a ``KeyError`` in
        ``Fetcher.fetched_records`` that crashed the worker)."""
        try:
            await self._app.consumer.seek_wait({tp: offset})
        except (IllegalStateError, TimeoutError):  # no longer assigned, or no answer: checked again later
            return False
        return True

    async def _expected_start(self, tp: TP) -> int | None:
        """The group's committed offset, else the log start; None if it cannot be known (then trust
        the delivery rather than stall the partition)."""
        try:
            admin = await self._client()
            committed = await admin.list_consumer_group_offsets(
                self._app.conf.id, partitions=[TopicPartition(tp.topic, tp.partition)]
            )
            found = committed.get(TopicPartition(tp.topic, tp.partition))
            if found is not None and found.offset >= 0:
                return int(found.offset)
            earliest = await self._app.consumer.earliest_offsets(tp)
            return int(earliest[tp])
        except Exception:
            log.exception("cannot read the expected start of %s %d", tp.topic, tp.partition)
            return None
