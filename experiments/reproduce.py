"""The whole study in one command: every chapter in the story's order, each of its scripts in
its own process, then the published numbers against ours in <out>/report/.

    python experiments/reproduce.py --scale smoke         # every chapter at test size
    python experiments/reproduce.py                       # the defaults, reduced to ~20 minutes
    python experiments/reproduce.py --scale full --seeds 3 --only cnn

Rerunning the same command skips finished runs and resumes interrupted ones through their
checkpoints. Chapters, scales and the reasons for each reduction: cnn_jax/report/chapters.py.
"""

from cnn_jax import cli
from cnn_jax.report.reproduce import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    cli.exit_with(main)
