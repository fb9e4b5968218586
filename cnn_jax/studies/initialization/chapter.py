"""The initialization chapter: Glorot & Bengio 2010 (docs/initialization.md)."""

from __future__ import annotations

import shlex

from cnn_jax import stats
from cnn_jax.chapter import FULL, Chapter, Keys, Run, argv, keys, scales
from cnn_jax.tables import g, md_table, published, scalar, signed_interval, tolerance, updates

# The keys of the results.json of initialization.py (study.py), initialization_budget.py
# (budget.py) and initialization_plateau.py (plateau.py) that the tables below read.
STUDY_KEYS = keys(
    Keys(
        "table.*",
        "test_error",
        "test_error_sd",
        "test_errors",
        "chosen_lr",
        "diverged",
        "published_test_error",
        "updates",
        "lrs?",  # older snapshots lack it: their grid is read from the run's command
    ),
    Keys(
        "init.*",
        "jacobian_mean_hidden_to_hidden",
        "jacobian_singular_value",  # the figures' (plots.OF_RESULTS)
        "backprop_var",
        "weight_grad_var",
    ),
    Keys(
        "curves.*",
        "updates",
        "backprop_ratio_first_to_last",
        "weight_grad_ratio_first_to_last",
        "weight_grad_spread",
        "backprop_reversed_at",
        "network",  # the figures'
        "init",
        "mean",
        "std",
        "p98",
    ),
)
BUDGET_KEYS = keys(
    "budget",
    Keys("networks.*", "lr", "updates", "test_error_by_epoch", "published_test_error"),
)
PLATEAU_KEYS = keys(
    "plateau",
    Keys(
        "depths.*",
        "depth",
        "top_floor",
        "top_floor_update",
        "top_exit_update",
        "error_exit_update",
        "final_error",
    ),
    "summary",
)
BUDGET, PLATEAU = "initialization_budget", "initialization_plateau"
STUDY = "cnn_jax.studies.initialization.config:Study"
BUDGET_SIZES = "cnn_jax.studies.initialization.budget:Budget"
PLATEAU_SIZES = "cnn_jax.studies.initialization.plateau:Plateau"
QUIET = argv(no_progress=True)


def jacobian(s: dict) -> str:
    # Glorot & Bengio 2010, Section 4.2.2: mean singular value of the layer Jacobians
    paper = {"standard": published()["glorot_jacobian_std"],
             "normalized": published()["glorot_jacobian_norm"]}  # fmt: skip
    rows = []
    for label, e in s["runs"]["initialization"]["init"].items():
        j = {k: scalar(v) for k, v in e["jacobian_mean_hidden_to_hidden"].items()}
        theirs = ""
        if label.startswith("tanh"):
            theirs = f"≈ {paper['normalized' if label.endswith('N') else 'standard']}"
        rows.append([label, theirs or "–", f"{j['median']:.3f}", f"{j['p05']:.3f}–{j['p95']:.3f}"])
    header = ["network", "paper (Sec. 4.2.2, Shapeset)", "ours (median over seeds)", "5–95 %"]
    return md_table(header, rows)


def _lr_grid(s: dict, row: dict) -> tuple[float, ...]:
    """The learning rates a Table 1 row chose from: stored with the row, else the ``--lrs`` of
    the command that made the run (older snapshots); () when neither says."""
    if row.get("lrs"):
        return tuple(row["lrs"])
    words = shlex.split(s["provenance"]["initialization"].get("command", ""))
    if "--lrs" in words[:-1]:
        return tuple(float(x) for x in words[words.index("--lrs") + 1].split(","))
    return ()


