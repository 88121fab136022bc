"""Human messages of alert records, in Chinese or English (``AlertConfig.language``).

Layout: ``TEMPLATES[(rule, kind)][language]`` with ``kind`` in ``firing`` / ``resolved`` / ``gave_up`` /
``room_end``, filled by :func:`render` from the record's numbers and the decision's ``facts``; ``RULE_NAMES``
and ``STATUS_NAMES`` / ``SEVERITY_NAMES`` are shared with the notifier's titles.

Invariant: every (rule, kind, language) has a template and every placeholder is supplied, so rendering
never fails (a unit test renders every combination).
"""

from __future__ import annotations

from typing import Any

RULE_NAMES: dict[str, dict[str, str]] = {
    "concurrency_drop": {"zh": "流量骤降", "en": "Audience drop"},
    "interaction_drop": {"zh": "互动率骤降", "en": "Interaction drop"},
    "conversion_drop": {"zh": "转化率骤降", "en": "Conversion drop"},
    "banned_words": {"zh": "违规评论", "en": "Banned words in chat"},
    "room_stalled": {"zh": "数据中断", "en": "Room stalled"},
}
STATUS_NAMES: dict[str, dict[str, str]] = {
    "firing": {"zh": "告警", "en": "FIRING"},
    "resolved": {"zh": "恢复", "en": "RESOLVED"},
}
SEVERITY_NAMES: dict[str, dict[str, str]] = {
    "info": {"zh": "提示", "en": "info"},
    "warning": {"zh": "警告", "en": "warning"},
    "critical": {"zh": "严重", "en": "critical"},
}

_ROOM_END = {
    "zh": "直播间 {room} 已结束，{rule_name}告警随之关闭",
    "en": "Room {room} ended; the {rule_name} alert is closed",
}

TEMPLATES: dict[tuple[str, str], dict[str, str]] = {
    ("concurrency_drop", "firing"): {
        "zh": "直播间 {room} 流量骤降：在线人数连续 {for_s:g} 秒不高于 {value:.0f}，"
        "基线 {baseline:.0f}（此前 {baseline_min:g} 分钟中位数），下降 {drop:.0%}",
        "en": "Room {room} audience drop: online stayed at or below {value:.0f} for {for_s:g} s "
        "vs a baseline of {baseline:.0f} (median of the previous {baseline_min:g} min), down {drop:.0%}",
    },
    ("concurrency_drop", "resolved"): {
        "zh": "直播间 {room} 流量已恢复：在线人数连续 {for_s:g} 秒不低于 {value:.0f}"
        "（告警基线 {baseline:.0f}）",
        "en": "Room {room} audience recovered: online stayed at or above {value:.0f} for {for_s:g} s "
        "(baseline at alert {baseline:.0f})",
    },
    ("interaction_drop", "firing"): {
        "zh": "直播间 {room} 互动率骤降：本窗口 {value:.1%}，"
        "前 {windows} 个窗口中位数 {baseline:.1%}，下降 {drop:.0%}",
        "en": "Room {room} interaction drop: {value:.1%} in this window vs a median of {baseline:.1%} "
        "over the previous {windows} windows, down {drop:.0%}",
    },
    ("interaction_drop", "resolved"): {
        "zh": "直播间 {room} 互动率已恢复：{value:.1%}（告警基线 {baseline:.1%}）",
        "en": "Room {room} interaction recovered: {value:.1%} (baseline at alert {baseline:.1%})",
    },
    ("conversion_drop", "firing"): {
        "zh": "直播间 {room} 转化率骤降：最近 {windows} 个窗口观看-成交转化率 {value:.2%}，"
        "此前 {windows} 个窗口 {baseline:.2%}，下降 {drop:.0%}（观看人数为此前的 {traffic:.0%}）",
        "en": "Room {room} conversion drop: buyers per viewer {value:.2%} over the last {windows} windows "
        "vs {baseline:.2%} over the {windows} before, down {drop:.0%} (viewers at {traffic:.0%} of before)",
    },
    ("conversion_drop", "resolved"): {
        "zh": "直播间 {room} 转化率已恢复：{value:.2%}（告警基线 {baseline:.2%}）",
        "en": "Room {room} conversion recovered: {value:.2%} (baseline at alert {baseline:.2%})",
    },
    ("banned_words", "firing"): {
        "zh": "直播间 {room} {minutes:g} 分钟内 {value:.0f} 条违规评论（{categories}）{wave}",
        "en": "Room {room}: {value:.0f} chat comments with banned words in {minutes:g} min "
        "({categories}){wave}",
    },
    ("banned_words", "resolved"): {
        "zh": "直播间 {room} 该分钟违规评论告警结束",
        "en": "Room {room}: the banned-words minute is over",
    },
    ("room_stalled", "firing"): {
        "zh": "直播间 {room} 数据中断：已 {silence_s:g} 秒未收到任何事件（中断前在线 {online_before}），"
        "可能是采集或推流中断",
        "en": "Room {room} stalled: no events for {silence_s:g} s while other rooms flow "
        "(online before: {online_before}); ingest or broadcast interrupted",
    },
    ("room_stalled", "resolved"): {
        "zh": "直播间 {room} 数据已恢复：中断 {silence_s:g} 秒",
        "en": "Room {room} resumed after {silence_s:g} s without events",
    },
    ("room_stalled", "gave_up"): {
        "zh": "直播间 {room} 中断 {silence_s:g} 秒仍未恢复，视为已下播",
        "en": "Room {room} still silent after {silence_s:g} s; presumed ended",
    },
}

_WAVE = {"zh": "，含刷屏待审评论", "en": ", including a wave of comments held for review"}


def render(language: str, rule: str, kind: str, record: dict[str, Any], facts: dict[str, Any]) -> str:
    """The message for a record; ``kind`` is ``firing``, ``resolved``, ``gave_up`` or ``room_end``."""
    values: dict[str, Any] = {
        "room": record["room_id"],
        "value": record["value"],
        "baseline": record["baseline"],
        "threshold": record["threshold"],
        "rule_name": RULE_NAMES[rule][language],
        **facts,
    }
    if rule == "banned_words" and kind == "firing":
        sep = "、" if language == "zh" else ", "
        values["categories"] = sep.join(f"{name} {count}" for name, count in facts["categories"])
        values["wave"] = _WAVE[language] if facts["review_wave"] else ""
    template = _ROOM_END[language] if kind == "room_end" else TEMPLATES[rule, kind][language]
    return template.format_map(values)
