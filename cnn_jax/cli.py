"""Shared bits of the experiment scripts: a parser whose errors are one line, exit 2."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + message
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


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


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
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


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    from cnn_jax.data import ENV_VAR

    parser.add_argument(
        "--data-dir",
        default=None,
        help=f"folder with the four MNIST IDX files (default: ${ENV_VAR}, else TFDS)",
    )
