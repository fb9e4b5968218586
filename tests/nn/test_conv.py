import platform
import shutil
import subprocess
import sys
import textwrap

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnn_jax.errors import UsageError
from cnn_jax.nn import conv as conv_lib
from cnn_jax.nn import conv_kernel
from cnn_jax.nn.conv import direct_conv, im2col_conv, resolve, routine, rows_conv
from cnn_jax.nn.models import DeepCNN, SeedCNN, recorded

ROOT = conv_lib.__file__.rsplit("/cnn_jax/", 1)[0]
BUILT = conv_kernel.available()
needs_kernel = pytest.mark.skipif(
    not BUILT, reason="the C++ convolution kernel is not built or this CPU lacks AVX2/FMA"
)
CONVS = pytest.mark.parametrize(
    "conv",
    [im2col_conv, rows_conv, pytest.param(direct_conv, marks=needs_kernel)],
    ids=["im2col", "rows", "direct"],
)


def _isa_skip(isa: str):
    """Why this process cannot run the kernel's ``isa`` path, or None."""
    kernel = conv_kernel.state()
    if not kernel.isas:
        return f"the C++ convolution kernel {kernel.problem}"
    if isa not in kernel.isas:
        return f"this CPU does not run the kernel's {isa} path"
    return None


ISAS = pytest.mark.parametrize(
    "isa",
    [
        pytest.param(isa, marks=pytest.mark.skipif(bool(why), reason=why or ""))
        for isa in conv_kernel.ISAS
        for why in [_isa_skip(isa)]
    ],
)
SHAPES = [
    ((3, 28, 28, 1), (6, 6, 1, 32)),
    ((2, 23, 23, 32), (6, 6, 32, 32)),
    ((2, 11, 11, 32), (3, 3, 32, 64)),
    ((2, 9, 13, 3), (4, 2, 3, 5)),  # H != W, kh != kw: catches a swapped axis
    ((3, 9, 13, 16), (4, 2, 16, 48)),  # the same through the C++ kernel's every path
    ((2, 5, 5, 16), (1, 1, 16, 16)),  # 25 pixels, 16 kernel rows: the C++ kernel's half tiles
]

DN = ("NHWC", "HWIO", "NHWC")


def xla_conv(x, k):
    return jax.lax.conv_general_dilated(x, k, (1, 1), "VALID", dimension_numbers=DN)


