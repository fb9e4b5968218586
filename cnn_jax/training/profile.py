"""Where a training step's time goes, per operation of the compiled step, from XLA's trace.

    python experiments/benchmark.py --archs seed --profile

The step is compiled with XLA:CPU's per-operation trace events on
(``xla_cpu_enable_xprof_traceme``) and run under ``jax.profiler.trace``; each event is
one operation of the optimized HLO (``compiled.as_text()``): a fused loop, a YNNPACK
matmul (``__ynn_fusion``), an Eigen ``dot`` (the matmuls YNNPACK does not take, such
as those contracting the leading axis of both operands), a reduce-window, a scatter.
Their times per step are summed by name and by kind. Two operations may run at once on
two threads, and the executor spends time between them, so the sum is not the step's
wall time, which is reported beside it. Tracing every operation slows the step itself
(by about half for the seed CNN's micro-batch loop on a 2-core CPU): read the shares,
and take speeds from the untraced benchmark.
"""

from __future__ import annotations

import gzip
import json
import re
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import jax
import numpy as np

from cnn_jax import cli
from cnn_jax import data as data_lib
from cnn_jax.results import provenance, write_json
from cnn_jax.training.config import TrainConfig
from cnn_jax.training.train import create_train_state, make_train_step

# One HLO instruction: "%name = shape opcode(operands)..., metadata={op_name="..."}".
_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%([\w.\-]+) = .*?\s([a-z][\w\-]*)\(")
_OP_NAME = re.compile(r'op_name="([^"]+)"')
# No work of their own, or (loops, calls) only the time of the operations inside them.
_NOT_TIMED = {"parameter", "constant", "get-tuple-element", "tuple", "while", "conditional", "call"}


def instructions(hlo_text: str) -> dict[str, dict]:
    """{instruction name: {"kind", "source"}} of an optimized HLO module's text: the kind
    from its opcode (YNNPACK fusions apart), the source from its metadata (the jaxpr path,
    e.g. ``.../jvp(SeedCNN)/conv2/dot_general``)."""
    found = {}
    for line in hlo_text.splitlines():
        m = _INSTRUCTION.match(line)
        if not m or m.group(2) in _NOT_TIMED:
            continue
        kind = m.group(2)
        if kind == "fusion":
            kind = "ynnpack fusion" if "__ynn_fusion" in line else "fused loop"
        elif kind == "dot":
            kind = "dot (Eigen)"
        source = _OP_NAME.search(line)
        found[m.group(1)] = {"kind": kind, "source": source.group(1) if source else ""}
    return found


def trace_events(trace_dir: Path) -> list[dict]:
    """The complete ("X") events of the Perfetto trace that ``jax.profiler.trace`` wrote."""
    (path,) = Path(trace_dir).rglob("perfetto_trace.json.gz")
    events = json.loads(gzip.decompress(path.read_bytes()))
    events = events["traceEvents"] if isinstance(events, dict) else events
    return [e for e in events if e.get("ph") == "X"]


def summarize(events: list[dict], ops: dict[str, dict], steps: int, step_ms: float) -> dict:
    """Milliseconds per step of each operation in ``ops`` that the trace timed, largest first,
    and their sums by kind, beside the measured wall time of a step."""
    total, calls = defaultdict(float), defaultdict(int)
    for e in events:
        if e["name"] in ops:
            total[e["name"]] += e["dur"] / 1e3  # microseconds -> ms
            calls[e["name"]] += 1
    rows = [
        {
            "name": name,
            **ops[name],
            "ms_per_step": t / steps,
            "calls_per_step": calls[name] / steps,
        }
        for name, t in sorted(total.items(), key=lambda kv: -kv[1])
    ]
    by_kind = defaultdict(float)
    for r in rows:
        by_kind[r["kind"]] += r["ms_per_step"]
    return {
        "steps": steps,
        "step_ms": step_ms,
        "traced_ms_per_step": sum(by_kind.values()),
        "by_kind": dict(sorted(by_kind.items(), key=lambda kv: -kv[1])),
        "ops": rows,
    }


def profile_step(cfg: TrainConfig, images: np.ndarray, labels: np.ndarray, *, steps: int = 10):
    """Trace ``steps`` training steps of ``cfg`` on the first batch of ``images`` (after two
    untraced warm-up steps) and return :func:`summarize`'s table."""
    key = jax.random.key(cfg.seed)
    state = create_train_state(cfg, key)
    n = cfg.batch_size
    batch = {"image": data_lib.scale(images[:n]), "label": np.asarray(labels[:n])}
    lowered = jax.jit(make_train_step(cfg), donate_argnums=0).lower(state, batch, key)
    step = lowered.compile(compiler_options={"xla_cpu_enable_xprof_traceme": True})
    for _ in range(2):
        state, metrics = step(state, batch, key)
    jax.block_until_ready(metrics)
    with tempfile.TemporaryDirectory() as trace_dir:
        with jax.profiler.trace(trace_dir, create_perfetto_trace=True):
            start = time.perf_counter()
            for _ in range(steps):
                state, metrics = step(state, batch, key)
            jax.block_until_ready(metrics)
            step_ms = (time.perf_counter() - start) * 1e3 / steps
        events = trace_events(Path(trace_dir))
    return summarize(events, instructions(step.as_text()), steps, step_ms)


def format_profile(arch: str, p: dict, top: int = 12) -> str:
    lines = [
        f"{arch}: {p['step_ms']:.1f} ms per step (wall); traced operations "
        f"{p['traced_ms_per_step']:.1f} ms (two may run at once)"
    ]
    lines += [f"  {ms:8.2f} ms  {kind}" for kind, ms in p["by_kind"].items()]
    lines.append(f"  the {top} largest operations:")
    for r in p["ops"][:top]:
        where = r["source"].split("/", 1)[-1] if r["source"] else ""
        lines.append(
            f"  {r['ms_per_step']:8.2f} ms  {r['calls_per_step']:4.0f}x  {r['name']:28} {where}"
        )
    return "\n".join(lines)


def write_profiles(cfgs: list[TrainConfig], mnist: data_lib.Mnist, out: Path, *, steps: int) -> str:
    """Profile each config on ``mnist``'s training images into ``out``/profile.json (with
    its provenance); return the tables to print."""
    with cli.RunFolder(out):
        images, labels = mnist.train_images, mnist.train_labels
        result = {cfg.arch: profile_step(cfg, images, labels, steps=steps) for cfg in cfgs}
        write_json(out / "profile.json", result | {"provenance": provenance()})
    tables = [format_profile(arch, p) for arch, p in result.items()]
    return "\n".join([*tables, f"wrote {out / 'profile.json'}"])
