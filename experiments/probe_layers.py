"""Linear probes, nearest class means, class separation, CKA and PCA for every layer.

python experiments/probe_layers.py --checkpoint runs/mnist_cnn/seed --at-init seed
python experiments/probe_layers.py --checkpoint RUN_A --checkpoint RUN_B --out runs/probe_ab
python experiments/probe_layers.py --checkpoint RUN_A --at-init-of RUN_A --out runs/probe_a
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import jax

from cnn_jax import cli
from cnn_jax import data as data_lib
from cnn_jax.errors import UsageError
from cnn_jax.inside import network, probe_page, probes
from cnn_jax.inside.layers import output_activation
from cnn_jax.training.config import ARCHS
from cnn_jax.training.train import build_model

DEFAULT_ROOT = Path("runs/probe_layers")


class InOrder(argparse.Action):
    """Appends (this flag's kind, value) to ``networks``: the networks keep the order of
    the command line, whichever flag names them."""

    def __call__(self, parser, namespace, values, option_string=None):
        namespace.networks = [*namespace.networks, (self.dest, values)]


def build_parser() -> cli.Parser:
    p = cli.Parser(
        prog="probe_layers.py",
        description="For every layer of each network: a linear probe, nearest-class-mean "
        "accuracy and class separation; linear CKA between layers; a 2-D PCA of each "
        "layer. Writes <out>/results.json, figures and <out>/index.html.",
    )
    p.set_defaults(networks=[])
    p.add_argument("--checkpoint", metavar="RUN_DIR", action=InOrder, dest=network.TRAINED,
                   help="a run folder of experiments/mnist_cnn.py (repeatable)")  # fmt: skip
    p.add_argument("--at-init-of", metavar="RUN_DIR", action=InOrder, dest=network.INIT_OF_RUN,
                   help="that run's network at its initialization (repeatable)")  # fmt: skip
    p.add_argument("--at-init", metavar="ARCH", choices=ARCHS, action=InOrder,
                   dest=network.INIT_OF_ARCH,
                   help="an architecture at its init, with --seed (repeatable)")  # fmt: skip
    p.add_argument("--train-images", type=cli.positive_int, default=2000,
                   help="fit the probes on the first N training images")  # fmt: skip
    p.add_argument("--l2", type=cli.non_negative_float, default=1e-4,
                   help="probe L2 coefficient λ in λ·Σw²")  # fmt: skip
    p.add_argument("--steps", type=cli.positive_int, default=200, help="probe Adam steps")
    p.add_argument("--components", type=cli.positive_int, default=10,
                   help="principal components for the class separation")  # fmt: skip
    cli.add_common(p, out=None, seed_default=0, test_images=1000)
    return p


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    cli.one_lapack_thread()
    # Every input is checked, and every checkpoint read, before anything is computed.
    if not args.networks:
        raise UsageError(
            "give at least one --checkpoint RUN_DIR, --at-init-of RUN_DIR or --at-init ARCH"
        )
    cli.check(args.components <= args.test_images, "--components must be <= --test-images")
    kind, first = args.networks[0]
    first = Path(first).resolve().name + ("" if kind == network.TRAINED else "-init")
    out = Path(args.out or DEFAULT_ROOT / first)
    probe_page.check_out_dir(out)
    init_key, pca_key = jax.random.split(jax.random.key(args.seed))
    nets = network.networks_to_probe(args.networks, seed=args.seed, key=init_key)
    mnist = cli.load_mnist(args.data_dir, progress=not args.no_progress)
    cli.check_count("--train-images", args.train_images, len(mnist.train_labels), "training images")
    cli.check_count("--test-images", args.test_images, len(mnist.test_labels), "test images")
    train = (data_lib.scale(mnist.train_images[: args.train_images]),
             mnist.train_labels[: args.train_images])  # fmt: skip
    test = (data_lib.scale(mnist.test_images[: args.test_images]),
            mnist.test_labels[: args.test_images])  # fmt: skip

    with cli.RunFolder(out):
        start = time.perf_counter()
        runs, scatter, grams = [], [], []
        for net in nets:
            cfg = net["cfg"]
            print(f"{net['label']}:")
            rows, xy, gram = probes.probe_network(
                build_model(cfg), net["params"](), train, test, output=output_activation(cfg.loss),
                l2=args.l2, steps=args.steps, components=args.components,
                key=jax.random.fold_in(pca_key, len(runs)), log=print,
            )  # fmt: skip
            runs.append({"label": net["label"], "source": net["source"], "layers": rows,
                         "cka": probes.cka_matrix(gram, gram).tolist()})  # fmt: skip
            scatter.append(xy)
            grams.append(gram)
        cross = [
            {"a": runs[i]["label"], "b": runs[j]["label"], "layers_a": list(grams[i]),
             "layers_b": list(grams[j]), "matrix": probes.cka_matrix(grams[i], grams[j]).tolist()}
            for i, j in network.cka_pairs(nets)
        ]  # fmt: skip
        results = {
            "settings": {
                "train_images": args.train_images,
                "test_images": args.test_images,
                "l2": args.l2,
                "steps": args.steps,
                "components": args.components,
                "seed": args.seed,
            },  # fmt: skip
            "definitions": probes.DEFINITIONS,
            "runs": runs,
            "cross_cka": cross,
            "seconds": time.perf_counter() - start,
            "command": "python experiments/probe_layers.py " + shlex.join(argv),
        }
        probe_page.write_study(out, results, scatter, test[1])
    print(f"{len(runs)} network(s) in {results['seconds']:.0f} s; page {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
