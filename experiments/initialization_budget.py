"""Table 1's networks at one learning rate each for a long budget: test error after every
epoch (Glorot & Bengio 2010, Figure 12 / Table 1 on MNIST).

    python experiments/initialization_budget.py                  # 5 × 1,000 units, 6 epochs
    python experiments/initialization_budget.py --width 100 --epochs 2

Each activation's networks are saved under <out>/rows when they finish, with a checkpoint
per epoch while they train: a rerun of the same command continues; <out>/results.json and
test_error_curves.png are written at the end.
"""

from __future__ import annotations

import sys
import time

from cnn_jax import cli, flags
from cnn_jax.results import provenance, save_figure, write_json
from cnn_jax.studies.initialization import budget as budget_lib
from cnn_jax.studies.initialization import plots


def build_parser() -> cli.Parser:
    description = (
        "Train Glorot & Bengio 2010's Table 1 networks at one learning rate each and record "
        "their MNIST test error after every epoch; writes <out>/results.json and a figure."
    )
    return flags.script_parser(
        "initialization_budget.py",
        description,
        budget_lib.Budget,
        out="runs/initialization/budget",
        seed_default=0,
    )


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    started = time.time()
    args = vars(build_parser().parse_args(argv))
    config = flags.from_flags(budget_lib.Budget, args)
    mnist = cli.load_mnist(args["data_dir"], progress=not args["no_progress"])
    with cli.RunFolder(args["out"]) as out:
        store = budget_lib.open_rows(out.path, config, seed=args["seed"])
        if line := store.continuing():
            print(line, file=sys.stderr)
        log = (
            (lambda line: None)
            if args["no_progress"]
            else (lambda line: print(line, file=sys.stderr))
        )
        results = budget_lib.measure(
            mnist,
            config,
            store,
            seed=args["seed"],
            progress=cli.progress_bars(args["no_progress"]),
            log=log,
        )
        args_json = {k: list(v) if isinstance(v, tuple) else v for k, v in args.items()}
        results = {"args": args_json, **results, "provenance": provenance(started)}
        write_json(out.path / "results.json", results)
        store.finish()
        save_figure(plots.plot_budget_curves(results), out.path / "test_error_curves.png")
    for label, row in results["networks"].items():
        print(f"{label:11s} lr {row['lr']:<6g} test error {row['test_error']:6.2f} %")
    print(f"\n{results['timings']['total_s']:.1f} s in all; results in {args['out']}")
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
