"""The alert rules the engine runs: one line per rule.

Order matters where rules meet the same fact or fall due at the same instant: they are asked in this order
(a ``filters_data`` rule such as ``room_stalled`` first, so that it judges a fact before the rules it
gates). A new rule is its module under :mod:`liveflow.core.alerts.rules` plus its line here; its
parameters, file and CLI validation, state, checkpoint and messages come from the module.
"""

from __future__ import annotations

from typing import Any

from liveflow.core.alerts.rule import Rule
from liveflow.core.alerts.rules.banned_words import BannedWords
from liveflow.core.alerts.rules.concurrency_drop import ConcurrencyDrop
from liveflow.core.alerts.rules.conversion_drop import ConversionDrop
from liveflow.core.alerts.rules.interaction_drop import InteractionDrop
from liveflow.core.alerts.rules.room_stalled import RoomStalled

REGISTRY: tuple[type[Rule[Any]], ...] = (
    RoomStalled,
    ConcurrencyDrop,
    InteractionDrop,
    ConversionDrop,
    BannedWords,
)

BY_NAME: dict[str, type[Rule[Any]]] = {rule.name: rule for rule in REGISTRY}
RULES: tuple[str, ...] = tuple(BY_NAME)
