"""The registry of published numbers: complete entries, and the numbers it quotes from
Nielsen's own data equal to the extract in cnn_jax/reference/nielsen.json."""

import pytest

from cnn_jax import published
from cnn_jax.published import KINDS, RULES, lookup
from cnn_jax.report.chapters import NAMES

ENTRIES = published.load()


def test_registry_covers_every_source():
    ids = {e.id for e in ENTRIES}
    # One per number the sources list (sources.md): the study, Nielsen ch. 1, 3 and 5,
    # mean field, Glorot & Bengio, the pretraining anchors, the depth papers.
    for want in [
        "study_seed_cnn", "study_deep_cnn", "study_deep_cnn_dropout",
        "nielsen_ch3_overfit_best", "nielsen_ch3_overfit_final", "nielsen_ch3_full_l2_final",
        "nielsen_ch3_ce_30", "nielsen_ch3_ce_100", "nielsen_ch1_quad_30", "nielsen_ch1_quad_100",
        "nielsen_ch5_speed_ratio", "nielsen_ch5_depth_4", "meanfield_sigmoid_shrink",
        "meanfield_relu_shrink", "glorot_t1_sigmoid", "glorot_jacobian_norm",
        "glorot_jacobian_std", "hinton2006_dbn", "bengio2007_table2_ordering",
        "erhan2010_pretrained", "lisa_dbn", "lisa_sda", "delalleau_F_deep_units",
        "telgarsky2015_sawtooth", "hanin_rolnick_2019", "nielsen_ch6_conv_fc100",
        "nielsen_ch6_two_conv", "nielsen_ch6_relu", "nielsen_ch6_expanded", "nielsen_ch6_dropout",
    ]:  # fmt: skip
        assert want in ids
    assert sum(e.id.startswith("nielsen_ch5_delta_") for e in ENTRIES) == 9
    assert sum(e.id.startswith("nielsen_ch5_depth_") for e in ENTRIES) == 4


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.id)
def test_entry_is_complete(entry):
    assert entry.kind in KINDS and entry.rule in RULES
    assert entry.chapter in NAMES
    s = entry.source
    assert s.authors and s.year > 1980 and s.title and s.where and s.checked
    assert entry.quantity and entry.unit and entry.network and entry.data
    if entry.run:
        assert entry.key, "a run without a key"
    else:
        assert entry.note, "an entry no run measures says why in its note"
    if entry.rule == "ordering":
        assert len(entry.key) == len(entry.value) >= 2
    if entry.rule in ("seed_band", "within", "factor", "at_least", "at_most") and entry.run:
        assert entry.tolerance > 0, "near needs a tolerance"


def test_unverified_sources_say_why():
    unverified = [e for e in ENTRIES if not e.source.verified]
    assert unverified  # Glorot & Bengio's PDF, Delalleau & Bengio's body, ...
    for e in unverified:
        assert "not" in e.source.checked or "transcri" in e.source.checked, e.id


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.reference], ids=lambda e: e.id)
def test_quotes_from_nielsen_match_his_data(entry):
    extract = published.nielsen()
    quoted = lookup(extract, tuple(entry.reference["path"]))
    assert entry.reference["file"] == "nielsen.json"
    if entry.rule == "factor":  # "roughly 100 times": his own median lies within the factor
        assert entry.value / entry.tolerance <= quoted <= entry.value * entry.tolerance
    else:
        assert entry.value == pytest.approx(quoted, rel=5e-4), entry.id


def test_nielsen_extract_is_self_consistent():
    """Best and final in the extract are the maximum and last of his per-epoch curves."""
    ch3 = published.nielsen()["chapter3"]
    assert "72db53d" in published.nielsen()["source"]["commit"]
    for run in ("overfitting", "regularized", "overfitting_full", "regularized_full"):
        curve = ch3[run]["test_accuracy_pct"]
        assert len(curve) == ch3[run]["epochs"]
        assert ch3[run]["best"]["value_pct"] == max(curve)
        assert ch3[run]["best"]["epoch"] == curve.index(max(curve)) + 1
        assert ch3[run]["final"]["value_pct"] == curve[-1]
    assert [ch3[r]["final"]["value_pct"] for r in ch3] == [82.23, 86.95, 95.31, 95.61]


def test_book_values_are_the_json_values_rounded():
    ch5 = published.nielsen()["chapter5"]
    for layers, book in ch5["book_values_at_init"].items():
        if not layers.endswith("_layers"):
            continue
        for b, j in zip(book, ch5["json_values_at_init"][layers], strict=True):
            assert round(j, len(str(b).split(".")[1])) == pytest.approx(b)


def test_lookup_paths():
    tree = {"a": [{"n": 4, "v": 1}, {"n": 16, "v": 2}], "lambda=0": {"x": [5, 6]}}
    assert lookup(tree, ("a", "n=16", "v")) == 2
    assert lookup(tree, ("a", -1, "v")) == 2
    assert lookup(tree, ("lambda=0", "x", 1)) == 6  # on a mapping "=" is part of the key
    with pytest.raises(KeyError):
        lookup(tree, ("a", "n=8", "v"))


def test_bad_registry_is_refused(tmp_path):
    bad = tmp_path / "bad.toml"
    text = published.DATA.read_text().replace('rule = "exact"', 'rule = "roughly"', 1)
    bad.write_text(text)
    with pytest.raises(ValueError, match="roughly"):
        published.load(bad)
