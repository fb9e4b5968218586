"""JAX's persistent compilation cache, on for every script: a program compiled once is read
back from disk by the next run instead of being compiled again.

The compiled programs live beside the MNIST download, in ``download.cache_root() / "xla"``
(``$CNN_JAX_CACHE_DIR/xla``, else ``$XDG_CACHE_HOME/cnn_jax/xla``, else
``~/.cache/cnn_jax/xla``). ``$CNN_JAX_COMPILE_CACHE`` chooses, once per process:

- unset, empty or ``1``: that folder;
- ``0`` (or ``off``, ``false``, ``no``): no cache, every program is compiled;
- anything else: a folder to use instead (the tests keep their own this way).

The cache only ever saves time. A folder that cannot be written turns it off with one
warning line; an entry that cannot be read (truncated, corrupt, from another machine) is
compiled afresh, with one warning line for the whole run. JAX keys every entry by the
program, the JAX and XLA versions, the backend and the compile options, so a cached
program is the one a fresh compile would give, and no number changes.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path

from cnn_jax import download

ENV_VAR = "CNN_JAX_COMPILE_CACHE"
OFF = ("0", "off", "false", "no")
# Programs that compile faster than this are not worth a file: JAX compiles many tiny ones
# (one per eager array operation), and reading them back would cost about as much.
MIN_COMPILE_SECONDS = 0.1
# What JAX's own warnings about a cache entry it could not read or write begin with.
JAX_WARNINGS = (
    "Error reading persistent compilation cache",
    "Error writing persistent compilation cache",
)

_state = {"warned": False, "hooked": False}


def folder() -> Path | None:
    """The folder ``$CNN_JAX_COMPILE_CACHE`` asks for (see the module), None when off."""
    choice = os.environ.get(ENV_VAR, "").strip()
    if choice.lower() in OFF:
        return None
    if choice in ("", "1"):
        return download.cache_root() / "xla"
    return Path(choice).expanduser()


def _warn(text: str) -> None:
    """One line on stderr, once per process."""
    if not _state["warned"]:
        _state["warned"] = True
        sys.stderr.write(f"warning: compile cache: {text}\n")


def _writable(path: Path) -> str | None:
    """None if ``path`` is (or can be made) a folder this process can write, else why not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as e:
        return e.strerror or type(e).__name__
    return None


def _one_line_cache_warnings(show):
    """``warnings.showwarning`` that prints JAX's cache warnings (a long key, sometimes a
    multi-line error) as one line, once per run, and passes every other warning on."""

    def showwarning(message, category, filename, lineno, file=None, line=None):
        text = str(message)
        if text.startswith(JAX_WARNINGS):
            first = text.splitlines()[0] if text else ""
            _warn(f"{first[:200]} (compiling instead)")
            return
        show(message, category, filename, lineno, file, line)

    return showwarning


def enable() -> Path | None:
    """Point JAX at the cache folder (call before the first compile); returns the folder,
    or None when the cache is off or the folder cannot be written (one warning line)."""
    import jax

    path = folder()
    if path is None:
        jax.config.update("jax_enable_compilation_cache", False)
        return None
    why = _writable(path)
    if why is not None:
        _warn(f"{path} is not writable ({why}); compiling every program")
        jax.config.update("jax_enable_compilation_cache", False)
        return None
    jax.config.update("jax_enable_compilation_cache", True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)  # no size floor
    if not _state["hooked"]:
        _state["hooked"] = True
        warnings.showwarning = _one_line_cache_warnings(warnings.showwarning)
    return path
