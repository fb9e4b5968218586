"""Builds the C++ convolution kernel (cnn_jax/nn/conv_kernel.cc) during ``pip install``.

It compiles against the XLA FFI headers that jaxlib ships (``jax.ffi.include_dir()``), with
the SHA-256 of its sources compiled in, so that a library older than its source is noticed
when it loads. The extension is optional: where it cannot build (no C++ compiler, not
x86-64), the install goes on with one line saying so, and the models use the pure-JAX
convolution (cnn_jax/nn/conv.py).
"""

import importlib.util
import platform
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, CompileError, LinkError

KERNEL = Path(__file__).parent / "cnn_jax" / "nn"


def _kernel_source():
    """cnn_jax/nn/kernel_source.py on its own (not the package): SOURCES and their digest."""
    spec = importlib.util.spec_from_file_location("kernel_source", KERNEL / "kernel_source.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class OptionalBuild(build_ext):
    """An extension that fails to compile leaves one line, and the install goes on."""

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as error:  # noqa: BLE001 - the kernel is optional
            compiler = isinstance(error, (CCompilerError, CompileError, LinkError))
            reason = "the compiler failed, see above" if compiler else f"{error}".strip()
            sys.stderr.write(
                f"cnn_jax: the C++ convolution kernel was not built ({reason}); "
                "the models use the pure-JAX convolution\n"
            )


def extensions() -> list[Extension]:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return []
    try:
        import jax.ffi
    except ImportError:
        sys.stderr.write("cnn_jax: the C++ convolution kernel was not built (jax is missing)\n")
        return []
    kernel = _kernel_source()
    sources = [f"cnn_jax/nn/{name}" for name in kernel.SOURCES]
    extension = Extension(
        "cnn_jax.nn._conv_kernel",
        sources=sources[:1],
        depends=sources[1:],
        # -isystem: jaxlib's headers are not ours to warn about; ours keep every warning.
        extra_compile_args=["-O3", "-std=c++17", "-Wall", "-isystem", jax.ffi.include_dir()],
        define_macros=[("CNN_JAX_SOURCE_SHA256", f'"{kernel.source_digest(KERNEL)}"')],
        language="c++",
        optional=True,  # a failed build leaves no library to copy, and the install goes on
    )
    return [extension]


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuild})
