"""The results tables in README.md and docs/*.md equal what docs/results/*.json generates."""

import json
import re
import shutil

import pytest

from cnn_jax.chapter import FULL
from cnn_jax.errors import UsageError
from cnn_jax.report import __main__ as report
from cnn_jax.report import chapters, docs, prose, runner
from cnn_jax.studies.cnn import chapter as cnn
from cnn_jax.tables import where_in_spread


def test_committed_docs_equal_their_generated_tables():
    stale = [p.name for p, (old, new) in docs.regenerate(docs.ROOT).items() if old != new]
    assert stale == [], f"run `python -m cnn_jax.report --docs`: {stale} differ from docs/results"


def test_every_table_is_placed_once():
    text = "".join(p.read_text() for p in docs.doc_files(docs.ROOT))
    names = docs.render_blocks(docs.load_snapshots(docs.ROOT))
    for name in names:
        assert text.count(f"<!-- begin generated: {name} -->") == 1, name


def _copy_docs(root):
    """README.md, docs/ (pages, snapshots, figures) and the registry, as --root expects."""
    shutil.copytree(docs.ROOT / "docs", root / "docs")
    shutil.copy(docs.ROOT / "README.md", root / "README.md")
    (root / "cnn_jax").mkdir()
    shutil.copy(docs.ROOT / "cnn_jax" / "published.toml", root / "cnn_jax" / "published.toml")


def test_a_hand_edited_number_is_caught(tmp_path):
    """Copy the docs, change one digit of a generated table, and the comparison must see it."""
    _copy_docs(tmp_path)
    assert report.main(["--docs", "--check", "--root", str(tmp_path)]) == 0
    page = tmp_path / "docs" / "cnn.md"
    text = page.read_text()
    edited = text.replace("| 98.02 |", "| 98.03 |", 1)
    assert edited != text
    page.write_text(edited)
    assert [p.name for p, (o, n) in docs.regenerate(tmp_path).items() if o != n] == ["cnn.md"]
    assert report.main(["--docs", "--check", "--root", str(tmp_path)]) == 1
    assert report.main(["--docs", "--root", str(tmp_path)]) == 0  # rewrites it
    assert page.read_text() == text
    assert report.main(["--docs", "--check", "--root", str(tmp_path)]) == 0


def test_check_fails_on_a_typed_prose_number(tmp_path, capsys):
    _copy_docs(tmp_path)
    page = tmp_path / "docs" / "cnn.md"
    text = page.read_text()
    anchor = "## Where can 98.02 % come from?"
    assert anchor in text
    page.write_text(text.replace(anchor, "One seed once reached 42.4242 %.\n\n" + anchor, 1))
    assert report.main(["--docs", "--check", "--root", str(tmp_path)]) == 1
    line = 1 + text[: text.index(anchor)].count("\n")
    assert f"cnn.md:{line}: 42.4242 has no stored source" in capsys.readouterr().err
    # the same number in a command line or a code block is not prose
    page.write_text(text.replace(anchor, "    python x.py  # 42.4242 %\n\n" + anchor, 1))
    assert report.main(["--docs", "--check", "--root", str(tmp_path)]) == 0


def test_quoted_numbers_leave_out_generated_blocks_and_code():
    text = (
        "a 1.25 % gap and 0.30 points\n"
        "<!-- begin generated: x/y -->\n| 7.77 % |\n<!-- end generated: x/y -->\n"
        "```\n8.88 %\n```\n    9.99 %\nlr 0.01, ±0.5 %, 3 %\n"
    )
    assert prose.quoted(text) == [(1, "1.25"), (1, "0.30")]


