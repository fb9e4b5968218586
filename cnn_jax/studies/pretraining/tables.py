"""The study's table as text, from results.json's content (plain numbers: no JAX)."""

from __future__ import annotations


def format_table(results: dict) -> str:
    """The study's table as text (a depth sweep: one table per depth)."""
    if "depths" in results:
        return "\n".join(
            f"\n{depth} hidden layer(s):" + format_table(r)
            for depth, r in results["depths"].items()
        )
    n_hidden = len(results["layers"]) - 1
    head = "".join(f"{f'‖δ{i + 1}‖':>10}" for i in range(n_hidden))
    lines = [
        "",
        results["description"],
        "",
        f"{'start':<27}{'lr':>7}{'last epoch %':>16}{'early stop %':>16}{head}{'δ1/δL':>9}"
        f"{'pretrain s':>12}{'fine-tune s':>13}",
    ]
    for name, r in results["rows"].items():
        deltas = "".join(f"{d:10.2e}" for d in r["delta_norm_median"][:n_hidden])
        error = f"{r['test_error_mean']:.2f} ± {r['test_error_sd']:.2f}"
        early = (
            f"{r['early_stopping_test_error_mean']:.2f} ± {r['early_stopping_test_error_sd']:.2f}"
        )
        lr = f"{r['chosen_lr']:g}{'*' if r.get('chosen_lr_at_edge') else ''}"
        lines.append(
            f"{name:<27}{lr:>7}{error:>16}{early:>16}{deltas}"
            f"{r['first_over_last_hidden_median']:9.3f}{r['pretrain_s']:12.1f}{r['finetune_s']:13.1f}"
        )
    lines.append(
        "(lr: picked on validation, * at the edge of the row's grid; ‖δˡ‖: median over seeds; "
        "fine-tune s of a network's first row includes compiling)"
    )
    lines += _grid_lines(results["rows"]) + _comparison_lines(results.get("comparisons", {}))
    readouts = {name: r["readout"] for name, r in results["rows"].items() if r.get("readout")}
    if readouts:
        lines += [
            "",
            "linear probe accuracy per hidden layer (seed 0), before → after fine-tuning:",
        ]
        for name, ro in readouts.items():
            before, after = ro["before"], ro["after"]
            cells = "  ".join(
                f"{layer} {before[layer]['probe_accuracy']:.3f}"
                f"→{after[layer]['probe_accuracy']:.3f}"
                for layer in before
            )
            lines.append(f"{name:<27}{cells}")
    return "\n".join(lines)


def _grid_lines(rows: dict) -> list[str]:
    """Each row's grid when it was widened or lost a rate to divergence."""
    lines = []
    for name, r in rows.items():
        diverged = {}
        for d in r.get("diverged", []):
            diverged.setdefault(d["lr"], []).append(f"seed {d['seed']} in epoch {d['epoch']}")
        grid = ", ".join(
            f"{lr:g} (diverged: {'; '.join(diverged[lr])})" if lr in diverged else f"{lr:g}"
            for lr in r["lrs"]
        )
        if diverged or r.get("chosen_lr_at_edge"):
            lines.append(f"{name:<27}η grid {{{grid}}}")
    return (
        ["", "learning-rate grids with a diverged rate or an edge pick:", *lines] if lines else []
    )


def _comparison_lines(comparisons: dict) -> list[str]:
    """Each row against the papers' baseline: the paired interval and its verdict."""
    if not comparisons:
        return []
    against = next(iter(comparisons.values()))["against"]
    lines = ["", f"test error (early stopping) minus {against}'s, matched seeds, points:"]
    for name, c in comparisons.items():
        lines.append(f"{name:<27}{c['text']}")
    return lines
