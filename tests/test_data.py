import gzip
import socket
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnn_jax import data


def write_idx(path, array, *, magic=None, gz=False, cut=0):
    array = np.asarray(array, np.uint8)
    header = struct.pack(">I", magic if magic is not None else 0x0800 + array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    payload = header + array.tobytes()
    payload = payload[: len(payload) - cut]
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


def make_folder(tmp_path, n_train=5, n_test=3, gz=True):
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    for split, n in (("train", n_train), ("t10k", n_test)):
        write_idx(
            tmp_path / f"{split}-images-idx3-ubyte{suffix}",
            rng.integers(0, 256, (n, 28, 28)),
            gz=gz,
        )
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte{suffix}", rng.integers(0, 10, n), gz=gz)
    return tmp_path


@pytest.mark.parametrize("gz", [True, False])
def test_idx_roundtrip(tmp_path, gz):
    images = np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256
    path = write_idx(tmp_path / "x", images, gz=gz)
    np.testing.assert_array_equal(data.read_idx(path, ndim=3), images)


def test_folder_loads_in_order(tmp_path):
    ds = data.load_idx_folder(make_folder(tmp_path))
    assert ds.train_images.shape == (5, 28, 28, 1) and ds.train_images.dtype == np.uint8
    assert ds.test_labels.shape == (3,) and ds.test_labels.dtype == np.int32


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(magic=0x0000_0903), "bad magic"),
        (dict(magic=0x0000_0802), "dimensions"),
        (dict(cut=7), "truncated"),
    ],
)
def test_malformed_images_name_the_file(tmp_path, kwargs, message):
    folder = make_folder(tmp_path)
    bad = folder / "train-images-idx3-ubyte.gz"
    arr = (
        np.zeros((5, 28, 28))
        if "magic" not in kwargs or kwargs["magic"] != 0x802
        else np.zeros((5, 784))
    )
    write_idx(bad, arr, gz=True, **kwargs)
    with pytest.raises(data.DataError, match=message) as err:
        data.load_idx_folder(folder)
    assert "train-images-idx3-ubyte.gz" in str(err.value)


def test_wrong_image_size(tmp_path):
    folder = make_folder(tmp_path)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", np.zeros((3, 27, 28)), gz=True)
    with pytest.raises(data.DataError, match=r"t10k-images.*\(27, 28\)"):
        data.load_idx_folder(folder)


def test_counts_disagree(tmp_path):
    folder = make_folder(tmp_path)
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros(4), gz=True)
    with pytest.raises(data.DataError, match="5 images but .*train-labels.* 4 labels"):
        data.load_idx_folder(folder)


def test_truncated_gzip_and_trailing_bytes(tmp_path):
    folder = make_folder(tmp_path)
    path = folder / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(data.DataError, match="train-labels.*gzip"):
        data.load_idx_folder(folder)
    path = write_idx(tmp_path / "extra", np.zeros(3))
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(data.DataError, match="trailing"):
        data.read_idx(path, ndim=1)


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[:10] + b"\xff" + raw[11:],  # a bad deflate block (zlib.error)
        lambda raw: raw[:-4] + b"\0\0\0\0",  # a wrong length in the trailer
        lambda raw: raw[:3] + b"\xff" + raw[4:],  # reserved header flags
        lambda raw: raw[:12],  # cut inside the stream
    ],
)
def test_every_malformed_gzip_is_one_data_error(tmp_path, damage):
    folder = make_folder(tmp_path)
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(data.DataError, match="train-images.*corrupt or truncated gzip"):
        data.load_idx_folder(folder)


def test_a_bad_deflate_block_ends_a_script_with_one_line_and_exit_2(tmp_path):
    folder = make_folder(tmp_path)
    path = folder / "t10k-labels-idx1-ubyte.gz"
    raw = path.read_bytes()
    path.write_bytes(raw[:10] + b"\xff" + raw[11:])
    script = Path(__file__).resolve().parents[1] / "experiments" / "mnist_cnn.py"
    argv = [sys.executable, str(script), "--data-dir", str(folder), "--out", str(tmp_path / "o")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "t10k-labels" in done.stderr and "gzip" in done.stderr
    assert not (tmp_path / "o").exists()


def test_missing_file_and_folder(tmp_path):
    folder = make_folder(tmp_path)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(data.DataError, match="missing t10k-labels-idx1-ubyte"):
        data.load_idx_folder(folder)
    with pytest.raises(data.DataError, match="does not exist"):
        data.load_mnist(tmp_path / "nowhere")


def test_env_var_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv(data.ENV_VAR, str(make_folder(tmp_path)))
    assert data.load_mnist().train_images.shape[0] == 5


def test_no_source_fails_fast_naming_each_way(monkeypatch, tmp_path):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # as if not installed
    # An empty cache and a mirror with nothing listening: offline, without the internet.
    monkeypatch.setenv("CNN_JAX_CACHE_DIR", str(tmp_path))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        monkeypatch.setenv("CNN_JAX_MNIST_MIRRORS", f"http://127.0.0.1:{s.getsockname()[1]}/")
    with pytest.raises(data.DataError) as err:
        data.load_mnist(progress=False)
    assert "--data-dir" in str(err.value) and data.ENV_VAR in str(err.value)
    assert "download" in str(err.value) and "tfds" in str(err.value)


def test_tfds_offline_without_cache_fails_fast(monkeypatch, tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    del tfds
    monkeypatch.setattr(data, "_online", lambda *a, **k: False)
    with pytest.raises(data.DataError, match="cannot download.*--data-dir"):
        data.load_tfds(data_dir=str(tmp_path))


def test_tfds_path_under_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=12):
        ds = data.load_tfds()
    assert ds.train_images.shape == (12, 28, 28, 1) and ds.train_images.dtype == np.uint8
    assert ds.test_labels.shape == (12,) and ds.test_labels.dtype == np.int32
    assert ds.train_labels.min() >= 0 and ds.train_labels.max() <= 9
    assert ds.source == "tfds"


def test_idx_path_does_not_import_tensorflow(tmp_path):
    code = (
        "import sys; from cnn_jax.data import load_mnist; "
        f"load_mnist({str(make_folder(tmp_path))!r}); "
        "bad = [m for m in sys.modules if m.startswith(('tensorflow', 'tensorflow_datasets'))]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_helpers():
    labels = np.array([3, 0])
    np.testing.assert_array_equal(data.one_hot(labels)[0], [0, 0, 0, 1, 0, 0, 0, 0, 0, 0])
    scaled = data.scale(np.array([[0, 255]], np.uint8))
    assert scaled.dtype == np.float32 and scaled.max() == 1.0


def test_real_mnist(mnist):
    assert mnist.train_images.shape == (60_000, 28, 28, 1)
    assert mnist.test_images.shape == (10_000, 28, 28, 1)
    assert mnist.train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert mnist.test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    x = data.scale(mnist.train_images)
    assert abs(float(x.mean()) - 0.1307) < 5e-5 and abs(float(x.std()) - 0.3081) < 5e-5
    train, (val_x, val_y) = data.nielsen_split(mnist)
    assert train.train_images.shape[0] == 50_000 and val_x.shape[0] == val_y.shape[0] == 10_000
    np.testing.assert_array_equal(val_y[:5], mnist.train_labels[50_000:50_005])
    small = data.limit(mnist, 100, 10)
    assert small.train_images.shape[0] == 100 and small.test_labels.shape == (10,)
