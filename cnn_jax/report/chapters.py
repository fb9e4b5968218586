"""The study's chapters, in the story's order, and what each one runs at each scale.

One table: for every run, the script and its flags at ``smoke`` (test size, the whole study
within a few minutes on 2 CPU cores), ``default`` (each script's defaults, reduced where the
whole study would otherwise pass 20 minutes on 2 cores, with the reason) and ``full`` (the
published sizes where a 2-core CPU can reach them). ``{out}`` in a flag is the reproduce
output folder, so one run can read another (the layer pages read the seed CNN's checkpoint).

Estimated minutes are for a 2-core CPU with nothing else running; a rerun on the same
machine replaces them by the wall times it recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SCALES = ("smoke", "default", "full")

# Nielsen's network2.py settings for his chapter-5 784-30-30-30-30-10 (README, "probes").
NIELSEN_MLP = (
    "--arch mlp --widths 30,30,30,30,10 --init nielsen --loss sigmoid_ce "
    "--optimizer sgd --lr 0.1 --batch-size 10 --l2 5e-5 --no-progress"
)
CNN_SMOKE = "--batch-size 32 --limit 256 --test-limit 100 --epochs 1 --no-progress"
PRETRAIN_SMOKE = (
    "--hidden 8 --images 100 --validation 100 --seeds 2 --epochs 2 --pretrain-epochs 1 "
    "--lrs 0.3,1 --grad-images 50 --probe-images 50 --filters 4 --no-progress"
)
# Erhan et al. 2010's question, at a small width: 10 seeds vmapped per row and depth.
DEPTH_SWEEP = (
    "--depths 1,2,3 --rows random\\ init,RBM,denoising\\ autoencoder "
    "--seeds 10 --lrs 0.3,1,3 --no-progress"
)


@dataclass(frozen=True)
class Setting:
    """One scale of one run: the flags, the estimated minutes, and why it differs from the
    script's defaults (empty when it does not)."""

    flags: str
    minutes: float
    why: str = ""


@dataclass(frozen=True)
class Run:
    """One script call. ``path`` is its folder under the output folder, chapter first."""

    path: str
    script: str
    smoke: Setting
    default: Setting
    full: Setting
    seeded: bool = False  # --seeds N runs it N times, in <path>/s0, s1, ...

    def setting(self, scale: str) -> Setting:
        return getattr(self, scale)


@dataclass(frozen=True)
class Chapter:
    name: str
    title: str
    question: str  # the chapter's question in a paragraph, for the report
    runs: tuple[Run, ...] = field(default_factory=tuple)


def _mlp(activation: str) -> Run:
    # The checkpoints of the epochs kept are probed by the probes chapter (probes_mlp).
    flags = f"{NIELSEN_MLP} --activation {activation}"
    return Run(
        f"vanishing/mlp_{activation}",
        "mnist_cnn.py",
        Setting(f"{flags} --limit 500 --test-limit 200 --epochs 1 --keep-epochs 0,1", 0.2),
        Setting(
            f"{flags} --limit 50000 --epochs 2 --keep-epochs 0,1,2",
            0.5,
            "2 of Nielsen's 30 epochs (10,000 of 150,000 updates): 30 take about 3 minutes each",
        ),
        Setting(f"{flags} --limit 50000 --epochs 30 --keep-epochs 0,1,2,5,30", 3.0),
    )


def _probe_mlps(epochs: str) -> str:
    """probe_layers.py flags for both MLPs of the vanishing chapter at ``epochs``."""
    runs = "--checkpoint {out}/vanishing/mlp_sigmoid --checkpoint {out}/vanishing/mlp_relu"
    return f"{runs} --epochs {epochs}"


def _cnn(path: str, arch_flags: str, default_epochs: int) -> Run:
    minutes = 0.6 * default_epochs
    return Run(
        path,
        "mnist_cnn.py",
        Setting(f"{arch_flags} {CNN_SMOKE}".strip(), 0.3),
        Setting(
            f"{arch_flags} --epochs {default_epochs} --no-progress".strip(),
            minutes,
            f"{default_epochs} of the study's 10 epochs: 10 take 5-6 minutes per network",
        ),
        Setting(f"{arch_flags} --epochs 10 --no-progress".strip(), 6.0),
        seeded=True,
    )


