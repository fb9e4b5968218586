"""The package's import graph: no cycles, and every import points down the layers

    errors, results, data, download, plotting, cli   (top level: the foundations)
    nn          building blocks (layers, losses, models, tree naming)
    training    the engines: the Flax trainer (config, step, loop, checkpoints, runs),
                Nielsen's vmapped SGD, per-layer gradient measurement, devices
    inside      looking into networks: every layer's output, probes, CKA
    studies/<chapter>   (side by side: no chapter imports another)

so plotting never imports training, the building blocks never import a study, and a study
may measure its networks with the tools of ``inside`` (never the reverse).
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cnn_jax"
RANK = {"nn": 1, "training": 2, "inside": 3, "studies": 4}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The cnn_jax modules ``path`` imports (``from cnn_jax.nn import losses`` counts as
    cnn_jax.nn.losses when that is a module, else cnn_jax.nn)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("cnn_jax")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cnn_jax"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                is_module = (PACKAGE.parent / Path(*full.split("."))).with_suffix(".py").exists()
                found.add(full if is_module else node.module)
    return found


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports(p) for p in PACKAGE.rglob("*.py")}


def rank(module: str) -> int:
    parts = module.split(".")
    return RANK.get(parts[1], 0) if len(parts) > 2 else 0


def layer(module: str) -> str:
    """The top-level layer, and for studies the chapter: "studies.depth", "inside", ..."""
    parts = module.split(".")
    if len(parts) > 3 and parts[1] == "studies":
        return f"studies.{parts[2]}"
    return parts[1] if len(parts) > 2 else "top"


def test_every_import_points_down_the_layers():
    wrong = [
        f"{m} imports {i}"
        for m, deps in graph().items()
        for i in deps
        if rank(i) > rank(m) or (rank(i) == rank(m) == RANK["studies"] and layer(i) != layer(m))
    ]
    assert not wrong, wrong


def test_import_graph_has_no_cycle():
    g = graph()
    state: dict[str, str] = {}

    def visit(m, path):
        state[m] = "open"
        for d in sorted(g.get(m, ())):
            assert state.get(d) != "open", " -> ".join([*path, m, d])
            if d not in state:
                visit(d, [*path, m])
        state[m] = "done"

    for m in sorted(g):
        if m not in state:
            visit(m, [])


def test_the_rules_would_catch_a_violation():
    assert rank("cnn_jax.training.train") > rank("cnn_jax.plotting")
    assert rank("cnn_jax.studies.depth.study") > rank("cnn_jax.inside.layers")
    assert layer("cnn_jax.studies.depth.study") != layer("cnn_jax.studies.costs.study")
    assert "cnn_jax.nn.losses" in imports(PACKAGE / "training" / "sgd.py")
