"""``python -m cnn_jax.report --docs [--check] [--from-runs DIR]``: the docs' tables."""

import sys

from cnn_jax import cli
from cnn_jax.report import docs

if __name__ == "__main__":
    sys.exit(cli.one_line_errors(docs.main)(sys.argv[1:]))
