"""Which networks to probe (a trained run, a run at its initialization, an architecture at
init), which to compare layer by layer, and the probe study over them."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import jax

from cnn_jax import cli, flags
from cnn_jax import data as data_lib
from cnn_jax.errors import UsageError
from cnn_jax.flags import flag
from cnn_jax.inside import probes
from cnn_jax.inside.layers import output_activation
from cnn_jax.training.config import TrainConfig
from cnn_jax.training.run import load_run
from cnn_jax.training.train import build_model, create_train_state, initial_state

# What each flag of experiments/probe_layers.py asks for.
TRAINED, INIT_OF_RUN, INIT_OF_ARCH = "checkpoint", "at_init_of", "at_init"


def first_network_name(requests: Sequence[tuple[str, str]]) -> str:
    """The default output folder's name: the first network's ("<run>" or "<run|arch>-init");
    no network at all is a usage error."""
    if not requests:
        raise UsageError(
            "give at least one --checkpoint RUN_DIR, --at-init-of RUN_DIR or --at-init ARCH"
        )
    kind, first = requests[0]
    return Path(first).resolve().name + ("" if kind == TRAINED else "-init")


def networks_to_probe(
    requests: Sequence[tuple[str, str]],
    *,
    seed: int,
    key: jax.Array,
    epochs: Sequence[int] = (),
) -> list[dict]:
    """The networks ``requests`` names, in order: (TRAINED, RUN_DIR) the run's latest
    checkpoint, or with ``epochs`` its checkpoint of each of those epochs (0: its
    initialization; experiments/mnist_cnn.py --keep-epochs keeps them), one network per
    epoch; (INIT_OF_RUN, RUN_DIR) the same run's network before its first step, built
    from its saved config and seed exactly as training built it; (INIT_OF_ARCH, ARCH) the
    default config of ARCH with ``seed``, initialized from ``key`` folded with the
    network's position in ``requests``.

    Returns [{label, cfg, source, params}], ``params`` a function that builds them (the
    initializations wait until the work starts). Every run folder is read here, so a bad
    one fails (one line) before anything is computed."""
    nets = []
    for i, (kind, value) in enumerate(requests):
        if kind == INIT_OF_ARCH:
            cfg = TrainConfig(arch=value, seed=seed)
            label, source = f"{value} at init", {"checkpoint": None, "seed": seed}
            init_key = jax.random.fold_in(key, i)
            params = lambda cfg=cfg, k=init_key: create_train_state(cfg, k).params  # noqa: E731
        elif kind == TRAINED:
            for epoch in epochs or (None,):
                saved = load_run(value, epoch)
                source = {
                    "checkpoint": str(value),
                    "epoch": saved.epoch,
                    "test_accuracy": saved.test_accuracy,
                }
                label = f"{Path(value).resolve().name} (epoch {saved.epoch})"
                params = lambda saved=saved: saved.params  # noqa: E731
                nets.append(_net(label, saved.config, source, params))
            continue
        else:
            cfg = load_run(value).config
            label = f"{Path(value).resolve().name} at init"
            source = {"checkpoint": None, "initialization_of": str(value), "seed": cfg.seed}
            params = lambda cfg=cfg: initial_state(cfg).params  # noqa: E731
        nets.append(_net(label, cfg, source, params))
    labels = [net["label"] for net in nets]
    for i, net in enumerate(nets):
        if labels.count(net["label"]) > 1:
            net["label"] += f" #{i + 1}"
    return nets


def _net(label: str, cfg: TrainConfig, source: dict, params) -> dict:
    source = {**source, "arch": cfg.arch, "config": cfg.to_dict()}
    return {"label": label, "cfg": cfg, "source": source, "params": params}


def by_epoch(runs: Sequence[dict]) -> list[dict]:
    """Each run folder probed at more than one epoch, its numbers as layer × epoch:
    [{"checkpoint", "label", "activation", "epochs": [e], "test_accuracy": [per epoch],
    "layers": [name], "probe_test_accuracy": {layer: [per epoch]},
    "nearest_mean_accuracy": {layer: [per epoch]}}], in the order the folders first come.
    ``runs``: the "runs" of :func:`probe_all`, whose ``source`` names checkpoint and epoch."""
    folders: dict[str, list[dict]] = {}
    for run in runs:
        if run["source"].get("checkpoint"):
            folders.setdefault(run["source"]["checkpoint"], []).append(run)
    out = []
    for folder, probed in folders.items():
        probed = sorted(probed, key=lambda r: r["source"]["epoch"])
        if len(probed) < 2:
            continue
        names = list(probed[0]["layers"])
        out.append(
            {
                "checkpoint": folder,
                "label": Path(folder).name,
                "activation": probed[0]["source"]["config"].get("activation"),
                "epochs": [r["source"]["epoch"] for r in probed],
                "test_accuracy": [r["source"]["test_accuracy"] for r in probed],
                "layers": names,
                **{
                    key: {n: [r["layers"][n][key] for r in probed] for n in names}
                    for key in ("probe_test_accuracy", "nearest_mean_accuracy")
                },
            }
        )
    return out


def cka_pairs(nets: Sequence[dict]) -> list[tuple[int, int]]:
    """Which networks to compare layer by layer (indices into ``nets``): the first against
    every other, and each trained run against its own initialization."""

    def folder(net: dict, key: str) -> Path | None:
        where = net["source"].get(key)
        return Path(where).resolve() if where else None

    pairs = [(0, j) for j in range(1, len(nets))]
    for i, j in itertools.permutations(range(len(nets)), 2):
        trained = folder(nets[i], "checkpoint")
        if trained and trained == folder(nets[j], "initialization_of") and 0 not in (i, j):
            pairs.append((i, j))
    return pairs


@dataclasses.dataclass(frozen=True)
class ProbeConfig:
    """The probes' data and fit (experiments/probe_layers.py has one flag per field)."""

    # experiments/reproduce.py's scales (the full scale is the defaults)
    PRESETS: ClassVar[dict[str, flags.Preset]] = {
        "smoke": flags.Preset({"train_images": 100, "test_images": 50, "steps": 20}),
        "default": flags.Preset(
            {"steps": 100},
            "100 of the 200 probe Adam steps: the two seed CNNs take about 2 minutes",
        ),
    }

    train_images: int = flag(
        2000, "fit the probes on the first N training images", type=cli.positive_int
    )
    test_images: int = flag(1000, "measure on the first N test images", type=cli.positive_int)
    l2: float = flag(1e-4, "the probes' L2 coefficient λ in λ·Σw²", type=cli.non_negative_float)
    steps: int = flag(200, "full-batch Adam steps of each probe", type=cli.positive_int)
    components: int = flag(
        10, "principal components for the class separation", type=cli.positive_int
    )
    seed: int = flag(0, "root random seed of the initializations and the PCA", type=cli.seed)

    def __post_init__(self):
        if self.components > self.test_images:
            raise UsageError("--components must be <= --test-images")

    def check_data(self, mnist: data_lib.Mnist) -> None:
        n_train, n_test = len(mnist.train_labels), len(mnist.test_labels)
        cli.check_count("--train-images", self.train_images, n_train, "training images")
        cli.check_count("--test-images", self.test_images, n_test, "test images")

    def data(self, mnist: data_lib.Mnist):
        """(train, test), each (images float32 [N, 28, 28, 1] in [0, 1], labels [N])."""
        n, m = self.train_images, self.test_images
        return (
            (data_lib.scale(mnist.train_images[:n]), mnist.train_labels[:n]),
            (data_lib.scale(mnist.test_images[:m]), mnist.test_labels[:m]),
        )


