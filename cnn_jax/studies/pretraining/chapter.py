"""The pretraining chapter: Hinton 2006, Bengio 2007, Erhan 2010 (docs/pretraining.md)."""

from __future__ import annotations

from cnn_jax import stats
from cnn_jax.chapter import Chapter, Keys, Run, Setting, argv, keys
from cnn_jax.studies.pretraining import verdicts
from cnn_jax.studies.pretraining.runs import CONVERGED, CONVERGED_FULL, DEPTH
from cnn_jax.tables import md_table, mean_sd, published, signed, signed_interval

# The keys of pretraining.py's results.json (measure.py) that the tables below read.
ROW_KEYS = Keys(
    "rows.*",
    "early_stopping_test_error",  # per seed: the intervals and verdicts are computed from them
    "final_test_error",
    "test_error_mean",
    "test_error_sd",
    "early_stopping_test_error_mean",
    "early_stopping_test_error_sd",
    "gap_to_random_init",
    "chosen_lr",
    "lrs",
    "best_epoch",
    "epochs_run",
    "delta_norm_median",
    "first_over_last_hidden_median",
    "readout",
    "updates?",  # the budget behind a row (older snapshots lack it)
)
RUN_KEYS = keys(
    "network",
    ROW_KEYS,
    "input_readout",
    # the figures' (plots.OF_RESULTS): older snapshots lack them
    "rows.*.validation_error_by_epoch?",
    "rows.*.delta_norm?",
    "layers?",
)
CONVERGED_KEYS = (
    *RUN_KEYS,
    "comparisons?",  # each row against the baseline, McNemar's test per seed (newer runs)
)
DEPTH_KEYS = keys(
    "network",
    Keys("depths.*", *RUN_KEYS),
    "depths.*.rows.*.early_stopping_test_error",
)


# The config's presets (config.py's PRESETS, each with why it differs from the defaults),
# named by the script's --preset; the flags given with one win over it.
TINY = argv(preset="tiny", no_progress=True)
# Erhan et al. 2010's question, at a small width: 10 seeds vmapped per row and depth.
DEPTH_SWEEP = argv(
    depths="1,2,3",
    rows="random init,RBM,denoising autoencoder",
    seeds=10,
    lrs="0.3,1,3",
    no_progress=True,
)


def _bengio2007() -> dict:
    """Bengio et al. 2007, Table 2 (MNIST test error), in the order compared."""
    order = published()["bengio2007_table2_ordering"]
    return dict(zip(("RBM", "autoencoder", "supervised greedy", "none"), order, strict=True))


def _erhan2010_gaps() -> tuple[float, float]:
    """Erhan et al. 2010, Table 1: denoising-autoencoder pretraining minus none, 1 and 2
    layers."""
    v = published()
    return (
        round(v["erhan2010_1layer_pretrained"] - v["erhan2010_1layer_uniform"], 2),
        round(v["erhan2010_pretrained"] - v["erhan2010_uniform"], 2),
    )


def _bengio_order(rows: dict) -> bool:
    """RBM, then the autoencoders, then supervised greedy, then no pretraining (Table 2)."""
    e = {k: r["test_error_mean"] for k, r in rows.items()}
    auto = max(e["autoencoder"], e["denoising autoencoder"])
    best_auto = min(e["autoencoder"], e["denoising autoencoder"])
    none = min(e["random init"], e["normalized init"])
    return e["RBM"] < best_auto and auto < e["supervised greedy"] < none


def rows_table(s: dict, run: str = "pretraining") -> str:
    header = ["start", "η (picked on validation)", "test error (%), last epoch",
              "test error (%), best validation epoch", "gap to random init (points)",
              "‖δ¹‖/‖δ³‖"]  # fmt: skip
    if run not in s["runs"]:
        return f"({run} is not in these results)"
    rows = [
        [
            label,
            _eta(r),
            mean_sd(r, "test_error"),
            mean_sd(r, "early_stopping_test_error"),
            signed(r.get("gap_to_random_init")),
            f"{r['first_over_last_hidden_median']:.3f}",
        ]
        for label, r in s["runs"][run]["rows"].items()
    ]
    return md_table(header, rows)


def _readout(r: dict, layer: int, probe: str = "probe_accuracy") -> str:
    """Probe accuracy (%) of hidden layer ``layer`` (0-based) before → after fine-tuning."""
    ro = r.get("readout") or {}
    if not ro:
        return "–"
    before, after = (list(ro[when].values())[layer][probe] for when in ("before", "after"))
    return f"{100 * before:.1f} → {100 * after:.1f}"


