"""Quality gate on the labelled evaluation set tests/data/moderation_eval.jsonl (default lexicon).

Each line: ``text``, ``expected`` (categories a moderator should report, ``[]`` for benign) and
``variant`` (true for disguised forms that must be caught). Scoring is per (comment, category): a
reported category that is not expected is a false positive, an expected one not reported a false
negative. Gates: recall >= 0.98 on the variants, precision >= 0.98 over everything. Run with ``-s``
to see the table; it is also the assertion message.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from liveflow.core.moderation import Moderator, load_default_lexicon

EVAL_FILE = Path(__file__).resolve().parents[3] / "data" / "moderation_eval.jsonl"
MIN_VARIANT_RECALL = 0.98
MIN_PRECISION = 0.98


@dataclass(frozen=True)
class Example:
    text: str
    expected: frozenset[str]
    variant: bool


@dataclass
class Score:
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    def add(self, expected: frozenset[str], found: frozenset[str]) -> None:
        self.true_positives += len(expected & found)
        self.false_positives += len(found - expected)
        self.false_negatives += len(expected - found)

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else 1.0


def load_examples() -> list[Example]:
    examples = []
    for line in EVAL_FILE.read_bytes().splitlines():
        record = orjson.loads(line)
        examples.append(Example(record["text"], frozenset(record["expected"]), bool(record["variant"])))
    return examples


def test_eval_set_is_large_varied_and_well_formed() -> None:
    examples = load_examples()
    assert len(examples) >= 300
    assert len({example.text for example in examples}) == len(examples)
    assert sum(example.variant for example in examples) >= 100
    assert sum(not example.expected for example in examples) >= 150
    assert any(example.text.isascii() for example in examples)
    assert all(not example.variant or example.expected for example in examples)


@pytest.fixture(scope="module")
def report() -> tuple[str, Score, Score, list[str]]:
    moderator = Moderator.from_entries(load_default_lexicon())
    per_category: dict[str, Score] = {}
    overall, variants = Score(), Score()
    mistakes: list[str] = []
    counts: Counter[str] = Counter()
    for example in load_examples():
        found = frozenset(hit.category for hit in moderator.scan(example.text))
        for category in example.expected | found:
            per_category.setdefault(category, Score()).add(example.expected & {category}, found & {category})
            counts[category] += category in example.expected
        overall.add(example.expected, found)
        if example.variant:
            variants.add(example.expected, found)
        if found != example.expected:
            mistakes.append(f"  {example.text!r}: expected {sorted(example.expected)}, found {sorted(found)}")
    rows = [f"{'category':<12} {'labelled':>8} {'TP':>4} {'FP':>4} {'FN':>4} {'precision':>9} {'recall':>7}"]
    for category in sorted(per_category):
        score = per_category[category]
        rows.append(
            f"{category:<12} {counts[category]:>8} {score.true_positives:>4} {score.false_positives:>4} "
            f"{score.false_negatives:>4} {score.precision:>9.3f} {score.recall:>7.3f}"
        )
    for name, score in (("overall", overall), ("variants", variants)):
        rows.append(
            f"{name:<12} {'':>8} {score.true_positives:>4} {score.false_positives:>4} "
            f"{score.false_negatives:>4} {score.precision:>9.3f} {score.recall:>7.3f}"
        )
    table = "\n".join([*rows, "mistakes:", *mistakes] if mistakes else rows)
    print("\n" + table)
    return table, overall, variants, mistakes


def test_variant_recall(report: tuple[str, Score, Score, list[str]]) -> None:
    table, _, variants, _ = report
    assert variants.recall >= MIN_VARIANT_RECALL, table


def test_overall_precision(report: tuple[str, Score, Score, list[str]]) -> None:
    table, overall, _, _ = report
    assert overall.precision >= MIN_PRECISION, table
