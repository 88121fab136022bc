"""Presence's two-tier expiry (per-second lists + a heap for the earliest second) ends intervals exactly
where and in the order a plain heap of ``(end, user)`` would, and survives a checkpoint round trip (state
plus uv segments)."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from liveflow.core.rooms.presence import Presence

Step = tuple[int, str, str]  # (time delta, "mark" | "leave", user)

steps = st.lists(
    st.tuples(st.integers(0, 1_500), st.sampled_from(["mark", "mark", "leave"]), st.sampled_from("abcdefg")),
    max_size=80,
)


class Reference:
    """The definition: a user present from a mark until a leave or last mark + timeout."""

    def __init__(self, timeout: int) -> None:
        self.timeout = timeout
        self.last: dict[str, int] = {}

    def expire(self, now: int) -> list[tuple[int, str]]:
        due = sorted((seen + self.timeout, user) for user, seen in self.last.items())
        ended = [(end, user) for end, user in due if end <= now]
        for _, user in ended:
            del self.last[user]
        return ended


def sweep(presence: Presence, now: int) -> list[tuple[int, str]]:
    ended = []
    while True:
        due = presence.next_expiry()
        if due is None or due > now:
            return ended
        presence.tick(due)
        ended.append((due, presence.expire_next()))


def run(presence: Presence, reference: Reference, script: list[Step], start: int) -> tuple[int, list]:
    now = start
    log = []
    for delta, kind, user in script:
        now += delta
        got = sweep(presence, now)
        assert got == reference.expire(now)
        log += got
        presence.tick(now)
        if kind == "mark":
            presence.mark(user, now)
            reference.last[user] = now
        else:
            presence.leave(user)
            reference.last.pop(user, None)
        assert presence.online == len(reference.last)
        assert sorted(presence.present_users()) == sorted(reference.last)
    return now, log


@settings(max_examples=300, deadline=None)
@given(steps, steps, st.sampled_from([1, 250, 999, 1_000, 1_001, 2_500, 60_000]), st.integers(0, 5_000))
def test_intervals_end_as_a_plain_heap_would_and_survive_a_checkpoint(
    before: list[Step], after: list[Step], timeout: int, start: int
) -> None:
    presence, reference = Presence(timeout), Reference(timeout)
    now, _ = run(presence, reference, before, 1_767_225_600_000 + start)
    state = msgspec.msgpack.decode(msgspec.msgpack.encode(presence.to_state()))
    restored = Presence.from_state(timeout, state)
    for name, data in presence.take_segment_changes()[0].items():
        restored.load_segment(name, data)
    restored.loaded()
    assert restored.uv == presence.uv
    end, _ = run(restored, reference, after, now)
    assert sweep(restored, end + timeout + 1) == reference.expire(end + timeout + 1)
    assert restored.online == 0


def test_a_viewer_costs_one_list_slot_until_its_second_comes_up() -> None:
    presence = Presence(60_000)
    for i in range(1_000):
        presence.mark(f"u{i}", 1_767_225_600_000 + i)
    assert presence.soon == [] and sum(len(users) for users in presence.due.values()) == 1_000
    assert presence.next_expiry() == 1_767_225_660_000
    assert len(presence.soon) == 1_000 and presence.due == {}  # the whole first second, now a heap


def test_uv_checkpoints_only_the_newest_segment_and_keeps_a_zero_length_removal() -> None:
    presence = Presence(60_000)
    t = 1_767_225_600_000
    for i in range(10_000):
        presence.mark(f"u{i}", t)
    first = presence.take_segment_changes()[0]
    assert sorted(first) == ["lb", "u0", "u1", "u2"]  # 4096 viewers per uv segment
    presence.tick(t + 1)
    presence.mark("late", t + 1)
    assert sorted(presence.take_segment_changes()[0]) == ["l0", "u2"]  # where the new viewer went
    presence.leave("late")  # same instant: a zero-length interval, never a viewer
    second = presence.take_segment_changes()[0]
    restored = Presence.from_state(60_000, presence.to_state())
    for name, data in {**first, **second}.items():
        restored.load_segment(name, data)
    restored.loaded()
    assert restored.uv == presence.uv and "late" not in restored.uv and len(restored.uv) == 10_000


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(steps, min_size=1, max_size=4), min_size=1, max_size=8))
def test_last_seen_deltas_and_bases_restore_exactly(checkpoints: list[list[list[Step]]]) -> None:
    """A changelog (latest row per segment name) fed by many checkpoints, some of them new bases that
    retire the deltas before them, restores the present users and their times exactly."""
    presence = Presence(60_000)
    changelog: dict[str, bytes] = {}
    now = 1_767_225_600_000
    for scripts in checkpoints:
        for script in scripts:
            for delta, kind, user in script:
                now += delta
                sweep(presence, now)
                presence.tick(now)
                if kind == "mark":
                    presence.mark(user, now)
                else:
                    presence.leave(user)
        changed, removed = presence.take_segment_changes()
        changelog.update(changed)
        for name in removed:
            del changelog[name]
        restored = Presence.from_state(60_000, presence.to_state())
        for name, payload in changelog.items():
            restored.load_segment(name, payload)
        restored.loaded()
        assert sorted(restored.present_users()) == sorted(presence.present_users())
        assert {u: restored.last_seen[u] for u in restored.present_users()} == {
            u: presence.last_seen[u] for u in presence.present_users()
        }
        assert restored.online == presence.online
