"""Interactive charts of the stored results: hover for values, toggle rows and seeds.

Each chapter with charts gets one self-contained page, ``<out>/<chapter>.html``: Vega-Lite
specs written with Altair from the chapter's snapshot (``docs/results/<chapter>.json``, the
numbers the docs' tables show; nothing is recomputed in the page) and the Vega, Vega-Lite
and vega-embed bundle that vl-convert ships, inlined once per page, so the page opens from
``file://`` with no request. matplotlib keeps drawing the PNGs of the docs.

    python -m cnn_jax.report.interactive --out runs/interactive

The charts: the vanishing-gradient explorer (‖δˡ‖ per layer at initialization, activation ×
cost × depth, with the band over seeds), ‖δˡ‖ during training beside Nielsen's, and the
learning curves of the same networks; the
CNNs' test accuracy by epoch, seed by seed; the initialization table's test error, seed by
seed. A page marks ``<html data-charts-rendered="n">`` once every chart has drawn.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import altair as alt

from cnn_jax.chapter import FULL
from cnn_jax.results import write_text

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = ROOT / "docs" / "results"
LOG = alt.Scale(type="log")


@dataclass(frozen=True)
class Chart:
    """One chart of a chapter: its element id, title, what it shows, and how it is built
    from the chapter's snapshot ({"runs": ..., "provenance": ...})."""

    id: str
    title: str
    caption: str
    build: Callable[[Mapping], alt.TopLevelMixin]


def _hidden(network: str) -> int:
    """The hidden layers of a network named like "784-30-30-10" (2)."""
    return len(network.split("-")) - 2


# ----------------------------------------------------------------------------- vanishing

VANISHING_RUN = "vanishing/gradients"
SETTINGS = ("sigmoid + CE", "sigmoid + MSE", "ReLU + CE")


def delta_norm_rows(run: Mapping) -> tuple[list[dict], list[dict]]:
    """(rows, catalogue) of the explorer. rows: one per stored (setting, depth, hidden
    layer) with the median ‖δˡ‖ over seeds, the p01–p99 band where the snapshot keeps it,
    and Nielsen's published value. catalogue: one row per setting × depth saying what is
    stored for it."""
    rows, stored = [], {}
    for network, entry in run["delta_norms"].items():  # Nielsen's networks: sigmoid + CE
        key = ("sigmoid + CE", _hidden(network))
        stored[key] = "median and p01–p99 band over seeds; ×: Nielsen's published value"
        for i, _ in enumerate(entry["layers"]):
            published = entry.get("published")
            rows.append({
                "setting": key[0], "hidden": key[1], "layer": i + 1, "network": network,
                "median": entry["median"][i], "p01": entry["p01"][i], "p99": entry["p99"][i],
                "published": published[i] if published else None,
            })  # fmt: skip
    for setting, entry in run.get("comparison", {}).items():
        key = (setting, _hidden(entry["network"]))
        if key in stored:
            continue  # sigmoid + CE at depth 4 is Nielsen's deepest network, already there
        stored[key] = "median over seeds only (the snapshot keeps no band for this network)"
        for i, value in enumerate(entry["median"][: key[1]]):  # hidden layers, as Nielsen's
            rows.append({
                "setting": setting, "hidden": key[1], "layer": i + 1,
                "network": entry["network"], "median": value,
            })  # fmt: skip
    depths = sorted({h for _, h in stored})
    catalogue = [
        {"setting": s, "hidden": h, "note": stored.get((s, h), "not in the stored sweep")}
        for s in SETTINGS
        for h in depths
    ]
    return rows, catalogue


