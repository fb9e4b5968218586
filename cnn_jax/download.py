"""MNIST that downloads itself: the four IDX .gz files, fetched once into a user cache.

Each file is fetched from the first mirror that answers, into a temporary file beside its
final name, decompressed and checked against a pinned SHA-256 of its *decompressed* bytes
(mirrors recompress the files, so their gzip headers, and the hashes of the .gz files,
differ; the IDX bytes inside do not), and only then renamed into place. A file under its
final name has therefore always been verified; a failed or interrupted download leaves
nothing behind.

Standard library only (urllib), so that a fresh install reaches MNIST without TensorFlow.
This module imports nothing from ``cnn_jax``: it raises ``DownloadError``, which
``cnn_jax.data.load_mnist`` turns into its one-line ``DataError``.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Sequence
from pathlib import Path

CACHE_ENV_VAR = "CNN_JAX_CACHE_DIR"  # replaces ~/.cache/cnn_jax; holds mnist/ and xla/
MIRRORS_ENV_VAR = "CNN_JAX_MNIST_MIRRORS"  # space- or comma-separated base URLs

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

# SHA-256 of each file's decompressed bytes, keyed by the file's name without ".gz"
# (the stems of cnn_jax.data.FILES).
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# Per socket operation (connect, each read), not per file: a stalled mirror is given up on
# after this long and the next one is tried.
TIMEOUT_SECONDS = 30.0
_CHUNK = 1 << 16


class DownloadError(Exception):
    """No mirror delivered a file that verifies; the message (one line) names the file and
    why each mirror failed."""


def cache_root() -> Path:
    """The user's cnn_jax cache: ``$CNN_JAX_CACHE_DIR``, else ``$XDG_CACHE_HOME/cnn_jax``,
    else ``~/.cache/cnn_jax``. MNIST goes in its ``mnist/``, compiled programs in ``xla/``."""
    root = os.environ.get(CACHE_ENV_VAR)
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = Path(xdg) if xdg else Path.home() / ".cache"
        root = root / "cnn_jax"
    return Path(root).expanduser()


def cache_dir() -> Path:
    """The folder MNIST downloads into: ``cache_root() / "mnist"``."""
    return cache_root() / "mnist"


def mirrors() -> tuple[str, ...]:
    """Base URLs to try in order: ``$CNN_JAX_MNIST_MIRRORS`` if set, else ``MIRRORS``."""
    text = os.environ.get(MIRRORS_ENV_VAR, "")
    urls = tuple(u for u in text.replace(",", " ").split() if u) or MIRRORS
    return tuple(u if u.endswith("/") else u + "/" for u in urls)


def complete_cache(folder: str | os.PathLike | None = None) -> Path | None:
    """``folder`` (default ``cache_dir()``) if all four files are there, else None.

    Only verified files are ever given their final names, so being there is enough.
    """
    folder = Path(folder) if folder is not None else cache_dir()
    if all((folder / f"{stem}.gz").is_file() for stem in SHA256):
        return folder
    return None


def _one_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, urllib.error.HTTPError):
        text = f"HTTP {error.code} {error.reason}"
    elif isinstance(error, urllib.error.URLError):
        text = str(error.reason)
    return " ".join(text.split())


def _fetch(url: str, dest: Path, stem: str, timeout: float) -> None:
    """Download ``url`` to a temporary file in ``dest``'s folder, verify it, rename it to
    ``dest``. Raises OSError, http.client.HTTPException or ValueError on failure, leaving
    nothing behind."""
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url, timeout=timeout) as response:
            expected = response.headers.get("Content-Length")
            received = 0
            while chunk := response.read(_CHUNK):
                f.write(chunk)
                received += len(chunk)
        if expected is not None and received != int(expected):
            raise ValueError(f"transfer cut short: {received} of {expected} bytes")
        try:
            raw = gzip.decompress(Path(tmp).read_bytes())
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"not a complete gzip file ({_one_line(e)})") from None
        digest = hashlib.sha256(raw).hexdigest()
        if digest != SHA256[stem]:
            raise ValueError(
                f"SHA-256 mismatch (got {digest[:12]}..., pinned {SHA256[stem][:12]}...)"
            )
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)


def download_mnist(
    folder: str | os.PathLike | None = None,
    urls: Sequence[str] | None = None,
    *,
    timeout: float = TIMEOUT_SECONDS,
    progress: bool = True,
) -> Path:
    """Fetch whichever of the four files ``folder`` (default ``cache_dir()``) lacks, trying
    ``urls`` (default ``mirrors()``) in order for each; return the folder.

    Progress, one line per file, goes to stderr unless ``progress`` is False.
    """
    folder = Path(folder) if folder is not None else cache_dir()
    urls = tuple(urls) if urls is not None else mirrors()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DownloadError(
            f"cannot create the MNIST cache folder {folder} ({_one_line(e)}); "
            f"set {CACHE_ENV_VAR} to a writable folder"
        ) from None
    for stem in SHA256:
        name = f"{stem}.gz"
        dest = folder / name
        if dest.is_file():
            continue
        failures = []
        for base in urls:
            url = base + name
            if progress:
                print(f"downloading {url} -> {dest}", file=sys.stderr, flush=True)
            try:
                _fetch(url, dest, stem, timeout)
            except (OSError, http.client.HTTPException, ValueError) as e:
                failures.append(f"{base}: {_one_line(e)}")
                continue
            # The mirror that worked goes first for the remaining files.
            urls = (base, *(u for u in urls if u != base))
            break
        else:
            raise DownloadError(
                f"could not download MNIST file {name} from any mirror ({'; '.join(failures)})"
            )
    return folder
