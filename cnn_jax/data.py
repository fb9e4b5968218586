"""MNIST: the four IDX files parsed with numpy (no TensorFlow), downloaded or from TFDS.

Where the data comes from, in order:
  1. a folder passed as ``data_dir`` (the scripts' ``--data-dir``);
  2. the folder in the environment variable ``CNN_JAX_DATA_DIR``;
  3. the download cache (``cnn_jax.download.cache_dir()``), once it holds all four files;
  4. TFDS (``tfds.load("mnist")``, cached in TFDS's own data dir), if it is installed;
  5. a download of the four files into the cache (``cnn_jax.download``), verified.

The cache comes before TFDS so that a machine that once downloaded keeps reading the same
files in the same (IDX) order; TFDS comes before a download so that an existing TFDS setup
behaves as before.
"""

from __future__ import annotations

import dataclasses
import gzip
import importlib.util
import os
import socket
import zlib
from pathlib import Path

import numpy as np

from cnn_jax import download
from cnn_jax.errors import UsageError

ENV_VAR = "CNN_JAX_DATA_DIR"
NUM_CLASSES = 10

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# TFDS fetches MNIST from here; a failed connect says "offline" in seconds instead of
# minutes of download retries.
_TFDS_HOST = ("storage.googleapis.com", 443)
_PROBE_SECONDS = 5.0

HOW_TO_PROVIDE = (
    f"pass --data-dir DIR or set {ENV_VAR}=DIR to a folder holding the four MNIST IDX files "
    "(train-images-idx3-ubyte[.gz], ...), or run once with internet access so that MNIST "
    f"downloads itself into the cache (${download.CACHE_ENV_VAR}, default ~/.cache/cnn_jax), "
    "or install the TFDS extra (pip install 'cnn_jax[tfds]')"
)


class DataError(UsageError):
    """The data could not be found or read; the message says which file and why."""