def readout(s: dict, run: str = "pretraining") -> str:
    """Per row: ‖δˡ‖ at the start and the probes of the first and last hidden layer."""
    if run not in s["runs"]:
        return f"({run} is not in these results)"
    data = s["runs"][run]
    rows = []
    for label, r in data["rows"].items():
        d = r.get("delta_norm_median") or [None] * 3
        rows.append(
            [
                label,
                *("–" if x is None else f"{x:.2e}" for x in (d[0], d[-2])),
                f"{r['first_over_last_hidden_median']:.3f}",
                _readout(r, 0),
                _readout(r, -1),
                _readout(r, -1, "nearest_mean_accuracy"),
            ]
        )
    header = ["start", "‖δ¹‖", "‖δ³‖", "‖δ¹‖/‖δ³‖",
              "linear probe h1 (%), before → after",
              "linear probe h3 (%), before → after",
              "nearest class mean h3 (%), before → after"]  # fmt: skip
    pixels = data.get("input_readout") or {}
    table = md_table(header, rows)
    if pixels:
        table += (
            f"\n\nOn the pixels themselves: linear probe {100 * pixels['probe_accuracy']:.1f} %, "
            f"nearest class mean {100 * pixels['nearest_mean_accuracy']:.1f} %."
        )
    return table


def _eta(r: dict) -> str:
    """The picked η, flagged when it sits on an edge of the row's grid."""
    if r.get("chosen_lr") is None:
        return "–"
    return f"{r['chosen_lr']:g}" + verdicts.edge_note(r)


def _gap_cells(label: str, r: dict, rows: dict, base: str | None) -> list[str]:
    """[gap to the baseline with its 95 % interval, the verdict and its rule]."""
    if base is None or label == base:
        return ["–", "(the baseline)" if label == base else "–"]
    v = verdicts.gap_verdict(label, r, rows[base])
    if v is None:
        return ["–", "one seed: no interval"]
    i = v.interval
    return [signed_interval(i), f"{v.word}: {v.rule} ({i.method})"]


def converged(s: dict, name: str = CONVERGED) -> str:
    run = s["runs"].get(name)
    if run is None:
        return "(the converged run is not in these results)"
    rows, base = [], verdicts.baseline_of(run["rows"])
    for label, r in run["rows"].items():
        rows.append(
            [
                label,
                _eta(r),
                r["epochs_run"],
                ", ".join(map(str, r["best_epoch"])),
                mean_sd(r, "early_stopping_test_error"),
                mean_sd(r, "test_error"),
                *_gap_cells(label, r, run["rows"], base),
                f"{r['first_over_last_hidden_median']:.3f}",
            ]
        )
    header = [
        "start",
        "η",
        "epochs run",
        "best validation epoch per seed",
        "test error (%), best validation epoch",
        "test error (%), last epoch",
        f"gap to {base} (points), 95 % interval",
        "verdict",
        "‖δ¹‖/‖δ³‖",
    ]
    return md_table(header, rows)


def converged_seeds(s: dict, name: str = CONVERGED_FULL) -> str:
    """Per row of a converged run: each seed's test error at its best validation epoch, the
    row's 95 % t-interval, and per matched seed McNemar's exact test against the baseline on
    the test images (how many seeds differ at p < 0.05, and which way)."""
    run = s["runs"].get(name)
    if run is None:
        return "(the converged run is not in these results)"
    comparisons = run.get("comparisons") or {}
    rows = []
    for label, r in run["rows"].items():
        errors = r.get("early_stopping_test_error") or []  # older snapshots: mean ± sd only
        i = stats.mean_interval(errors) if len(errors) >= 2 else None
        tests = comparisons.get(label, {}).get("mcnemar") or []
        better = sum(1 for t in tests if t["p_value"] < 0.05 and t["only_a"] > t["only_b"])
        worse = sum(1 for t in tests if t["p_value"] < 0.05 and t["only_a"] < t["only_b"])
        rows.append(
            [
                label,
                " / ".join(f"{e:.2f}" for e in errors) or "–",
                "–" if i is None else f"{i.estimate:.2f} [{i.low:.2f}, {i.high:.2f}]",
                "–" if not tests else f"{better} lower, {worse} higher, of {len(tests)}",
                "–" if not tests else f"{min(t['p_value'] for t in tests):.2g}",
            ]
        )
    header = ["start", "test error (%) per seed, best validation epoch",
              "mean, 95 % t-interval", "seeds with a McNemar p < 0.05 against the baseline",
              "smallest McNemar p"]  # fmt: skip
    return md_table(header, rows)


