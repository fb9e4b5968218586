"""The per-row store of long runs: rows read back exactly, another config is refused, and a
non-finite number is found by path and never written."""

import json

import numpy as np
import pytest

from cnn_jax.errors import UsageError
from cnn_jax.training.rows import RowStore, non_finite, slug


def test_rows_read_back_exactly_and_progress_says_partial(tmp_path):
    store = RowStore(tmp_path, {"width": 8, "lrs": (0.1, 0.3)}, total=2)
    assert store.get("tanh N") is None
    row = {"error": 0.1 + 0.2, "curve": [1 / 3, 2e-310]}
    store.put("tanh N", row, {"w": np.arange(6, dtype=np.float32).reshape(2, 3)})
    again = RowStore(tmp_path, {"width": 8, "lrs": [0.1, 0.3]}, total=2)
    assert again.get("tanh N") == row
    np.testing.assert_array_equal(again.get_arrays("tanh N")["w"], np.arange(6).reshape(2, 3))
    progress = json.loads((tmp_path / "progress.json").read_text())
    assert progress["partial"] is True and progress["done"] == ["tanh N"]
    again.finish()
    assert json.loads((tmp_path / "progress.json").read_text())["partial"] is False
    assert (tmp_path / "rows" / f"{slug('tanh N')}.json").is_file()


def test_another_config_is_refused_naming_what_differs(tmp_path):
    RowStore(tmp_path, {"width": 8, "epochs": 1}, total=1).put("a", {"x": 1})
    with pytest.raises(UsageError, match="another configuration.*differs in epochs"):
        RowStore(tmp_path, {"width": 8, "epochs": 2}, total=1)


def test_a_non_finite_number_is_found_by_path_and_not_written(tmp_path):
    row = {"rows": [{"ok": 1.0}, {"test_error": [0.5, float("nan")]}]}
    assert non_finite(row) == "rows/1/test_error/1"
    assert non_finite({"a": np.float32("inf")}) == "a"
    assert non_finite({"a": np.array([1.0, np.inf])}) == "a[1]"
    assert non_finite({"a": [1, 2.5, "x"]}) is None
    store = RowStore(tmp_path, {}, total=1)
    with pytest.raises(ValueError):
        store.put("bad", row)
    assert store.get("bad") is None and not (tmp_path / "rows" / "bad.json").exists()
