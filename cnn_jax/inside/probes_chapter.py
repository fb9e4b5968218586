"""The probes chapter: linear probes, class separation and CKA layer by layer
(docs/probes.md)."""

from __future__ import annotations

from cnn_jax.chapter import FULL, Chapter, FromPreset, Out, Run, Setting, argv, scales
from cnn_jax.tables import md_table, pct

# The keys of probe_layers.py's results.json (probe_page.py) that the tables read.
KEEP = ("runs.*.label", "runs.*.layers")
BY_EPOCH_KEEP = (*KEEP, "by_epoch")

PROBE = "cnn_jax.inside.probe_networks:ProbeConfig"
QUIET = argv(no_progress=True)
SEED_CNN = (*argv(checkpoint=Out("cnn/seed/s0"), at_init_of=Out("cnn/seed/s0")), *QUIET)


def _mlps(epochs: str) -> tuple:
    """probe_layers.py flags for both MLPs of the vanishing chapter at ``epochs``."""
    runs = [Out("vanishing/mlp_sigmoid"), Out("vanishing/mlp_relu")]
    return (*argv(checkpoint=runs, epochs=epochs), *QUIET)


def by_epoch(s: dict, run: str = "probes_mlp") -> str:
    """Linear-probe test accuracy (nearest-class-mean accuracy in brackets) of every hidden
    layer's output and of the network's output, by epoch, from the "probes_mlp" run."""
    found = s["runs"].get(run, {}).get("by_epoch")
    if not found:
        return "(no run probed at several epochs in this snapshot)"
    rows, hidden = [], 0
    for net in found:
        # The activations' outputs: the layers after each dense layer but the last.
        names = [n for n in net["layers"][:-1] if n not in ("input", "flatten")]
        names = [n for n in names if not n.startswith("dense")] + net["layers"][-1:]
        hidden = max(hidden, len(names) - 1)
        for i, epoch in enumerate(net["epochs"]):
            accuracy = net["test_accuracy"][i]
            cells = [
                f"{net['probe_test_accuracy'][n][i]:.3f} ({net['nearest_mean_accuracy'][n][i]:.3f})"
                for n in names
            ]
            rows.append(
                [net["label"], str(epoch), "–" if accuracy is None else pct(accuracy), *cells]
            )
    header = [
        "network",
        "epoch",
        "test acc. (%)",
        *(f"hidden {k + 1}" for k in range(hidden)),
        "output",
    ]
    return md_table(header, rows)


def side_by_side(s: dict, *, cnn: bool) -> str:
    """The CNNs' probes (cnn=True: networks with a conv layer) or the MLPs', side by side, from
    the "probes" run and, when there is one, the "probes_mlp" run."""
    nets = [n for run in ("probes", "probes_mlp") for n in s["runs"].get(run, {}).get("runs", [])]
    nets = [n for n in nets if any(name.startswith("conv") for name in n["layers"]) == cnn]
    if not nets:
        return "(no such network in this run)"
    names = list(nets[0]["layers"])
    rows = []
    for i, name in enumerate(names):
        cells = []
        for net in nets:
            layers = list(net["layers"].values())
            r = layers[i] if i < len(layers) else None
            cells.append(
                "–"
                if r is None
                else f"{r['probe_test_accuracy']:.3f} ({r['nearest_mean_accuracy']:.3f})"
            )
        rows.append([name, *cells])
    return md_table(["layer", *(n["label"] for n in nets)], rows)


def headline(runs: dict) -> tuple[str, str, str]:
    net = runs["probes"]["runs"][0]["layers"]
    first, last = next(iter(net.values())), list(net.values())[-1]
    return (
        f"probe {first['probe_test_accuracy']:.3f} on pixels → "
        f"{last['probe_test_accuracy']:.3f} at the output",
        "–",
        "no published number",
    )


CHAPTER = Chapter(
    name="probes",
    title="Layer by layer: linear probes, separation, CKA",
    question="Where in the network do the classes become linearly separable? Linear probes "
    "(Alain & Bengio 2016), class separation and linear CKA (Kornblith et al. 2019) "
    "compare every layer of the trained seed CNN with the same network at its init, "
    "and follow Nielsen's sigmoid and ReLU 784-30-30-30-30-10 networks through training: "
    "does the sigmoid network's first layer lag behind while its gradient vanishes?",
    summary="How much of the class does each layer make linearly readable?",
    runs=(
        Run(
            "probes",
            "probe_layers.py",
            **scales(PROBE, args=SEED_CNN, minutes=(0.3, 0.7, 2.0)),
            page="probes, separation and CKA",
        ),
        Run(
            "probes_mlp",
            "probe_layers.py",
            smoke=Setting(_mlps("0,1"), 0.3, presets=(FromPreset(PROBE, "smoke"),)),
            default=Setting(
                _mlps("0,1,2"),
                0.3,
                "the 2-epoch MLPs at epochs 0, 1 and 2, with 100 of the 200 probe Adam steps",
                presets=(FromPreset(PROBE, "default"),),
            ),
            full=Setting(_mlps("0,1,2,5,30"), 1.5),
        ),
    ),
    keep={"probes": KEEP, "probes_mlp": BY_EPOCH_KEEP, f"probes_mlp{FULL}": BY_EPOCH_KEEP},
    optional=frozenset({"probes_mlp"}),
    tables={
        "seed": lambda s: side_by_side(s, cnn=True),
        "mlp": lambda s: side_by_side(s, cnn=False),
        "epochs": by_epoch,
        "epochs_full": lambda s: by_epoch(s, f"probes_mlp{FULL}"),
    },
    headline=headline,
    figures="cnn_jax.inside.probe_plots",
)
