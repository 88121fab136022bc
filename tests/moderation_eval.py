"""Scoring of the moderation engine on the labelled set tests/data/moderation_eval.jsonl, shared by the
quality gate (tests/unit/core/moderation/test_eval.py) and bench/eval_moderation.py.

Each line: ``text``, ``expected`` (categories a moderator should report, ``[]`` for benign) and
``variant`` (true for disguised forms that must be caught). Scoring is per (comment, category): a
reported category that is not expected is a false positive, an expected one not reported a false
negative. Only the engine given is used, so another checkout can be scored on the same set.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import orjson

EVAL_FILE = Path(__file__).resolve().parent / "data" / "moderation_eval.jsonl"
_HEADER = f"{'category':<12} {'labelled':>8} {'TP':>4} {'FP':>4} {'FN':>4} {'precision':>9} {'recall':>7}"


class _Hit(Protocol):
    category: str


class Scanner(Protocol):
    def scan(self, text: str) -> list[_Hit]: ...


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

    def as_dict(self) -> dict[str, float | int]:
        return {
            "tp": self.true_positives,
            "fp": self.false_positives,
            "fn": self.false_negatives,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
        }


@dataclass
class Evaluation:
    """Scores overall, on the variants and per category; ``labelled``: expected count per category;
    ``mistakes``: (text, expected, found) of every comment scored otherwise than labelled."""

    overall: Score = field(default_factory=Score)
    variants: Score = field(default_factory=Score)
    per_category: dict[str, Score] = field(default_factory=dict)
    labelled: Counter[str] = field(default_factory=Counter)
    mistakes: list[tuple[str, list[str], list[str]]] = field(default_factory=list)

    def table(self) -> str:
        rows = [_HEADER]
        named = [(name, self.per_category[name], self.labelled[name]) for name in sorted(self.per_category)]
        for name, score, count in [*named, ("overall", self.overall, ""), ("variants", self.variants, "")]:
            rows.append(
                f"{name:<12} {count:>8} {score.true_positives:>4} {score.false_positives:>4} "
                f"{score.false_negatives:>4} {score.precision:>9.3f} {score.recall:>7.3f}"
            )
        lines = [f"  {text!r}: expected {expected}, found {found}" for text, expected, found in self.mistakes]
        return "\n".join([*rows, "mistakes:", *lines] if lines else rows)


def load_examples(path: Path = EVAL_FILE) -> list[Example]:
    examples = []
    for line in path.read_bytes().splitlines():
        if line.strip():
            record = orjson.loads(line)
            examples.append(Example(record["text"], frozenset(record["expected"]), bool(record["variant"])))
    return examples


def evaluate(scanner: Scanner, examples: list[Example]) -> Evaluation:
    result = Evaluation()
    for example in examples:
        expected = example.expected
        found = frozenset(hit.category for hit in scanner.scan(example.text))
        result.labelled.update(expected)
        for category in expected | found:
            result.per_category.setdefault(category, Score()).add(expected & {category}, found & {category})
        result.overall.add(expected, found)
        if example.variant:
            result.variants.add(expected, found)
        if found != expected:
            result.mistakes.append((example.text, sorted(expected), sorted(found)))
    return result
