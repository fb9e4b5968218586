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
        f"{'start':<24}{'lr':>6}{'last epoch %':>16}{'early stop %':>16}{head}{'δ1/δL':>9}"
        f"{'pretrain s':>12}{'fine-tune s':>13}",
    ]
    for name, r in results["rows"].items():
        deltas = "".join(f"{d:10.2e}" for d in r["delta_norm_median"][:n_hidden])
        error = f"{r['test_error_mean']:.2f} ± {r['test_error_sd']:.2f}"
        early = (
            f"{r['early_stopping_test_error_mean']:.2f} ± {r['early_stopping_test_error_sd']:.2f}"
        )
        lines.append(
            f"{name:<24}{r['chosen_lr']:>6g}{error:>16}{early:>16}{deltas}"
            f"{r['first_over_last_hidden_median']:9.3f}{r['pretrain_s']:12.1f}{r['finetune_s']:13.1f}"
        )
    lines.append(
        "(lr: picked on validation; ‖δˡ‖: median over seeds; fine-tune s of a network's first "
        "row includes compiling)"
    )
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
            lines.append(f"{name:<24}{cells}")
    return "\n".join(lines)