def probe_all(nets, train, test, config: ProbeConfig, key, log=print) -> tuple[dict, list]:
    """Every layer of every network of :func:`networks_to_probe` probed, and the CKA
    between layers within each network and across :func:`cka_pairs`: (the results'
    "runs" and "cross_cka", the PCA scores per network)."""
    runs, scatter, grams = [], [], []
    for net in nets:
        cfg = net["cfg"]
        log(f"{net['label']}:")
        rows, xy, gram = probes.probe_network(
            build_model(cfg),
            net["params"](),
            train,
            test,
            output=output_activation(cfg.loss),
            l2=config.l2,
            steps=config.steps,
            components=config.components,
            key=jax.random.fold_in(key, len(runs)),
            log=log,
        )
        runs.append(
            {
                "label": net["label"],
                "source": net["source"],
                "layers": rows,
                "cka": probes.cka_matrix(gram, gram).tolist(),
            }
        )
        scatter.append(xy)
        grams.append(gram)
    cross = [
        {
            "a": runs[i]["label"],
            "b": runs[j]["label"],
            "layers_a": list(grams[i]),
            "layers_b": list(grams[j]),
            "matrix": probes.cka_matrix(grams[i], grams[j]).tolist(),
        }
        for i, j in cka_pairs(nets)
    ]
    return {"runs": runs, "cross_cka": cross, "by_epoch": by_epoch(runs)}, scatter
