"""The live lexicon in Redis: a versioned store that ``liveflow lexicon`` edits and workers follow.

Key layout (namespace = ``settings.app_id``):

``<ns>:lexicon:entries``  hash, one field per entry: ``term + "\\t" + category``; value = JSON object
                          ``{"severity": "block"}`` (``null`` for an ``allow`` phrase), plus
                          ``"normalize": {step: bool}`` listing only the normalization steps that differ
                          from :data:`DEFAULT_NORMALIZATION` (omitted when none do).
``<ns>:lexicon:version``  integer, ``INCR``-ed once per change; absent until the first change.
``<ns>:lexicon:changed``  pub/sub channel; after each change the new version is published (decimal).

Invariants:

- **Version 0 is the packaged default.** While the version key is absent the Redis lexicon has never been
  written and the live lexicon *is* :func:`load_default_lexicon` (version 0). The first write starts from
  that lexicon (``seed=True``, the default) or from an empty one (``seed=False``, CLI ``--empty``), and
  writes the whole resulting lexicon.
- **One transaction per change.** A change is computed against the stored state read under ``WATCH`` (of
  both keys) and written in one ``MULTI``/``EXEC`` together with ``INCR`` of the version, so the hash
  never changes without the version changing: :meth:`LexiconStore.load` reads the hash in ``HSCAN``
  chunks between two reads of the version and always returns a lexicon with its own version, and
  concurrent writers retry on conflict and never lose each other's changes. The notification is
  published after ``EXEC``; a lost notification is caught by the readers' periodic version check.
- **No empty changes.** A call that leaves the live lexicon as it is (same entries, same severities and
  options) writes nothing and keeps the version.
- Stored entries are validated on every read like file entries (:class:`LexiconEntry`: category names
  included, so an entry written by hand or by an older release with a name such as ``spam"x`` is bad). For
  ``liveflow lexicon`` a bad field fails the read with a :class:`LexiconError` naming the key and field;
  the watcher reads with ``skip_invalid``: the bad fields are left out (listed in
  :attr:`LexiconSnapshot.invalid`, logged once) and the other entries are applied.
  Terms never contain a tab or line break (the field and ``.tsv`` separators) and are stored stripped.
- A version may go *down* only when the keys were deleted or restored from an older copy; readers take
  the store as the truth then too (with a warning), so all workers agree with ``liveflow lexicon list``.

:class:`LexiconWatcher` is the reader a worker runs: subscribe, check the version, and then on every
notification or every ``poll_interval`` check it again; reload (a consistent read, validation off the
event loop, bad entries left out and logged) when it differs from the version in use. While Redis cannot
be reached it keeps the lexicon it has, reports the outage once through the log and ``on_health(False)``,
retries every ``retry_interval``, and catches up when Redis answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple, NoReturn

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError, WatchError

from liveflow.core.moderation.lexicon import (
    ALLOW_CATEGORY,
    SEVERITIES,
    LexiconEntry,
    LexiconError,
    is_severity,
    load_default_lexicon,
)
from liveflow.core.moderation.normalize import DEFAULT_NORMALIZATION, NormalizationOptions

log = logging.getLogger(__name__)

NORMALIZATION_STEPS: Final = tuple(step.name for step in dataclasses.fields(NormalizationOptions))
_SEPARATORS: Final = ("\t", "\n", "\r")
_DECODE_INLINE: Final = 256  # more stored entries than this are validated in a worker thread
_SCAN_COUNT: Final = 500  # fields per HSCAN reply
_SCAN_ATTEMPTS: Final = 3  # chunked reads raced by a change before falling back to one MULTI


def entries_key(namespace: str) -> str:
    return f"{namespace}:lexicon:entries"


def version_key(namespace: str) -> str:
    return f"{namespace}:lexicon:version"


def channel(namespace: str) -> str:
    return f"{namespace}:lexicon:changed"


class LexiconSnapshot(NamedTuple):
    """A live lexicon and its version (0: never written, the packaged default lexicon)."""

    version: int
    entries: list[LexiconEntry]
    invalid: tuple[str, ...] = ()  # with ``load(skip_invalid=True)``: why each left-out field is bad


@dataclass(frozen=True)
class Change:
    """What a write did, relative to the live lexicon before it (the default one if the store was empty)."""

    version: int  # the version after the call (unchanged if nothing changed)
    added: list[LexiconEntry] = field(default_factory=list)  # new (term, category) pairs
    updated: list[LexiconEntry] = field(default_factory=list)  # same pair, other severity or options
    removed: list[LexiconEntry] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # stored fields with an invalid value, deleted
    initialised: bool = False  # this call wrote the store for the first time

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.dropped)


# -- encoding -----------------------------------------------------------------------------------------


def canonical(entry: LexiconEntry) -> LexiconEntry:
    """``entry`` with its term stripped; :class:`LexiconError` if the term holds a tab or line break."""
    if any(separator in entry.term for separator in _SEPARATORS):
        raise LexiconError(f"term {entry.term!r} contains a tab or line break")
    term = entry.term.strip()
    return entry if term == entry.term else dataclasses.replace(entry, term=term)


def field_name(entry: LexiconEntry) -> str:
    """The hash field of an entry: ``term<TAB>category`` (the category never holds whitespace)."""
    return f"{entry.term}\t{entry.category}"


def normalization_overrides(options: NormalizationOptions) -> dict[str, bool]:
    """The steps of ``options`` that differ from :data:`DEFAULT_NORMALIZATION`."""
    return {
        step: getattr(options, step)
        for step in NORMALIZATION_STEPS
        if getattr(options, step) != getattr(DEFAULT_NORMALIZATION, step)
    }


def encode_value(entry: LexiconEntry) -> bytes:
    value: dict[str, Any] = {"severity": entry.severity}
    overrides = normalization_overrides(entry.normalization)
    if overrides:
        value["normalize"] = overrides
    return orjson.dumps(value)


def decode_entry(field_raw: bytes | str, value_raw: bytes | str, where: str = "") -> LexiconEntry:
    """One stored entry, validated; errors name ``where`` (the key) and the field."""
    name = _text(field_raw)
    prefix = f"{where} field {name!r}: " if where else f"field {name!r}: "
    if isinstance(field_raw, bytes) and name.encode() != field_raw:
        raise LexiconError(f"{prefix}not valid UTF-8")
    term, sep, category = name.rpartition("\t")
    if not sep:
        raise LexiconError(f"{prefix}expected term<TAB>category")
    try:
        value = orjson.loads(value_raw)
    except orjson.JSONDecodeError:
        raise LexiconError(f"{prefix}value is not JSON") from None
    if not isinstance(value, dict) or set(value) - {"severity", "normalize"}:
        raise LexiconError(f'{prefix}expected a JSON object with "severity" and optional "normalize"')
    severity = value.get("severity")
    if severity is not None and not is_severity(severity):
        raise LexiconError(f"{prefix}bad severity {severity!r}")
    steps = value.get("normalize", {})
    if not isinstance(steps, dict) or any(
        step not in NORMALIZATION_STEPS or not isinstance(flag, bool) for step, flag in steps.items()
    ):
        raise LexiconError(
            f"{prefix}normalize must map step names ({', '.join(NORMALIZATION_STEPS)}) to booleans"
        )
    try:
        entry = LexiconEntry(term, category, severity, dataclasses.replace(DEFAULT_NORMALIZATION, **steps))
    except LexiconError as exc:
        raise LexiconError(f"{prefix}{exc}") from None
    if field_name(canonical(entry)) != name:
        raise LexiconError(f"{prefix}the term has surrounding whitespace, a tab or a line break")
    return entry


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _decode_all(
    raw: Mapping[Any, Any], where: str, skip_invalid: bool = False
) -> tuple[dict[str, LexiconEntry], list[str]]:
    """Every stored entry by field, sorted by (category, term), and the errors of the bad ones (sorted).

    The first bad one raises unless ``skip_invalid``.
    """
    entries, invalid = _decode_lenient(raw, where)
    if invalid and not skip_invalid:
        raise invalid[0]
    ordered = dict(sorted(entries.items(), key=lambda item: (item[1].category, item[1].term)))
    return ordered, sorted(map(str, invalid))


def _decode_lenient(raw: Mapping[Any, Any], where: str) -> tuple[dict[str, LexiconEntry], list[LexiconError]]:
    good: dict[str, LexiconEntry] = {}
    bad: list[LexiconError] = []
    for name, value in raw.items():
        try:
            good[_text(name)] = decode_entry(name, value, where)
        except LexiconError as exc:
            bad.append(exc)
    return good, bad


def _by_field(entries: Iterable[LexiconEntry]) -> dict[str, LexiconEntry]:
    """Entries keyed by field; a later entry of the same (term, category) replaces an earlier one."""
    out: dict[str, LexiconEntry] = {}
    for entry in map(canonical, entries):
        out[field_name(entry)] = entry
    return out


def _sorted(entries: Iterable[LexiconEntry]) -> list[LexiconEntry]:
    return sorted(entries, key=lambda entry: (entry.category, entry.term))


# -- the store ----------------------------------------------------------------------------------------


class LexiconStore:
    """Reads and edits the live lexicon of one namespace (see the module docstring for the layout)."""

    def __init__(self, client: aioredis.Redis, namespace: str) -> None:
        self._client = client
        self.namespace = namespace
        self.entries_key = entries_key(namespace)
        self.version_key = version_key(namespace)
        self.channel = channel(namespace)

    async def version(self) -> int:
        """The current version (0 while the store was never written)."""
        return self._version(await self._client.get(self.version_key))

    def _version(self, raw: bytes | str | None) -> int:
        if raw is None:
            return 0
        try:
            version = int(raw)
        except ValueError:
            version = -1
        if version < 1:
            raise LexiconError(f"{self.version_key}: expected a positive integer, got {_text(raw)!r}")
        return version

    async def load(self, *, skip_invalid: bool = False) -> LexiconSnapshot:
        """The live lexicon and one version it had as a whole; entries sorted by (category, term).

        The hash is read in ``HSCAN`` chunks between two reads of the version, so no reply is big enough to
        hold up an event loop (one ``HGETALL`` of 10,000 entries takes ~50 ms to parse in Python). Equal
        versions mean the hash did not change in between (every change ``INCR``-s the version in its own
        ``MULTI``), and ``HSCAN`` returns every field present for the whole scan. If changes keep racing
        the scan, the last attempt reads both keys in one ``MULTI``. Validation runs in a worker thread.

        Raises :class:`LexiconError` for a bad version key, and for a bad stored entry unless
        ``skip_invalid`` (then it is left out and its error listed in ``invalid``); ``RedisError``/``OSError``
        if Redis fails.
        """
        raw_version, raw_entries = await self._scan()
        if raw_version is None:
            return LexiconSnapshot(0, await asyncio.to_thread(load_default_lexicon))
        version = self._version(raw_version)
        if len(raw_entries) > _DECODE_INLINE:  # validating 10,000 entries takes ~0.25 s
            entries, invalid = await asyncio.to_thread(
                _decode_all, raw_entries, self.entries_key, skip_invalid
            )
        else:
            entries, invalid = _decode_all(raw_entries, self.entries_key, skip_invalid)
        return LexiconSnapshot(version, list(entries.values()), tuple(invalid))

    async def _scan(self) -> tuple[Any, dict[Any, Any]]:
        """``(raw version or None, raw hash)`` of one moment (see :meth:`load`)."""
        for _attempt in range(_SCAN_ATTEMPTS):
            before = await self._client.get(self.version_key)
            if before is None:
                return None, {}
            raw: dict[Any, Any] = {}
            cursor = 0
            while True:
                cursor, chunk = await self._client.hscan(self.entries_key, cursor, count=_SCAN_COUNT)
                raw.update(chunk if isinstance(chunk, dict) else zip(chunk[::2], chunk[1::2], strict=True))
                if not cursor:
                    break
            if await self._client.get(self.version_key) == before:
                return before, raw
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.get(self.version_key)
            pipe.hgetall(self.entries_key)
            raw_version, raw_entries = await pipe.execute()
        return raw_version, raw_entries if raw_version is not None else {}

    async def add(self, entries: Iterable[LexiconEntry], *, seed: bool = True) -> Change:
        """Add entries, or change the severity/options of existing (term, category) pairs."""
        new = _by_field(entries)

        def mutate(base: dict[str, LexiconEntry], bad: list[LexiconError]) -> dict[str, LexiconEntry]:
            if bad:
                raise bad[0]
            return base | new

        return await self._change(mutate, seed=seed)

    async def remove(self, term: str, category: str | None = None) -> Change:
        """Remove ``term`` from ``category`` (from every category if ``None``); ``removed`` says what went.

        Removing from a never-written store starts from the packaged default lexicon. A stored field whose
        value is invalid can be removed too (it is matched by its field name).
        """
        term = term.strip()

        def matches(name: str) -> bool:
            stored_term, _, stored_category = name.rpartition("\t")
            return stored_term == term and (category is None or stored_category == category)

        def mutate(base: dict[str, LexiconEntry], bad: list[LexiconError]) -> dict[str, LexiconEntry]:
            return {name: entry for name, entry in base.items() if not matches(name)}

        return await self._change(mutate, seed=True, drop_invalid=matches)

    async def import_entries(
        self, entries: Iterable[LexiconEntry], *, replace: bool = False, seed: bool = True
    ) -> Change:
        """Merge ``entries`` into the live lexicon, or with ``replace`` make the lexicon the default one
        (unless ``seed`` is false) followed by ``entries`` (a later (term, category) wins)."""
        new = _by_field(entries)

        def mutate(base: dict[str, LexiconEntry], bad: list[LexiconError]) -> dict[str, LexiconEntry]:
            if replace:
                start = _by_field(load_default_lexicon()) if seed else {}
                return start | new
            if bad:
                raise bad[0]
            return base | new

        return await self._change(mutate, seed=seed, drop_invalid=(lambda _name: True) if replace else None)

    async def _change(
        self,
        mutate: Callable[[dict[str, LexiconEntry], list[LexiconError]], dict[str, LexiconEntry]],
        *,
        seed: bool,
        drop_invalid: Callable[[str], bool] | None = None,
    ) -> Change:
        """Read under WATCH, compute the new lexicon, write the difference with INCR in one MULTI."""
        async with self._client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(self.version_key, self.entries_key)
                    raw_version = await pipe.get(self.version_key)
                    self._version(raw_version)  # a bad version key stops the write
                    raw_entries = await pipe.hgetall(self.entries_key) if raw_version is not None else {}
                    stored, bad = _decode_lenient(raw_entries, self.entries_key)
                    bad_fields = [name for name in raw_entries if _text(name) not in stored]  # raw names
                    if raw_version is None:
                        live = _by_field(load_default_lexicon())
                        base = live if seed else {}
                    else:
                        live = base = stored
                    new = mutate(dict(base), bad)
                    dropped = [
                        name for name in bad_fields if drop_invalid is not None and drop_invalid(_text(name))
                    ]
                    added = [entry for name, entry in new.items() if name not in live]
                    updated = [entry for name, entry in new.items() if name in live and live[name] != entry]
                    removed = [entry for name, entry in live.items() if name not in new]
                    if not (added or updated or removed or dropped):
                        await pipe.reset()
                        return Change(self._version(raw_version))
                    pipe.multi()
                    if raw_version is None:
                        pipe.delete(self.entries_key)  # stray fields of a store without a version
                        if new:
                            pipe.hset(
                                self.entries_key,
                                mapping={name: encode_value(entry) for name, entry in new.items()},
                            )
                    else:
                        gone = [name for name in live if name not in new] + dropped
                        if gone:
                            pipe.hdel(self.entries_key, *gone)
                        changed = {
                            name: encode_value(entry)
                            for name, entry in new.items()
                            if name not in live or live[name] != entry
                        }
                        if changed:
                            pipe.hset(self.entries_key, mapping=changed)  # type: ignore[arg-type]
                    pipe.incr(self.version_key)
                    results = await pipe.execute()
                    break
                except WatchError:
                    continue
        version = int(results[-1])
        try:
            await self._client.publish(self.channel, str(version))
        except (RedisError, OSError) as exc:  # committed; readers' version checks will see it
            log.warning("lexicon version %d written but not announced on %s: %s", version, self.channel, exc)
        return Change(
            version,
            _sorted(added),
            _sorted(updated),
            _sorted(removed),
            [_text(name) for name in dropped],
            initialised=raw_version is None,
        )


# -- export formats -----------------------------------------------------------------------------------


def dump_tsv(entries: Iterable[LexiconEntry], header: str = "") -> bytes:
    """The ``.tsv`` form (``load_lexicon`` reads it back); ``header`` becomes ``#`` comment lines.

    Raises :class:`LexiconError` if an entry has non-default normalization options (``.tsv`` cannot
    carry them: export JSON instead).
    """
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for entry in _sorted(entries):
        if entry.normalization != DEFAULT_NORMALIZATION:
            raise LexiconError(
                f"{entry.term!r} ({entry.category}) has normalization options that .tsv cannot hold; "
                "export as json"
            )
        lines.append(f"{entry.term}\t{entry.category}\t{entry.severity or ''}".rstrip("\t"))
    return ("\n".join(lines) + "\n").encode()


def dump_json(entries: Iterable[LexiconEntry], description: str = "") -> bytes:
    """The ``.json`` form of ``schemas/lexicon.schema.json`` (``load_lexicon`` reads it back).

    Each category states its most common severity once; terms with another severity carry their own.
    Options are per category in that form: raises :class:`LexiconError` when one category mixes
    entries with different normalization options.
    """
    grouped: dict[str, list[LexiconEntry]] = {}
    for entry in _sorted(entries):
        grouped.setdefault(entry.category, []).append(entry)
    categories: dict[str, dict[str, Any]] = {}
    for category, members in grouped.items():
        if len({entry.normalization for entry in members}) > 1:
            raise LexiconError(
                f"category {category!r} mixes normalization options, which the .json form cannot hold "
                "(options are per category)"
            )
        body: dict[str, Any] = {}
        overrides = normalization_overrides(members[0].normalization)
        if overrides:
            body["normalize"] = overrides
        default = None
        if category != ALLOW_CATEGORY:
            counts = Counter(entry.severity for entry in members)
            default = max(
                counts, key=lambda severity: (counts[severity], SEVERITIES.index(severity or "info"))
            )
            body["severity"] = default
        body["terms"] = [
            entry.term if entry.severity == default else {"term": entry.term, "severity": entry.severity}
            for entry in members
        ]
        categories[category] = body
    document: dict[str, Any] = {"version": 1}
    if description:
        document["description"] = description
    document["categories"] = categories
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


def entry_dict(entry: LexiconEntry) -> dict[str, Any]:
    """A JSON-ready view of an entry (``normalize`` lists only non-default steps)."""
    return {
        "term": entry.term,
        "category": entry.category,
        "severity": entry.severity,
        "normalize": normalization_overrides(entry.normalization),
    }


# -- the worker's reader ------------------------------------------------------------------------------


@dataclass
class LexiconWatcher:
    """Keeps a worker on the live lexicon: see the module docstring.

    ``apply`` is awaited with each new snapshot (the first one at start: the Redis lexicon, or the packaged
    default with version 0 if Redis cannot be reached); ``version`` is then the version in use. If
    ``apply`` raises, the lexicon in use stays and the version is not retried until it changes again.
    ``on_health`` is called with ``True``/``False`` whenever Redis becomes reachable/unreachable (and once
    after the first check). ``where`` names the Redis in log lines (pass the redacted URL).
    """

    client: aioredis.Redis
    namespace: str
    apply: Callable[[LexiconSnapshot], Awaitable[None]]
    on_health: Callable[[bool], None] = lambda _up: None
    where: str = "Redis"
    poll_interval: float = 1.0
    retry_interval: float = 1.0
    version: int | None = field(default=None, init=False)  # in use; None until the first apply
    healthy: bool | None = field(default=None, init=False)
    _rejected: int | None = field(default=None, init=False)  # a version that could not be loaded/applied
    _problem: str | None = field(default=None, init=False)  # the last store error logged
    _fallback_tried: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.store = LexiconStore(self.client, self.namespace)

    async def run(self) -> NoReturn:
        pubsub: PubSub | None = None
        try:
            while True:
                try:
                    if pubsub is None:
                        pubsub = self.client.pubsub()
                        await pubsub.subscribe(self.store.channel)  # before the check: no change is missed
                    await self.check()
                    self._health(True, None)
                    await self._fallback()  # the store is invalid
                    await self._wait(pubsub)
                except (RedisError, OSError) as exc:
                    self._health(False, exc)
                    if pubsub is not None:
                        await _close(pubsub)
                        pubsub = None
                    await self._fallback()  # Redis unreachable at start
                    await asyncio.sleep(self.retry_interval)
        finally:
            if pubsub is not None:
                await _close(pubsub)

    async def check(self) -> bool:
        """Reload if the stored version differs from the one in use; whether a new lexicon was applied.

        A bad stored entry is left out and logged (once, at ERROR, naming the field); the other entries are
        applied. A bad version key is logged once and leaves the lexicon in use; it is not read again
        until the version changes.
        """
        version: int | None = None
        try:
            version = await self.store.version()
            if version in (self.version, self._rejected):
                return False
            snapshot = await self.store.load(skip_invalid=True)
        except LexiconError as exc:
            if str(exc) != self._problem:
                log.error("live lexicon in %s is invalid (%s); keeping %s", self.where, exc, self._in_use())
                self._problem = str(exc)
            self._rejected = version
            return False
        self._problem = None
        if snapshot.version == self.version:
            return False
        for problem in snapshot.invalid:
            log.error(
                "live lexicon version %d in %s: left out an invalid entry (%s)",
                snapshot.version,
                self.where,
                problem,
            )
        if self.version is not None and snapshot.version < self.version:
            log.warning(
                "live lexicon in %s went back from version %d to %d (keys deleted or restored from an older "
                "copy?); following it",
                self.where,
                self.version,
                snapshot.version,
            )
        return await self._apply(snapshot)

    async def _fallback(self) -> None:
        """Nothing applied yet and the store cannot be used: the packaged default, once."""
        if self.version is None and not self._fallback_tried:
            self._fallback_tried = True
            await self._apply(LexiconSnapshot(0, await asyncio.to_thread(load_default_lexicon)))

    async def _apply(self, snapshot: LexiconSnapshot) -> bool:
        try:
            await self.apply(snapshot)
        except Exception:
            log.exception(
                "cannot apply live lexicon version %d; keeping %s", snapshot.version, self._in_use()
            )
            self._rejected = snapshot.version
            return False
        self.version = snapshot.version
        self._rejected = None
        return True

    def _in_use(self) -> str:
        return "no lexicon yet" if self.version is None else f"lexicon version {self.version}"

    async def _wait(self, pubsub: PubSub) -> None:
        """Until a change notification arrives or ``poll_interval`` passes; pending notifications are
        drained, so a burst of changes costs one check."""
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=self.poll_interval)
        while message is not None:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0)

    def _health(self, up: bool, error: BaseException | None) -> None:
        if up == self.healthy:
            return
        if not up:
            log.warning(
                "live lexicon: cannot reach %s (%s: %s); keeping %s, retrying every %g s",
                self.where,
                type(error).__name__,
                error,
                self._in_use() if self.version is not None else "the packaged default lexicon",
                self.retry_interval,
            )
        elif self.healthy is not None:
            log.info("live lexicon: %s reachable again (%s in use)", self.where, self._in_use())
        self.healthy = up
        self.on_health(up)


async def _close(pubsub: PubSub) -> None:
    with contextlib.suppress(RedisError, OSError):
        await pubsub.aclose()
