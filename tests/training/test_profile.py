import json

import pytest

from cnn_jax.training.profile import instructions, summarize

HLO = """
%body (p: (s32[], f32[4,8])) -> (s32[], f32[4,8]) {
  %p = (s32[], f32[4,8]{1,0}) parameter(0)
  %get-tuple-element.1 = f32[4,8]{1,0} get-tuple-element(%p), index=1
  %ynn_fusion.8 = f32[4,8]{1,0} fusion(%get-tuple-element.1), kind=kCustom, calls=%f, metadata={op_name="jit(step)/while/body/conv2/dot_general"}, backend_config={"fusion_config":{"kind":"__ynn_fusion"}}
  %dot_general.33 = f32[8,8]{1,0} dot(%get-tuple-element.1, %ynn_fusion.8), lhs_contracting_dims={0}, rhs_contracting_dims={0}, metadata={op_name="jit(step)/while/body/transpose(conv2)/dot_general"}
  %add_fusion = f32[4,8]{1,0} fusion(%ynn_fusion.8), kind=kLoop, calls=%g
  ROOT %tuple.1 = (s32[], f32[4,8]{1,0}) tuple(%c, %add_fusion)
}
ENTRY %main {
  %while.1 = (s32[], f32[4,8]{1,0}) while(%init), condition=%cond, body=%body
  %wrapped_reduce-window = f32[4,2]{1,0} fusion(%x), kind=kLoop, calls=%rw
}
"""  # noqa: E501 (HLO as XLA prints it, one instruction a line)


def test_instructions_name_each_operation_with_its_kind_and_source():
    ops = instructions(HLO)
    assert set(ops) == {"ynn_fusion.8", "dot_general.33", "add_fusion", "wrapped_reduce-window"}
    assert ops["ynn_fusion.8"] == {
        "kind": "ynnpack fusion",
        "source": "jit(step)/while/body/conv2/dot_general",
    }
    assert ops["dot_general.33"]["kind"] == "dot (Eigen)"
    assert ops["add_fusion"] == {"kind": "fused loop", "source": ""}


def test_summarize_sums_each_operation_per_step_and_by_kind():
    ops = instructions(HLO)
    events = [
        {"name": "ynn_fusion.8", "dur": 3000.0},
        {"name": "ynn_fusion.8", "dur": 1000.0},
        {"name": "dot_general.33", "dur": 500.0},
        {"name": "add_fusion", "dur": 700.0},
        {"name": "ThunkExecutor::Execute", "dur": 9000.0},  # not an operation: left out
    ]
    p = summarize(events, ops, steps=2, step_ms=4.0)
    assert [r["name"] for r in p["ops"]] == ["ynn_fusion.8", "add_fusion", "dot_general.33"]
    assert p["ops"][0]["ms_per_step"] == pytest.approx(2.0)
    assert p["ops"][0]["calls_per_step"] == 1
    assert p["by_kind"] == pytest.approx(
        {"ynnpack fusion": 2.0, "fused loop": 0.35, "dot (Eigen)": 0.25}
    )
    assert p["traced_ms_per_step"] == pytest.approx(2.6)


def test_benchmark_profile_traces_the_seed_cnns_convolutions(mnist, tmp_path, load_script):
    del mnist
    bench = load_script("benchmark")
    out = tmp_path / "p"
    argv = ["--archs", "seed", "--profile", "2", "--batch-size", "8", "--out", str(out)]
    assert bench.main(argv) == 0
    p = json.loads((out / "profile.json").read_text())["seed"]
    assert p["steps"] == 2 and p["step_ms"] > 0
    sources = [r["source"] for r in p["ops"] if r["ms_per_step"] > 0]
    # conv2's forward and backward (matmuls, or the C++ kernel's calls) are timed, each
    # under its layer's name.
    assert any("jvp(SeedCNN)/conv2/" in s and "transpose" not in s for s in sources)
    assert any("transpose(jvp(SeedCNN))/conv2" in s for s in sources)
