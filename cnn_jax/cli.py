"""What every experiment script shares: one-line errors, the common flags and their checks,
the data preamble, and the run folder (created, checked writable and locked before work).

Every rejected input is one line on stderr and exit 2 (:data:`errors.EXIT_USAGE`), found
before anything is computed or written; a diverged run is one line and exit 3.
"""

from __future__ import annotations

import argparse
import fcntl
import functools
import inspect
import logging
import math
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from cnn_jax import compile_cache, interrupt
from cnn_jax.errors import EXIT_DIVERGED, EXIT_USAGE, Diverged, UsageError

SEED_RANGE = 2**32  # jax.random.key takes an unsigned 32-bit seed without wrapping


class _HelpFormatter(argparse.HelpFormatter):
    """Appends "(default: X)" to a flag's help when it has a default worth showing."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        # identity, not ==: a default of 0 is worth showing, False (a switch) is not
        shown = not any(default is v for v in (None, False, argparse.SUPPRESS)) and default != []
        if shown and action.option_strings and "(default" not in text and "%(default)" not in text:
            if isinstance(default, tuple):
                default = ",".join(map(str, default))
            text += f" (default: {default})".replace("%", "%%")
        return text


class Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # one line instead of usage + message
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def one_line_errors(main: Callable, *, compiles: bool = True) -> Callable:
    """Wrap a script's ``main(argv)``: a :class:`UsageError` (bad data, folder, checkpoint,
    config) ends it with one line and exit 2, :class:`Diverged` with one line and exit 3,
    Ctrl-C with one line naming where a rerun continues and exit 130 (:mod:`interrupt`).
    A script that ``compiles`` reuses compiled programs from the persistent cache
    (:mod:`compile_cache`); one that only reads JSON (the report) never starts JAX."""
    prog = Path(inspect.getfile(main)).name

    @functools.wraps(main)
    def wrapped(argv: list[str] | None = None) -> int:
        if compiles:
            compile_cache.enable()  # before the first compile
        try:
            with interrupt.one_line(prog):  # Ctrl-C: one line, exit 130
                return main(argv)
        except UsageError as e:
            sys.stderr.write(f"{prog}: error: {e}\n")
            raise SystemExit(EXIT_USAGE) from None
        except Diverged as e:
            sys.stderr.write(f"{prog}: diverged: {e}\n")
            raise SystemExit(EXIT_DIVERGED) from None

    return wrapped


def exit_with(main: Callable[[], int]) -> None:
    """``raise SystemExit(main())`` for a script. After a failure, noise at interpreter
    shutdown is silenced so the one-line error stays the only output: reading a corrupt
    checkpoint leaves Orbax's other array reads unfinished, and they report as they die."""
    try:
        code = main()
    except SystemExit as e:
        code = e.code
    if code:
        sys.unraisablehook = lambda _: None
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    raise SystemExit(code)


# ----------------------------------------------------------------------------- flag types


def _number(text: str, kind: type):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {kind.__name__}, got {text!r}") from None


