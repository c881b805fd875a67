"""The Generator surface every learned-aug model offers, its config and its checkpoint format.

A checkpoint is a folder with ``config.json`` (the model's config dataclass) and
``model.safetensors`` (its weights). Saving, loading and pushing go through
``huggingface_hub.PyTorchModelHubMixin``; loading is strict and never unpickles anything.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from huggingface_hub import PyTorchModelHubMixin, hf_hub_download
from huggingface_hub.errors import EntryNotFoundError
from safetensors.torch import save_model
from torch import Tensor, nn

from learned_aug.io import (
    CARD_MARKER,
    CONFIG_NAME,
    NO_SAFETENSORS,
    WEIGHTS_NAME,
    CheckpointError,
    atomic_write,
    atomic_write_text,
    load_weights,
)
from learned_aug.rng import ItemStreams, RandomSource

FORMAT_VERSION = 1

BASIC_CARD = f"""---
{{{{ card_data }}}}
---

# learned-aug generator

{CARD_MARKER}

A [learned-aug]({{{{ repo_url }}}}) generator (`config.json` + `model.safetensors`). Load it with
`learned_aug.load_generator(<folder or repo id>)`. `learned-aug fit` and `learned-aug push`
replace this card with one that records the training command, metrics and samples.
"""
"""The card ``save_pretrained`` writes where a folder has none; the full card is written by
``learned_aug.hub.write_model_card`` at the end of ``fit`` and by ``learned-aug push``."""


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


@dataclass
class GeneratorConfig:
    """Fields shared by every generator config.

    Args:
        model_type: registry name of the model class (``"vae"``, ``"vqvae"``, ...).
        format_version: checkpoint format version; versions newer than this package reads
            are refused.
        classes: class names the generator knows, in label order (empty for an unlabelled model).
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
                f"model_type={expected!r}; use learned_aug.load_generator() to pick the class"
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


