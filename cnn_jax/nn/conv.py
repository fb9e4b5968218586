"""Convolution on CPU: exact, and faster here than XLA's native conv.

XLA's CPU convolution runs far below the machine's matmul speed. Three rewrites:

- ``direct`` (the default on an x86-64 CPU with AVX2 and FMA, where ``pip install -e .``
  built it): a C++ kernel through ``jax.ffi``, in ``conv_kernel.py``, on its AVX-512 path
  where the CPU has one. Output channels must be a multiple of 16; other layers take the
  rows method.
- ``im2col``: gather the kh·kw shifted views of the input into one patch matrix
  [B·Ho·Wo, kh·kw·C] and do one matmul with the kernel reshaped to [kh·kw·C, F].
- ``rows`` (the default on CPU): unfold along x only, px [B·H·Wo, kw·C], do one matmul
  with all kh kernel rows side by side, [kw·C, kh·F], and add the kh row results shifted
  by their row offset. Its patch matrix is kh times smaller and its matmul square-ish;
  the backward pass is written by hand (``jax.custom_vjp``) as the transposes of the
  same three steps, because autodiff's version adds slow transposed copies. 1.5x
  faster than im2col on the seed CNN here (experiments/benchmark.py). The default where
  the direct kernel is not built.

On GPU and TPU XLA's own convolution is kept.
"""

from __future__ import annotations

import functools
import sys

import jax
import jax.numpy as jnp

from cnn_jax.nn import conv_kernel

CONV_IMPLS = ("auto", "xla", "im2col", "rows", "direct")


def _trivial(value) -> bool:
    return value is None or all(v == 1 for v in value)


def _check(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation, groups) -> None:
    """Only stride 1, VALID, undilated, ungrouped NHWC x HWIO: anything else raises rather
    than computing something else."""
    pads_zero = padding == "VALID" or all(tuple(p) == (0, 0) for p in padding)
    if not (
        pads_zero
        and _trivial(window_strides)
        and _trivial(lhs_dilation)
        and _trivial(rhs_dilation)
        and groups == 1
        and lhs.ndim == 4
    ):
        raise NotImplementedError("these convs handle only stride 1, VALID, undilated 2-D convs")
    assert lhs.shape[-1] == rhs.shape[2], (lhs.shape, rhs.shape)


def _at_default_precision(compute, name: str):
    """``compute(lhs, rhs)`` behind ``lax.conv_general_dilated``'s signature, for NHWC
    inputs, HWIO kernels, stride 1 and VALID padding, in the inputs' dtype."""

    def conv(
        lhs,
        rhs,
        window_strides,
        padding,
        lhs_dilation=None,
        rhs_dilation=None,
        dimension_numbers=None,
        feature_group_count=1,
        precision=None,
        preferred_element_type=None,
    ):
        _check(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation, feature_group_count)
        if precision is not None or preferred_element_type is not None:
            raise NotImplementedError(f"{name} computes in the inputs' dtype at default precision")
        return compute(lhs, rhs)

    conv.__name__ = name
    return conv


def _im2col(lhs, rhs):
    """lhs [B, H, W, C], rhs [kh, kw, C, F] -> [B, H-kh+1, W-kw+1, F] by one patch matmul."""
    kh, kw, c, f = rhs.shape
    _, h, w, _ = lhs.shape
    ho, wo = h - kh + 1, w - kw + 1
    # Patch layout (i, j, c) with c fastest matches the HWIO kernel reshaped to [kh·kw·C, F].
    patches = jnp.concatenate(
        [lhs[:, i : i + ho, j : j + wo, :] for i in range(kh) for j in range(kw)], axis=-1
    )  # [B, Ho, Wo, kh·kw·C]
    return patches @ rhs.reshape(kh * kw * c, f)


im2col_conv = _at_default_precision(_im2col, "im2col_conv")


def _unfold_x(x, kw: int):
    """[B, H, W, C] -> [B, H, W-kw+1, kw·C]: the kw shifted views along x, (j, c) order."""
    wo = x.shape[2] - kw + 1
    return jnp.concatenate([x[:, :, j : j + wo, :] for j in range(kw)], axis=-1)


def _rows_kernel(rhs):
    """[kh, kw, C, F] -> [kw·C, kh·F]: rows (j, c), columns (i, f)."""
    kh, kw, c, f = rhs.shape
    return rhs.transpose(1, 2, 0, 3).reshape(kw * c, kh * f)


