"""Chat moderation core: normalization with an offset map, lexicons, Aho-Corasick matching, detectors.

Pure code (no Kafka, faust or Redis). Typical use::

    moderator = Moderator.from_entries(load_lexicons(["extra.tsv"]))
    hits = moderator.scan("加 微*信 138 1234 5678")
    action(hits)  # -> "block"
    moderator.scan_many(batch_of_comments)  # -> one hit list per comment, faster for batches

See docs/moderation.md for the method, the file formats and the measured numbers.
"""

from liveflow.core.moderation.detectors import CONTACT_CATEGORY, ContactKind, DetectorConfig
from liveflow.core.moderation.engine import MAX_TEXT_CHARS, Hit, Moderator, action
from liveflow.core.moderation.lexicon import (
    ALLOW_CATEGORY,
    SEVERITIES,
    LexiconEntry,
    LexiconError,
    Severity,
    load_default_lexicon,
    load_lexicon,
    load_lexicons,
)
from liveflow.core.moderation.normalize import DEFAULT_NORMALIZATION, NormalizationOptions, normalize

__all__ = [
    "ALLOW_CATEGORY",
    "CONTACT_CATEGORY",
    "DEFAULT_NORMALIZATION",
    "MAX_TEXT_CHARS",
    "SEVERITIES",
    "ContactKind",
    "DetectorConfig",
    "Hit",
    "LexiconEntry",
    "LexiconError",
    "Moderator",
    "NormalizationOptions",
    "Severity",
    "action",
    "load_default_lexicon",
    "load_lexicon",
    "load_lexicons",
    "normalize",
]
