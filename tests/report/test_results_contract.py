"""The results contract: every key a chapter keeps for its tables (its ``keep``) is in the
results.json that its smoke run writes, and every number under it is finite. A study that
renames a key fails here, before a snapshot or a table reads it."""

import json

import pytest

from cnn_jax.chapter import contract_problems
from cnn_jax.report.chapters import CHAPTERS


def test_every_kept_key_is_written_by_the_smoke_run(smoke):
    out, _ = smoke
    checked, problems = 0, []
    for chap in CHAPTERS:
        for run in chap.runs:
            if run.path not in chap.keep:
                continue  # a run no table reads (keras_mlp, the ReLU MLP): no contract
            folder = out / run.path / ("s0" if run.seeded else "")
            results = json.loads((folder / "results.json").read_text())
            problems += [
                f"{run.path}: {p}" for p in contract_problems(results, chap.keep[run.path])
            ]
            checked += 1
    assert checked >= 12
    assert not problems, problems


def test_a_renamed_or_infinite_value_breaks_the_contract():
    results = {"rows": {"a": {"error": 1.0}, "b": {"error": float("nan")}}, "n": [1, None]}
    assert contract_problems(results, ("rows.*.error", "n")) == ["rows.*.error: nan is not finite"]
    assert contract_problems(results, ("rows.*.err",)) == ["rows.*.err: missing"]
    assert contract_problems({"rows": {}}, ("rows.*.error",)) == ["rows.*.error: missing"]


@pytest.mark.parametrize("chap", CHAPTERS, ids=lambda c: c.name)
def test_every_table_reads_a_kept_run(chap):
    """The runs a chapter keeps are its own: a smoke run or one its snapshot stores."""
    paths = {run.path for run in chap.runs}
    for name in chap.keep:
        base = name.removesuffix("@full")
        assert base in paths or chap.is_optional(name), (chap.name, name)
