"""Quality gate on the labelled evaluation set tests/data/moderation_eval.jsonl (default lexicon).

Each line: ``text``, ``expected`` (categories a moderator should report, ``[]`` for benign) and
``variant`` (true for disguised forms that must be caught). Scoring is per (comment, category): a
reported category that is not expected is a false positive, an expected one not reported a false
negative. Gates: recall >= 0.98 on the variants, precision >= 0.98 over everything. Run with ``-s``
to see the table; it is also the assertion message.
"""

from __future__ import annotations

import pytest

from liveflow.core.moderation import Moderator, load_default_lexicon
from tests.moderation_eval import Evaluation, evaluate, load_examples

MIN_VARIANT_RECALL = 0.98
MIN_PRECISION = 0.98


def test_eval_set_is_large_varied_and_well_formed() -> None:
    examples = load_examples()
    assert len(examples) >= 300
    assert len({example.text for example in examples}) == len(examples)
    assert sum(example.variant for example in examples) >= 100
    assert sum(not example.expected for example in examples) >= 150
    assert any(example.text.isascii() for example in examples)
    assert all(not example.variant or example.expected for example in examples)


@pytest.fixture(scope="module")
def report() -> Evaluation:
    result = evaluate(Moderator.from_entries(load_default_lexicon()), load_examples())
    print("\n" + result.table())
    return result


def test_variant_recall(report: Evaluation) -> None:
    assert report.variants.recall >= MIN_VARIANT_RECALL, report.table()


def test_overall_precision(report: Evaluation) -> None:
    assert report.overall.precision >= MIN_PRECISION, report.table()