def test_check_fails_on_a_changed_figure(tmp_path, capsys):
    _copy_docs(tmp_path)
    figure = tmp_path / "docs" / "cnn" / "optimizers.png"
    figure.write_bytes(figure.read_bytes()[:-100] + bytes(100))
    assert report.main(["--docs", "--check", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "docs/cnn/optimizers.png: figure differs from what docs/results draws" in err
    assert report.main(["--docs", "--root", str(tmp_path)]) == 0  # redraws it
    assert figure.read_bytes() == (docs.ROOT / "docs" / "cnn" / "optimizers.png").read_bytes()


def test_unknown_block_name_is_an_error():
    with pytest.raises(UsageError, match="no generated table"):
        docs.fill("<!-- begin generated: x/y -->\n<!-- end generated: x/y -->", {}, where="t")


def test_trim_keeps_only_the_listed_keys():
    results = {"rows": {"a": {"keep": 1, "drop": [1, 2]}, "b": {"keep": 2}}, "other": 3,
               "runs": [{"label": "x", "layers": {"l": 1}, "big": 0}]}  # fmt: skip
    trimmed = docs.trim(results, ["rows.*.keep", "runs.*.label", "runs.*.layers"])
    assert trimmed == {"rows": {"a": {"keep": 1}, "b": {"keep": 2}},
                       "runs": [{"label": "x", "layers": {"l": 1}}]}  # fmt: skip


def _modified(provenance: dict) -> bool:
    return bool((provenance.get("git") or {}).get("modified"))


def test_snapshot_from_runs_round_trips_through_the_tables(tmp_path):
    """A folder laid out like experiments/reproduce.py's output gives the stored tables back;
    a seeded run (<run>/s0, s1, ...) is shown as the mean (min–max) over its seeds."""
    for chapter in docs.NAMES:
        snap = json.loads(docs.snapshot_path(docs.ROOT, chapter).read_text())
        for run, results in snap["runs"].items():
            path = run.removesuffix(FULL)  # <run>@full: a full-scale folder
            where = tmp_path / ("full" if run != path else "default")
            seeded = path.startswith("cnn/")  # <run>/s0, s1, ... as experiments/reproduce.py
            # a run's own provenance, which a table may read (the command's flags)
            prov = snap["provenance"][run]
            own = {"provenance": prov} if "command" in prov and not _modified(prov) else {}
            for k, r in enumerate(results.get("seeds", [results]) if seeded else [results]):
                folder = where / path / (f"s{k}" if seeded else "")
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "results.json").write_text(json.dumps({**r, **own, "extra": [0] * 10}))
        rebuilt = docs.snapshot_from_runs(tmp_path / "default", chapter, full_dir=tmp_path / "full")
        for name, render in chapters.chapter(chapter).tables.items():
            assert render(rebuilt) == render(snap), f"{chapter}/{name}"
    seed = json.loads(docs.snapshot_path(docs.ROOT, "cnn").read_text())["runs"]["cnn/seed"]
    (tmp_path / "default/cnn/seed/s1").mkdir()
    other = {**seed, "test_accuracy": 0.5, "test_accuracies": [0.5]}
    (tmp_path / "default/cnn/seed/s1/results.json").write_text(json.dumps(other))
    rebuilt = docs.snapshot_from_runs(tmp_path / "default", "cnn")
    assert len(rebuilt["runs"]["cnn/seed"]["seeds"]) == 2
    row = cnn.results(rebuilt).splitlines()[2]
    mean = 100 * (seed["test_accuracy"] + 0.5) / 2
    assert f"| {mean:.2f} (50.00–{100 * seed['test_accuracy']:.2f}) |" in row


def test_a_missing_run_is_one_error_and_an_optional_one_is_kept(tmp_path):
    stored = json.loads(docs.snapshot_path(docs.ROOT, "pretraining").read_text())
    with pytest.raises(UsageError, match="no results.json"):
        docs.snapshot_from_runs(tmp_path, "pretraining", stored)
    (tmp_path / "pretraining").mkdir()
    (tmp_path / "pretraining" / "results.json").write_text(
        json.dumps(stored["runs"]["pretraining"])
    )
    rebuilt = docs.snapshot_from_runs(tmp_path, "pretraining", stored)
    optional = "pretraining_converged_long"
    assert rebuilt["runs"][optional] == stored["runs"][optional]
    assert rebuilt["provenance"][optional] == stored["provenance"][optional]


def test_a_run_of_a_modified_tree_is_refused(tmp_path):
    stored = json.loads(docs.snapshot_path(docs.ROOT, "layers").read_text())
    (tmp_path / "layers").mkdir()
    prov = {"command": "x", "git": {"commit": "0123456789abcdef", "modified": True}}
    results = {**stored["runs"]["layers"], "provenance": prov}
    (tmp_path / "layers" / "results.json").write_text(json.dumps(results))
    with pytest.raises(UsageError, match="modified working tree .commit 0123456789"):
        docs.snapshot_from_runs(tmp_path, "layers")
    prov["git"]["modified"] = False
    (tmp_path / "layers" / "results.json").write_text(json.dumps(results))
    assert docs.snapshot_from_runs(tmp_path, "layers")["provenance"]["layers"] == prov


def test_provenance_from_the_reproduce_done_marker(tmp_path):
    stored = json.loads(docs.snapshot_path(docs.ROOT, "layers").read_text())
    (tmp_path / "layers").mkdir()
    (tmp_path / "layers" / "results.json").write_text(json.dumps(stored["runs"]["layers"]))
    marker = runner.marker(tmp_path, "layers", "done")
    marker.parent.mkdir(parents=True)
    prov = {"command": "python experiments/visualize_layers.py --checkpoint x", "date": "d"}
    marker.write_text(json.dumps({"command": prov["command"], "returncode": 0, "provenance": prov}))
    snap = docs.snapshot_from_runs(tmp_path, "layers")
    assert snap["provenance"]["layers"] == prov
    blocks = docs.render_blocks({**docs.load_snapshots(docs.ROOT), "layers": snap})
    assert f"`{prov['command']}`; d" in blocks["layers/provenance"]


def test_where_a_published_number_sits_among_seeds():
    assert where_in_spread(98.0, [97.5, 97.9]) == "above all 2 seeds"
    assert where_in_spread(98.0, [98.0, 98.4]) == "below all 2 seeds"
    assert where_in_spread(98.0, [97.9, 98.1, 98.2]) == ("inside: 2 of 3 seeds reach it")


def test_full_scale_seeds_fill_the_spread_table(tmp_path):
    """--from-full-runs reads cnn/<net>/s0..sN of a full-scale reproduction into the @full
    runs; the default-scale runs, and any network the folder lacks, keep their stored entries."""
    root = tmp_path / "repo"
    (root / "docs" / "results").mkdir(parents=True)
    for chapter in docs.NAMES:
        src = docs.snapshot_path(docs.ROOT, chapter)
        docs.snapshot_path(root, chapter).write_text(src.read_text())
    full = tmp_path / "full"
    finals = {"cnn/seed": [0.980, 0.982, 0.984], "cnn/deep": [0.990, 0.991, 0.992]}
    for run, accs in finals.items():
        for k, a in enumerate(accs):
            (full / run / f"s{k}").mkdir(parents=True)
            r = {"test_accuracy": a, "test_accuracies": [a - 0.01, a], "epochs": 10}
            (full / run / f"s{k}" / "results.json").write_text(json.dumps(r))
    stored = docs.load_snapshots(root)["cnn"]
    snap = docs.snapshot_from_runs(None, "cnn", stored, full)
    assert snap["runs"]["cnn/seed"] == stored["runs"]["cnn/seed"]
    # a network missing from the full-scale folder keeps whatever the snapshot stored
    kept = stored["runs"].get("cnn/deep_dropout@full")
    assert snap["runs"].get("cnn/deep_dropout@full") == kept
    table = cnn.spread(snap).splitlines()
    stored_full = [r for r in cnn.NETWORKS if r + "@full" in stored["runs"]]
    assert len(table) == 2 + len(set(stored_full) | set(finals))  # header, rule, networks
    seed = next(line for line in table if line.startswith("| seed CNN"))
    deep = next(line for line in table if line.startswith("| our larger deep CNN (`deep`)"))
    # the mean, its 95 % t-interval (t 4.30 · 0.2 / √3 = 0.50), sd and range over 3 seeds
    assert "| 98.20 [97.70, 98.70] | 0.20 | 98.00–98.40 |" in seed
    assert "inconclusive: the interval reaches 98.02" in seed  # the study's 98.02 %
    # our larger network is shown beside the study's deep CNN, never judged by its number
    assert "| 99.10 [98.85, 99.35] |" in deep and "shown, not judged" in deep


def test_only_rebuilds_the_chosen_chapters(tmp_path):
    """--from-runs with --only reads just those chapters' runs; the other snapshots stay."""
    root = tmp_path / "repo"
    (root / "docs" / "results").mkdir(parents=True)
    for path in docs.doc_files(docs.ROOT):
        (root / path.relative_to(docs.ROOT)).write_text(path.read_text())
    for chapter in docs.NAMES:
        docs.snapshot_path(root, chapter).write_text(
            docs.snapshot_path(docs.ROOT, chapter).read_text()
        )
    runs = tmp_path / "runs"
    layers = json.loads(docs.snapshot_path(docs.ROOT, "layers").read_text())["runs"]["layers"]
    stats = layers["statistics"]["layers"]
    first = next(iter(stats))
    changed = {"statistics": {"layers": {**stats, first: {**stats[first], "mean": 123.0}}}}
    (runs / "layers").mkdir(parents=True)
    (runs / "layers" / "results.json").write_text(json.dumps(changed))
    before = {c: docs.snapshot_path(root, c).read_text() for c in docs.NAMES}
    argv = ["--docs", "--from-runs", str(runs), "--only", "layers", "--root", str(root)]
    assert report.main(argv) == 0  # no other chapter's runs are there, and none is read
    after = {c: docs.snapshot_path(root, c).read_text() for c in docs.NAMES}
    assert [c for c in docs.NAMES if before[c] != after[c]] == ["layers"]
    assert (
        json.loads(after["layers"])["runs"]["layers"]["statistics"]["layers"][first]["mean"]
        == 123.0
    )
    with pytest.raises(SystemExit) as e:
        report.main(["--docs", "--only", "nope", "--root", str(root)])
    assert e.value.code == 2


def test_provenance_gives_the_command_as_a_reader_types_it():
    full = "python experiments/mnist_cnn.py --epochs 10 --seed 0 --out /srv/x/cnn/seed/s0"
    assert docs.as_typed(full, "cnn/seed@full") == (
        "python experiments/mnist_cnn.py --epochs 10 --seed 0 --out runs/reproduce/cnn/seed/s0"
    )
    probe = "python experiments/probe_layers.py --checkpoint '/a b/cnn/seed/s0' --out '/a b/probes'"
    assert docs.as_typed(probe, "probes") == (
        "python experiments/probe_layers.py --checkpoint runs/reproduce/cnn/seed/s0 "
        "--out runs/reproduce/probes"
    )
    # the run's path is a whole folder name: "depth" is not found in "/x/depthrun"
    assert docs.as_typed("python d.py --out /x/depthrun/depth", "depth") == (
        "python d.py --out runs/reproduce/depth"
    )
    elsewhere = "python experiments/benchmark.py --out /tmp/bench"  # not a reproduce folder
    assert docs.as_typed(elsewhere, "cnn/benchmark") == "python experiments/benchmark.py --out DIR"
    relative = "python experiments/benchmark.py --out runs/benchmark"
    assert docs.as_typed(relative, "cnn/benchmark") == relative
    assert docs.as_typed("python a.py --out 'unbalanced", "a") == "python a.py --out 'unbalanced"


def test_every_figure_a_page_shows_is_committed():
    """An image a docs page (or the README) links to is a file beside it."""
    link = re.compile(r"!\[[^\]]*\]\(([^)\s]+\.png)\)")
    for page in docs.doc_files(docs.ROOT):
        for target in link.findall(page.read_text()):
            assert (page.parent / target).is_file(), f"{page.name}: {target}"


def test_a_snapshot_stores_curves_to_six_significant_digits_and_other_numbers_whole():
    curve = [0.123456789] * 21  # a curve: more than 20 numbers
    snap = {"runs": {"r": {"seeds": [0.123456789, None, 2], "curve": curve, "name": "a, b"}}}
    text = docs.snapshot_json(snap)
    assert '"seeds": [0.123456789, null, 2]' in text  # one line, whole
    assert '"curve": [' + ", ".join(["0.123457"] * 21) + "]" in text
    assert json.loads(text)["runs"]["r"]["name"] == "a, b"
    with pytest.raises(ValueError):  # strict JSON: a NaN is not a result
        docs.snapshot_json({"runs": {"r": {"x": float("nan")}}})