def vanishing_explorer(snapshot: Mapping) -> alt.TopLevelMixin:
    rows, catalogue = delta_norm_rows(snapshot["runs"][VANISHING_RUN])
    depths = sorted({r["hidden"] for r in catalogue})
    setting = alt.param(
        name="setting",
        value="sigmoid + CE",
        bind=alt.binding_select(options=list(SETTINGS), name="activation + cost "),
    )
    hidden = alt.param(
        name="hidden",
        value=max(depths),
        bind=alt.binding_radio(options=depths, name="hidden layers "),
    )
    chosen = (alt.datum.setting == setting) & (alt.datum.hidden == hidden)
    x = alt.X("layer:O", title="hidden layer (1 = input side)", axis=alt.Axis(labelAngle=0))
    y_title = "‖δˡ‖ at initialization"
    tooltip = [
        alt.Tooltip("network:N"),
        alt.Tooltip("setting:N"),
        alt.Tooltip("layer:O"),
        alt.Tooltip("median:Q", format=".4g", title="median ‖δˡ‖"),
        alt.Tooltip("p01:Q", format=".4g", title="p01"),
        alt.Tooltip("p99:Q", format=".4g", title="p99"),
        alt.Tooltip("published:Q", format=".4g", title="Nielsen"),
    ]
    base = alt.Chart(alt.Data(values=rows)).transform_filter(chosen)
    band = (
        base.transform_filter("isValid(datum.p01)")
        .mark_area(opacity=0.25)
        .encode(x=x, y=alt.Y("p01:Q", scale=LOG, title=y_title), y2="p99:Q", tooltip=tooltip)
    )
    median = base.mark_line(point=alt.OverlayMarkDef(size=60, filled=True)).encode(
        x=x, y=alt.Y("median:Q", scale=LOG, title=y_title), tooltip=tooltip
    )
    published = (
        base.transform_filter("isValid(datum.published)")
        .mark_point(shape="cross", size=120, color="black", filled=True)
        .encode(x=x, y=alt.Y("published:Q", scale=LOG), tooltip=tooltip)
    )
    note = (
        alt.Chart(alt.Data(values=catalogue))
        .transform_filter(chosen)
        .mark_text(align="left", baseline="top", fontSize=12)
        .encode(text="note:N", x=alt.value(0), y=alt.value(0))
        .properties(width=520, height=16, view=alt.ViewConfig(stroke=None))
    )
    layers = alt.layer(band, median, published).properties(width=520, height=320)
    return alt.vconcat(note, layers).add_params(setting, hidden)


def learning_rows(run: Mapping) -> list[dict]:
    """Median over training seeds of train and test accuracy, per network and epoch."""
    rows = []
    for name, entry in run.get("training", {}).items():
        train, test = entry["train_accuracy"], entry["test_accuracy"]
        every = (len(train) - 1) // (len(test) - 1)  # the study tests every eval_every epochs
        for split, values, step in (("train", train, 1), ("test", test, every)):
            rows += [
                {"network": name, "split": split, "epoch": i * step, "accuracy": v}
                for i, v in enumerate(values)
            ]
    return rows


def vanishing_learning(snapshot: Mapping) -> alt.TopLevelMixin:
    rows = learning_rows(snapshot["runs"][VANISHING_RUN])
    pick = alt.selection_point(fields=["network"], bind="legend")
    split = alt.param(
        name="split", value="test", bind=alt.binding_radio(options=["test", "train"], name="split ")
    )
    return (
        alt.Chart(alt.Data(values=rows))
        .transform_filter(alt.datum.split == split)
        .mark_line(point=alt.OverlayMarkDef(size=12))
        .encode(
            x=alt.X("epoch:Q"),
            y=alt.Y("accuracy:Q", title="accuracy (median over training seeds)"),
            color=alt.Color("network:N", title="network (click to show alone)"),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.08)),
            tooltip=["network:N", "split:N", "epoch:Q", alt.Tooltip("accuracy:Q", format=".4f")],
        )
        .add_params(pick, split)
        .properties(width=560, height=320)
    )


def training_delta_rows(run: Mapping) -> list[dict]:
    """‖δˡ‖ during training at Nielsen's recorded epochs: our median and min–max over
    training seeds beside his published value, per network, hidden layer and epoch."""
    rows = []
    for network, entry in run.get("nielsen_training", {}).items():
        for e, epoch in enumerate(entry["epoch"]):
            for i, _ in enumerate(entry["layers"]):
                rows.append({
                    "network": network, "hidden": _hidden(network), "layer": f"h{i + 1}",
                    "epoch": epoch, "median": entry["ours_median"][e][i],
                    "min": entry["ours_min"][e][i], "max": entry["ours_max"][e][i],
                    "published": entry["published"][e][i], "seeds": entry["seeds"],
                })  # fmt: skip
    return rows


def vanishing_training(snapshot: Mapping) -> alt.TopLevelMixin:
    rows = training_delta_rows(snapshot["runs"][VANISHING_RUN])
    depths = sorted({r["hidden"] for r in rows})
    hidden = alt.param(
        name="train_hidden",
        value=max(depths),
        bind=alt.binding_radio(options=depths, name="hidden layers "),
    )
    pick = alt.selection_point(fields=["layer"], bind="legend")
    x = alt.X("epoch:Q")
    colour = alt.Color("layer:N", title="layer (click to show alone)")
    fade = alt.condition(pick, alt.value(1.0), alt.value(0.07))
    tooltip = [
        "network:N", "layer:N", "epoch:Q", alt.Tooltip("median:Q", format=".4g"),
        alt.Tooltip("min:Q", format=".4g"), alt.Tooltip("max:Q", format=".4g"),
        alt.Tooltip("published:Q", format=".4g", title="Nielsen"), "seeds:Q",
    ]  # fmt: skip
    base = alt.Chart(alt.Data(values=rows)).transform_filter(alt.datum.hidden == hidden)
    y = alt.Y("median:Q", scale=LOG, title="‖δˡ‖ during training")
    band = base.mark_area(opacity=0.2).encode(
        x=x, y=alt.Y("min:Q", scale=LOG), y2="max:Q", color=colour, opacity=fade
    )
    median = base.mark_line().encode(x=x, y=y, color=colour, opacity=fade, tooltip=tooltip)
    published = base.mark_point(shape="cross", size=35, filled=True).encode(
        x=x, y=alt.Y("published:Q", scale=LOG), color=colour, opacity=fade, tooltip=tooltip
    )
    return (
        alt.layer(band, median, published)
        .add_params(hidden, pick)
        .properties(width=560, height=320)
    )


