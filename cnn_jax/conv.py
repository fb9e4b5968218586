"""Convolution as im2col + one matmul: exact, and on CPU faster than XLA's native conv.

XLA's CPU convolution runs far below the machine's matmul speed here; gathering the
kh·kw shifted views of the input into a patch matrix and doing one matmul with the
reshaped kernel computes the same sums through the fast matmul path. On GPU and TPU
XLA's own convolution is kept.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

CONV_IMPLS = ("auto", "xla", "im2col")


def _trivial(value) -> bool:
    return value is None or all(v == 1 for v in value)


def im2col_conv(
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
    """``lax.conv_general_dilated`` for NHWC inputs, HWIO kernels, stride 1, VALID padding.

    lhs [B, H, W, C], rhs [kh, kw, C, F] -> [B, H-kh+1, W-kw+1, F]. Anything else
    (strides, dilation, groups, padding) raises rather than computing something else.
    """
    kh, kw, c, f = rhs.shape
    pads_zero = padding == "VALID" or all(tuple(p) == (0, 0) for p in padding)
    if not (
        pads_zero
        and _trivial(window_strides)
        and _trivial(lhs_dilation)
        and _trivial(rhs_dilation)
        and feature_group_count == 1
        and lhs.ndim == 4
    ):
        raise NotImplementedError("im2col_conv handles only stride 1, VALID, undilated 2-D convs")
    _, h, w, c_in = lhs.shape
    assert c_in == c, (lhs.shape, rhs.shape)
    ho, wo = h - kh + 1, w - kw + 1
    # Patch layout (i, j, c) with c fastest matches the HWIO kernel reshaped to [kh·kw·C, F].
    patches = jnp.concatenate(
        [lhs[:, i : i + ho, j : j + wo, :] for i in range(kh) for j in range(kw)], axis=-1
    )  # [B, Ho, Wo, kh·kw·C]
    return jnp.matmul(
        patches,
        rhs.reshape(kh * kw * c, f),
        precision=precision,
        preferred_element_type=preferred_element_type,
    )


def resolve(impl: str) -> str:
    """ "auto" -> "im2col" on CPU, "xla" on GPU/TPU."""
    if impl not in CONV_IMPLS:
        raise ValueError(f"conv must be one of {', '.join(CONV_IMPLS)}, got {impl!r}")
    if impl == "auto":
        return "im2col" if jax.default_backend() == "cpu" else "xla"
    return impl


def conv_fn(impl: str):
    """The ``conv_general_dilated`` to give ``nn.Conv`` (None = Flax's default, XLA)."""
    return im2col_conv if resolve(impl) == "im2col" else None
