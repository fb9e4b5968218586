"""Run by tests/training/test_devices.py in a subprocess whose device count is set before
JAX starts (XLA_FLAGS=--xla_force_host_platform_device_count=N): the numbers of a few
steps of training and of two sweeps on every visible device, as JSON on stdout."""

import json
import sys

import jax
import numpy as np

from cnn_jax import cli
from cnn_jax.nn.mlp import MLPSpec
from cnn_jax.training import devices, gradients, sgd
from cnn_jax.training.config import TrainConfig
from cnn_jax.training.train import train_and_evaluate

# The seed CNN (dropout 0) and an MLP with dropout, each a few steps on real MNIST.
TRAIN = {
    "seed": dict(arch="seed", batch_size=32, limit=128, test_limit=100, eval_batch_size=50),
    "mlp-dropout": dict(
        arch="mlp", mlp_widths=(30, 10), dropout=0.5, batch_size=32, limit=128, test_limit=100
    ),
}
SWEEP_SEEDS = 13  # not a multiple of 8: the padding is exercised


def training(mnist, mesh) -> dict:
    out = {}
    for name, fields in TRAIN.items():
        cfg = TrainConfig.tiny(epochs=2, **fields)
        state, history = train_and_evaluate(cfg, mnist, log=lambda _: None, mesh=mesh)
        out[name] = {
            "history": [[h["train_loss"], h["test_loss"], h["test_accuracy"]] for h in history],
            "params": [
                np.asarray(x).ravel()[:50].tolist()
                for x in jax.tree.leaves(devices.to_host(state.params))
            ],
        }
    return out


def sweeps(mnist) -> dict:
    train, test = sgd.device_data(mnist, 200)
    test = (test[0][:100], test[1][:100])
    net = MLPSpec((784, 30, 30, 10), "sigmoid", "nielsen", cost="quadratic")
    keys = jax.random.split(jax.random.key(0), SWEEP_SEEDS)
    stats = gradients.init_sweep(
        net.model(), train[0][:50], train[1][:50], net.cost_fn, keys, batch_size=2
    )
    hyper = sgd.hypers([0.5] * SWEEP_SEEDS, 0.0, "quadratic")
    _, metrics = sgd.run_sweep(net, hyper, keys, keys, train, test, epochs=2, batch_size=10)
    return {
        "init_sweep": [np.asarray(x).tolist() for x in jax.tree.leaves(stats)],
        "run_sweep": {k: np.asarray(v).tolist() for k, v in metrics.items()},
    }


if __name__ == "__main__":
    mnist = cli.load_mnist(None, progress=False)
    devices_used = int(sys.argv[1]) if len(sys.argv) > 1 else None
    result = {
        "device_count": jax.device_count(),
        **training(mnist, devices.data_mesh(devices_used)),
        **sweeps(mnist),
    }
    print(json.dumps(result))
