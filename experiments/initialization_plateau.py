"""How long the top hidden layer of a sigmoid network stays saturated, against depth
(Glorot & Bengio 2010, Section 3.1, Figure 2), and when its test error leaves chance.

    python experiments/initialization_plateau.py                 # 1–5 × 300 units, 10 epochs
    python experiments/initialization_plateau.py --depths 4,5 --epochs 2

Each depth is saved under <out>/rows when it finishes: a rerun of the same command
continues; <out>/results.json and plateau_curves.png are written at the end.
"""

from __future__ import annotations

import sys
import time

from cnn_jax import cli, flags
from cnn_jax.results import provenance, save_figure, write_json
from cnn_jax.studies.initialization import plateau as plateau_lib
from cnn_jax.studies.initialization import plots


def build_parser() -> cli.Parser:
    description = (
        "Train sigmoid networks of 1–5 hidden layers with the standard init and measure how "
        "long the top hidden layer stays saturated and the test error stays at chance; "
        "writes <out>/results.json and a figure."
    )
    return flags.script_parser(
        "initialization_plateau.py",
        description,
        plateau_lib.Plateau,
        out="runs/initialization/plateau",
        seed_default=0,
    )


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    started = time.time()
    args = vars(build_parser().parse_args(argv))
    config = flags.from_flags(plateau_lib.Plateau, args)
    mnist = cli.load_mnist(args["data_dir"], progress=not args["no_progress"])
    with cli.RunFolder(args["out"]) as out:
        store = plateau_lib.open_rows(out.path, config, seed=args["seed"])
        if line := store.continuing():
            print(line, file=sys.stderr)
        log = (
            (lambda line: None)
            if args["no_progress"]
            else (lambda line: print(line, file=sys.stderr))
        )
        results = plateau_lib.measure(mnist, config, store, seed=args["seed"], log=log)
        args_json = {k: list(v) if isinstance(v, tuple) else v for k, v in args.items()}
        results = {"args": args_json, **results, "provenance": provenance(started)}
        write_json(out.path / "results.json", results)
        store.finish()
        save_figure(plots.plot_plateau_curves(results), out.path / "plateau_curves.png")
    for key, row in results["depths"].items():
        print(
            f"{key}: top layer leaves its floor at {row['top_exit_update']}, error leaves "
            f"chance at {row['error_exit_update']} updates (per seed; None: not within the run)"
        )
    print(f"\n{results['timings']['total_s']:.1f} s in all; results in {args['out']}")
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