def table1(s: dict) -> str:
    rows = []
    for label, e in s["runs"]["initialization"]["table"].items():
        pub = e.get("published_test_error")
        seeds = len(e.get("test_errors", [e["test_error"]]))
        ours = f"{e['test_error']:.2f}"
        if seeds > 1:
            ours += f" ± {e['test_error_sd']:.2f}"
        lr = f"{e['chosen_lr']}"
        grid = _lr_grid(s, e)
        if stats.edge_of_grid(e["chosen_lr"], grid):
            lr += f" (edge of {{{', '.join(f'{v:g}' for v in grid)}}}: not tuned)"
        if gone := sorted({r["lr"] for r in e.get("diverged", [])}):  # never picked
            lr += f" ({', '.join(f'{v:g}' for v in gone)}: diverged)"
        rows.append([label, "–" if pub is None else f"{pub:.2f}", ours, seeds, lr])
    header = ["network", "paper, Table 1 (%)", "ours (%), mean ± sd", "seeds",
              "learning rate picked on validation"]  # fmt: skip
    return md_table(header, rows)


# Table 1's pairs that differ only in the initialization: (standard, normalized)
PAIRS = (("tanh", "tanh N"), ("softsign", "softsign N"))


def _pairs(rows: dict):
    """(standard network's name, its row, the normalized row, the paper's difference, the
    table's first two cells) of each activation in PAIRS whose two rows ``rows`` holds."""
    for std, norm in PAIRS:
        if std in rows and norm in rows:
            a, b = rows[std], rows[norm]
            paper = a["published_test_error"] - b["published_test_error"]
            yield std, a, b, paper, [f"{std} − {norm}", f"{paper:+.2f}"]


def pairs(s: dict) -> str:
    """Standard minus normalized init's test error of each activation, over matched seeds,
    against the sign of the paper's difference (Table 1) at the run's budget."""
    rows = []
    for std, a, b, paper, cells in _pairs(s["runs"]["initialization"]["table"]):
        if min(len(a.get("test_errors", [])), len(b.get("test_errors", []))) < 2:
            rows.append([*cells, "one seed: no interval", "–"])
            continue
        ci = stats.paired_difference(a["test_errors"], b["test_errors"])
        ratio = a["updates"] / updates(f"glorot_t1_{std}")
        v = stats.gap_verdict(ci, 1 if paper > 0 else -1, budget_ratio=ratio,
                              claim_budget=stats.CLAIM_BUDGET)  # fmt: skip
        rows.append([*cells, signed_interval(ci), f"{v.word}: {v.rule}"])
    header = ["test error difference", "paper (points)",
              "ours, matched seeds: mean [95 % interval] (points)", "verdict"]  # fmt: skip
    return md_table(header, rows)


def _updates(u) -> str:
    return "not within the run" if u is None else f"{u:,}"


def section43(s: dict) -> str:
    """Section 4.3: the gradient-variance ratios at init and at the end of the curves."""
    rows = []
    for label, e in s["runs"]["initialization"].get("curves", {}).items():
        if not label.startswith("tanh") or "backprop_ratio_first_to_last" not in e:
            continue
        back, weight = e["backprop_ratio_first_to_last"], e["weight_grad_ratio_first_to_last"]
        spread = e["weight_grad_spread"]
        rows.append(
            [
                label,
                f"{g(back[0])} → {g(back[-1])}",
                _updates(e["backprop_reversed_at"]),
                f"{g(weight[0])} → {g(weight[-1])}",
                f"{g(spread[0])} → {g(spread[-1])}",
                f"{e['updates'][-1]:,}",
            ]
        )
    if not rows:
        return "(no Section 4.3 curves in this snapshot: rerun the chapter)"
    header = ["network", "Var(∂C/∂s) layer 1 / top layer, init → end",
              "ratio first ≥ 1 at update",
              "Var(∂C/∂W) layer 1 / top hidden layer, init → end",
              "largest / smallest over hidden layers, init → end", "updates"]  # fmt: skip
    return md_table(header, rows)


def _not_in_snapshot(run: str) -> str:
    how = (
        "`python -m cnn_jax.report --docs --from-full-runs DIR --only initialization`"
        if run.endswith(FULL)
        else "a reproduction of the chapter"
    )
    return f"({run} is not in docs/results yet: {how} adds it.)"


def _shown_epochs(n: int, most: int = 5) -> list[int]:
    """Indices of at most ``most`` epochs spread over n, the first and the last among them."""
    if n <= most:
        return list(range(n))
    return sorted({round(k * (n - 1) / (most - 1)) for k in range(most)})


