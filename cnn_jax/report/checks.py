"""What the report trusts, checked: every number it scores, every results.json it reads, the
folder it writes, and the runs that failed or ran at another scale.

A value that is not a real, finite number of the kind expected (a string "0.99", a list where
one number per seed is expected, 10**400, NaN) is *unreadable*: the report shows it with the
reason and never scores it.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

from cnn_jax.errors import UsageError
from cnn_jax.report.runner import STATE


class Unreadable(ValueError):
    """A value or file the report cannot score; the message says where and why."""


def _kind(value) -> str:
    if isinstance(value, str):
        return f"the string {json.dumps(value[:20])}"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def real(value, where: str) -> float:
    """``value`` as a float when it is a JSON number that fits one and is finite, else
    :class:`Unreadable` naming ``where`` and why."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unreadable(f"{where} is {_kind(value)}, not a number")
    try:
        number = float(value)
    except OverflowError:
        raise Unreadable(f"{where} is too large for a float") from None
    if not math.isfinite(number):
        raise Unreadable(f"{where} is not finite ({number})")
    return number


def reals(value, where: str, *, lists: bool) -> float | list[float]:
    """A number, or (``lists``) a list of numbers, nested lists flattened, each one checked
    by :func:`real`. A list where ``lists`` is False is unreadable."""
    if isinstance(value, list):
        if not lists:
            raise Unreadable(f"{where} is a list where one number per seed folder belongs")
        flat: list[float] = []
        for i, item in enumerate(value):
            got = reals(item, f"{where}[{i}]", lists=True)
            flat += got if isinstance(got, list) else [got]
        if not flat:
            raise Unreadable(f"{where} is an empty list")
        return flat
    return real(value, where)


def read_results(path: Path) -> dict:
    """A results.json as a dict; :class:`Unreadable` when it is not JSON or not an object."""
    try:
        tree = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise Unreadable(f"{path} cannot be read ({getattr(e, 'strerror', None) or e})") from None
    except ValueError:
        raise Unreadable(f"{path} is not valid JSON") from None
    if not isinstance(tree, dict):
        raise Unreadable(f"{path} holds {_kind(tree)}, not an object")
    return tree


def first_bad_number(tree, where: str = "") -> str | None:
    """The path of the first number in a JSON tree that is not finite or does not fit a
    float ("rows/0/test_error: not finite"), or None."""
    if isinstance(tree, dict):
        items = tree.items()
    elif isinstance(tree, list):
        items = enumerate(tree)
    elif isinstance(tree, int | float) and not isinstance(tree, bool):
        try:
            real(tree, where or "value")
        except Unreadable as e:
            return str(e)
        return None
    else:
        return None
    for key, item in items:
        found = first_bad_number(item, f"{where}/{key}" if where else str(key))
        if found is not None:
            return found
    return None


def writable(folder: Path, what: str) -> None:
    """Refuse (UsageError, one line) a folder the report cannot write into."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as e:
        raise UsageError(f"{what} {folder} is not writable ({e.strerror or e})") from None


# ----------------------------------------------------------------------------- runs


def _marker(out: Path, path: str) -> dict:
    try:
        done = json.loads((out / STATE / f"{path}.done.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return done if isinstance(done, dict) else {}


def last_line(out: Path, path: str) -> str:
    """The last non-empty line of a run's log (its one-line error, when it failed)."""
    try:
        text = (out / STATE / f"{path}.log").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def failed_runs(out: Path) -> list[tuple[str, int, str]]:
    """(run path, exit code, last line of its log) of every run whose done marker records a
    failure, in path order."""
    found = []
    state = out / STATE
    for marker in sorted(state.rglob("*.done.json")) if state.is_dir() else []:
        path = marker.relative_to(state).as_posix().removesuffix(".done.json")
        code = _marker(out, path).get("returncode")
        if isinstance(code, int) and code != 0:
            found.append((path, code, last_line(out, path)))
    return found


def run_failure(out: Path, run: str) -> str | None:
    """ "failed (exit 3): <last line>" when the run (or its first seed) failed, else None."""
    for path in (run, f"{run}/s0"):
        code = _marker(out, path).get("returncode")
        if isinstance(code, int) and code != 0:
            line = last_line(out, path)
            return f"{path} failed (exit {code})" + (f": {line}" if line else "")
    return None


def run_scale(out: Path, run: str) -> str | None:
    """The scale a run was last reproduced at (its done marker; its first seed's), or None."""
    for path in (run, f"{run}/s0"):
        scale = _marker(out, path).get("scale")
        if isinstance(scale, str):
            return scale
    return None
