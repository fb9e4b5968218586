"""Direct convolution on CPU: a C++ kernel (``conv_kernel.cc``) called through ``jax.ffi``.

The kernel keeps a tile of 6 output pixels × 16 channels in registers while the whole
(ky, kx, c) contraction runs, reading the input in place: no patch matrix, no shifted sums,
and none of the extra multiply-adds the rows method does at the image borders. The input
gradient is the same kernel on the zero-padded output gradient with the flipped kernel
(it skips the offsets that would read only padding); the kernel gradient has its own loop.

``pip install -e .`` compiles it (setup.py). Where it was not built (no compiler, not
x86-64) or the CPU lacks AVX2 and FMA, :func:`available` is False and ``conv="auto"``
keeps the pure-JAX rows method; nothing else changes.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.machinery
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp

_LIBRARY = "_conv_kernel"
_FORWARD, _KERNEL_GRAD = "cnn_jax_conv_forward", "cnn_jax_conv_kernel_grad"


def _library_path() -> Path | None:
    here = Path(__file__).parent
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        if (here / f"{_LIBRARY}{suffix}").is_file():
            return here / f"{_LIBRARY}{suffix}"
    return None


@functools.cache
def available() -> bool:
    """True when the compiled kernel is there, this CPU runs it, JAX took its targets, and
    a small convolution and its gradients match XLA's (a kernel built against another
    jaxlib than the one running warns once and is not used)."""
    path = _library_path()
    if path is None or jax.default_backend() != "cpu":
        return False
    try:
        lib = ctypes.CDLL(str(path))
        if not lib.cnn_jax_conv_supported():
            return False
        for name in (_FORWARD, _KERNEL_GRAD):
            jax.ffi.register_ffi_target(name, jax.ffi.pycapsule(getattr(lib, name)), "cpu")
        agrees = _agrees_with_xla()
    except Exception as error:  # noqa: BLE001 - any failure means: use the pure-JAX path
        warnings.warn(f"the C++ convolution kernel is not used: {error}", stacklevel=2)
        return False
    if not agrees:
        warnings.warn("the C++ convolution kernel disagrees with XLA and is not used", stacklevel=2)
    return agrees


@jax.ensure_compile_time_eval()  # eager even when first asked inside a jit trace
def _agrees_with_xla() -> bool:
    keys = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(keys[0], (2, 7, 6, 16))
    w = jax.random.normal(keys[1], (3, 2, 16, 16))
    g = jax.random.normal(keys[2], (2, 5, 5, 16))
    y, vjp = jax.vjp(conv, x, w)
    y_ref, vjp_ref = jax.vjp(_xla, x, w)
    pairs = [(y, y_ref), *zip(vjp(g), vjp_ref(g), strict=True)]
    return all(bool(jnp.allclose(a, b, rtol=1e-4, atol=1e-4)) for a, b in pairs)


def supports(lhs, rhs) -> bool:
    """What the kernel takes of a VALID, stride-1 NHWC × HWIO convolution: float32, output
    channels a multiple of 16."""
    return lhs.dtype == jnp.float32 and rhs.shape[3] % 16 == 0


def _forward(x, w, band=(0, 0)):
    b, h, wd, _ = x.shape
    kh, kw, _, f = w.shape
    out = jax.ShapeDtypeStruct((b, h - kh + 1, wd - kw + 1, f), jnp.float32)
    call = jax.ffi.ffi_call(_FORWARD, out, vmap_method="sequential")
    return call(x, w, band_rows=band[0], band_cols=band[1])


def _kernel_grad(x, g, kernel_shape):
    out = jax.ShapeDtypeStruct(kernel_shape, jnp.float32)
    return jax.ffi.ffi_call(_KERNEL_GRAD, out, vmap_method="sequential")(x, g)


@jax.custom_vjp
def conv(lhs, rhs):
    """VALID, stride-1 ``lhs [B, H, W, C] ⋆ rhs [kh, kw, C, F]`` -> [B, H-kh+1, W-kw+1, F]."""
    return _forward(lhs, rhs)


def _conv_fwd(lhs, rhs):
    return _forward(lhs, rhs), (lhs, rhs)


def _conv_bwd(residuals, g):
    lhs, rhs = residuals
    kh, kw, c, _ = rhs.shape
    if c % 16 == 0:
        # d_lhs[y, x] = Σ g[y - i, x - j] rhs[i, j]: the forward of g padded by k - 1 with
        # the kernel flipped and its channels swapped.
        padded = jnp.pad(g, ((0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1), (0, 0)))
        flipped = rhs[::-1, ::-1].transpose(0, 1, 3, 2)
        d_lhs = _forward(padded, flipped, band=(kh - 1, kw - 1))
    else:  # a first layer's few input channels (its gradient is rarely used)
        _, vjp = jax.vjp(lambda x: _xla(x, rhs), lhs)
        (d_lhs,) = vjp(g)
    return d_lhs, _kernel_grad(lhs, g, rhs.shape)


def _xla(lhs, rhs):
    return jax.lax.conv_general_dilated(
        lhs, rhs, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )


conv.defvjp(_conv_fwd, _conv_bwd)
