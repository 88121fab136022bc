"""The costs file of ``liveflow report --costs FILE``: fixed costs of a broadcast, for ROI with all costs.

Format (YAML, TOML or JSON by suffix, read by :mod:`liveflow.configfile`): one table ``fixed_costs`` of
``name: amount in yuan`` (a number >= 0 with at most two decimals), e.g. ``主播坑位费: 5000``; an optional
``label`` names the set in the report. The same fixed costs apply to every broadcast of the report.

Invariants: unknown keys, strings for amounts, negative amounts and fractions of a fen are refused, one
line per problem (:class:`~liveflow.configfile.ConfigFileError`); amounts are kept as integer cents.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field, StringConstraints

from liveflow.configfile import ConfigModel, load_table, validate


def _whole_fen(value: float) -> float:
    exponent = Decimal(repr(value)).as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise ValueError("at most two decimals (amounts are yuan, down to the fen)")
    return value


Yuan = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False), AfterValidator(_whole_fen)]
CostName = Annotated[str, StringConstraints(min_length=1, max_length=80)]


class CostsFile(ConfigModel):
    """Fixed costs of each broadcast for `liveflow report --costs` (docs/report.md): amounts in yuan."""

    schema_name: ClassVar[str] = "report-costs"
    schema_title: ClassVar[str] = "liveflow report --costs file"

    label: Annotated[str, StringConstraints(max_length=200)] | None = None
    fixed_costs: dict[CostName, Yuan] = Field(min_length=1)


class Costs:
    """Fixed costs in cents, by name, in the order of the file."""

    def __init__(self, items: dict[str, int], label: str | None = None) -> None:
        self.items = items
        self.label = label

    @property
    def total_cents(self) -> int:
        return sum(self.items.values())


def load_costs(path: Path) -> Costs:
    """Read and check a costs file; raises :class:`~liveflow.configfile.ConfigFileError`."""
    document = validate(CostsFile, load_table(path), source=str(path))
    items = {name: int(Decimal(repr(amount)) * 100) for name, amount in document.fixed_costs.items()}
    return Costs(items, document.label)
