import platform
import shutil

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnn_jax.nn import conv_kernel
from cnn_jax.nn.conv import direct_conv, im2col_conv, resolve, rows_conv
from cnn_jax.nn.models import DeepCNN, SeedCNN, recorded

BUILT = conv_kernel.available()
needs_kernel = pytest.mark.skipif(
    not BUILT, reason="the C++ convolution kernel is not built or this CPU lacks AVX2/FMA"
)
CONVS = pytest.mark.parametrize(
    "conv",
    [im2col_conv, rows_conv, pytest.param(direct_conv, marks=needs_kernel)],
    ids=["im2col", "rows", "direct"],
)

DN = ("NHWC", "HWIO", "NHWC")


def xla_conv(x, k):
    return jax.lax.conv_general_dilated(x, k, (1, 1), "VALID", dimension_numbers=DN)


@pytest.mark.parametrize(
    "shape, kernel",
    [
        ((3, 28, 28, 1), (6, 6, 1, 32)),
        ((2, 23, 23, 32), (6, 6, 32, 32)),
        ((2, 11, 11, 32), (3, 3, 32, 64)),
        ((2, 9, 13, 3), (4, 2, 3, 5)),  # H != W, kh != kw: catches a swapped axis
        ((3, 9, 13, 16), (4, 2, 16, 48)),  # the same through the C++ kernel's every path
    ],
)
@CONVS
def test_conv_matches_xla_forward_and_gradient(conv, shape, kernel):
    kx, kk, kg = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, shape, jnp.float32)
    k = jax.random.normal(kk, kernel, jnp.float32) * 0.1
    ours = conv(x, k, (1, 1), "VALID")
    np.testing.assert_allclose(ours, xla_conv(x, k), rtol=1e-4, atol=1e-4)
    cotangent = jax.random.normal(kg, ours.shape, jnp.float32)

    def pull(conv):
        return jax.grad(lambda x, k: jnp.sum(conv(x, k) * cotangent), argnums=(0, 1))(x, k)

    for g_ours, g_xla in zip(
        pull(lambda x, k: conv(x, k, (1, 1), "VALID")), pull(xla_conv), strict=True
    ):
        np.testing.assert_allclose(g_ours, g_xla, rtol=1e-4, atol=1e-3)


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


def test_auto_picks_by_backend_and_falls_back_without_the_kernel(monkeypatch):
    cpu = "direct" if BUILT else "rows"
    assert resolve("auto") == (cpu if jax.default_backend() == "cpu" else "xla")
    assert resolve("xla") == "xla"
    with pytest.raises(ValueError):
        resolve("winograd")
    monkeypatch.setattr(conv_kernel, "available", lambda: False)
    assert resolve("auto") == ("rows" if jax.default_backend() == "cpu" else "xla")


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