def check_images(x: Tensor, sample_shape: Sequence[int], *, name: str = "x") -> Tensor:
    """Check that ``x`` is a float batch of the generator's sample shape, naming what is wrong."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    expected = tuple(sample_shape)
    if x.dim() != len(expected) + 1:
        raise ValueError(
            f"{name} must be a batch of shape (B, {', '.join(map(str, expected))}), "
            f"got shape {tuple(x.shape)}"
        )
    if len(expected) == 3 and x.shape[1] != expected[0]:
        raise ValueError(
            f"{name} has {x.shape[1]} channels, but this generator expects {expected[0]} "
            f"(sample shape {expected}); convert the images (e.g. v2.Grayscale / v2.RGB) first"
        )
    if tuple(x.shape[1:]) != expected:
        raise ValueError(
            f"{name} has sample shape {tuple(x.shape[1:])}, but this generator expects {expected}"
        )
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a float tensor in [0, 1], got dtype {x.dtype}")
    return x


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


def image_config_fields(
    model: str, sample_shape: Sequence[int], classes: Sequence[str], conditional: bool
) -> dict[str, Any]:
    """The config fields an image generator takes from its data: channels, size, classes."""
    if len(sample_shape) != 3:
        raise ValueError(
            f"model {model!r} needs images of shape (C, H, W), got sample shape "
            f"{tuple(sample_shape)}; use 'tabular-vae' for feature vectors"
        )
    c, h, w = sample_shape
    return {
        "channels": c,
        "image_size": (h, w),
        "classes": list(classes),
        "num_classes": len(classes) if conditional else 0,
    }


class Generator(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="learned-aug",
    tags=["learned-aug", "data-augmentation", "generative-autoencoder"],
    repo_url="https://github.com/learned-aug/learned-aug",
    model_card_template=BASIC_CARD,
):
    """Base class of every learned-aug generator.

    Subclasses set ``config_class`` and implement ``encode``, ``decode``, ``sample`` and ``loss``.
    Data goes in and comes out as float tensors in the layout and range the model was trained
    on: images ``(B, C, H, W)`` in ``[0, 1]``, tabular rows ``(B, F)``.

    Example:
        >>> from learned_aug import VAE, VAEConfig
        >>> vae = VAE(VAEConfig(image_size=(8, 8), latent_dim=2, hidden_channels=(8,)))
        >>> vae.sample(4, rng=torch.Generator().manual_seed(0)).shape
        torch.Size([4, 1, 8, 8])
    """

    config_class: ClassVar[type[GeneratorConfig]] = GeneratorConfig
    name_or_path: str | None = None
    """Where it was loaded from or saved by ``fit`` (a folder or a Hub repo id; None for one
    built in memory), as in transformers: ``SyntheticDataset`` finds the latent bank there."""

    def __init__(self, config: GeneratorConfig | dict[str, Any]):
        super().__init__()
        if isinstance(config, dict):
            config = self.config_class.from_dict(config)
        if not isinstance(config, self.config_class):
            raise TypeError(
                f"config must be a {self.config_class.__name__} or a dict, "
                f"got {type(config).__name__}"
            )
        self.config = config
        self._hub_mixin_config = config

    # ----------------------------------------------------------------- the surface
    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one sample: ``(C, H, W)`` for images, ``(features,)`` for tabular rows."""
        raise NotImplementedError

    @property
    def classes(self) -> list[str]:
        """Class names, in label order."""
        return list(self.config.classes)

    @property
    def conditional(self) -> bool:
        """Whether ``sample(labels=...)`` produces samples of the requested classes."""
        return False

    @property
    def device(self) -> torch.device:
        """The device of the parameters (cached: per-image calls ask for it several times)."""
        device = self.__dict__.get("_device")
        if device is None:
            p = next(self.parameters(), None)
            device = self.__dict__["_device"] = p.device if p is not None else torch.device("cpu")
        return device

    @property
    def dtype(self) -> torch.dtype:
        """The floating dtype of the parameters: the dtype noise is drawn in (cached)."""
        dtype = self.__dict__.get("_dtype")
        if dtype is None:
            p = next((p for p in self.parameters() if p.is_floating_point()), None)
            dtype = self.__dict__["_dtype"] = p.dtype if p is not None else torch.float32
        return dtype

    def _apply(self, fn, recurse=True):
        # .to() / .cuda() / .half() all come through here (and reach every submodule): the
        # parameters may move or change dtype, so forget the cached device and dtype.
        self.__dict__.pop("_device", None)
        self.__dict__.pop("_dtype", None)
        return super()._apply(fn, recurse)

    def encode(self, x: Tensor, labels: Tensor | None = None) -> Any:
        """Encode a batch into its latent (a distribution or codes)."""
        raise NotImplementedError

    def decode(self, z: Any, labels: Tensor | None = None) -> Tensor:
        """Decode latents into data in ``[0, 1]``."""
        raise NotImplementedError

    def encode_mean(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The codes of a batch: the posterior mean for a Gaussian latent, else ``encode``'s
        codes. Models override it with a cheaper path that skips the variance."""
        latent = self.encode(x, labels)
        return latent.mean if isinstance(latent, torch.distributions.Distribution) else latent

    def reconstruct(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Encode then decode (the mean of the posterior for Gaussian latents)."""
        return self.decode(self.encode_mean(x, labels), labels)

    def sample(
        self,
        n: int,
        labels: Tensor | Sequence[int] | None = None,
        rng: RandomSource = None,
        *,
        generator: RandomSource = None,
    ) -> Tensor:
        """Draw ``n`` new samples (of the given classes, for a conditional generator).

        ``rng``: a ``torch.Generator``, or one stream per sample (see ``randn``). ``generator=``
        is its old name, kept with a DeprecationWarning.
        """
        raise NotImplementedError

    @staticmethod
    def _rng(rng: RandomSource, generator: RandomSource) -> RandomSource:
        """``rng``, or the deprecated ``generator=`` keyword that named it before."""
        if generator is None:
            return rng
        if rng is not None:
            raise TypeError("pass the random source once: rng= (generator= is its old name)")
        warnings.warn(
            "sample(generator=...) is deprecated: the random source is now rng=",
            DeprecationWarning,
            stacklevel=3,
        )
        return generator

    def loss(self, x: Tensor, labels: Tensor | None = None, *, kl_weight: float = 1.0):
        """Training loss: a dict with the scalar ``"loss"`` and its named parts."""
        raise NotImplementedError

    def class_log_likelihood(self, x: Tensor) -> Tensor:
        """``(B, K)`` scores of each example under each class: the ELBO (a lower bound of
        log p(x | class)) with the posterior mean, so that the same input gives the same scores.

        The generative classifier of Iser (2023) takes the class with the highest score
        (:meth:`infer_labels`). Models that know their classes (class-conditional or per-class)
        implement it; an unconditional model has no class to score and raises.
        """
        raise NotImplementedError(
            f"{type(self).__name__} is not class-aware (conditional={self.conditional}): it "
            "cannot score classes; train a class-conditional or per-class generator"
        )

    def infer_labels(self, x: Tensor) -> Tensor:
        """The most likely class of each example ``(B,)``: argmax of
        :meth:`class_log_likelihood` (the generative classifier)."""
        return self.class_log_likelihood(x).argmax(dim=1)

    @classmethod
    def config_for(
        cls, sample_shape: tuple[int, ...], classes: list[str], **kwargs: Any
    ) -> GeneratorConfig:
        """A config of this model for data of ``sample_shape`` with ``classes``."""
        raise NotImplementedError(f"{cls.__name__} cannot be built from a data shape")

    # ----------------------------------------------------------------- helpers
    def _check_labels(self, labels: Tensor | Sequence[int] | None, n: int) -> Tensor | None:
        if labels is None:
            return None
        if not (isinstance(labels, Tensor) and labels.dtype == torch.long):
            labels = torch.as_tensor(labels, dtype=torch.long)
        if labels.dim() != 1 or labels.numel() != n:
            raise ValueError(
                f"labels must be a 1-D sequence of {n} class indices, got shape "
                f"{tuple(labels.shape)}"
            )
        k = len(self.classes)
        if labels.numel() == 1:  # one image: one read instead of a reduction
            low = high = int(labels)
        else:
            low, high = (int(v) for v in labels.aminmax()) if labels.numel() else (0, 0)
        if low < 0 or high >= max(k, 1):
            raise ValueError(
                f"labels must lie in [0, {k - 1}] for the {k} classes {self.classes}, "
                f"got values in [{int(labels.min())}, {int(labels.max())}]"
            )
        return labels.to(self.device)

    def randn(self, n: int, shape: tuple[int, ...], generator: RandomSource = None) -> Tensor:
        """Standard normal noise of shape ``(n, *shape)`` on the model's device.

        ``generator`` is None (torch's global RNG), one ``torch.Generator`` for the batch, or
        one stream per sample (a sequence of ``n`` generators, or ``ItemStreams``): then sample
        ``i`` depends on its own stream alone, whatever batch it is drawn in.
        """
        if generator is None or isinstance(generator, torch.Generator):
            device = generator.device if generator is not None else self.device
            return torch.randn(n, *shape, generator=generator, device=device).to(
                self.device, self.dtype
            )
        if len(generator) != n:
            raise ValueError(
                f"generator must hold one stream per sample ({n}: a torch.Generator each, or "
                f"ItemStreams), got {len(generator)}"
            )
        if isinstance(generator, ItemStreams):
            return generator.randn(tuple(shape)).to(self.device, self.dtype)
        draws = [torch.randn(*shape, generator=g, device=g.device) for g in generator]
        return (torch.stack(draws) if draws else torch.empty(0, *shape)).to(self.device, self.dtype)

    def _check_n(self, n: int) -> int:
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative int, got {n!r}")
        return n

    def extra_repr(self) -> str:
        return f"sample_shape={self.sample_shape}, classes={len(self.classes)}"

    def sample_labels(self, n: int, labels: Tensor | Sequence[int] | None) -> Tensor | None:
        """The labels ``sample(n, labels)`` draws for, checked: a class-aware generator given
        none draws the classes in turn (0, 1, ..., K-1, 0, ...); an unconditional one refuses
        labels, since its samples could not keep them."""
        if labels is not None and not self.conditional:
            raise ValueError(
                f"labels were given, but this {type(self).__name__} is unconditional: train it "
                "class-conditional (num_classes=K / --conditional) or per class (--per-class) "
                "to sample given classes"
            )
        if self.conditional and labels is None:
            labels = torch.arange(n) % max(len(self.classes), 1)
        return self._check_labels(labels, n)

    # ----------------------------------------------------------------- checkpoints
    def save_weights(self, save_directory: str | Path) -> None:
        """Write ``config.json`` and ``model.safetensors`` (atomically) and nothing else: what
        training saves at each better epoch. ``save_pretrained`` adds a model card."""
        save_directory = Path(save_directory)
        save_directory.mkdir(parents=True, exist_ok=True)
        self._save_pretrained(save_directory)

    def _save_pretrained(self, save_directory: Path) -> None:
        """Write ``model.safetensors`` and ``config.json``, each atomically."""
        target = self.module if hasattr(self, "module") else self
        metadata = {
            "format": "pt",
            "model_type": self.config.model_type,
            "format_version": str(self.config.format_version),
        }
        atomic_write(
            save_directory / WEIGHTS_NAME, lambda tmp: save_model(target, tmp, metadata=metadata)
        )
        atomic_write_text(
            save_directory / CONFIG_NAME,
            json.dumps(self.config.to_dict(), indent=2, sort_keys=True),
        )

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        map_location: str = "cpu",
        config: Any = None,
        **model_kwargs,
    ):
        if config is None:
            raise CheckpointError(
                f"no {CONFIG_NAME} found for {model_id!r}: cannot build the model"
            )
        model = cls(config, **model_kwargs)
        if os.path.isdir(model_id):
            model_file = os.path.join(model_id, WEIGHTS_NAME)
        else:  # a Hub repo id (or its offline cache): safetensors only, never a pickle
            try:
                model_file = hf_hub_download(
                    repo_id=model_id,
                    filename=WEIGHTS_NAME,
                    revision=revision,
                    cache_dir=cache_dir,
                    force_download=force_download,
                    token=token,
                    local_files_only=local_files_only,
                )
            except EntryNotFoundError as err:
                raise CheckpointError(
                    f"{model_id!r} (revision {revision!r}): {NO_SAFETENSORS}"
                ) from err
        load_weights(model, model_file, device=map_location)
        model.eval()
        return model


MODELS: dict[str, type[Generator]] = {}
"""Every generator class by its config's ``model_type``; :func:`register` fills it."""


def register(name: str):
    """Class decorator: add a Generator to the registry under ``name`` (its config's model_type)."""

    def wrap(cls: type[Generator]) -> type[Generator]:
        if cls.config_class().model_type != name:
            raise AssertionError(f"{cls.__name__}.config_class.model_type must be {name!r}")
        MODELS[name] = cls
        return cls

    return wrap


__all__ = [  # the file helpers live in learned_aug.io; their old import path stays
    "BASIC_CARD",
    "CONFIG_NAME",
    "FORMAT_VERSION",
    "MODELS",
    "WEIGHTS_NAME",
    "CheckpointError",
    "Generator",
    "GeneratorConfig",
    "RandomSource",
    "atomic_write",
    "atomic_write_text",
    "check_images",
    "check_pair",
    "check_positive",
    "image_config_fields",
    "load_weights",
    "register",
]
