"""The package's import graph: no cycles, and every import points down the layers

    errors, results, data, download, plotting, cli   (top level: the foundations)
    nn          building blocks (layers, losses, models, tree naming)
    training    the engines: the Flax trainer (config, step, loop, checkpoints, runs),
                Nielsen's vmapped SGD, per-layer gradient measurement, devices
    inside      looking into networks: every layer's output, probes, CKA
    studies/<chapter>   (side by side: no chapter imports another)
    report      the report and the docs' tables: reads every chapter's declaration

so plotting never imports training, the building blocks never import a study, and a study
may measure its networks with the tools of ``inside`` (never the reverse). A chapter's
declaration (studies/<chapter>/chapter.py, inside/<chapter>_chapter.py) imports only the
foundations, so that the report runs without JAX (tests/report/test_no_jax.py).
"""

import ast
import importlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cnn_jax"
RANK = {"nn": 1, "training": 2, "inside": 3, "studies": 4, "report": 5}


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
                found.add(full if _is_module(full) else node.module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.startswith("cnn_jax.") and _is_module(node.value):
                found.add(node.value)  # a module imported by name (importlib)
    return found


def _is_module(name: str) -> bool:
    return (PACKAGE.parent / Path(*name.split("."))).with_suffix(".py").exists()


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


def test_a_chapter_declaration_imports_only_foundations_and_config():
    """What ``python -m cnn_jax.report`` reads of a chapter must not start JAX."""
    registry = imports(PACKAGE / "report" / "chapters.py")
    declarations = [m for m in registry if m.endswith("chapter") and m != "cnn_jax.chapter"]
    assert len(declarations) >= 8, registry
    allowed = {"cnn_jax.chapter", "cnn_jax.tables", "cnn_jax.training.config", "cnn_jax.stats"}

    def path(module: str) -> Path:
        return PACKAGE.parent / Path(*module.split(".")).with_suffix(".py")

    for module in declarations:
        # beside them, a module of the chapter's own that imports only those (its verdicts)
        own = module.rsplit(".", 1)[0] + "."
        figures = chapter(module).figures  # imported by name, only when --docs draws
        found = {
            i
            for i in imports(path(module)) - {figures}
            if not (i.startswith(own) and imports(path(i)) <= allowed)
        }
        assert found <= allowed, (module, found - allowed)
        if figures:  # matplotlib and the chapter's own light modules, never training code
            drawn_with = {i for i in imports(path(figures)) if not i.startswith(own)}
            assert drawn_with <= allowed | {"cnn_jax.plotting"}, (figures, drawn_with)


def chapter(module: str):
    return importlib.import_module(module).CHAPTER


def test_the_rules_would_catch_a_violation():
    assert rank("cnn_jax.training.train") > rank("cnn_jax.plotting")
    assert rank("cnn_jax.studies.depth.study") > rank("cnn_jax.inside.layers")
    assert layer("cnn_jax.studies.depth.study") != layer("cnn_jax.studies.costs.study")
    assert "cnn_jax.nn.losses" in imports(PACKAGE / "training" / "sgd.py")
    assert rank("cnn_jax.report.docs") > rank("cnn_jax.studies.depth.chapter")
    assert "cnn_jax.studies.depth.chapter" in imports(PACKAGE / "report" / "chapters.py")


def test_command_lines_are_parsed_only_in_cli_and_flags():
    """A library module takes values, not flags: argparse lives in cli.py and flags.py (and
    the report's own command line, report/__main__.py); scripts build their parsers."""
    allowed = {"cli.py", "flags.py", "report/__main__.py"}
    # browser.py passes Chromium its switches through selenium's Options.add_argument.
    allowed.add("browser.py")
    found = []
    for path in PACKAGE.rglob("*.py"):
        name = path.relative_to(PACKAGE).as_posix()
        tree = ast.parse(path.read_text())
        uses = any(
            isinstance(node, ast.Import)
            and any(a.name == "argparse" for a in node.names)
            or isinstance(node, ast.Attribute)
            and node.attr in ("add_argument", "ArgumentParser")
            for node in ast.walk(tree)
        )
        if uses and name not in allowed:
            found.append(name)
    assert not found, found
