"""``fit(init=...)``: start from a pretrained generator, checked against the data and adapted to
its classes; ``fit(unlabelled=...)``: whether a generator can train on rows of unknown class.

Nothing is frozen: every weight fine-tunes. A class-conditional VAE moved to new classes starts
each new class at the mean of its pretrained classes' one-hot columns (``VAE.with_classes``).
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from learned_aug.data import LabelledData
from learned_aug.loading import load_generator
from learned_aug.models import Generator, GeneratorConfig

BUILD_ARGUMENTS = ("per_class", "mix_in")
"""``fit``'s ``config`` keys that build a new generator rather than name a config field."""


def load_init(init: Generator | str | os.PathLike[str]) -> Generator:
    """A generator to start from: a deep copy of a ``Generator`` (the caller's is never
    changed), or what ``learned_aug.load_generator`` loads for a name or a folder.

    Example:
        >>> from learned_aug import VAE, VAEConfig
        >>> vae = VAE(VAEConfig(image_size=(8, 8), latent_dim=2))
        >>> load_init(vae) is vae
        False
    """
    if isinstance(init, Generator):
        return copy.deepcopy(init)
    if isinstance(init, (str, os.PathLike)):
        return load_generator(init)
    raise TypeError(
        f"init must be a Generator, a bundled generator name, a folder or a Hub repo id, got "
        f"{type(init).__name__}"
    )


def check_config(saved: GeneratorConfig, config: Mapping[str, Any]) -> None:
    """Each field of ``config`` must equal the pretrained generator's (``saved``), as the config
    would hold it; a ValueError naming the field and both values otherwise.

    Example:
        >>> from learned_aug import VAEConfig
        >>> check_config(VAEConfig(latent_dim=8), {"latent_dim": 8, "image_size": 28})
    """
    for key in BUILD_ARGUMENTS:
        if key in config:
            raise ValueError(
                f"config[{key!r}]={config[key]!r} builds a new generator, but init= starts from "
                "one already built: leave per_class/mix_in out (a per-class init stays per-class)"
            )
    fields = sorted(f.name for f in dataclasses.fields(saved))
    for key, value in config.items():
        if key not in fields:
            raise ValueError(
                f"config[{key!r}] is not a field of the init generator's "
                f"{type(saved).__name__}: it has {fields}"
            )
        try:  # as the config stores it: 28 -> (28, 28), a list -> a tuple, None -> the default
            stored = getattr(dataclasses.replace(saved, **{key: value}), key)
        except (TypeError, ValueError):
            stored = value
        if stored != getattr(saved, key):
            raise ValueError(
                f"config[{key!r}]={value!r}, but the init generator has {key}="
                f"{getattr(saved, key)!r}: with init= the config is the pretrained one; leave "
                f"{key} out or give its value"
            )


def check_sample_shape(generator: Generator, data: LabelledData, what: str) -> None:
    """``data`` must have ``generator``'s sample shape; a ValueError naming both otherwise
    (``what`` names the generator in it).

    Example:
        >>> from learned_aug import VAE, VAEConfig, load_dataset
        >>> check_sample_shape(VAE(VAEConfig(image_size=(8, 8))), load_dataset("digits"), "it")
    """
    if tuple(generator.sample_shape) != tuple(data.sample_shape):
        raise ValueError(
            f"data has sample shape {tuple(data.sample_shape)}, but {what} expects "
            f"{tuple(generator.sample_shape)}; resize/convert the data to it (load_dataset(..., "
            "image_size=, channels=))"
        )


def start_from(
    init: Generator | str | os.PathLike[str],
    model: Any,
    data: LabelledData,
    config: Mapping[str, Any],
) -> Generator:
    """The generator ``fit(model, data, config=config, init=init)`` trains: ``init`` loaded,
    checked against ``model`` (its registered name), ``config`` and the data's sample shape, and
    moved to the data's classes (``Generator.with_classes``) where they differ.

    Example:
        >>> from learned_aug import VAE, VAEConfig, load_dataset
        >>> digits = load_dataset("digits")
        >>> vae = VAE(VAEConfig(image_size=(8, 8), latent_dim=2, conditional=True,
        ...                     classes=["0", "1"]))
        >>> start_from(vae, "vae", digits, {"conditional": True}).classes == digits.classes
        True
    """
    generator = load_init(init)
    name = generator.config.model_type
    if isinstance(model, Generator):
        raise TypeError(
            f"model is a {type(model).__name__} already built, but init= gives the generator to "
            f"start from: pass model={name!r} (the init generator's name)"
        )
    if model != name:
        raise ValueError(
            f"model={model!r}, but the init generator is a {name!r} ({type(generator).__name__}):"
            f" pass model={name!r}, or an init generator of kind {model!r}"
        )
    check_config(generator.config, config)
    check_sample_shape(generator, data, "the init generator")
    if generator.classes != list(data.classes):
        generator = generator.with_classes(data.classes)
    return generator


def check_accepts_unlabelled(generator: Generator) -> None:
    """A class-conditional generator trains on unlabelled rows only if its ``loss`` takes them
    (``accepts_unlabelled``: a class-conditional VAE); a ValueError naming it otherwise.

    Example:
        >>> from learned_aug import VAE, VAEConfig
        >>> check_accepts_unlabelled(VAE(VAEConfig(conditional=True, classes=["a", "b"])))
    """
    if generator.conditional and not generator.accepts_unlabelled:
        raise ValueError(
            f"unlabelled= needs a generator that trains on rows of unknown class; a "
            f"class-conditional {type(generator).__name__} "
            f"({generator.config.model_type!r}) cannot: only a class-conditional 'vae' (its "
            "class input becomes 1/K for them) or an unconditional generator; leave "
            "unlabelled out, or train one of those"
        )