def _rows_forward(lhs, rhs):
    kh, kw, _, f = rhs.shape
    b, h = lhs.shape[:2]
    px = _unfold_x(lhs, kw)  # [B, H, Wo, kw·C]
    r = (px @ _rows_kernel(rhs)).reshape(b, h, px.shape[2], kh, f)
    # out[:, y] = Σ_i r[:, y + i, :, i]: kernel row i sees input row y + i.
    ho = h - kh + 1
    return sum(r[:, i : i + ho, :, i, :] for i in range(kh)), px


@jax.custom_vjp
def _rows(lhs, rhs):
    return _rows_forward(lhs, rhs)[0]


def _rows_fwd(lhs, rhs):
    out, px = _rows_forward(lhs, rhs)
    return out, (px, rhs)


def _rows_bwd(residuals, g):
    px, rhs = residuals
    kh, kw, c, f = rhs.shape
    b, h, wo, _ = px.shape
    # The transpose of the shifted sum: dr[:, y, :, i] = g[:, y - i] (zero outside).
    dr = jnp.stack([jnp.pad(g, ((0, 0), (i, kh - 1 - i), (0, 0), (0, 0))) for i in range(kh)], 3)
    dr = dr.reshape(b * h * wo, kh * f)
    d_kernel = jax.lax.dot_general(px.reshape(b * h * wo, kw * c), dr, (((0,), (0,)), ((), ())))
    d_rhs = d_kernel.reshape(kw, c, kh, f).transpose(2, 0, 1, 3)
    d_px = (dr @ _rows_kernel(rhs).T).reshape(b, h, wo, kw, c)
    # The transpose of the unfold: input column x + j collects view j's column x.
    d_lhs = sum(
        jnp.pad(d_px[:, :, :, j, :], ((0, 0), (0, 0), (j, kw - 1 - j), (0, 0))) for j in range(kw)
    )
    return d_lhs, d_rhs


_rows.defvjp(_rows_fwd, _rows_bwd)


def _direct(lhs, rhs):
    """The C++ kernel of ``conv_kernel.py``; float32 layers whose output channels are not a
    multiple of 16 take the rows method."""
    if not conv_kernel.supports(lhs, rhs):
        return _rows(lhs, rhs)
    return conv_kernel.conv(lhs, rhs)


rows_conv = _at_default_precision(_rows, "rows_conv")
direct_conv = _at_default_precision(_direct, "direct_conv")


@functools.cache
def _say(line: str) -> None:
    """One line on stderr, once per process."""
    sys.stderr.write(f"{line}\n")


def _kernel_usable(required: bool) -> bool:
    """Whether the C++ kernel runs here, saying once what a user should know: a library
    older than its source, one never built on a machine that can build it, one present but
    broken (before the fallback to the rows method). ``required`` (``conv="direct"``):
    where it cannot run, UsageError naming why, and nothing else said."""
    kernel = conv_kernel.state()
    if required and not kernel.isas:
        conv_kernel.chosen_isa()  # raises, naming why
    for note in kernel.notes:
        _say(note)
    if kernel.isas:
        conv_kernel.chosen_isa()  # a $CNN_JAX_CONV_ISA this CPU cannot honour raises
        return True
    if kernel.broken:
        _say(f"warning: the C++ convolution kernel {kernel.problem}; using the rows method")
    return False


def resolve(impl: str) -> str:
    """ "auto" -> "direct" on a CPU that runs the built kernel, else "rows" on CPU, and
    "xla" on GPU/TPU. "direct" where the kernel cannot run: UsageError, one line."""
    if impl not in CONV_IMPLS:
        raise ValueError(f"conv must be one of {', '.join(CONV_IMPLS)}, got {impl!r}")
    if impl == "auto":
        if jax.default_backend() != "cpu":
            return "xla"
        return "direct" if _kernel_usable(required=False) else "rows"
    if impl == "direct":
        _kernel_usable(required=True)
    return impl


def routine(impl: str) -> str:
    """The routine ``impl`` runs here, as results.json records it: "direct-avx512",
    "direct-avx2", "rows", "im2col" or "xla" (never "auto")."""
    resolved = resolve(impl)
    return f"direct-{conv_kernel.chosen_isa()}" if resolved == "direct" else resolved


def conv_fn(impl: str):
    """The ``conv_general_dilated`` to give ``nn.Conv`` (None = Flax's default, XLA)."""
    impls = {"im2col": im2col_conv, "rows": rows_conv, "direct": direct_conv, "xla": None}
    return impls[resolve(impl)]
