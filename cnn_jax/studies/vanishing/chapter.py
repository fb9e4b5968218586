"""The vanishing-gradient chapter: Nielsen's chapter 5 (docs/vanishing.md)."""

from __future__ import annotations

from cnn_jax.chapter import Chapter, FromPreset, Keys, Run, Setting, argv, keys, scales
from cnn_jax.tables import md_table, pct, published
from cnn_jax.training.config import RESULT_KEYS

# His chapter-5 networks, 2 to 4 hidden layers of 30 (study.Sweep's default ``hidden``).
NIELSEN_NETWORKS = tuple("784-" + "30-" * n + "10" for n in (2, 3, 4))
# The keys of results.json (study.py's ``run``) that the tables below read.
GRADIENT_KEYS = keys(
    Keys(
        "delta_norms.*",
        "layers",
        "published",
        "median",
        "p01",
        "p99",
        "published_percentile",
        "median_shrink",
    ),
    "mean_field",
    Keys("comparison.*", "median", "median_shrink", "network", "p05", "p95"),
    Keys(
        "training.*",
        "train_accuracy",
        "test_accuracy",
        "epoch",  # the figures' (plots.OF_RESULTS)
        "test_epoch",
        "delta_norm",
    ),
    # the band over training seeds only of Nielsen's own networks (nielsen_training.png)
    *(f"training.{name}.delta_norm_band?" for name in NIELSEN_NETWORKS),
    Keys(
        "nielsen_training.*",
        "layers",
        "epoch",
        "published",
        "ours_min",
        "ours_median",
        "ours_max",
        "percentile",
        "inside_min_max",
        "inside_p10_p90",
        "ratio_epochs",
        "ratio_published",
        "ratio_ours",
        "seeds",
    ),
)

SWEEP = "cnn_jax.studies.vanishing.study:Sweep"
TRAINING = "cnn_jax.studies.vanishing.study:Training"
# Nielsen's network2.py settings for his chapter-5 784-30-30-30-30-10
NIELSEN = (FromPreset("cnn_jax.training.config:TrainConfig", "nielsen"),)


def mlp(activation: str) -> Run:
    """Nielsen's MLP with ``activation``; the probes chapter probes the epochs kept."""
    own = argv(no_progress=True, activation=activation)
    return Run(
        f"vanishing/mlp_{activation}",
        "mnist_cnn.py",
        smoke=Setting(
            (*own, *argv(limit=500, test_limit=200, epochs=1, keep_epochs="0,1")),
            0.2,
            presets=NIELSEN,
        ),
        default=Setting(
            (*own, *argv(limit=50000, epochs=2, keep_epochs="0,1,2")),
            0.5,
            "2 of Nielsen's 30 epochs (10,000 of 150,000 updates): 30 take about 3 minutes each",
            presets=NIELSEN,
        ),
        full=Setting(
            (*own, *argv(limit=50000, epochs=30, keep_epochs="0,1,2,5,30")), 3.0, presets=NIELSEN
        ),
    )


def nielsen(s: dict) -> str:
    rows = []
    for name, e in s["runs"]["vanishing/gradients"]["delta_norms"].items():
        if not e.get("published"):
            continue
        for i, layer in enumerate(e["layers"]):
            rows.append(
                [
                    name if i == 0 else "",
                    layer,
                    f"{e['published'][i]:.4f}",
                    f"{e['median'][i]:.4f}",
                    f"{e['p01'][i]:.4f}–{e['p99'][i]:.4f}",
                    f"{e['published_percentile'][i]:.0f}",
                ]
            )
    header = ["network", "hidden layer",
              "Nielsen (fig/norms_during_training_*.json, epoch 0)", "our median",
              "our p01–p99", "percentile of Nielsen's value"]  # fmt: skip
    return md_table(header, rows)


def mean_field(s: dict) -> str:
    """Nielsen's sigmoid networks, and the ReLU network of the comparison."""
    run = s["runs"]["vanishing/gradients"]
    mf = run["mean_field"]
    nets = [("sigmoid", name, e) for name, e in run["delta_norms"].items()]
    nets += [
        ("relu", f"{label}, {e.get('network', '')}", e)
        for label, e in run["comparison"].items()
        if label.lower().startswith("relu")
    ]
    rows = [
        [
            name,
            act,
            f"{mf[act]['predicted_shrink']:.2f}",
            ", ".join(f"{x:.2f}" for x in e["median_shrink"]),
        ]
        for act, name, e in nets
    ]
    header = ["network", "activation", "computed 1/√χ1", "measured median shrink per layer"]
    return md_table(header, rows)


def comparison(s: dict) -> str:
    run = s["runs"]["vanishing/gradients"]
    rows = []
    for label, e in run["comparison"].items():
        med, t = e["median"], run.get("training", {}).get(label)
        after = f"{t['train_accuracy'][-1]:.3f} / {t['test_accuracy'][-1]:.3f}" if t else "–"
        rows.append([label, ", ".join(f"{m:.2g}" for m in med), f"1/{med[-2] / med[0]:.3g}", after])
    header = ["network", "median ‖δˡ‖ at init, h1 … last hidden, output",
              "h1 / last hidden", "after training: train / test accuracy"]  # fmt: skip
    return md_table(header, rows)


_NIELSEN_EPOCHS = (0, 10, 100, 499)  # of his recorded epochs, the ones shown


