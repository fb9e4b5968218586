"""Table 1's rendering: a rate picked at its grid's edge is flagged, and each pair that differs
only in the initialization is read over matched seeds against the paper's sign."""

from cnn_jax.studies.initialization import chapter


def _row(errors, lr, published, **extra):
    return {"test_error": sum(errors) / len(errors), "test_error_sd": 0.1,
            "test_errors": errors, "chosen_lr": lr, "published_test_error": published,
            "updates": 5000, **extra}  # fmt: skip


def _snapshot(command="python experiments/initialization.py --lrs 0.03,0.1,0.3", **rows):
    return {
        "runs": {"initialization": {"table": rows}},
        "provenance": {"initialization": {"command": command}},
    }


def test_an_edge_of_grid_pick_is_flagged_from_the_row_or_the_command():
    s = _snapshot(
        tanh=_row([5.0, 5.1], 0.1, 1.76),
        softsign=_row([5.0, 5.1], 0.3, 1.64),
        sigmoid=_row([90.0, 90.1], 0.05, 2.21, lrs=[0.05, 0.1]),
    )
    table = chapter.table1(s).splitlines()
    assert table[2].endswith("| 0.1 |")  # interior of {0.03, 0.1, 0.3}
    assert table[3].endswith("| 0.3 (edge of {0.03, 0.1, 0.3}: not tuned) |")
    assert table[4].endswith("| 0.05 (edge of {0.05, 0.1}: not tuned) |")  # the row's own grid
    unknown = _snapshot(command="python experiments/initialization.py", tanh=_row([5.0], 0.3, 1.76))
    assert chapter.table1(unknown).splitlines()[2].endswith("| 0.3 |")  # grid not known


def test_pairs_read_the_difference_over_matched_seeds():
    s = _snapshot(
        tanh=_row([5.4, 5.6, 5.5], 0.1, 1.76),
        **{"tanh N": _row([5.0, 5.1, 5.1], 0.1, 1.64)},
    )
    # differences 0.4, 0.5, 0.4: mean 0.43, sd 0.058, t(2) 4.30 -> [0.29, 0.58]
    row = chapter.pairs(s).splitlines()[2]
    assert row.startswith("| tanh − tanh N | +0.12 | +0.43 [+0.29, +0.58] | not comparable")
    s["runs"]["initialization"]["table"]["tanh"]["updates"] = 5_000_000  # the paper's budget
    assert "| reproduced: the interval lies wholly above 0, as published |" in chapter.pairs(s)
    s["runs"]["initialization"]["table"]["tanh"]["test_errors"] = [4.6, 4.5, 4.6]
    assert "| not reproduced: " in chapter.pairs(s)


def _budget(**networks):
    def network(curves, published, lr=0.1):
        epochs = len(curves[0])
        return {"lr": lr, "updates": [5000 * (e + 1) for e in range(epochs)],
                "test_error_by_epoch": curves, "published_test_error": published}  # fmt: skip

    run = {"budget": {"hidden": 5, "width": 1000},
           "networks": {k: network(*v) for k, v in networks.items()}}  # fmt: skip
    return {"runs": {"initialization_budget@full": run}}


def test_a_long_budget_run_shows_five_of_its_epochs_and_each_seeds_last_error():
    # 20 epochs: five are shown, spread from the first to the last (epochs 1, 6, 11, 15 and
    # 20), then the seeds' last errors and their interval.
    curves = [[10.0 - 0.1 * e + s for e in range(20)] for s in (0.0, 0.1, 0.2)]
    better = [[c - 1 for c in seed] for seed in curves]
    s = _budget(tanh=(curves, 1.76), **{"tanh N": (better, 1.64)})
    lines = chapter.budget(s, "initialization_budget@full").splitlines()
    header = lines[0]
    assert [h for h in header.split(" | ") if h.endswith("updates")] == [
        "5,000 updates", "30,000 updates", "55,000 updates", "75,000 updates", "100,000 updates"
    ]  # fmt: skip
    tanh = lines[2]
    assert "| 8.10 / 8.20 / 8.30 |" in tanh and "| 8.20 [" in tanh
    # 100,000 updates are 2 % of the paper's 5 million: no verdict on the value itself.
    assert tanh.endswith("| 1.76 | not comparable (budget 0.02) |")
    pairs = chapter.budget_pairs(s, "initialization_budget@full").splitlines()
    # tanh − tanh N is exactly +1 on every seed: a zero-width interval above 0, the paper's
    # order (+0.12); no softsign rows, no softsign pair.
    assert len(pairs) == 3 and pairs[2].startswith("| tanh − tanh N | +0.12 |")
    assert pairs[2].endswith("| above: the paper's order |")
