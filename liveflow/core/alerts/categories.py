"""Names of moderation categories in alert messages: code -> name by language.

Layout: :data:`CATEGORY_NAMES` lists the categories of the default lexicon (liveflow/data/lexicon-default.tsv)
and of the contact detectors. Invariant: :func:`category_name` never fails: a category not listed (a custom
lexicon's) is shown as its code.
"""

from __future__ import annotations

from typing import Literal

CATEGORY_NAMES: dict[str, dict[str, str]] = {
    "contact": {"zh": "联系方式", "en": "contact details"},
    "diversion": {"zh": "站外引流", "en": "off-platform diversion"},
    "fraud": {"zh": "诈骗", "en": "fraud"},
    "gambling": {"zh": "赌博", "en": "gambling"},
    "sexual": {"zh": "色情", "en": "sexual content"},
    "abuse": {"zh": "辱骂", "en": "abuse"},
    "ad_law": {"zh": "广告法违禁词", "en": "advertising-law wording"},
}


def category_name(code: str, language: Literal["zh", "en"]) -> str:
    """The category's name in ``language``; the code itself when it is not listed."""
    names = CATEGORY_NAMES.get(code)
    return names[language] if names is not None else code
