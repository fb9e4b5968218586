"""Command-line flags from a frozen dataclass: one field, one flag, one place.

A field made with :func:`flag` carries its flag in ``metadata``: ``help`` (argparse's, with
``%(default)s``), ``type`` (a :mod:`cnn_jax.cli` checker), ``choices`` (a function returning
them, so registries load only when asked) and ``flags`` (names other than ``--<field>``).
:func:`add_flags` turns every such field into a flag and :func:`from_flags` builds the config
back; the config's ``__post_init__`` validates (raising :class:`cnn_jax.errors.UsageError`):
:func:`check` runs each field's own flag checker, so the check is written once, on the field,
and ``__post_init__`` adds only the checks across fields. A script only builds its parser
(:func:`script_parser`), parses, runs and prints.
Fields that many configs share (:func:`seed`, :func:`learning_rate`, :func:`batch_size`,
:func:`test_images`, :func:`count`) are made by one function each.

A bool field becomes a switch (``--x`` / ``--no-x``); a tuple field takes a comma-separated
list (give ``type=cli.int_list`` or ``cli.float_list``).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from typing import Any

from cnn_jax import cli
from cnn_jax.errors import UsageError


def flag(default, help: str, **metadata):
    """A dataclass field with its flag's help text and, optionally, type, choices, names."""
    return dataclasses.field(default=default, metadata={"help": help, **metadata})


# Fields that many configs share: one checker and one default help each, so "--seed" or
# "--batch-size" reads and validates alike in every script. A study passes its own help
# where the field means something narrower there.


def seed(default: int = 0, help: str = "Root random seed.") -> Any:
    """A JAX root seed in [0, 2**32)."""
    return flag(default, help, type=cli.seed)


def learning_rate(default: float, help: str = "The SGD learning rate η.") -> Any:
    """A learning rate, finite and > 0."""
    return flag(default, help, type=cli.positive_float)


def batch_size(default: int, help: str = "Examples per SGD step.") -> Any:
    return flag(default, help, type=cli.positive_int)


def test_images(default: int = 10_000, help: str = "The first N test images.") -> Any:
    return flag(default, help, type=cli.positive_int)


def count(default: int | None, help: str, **metadata) -> Any:
    """A whole number > 0 (epochs, images, seeds, widths)."""
    return flag(default, help, type=cli.positive_int, **metadata)


def _default(field: dataclasses.Field):
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    raise TypeError(f"field {field.name} has no default to show as a flag's default")


def add_flags(parser: argparse.ArgumentParser, cls, defaults=None, skip=()) -> None:
    """One flag per field of ``cls`` that has a help text (``--batch-size`` for
    ``batch_size``), with the field's checker, choices and default (from ``defaults``, an
    instance of ``cls``, else the field's own). Fields named in ``skip`` get no flag."""
    taken = {action.dest for action in parser._actions}
    for field in dataclasses.fields(cls):
        meta = field.metadata
        if field.name in skip or "help" not in meta:
            continue
        if field.name in taken:  # two configs' fields would fill one flag value
            raise TypeError(f"{cls.__name__}.{field.name}: a flag with that name already exists")
        names = meta.get("flags") or ("--" + field.name.replace("_", "-"),)
        default = getattr(defaults, field.name) if defaults is not None else _default(field)
        kwargs: dict[str, Any] = {"dest": field.name, "help": meta["help"], "default": default}
        if isinstance(default, bool) and "type" not in meta:
            kwargs["action"] = argparse.BooleanOptionalAction
        if "choices" in meta:
            kwargs["choices"] = meta["choices"]()
        if "type" in meta:
            kwargs["type"] = meta["type"]
        parser.add_argument(*names, **kwargs)


def check(config) -> None:
    """Run every flag field's value of ``config`` through its flag's own checker and
    choices: the checks argparse runs on a command line, run again for a config built in
    code, so that each check is written once (on the field). None (a field's "not set")
    and switches are not checked. Raises :class:`UsageError` naming the flag."""
    for field in dataclasses.fields(config):
        meta, value = field.metadata, getattr(config, field.name)
        if "help" not in meta or value is None or isinstance(value, bool):
            continue
        name = (meta.get("flags") or ("--" + field.name.replace("_", "-"),))[0]
        if "choices" in meta and value not in (choices := meta["choices"]()):
            raise UsageError(f"{name}: must be one of {', '.join(choices)}, got {value!r}")
        if "type" in meta:
            text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
            try:
                meta["type"](text)
            except argparse.ArgumentTypeError as e:
                raise UsageError(f"{name}: {e}") from None


