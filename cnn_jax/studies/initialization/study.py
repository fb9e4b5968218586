"""Starting points, measured: Glorot & Bengio 2010 ("Understanding the difficulty of training
deep feedforward neural networks") on MNIST.

Networks of H hidden layers of n units, softmax output, negative log-likelihood, zero
biases, with the paper's two inits (``activations.INITS``): "standard" W ~ U[±1/√n_in]
and "normalized" W ~ U[±√6/√(n_in + n_out)]. Three measurements:

1. At init, per hidden layer, over many seeds (vmapped): activation mean / std /
   percentiles and saturated fraction, the variance of the back-propagated gradient
   ∂C/∂s (s = pre-activation), the variance of the weight gradient ∂C/∂W, and the average
   singular value of each layer's Jacobian ∂z^{i+1}/∂z^i (z = activations).
2. During plain mini-batch SGD: the same activation statistics on 300 fixed test images
   every ``record_every`` updates (the paper's Figures 2–4), and the gradient variances.
3. The paper's Table 1: test error of 5-hidden-layer networks after SGD with mini-batch 10,
   the learning rate picked on the 10,000 validation images (mean over seeds); every
   (learning rate, seed) pair of one network trains in one vmapped sweep
   (:func:`cnn_jax.training.sgd.run_sweep`), and the row is the mean ± sd over seeds.

Layer i maps z^{i-1} to z^i = f(s^i), s^i = z^{i-1}·W^i + b^i, with z^0 the image.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable

import jax
import numpy as np

from cnn_jax import cli
from cnn_jax import data as data_lib
from cnn_jax.errors import Diverged
from cnn_jax.studies.initialization.config import PAPER_UPDATES, Study, network
from cnn_jax.studies.initialization.curves import training_curves
from cnn_jax.studies.initialization.network_stats import init_stats, spread
from cnn_jax.studies.initialization.table1 import table_row
from cnn_jax.training import divergence, sgd
from cnn_jax.training.rows import RowStore, non_finite, slug

# ----------------------------------------------------------------------------- the study


def check_data(study: Study, mnist: data_lib.Mnist, *, table: bool) -> None:
    """Refuse (UsageError, one line) a study that asks for more images than ``mnist`` has,
    or Table 1 without the 10,000 validation images."""
    n_train, n_test = len(mnist.train_labels), len(mnist.test_labels)
    cli.check_count("--train-images", study.train_images, min(50_000, n_train), "training images")
    cli.check_count("--init-images", study.init_images, n_test, "test images")
    cli.check_count("--probe-images", study.probe_images, n_test, "test images")
    cli.check(
        n_train > 50_000 or not table,
        f"Table 1 needs 60,000 training images (50,000 + 10,000 validation), got "
        f"{n_train:,}; pass --no-table",
    )


def open_rows(out, study: Study, *, seed: int, table: bool) -> RowStore:
    """The finished rows of this run in ``out`` (another configuration's rows there are
    refused: UsageError)."""
    total = len(study.networks) * (1 + table) + len(study.curve_networks)
    kinds = {"init": len(study.networks), "curve": len(study.curve_networks)}
    kinds |= {"table": len(study.networks)} if table else {}
    config = {"study": dataclasses.asdict(study), "seed": seed, "table": table}
    return RowStore(out, config, total, kinds)


def _saved_row(store: RowStore, key: str, compute: Callable[[], dict], hint: str, log) -> dict:
    """Row ``key`` from ``store``, else ``compute()`` it, check that every number is finite
    (else :class:`Diverged` naming the row, the number and ``hint``), save it and ``log``
    the whole run's progress."""
    saved = store.get(key)
    if saved is not None:
        return saved
    row = compute()
    if (where := non_finite(row)) is not None:
        raise Diverged(f"{key}: {where} is not finite; {hint}")
    store.put(key, row)
    log(store.pace())
    return row


def init_row(label: str, study: Study, keys, fixed, jacobian_images) -> dict:
    """One network's statistics at init over the seed keys [S]: spreads over seeds."""
    net = network(label, study.init_hidden, study.init_width)
    stats = init_stats(net, keys, *fixed, jacobian_images)
    return {
        "network": net.name,
        "activation": net.activation,
        "init": net.init,
        **{name: spread(v) for name, v in stats.items()},
        "backprop_ratio_first_to_last": spread(
            stats["backprop_var"][:, :1] / stats["backprop_var"][:, -1:]
        )["median"][0],
        "jacobian_mean_hidden_to_hidden": spread(
            np.mean(stats["jacobian_singular_value"][:, 1:], axis=1, keepdims=True)
        ),
    }


def curve_row(label: str, study: Study, key, train, probe) -> dict:
    """One network's activation statistics during training (Figures 2–3)."""
    net = network(label, study.curve_hidden, study.curve_width)
    init_k, train_k = jax.random.split(key)
    records = training_curves(net, init_k, train_k, study.curve_lr, train, probe, study=study)
    return {
        "network": net.name,
        "activation": net.activation,
        "init": net.init,
        "updates": [i * study.record_every for i in range(len(records["mean"]))],
        **{k: np.asarray(v, np.float64).tolist() for k, v in records.items()},
        **gradient_trends(records, study.record_every),
    }


