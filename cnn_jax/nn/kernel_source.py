"""The C++ convolution kernel's sources and their digest, with no import beyond the standard
library: setup.py loads this file on its own and compiles the digest into the library, and
``conv_kernel.py`` compares it with today's sources when the library loads."""

from __future__ import annotations

import hashlib
from pathlib import Path

HERE = Path(__file__).parent
SOURCES = ("conv_kernel.cc", "conv_kernel_loops.h")  # compiled as one unit, hashed in order


def source_digest(folder: Path = HERE) -> str | None:
    """SHA-256 of the kernel's sources in ``folder``, or None where they are not there."""
    digest = hashlib.sha256()
    for name in SOURCES:
        if not (folder / name).is_file():
            return None
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()
