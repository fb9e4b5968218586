"""The CNN chapter's runs by name: the study's networks, the 2016 Keras optimizers and
Nielsen's chapter 6 networks, each with its label, the registry entry it is read against and
its flags; read by the chapter's declaration and tables (chapter.py) and its figures
(figures.py)."""

from __future__ import annotations

from cnn_jax.chapter import FULL, argv

# run path -> (the table's label, the study's published accuracy it is read against)
NETWORKS = {
    "cnn/seed": ("seed CNN (the study's)", "study_seed_cnn"),
    "cnn/study_deep": ("the study's deep CNN, slide 1 (`study_deep`)", "study_deep_cnn"),
    "cnn/study_deep_dropout": (
        "the study's deep CNN, slide 2, + dropout 0.5 (`study_deep_dropout`)",
        "study_deep_cnn_dropout",
    ),
    "cnn/deep": ("our larger deep CNN (`deep`)", "study_deep_cnn"),
    "cnn/deep_dropout": ("our larger deep CNN + dropout 0.5", "study_deep_cnn_dropout"),
}
# Not the study's networks: their rows are shown beside its numbers, never judged by them.
LARGER = frozenset({"cnn/deep", "cnn/deep_dropout"})
# The seed CNN under the optimizers a Keras 1 user had, at Keras's default rates; Adam 1e-3
# is the seed CNN's own run (cnn/seed). run path -> (label, flags)
KERAS = {
    "cnn/keras/sgd": ("SGD 0.01", argv(optimizer="sgd", lr="0.01")),
    "cnn/keras/rmsprop": ("RMSprop 1e-3", argv(optimizer="rmsprop", lr="0.001")),
    "cnn/keras/adadelta": ("Adadelta 1.0", argv(optimizer="adadelta", lr="1.0")),
    # Keras 1's default batch, for the setting that landed nearest 98.02 % at batch 128
    "cnn/keras/sgd_b32": ("SGD 0.01, batch 32", argv(optimizer="sgd", lr="0.01", batch_size=32)),
}
KERAS_DEFAULT_IMAGES = 15000  # the default scale's look at each setting: a quarter epoch
ADAM = ("cnn/seed", "Adam 1e-3")
# The other two combinations of the slides' networks with dropout: slide 1 prints dropout
# layers though its number is the one without, and the study's step from 98.89 to 99.06 %
# changes the network and dropout at once. run path -> (label, flags)
VARIANTS = {
    "cnn/study_deep_plus_dropout": (
        "slide 1 + dropout 0.5",
        argv(arch="study_deep", dropout="0.5"),
    ),
    "cnn/study_deep_dropout_off": ("slide 2 without dropout", argv(arch="study_deep_dropout")),
}
# network x dropout: (network, run without dropout, run with dropout 0.5)
DROPOUT_GRID = (
    ("slide 1 (`study_deep`)", "cnn/study_deep", "cnn/study_deep_plus_dropout"),
    ("slide 2 (`study_deep_dropout`)", "cnn/study_deep_dropout_off", "cnn/study_deep_dropout"),
)
# Nielsen's chapter 6 networks with network3.py's settings: run path -> (label, registry id,
# flags at every scale). His budget is 60 epochs on 50,000 images at mini-batch 10.
NIELSEN = {
    "cnn/nielsen/conv": (
        "conv-pool + FC 100, sigmoid",
        "nielsen_ch6_conv_fc100",
        argv(arch="nielsen_conv", optimizer="sgd", lr="0.1", batch_size=10),
    ),
    "cnn/nielsen/conv2": (
        "two conv-pool + FC 100, sigmoid",
        "nielsen_ch6_two_conv",
        argv(arch="nielsen_conv2", optimizer="sgd", lr="0.1", batch_size=10),
    ),
    "cnn/nielsen/conv2_relu": (
        "two conv-pool + FC 100, ReLU, λ 0.1",
        "nielsen_ch6_relu",
        argv(arch="nielsen_conv2_relu", optimizer="sgd", lr="0.03", l2="1e-5", batch_size=10),
    ),
}


def finals(r: dict) -> list[float]:
    """A run's final test accuracies in %, one per seed."""
    return [100 * x["test_accuracy"] for x in r.get("seeds", [r])]


def keras_runs(s: dict) -> list[tuple[str, dict]]:
    """(label, results) of every optimizer setting at --scale full, Adam first."""
    found = [(ADAM[1], s["runs"].get(ADAM[0] + FULL))]
    found += [(label, s["runs"].get(run + FULL)) for run, (label, _) in KERAS.items()]
    return [(label, r) for label, r in found if r is not None]