@dataclasses.dataclass(frozen=True)
class Preset:
    """Field values over a config's defaults, and why they differ from the defaults (empty:
    a preset that only names a size, like "tiny" for tests). A config lists its presets in
    ``PRESETS: ClassVar[dict[str, Preset]]``; experiments/reproduce.py's scales are taken
    from them (:func:`preset_args`)."""

    fields: Mapping[str, Any]
    why: str = ""


def preset(cls, name: str, **overrides):
    """The ``cls`` of its preset ``name``, ``overrides`` on top."""
    return cls(**{**cls.PRESETS[name].fields, **overrides})


def preset_args(cls, name: str) -> tuple[str, ...]:
    """The command-line arguments that give a script with ``cls``'s flags the values of its
    preset ``name``, each by its field's flag (a tuple comma-separated, a switch bare)."""
    fields = {field.name: field for field in dataclasses.fields(cls)}
    args: list[str] = []
    for name_, value in cls.PRESETS[name].fields.items():
        meta = fields[name_].metadata
        flag_name = (meta.get("flags") or ("--" + name_.replace("_", "-"),))[0]
        if isinstance(value, bool) and "type" not in meta:
            args.append(flag_name if value else "--no-" + flag_name.removeprefix("--"))
        elif isinstance(value, tuple):
            args += [flag_name, ",".join(map(str, value))]
        else:
            args += [flag_name, str(value)]
    return tuple(args)


def from_flags(cls, values: Mapping[str, Any], **overrides):
    """The ``cls`` of parsed flag values ({field name: value}, e.g. ``vars(args)``); other
    keys are ignored, ``overrides`` win. The config's own ``__post_init__`` validates."""
    names = {field.name for field in dataclasses.fields(cls)}
    return cls(**{**{k: v for k, v in values.items() if k in names}, **overrides})


def script_parser(
    prog: str, description: str, *configs, out: str | None, seed_default: int | None = None
) -> cli.Parser:
    """A script's parser: one flag per field of each config in ``configs`` (in order), then
    the common flags of :func:`cli.add_common`. A script adds its own flags after."""
    parser = cli.Parser(prog=prog, description=description)
    for config in configs:
        add_flags(parser, config)
    cli.add_common(parser, out=out, seed_default=seed_default)
    return parser


def add_preset_flags(parser: argparse.ArgumentParser, cls, shorthands: tuple[str, ...] = ()):
    """--preset NAME, one of ``cls.PRESETS``, and a switch --NAME for each preset in
    ``shorthands`` (--full for --preset full); :func:`parse_with_preset` reads them."""
    presets = cls.PRESETS
    reasons = "; ".join(f"{name}: {preset.why}" for name, preset in presets.items() if preset.why)
    parser.add_argument(
        "--preset",
        choices=sorted(presets),
        help=f"Start from a preset size; flags given as well win over it. {reasons}.",
    )
    for name in shorthands:
        parser.add_argument(
            f"--{name}", action="store_true", help=f"--preset {name}: {presets[name].why}."
        )


def parse_with_preset(parser: argparse.ArgumentParser, cls, argv, shorthands=()) -> tuple:
    """(the parsed flags, the ``cls`` they give) of a parser with :func:`add_preset_flags`:
    the preset named (at most one) sets the flags' defaults, so a flag given as well wins."""
    args = vars(parser.parse_args(argv))
    named = [args["preset"]] if args["preset"] is not None else []
    named += [name for name in shorthands if args[name]]
    choices = ", ".join(["--preset", *(f"--{name}" for name in shorthands)])
    cli.check(len(named) <= 1, f"{choices}: choose one")
    if named:
        parser.set_defaults(**cls.PRESETS[named[0]].fields)
        args = vars(parser.parse_args(argv))
    return args, from_flags(cls, args)
