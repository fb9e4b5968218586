"""The study's two CNNs trained in PyTorch, eager and ``torch.compile``: the peers that
``experiments/benchmark.py --peers`` times beside cnn_jax in the same run.

Each peer is the same network as :class:`cnn_jax.nn.models.SeedCNN` or ``DeepCNN`` (the
same layers, Keras's init: Glorot-uniform kernels, zero biases), trained the way
:mod:`cnn_jax.training.train` trains it by default: Adam at the config's learning rate on the
softmax cross-entropy of the config's batch size. A peer computes every pixel (no crop
before the max-pools), as a PyTorch user would write it. Subnormal floats are flushed to
zero, as XLA's compiled CPU code does, so neither side slows down on them.

torch comes from the optional extra ``peers`` (``pip install -e '.[peers]'``), never from
the main install.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from cnn_jax import data as data_lib
from cnn_jax.errors import UsageError

TORCH_VERSION = "2.13.0"  # the version the `peers` extra pins
INSTALL_HINT = (
    f"--peers needs PyTorch: pip install -e '.[peers]' (torch=={TORCH_VERSION}; on a machine "
    "without a GPU add --extra-index-url https://download.pytorch.org/whl/cpu for the CPU wheel)"
)
TRAINERS = ("torch eager", "torch.compile")


def import_torch():
    """The torch module, or a UsageError that says how to install it."""
    try:
        import torch
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    return torch


def torch_model(arch: str, torch):
    """SeedCNN or DeepCNN as a torch ``nn.Sequential`` on images [B, 1, 28, 28]."""
    nn = torch.nn
    if arch == "seed":
        layers = [
            nn.Conv2d(1, 32, 6), nn.ReLU(), nn.Conv2d(32, 32, 6), nn.MaxPool2d(4),
            nn.Flatten(), nn.Linear(4 * 4 * 32, 100), nn.ReLU(), nn.Linear(100, 10),
        ]  # fmt: skip
    elif arch == "deep":
        layers = []
        for c_in, c_out in ((1, 32), (32, 64)):
            for i in range(3):
                layers += [nn.Conv2d(c_in if i == 0 else c_out, c_out, 3), nn.ReLU()]
            layers.append(nn.MaxPool2d(2))
        layers += [nn.Flatten(), nn.Linear(2 * 2 * 64, 256), nn.ReLU(), nn.Linear(256, 10)]
    else:
        raise ValueError(f"no peer for arch {arch!r}")
    model = nn.Sequential(*layers)
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.xavier_uniform_(m.weight)  # Keras's glorot_uniform: fans include the kernel
            nn.init.zeros_(m.bias)
    return model


def peer_timer(
    arch: str,
    trainer: str,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int,
    lr: float,
    steps: int,
    train_flops_per_image: int,
    seed: int = 0,
) -> Callable[[], dict]:
    """Build the peer, take its first (compiling) step, and return a function that trains
    ``steps`` more steps on shuffled batches of ``images`` and returns its images/s."""
    torch = import_torch()
    if trainer not in TRAINERS:
        raise ValueError(f"trainer must be one of {', '.join(TRAINERS)}, got {trainer!r}")
    torch.set_flush_denormal(True)
    torch.manual_seed(seed)
    model = torch_model(arch, torch)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(x, y):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    if trainer == "torch.compile":
        step = torch.compile(step)
    x = torch.from_numpy(np.ascontiguousarray(data_lib.scale(images).transpose(0, 3, 1, 2)))
    y = torch.from_numpy(np.asarray(labels, np.int64))
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    batches = [
        (x[idx], y[idx]) for idx in order[: len(y) // batch_size * batch_size].split(batch_size)
    ]
    t0 = time.perf_counter()
    step(*batches[0])
    compile_seconds = time.perf_counter() - t0
    done = [1]

    def run() -> dict:
        t0 = time.perf_counter()
        for i in range(done[0], done[0] + steps):
            loss = step(*batches[i % len(batches)])
        final = float(loss.detach())  # torch on CPU is synchronous: nothing to wait for
        seconds = time.perf_counter() - t0
        done[0] += steps
        return {
            "arch": arch,
            "trainer": trainer,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "compile_seconds": compile_seconds,
            "train_flops_per_image": train_flops_per_image,
            "images_per_second": steps * batch_size / seconds,
            "final_loss": final,
        }

    return run