def gradient_trends(records: dict, every: int) -> dict:
    """Section 4.3's quantities from a curve's records (``backprop_var`` [R, H],
    ``weight_grad_var`` [R, H + 1]), per record [R]: Var(∂C/∂s) of the first hidden layer
    over the last's (< 1: shrinking toward the input), Var(∂C/∂W) of the first hidden layer
    over the last hidden one's, and the largest over the smallest weight-gradient variance of
    the hidden layers; plus the first update at which the back-propagated ratio reaches 1
    (None when it never does)."""
    back = np.asarray(records["backprop_var"], np.float64)
    weight = np.asarray(records["weight_grad_var"], np.float64)[:, :-1]  # hidden layers
    ratio = back[:, 0] / back[:, -1]
    reached = np.nonzero(ratio >= 1.0)[0]
    return {
        "backprop_ratio_first_to_last": ratio.tolist(),
        "weight_grad_ratio_first_to_last": (weight[:, 0] / weight[:, -1]).tolist(),
        "weight_grad_spread": (weight.max(1) / weight.min(1)).tolist(),
        "backprop_reversed_at": int(reached[0]) * every if len(reached) else None,
    }


def _table_row(label, study, key, data, store: RowStore, progress, log) -> dict:
    """:func:`table_row` with a checkpoint per epoch under ``<out>/checkpoints`` (a rerun
    continues it), its divergence named by row and flag."""
    train, validation, test = data
    init_k, train_k = jax.random.split(key)
    checkpoint = store.out / "checkpoints" / f"table-{slug(label)}"
    net = network(label, study.hidden, study.width)
    try:
        row = table_row(
            net, study, init_k, train_k, train, validation, test, progress, label, checkpoint
        )
    except Diverged as e:
        raise Diverged(f"Table 1 {label}: {e} (--lrs)") from None
    shutil.rmtree(checkpoint, ignore_errors=True)
    log(f"{label}: test error {row['test_error']:.2f} %")
    return row


def measure(
    mnist: data_lib.Mnist,
    study: Study,
    store: RowStore,
    *,
    seed: int,
    progress: Callable | None = None,
    log: Callable[[str], None] = lambda line: None,
    table: bool = True,
) -> dict:
    """Every number of the study as plain JSON-ready values (``results.json``). Each row
    is saved in ``store`` as it finishes and read back on a rerun."""
    started = time.perf_counter()
    init_key, curve_key, table_key = jax.random.split(jax.random.key(seed), 3)
    train_part, validation = data_lib.nielsen_split(mnist)
    test_images, test_labels = mnist.test_images, mnist.test_labels
    fixed = sgd.to_device(test_images[: study.init_images], test_labels[: study.init_images])
    probe = sgd.to_device(test_images[: study.probe_images], test_labels[: study.probe_images])
    train = sgd.to_device(
        train_part.train_images[: study.train_images], train_part.train_labels[: study.train_images]
    )
    keys = jax.random.split(init_key, study.init_seeds)
    jacobian_images = fixed[0][: study.jacobian_examples]
    sections = {
        "init": lambda label: _saved_row(
            store,
            f"init {label}",
            lambda: init_row(label, study, keys, fixed, jacobian_images),
            "the network overflows at init; lower --init-hidden or --init-width",
            log,
        ),
        "curves": lambda label: _saved_row(
            store,
            f"curve {label}",
            lambda: curve_row(label, study, curve_key, train, probe),
            "non-finite activations while training; lower --curve-lr",
            log,
        ),
    }
    if table:
        data = (train, sgd.to_device(*validation), sgd.to_device(test_images, test_labels))
        sections["table"] = lambda label: _saved_row(
            store,
            f"table {label}",
            lambda: _table_row(label, study, table_key, data, store, progress, log),
            "lower --lrs",
            log,
        )
    results: dict = {"study": dataclasses.asdict(study), "seed": seed}
    timings = {}
    for section, row in sections.items():
        log(section)
        t = time.perf_counter()
        labels = study.curve_networks if section == "curves" else study.networks
        results[section] = {label: row(label) for label in labels}
        timings[f"{section}_s"] = time.perf_counter() - t
    shutil.rmtree(store.out / "checkpoints", ignore_errors=True)
    timings["total_s"] = time.perf_counter() - started
    return {**results, "timings": timings, "paper_updates": PAPER_UPDATES}


def format_table(results: dict) -> str:
    """The text tables printed at the end of a run."""
    lines = ["at init (median over seeds), per hidden layer, input side first:"]
    for label, entry in results["init"].items():
        jac = " ".join(f"{v:.3f}" for v in entry["jacobian_singular_value"]["median"])
        back = " ".join(f"{v:.2e}" for v in entry["backprop_var"]["median"])
        lines.append(f"  {label:11s} Jacobian mean singular value {jac}")
        lines.append(f"  {'':11s} Var(dC/ds) {back}")
    if "table" in results:
        lines.append("\ntest error (%), lr picked on the 10,000 validation images:")
        lines.append(f"  {'network':11s} {'lr':>6s} {'ours':>6s} {'paper':>6s}")
        for label, row in results["table"].items():
            paper = row["published_test_error"]
            paper_text = f"{paper:6.2f}" if paper is not None else "     -"
            lines.append(
                f"  {label:11s} {row['chosen_lr']:6g} {row['test_error']:6.2f} {paper_text}"
            )
            for record in row.get("diverged", []):
                lines.append(f"  {'':11s} {divergence.DIVERGED}: {divergence.describe(record)}")
    return "\n".join(lines)