@dataclasses.dataclass(frozen=True)
class Mnist:
    """Images uint8 [N, 28, 28, 1], labels int32 [N], in the source's order."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str = ""


# ----------------------------------------------------------------------------- IDX


def _open(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror or e})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        # A bad header or CRC is an OSError, a cut stream EOFError, a bad deflate block
        # zlib.error: all three are a corrupt download.
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{path}: corrupt or truncated gzip data ({e})") from None
    return raw


def read_idx(path: str | os.PathLike, *, ndim: int) -> np.ndarray:
    """Parse one IDX file of unsigned bytes (gzip or not) with ``ndim`` dimensions.

    The header is: two zero bytes, the type code 0x08 (uint8), the number of
    dimensions, then each dimension as a big-endian uint32.
    """
    path = Path(path)
    data = _open(path)
    if len(data) < 4:
        raise DataError(f"{path}: file too short for an IDX header ({len(data)} bytes)")
    zero, dtype_code, file_ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    if zero != 0 or dtype_code != 0x08:
        magic = int.from_bytes(data[:4], "big")
        raise DataError(f"{path}: bad magic number 0x{magic:08x} (expected 0x000008{ndim:02x})")
    if file_ndim != ndim:
        raise DataError(f"{path}: has {file_ndim} dimensions, expected {ndim}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated header")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise DataError(f"{path}: {what}: {len(data)} bytes, header {shape} needs {expected}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"{folder}: missing {stem} (or {stem}.gz)")


def _read_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    images_path = _find(folder, FILES[f"{split}_images"])
    labels_path = _find(folder, FILES[f"{split}_labels"])
    images = read_idx(images_path, ndim=3)
    labels = read_idx(labels_path, ndim=1)
    if images.shape[1:] != (28, 28):
        raise DataError(f"{images_path}: images are {images.shape[1:]}, expected (28, 28)")
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"{images_path} has {images.shape[0]} images but {labels_path} has "
            f"{labels.shape[0]} labels"
        )
    if labels.size and labels.max() >= NUM_CLASSES:
        raise DataError(f"{labels_path}: label {labels.max()} is not a digit 0-9")
    return images[..., None], labels.astype(np.int32)


def load_idx_folder(folder: str | os.PathLike) -> Mnist:
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"data folder {folder} does not exist")
    train = _read_split(folder, "train")
    test = _read_split(folder, "test")
    return Mnist(*train, *test, source=f"idx:{folder}")


# ----------------------------------------------------------------------------- TFDS


def _online(host: tuple[str, int] = _TFDS_HOST, timeout: float = _PROBE_SECONDS) -> bool:
    try:
        socket.create_connection(host, timeout=timeout).close()
        return True
    except OSError:
        return False


def load_tfds(data_dir: str | None = None) -> Mnist:
    """Load MNIST through TFDS (needs tensorflow-datasets and TensorFlow).

    TFDS stores examples in its own deterministic order, not the IDX files' order.
    """
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise DataError(f"no MNIST data: {HOW_TO_PROVIDE}") from None

    def read(download: bool) -> dict:
        splits = {}
        for split in ("train", "test"):
            ds = tfds.load("mnist", split=split, data_dir=data_dir, download=download)
            # Chunks, not batch_size=-1: the latter aborts TF 2.21 on datasets of unknown size.
            chunks = list(tfds.as_numpy(ds.batch(10_000)))
            splits[split] = (
                np.concatenate([c["image"] for c in chunks])
                .astype(np.uint8)
                .reshape(-1, 28, 28, 1),
                np.concatenate([c["label"] for c in chunks]).astype(np.int32),
            )
        return splits

    try:
        splits = read(download=False)
    except Exception:  # not in TFDS's cache (its error type differs across versions)
        if not _online():
            raise DataError(
                f"no MNIST data: TFDS has no cached copy and cannot download; {HOW_TO_PROVIDE}"
            ) from None
        splits = read(download=True)
    return Mnist(*splits["train"], *splits["test"], source="tfds")


# ----------------------------------------------------------------------------- entry


def _tfds_importable() -> bool:
    # find_spec, not import: importing TFDS pulls in TensorFlow, seconds before any use.
    return importlib.util.find_spec("tensorflow_datasets") is not None


def load_mnist(data_dir: str | os.PathLike | None = None, *, progress: bool = True) -> Mnist:
    """MNIST from ``data_dir``, else ``$CNN_JAX_DATA_DIR``, else the download cache, else
    TFDS if installed, else downloaded into the cache (a line per file on stderr if
    ``progress``)."""
    folder = data_dir or os.environ.get(ENV_VAR)
    if folder:
        return load_idx_folder(folder)
    cached = download.complete_cache()
    if cached is not None:
        return load_idx_folder(cached)
    if _tfds_importable():
        return load_tfds()
    try:
        return load_idx_folder(download.download_mnist(progress=progress))
    except download.DownloadError as e:
        raise DataError(f"{e}: {HOW_TO_PROVIDE}") from None


def scale(images: np.ndarray) -> np.ndarray:
    """uint8 [..., 28, 28, 1] -> float32 in [0, 1]."""
    return images.astype(np.float32) / 255.0


def one_hot(labels: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """int [N] -> float32 [N, num_classes]: digit 3 becomes 0 0 0 1 0 0 0 0 0 0."""
    return np.eye(num_classes, dtype=np.float32)[labels]


def limit(ds: Mnist, train: int | None = None, test: int | None = None) -> Mnist:
    """The first ``train`` training and first ``test`` test examples (None keeps all)."""
    return dataclasses.replace(
        ds,
        train_images=ds.train_images[:train],
        train_labels=ds.train_labels[:train],
        test_images=ds.test_images[:test],
        test_labels=ds.test_labels[:test],
    )


def nielsen_split(ds: Mnist) -> tuple[Mnist, tuple[np.ndarray, np.ndarray]]:
    """Nielsen's split: the first 50,000 training images train, the last 10,000 validate.

    Returns the dataset with the training part cut to 50,000 and (images, labels)
    of the validation part.
    """
    train = dataclasses.replace(
        ds, train_images=ds.train_images[:50_000], train_labels=ds.train_labels[:50_000]
    )
    return train, (ds.train_images[50_000:], ds.train_labels[50_000:])