def depth(s: dict) -> str:
    run = s["runs"].get(DEPTH)
    if run is None:
        return "(the depth sweep is not in these results)"
    rows = []
    for hidden, d in run["depths"].items():
        base = d["rows"].get("random init", {}).get("early_stopping_test_error_sd")
        baseline = verdicts.baseline_of(d["rows"])
        for label, r in d["rows"].items():
            e = r["early_stopping_test_error"]
            sd = r["early_stopping_test_error_sd"]
            rows.append(
                [
                    hidden,
                    label,
                    _eta(r),
                    mean_sd(r, "early_stopping_test_error"),
                    f"{min(e):.2f}–{max(e):.2f}",
                    *_gap_cells(label, r, d["rows"], baseline),
                    "–" if not base else f"{sd / base:.2f}",
                ]
            )
    header = ["hidden layers", "start", "η",
              "test error (%), best validation epoch, mean ± sd", "min–max over seeds",
              "gap to random init (points), 95 % interval", "verdict",
              "sd / random init's sd"]  # fmt: skip
    return md_table(header, rows)


def gaps(s: dict) -> str:
    """Each row's gap to random init here, beside the published gaps."""
    runs = s["runs"]
    bengio, erhan = _bengio2007(), _erhan2010_gaps()
    theirs = {
        "RBM": (bengio["RBM"] - bengio["none"], None),
        "autoencoder": (bengio["autoencoder"] - bengio["none"], None),
        "denoising autoencoder": (None, erhan),
        "supervised greedy": (bengio["supervised greedy"] - bengio["none"], None),
    }

    def gap(run: str, label: str):
        """The row's mean test error (best validation epoch) minus its run's baseline's."""
        rows = (runs.get(run) or {}).get("rows", {})
        base, key = verdicts.baseline_of(rows), "early_stopping_test_error_mean"
        if label not in rows or base is None or label == base:
            return "–"
        return signed(rows[label][key] - rows[base][key])

    def depth_gap(label: str) -> str:
        d = (runs.get(DEPTH) or {}).get("depths", {})
        found = [
            f"{k}: {signed(v['rows'][label].get('gap_to_random_init'))}"
            for k, v in d.items()
            if label in v["rows"]
        ]
        return ", ".join(found) or "–"

    rows = []
    for label in runs["pretraining"]["rows"]:
        if label == "random init":
            continue
        b, e = theirs.get(label, (None, None))
        rows.append(
            [
                label,
                gap("pretraining", label),
                gap(CONVERGED, label),
                gap(CONVERGED_FULL, label),
                depth_gap(label),
                signed(b),
                "–" if e is None else f"1 layer {e[0]:+.2f}, 2 layers {e[1]:+.2f}",
            ]
        )
    header = ["start", "ours, default run", "ours, converged, 3 × 100",
              "ours, converged, 3 × 500", "ours, depth sweep (hidden layers: gap)",
              "Bengio et al. 2007, Table 2", "Erhan et al. 2010, Table 1"]  # fmt: skip
    return md_table(header, rows)


def headline(runs: dict) -> tuple[str, str, str]:
    """The converged comparison of RBM against the baseline, its 95 % interval and the
    verdict that follows from it (:mod:`.verdicts`); without one, the default run's order."""
    r, b = runs["pretraining"]["rows"], _bengio2007()
    key = "early_stopping_test_error_mean"
    for run in (CONVERGED_FULL, CONVERGED):  # the larger network first
        rows = runs.get(run, {}).get("rows", {})
        base = verdicts.baseline_of(rows)
        if "RBM" in rows and base is not None:
            v = verdicts.gap_verdict("RBM", rows["RBM"], rows[base])
            if v is None:
                continue
            rbm, none, i = rows["RBM"][key], rows[base][key], v.interval
            hidden = runs[run]["network"].split("-")[1:-1]  # "784-500-500-500-10"
            units = f"{len(hidden)} × {hidden[0]}" if len(set(hidden)) == 1 else "-".join(hidden)
            edges = [n for n in ("RBM", base) if verdicts.edge_note(rows[n])]
            return (
                f"converged, η tuned, {units} units, {verdicts.seeds_of(rows['RBM'])} seeds: "
                f"RBM {rbm:.2f} %, {base} {none:.2f} %",
                f"DBN {b['RBM']} %, no pretraining {b['none']} % (Bengio et al. 2007)",
                f"gap {i.estimate:+.2f} points, 95 % interval [{i.low:+.2f}, {i.high:+.2f}] "
                f"({i.method}), theirs {b['RBM'] - b['none']:+.1f}: {v.word}"
                + (f"; η at its grid's edge for {' and '.join(edges)}" if edges else ""),
            )
    key = key if key in r["RBM"] else "test_error_mean"
    return (
        f"RBM {r['RBM'][key]:.2f} %, random init {r['random init'][key]:.2f} % error",
        f"DBN {b['RBM']} %, no pretraining {b['none']} % (Bengio et al. 2007)",
        ("same order" if _bengio_order(r) else "another order")
        + ", higher errors at a far smaller budget",
    )