CHAPTERS: tuple[Chapter, ...] = (
    Chapter(
        "depth",
        "Why depth: what a deep network represents with fewer units",
        "One hidden layer can approximate any continuous function, so why stack layers? "
        "This chapter counts units: families of functions that a deep network builds with "
        "a number of units growing like the input size, where a shallow one needs "
        "exponentially many (Delalleau & Bengio's sum-product networks, Telgarsky's sawtooth), "
        "trains both kinds to see whether gradient descent finds the compact deep solutions, "
        "and counts the linear regions a ReLU network actually cuts a line into at init.",
        (
            Run(
                "depth",
                "depth_efficiency.py",
                Setting("--tiny", 0.2),
                Setting("", 1.5),
                Setting("", 1.5),
            ),
        ),
    ),
    Chapter(
        "vanishing",
        "The vanishing gradient: Nielsen's chapter 5",
        "In a deep sigmoid network the layers near the input learn far more slowly than those "
        "near the output. How much slower, and is Nielsen's single draw typical? We measure "
        "the speed of learning ‖δˡ‖ of every hidden layer over many initializations, set it "
        "beside the mean-field prediction of how much it shrinks per layer, follow it "
        "through training, and train his 784-30-30-30-30-10 network with sigmoid and with "
        "ReLU units.",
        (
            Run(
                "vanishing/gradients",
                "vanishing_gradient.py",
                Setting(
                    "--images 100 --seeds 8 --train --epochs 4 --eval-every 2 --no-progress", 0.3
                ),
                Setting(
                    "--train --seeds 300 --no-progress",
                    1.0,
                    "300 of the default 1,000 initializations: the percentile band is as wide; "
                    "5 training seeds",
                ),
                Setting("--train --per-example --train-seeds 20 --no-progress", 12.0),
            ),
            _mlp("sigmoid"),
            _mlp("relu"),
        ),
    ),
    Chapter(
        "costs",
        "Costs and regularization: Nielsen's chapter 3",
        "Why does cross-entropy learn faster than the quadratic cost from a bad start, and how "
        "much do L2 and dropout close the gap between training and test accuracy when "
        "a small network memorizes 1,000 images? Nielsen's published accuracies are compared "
        "best epoch with best epoch and final epoch with final epoch.",
        (
            Run(
                "costs/cost_functions",
                "cost_functions.py",
                Setting(
                    "--hidden 30,100 --images 100 --test-images 200 --epochs 2 "
                    "--neuron-epochs 5 --no-progress",
                    0.2,
                ),
                Setting("--no-progress", 0.7),
                Setting("--hidden 30,100 --no-progress", 2.6),
            ),
            Run(
                "costs/regularization",
                "regularization.py",
                Setting(
                    "--overfit-images 100 --overfit-epochs 2 --full-images 200 --full-epochs 1 "
                    "--test-images 200 --block 1 --skip-dropout --no-progress",
                    0.3,
                ),
                Setting("--no-progress", 2.0),
                Setting("--seeds 5 --no-progress", 4.5),
            ),
            Run(
                "costs/keras_mlp",
                "keras_mlp.py",
                Setting("--points 8 --batch-size 8 --hidden 4 --epochs 1", 0.1),
                Setting("", 0.2),
                Setting("", 0.2),
            ),
        ),
    ),
    Chapter(
        "initialization",
        "Initialization: Glorot & Bengio 2010",
        "Does the scale of the initial weights decide whether a deep tanh, softsign or "
        "sigmoid network trains at all? We measure activations, back-propagated gradients and "
        "layer Jacobians at init and during training for the standard and the normalized "
        "initialization, retrain the paper's Table 1 networks on MNIST over seeds at a far "
        "smaller budget and once for longer at the paper's width, and time how long a "
        "sigmoid network's saturated top layer holds learning at chance against depth.",
        (
            Run(
                "initialization",
                "initialization.py",
                Setting(
                    "--width 8 --hidden 2 --epochs 1 --lrs 0.1 --seeds 2 --train-images 1000 "
                    "--networks sigmoid,tanh,tanh\\ N,softsign,softsign\\ N "
                    "--init-width 64 --init-hidden 3 --init-seeds 2 --init-images 8 "
                    "--curve-width 32 --curve-hidden 4 --record-every 50 --probe-images 100 "
                    "--curve-networks sigmoid,tanh,tanh\\ N --no-progress",
                    0.4,
                ),
                Setting(
                    "--epochs 1 --lrs 0.03,0.1,0.3 --no-progress",
                    2.5,
                    "1 of the default 5 Table-1 epochs (5,000 updates), and 3 of the 4 learning "
                    "rates (0.01 was never picked on validation), so that the 3 seeds of each "
                    "row fit: Table 1 is then a fifth of the run; the default one trains 6.7 "
                    "times as much",
                ),
                Setting("--width 1000 --init-width 1000 --curve-width 1000 --no-progress", 700.0),
            ),
            Run(
                "initialization_plateau",
                "initialization_plateau.py",
                Setting(
                    "--depths 1,4,5 --width 16 --epochs 1 --train-images 1000 --record-every 20 "
                    "--probe-images 100 --no-progress",
                    0.2,
                ),
                Setting(
                    "--width 100 --epochs 1 --record-every 250 --probe-images 300 --no-progress",
                    0.2,
                    "100 units per layer and 1 of the default 10 epochs (5,000 updates): the "
                    "defaults took 20 minutes on a busy 2-core CPU",
                ),
                Setting("--no-progress", 20.0),
            ),
            Run(
                "initialization_budget",
                "initialization_budget.py",
                Setting("--width 8 --hidden 2 --epochs 1 --train-images 1000 --no-progress", 0.2),
                Setting(
                    "--width 100 --epochs 1 --no-progress",
                    0.2,
                    "100 units per layer and 1 of the default 6 epochs: at 5 × 1,000 units one "
                    "epoch of 2 networks took 5–11 minutes on a busy 2-core CPU",
                ),
                Setting(
                    "--networks tanh,tanh\\ N,softsign,softsign\\ N --lrs 0.1,0.03,0.3,0.03 "
                    "--epochs 3 --no-progress",
                    43.0,
                ),
            ),
        ),
    ),
    Chapter(
        "pretraining",
        "Unsupervised pretraining: Hinton 2006, Bengio 2007, Erhan 2010",
        "Before good initializations and ReLUs, deep networks were started from layers "
        "trained one at a time without labels. Does pretraining (RBMs, autoencoders, "
        "denoising autoencoders, supervised greedy) still beat a random start on MNIST, and "
        "does it reduce the spread over seeds?",
        (
            Run(
                "pretraining",
                "pretraining.py",
                Setting(
                    "--hidden 8 --images 100 --seeds 2 --epochs 1 --pretrain-epochs 1 "
                    "--grad-images 50 --filters 4 --no-progress",
                    0.3,
                ),
                Setting(
                    "--hidden 250,250,250 --images 3000 --validation 2000 --lrs 0.1,0.3,1 "
                    "--no-progress",
                    1.7,
                    "3 × 250 instead of 3 × 500 units, 3,000 of the default 10,000 training "
                    "images, 2,000 of the 10,000 validation images, and the rates 0.1, 0.3, 1 "
                    "(η = 3 was never picked at this budget); every row still picks its η on "
                    "validation with 5 seeds vmapped: the default takes about 16 minutes",
                ),
                Setting("--full --seeds 2 --epochs 3 --pretrain-epochs 1 --no-progress", 250.0),
            ),
            Run(
                "pretraining_converged",
                "pretraining.py",
                Setting(f"{PRETRAIN_SMOKE} --rows random\\ init,RBM --patience 1", 0.3),
                Setting(
                    "--hidden 50,50,50 --images 2000 --validation 1000 --epochs 20 --filters 16 "
                    "--patience 3 --rows random\\ init,RBM --seeds 2 --lrs 0.3,1 --no-progress",
                    0.3,
                    "3 × 50 on 2,000 images: the recorded runs on all 50,000 take 12 minutes (3 × "
                    "100) and 18 minutes (3 × 500, the full scale) on a 2-core CPU",
                ),
                Setting(
                    "--converged --rows random\\ init,RBM --seeds 2 --lrs 0.3,1 --no-progress", 18.0
                ),
            ),
            Run(
                "pretraining_depth",
                "pretraining.py",
                Setting(
                    f"{PRETRAIN_SMOKE} --depths 1,2 --rows random\\ init,denoising\\ autoencoder",
                    0.3,
                ),
                Setting(
                    f"{DEPTH_SWEEP} --hidden 50 --images 1000 --validation 500 --epochs 8 "
                    "--patience 3 --filters 16",
                    0.9,
                    "layers of 50, 1,000 images and at most 8 epochs: the recorded sweep (layers "
                    "of 100, 2,000 images, at most 50 epochs, in the docs) took about 15 minutes "
                    "on a shared 2-core CPU",
                ),
                Setting(
                    f"{DEPTH_SWEEP} --hidden 100 --images 2000 --validation 1000 --epochs 50 "
                    "--patience 5 --filters 16",
                    30.0,
                ),
            ),
        ),
    ),
    Chapter(
        "cnn",
        "The study's CNNs on MNIST",
        "The 2016 study reports 98.02 % for its small CNN and about 99 % for a deeper one, "
        "with and without dropout. Do the same networks, trained in JAX, reach those test "
        "accuracies, and how much do seeds move them?",
        (
            _cnn("cnn/seed", "", 2),
            _cnn("cnn/deep", "--arch deep", 1),
            _cnn("cnn/deep_dropout", "--arch deep --dropout 0.5", 1),
        ),
    ),
    Chapter(
        "layers",
        "One digit through every layer of the seed CNN",
        "What does the trained seed CNN do to one test digit, layer by layer? The page shows "
        "every feature map, the learned filters and each layer's activation statistics.",
        (
            Run(
                "layers",
                "visualize_layers.py",
                Setting("--checkpoint {out}/cnn/seed/s0 --stats-images 100 --no-progress", 0.2),
                Setting("--checkpoint {out}/cnn/seed/s0 --no-progress", 0.4),
                Setting("--checkpoint {out}/cnn/seed/s0 --no-progress", 0.4),
            ),
        ),
    ),
    Chapter(
        "probes",
        "Layer by layer: linear probes, separation, CKA",
        "Where in the network do the classes become linearly separable? Linear probes "
        "(Alain & Bengio 2016), class separation and linear CKA (Kornblith et al. 2019) "
        "compare every layer of the trained seed CNN with the same network at its init, "
        "and follow Nielsen's sigmoid and ReLU 784-30-30-30-30-10 networks through training: "
        "does the sigmoid network's first layer lag behind while its gradient vanishes?",
        (
            Run(
                "probes",
                "probe_layers.py",
                Setting(
                    "--checkpoint {out}/cnn/seed/s0 --at-init-of {out}/cnn/seed/s0 "
                    "--train-images 100 --test-images 50 --steps 20 --no-progress",
                    0.3,
                ),
                Setting(
                    "--checkpoint {out}/cnn/seed/s0 --at-init-of {out}/cnn/seed/s0 "
                    "--steps 100 --no-progress",
                    0.7,
                    "100 of the 200 probe Adam steps: the two seed CNNs take about 2 minutes",
                ),
                Setting(
                    "--checkpoint {out}/cnn/seed/s0 --at-init-of {out}/cnn/seed/s0 --no-progress",
                    2.0,
                ),
            ),
            Run(
                "probes_mlp",
                "probe_layers.py",
                Setting(
                    f"{_probe_mlps('0,1')} --train-images 100 --test-images 50 --steps 20 "
                    "--no-progress",
                    0.3,
                ),
                Setting(
                    f"{_probe_mlps('0,1,2')} --steps 100 --no-progress",
                    0.3,
                    "the 2-epoch MLPs at epochs 0, 1 and 2, with 100 of the 200 probe Adam steps",
                ),
                Setting(f"{_probe_mlps('0,1,2,5,30')} --no-progress", 1.5),
            ),
        ),
    ),
)

NAMES = tuple(c.name for c in CHAPTERS)


def chapter(name: str) -> Chapter:
    return CHAPTERS[NAMES.index(name)]