def _no_overlay(run: dict) -> str | None:
    if run.get("nielsen_training"):
        return None
    return "*(not in the stored run: `vanishing_gradient.py --train` writes `nielsen_training`)*"


def nielsen_training(s: dict) -> str:
    """Nielsen's ‖δˡ‖ at some of his recorded epochs beside our median (min–max) over
    training seeds, and the percentage of our seeds below his value."""
    run = s["runs"]["vanishing/gradients"]
    if note := _no_overlay(run):
        return note
    shown = [
        e for e in _NIELSEN_EPOCHS if any(e in o["epoch"] for o in run["nielsen_training"].values())
    ]
    rows = []
    for name, o in run["nielsen_training"].items():
        for i, layer in enumerate(o["layers"]):
            cells = []
            for epoch in shown:
                if epoch not in o["epoch"]:
                    cells.append("–")
                    continue
                k = o["epoch"].index(epoch)
                cells.append(
                    f"{o['published'][k][i]:.2g} · {o['ours_median'][k][i]:.2g} "
                    f"({o['ours_min'][k][i]:.2g}–{o['ours_max'][k][i]:.2g}) · "
                    f"{o['percentile'][k][i]:.0f}"
                )
            rows.append([name if i == 0 else "", layer, *cells])
    header = ["network", "hidden layer", *(f"epoch {e}" for e in shown)]
    return md_table(header, rows)


def nielsen_ratio(s: dict) -> str:
    """‖δ_last hidden‖/‖δ_h1‖ during training, his against our seeds, and the share of
    his recorded ‖δˡ‖ (epoch, layer) points inside our ‖δˡ‖ band (not of the ratio)."""
    run = s["runs"]["vanishing/gradients"]
    if note := _no_overlay(run):
        return note
    rows = []
    for name, o in run["nielsen_training"].items():
        his, ours = o["ratio_published"], o["ratio_ours"]
        cells = [
            f"{his[stat]:.3g} · {ours[stat]['median']:.3g} "
            f"({ours[stat]['min']:.3g}–{ours[stat]['max']:.3g})"
            for stat in ("at_init", "min", "median", "max", "final")
        ]
        inside = f"{100 * o['inside_min_max']:.0f} / {100 * o['inside_p10_p90']:.0f}"
        rows.append([name, o["seeds"], *cells, inside])
    first, last = next(iter(run["nielsen_training"].values()))["ratio_epochs"]
    header = ["network", "our seeds", "at init", f"min over epochs {first}–{last}",
              "median", "max", f"at epoch {last}",
              "his ‖δˡ‖ points (epoch, layer) inside our min–max / p10–p90 (%)"]  # fmt: skip
    return md_table(header, rows)


def depth_accuracy(s: dict) -> str:
    run = s["runs"]["vanishing/mlp_sigmoid"]
    ours = {4: f"{pct(run['test_accuracy'])} (best epoch {pct(max(run['test_accuracies']))})"}
    # Nielsen ch. 5, validation accuracy by number of hidden layers of 30 (single runs)
    his = {k: published()[f"nielsen_ch5_depth_{k}"] for k in (1, 2, 3, 4)}
    rows = [["784" + "-30" * k + "-10", f"{v:.2f}", ours.get(k, "not run")] for k, v in his.items()]
    header = ["network", "Nielsen ch. 5, validation (%), one run of 30 epochs",
              f"ours, test (%), after {run['epochs']} epochs"]  # fmt: skip
    return md_table(header, rows)


def headline(runs: dict) -> tuple[str, str, str]:
    e = runs["vanishing/gradients"]["delta_norms"]["784-30-30-30-30-10"]
    inside = all(
        lo <= p <= hi for p, lo, hi in zip(e["published"], e["p01"], e["p99"], strict=True)
    )
    return (
        f"‖δ¹‖ median {e['median'][0]:.4f} over seeds",
        f"{e['published'][0]:.4f} (Nielsen ch. 5, one draw)",
        "inside our 1–99 % band" if inside else "outside our 1–99 % band",
    )


CHAPTER = Chapter(
    name="vanishing",
    title="The vanishing gradient: Nielsen's chapter 5",
    question="In a deep sigmoid network the layers near the input learn far more slowly than "
    "those near the output. How much slower, and is Nielsen's single draw typical? We measure "
    "the speed of learning ‖δˡ‖ of every hidden layer over many initializations, set it "
    "beside the mean-field prediction of how much it shrinks per layer, follow it "
    "through training, and train his 784-30-30-30-30-10 network with sigmoid and with "
    "ReLU units.",
    summary="Why do deep sigmoid networks learn slowly near the input?",
    runs=(
        Run(
            "vanishing/gradients",
            "vanishing_gradient.py",
            **scales(
                SWEEP, TRAINING, args=argv(train=True, no_progress=True), minutes=(0.3, 1, 12)
            ),
        ),
        mlp("sigmoid"),
        mlp("relu"),
    ),
    keep={"vanishing/gradients": GRADIENT_KEYS, "vanishing/mlp_sigmoid": RESULT_KEYS},
    tables={
        "nielsen": nielsen,
        "mean_field": mean_field,
        "comparison": comparison,
        "depth_accuracy": depth_accuracy,
        "nielsen_training": nielsen_training,
        "nielsen_ratio": nielsen_ratio,
    },
    headline=headline,
    figures="cnn_jax.studies.vanishing.plots",
)
