"""Linear probes, nearest class means, class separation, CKA and PCA for every layer.

python experiments/probe_layers.py --checkpoint runs/mnist_cnn/seed --at-init seed
python experiments/probe_layers.py --checkpoint RUN_A --checkpoint RUN_B --out runs/probe_ab
python experiments/probe_layers.py --checkpoint RUN_A --at-init-of RUN_A --out runs/probe_a
python experiments/probe_layers.py --checkpoint RUN_A --checkpoint RUN_B --epochs 0,1,2,5,30
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
import time
from pathlib import Path

import jax

from cnn_jax import cli, flags
from cnn_jax.inside import probe_networks, probe_page, probes
from cnn_jax.results import provenance
from cnn_jax.training.config import ARCHS

DEFAULT_ROOT = Path("runs/probe_layers")


def build_parser() -> cli.Parser:
    description = (
        "For every layer of each network: a linear probe, nearest-class-mean accuracy and "
        "class separation; linear CKA between layers; a 2-D PCA of each layer. Writes "
        "<out>/results.json, figures and <out>/index.html."
    )
    p = flags.script_parser("probe_layers.py", description, probe_networks.ProbeConfig, out=None)
    # --checkpoint, --at-init-of and --at-init, each repeatable, gathered in command-line
    # order into ``networks`` [(TRAINED | INIT_OF_RUN | INIT_OF_ARCH, value)].
    p.set_defaults(networks=[])
    add = p.add_argument
    add(
        "--checkpoint",
        metavar="RUN_DIR",
        action=cli.InOrder,
        dest=probe_networks.TRAINED,
        help="a run folder of experiments/mnist_cnn.py, at its latest epoch or at each of "
        "--epochs (repeatable)",
    )
    add(
        "--epochs",
        type=cli.epoch_list,
        default=(),
        metavar="E,E,...",
        help="probe every --checkpoint run at each of these epochs (0: its initialization), "
        "from the checkpoints experiments/mnist_cnn.py --keep-epochs kept",
    )
    add(
        "--at-init-of",
        metavar="RUN_DIR",
        action=cli.InOrder,
        dest=probe_networks.INIT_OF_RUN,
        help="that run's network at its initialization (repeatable)",
    )
    add(
        "--at-init",
        metavar="ARCH",
        choices=ARCHS,
        action=cli.InOrder,
        dest=probe_networks.INIT_OF_ARCH,
        help="an architecture at its initialization, with --seed (repeatable)",
    )
    return p


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    argv, started = sys.argv[1:] if argv is None else argv, time.time()
    args = vars(build_parser().parse_args(argv))
    cli.one_lapack_thread()
    # Every input is checked, and every checkpoint read, before anything is computed.
    first = probe_networks.first_network_name(args["networks"])
    config = flags.from_flags(probe_networks.ProbeConfig, args)
    trained = [value for kind, value in args["networks"] if kind == probe_networks.TRAINED]
    cli.check(not args["epochs"] or trained, "--epochs needs at least one --checkpoint RUN_DIR")
    out = Path(args["out"] or DEFAULT_ROOT / first)
    probe_page.check_out_dir(out)
    init_key, pca_key = jax.random.split(jax.random.key(config.seed))
    nets = probe_networks.networks_to_probe(
        args["networks"], seed=config.seed, key=init_key, epochs=args["epochs"]
    )
    mnist = cli.load_mnist(args["data_dir"], progress=not args["no_progress"])
    config.check_data(mnist)
    train, test = config.data(mnist)
    with cli.RunFolder(out):
        start = time.perf_counter()
        found, scatter = probe_networks.probe_all(nets, train, test, config, pca_key)
        results = {
            "settings": dataclasses.asdict(config),
            "definitions": probes.DEFINITIONS,
            **found,
            "seconds": time.perf_counter() - start,
            "command": "python experiments/probe_layers.py " + shlex.join(argv),
            "provenance": provenance(started),
        }
        probe_page.write_study(out, results, scatter, test[1])
    print(
        f"{len(found['runs'])} network(s) in {results['seconds']:.0f} s; page {out / 'index.html'}"
    )
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
