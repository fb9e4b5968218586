"""Why go deep at all? Cybenko's one hidden layer against depth efficiency, measured.

    python experiments/depth_efficiency.py                 # about a minute on 2 CPU cores
    python experiments/depth_efficiency.py --tiny          # seconds: a smoke run

Four parts (cnn_jax/studies/depth/: cybenko, sum_product, trained, regions): (1) one hidden
layer of sigmoid units fitted to 1-D targets, error against width; (2) Delalleau & Bengio's
family F, the deep sum-product network against the product units of its depth-2 expansion;
(3) shallow and deep-narrow ReLU networks trained on Telgarsky's sawtooth and on F; (4) exact
linear-region counts along a line.
Writes <out>/results.json and four PNG figures; progress goes to stderr.
"""

from __future__ import annotations

import sys
import time

from cnn_jax import cli, flags
from cnn_jax.results import provenance, write_json
from cnn_jax.studies.depth.config import DepthConfig
from cnn_jax.studies.depth.study import measure, write_figures


def build_parser() -> cli.Parser:
    """One flag per DepthConfig field (``--region-width`` sets ``region_width``)."""
    p = cli.Parser(prog="depth_efficiency.py", description=__doc__.split("\n")[0])
    flags.add_flags(p, DepthConfig)
    p.add_argument(
        "--tiny", action="store_true", help="run the test-sized config (only --seed is read)"
    )
    p.add_argument("--out", default="runs/depth_efficiency", help="output folder")
    return p


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    args = vars(build_parser().parse_args(argv))
    if args["tiny"]:
        config = DepthConfig.tiny(seed=args["seed"])
    else:
        config = flags.from_flags(DepthConfig, args)
    started = time.time()
    with cli.RunFolder(args["out"]) as folder:
        results = measure(config, log=lambda text: print(text, file=sys.stderr, flush=True))
        write_json(folder.path / "results.json", {**results, "provenance": provenance(started)})
        write_figures(results, folder.path)
    print(f"{results['timings']['total_s']:.1f} s; results and figures in {folder.path}")
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