def _last_errors(e: dict) -> list[float]:
    """Each seed's test error after the run's last epoch (a diverged seed's is not finite)."""
    return [seed[-1] for seed in e["test_error_by_epoch"]]


def budget(s: dict, run: str) -> str:
    """Test error of the budget run ``run`` at up to five of its epochs (mean over seeds),
    and after the last: each seed's, their 95 % t-interval and the verdict against Table 1
    at the run's fraction of the paper's updates."""
    r = s["runs"].get(run)
    if r is None:
        return _not_in_snapshot(run)
    networks = r["networks"]
    updates_run = next(iter(networks.values()))["updates"]
    shown = _shown_epochs(len(updates_run))
    rows = []
    for label, e in networks.items():
        per_epoch = [sum(col) / len(col) for col in zip(*e["test_error_by_epoch"], strict=True)]
        pub = e.get("published_test_error")
        last = _last_errors(e)
        cells = [label, e["lr"], *[f"{per_epoch[k]:.2f}" for k in shown]]
        cells.append(" / ".join(f"{v:.2f}" for v in last))
        if len(last) >= 2 and pub is not None:
            ci = stats.mean_interval(last)
            ratio = updates_run[-1] / updates(f"glorot_t1_{label.replace(' ', '_').lower()}")
            v = stats.value_verdict(ci, pub, budget_ratio=ratio, claim_budget=stats.CLAIM_BUDGET)
            cells += [f"{ci.estimate:.2f} [{ci.low:.2f}, {ci.high:.2f}]", pub, v.word]
        else:
            cells += ["one seed: no interval", "–" if pub is None else pub, "–"]
        rows.append(cells)
    width = f"{r['budget']['hidden']} × {r['budget']['width']:,}"
    header = [f"network ({width})", "lr", *[f"{updates_run[k]:,} updates" for k in shown],
              f"after {updates_run[-1]:,}, per seed", "mean [95 % interval]",
              "paper, Table 1", "verdict"]  # fmt: skip
    return md_table(header, rows)


def budget_pairs(s: dict, run: str) -> str:
    """Standard minus normalized init's test error of each activation after the budget run's
    last epoch, over seeds that share their data order, beside the sign of Table 1's
    difference: does the paper's order of each pair appear at this budget?"""
    r = s["runs"].get(run)
    if r is None:
        return _not_in_snapshot(run)
    networks, rows = r["networks"], []
    for _, a, b, paper, cells in _pairs(networks):
        x, y = _last_errors(a), _last_errors(b)
        if min(len(x), len(y)) < 2:
            rows.append([*cells, "one seed: no interval", "–"])
            continue
        ci = stats.paired_difference(x, y)
        v = stats.gap_verdict(ci)  # the sign at this budget; the registry weighs the budget
        same = (ci.low > 0) == (paper > 0) if v.word != stats.INCONCLUSIVE else None
        order = "–" if same is None else ("the paper's order" if same else "the opposite order")
        rows.append([*cells, signed_interval(ci), f"{v.word}: {order}"])
    updates_run = next(iter(networks.values()))["updates"][-1]
    header = ["test error difference", "paper (points)",
              f"ours after {updates_run:,} updates, matched data order: mean [95 % interval]",
              "verdict"]  # fmt: skip
    return md_table(header, rows)


def plateau(s: dict, run: str) -> str:
    """Per depth: the top layer's floor and when it and the error leave their plateaus."""
    r = s["runs"].get(run)
    if r is None:
        return _not_in_snapshot(run)
    rows = []
    for key, e in r["depths"].items():
        saturated = r["summary"][key]["top_saturated_per_seed"]
        exits = [
            _updates(u) if s else "not saturated"
            for u, s in zip(e["top_exit_update"], saturated, strict=True)
        ]
        rows.append(
            [
                e["depth"],
                " / ".join(f"{v:.3f}" for v in e["top_floor"]),
                " / ".join(exits),
                " / ".join(_updates(u) for u in e["error_exit_update"]),
                " / ".join(f"{v:.1f}" for v in e["final_error"]),
            ]
        )
    header = ["hidden layers", "top layer's floor (mean activation), per seed",
              "top layer (saturated: floor < 0.1) leaves its floor at update",
              "error leaves chance at update", "final error (%)"]  # fmt: skip
    return md_table(header, rows)


