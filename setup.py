"""Builds the C++ convolution kernel (cnn_jax/nn/conv_kernel.cc) during ``pip install``.

It compiles against the XLA FFI headers that jaxlib ships (``jax.ffi.include_dir()``). The
extension is optional: where it cannot build (no C++ compiler, not x86-64), the install
goes on and the models use the pure-JAX convolution (cnn_jax/nn/conv.py).
"""

import platform

from setuptools import Extension, setup


def extensions() -> list[Extension]:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return []
    try:
        import jax.ffi
    except ImportError:
        return []
    kernel = Extension(
        "cnn_jax.nn._conv_kernel",
        sources=["cnn_jax/nn/conv_kernel.cc"],
        include_dirs=[jax.ffi.include_dir()],
        extra_compile_args=["-O3", "-std=c++17", "-w"],
        language="c++",
        optional=True,
    )
    return [kernel]


setup(ext_modules=extensions())
