"""Train the study's MNIST CNN (or its deep variant, or an MLP) and write results.json.

python experiments/mnist_cnn.py                 # the study's CNN, 10 epochs
python experiments/mnist_cnn.py --arch deep --dropout 0.5
python experiments/mnist_cnn.py --devices 1     # one device even when there are more
python experiments/mnist_cnn.py --arch mlp --epochs 30 --keep-epochs 0,1,2,5,30

Every visible device is used (each batch split over them); several processes (hosts) join
with --coordinator/--num-processes/--process-id, see the README's "More devices, more hosts".
Every field of TrainConfig is a flag. Rerunning the same command resumes from the newest
intact checkpoint.
"""

from __future__ import annotations

from pathlib import Path

from cnn_jax import cli, flags
from cnn_jax.training import devices
from cnn_jax.training.config import TrainConfig
from cnn_jax.training.run import default_out_dir, run_or_resume
from cnn_jax.training.train import check_data, check_devices, check_keep_epochs


def build_parser() -> cli.Parser:
    p = cli.Parser(
        prog="mnist_cnn.py",
        description="Train a network on MNIST, checkpoint every epoch, and write "
        "<out>/results.json and <out>/curves.png. Rerunning the same command resumes.",
    )
    flags.add_flags(p, TrainConfig)
    cli.add_data_dir(p)
    p.add_argument("--out", help="Output folder (default: runs/mnist_cnn/<arch>[-<changes>]).")
    p.add_argument(
        "--keep-epochs",
        type=cli.epoch_list,
        default=(),
        metavar="E,E,...",
        help="Also keep the checkpoints of these epochs for good (0: the initialization), "
        "e.g. 0,1,2,5,30; the two newest are always kept.",
    )
    p.add_argument("--no-progress", action="store_true", help="Show no progress bar.")
    env = devices.ENV  # each multi-process flag defaults to JAX's variable
    g = p.add_argument_group("devices and hosts")
    g.add_argument("--devices", type=cli.positive_int, default=None,
                   help="use the first N devices (default: every visible device, of every "
                   "process)")  # fmt: skip
    g.add_argument("--coordinator", metavar="HOST:PORT", default=None,
                   help="several processes: process 0's address and a free port, or 'auto' "
                   f"(Slurm, Open MPI, TPU pods) (default: ${env['coordinator']})")  # fmt: skip
    g.add_argument("--num-processes", type=cli.positive_int, default=None,
                   help=f"several processes: how many (default: ${env['num_processes']})",
                   )  # fmt: skip
    g.add_argument("--process-id", type=cli.non_negative_int, default=None,
                   help=f"several processes: this one's index (default: ${env['process_id']})",
                   )  # fmt: skip
    return p


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    values = vars(build_parser().parse_args(argv))
    cfg = flags.from_flags(TrainConfig, values)
    out = Path(values["out"]) if values["out"] else default_out_dir(cfg)
    check_keep_epochs(values["keep_epochs"], cfg.epochs)
    devices.start(values)  # joins the other processes, if any
    mesh = devices.data_mesh(values["devices"])
    check_devices(cfg, mesh)
    writer = devices.is_writer()  # process 0 speaks and writes; the others compute
    say = print if writer else (lambda *_: None)
    quiet = not writer or values["no_progress"]
    mnist = cli.load_mnist(values["data_dir"], progress=not quiet)
    check_data(cfg, mnist)  # every input checked before the folder is made
    with cli.RunFolder(out, lock=writer):
        run_or_resume(
            cfg, out, mnist, mesh=mesh, keep_epochs=values["keep_epochs"], quiet=quiet, log=say
        )
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