def agrees_with_xla(conv, shape, kernel):
    """``conv(x, k)``'s output and both gradients match XLA's."""
    kx, kk, kg = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, shape, jnp.float32)
    k = jax.random.normal(kk, kernel, jnp.float32) * 0.1
    ours = conv(x, k)
    np.testing.assert_allclose(ours, xla_conv(x, k), rtol=1e-4, atol=1e-4)
    cotangent = jax.random.normal(kg, ours.shape, jnp.float32)

    def pull(conv):
        return jax.grad(lambda x, k: jnp.sum(conv(x, k) * cotangent), argnums=(0, 1))(x, k)

    for g_ours, g_xla in zip(pull(conv), pull(xla_conv), strict=True):
        np.testing.assert_allclose(g_ours, g_xla, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("shape, kernel", SHAPES)
@CONVS
def test_conv_matches_xla_forward_and_gradient(conv, shape, kernel):
    agrees_with_xla(lambda x, k: conv(x, k, (1, 1), "VALID"), shape, kernel)


@pytest.mark.parametrize("shape, kernel", [s for s in SHAPES if s[1][3] % 16 == 0])
@ISAS
def test_each_kernel_path_matches_xla_forward_and_gradient(isa, shape, kernel):
    agrees_with_xla(lambda x, k: conv_kernel.conv(x, k, isa), shape, kernel)


def test_both_kernel_paths_give_the_same_numbers_bit_for_bit():
    """Each element is one chain of multiply-adds in the same order on either path."""
    for isa in conv_kernel.ISAS:
        if reason := _isa_skip(isa):
            pytest.skip(reason)
    kx, kk, kg = jax.random.split(jax.random.key(3), 3)
    x = jax.random.normal(kx, (4, 13, 11, 32))
    k = jax.random.normal(kk, (3, 4, 32, 48))
    g = jax.random.normal(kg, (4, 11, 8, 48))
    outs = [
        jax.vjp(lambda x, k, i=isa: conv_kernel.conv(x, k, i), x, k) for isa in conv_kernel.ISAS
    ]
    (y512, vjp512), (y2, vjp2) = outs
    for a, b in zip((y512, *vjp512(g)), (y2, *vjp2(g)), strict=True):
        np.testing.assert_array_equal(a, b)


@CONVS
def test_conv_refuses_what_it_does_not_compute(conv):
    x, k = jnp.zeros((1, 8, 8, 1)), jnp.zeros((3, 3, 1, 2))
    with pytest.raises(NotImplementedError):
        conv(x, k, (2, 2), "VALID")
    with pytest.raises(NotImplementedError):
        conv(x, k, (1, 1), [(1, 1), (1, 1)])


@pytest.mark.parametrize("model_cls", [SeedCNN, DeepCNN])
def test_models_give_the_same_numbers_either_way(model_cls):
    x = jax.random.uniform(jax.random.key(1), (4, 28, 28, 1))
    params = model_cls(conv="xla").init(jax.random.key(0), x)["params"]
    impls = ("xla", "im2col", "rows", *(["direct"] if BUILT else []))
    out = {impl: model_cls(conv=impl).apply({"params": params}, x) for impl in impls}
    for impl in impls[1:]:
        np.testing.assert_allclose(out[impl], out["xla"], rtol=1e-4, atol=1e-5, err_msg=impl)


@pytest.fixture
def fresh_kernel(monkeypatch):
    """The kernel's state and the once-only lines forgotten before and after the test, so
    that patched loads are seen and later tests load the real library again."""
    forget = (conv_kernel.state.cache_clear, conv_lib._say.cache_clear)
    for clear in forget:
        clear()
    yield monkeypatch
    for clear in forget:
        clear()


def test_auto_picks_by_backend_and_falls_back_without_the_kernel(fresh_kernel):
    cpu = "direct" if BUILT else "rows"
    assert resolve("auto") == (cpu if jax.default_backend() == "cpu" else "xla")
    assert resolve("xla") == "xla"
    with pytest.raises(ValueError):
        resolve("winograd")
    fresh_kernel.setattr(conv_kernel, "state", lambda: conv_kernel.Kernel(problem="is absent"))
    assert resolve("auto") == ("rows" if jax.default_backend() == "cpu" else "xla")
    assert routine("auto") in ("rows", "xla")


@needs_kernel
def test_routine_names_the_path_that_runs(fresh_kernel):
    """results.json records this: never "auto", and the instruction set of the kernel."""
    assert routine("auto") == f"direct-{conv_kernel.state().isas[0]}"
    assert routine("rows") == "rows"
    for isa in conv_kernel.state().isas:
        fresh_kernel.setenv(conv_kernel.ENV_VAR, isa)
        assert routine("direct") == routine("auto") == f"direct-{isa}"
    fresh_kernel.setenv(conv_kernel.ENV_VAR, "sse2")
    with pytest.raises(UsageError, match="CNN_JAX_CONV_ISA='sse2': choose avx512 or avx2"):
        routine("auto")


def test_unbuilt_kernel_on_a_machine_that_can_build_it_says_so_once(fresh_kernel, capsys):
    fresh_kernel.setattr(conv_kernel, "_library_path", lambda: None)
    fresh_kernel.setattr(conv_kernel, "_could_build", lambda: True)
    if jax.default_backend() != "cpu":
        pytest.skip("the kernel is a CPU kernel")
    assert [resolve("auto"), resolve("auto")] == ["rows", "rows"]
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "note: the C++ convolution kernel is not built here, though this machine can build "
        "it: pip install -e ."
    ]
    with pytest.raises(UsageError, match="is not built here"):
        resolve("direct")


@needs_kernel
def test_kernel_older_than_its_source_says_so_once_and_still_runs(fresh_kernel, capsys):
    fresh_kernel.setattr(conv_kernel, "source_digest", lambda: "0" * 64)
    assert [resolve("auto"), resolve("direct")] == ["direct", "direct"]
    assert capsys.readouterr().err.splitlines() == [
        "warning: the C++ convolution kernel was built from an older conv_kernel.cc (its "
        "sources have changed since); pip install -e . rebuilds it"
    ]


def corrupt_library(folder):
    library = folder / "_conv_kernel.cpython-311-x86_64-linux-gnu.so"
    library.write_bytes(b"\x7fELF and then nothing a loader can use")
    return library


