"""The config every generator has: a dataclass that round-trips through ``config.json``.

Each model subclasses :class:`GeneratorConfig` with its own typed fields and checks them in
``__post_init__`` with the validators here, so a wrong value raises a ValueError that names the
field, the value and what is accepted.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from learned_aug.checkpoint import FORMAT_VERSION, CheckpointError

T = TypeVar("T")


def _coerce(tp: Any, value: Any) -> Any:
    """Turn JSON values back into the field's type (lists into tuples)."""
    origin = typing.get_origin(tp)
    if origin is tuple and isinstance(value, list):
        return tuple(value)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if typing.get_origin(arg) is tuple and isinstance(value, list):
                return tuple(value)
    return value


def check_positive(name: str, value: Any) -> None:
    """A config field that must be a positive int: a ValueError naming it otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def check_pair(value: Any, name: str) -> tuple[int, int]:
    """An int or an (H, W) pair of positive ints, as a pair; a ValueError naming ``name``."""
    if isinstance(value, int):
        value = (value, value)
    value = tuple(value)
    if len(value) != 2 or any(not isinstance(v, int) or v < 1 for v in value):
        raise ValueError(f"{name} must be an int or a pair (H, W) of positive ints, got {value!r}")
    return value  # type: ignore[return-value]


def check_conditional(conditional: Any, classes: Sequence[str]) -> None:
    """A ``conditional`` config field: a bool, and True only with the class names to condition
    on; a ValueError naming it otherwise.

    Example:
        >>> check_conditional(True, ["cat", "dog"])
    """
    if not isinstance(conditional, bool):
        raise ValueError(f"conditional must be True or False, got {conditional!r}")
    if conditional and not classes:
        raise ValueError(
            "conditional=True conditions on the classes, but classes is empty: pass the class "
            "names, e.g. classes=['cat', 'dog']"
        )


def check_widths(value: Sequence[int], name: str) -> tuple[int, ...]:
    """Layer widths (``hidden_channels``, ``hidden_dims``): a non-empty tuple of positive ints.

    Example:
        >>> check_widths([32, 64], "hidden_channels")
        (32, 64)
    """
    value = tuple(value)
    if not value or any(int(c) < 1 for c in value):
        raise ValueError(f"{name} must be a non-empty sequence of positive ints, got {value!r}")
    return value


def check_nested(value: Any, cls: type[T], name: str) -> T:
    """A config field that groups settings in a dataclass of their own (a VQ-VAE's ``prior``):
    the object, or a dict of its fields (as ``config.json`` holds it); a TypeError or ValueError
    naming ``name``, the key and the accepted keys otherwise.

    Example:
        >>> check_nested({"classes": ["a"]}, GeneratorConfig, "member").classes
        ['a']
    """
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{name} must be a {cls.__name__} or a dict of its fields, got {type(value).__name__}"
        )
    accepted = sorted(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
    unknown = sorted(map(str, set(value) - set(accepted)))
    if unknown:
        raise ValueError(f"{name} has unknown keys {unknown}; {cls.__name__} accepts {accepted}")
    hints = typing.get_type_hints(cls)
    return cls(**{k: _coerce(hints.get(k), v) for k, v in value.items()})


@dataclass
class GeneratorConfig:
    """Fields shared by every generator config.

    Args:
        model_type: registry name of the model class (``"vae"``, ``"vqvae"``, ...).
        format_version: checkpoint format version; versions newer than this package reads
            are refused.
        classes: class names the generator knows, in label order (empty for an unlabelled model).

    Example:
        >>> config = GeneratorConfig(classes=["cat", "dog"])
        >>> GeneratorConfig.from_dict(config.to_dict()) == config
        True
    """

    model_type: str = ""
    format_version: int = FORMAT_VERSION
    classes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GeneratorConfig:
        """Build the config from a ``config.json`` dict, refusing what it cannot read."""
        if not isinstance(data, dict):
            raise CheckpointError(f"config must be a JSON object, got {type(data).__name__}")
        expected = cls().model_type
        got = data.get("model_type", expected)
        if got != expected:
            raise CheckpointError(
                f"config.json describes model_type={got!r}, but {cls.__name__} reads "
                f"model_type={expected!r}; learned_aug.load_generator(...) or "
                "Generator.from_pretrained(...) loads it as the class its model_type names"
            )
        version = data.get("format_version", FORMAT_VERSION)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise CheckpointError(
                f"config.json has format_version={version!r}; this learned-aug reads versions "
                f"up to {FORMAT_VERSION}: upgrade learned-aug to load it"
            )
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise CheckpointError(
                f"config.json has unknown keys {unknown} for {cls.__name__}; accepted keys: "
                f"{sorted(fields)}"
            )
        hints = typing.get_type_hints(cls)
        return cls(**{k: _coerce(hints.get(k), v) for k, v in data.items()})
