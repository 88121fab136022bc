"""Precision and recall of the default lexicon and detectors on the labelled evaluation set.

The set is ``tests/data/moderation_eval.jsonl`` (one object a line: ``text``, ``expected`` categories,
``variant`` for disguised forms); ``tests/unit/core/moderation/test_eval.py`` gates on the same scoring
(``tests/moderation_eval.py``).
Scoring is per (comment, category): a reported category that is not expected is a false positive, an
expected one not reported a false negative. Prints a table and writes bench/results/moderation-eval.json.

Run: ``.venv/bin/python bench/eval_moderation.py [--eval FILE] [--out FILE]``; to score another checkout of
the engine on the same set, put its package first: ``PYTHONPATH=/path/to/checkout .venv/bin/python ...``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

import liveflow
from liveflow.core.moderation import Moderator, load_default_lexicon

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))  # after PYTHONPATH, so another checkout's engine stays the one scored
from tests.moderation_eval import EVAL_FILE, evaluate, load_examples  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "moderation-eval.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", type=Path, default=EVAL_FILE)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    examples = load_examples(args.eval)
    result = evaluate(Moderator.from_entries(load_default_lexicon()), examples)
    print(f"engine: {Path(liveflow.__file__).parent}; eval set: {args.eval} ({len(examples)} comments)")
    print(result.table())
    document = {
        "benchmark": "moderation-eval",
        "engine": str(Path(liveflow.__file__).parent),
        "eval_file": str(args.eval),
        "comments": len(examples),
        "overall": result.overall.as_dict(),
        "variants": result.variants.as_dict(),
        "per_category": {
            name: {"labelled": result.labelled[name], **result.per_category[name].as_dict()}
            for name in sorted(result.per_category)
        },
        "mistakes": [
            {"text": text, "expected": expected, "found": found} for text, expected, found in result.mistakes
        ],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")


if __name__ == "__main__":
    main()
