"""Glorot & Bengio 2010's standard vs normalized init, sigmoid / tanh / softsign / ReLU.

    python experiments/initialization.py               # Table 1 at 5 × 100 units, 5 epochs
    python experiments/initialization.py --width 1000  # the paper's 5 × 1,000 units

At init: layer Jacobians' singular values, gradient variances; in training: hidden-layer
activations on 300 test images (Figures 2–3); Table 1: test error, lr picked on validation.
Every flag but --no-table and the common ones is a field of the study's config. Each
finished row is saved under <out>/rows as it finishes and a rerun of the same command
continues from there; <out>/results.json is written at the end.
"""

from __future__ import annotations

import sys
import time

from cnn_jax import cli, flags
from cnn_jax.results import provenance, save_figure, write_json
from cnn_jax.studies.initialization import config as config_lib
from cnn_jax.studies.initialization import plots
from cnn_jax.studies.initialization import study as study_lib


def build_parser() -> cli.Parser:
    description = (
        "Measure Glorot & Bengio 2010's standard and normalized inits on MNIST: layer "
        "Jacobians and gradient variances at init, saturation during training, and the "
        "test-error table; writes <out>/results.json and PNG figures."
    )
    p = flags.script_parser(
        "initialization.py",
        description,
        config_lib.Study,
        out="runs/initialization",
        seed_default=0,
    )
    p.add_argument("--no-table", action="store_true", help="Skip the Table 1 training.")
    return p


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    started = time.time()
    args = vars(build_parser().parse_args(argv))
    study, table = flags.from_flags(config_lib.Study, args), not args["no_table"]
    mnist = cli.load_mnist(args["data_dir"], progress=not args["no_progress"])
    study_lib.check_data(study, mnist, table=table)
    with cli.RunFolder(args["out"]) as out:
        store = study_lib.open_rows(out.path, study, seed=args["seed"], table=table)
        log = (
            (lambda line: None)
            if args["no_progress"]
            else (lambda line: print(line, file=sys.stderr))
        )
        if line := store.continuing():
            print(line, file=sys.stderr)
        bars = cli.progress_bars(args["no_progress"])
        results = study_lib.measure(
            mnist, study, store, seed=args["seed"], progress=bars, log=log, table=table
        )
        args_json = {k: list(v) if isinstance(v, tuple) else v for k, v in args.items()}
        results = {"args": args_json, **results, "provenance": provenance(started)}
        write_json(out.path / "results.json", results)
        store.finish()
        print(study_lib.format_table(results))
        for file, draw in plots.written(results).items():
            save_figure(draw(results), out.path / file)
    print(f"\n{results['timings']['total_s']:.1f} s in all; results and figures in {args['out']}")
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
