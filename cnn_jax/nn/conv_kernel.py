"""Direct convolution on CPU: a C++ kernel (``conv_kernel.cc``) called through ``jax.ffi``.

The kernel keeps a tile of output pixels × channels in registers while the whole
(ky, kx, c) contraction runs, reading the input in place: no patch matrix, no shifted sums,
and no multiply-add by a padding zero. The input gradient scatters each kernel offset's
products into the input's shape (it reads no padding); the kernel gradient has its own loop.

It has two paths, chosen here at run time: AVX-512 (12 pixels × 32 channels) where the CPU
has it, else AVX2 with FMA (6 × 16). Both sum every element in the same order, so they give
the same numbers bit for bit. ``$CNN_JAX_CONV_ISA`` (``avx512`` or ``avx2``) forces one.

``pip install -e .`` compiles it (setup.py). Where it was not built (no compiler, not
x86-64) or the CPU lacks AVX2 and FMA, :func:`available` is False and ``conv="auto"``
keeps the pure-JAX rows method; nothing else changes. :func:`state` says why, and
cnn_jax.nn.conv says it once where a user can act on it.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import importlib.machinery
import os
import platform
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp

from cnn_jax.errors import UsageError
from cnn_jax.nn.kernel_source import source_digest

_LIBRARY = "_conv_kernel"
_FOLDER = Path(__file__).parent
ISAS = ("avx512", "avx2")  # fastest first
_ISA_BITS = {"avx2": 1, "avx512": 2}  # cnn_jax_conv_instruction_sets()'s answer
ENV_VAR = "CNN_JAX_CONV_ISA"
REBUILD = "pip install -e . rebuilds it"
STALE = "was built from an older conv_kernel.cc (its sources have changed since)"


def _library_path() -> Path | None:
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        if (_FOLDER / f"{_LIBRARY}{suffix}").is_file():
            return _FOLDER / f"{_LIBRARY}{suffix}"
    return None


def _could_build() -> bool:
    """An x86-64 Linux machine with a C++ compiler and a CPU with AVX2 and FMA."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    if not any(shutil.which(cxx) for cxx in ("c++", "g++", "clang++")):
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx2" in flags and " fma" in flags


@dataclasses.dataclass(frozen=True)
class Kernel:
    """What this process can use of the kernel.

    ``isas``: the instruction sets this CPU runs whose handlers agree with XLA, fastest
    first (empty: the kernel is not used). ``problem``: why it is not used (None when it
    is). ``notes``: lines worth saying once even so (a library older than its source, one
    that was never built here though it could be). ``broken``: a library is there but
    cannot be used.
    """

    isas: tuple[str, ...] = ()
    problem: str | None = None
    notes: tuple[str, ...] = ()
    broken: bool = False  # a library is there but fails: worth a warning where it is not used


@functools.cache
def state() -> Kernel:
    """Loads the library once: is it there, loadable, built from today's source, run by this
    CPU, and does a small convolution and its gradients match XLA's on each path?"""
    if jax.default_backend() != "cpu":
        return Kernel(problem="runs only on a CPU backend")
    path = _library_path()
    if path is None:
        if _could_build():
            problem = "is not built here, though this machine can build it: pip install -e ."
            return Kernel(problem=problem, notes=(f"note: the C++ convolution kernel {problem}",))
        return Kernel(problem="is not built here (pip install -e . builds it on x86-64)")
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as error:
        return Kernel(problem=f"cannot be loaded ({error}); {REBUILD}", broken=True)
    if not hasattr(lib, "cnn_jax_conv_source_sha256"):
        return Kernel(problem=f"{STALE}; {REBUILD}", broken=True)
    notes = ()
    source = source_digest()
    lib.cnn_jax_conv_source_sha256.restype = ctypes.c_char_p
    if source is not None and lib.cnn_jax_conv_source_sha256().decode() != source:
        notes = (f"warning: the C++ convolution kernel {STALE}; {REBUILD}",)
    cpu = lib.cnn_jax_conv_instruction_sets()
    runs = tuple(isa for isa in ISAS if cpu & _ISA_BITS[isa])
    if not runs:
        return Kernel(problem="needs AVX2 and FMA, which this CPU lacks", notes=notes)
    try:
        for isa in runs:
            for name in _targets(isa):
                jax.ffi.register_ffi_target(name, jax.ffi.pycapsule(getattr(lib, name)), "cpu")
        agree = tuple(isa for isa in runs if _agrees_with_xla(isa))
    except Exception as error:  # noqa: BLE001 - any failure means: use the pure-JAX path
        problem = f"cannot be used ({type(error).__name__}: {error})"
        return Kernel(problem=problem, notes=notes, broken=True)
    if agree != runs:
        wrong = ", ".join(isa for isa in runs if isa not in agree)
        if not agree:
            return Kernel(problem=f"disagrees with XLA ({wrong})", notes=notes, broken=True)
        notes += (f"warning: the C++ convolution kernel's {wrong} path disagrees with XLA",)
    return Kernel(agree, None, notes)


