"""Every name the review shows has a label in both languages: the shipped lexicon's categories, the contact
detector's, the alert rules, the traffic sources of `enter`, and every summary field of the key figures."""

from __future__ import annotations

import typing

from liveflow.core.alerts.registry import RULES
from liveflow.core.events import Enter
from liveflow.core.moderation import load_default_lexicon
from liveflow.core.moderation.detectors import CONTACT_CATEGORY
from liveflow.tools.report.labels import LABELS, label, label_or
from liveflow.tools.report.page import KEY_FIGURES


def test_shipped_categories_rules_sources_and_figures_are_labelled() -> None:
    categories = {entry.category for entry in load_default_lexicon() if entry.category != "allow"}
    keys = {f"category:{c}" for c in categories | {CONTACT_CATEGORY}} | {f"rule:{r}" for r in RULES}
    source_type = typing.get_type_hints(Enter)["source"]
    sources = {s for member in typing.get_args(source_type) for s in typing.get_args(member)}
    keys |= sources | {"unknown"} | {field for field, _ in KEY_FIGURES}
    missing = sorted(keys - set(LABELS))
    assert missing == []
    assert all(zh and en for zh, en in LABELS.values())


def test_an_unlabelled_name_shows_as_itself() -> None:
    assert label_or("category:my_own", "zh") == "my_own"
    assert label_or("category:contact", "en") == "Contact details"
    assert label("ad", "zh") == "付费投流"
