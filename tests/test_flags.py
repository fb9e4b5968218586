"""Flags from frozen dataclasses: one field, one flag, one value."""

import dataclasses

import pytest

from cnn_jax import cli, flags
from cnn_jax.flags import flag


@dataclasses.dataclass(frozen=True)
class First:
    seeds: int = flag(3, "seeds of the first config", type=cli.positive_int)
    fast: bool = flag(False, "a switch")


@dataclasses.dataclass(frozen=True)
class Second:
    seeds: int = flag(1, "seeds of the second config", type=cli.positive_int)


def test_fields_become_flags_and_come_back():
    parser = cli.Parser(prog="t")
    flags.add_flags(parser, First)
    assert flags.from_flags(First, vars(parser.parse_args(["--seeds", "5", "--fast"]))) == First(
        5, True
    )
    assert flags.from_flags(First, vars(parser.parse_args([]))) == First()


def test_two_configs_cannot_share_a_flag_value():
    parser = cli.Parser(prog="t")
    flags.add_flags(parser, First)
    with pytest.raises(TypeError, match="Second.seeds"):
        flags.add_flags(parser, Second)


def test_vanishing_init_seeds_do_not_set_training_seeds(load_script):
    script = load_script("vanishing_gradient")
    args = vars(script.build_parser().parse_args(["--train", "--seeds", "300"]))
    study = script.vanishing
    assert flags.from_flags(study.Sweep, args).seeds == 300
    training = flags.from_flags(study.Training, args)
    assert training.train_seeds == study.Training().train_seeds != 300  # its own default
