"""Precision and recall of the default lexicon and detectors on the labelled evaluation set.

The set is ``tests/data/moderation_eval.jsonl`` (one object a line: ``text``, ``expected`` categories,
``variant`` for disguised forms); ``tests/unit/core/moderation/test_eval.py`` gates on the same scoring.
Scoring is per (comment, category): a reported category that is not expected is a false positive, an
expected one not reported a false negative. Prints a table and writes bench/results/moderation-eval.json.

Run: ``.venv/bin/python bench/eval_moderation.py [--eval FILE] [--out FILE]``; to score another checkout of
the engine on the same set, put its package first: ``PYTHONPATH=/path/to/checkout .venv/bin/python ...``.
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import orjson

import liveflow
from liveflow.core.moderation import Moderator, load_default_lexicon

ROOT = Path(__file__).resolve().parents[1]
EVAL_FILE = ROOT / "tests" / "data" / "moderation_eval.jsonl"
RESULTS = ROOT / "bench" / "results" / "moderation-eval.json"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", type=Path, default=EVAL_FILE)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    moderator = Moderator.from_entries(load_default_lexicon())
    overall, variants = Score(), Score()
    per_category: dict[str, Score] = {}
    labelled: Counter[str] = Counter()
    mistakes = []
    examples = [orjson.loads(line) for line in args.eval.read_bytes().splitlines() if line.strip()]
    for example in examples:
        expected = frozenset(example["expected"])
        found = frozenset(hit.category for hit in moderator.scan(example["text"]))
        labelled.update(expected)
        for category in expected | found:
            per_category.setdefault(category, Score()).add(expected & {category}, found & {category})
        overall.add(expected, found)
        if example["variant"]:
            variants.add(expected, found)
        if found != expected:
            mistakes.append({"text": example["text"], "expected": sorted(expected), "found": sorted(found)})
    print(f"engine: {Path(liveflow.__file__).parent}; eval set: {args.eval} ({len(examples)} comments)")
    print(f"{'category':<12} {'labelled':>8} {'TP':>4} {'FP':>4} {'FN':>4} {'precision':>9} {'recall':>7}")
    rows = [*((name, per_category[name]) for name in sorted(per_category)), ("overall", overall)]
    for name, score in [*rows, ("variants", variants)]:
        count = labelled[name] if name in per_category else ""
        print(
            f"{name:<12} {count:>8} {score.true_positives:>4} {score.false_positives:>4} "
            f"{score.false_negatives:>4} {score.precision:>9.3f} {score.recall:>7.3f}"
        )
    for mistake in mistakes:
        print(f"  {mistake['text']!r}: expected {mistake['expected']}, found {mistake['found']}")
    document = {
        "benchmark": "moderation-eval",
        "engine": str(Path(liveflow.__file__).parent),
        "eval_file": str(args.eval),
        "comments": len(examples),
        "overall": overall.as_dict(),
        "variants": variants.as_dict(),
        "per_category": {
            name: {"labelled": labelled[name], **per_category[name].as_dict()}
            for name in sorted(per_category)
        },
        "mistakes": mistakes,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")


if __name__ == "__main__":
    main()
