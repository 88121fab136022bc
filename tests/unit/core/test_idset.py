"""The compact table of remembered event ids (liveflow._idset), against a plain dict doing the same."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liveflow._idset import ACCEPTED, DUPLICATE, LATE, IdSet

T0 = 1_763_779_200_000

# ids from a small pool (so adds hit stored entries; "" is the one id whose hash is 0) or anything
POOL = ["", *(f"e{i}" for i in range(40))]
event_ids = st.one_of(st.sampled_from(POOL), st.text(max_size=20))
operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), event_ids, st.integers(0, 5_000)),
        st.tuples(st.just("forget"), st.integers(0, 5_000)),
        st.tuples(st.just("jump"), st.integers(2**31, 2**32)),  # far ahead: the table rebases
    ),
    max_size=300,
)


@settings(max_examples=300)
@given(operations)
def test_behaves_like_a_dict_of_latest_times(ops: list[tuple[Any, ...]]) -> None:
    table, reference = IdSet(), dict[str, int]()
    offset = 0
    for op in ops:
        if op[0] == "add":
            event_id, ts = op[1], T0 + offset + op[2]
            table.add(event_id, ts)
            reference[event_id] = max(reference.get(event_id, ts), ts)
        elif op[0] == "forget":
            bound = T0 + offset + op[1]
            table.forget_before(bound)
            reference = {key: ts for key, ts in reference.items() if ts >= bound}
        else:
            offset += op[1]
            bound = T0 + offset - 10_000  # a rebase drops only what a horizon would have dropped long ago
            table.forget_before(bound)
            reference = {key: ts for key, ts in reference.items() if ts >= bound}
        assert len(table) == len(reference)
    for event_id, ts in reference.items():
        assert table.remembered(event_id, ts)
        assert not table.remembered(event_id, ts + 1)
    for event_id in POOL:
        assert table.remembered(event_id, -1) is (event_id in reference)


def test_admit_is_dedup_then_lateness() -> None:
    table = IdSet()
    assert table.admit("a", T0, T0 - 600_000, T0 - 5_000) == ACCEPTED
    assert table.admit("a", T0, T0 - 600_000, T0 + 1) == DUPLICATE  # remembered wins over late
    assert table.admit("a", T0 + 700_000, T0, T0) == DUPLICATE  # the horizon bound is inclusive
    assert table.admit("a", T0 + 700_000, T0 + 1, T0) == ACCEPTED  # forgotten: accepted again, later ts
    assert table.remembered("a", T0 + 700_000)
    assert table.admit("b", T0, T0, T0 + 1) == LATE
    assert not table.remembered("b", -1)  # a late event is not remembered


def test_grows_and_shrinks_with_what_it_holds() -> None:
    table = IdSet()
    empty = table.nbytes
    for i in range(100_000):
        table.add(f"event-{i}", T0 + i)
    assert len(table) == 100_000
    assert 12 * 100_000 / 0.75 <= table.nbytes <= 12 * 100_000 / 0.4  # 12 bytes a slot, load 0.4-0.75
    assert sys.getsizeof(table) > table.nbytes
    table.forget_before(T0 + 99_000)
    assert len(table) == 1_000
    assert table.nbytes < 12 * 1_000 / 0.4
    assert all(table.remembered(f"event-{i}", T0) for i in range(99_000, 100_000))
    table.forget_before(T0 + 200_000)
    assert len(table) == 0 and table.nbytes == empty


def test_refuses_times_it_cannot_store() -> None:
    table = IdSet()
    table.add("first", T0)
    with pytest.raises(ValueError, match="2\\^30 ms before the first"):
        table.add("second", T0 - 2**31)
    with pytest.raises(TypeError, match="event id must be str"):
        table.add(1, T0)  # type: ignore[arg-type]
