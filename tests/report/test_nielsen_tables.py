"""The costs chapter's table of Nielsen's runs against our seeds, and the probes chapter's
table of the MLPs' layers by epoch, from hand-made snapshots."""

from cnn_jax.inside import probes_chapter as probes
from cnn_jax.studies.costs import chapter as costs


def _measure(his, ours):
    return {
        "his": his,
        "ours": ours,
        "mean": sum(ours) / len(ours),
        "min": min(ours),
        "max": max(ours),
        "seeds_below": sum(x < his for x in ours),
        "seeds_above": sum(x > his for x in ours),
    }


def test_costs_nielsen_rows_and_the_reduced_setting():
    overlay = {
        "file": "fig/regularized_full.json",
        "epochs": 30,
        "seeds": 2,
        "differs": [],
        "best": _measure(0.9649, [0.9642, 0.9596]),
        "final": _measure(0.9561, [0.9611, 0.9571]),
        "peak_epoch": _measure(29, [24, 29]),
    }
    study = {"images": 50_000, "epochs": 30, "configs": {"lambda=5": {"nielsen": overlay}}}
    s = {"runs": {"costs/regularization": {"studies": {"full": study}}}}
    table = costs.nielsen(s)
    row = table.splitlines()[2]
    assert row.startswith("| 50,000 images, 30 epochs | 5 | 2 | 96.49 | 96.19 (95.96–96.42); ")
    assert "2 below, 0 above | 95.61 | 95.91 (95.71–96.11); 0 below, 2 above" in row
    assert row.endswith("| 29 | 26 (24–29); 1 below, 0 above |")
    overlay.update(seeds=1, differs=["images 200 (his 50000)"])
    for m in ("best", "final", "peak_epoch"):
        overlay[m] = _measure(overlay[m]["his"], overlay[m]["ours"][:1])
    row = costs.nielsen(s).splitlines()[2]
    assert "(not his: images 200 (his 50000))" in row and "96.42; 1 below, 0 above" in row
    empty = {"runs": {"costs/regularization": {"studies": {}}}}
    assert costs.nielsen(empty).startswith("(no run")


def test_probes_by_epoch_shows_each_hidden_output_and_the_output():
    layers = ["input", "flatten", "dense1", "relu1", "dense2", "relu2", "dense3", "sigmoid"]
    probe = {name: [0.1 * i, 0.1 * i + 0.05] for i, name in enumerate(layers)}
    run = {
        "label": "mlp_relu",
        "epochs": [0, 2],
        "test_accuracy": [None, 0.93],
        "layers": layers,
        "probe_test_accuracy": probe,
        "nearest_mean_accuracy": {n: [v / 2 for v in vs] for n, vs in probe.items()},
    }
    table = probes.by_epoch({"runs": {"probes_mlp": {"by_epoch": [run]}}}).splitlines()
    assert table[0] == "| network | epoch | test acc. (%) | hidden 1 | hidden 2 | output |"
    assert table[2] == "| mlp_relu | 0 | – | 0.300 (0.150) | 0.500 (0.250) | 0.700 (0.350) |"
    assert table[3] == "| mlp_relu | 2 | 93.00 | 0.350 (0.175) | 0.550 (0.275) | 0.750 (0.375) |"
    assert probes.by_epoch({"runs": {}}).startswith("(no run")
