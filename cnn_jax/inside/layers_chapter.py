"""The layers chapter: one digit through every layer of the seed CNN (docs/layers.md)."""

from __future__ import annotations

from cnn_jax.chapter import Chapter, FromPreset, Out, Run, Setting, argv
from cnn_jax.tables import md_table

# The keys of visualize_layers.py's results.json (page.py) that the table reads.
KEEP = ("statistics.layers",)
SEED_CNN = argv(checkpoint=Out("cnn/seed/s0"), no_progress=True)
SMOKE = FromPreset("cnn_jax.inside.network:VisualizeConfig", "smoke")


def stats(s: dict) -> str:
    rows = []
    for name, st in s["runs"]["layers"]["statistics"]["layers"].items():
        zero, dead = st.get("zero_fraction"), st.get("dead_fraction")
        rows.append(
            [
                name,
                f"{st['mean']:.3f}",
                f"{st['std']:.3f}",
                "" if zero is None else f"{zero:.3f}",
                "" if dead is None else f"{dead:.3f}",
            ]
        )
    return md_table(["layer", "mean", "std", "zero fraction", "dead ReLU fraction"], rows)


def headline(runs: dict) -> tuple[str, str, str]:
    layers = runs["layers"]["statistics"]["layers"]
    dead = max(st.get("dead_fraction") or 0.0 for st in layers.values())
    return f"largest dead-ReLU fraction {dead:.3f}", "–", "no published number"


CHAPTER = Chapter(
    name="layers",
    title="One digit through every layer of the seed CNN",
    question="What does the trained seed CNN do to one test digit, layer by layer? The page "
    "shows every feature map, the learned filters and each layer's activation statistics.",
    summary="What does one digit look like in every layer?",
    runs=(
        Run(
            "layers",
            "visualize_layers.py",
            smoke=Setting(SEED_CNN, 0.2, presets=(SMOKE,)),
            default=Setting(SEED_CNN, 0.4),
            full=Setting(SEED_CNN, 0.4),
            page="one digit through every layer",
        ),
    ),
    keep={"layers": KEEP},
    tables={"stats": stats},
    headline=headline,
)
