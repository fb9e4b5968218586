"""Why go deep at all? Cybenko's one hidden layer against depth efficiency, measured.

    python experiments/depth_efficiency.py                 # about a minute on 2 CPU cores
    python experiments/depth_efficiency.py --tiny          # seconds: a smoke run

Four parts (cnn_jax/studies/depth.py): (1) one hidden layer of sigmoid units fitted to 1-D
targets, error against width; (2) Delalleau & Bengio's family F, the deep sum-product network
against the product units of its depth-2 expansion; (3) shallow and deep-narrow ReLU networks
trained on Telgarsky's sawtooth and on F; (4) exact linear-region counts along a line.
Writes <out>/results.json and four PNG figures; progress goes to stderr.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import jax

from cnn_jax import cli
from cnn_jax.results import machine, save_figure, versions, write_json
from cnn_jax.studies.depth import plots as P
from cnn_jax.studies.depth import study as D

DEFAULTS = D.DepthConfig()


HELP = {
    "seeds": "random inits per trained size, vmapped",
    "steps": "full-batch Adam steps",
    "spn_inputs": "powers of 4",
    "threshold": "test RMS / target std that counts as reached",
    "region_nets": "random networks per depth",
}


def build_parser() -> cli.Parser:
    """One flag per DepthConfig field (``--region-width`` sets ``region_width``)."""
    p = cli.Parser(prog="depth_efficiency.py", description=__doc__.split("\n")[0])
    for field in dataclasses.fields(D.DepthConfig):
        default = getattr(DEFAULTS, field.name)
        if isinstance(default, tuple):
            kind, shown = cli.int_list, ",".join(map(str, default))
        else:
            kind = (
                cli.seed
                if field.name == "seed"
                else cli.positive_int
                if field.type == "int"
                else cli.positive_float
            )
            shown = default
        p.add_argument(
            "--" + field.name.replace("_", "-"),
            type=kind,
            default=default,
            help=f"{HELP.get(field.name, '')} (default: {shown})".strip().replace("%", "%%"),
        )
    p.add_argument("--tiny", action="store_true", help="test-sized config (ignores size flags)")
    p.add_argument("--out", default="runs/depth_efficiency", help="output folder")
    return p


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    out, tiny = args.pop("out"), args.pop("tiny")
    config = D.DepthConfig.tiny(seed=args["seed"]) if tiny else D.DepthConfig(**args)
    for problem in config.problems():
        parser.error(problem)
    with cli.RunFolder(out) as folder:
        return run(config, folder.path)


def run(config: D.DepthConfig, out: Path) -> int:
    progress = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    cybenko_key, spn_key, trained_key, regions_key = jax.random.split(
        jax.random.key(config.seed), 4
    )
    timings, start = {}, time.perf_counter()

    progress("[1/4] one hidden layer of sigmoids: error against width")
    fits = D.fit_one_hidden_layer(
        cybenko_key, config.cybenko_widths, seeds=config.seeds, steps=config.steps, lr=config.lr
    )
    fits = {name: {k: v.tolist() for k, v in fit.items()} for name, fit in fits.items()}
    timings["cybenko_s"] = time.perf_counter() - start

    progress("[2/4] family F: deep sum-product network against its depth-2 expansion")
    spn = D.spn_table(spn_key, config.spn_inputs)
    for row in spn:
        progress(
            f"  n={row['n']:4d}: deep {row['deep_units']:4d} units, depth 2 "
            f"{row['shallow_product_units']:6d} product units, gap {row['max_relative_gap']:.1e}"
        )
    timings["spn_s"] = time.perf_counter() - start - sum(timings.values())

    progress("[3/4] trained shallow and deep-narrow ReLU networks: sawtooth and F")
    trained = D.shallow_vs_deep(trained_key, config)
    for row in trained:
        progress(
            f"  {row['task']} {row['size']}: smallest reaching {config.threshold}: shallow "
            f"{row['shallow']['smallest_units_reaching']} units, deep "
            f"{row['deep']['smallest_units_reaching']} units ({row['deep_depth']} layers)"
        )
    timings["trained_s"] = time.perf_counter() - start - sum(timings.values())

    progress("[4/4] linear regions along a line, counted exactly")
    regions = D.regions_by_depth(regions_key, config)
    for row in regions["rows"]:
        progress(
            f"  depth {row['depth']}: deep {row['deep_regions_mean']:.1f} regions, "
            f"shallow ({row['shallow_width']} units) {row['shallow_regions_mean']:.1f}, "
            f"sawtooth {row['sawtooth_regions']}"
        )
    timings["regions_s"] = time.perf_counter() - start - sum(timings.values())
    timings["total_s"] = time.perf_counter() - start

    results = {
        "description": "Why go deep: Cybenko's one hidden layer against Delalleau & Bengio's "
        "depth efficiency, trained networks, and linear regions",
        "config": dataclasses.asdict(config),
        "cybenko": {"widths": list(config.cybenko_widths), "fits": fits},
        "spn": spn,
        "trained": {"threshold": config.threshold, "rows": trained},
        "regions": regions,
        "timings": timings,
        "versions": versions(),
        "machine": machine(),
    }
    write_json(out / "results.json", results)
    save_figure(P.plot_cybenko(config.cybenko_widths, fits), out / "cybenko.png")
    save_figure(P.plot_spn_units(spn), out / "spn_units.png")
    save_figure(P.plot_trained_sizes(trained, config.threshold), out / "trained_sizes.png")
    save_figure(P.plot_regions(regions), out / "regions.png")
    print(f"{timings['total_s']:.1f} s; results and figures in {out}")
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
