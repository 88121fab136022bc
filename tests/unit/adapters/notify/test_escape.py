"""Viewers' text made inert per format: every hostile comment, every format, and the rendered sample line."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from liveflow.adapters.notify import render
from liveflow.adapters.notify.escape import Format, neutralise, one_line
from tests.unit.adapters.notify.hostile import COMMENTS, problems

FORMATS: tuple[Format, ...] = ("slack", "markdown", "text")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("comment", "words"), COMMENTS, ids=[c[:24] for c, _ in COMMENTS])
def test_a_hostile_comment_becomes_plain_words(comment: str, words: tuple[str, ...], fmt: Format) -> None:
    shown = neutralise(comment, fmt)
    assert problems(shown, fmt) == []
    for word in words:
        assert word in shown


def test_the_words_and_the_intent_stay_readable() -> None:
    assert neutralise("<!channel> 快来 <http://evil.example|点我领券>", "slack") == (
        "&lt;!channel&gt; 快来 &lt;http[:]//evil[.]example|点我领券&gt;"
    )
    assert neutralise("[领红包](http://evil.example/red) @all", "markdown") == (
        "［领红包］（http[:]//evil[.]example/red） ＠all"
    )
    assert neutralise('<at user_id="all">所有人</at>', "text") == '＜at user_id="all"＞所有人＜/at＞'
    assert neutralise("价格 3.14 元, 5.5折", "text") == "价格 3.14 元, 5.5折"  # numbers are not domains


def test_one_line_drops_format_characters_and_joins_lines() -> None:
    assert one_line("a\u200bb\u202ec\n\n# d\r\ne\u2028f\tg") == "abc # d e f g"


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_rendered_sample_lines_carry_nothing_from_the_viewer(fmt: Format) -> None:
    samples = [
        {"user_id": ["u1", "<!channel>", "@all", "[x](http://e.example)"][n % 4], "text": comment}
        for n, (comment, _) in enumerate(COMMENTS)
    ]
    record = {
        "alert_id": "a1",
        "rule": "banned_words",
        "room_id": "r1",
        "status": "firing",
        "severity": "critical",
        "started_at": 1_763_779_200_000,
        "ended_at": None,
        "message": "m",
        "samples": samples,
    }
    lines = render.block(record, "zh", ZoneInfo("UTC"), fmt).split("\n")
    sample_lines = [line for line in lines if "样例 " in line]
    assert len(sample_lines) == len(samples)  # no comment adds or fakes a line
    assert len(lines) == 3 + len(samples)
    for line in sample_lines:
        shown = line.split("样例 ", 1)[1]
        assert problems(shown, fmt) == [], line
        assert len(shown) < 250  # the long one is cut