# ----------------------------------------------------------------------------- cnn


def cnn_rows(runs: Mapping) -> list[dict]:
    """Test accuracy per epoch of every stored seed of every CNN run at the study's 10 epochs
    (the ``@full`` runs, which keep their seeds, s0, s1, ... in run-folder order); the model
    is the run's path under cnn/ ("study_deep", "keras/sgd")."""
    rows = []
    for run, entry in runs.items():
        if not run.endswith(FULL):
            continue
        model = run.removeprefix("cnn/").removesuffix(FULL)
        for i, seed in enumerate(entry.get("seeds") or [entry]):
            rows += [
                {"model": model, "seed": f"s{i}", "epoch": e + 1, "test_accuracy": acc}
                for e, acc in enumerate(seed["test_accuracies"])
            ]
    return rows


def cnn_accuracy(snapshot: Mapping) -> alt.TopLevelMixin:
    rows = cnn_rows(snapshot["runs"])
    seeds = sorted({r["seed"] for r in rows}, key=lambda s: int(s[1:]))
    model = alt.selection_point(fields=["model"], bind="legend")
    seed = alt.param(
        name="seed", value="all", bind=alt.binding_select(options=["all", *seeds], name="seed ")
    )
    return (
        alt.Chart(alt.Data(values=rows))
        .transform_filter((seed == "all") | (alt.datum.seed == seed))
        .mark_line(point=alt.OverlayMarkDef(size=30))
        .encode(
            x=alt.X("epoch:O", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("test_accuracy:Q", scale=alt.Scale(zero=False), title="test accuracy"),
            color=alt.Color("model:N", title="model (click to show alone)"),
            detail="seed:N",
            opacity=alt.condition(model, alt.value(0.9), alt.value(0.06)),
            tooltip=["model:N", "seed:N", "epoch:O", alt.Tooltip("test_accuracy:Q", format=".4f")],
        )
        .add_params(model, seed)
        .properties(width=560, height=320)
    )


# ----------------------------------------------------------------------------- initialization


def initialization_rows(runs: Mapping) -> list[dict]:
    """Test error of every seed of every row of the initialization table, with the row's
    mean and the published error."""
    rows = []
    for name, entry in runs["initialization"]["table"].items():
        for i, err in enumerate(entry["test_errors"]):
            rows.append({
                "row": name, "seed": i, "test_error": err, "mean": entry["test_error"],
                "published": entry.get("published_test_error"), "lr": entry.get("chosen_lr"),
            })  # fmt: skip
    return rows


def initialization_errors(snapshot: Mapping) -> alt.TopLevelMixin:
    rows = initialization_rows(snapshot["runs"])
    pick = alt.selection_point(fields=["row"], bind="legend")
    y = alt.Y("row:N", title=None, sort=None)
    tooltip = [
        "row:N", "seed:O", alt.Tooltip("test_error:Q", format=".2f", title="test error %"),
        alt.Tooltip("mean:Q", format=".2f", title="mean %"), alt.Tooltip("lr:Q", title="lr"),
        alt.Tooltip("published:Q", title="published %"),
    ]  # fmt: skip
    base = alt.Chart(alt.Data(values=rows)).transform_filter(pick)
    seeds = base.mark_point(size=70, filled=True).encode(
        x=alt.X("test_error:Q", scale=LOG, title="test error % (log)"),
        y=y,
        color=alt.Color("row:N", title="row (click to keep)"),
        tooltip=tooltip,
    )
    published = (
        base.transform_filter("isValid(datum.published)")
        .mark_point(shape="cross", size=110, color="black", filled=True)
        .encode(x="published:Q", y=y, tooltip=tooltip)
    )
    # The legend comes from an unfiltered layer, so a hidden row can be clicked back.
    legend = (
        alt.Chart(alt.Data(values=rows))
        .mark_point(opacity=0)
        .encode(color=alt.Color("row:N"), x="test_error:Q", y=y)
        .add_params(pick)
    )
    return alt.layer(legend, seeds, published).properties(width=520, height=240)


# ----------------------------------------------------------------------------- pages

CHARTS: dict[str, tuple[Chart, ...]] = {
    "vanishing": (
        Chart(
            "vanishing-explorer",
            "Vanishing gradient explorer: ‖δˡ‖ per layer at initialization",
            "Choose the activation + cost and the depth. The line is the median over seeds of "
            "‖δˡ‖ = ‖∂C/∂bˡ‖ at initialization, the shaded band its 1st–99th percentiles over "
            "seeds, × Nielsen's published value; hover a point for its numbers.",
            vanishing_explorer,
        ),
        Chart(
            "vanishing-training",
            "‖δˡ‖ during training, beside Nielsen's",
            "Nielsen's recorded ‖δˡ‖ (crosses) at his epochs, on our median (line) and "
            "min–max band over training seeds. Choose the depth; click a layer in the legend "
            "to show it alone; hover for values.",
            vanishing_training,
        ),
        Chart(
            "vanishing-learning",
            "Learning: accuracy by epoch, per network",
            "Median over training seeds. Click a network in the legend to show it alone "
            "(shift-click for several), hover for values.",
            vanishing_learning,
        ),
    ),
    "cnn": (
        Chart(
            "cnn-accuracy",
            "The CNNs' test accuracy by epoch, seed by seed",
            "Every stored seed of the full-scale runs. Click a model in the legend to show it "
            "alone; choose one seed or all; hover for values.",
            cnn_accuracy,
        ),
    ),
    "initialization": (
        Chart(
            "initialization-errors",
            "Test error of each activation and initialization, seed by seed",
            "One dot per seed, × the published error. Click a row in the legend to keep it "
            "alone (shift-click for several); hover for values.",
            initialization_errors,
        ),
    ),
}

PAGE_STYLE = (
    "body{font:15px/1.45 system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}"
    "figure{margin:1.5em 0}figcaption{font-size:13px;color:#444;max-width:720px}"
    ".vega-bindings{font-size:13px;margin:.4em 0}code{font-size:12px;background:#f4f4f4}"
)


def _bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script, for the Vega-Lite version Altair writes."""
    import vl_convert
    from altair.utils._importers import vl_version_for_vl_convert

    bundle = vl_convert.javascript_bundle(vl_version=vl_version_for_vl_convert())
    return bundle.replace("</script", "<\\/script")  # it must not close its own element


def render_page(chapter: str, snapshot: Mapping, source: str, bundle: str) -> str:
    """The chapter's page as one HTML string; ``source`` names the snapshot file."""
    e = html.escape
    charts = CHARTS[chapter]
    specs = {c.id: c.build(snapshot).to_dict() for c in charts}
    blob = json.dumps(specs, separators=(",", ":")).replace("</", "<\\/")
    figures = "\n".join(
        f'<figure><h2>{e(c.title)}</h2><div id="{c.id}" class="chart"></div>'
        f"<figcaption>{e(c.caption)}</figcaption></figure>"
        for c in charts
    )
    commands = "".join(
        f"<li>{e(run)}: <code>{e(p.get('command', ''))}</code></li>"
        for run, p in snapshot.get("provenance", {}).items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{e(chapter)}: interactive charts</title><style>{PAGE_STYLE}</style>
<script>{bundle}</script>
</head><body>
<h1>{e(chapter)}: interactive charts</h1>
<p>From the stored results in <code>{e(source)}</code>; nothing is recomputed in this page.</p>
{figures}
<h2>The runs behind these numbers</h2><ul>{commands}</ul>
<script>
(function () {{
  var specs = {blob};
  window.charts = {{}};
  Promise.all(Object.keys(specs).map(function (id) {{
    return vegaEmbed("#" + id, specs[id], {{renderer: "svg", actions: false}})
      .then(function (result) {{ window.charts[id] = result.view; }});
  }})).then(function () {{
    document.documentElement.setAttribute("data-charts-rendered", Object.keys(specs).length);
  }}).catch(function (error) {{
    document.documentElement.setAttribute("data-charts-error", String(error));
  }});
}})();
</script>
</body></html>
"""


def write_pages(out_dir: str | Path, snapshots_dir: str | Path = SNAPSHOTS) -> dict[str, Path]:
    """One page per chapter with charts, ``<out_dir>/<chapter>.html``, from
    ``<snapshots_dir>/<chapter>.json``; returns {chapter: page}. A chapter whose snapshot is
    missing gets no page."""
    out_dir, snapshots_dir = Path(out_dir), Path(snapshots_dir)
    bundle = _bundle()
    written = {}
    for chapter in CHARTS:
        path = snapshots_dir / f"{chapter}.json"
        if not path.is_file():
            continue
        snapshot = json.loads(path.read_text())
        source = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        write_text(out_dir / f"{chapter}.html", render_page(chapter, snapshot, str(source), bundle))
        written[chapter] = out_dir / f"{chapter}.html"
    return written