def test_corrupt_kernel_falls_back_with_one_line_or_refuses_direct(fresh_kernel, capsys, tmp_path):
    if jax.default_backend() != "cpu":
        pytest.skip("the kernel is a CPU kernel")
    library = corrupt_library(tmp_path)
    fresh_kernel.setattr(conv_kernel, "_library_path", lambda: library)
    with pytest.raises(UsageError, match=r"^the C\+\+ convolution kernel cannot be loaded") as e:
        resolve("direct")
    assert "\n" not in str(e.value) and "pip install -e ." in str(e.value)
    assert capsys.readouterr().err == ""
    assert [resolve("auto"), resolve("auto")] == ["rows", "rows"]
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("warning: the C++ convolution kernel cannot be loaded (")
    assert line.endswith("; using the rows method")


def test_corrupt_kernel_under_direct_exits_2_before_any_work(tmp_path):
    """mnist_cnn.py --conv direct with a library that cannot load: one line, exit 2, and no
    output folder (nor its lock) left behind."""
    library, out = corrupt_library(tmp_path), tmp_path / "run"
    script = textwrap.dedent(
        f"""
        import runpy, sys
        from pathlib import Path
        from cnn_jax.nn import conv_kernel
        conv_kernel._library_path = lambda: Path({str(library)!r})
        sys.argv = ["mnist_cnn.py", "--conv", "direct", "--micro-batch", "8", "--out", {str(out)!r}]
        runpy.run_path({ROOT + "/experiments/mnist_cnn.py"!r}, run_name="__main__")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("mnist_cnn.py: error: the C++ convolution kernel cannot be loaded (")
    assert not out.exists()


def test_the_kernel_is_built_where_it_can_be():
    """``pip install -e .`` builds it on x86-64 with a C++ compiler: a build that failed
    quietly would leave every run on the slower path."""
    machine = platform.machine().lower() in ("x86_64", "amd64")
    if not (machine and shutil.which("c++") and jax.default_backend() == "cpu"):
        pytest.skip("the C++ kernel is built only on an x86-64 CPU with a C++ compiler")
    with open("/proc/cpuinfo") as cpuinfo:
        flags = cpuinfo.read()
    if not (" avx2" in flags and " fma" in flags):
        pytest.skip("this CPU lacks AVX2 or FMA, which the C++ kernel needs")
    assert BUILT, "pip install -e . did not build cnn_jax/nn/conv_kernel.cc (see its output)"


@needs_kernel
def test_the_kernel_repeats_its_numbers_exactly():
    """Threads split the work but never an element's sum: two calls agree bit for bit."""
    kx, kk, kg = jax.random.split(jax.random.key(2), 3)
    x = jax.random.normal(kx, (8, 21, 21, 32))
    k = jax.random.normal(kk, (6, 6, 32, 32))
    g = jax.random.normal(kg, (8, 16, 16, 32))
    step = jax.jit(lambda x, k: jax.vjp(conv_kernel.conv, x, k)[1](g))
    for first, again in zip(step(x, k), step(x, k), strict=True):
        np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize(
    "model_cls, layer, full, trained",
    [(SeedCNN, "conv2", (18, 18), (16, 16)), (DeepCNN, "conv6", (5, 5), (4, 4))],
)
def test_cnn_crop_changes_no_output_or_gradient(model_cls, layer, full, trained):
    """Training skips the image pixels that reach only outputs a max-pool drops; recording
    the layers runs the full-size network. Same logits, same gradients."""
    x = jax.random.uniform(jax.random.key(1), (4, 28, 28, 1))
    model = model_cls(conv="xla")
    params = model.init(jax.random.key(0), x)["params"]

    def logits(p, record):
        if record:
            return model.apply({"params": p}, x, mutable=["intermediates"])[0]
        return model.apply({"params": p}, x)

    np.testing.assert_allclose(logits(params, False), logits(params, True), rtol=1e-6, atol=1e-6)
    grads = [jax.grad(lambda p, r=r: jnp.sum(logits(p, r) ** 2))(params) for r in (False, True)]
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), *grads)
    # And the crop is real: the recorded layer is full size, the trained one smaller.
    _, state = model.apply({"params": params}, x, mutable=["intermediates"])
    assert recorded(state["intermediates"])[layer].shape[1:3] == full

    def trained_shape(next_fun, args, kwargs, context):
        y = next_fun(*args, **kwargs)
        if context.module.name == layer:
            shapes.append(y.shape[1:3])
        return y

    shapes = []
    with nn.intercept_methods(trained_shape):
        model.apply({"params": params}, x)
    assert shapes == [trained]
