"""MNIST that downloads itself, against HTTP servers on 127.0.0.1 (never the internet).

The servers serve the real .gz files from $CNN_JAX_DATA_DIR, whose decompressed bytes the
pins in cnn_jax.download describe.
"""

import contextlib
import gzip
import http.server
import os
import socket
import threading
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from cnn_jax import data, download

DATA_DIR = os.environ.get("CNN_JAX_DATA_DIR")
NAMES = [f"{stem}.gz" for stem in download.SHA256]


@pytest.fixture(scope="module")
def mnist_gz():
    """name -> bytes of the four real .gz files."""
    if not DATA_DIR or not Path(DATA_DIR).is_dir():
        pytest.skip("CNN_JAX_DATA_DIR is not set to the MNIST folder (the servers serve it)")
    return {name: (Path(DATA_DIR) / name).read_bytes() for name in NAMES}


@contextlib.contextmanager
def serve(files, *, short=()):
    """An HTTP server on 127.0.0.1 serving ``files`` (name -> bytes) at /<name>; for names
    in ``short`` it announces the full Content-Length, sends half, and closes. Yields
    (base URL, list of requested paths)."""
    requested = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            name = self.path.lstrip("/")
            requested.append(name)
            if name not in files:
                self.send_error(404)
                return
            body = files[name]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if name in short:
                self.wfile.write(body[: len(body) // 2])
                self.close_connection = True
            else:
                self.wfile.write(body)

        def log_message(self, *args):  # quiet
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def dead_url():
    """A URL on a port with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def corrupt(gz_bytes):
    """The same file with one decompressed byte changed, recompressed (valid gzip)."""
    raw = bytearray(gzip.decompress(gz_bytes))
    raw[-1] ^= 0xFF
    return gzip.compress(bytes(raw))


def assert_only_final_files(folder, names):
    """Exactly ``names`` in ``folder``: no partial or temporary file left behind."""
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Neither --data-dir nor $CNN_JAX_DATA_DIR, an empty cache under tmp_path, no TFDS.
    Returns the cache folder."""
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setenv(download.CACHE_ENV_VAR, str(tmp_path / "cache"))
    monkeypatch.setattr(data, "_tfds_importable", lambda: False)
    return tmp_path / "cache" / "mnist"


def test_pins_cover_the_loaders_files():
    assert set(download.SHA256) == set(data.FILES.values())


def test_cache_dir_and_mirrors_from_env(monkeypatch, tmp_path):
    monkeypatch.delenv(download.CACHE_ENV_VAR, raising=False)
    monkeypatch.delenv(download.MIRRORS_ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert download.cache_dir() == tmp_path / "xdg" / "cnn_jax" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert download.cache_dir() == tmp_path / "home" / ".cache" / "cnn_jax" / "mnist"
    monkeypatch.setenv(download.CACHE_ENV_VAR, str(tmp_path / "mine"))
    assert download.cache_dir() == tmp_path / "mine" / "mnist"
    assert download.mirrors() == download.MIRRORS
    monkeypatch.setenv(download.MIRRORS_ENV_VAR, "http://a/x, http://b/")
    assert download.mirrors() == ("http://a/x/", "http://b/")


def test_download_then_load(env, mnist_gz, monkeypatch, capsys):
    with serve(mnist_gz) as (url, requested):
        monkeypatch.setenv(download.MIRRORS_ENV_VAR, url)
        ds = data.load_mnist()
    assert sorted(requested) == sorted(NAMES)
    assert_only_final_files(env, NAMES)
    for name in NAMES:  # the bytes as served (a mirror's own gzip header is kept)
        assert (env / name).read_bytes() == mnist_gz[name]
    assert ds.source == f"idx:{env}"
    assert ds.train_images.shape == (60_000, 28, 28, 1) and ds.test_images.shape[0] == 10_000
    assert ds.train_labels[:5].tolist() == [5, 0, 4, 1, 9]
    assert ds.test_labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert capsys.readouterr().err.count("downloading") == 4


def test_complete_cache_needs_no_network(env, mnist_gz, monkeypatch):
    env.mkdir(parents=True)
    for name, body in mnist_gz.items():
        (env / name).write_bytes(body)

    def no_network(*args, **kwargs):
        raise AssertionError("the network was used")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr(data, "_tfds_importable", no_network)  # the cache comes first
    ds = data.load_mnist(progress=False)
    assert ds.source == f"idx:{env}" and ds.test_labels[:5].tolist() == [7, 2, 1, 0, 4]


def test_checksum_mismatch_names_the_file(env, mnist_gz):
    bad = "train-labels-idx1-ubyte.gz"
    with serve({**mnist_gz, bad: corrupt(mnist_gz[bad])}) as (url, _):
        with pytest.raises(download.DownloadError, match=f"{bad}.*SHA-256 mismatch"):
            download.download_mnist(env, [url], progress=False)
    # The file before it verified and stays (a rerun resumes); the bad one is nowhere.
    assert_only_final_files(env, ["train-images-idx3-ubyte.gz"])


def test_truncated_transfer_leaves_nothing(env, mnist_gz):
    bad = "t10k-labels-idx1-ubyte.gz"
    with serve(mnist_gz, short={bad}) as (url, _):
        with pytest.raises(download.DownloadError, match=bad) as err:
            download.download_mnist(env, [url], progress=False)
    assert "\n" not in str(err.value)
    assert_only_final_files(env, [n for n in NAMES if n != bad])


def test_truncated_transfer_falls_to_the_next_mirror(env, mnist_gz):
    with serve(mnist_gz, short=set(NAMES)) as (short_url, _), serve(mnist_gz) as (url, _):
        download.download_mnist(env, [short_url, url], progress=False)
    assert_only_final_files(env, NAMES)


def test_first_mirror_down_second_good(env, mnist_gz, monkeypatch):
    with serve(mnist_gz) as (url, requested):
        monkeypatch.setenv(download.MIRRORS_ENV_VAR, f"{dead_url()} {url}")
        ds = data.load_mnist(progress=False)
    assert sorted(requested) == sorted(NAMES)
    assert ds.train_labels[:5].tolist() == [5, 0, 4, 1, 9]


def test_offline_is_one_line(env, monkeypatch):
    monkeypatch.setenv(download.MIRRORS_ENV_VAR, f"{dead_url()},{dead_url()}")
    with pytest.raises(data.DataError) as err:
        data.load_mnist(progress=False)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("could not download MNIST file train-images-idx3-ubyte.gz")
    assert "--data-dir" in message and data.ENV_VAR in message
    assert list(env.iterdir()) == []


def test_tfds_when_installed_comes_before_a_download(env, monkeypatch):
    monkeypatch.setattr(data, "_tfds_importable", lambda: True)
    marker = data.Mnist(*(np.zeros(0),) * 4, source="tfds")
    monkeypatch.setattr(data, "load_tfds", lambda: marker)
    assert data.load_mnist() is marker


def test_stalled_mirror_times_out(env):
    # Listening but never answering: the connect succeeds, the read waits for the timeout.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        url = f"http://127.0.0.1:{s.getsockname()[1]}/"
        with pytest.raises(download.DownloadError, match="timed out"):
            download.download_mnist(env, [url], timeout=0.2, progress=False)
    assert list(env.iterdir()) == []