def available() -> bool:
    """True when the compiled kernel is there, this CPU runs it, and it agrees with XLA."""
    return bool(state().isas)


def chosen_isa() -> str:
    """The path :func:`conv` takes: ``$CNN_JAX_CONV_ISA`` when set, else the fastest this
    CPU runs. UsageError when the kernel is not usable or the variable asks for what this
    CPU lacks."""
    kernel = state()
    if not kernel.isas:
        raise UsageError(f"the C++ convolution kernel {kernel.problem}")
    forced = os.environ.get(ENV_VAR, "").strip().lower()
    if not forced:
        return kernel.isas[0]
    if forced not in ISAS:
        raise UsageError(f"{ENV_VAR}={forced!r}: choose {' or '.join(ISAS)}")
    if forced not in kernel.isas:
        raise UsageError(f"{ENV_VAR}={forced}: this CPU does not run the kernel's {forced} path")
    return forced


def _targets(isa: str) -> tuple[str, str, str]:
    """The FFI targets of one path: forward, input gradient, kernel gradient."""
    return tuple(f"cnn_jax_conv_{what}_{isa}" for what in ("forward", "input_grad", "kernel_grad"))


@jax.ensure_compile_time_eval()  # eager even when first asked inside a jit trace
def _agrees_with_xla(isa: str) -> bool:
    # 48 channels and 25 pixels: full and half-width tiles, and tiles cut short by the edge.
    keys = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(keys[0], (2, 7, 6, 32))
    w = jax.random.normal(keys[1], (3, 2, 32, 48))
    g = jax.random.normal(keys[2], (2, 5, 5, 48))
    y, vjp = jax.vjp(lambda x, w: _conv(x, w, isa), x, w)
    y_ref, vjp_ref = jax.vjp(_xla, x, w)
    pairs = [(y, y_ref), *zip(vjp(g), vjp_ref(g), strict=True)]
    return all(bool(jnp.allclose(a, b, rtol=1e-4, atol=1e-4)) for a, b in pairs)


def supports(lhs, rhs) -> bool:
    """What the kernel takes of a VALID, stride-1 NHWC × HWIO convolution: float32, output
    channels a multiple of 16."""
    return lhs.dtype == jnp.float32 and rhs.shape[3] % 16 == 0


def _call(what: str, isa: str, shape, *args):
    out = jax.ShapeDtypeStruct(shape, jnp.float32)
    return jax.ffi.ffi_call(f"cnn_jax_conv_{what}_{isa}", out, vmap_method="sequential")(*args)


def conv(lhs, rhs, isa: str | None = None):
    """VALID, stride-1 ``lhs [B, H, W, C] ⋆ rhs [kh, kw, C, F]`` -> [B, H-kh+1, W-kw+1, F],
    on the path ``isa`` ("avx512", "avx2"; default :func:`chosen_isa`)."""
    return _conv(lhs, rhs, isa or chosen_isa())


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _conv(lhs, rhs, isa):
    return _forward(lhs, rhs, isa)


def _forward(lhs, rhs, isa):
    b, h, w, _ = lhs.shape
    kh, kw, _, f = rhs.shape
    return _call("forward", isa, (b, h - kh + 1, w - kw + 1, f), lhs, rhs)


def _conv_fwd(lhs, rhs, isa):
    return _forward(lhs, rhs, isa), (lhs, rhs)


def _conv_bwd(isa, residuals, g):
    lhs, rhs = residuals
    if rhs.shape[2] % 16 == 0:
        # d_lhs[p + (i, j)] = Σ_i,j g[p] rhs[i, j]ᵀ: the kernel with its channels swapped.
        d_lhs = _call("input_grad", isa, lhs.shape, g, rhs.transpose(0, 1, 3, 2))
    else:  # a first layer's few input channels (its gradient is rarely used)
        _, vjp = jax.vjp(lambda x: _xla(x, rhs), lhs)
        (d_lhs,) = vjp(g)
    return d_lhs, _call("kernel_grad", isa, rhs.shape, lhs, g)


def _xla(lhs, rhs):
    return jax.lax.conv_general_dilated(
        lhs, rhs, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )


_conv.defvjp(_conv_fwd, _conv_bwd)