CHAPTER = Chapter(
    name="pretraining",
    title="Unsupervised pretraining: Hinton 2006, Bengio 2007, Erhan 2010",
    question="Before good initializations and ReLUs, deep networks were started from layers "
    "trained one at a time without labels. Does pretraining (RBMs, autoencoders, "
    "denoising autoencoders, supervised greedy) still beat a random start on MNIST, and "
    "does it reduce the spread over seeds?",
    summary="Does greedy layer-wise pretraining cure the vanishing gradient?",
    runs=(
        Run(
            "pretraining",
            "pretraining.py",
            smoke=Setting(
                argv(
                    hidden=8,
                    images=100,
                    seeds=2,
                    epochs=1,
                    pretrain_epochs=1,
                    grad_images=50,
                    filters=4,
                    no_progress=True,
                ),
                0.3,
            ),
            default=Setting(
                argv(
                    hidden="250,250,250",
                    images=3000,
                    validation=2000,
                    lrs="0.1,0.3,1",
                    no_progress=True,
                ),
                1.7,
                "3 × 250 instead of 3 × 500 units, 3,000 of the default 10,000 training "
                "images, 2,000 of the 10,000 validation images, and the rates 0.1, 0.3, 1 "
                "(η = 3 was never picked at this budget); every row still picks its η on "
                "validation with 5 seeds vmapped: the default takes about 16 minutes",
            ),
            full=Setting(
                argv(preset="full", seeds=2, epochs=3, pretrain_epochs=1, no_progress=True), 250.0
            ),
        ),
        Run(
            "pretraining_converged",
            "pretraining.py",
            smoke=Setting((*TINY, *argv(rows="random init,RBM", patience=1)), 0.3),
            default=Setting(
                argv(
                    hidden="50,50,50",
                    images=2000,
                    validation=1000,
                    epochs=20,
                    filters=16,
                    patience=3,
                    rows="random init,RBM",
                    seeds=2,
                    lrs="0.3,1",
                    no_progress=True,
                ),
                0.3,
                "3 × 50 on 2,000 images: the recorded runs on all 50,000 take 12 minutes (3 × "
                "100) and about 3.5 hours (3 × 500, 4 rows of 6 seeds at 4 rates, the full "
                "scale) on a 2-core CPU",
            ),
            full=Setting(
                argv(
                    preset="converged",
                    rows="random init (zero biases),normalized init,RBM,denoising autoencoder",
                    seeds=6,
                    no_progress=True,
                ),
                210.0,
            ),
        ),
        Run(
            "pretraining_depth",
            "pretraining.py",
            smoke=Setting(
                (*TINY, *argv(depths="1,2", rows="random init,denoising autoencoder")), 0.3
            ),
            default=Setting(
                (
                    *DEPTH_SWEEP,
                    *argv(hidden=50, images=1000, validation=500, epochs=8, patience=3, filters=16),
                ),
                0.9,
                "layers of 50, 1,000 images and at most 8 epochs: the recorded sweep (layers "
                "of 100, 2,000 images, at most 50 epochs, in the docs) took 59 minutes beside "
                "another long run on a 2-core CPU",
            ),
            full=Setting(
                (
                    *DEPTH_SWEEP,
                    *argv(
                        hidden=100, images=2000, validation=1000, epochs=50, patience=5, filters=16
                    ),
                ),
                60.0,
            ),
        ),
    ),
    keep={
        "pretraining": RUN_KEYS,
        CONVERGED: CONVERGED_KEYS,
        CONVERGED_FULL: CONVERGED_KEYS,
        DEPTH: DEPTH_KEYS,
    },
    optional=frozenset({CONVERGED, DEPTH}),
    tables={
        "default": rows_table,
        "readout": readout,
        "gaps": gaps,
        "converged": converged,
        "converged_full": lambda s: converged(s, CONVERGED_FULL),
        "converged_full_seeds": converged_seeds,
        "depth": depth,
    },
    headline=headline,
    figures="cnn_jax.studies.pretraining.plots",
)