def positive_int(text: str) -> int:
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def seed(text: str) -> int:
    value = _number(text, int)
    if not 0 <= value < SEED_RANGE:
        raise argparse.ArgumentTypeError(f"must be in [0, 2**32), got {text}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0: a learning rate, a scale."""
    value = _number(text, float)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0: an L2 λ."""
    value = _number(text, float)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def rate(text: str) -> float:
    """A probability in [0, 1): a dropout rate."""
    value = _number(text, float)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def int_list(text: str) -> tuple[int, ...]:
    """ "30,30,10" -> (30, 30, 10); every entry >= 1."""
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if min(values) < 1:
        raise argparse.ArgumentTypeError(f"entries must be >= 1, got {text!r}")
    return values


def epoch_list(text: str) -> tuple[int, ...]:
    """ "0,1,2,5,30" -> (0, 1, 2, 5, 30): the epochs whose checkpoints to keep or read
    (0 is the initialization); sorted, each once, every entry >= 0."""
    try:
        values = {int(v) for v in text.split(",")}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated epochs, got {text!r}") from None
    if min(values) < 0:
        raise argparse.ArgumentTypeError(f"epochs must be >= 0, got {text!r}")
    return tuple(sorted(values))


def float_list(text: str) -> tuple[float, ...]:
    """ "0.1,0.5" -> (0.1, 0.5); every entry finite and > 0."""
    return tuple(positive_float(v) for v in text.split(","))


class InOrder(argparse.Action):
    """Appends (this flag's dest, value) to ``networks``: repeatable flags of several kinds
    keep the order of the command line, whichever flag names each value."""

    def __call__(self, parser, namespace, values, option_string=None):
        namespace.networks = [*namespace.networks, (self.dest, values)]


# ----------------------------------------------------------------------------- shared flags


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    from cnn_jax.data import ENV_VAR

    parser.add_argument(
        "--data-dir",
        default=None,
        help=f"Folder with the four MNIST IDX files (default: ${ENV_VAR}, else the download "
        "cache, TFDS, or a download).",
    )


def add_common(
    parser: argparse.ArgumentParser, *, out: str | None, seed_default: int | None = 0
) -> None:
    """--data-dir, --out, --no-progress, and --seed (unless ``seed_default`` is None)."""
    add_data_dir(parser)
    if seed_default is not None:
        parser.add_argument("--seed", type=seed, default=seed_default, help="Root random seed.")
    parser.add_argument("--out", default=out, help="Output folder.")
    parser.add_argument("--no-progress", action="store_true", help="Show no progress bars.")


# ----------------------------------------------------------------------------- progress

# The one progress convention: ``progress(desc, total)`` returns a bar that counts up to
# ``total`` with ``update(n)`` and ends with ``close()``. Engines and studies take such a
# factory (default :func:`silent`); scripts pass :func:`progress_bars`.


class Bar(Protocol):
    def update(self, n: int = 1) -> object: ...

    def close(self) -> object: ...


Progress = Callable[[str, int], Bar]


class SilentBar:
    """A bar that counts and prints nothing."""

    def __init__(self, total: int = 0):
        self.n, self.total = 0, total

    def update(self, n: int = 1) -> None:
        self.n += n

    def close(self) -> None:
        pass


def silent(desc: str, total: int) -> SilentBar:
    """The progress factory that shows nothing: every engine's default."""
    del desc
    return SilentBar(total)


def tracked(items, progress: Progress, desc: str):
    """Yield ``items``, moving a ``progress(desc, len(items))`` bar one step per item."""
    bar = progress(desc, len(items))
    for item in items:
        yield item
        bar.update(1)
    bar.close()


def progress_bars(disabled: bool = False) -> Progress:
    """The progress factory of a script: tqdm bars on stderr, or :func:`silent` when
    ``disabled`` (``--no-progress``)."""
    if disabled:
        return silent
    from tqdm import tqdm

    return lambda desc, total: tqdm(total=total, desc=desc, file=sys.stderr)


def one_lapack_thread() -> None:
    """Run OpenBLAS, the LAPACK behind ``jnp.linalg`` on CPU, on one thread.

    Its threads wait on one another, and on a machine whose cores other jobs share, a
    small QR or SVD (a randomized PCA's) then takes far longer than on one thread, which
    is as fast for such matrices. OpenBLAS reads OPENBLAS_NUM_THREADS once, when the first
    decomposition loads it: call this before any. A value already set is kept.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


# ----------------------------------------------------------------------------- checks


def check(ok: bool, message: str) -> None:
    """Raise :class:`UsageError` with ``message`` unless ``ok``."""
    if not ok:
        raise UsageError(message)


def check_count(flag: str, asked: int | None, available: int, what: str) -> None:
    """``flag`` asks for ``asked`` of ``available`` items: more is an error, never a silent cap
    (results.json records what was asked for, so it must be what was used)."""
    if asked is not None and asked > available:
        raise UsageError(f"{flag} {asked} is more than the {available:,} {what}")


def check_data_dir(data_dir: str | None) -> None:
    """An explicit data folder (flag or environment) must be a folder."""
    from cnn_jax.data import ENV_VAR

    folder = data_dir or os.environ.get(ENV_VAR)
    if folder and (problem := not_a_folder(folder)):
        raise UsageError(f"data folder {folder} {problem}")


def not_a_folder(path: str | Path) -> str | None:
    """Why ``path`` is not a folder ("does not exist", "is not a folder"), or None."""
    path = Path(path)
    if path.is_dir():
        return None
    return "is not a folder" if path.exists() else "does not exist"


def load_mnist(data_dir: str | None, *, progress: bool = True):
    """The data preamble of a script: check the folder, then load (DataError is one line)."""
    from cnn_jax import data

    check_data_dir(data_dir)
    return data.load_mnist(data_dir, progress=progress)


# ----------------------------------------------------------------------------- run folder

LOCK_NAME = ".lock"


class RunFolder:
    """An output folder held by this process alone: created, checked writable, and locked
    with an OS lock (``flock``) that the kernel drops when the process dies, so kill -9
    leaves no stale lock. Use as a context manager, or keep it for the process's life.
    ``lock=False`` only creates and checks the folder: for the processes of a
    several-process run other than the one that writes (which holds the lock for all)."""

    def __init__(self, path: str | Path, *, lock: bool = True):
        self.path = Path(path)
        self._fd = None
        if not_a_folder(self.path) == "is not a folder":
            raise UsageError(f"--out {self.path} exists and is not a folder")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=self.path).close()
        except OSError as e:
            raise UsageError(f"--out {self.path} is not writable ({e.strerror})") from None
        if not lock:
            return
        self._fd = os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(self._fd, 32).decode(errors="replace").strip() or "?"
            os.close(self._fd)
            raise UsageError(
                f"{self.path} is in use by another run (pid {holder}); wait or pass another --out"
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