def headline(runs: dict) -> tuple[str, str, str]:
    """The chapter's main published comparison, Table 1 (tanh N's test error, with its 95 %
    interval and budget ratio), beside the Jacobian at init; verdicts by :mod:`cnn_jax.stats`."""
    j = scalar(runs["initialization"]["init"]["tanh N"]["jacobian_mean_hidden_to_hidden"]["median"])
    paper, tol = published()["glorot_jacobian_norm"], tolerance("glorot_jacobian_norm")
    jacobian = "reproduced" if abs(j - paper) <= tol else "differs"
    row = runs["initialization"]["table"]["tanh N"]
    t1, errors = published()["glorot_t1_tanh_n"], row.get("test_errors") or []
    ratio = row["updates"] / updates("glorot_t1_tanh_n")
    if len(errors) >= 2:
        ci = stats.mean_interval(errors)
        v = stats.value_verdict(ci, t1, budget_ratio=ratio, claim_budget=stats.CLAIM_BUDGET)
        ours = f"{ci.estimate:.2f} % (95 % [{ci.low:.2f}, {ci.high:.2f}], {len(errors)} seeds)"
    else:
        v = stats.budget_gate(ratio, stats.CLAIM_BUDGET) or stats.Verdict("differs", "one seed")
        ours = f"{row['test_error']:.2f} %"
    return (
        f"Table 1, tanh N: {ours} at {ratio:.2g} of the paper's updates; Jacobian {j:.3f}",
        f"{t1} % test error; Jacobian ≈ {paper} (Glorot & Bengio 2010)",
        f"Table 1 {v.word}; Jacobian {jacobian} (within {tol:g})",
    )


CHAPTER = Chapter(
    name="initialization",
    title="Initialization: Glorot & Bengio 2010",
    question="Does the scale of the initial weights decide whether a deep tanh, softsign or "
    "sigmoid network trains at all? We measure activations, back-propagated gradients and "
    "layer Jacobians at init and during training for the standard and the normalized "
    "initialization, retrain the paper's Table 1 networks on MNIST over seeds at a far "
    "smaller budget and once for longer at the paper's width, and time how long a "
    "sigmoid network's saturated top layer holds learning at chance against depth.",
    summary="Does a better starting point fix it?",
    runs=(
        Run(
            "initialization",
            "initialization.py",
            **scales(STUDY, args=QUIET, minutes=(0.4, 2.5, 700.0)),
        ),
        Run(
            PLATEAU,
            "initialization_plateau.py",
            **scales(PLATEAU_SIZES, args=QUIET, minutes=(0.2, 0.2, 20.0)),
        ),
        Run(
            BUDGET,
            "initialization_budget.py",
            **scales(BUDGET_SIZES, args=QUIET, minutes=(0.2, 0.2, 100.0)),
        ),
    ),
    keep={
        "initialization": STUDY_KEYS,
        BUDGET: BUDGET_KEYS,
        BUDGET + FULL: BUDGET_KEYS,
        PLATEAU: PLATEAU_KEYS,
        PLATEAU + FULL: PLATEAU_KEYS,
    },
    # The plateau and budget runs are newer than the first snapshots, which lack them.
    optional=frozenset({BUDGET, PLATEAU}),
    tables={
        "jacobian": jacobian,
        "table1": table1,
        "pairs": pairs,
        "section43": section43,
        "budget": lambda s: budget(s, BUDGET),
        "budget_full": lambda s: budget(s, BUDGET + FULL),
        "budget_full_pairs": lambda s: budget_pairs(s, BUDGET + FULL),
        "plateau": lambda s: plateau(s, PLATEAU),
        "plateau_full": lambda s: plateau(s, PLATEAU + FULL),
    },
    headline=headline,
    figures="cnn_jax.studies.initialization.plots",
)
