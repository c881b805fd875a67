"""The Generator surface every learned-aug model offers, and the registry of models.

A generator is saved as a folder with ``config.json`` (its config dataclass, see
:mod:`learned_aug.models.config`) and ``model.safetensors`` (its weights), with the latent bank
and the quality report attached to it beside them (:mod:`learned_aug.latent_bank`,
:mod:`learned_aug.quality`). Saving, loading and pushing go through
``huggingface_hub.PyTorchModelHubMixin``, whose file hooks call :mod:`learned_aug.checkpoint`;
loading is strict and never unpickles anything. ``from_pretrained`` is the one loader:
``load_generator`` (which resolves names) and ``LearnedAugment.from_pretrained`` end in it, so
every way in gives the same generator, with the same bank and report attached.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import Tensor, nn

from learned_aug.card_template import BASIC_CARD
from learned_aug.checkpoint import (
    CheckpointError,
    load_weights,
    save_checkpoint,
    saved_file,
    weights_file,
)
from learned_aug.files import BANK_NAME, CONFIG_NAME, QUALITY_JSON
from learned_aug.latent_bank import LatentBank, attach_bank, bank_of
from learned_aug.models.config import GeneratorConfig
from learned_aug.quality import attach_quality, quality_of, read_quality, write_quality
from learned_aug.rng import RandomSource, normal

UNLABELLED = -1
"""The label of a training row whose class is unknown (``fit(..., unlabelled=pool)``): a model
that ``accepts_unlabelled`` trains on it with the class left open; sampling refuses it."""


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

    ``Generator.from_pretrained(folder_or_repo_id)`` loads any saved generator as the class its
    ``config.json`` names, with the latent bank and quality report saved beside it, exactly as
    ``learned_aug.load_generator`` does; ``VAE.from_pretrained(...)`` loads a VAE's and refuses
    another kind's.

    Example:
        >>> from learned_aug import VAE, VAEConfig
        >>> vae = VAE(VAEConfig(image_size=(8, 8), latent_dim=2, hidden_channels=(8,)))
        >>> vae.sample(4, rng=torch.Generator().manual_seed(0)).shape
        torch.Size([4, 1, 8, 8])
    """

    config_class: ClassVar[type[GeneratorConfig]] = GeneratorConfig
    accepts_unlabelled: ClassVar[bool] = False
    """Whether ``loss`` takes rows labelled ``UNLABELLED`` when the model is class-conditional
    (an unconditional model ignores labels, so it trains on any rows)."""

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
        self, n: int, labels: Tensor | Sequence[int] | None = None, rng: RandomSource = None
    ) -> Tensor:
        """Draw ``n`` new samples (of the given classes, for a conditional generator).

        ``rng``: a ``torch.Generator``, or one stream per sample (see ``randn``).
        """
        raise NotImplementedError

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

    def with_classes(self, classes: Sequence[str]) -> Generator:
        """A new generator like this one that knows ``classes`` (``fit(init=...)`` calls it
        when the data's classes differ from the pretrained generator's); this one is left as is.

        An unconditional generator only changes the class names of its config: no weight reads
        them. A class-conditional one needs its own way to grow label inputs, which only some
        models have (``VAE.with_classes``); the others raise NotImplementedError.

        Example:
            >>> from learned_aug import VAE, VAEConfig
            >>> vae = VAE(VAEConfig(image_size=(8, 8), latent_dim=2, classes=["a"]))
            >>> vae.with_classes(["x", "y"]).classes, vae.classes
            (['x', 'y'], ['a'])
        """
        classes = check_class_names(classes)
        if self.conditional:
            raise NotImplementedError(
                "init= with new classes is supported for an unconditional generator and a "
                f"class-conditional 'vae'; got a class-conditional {type(self).__name__} "
                f"(classes {self.classes}, the data's {classes}): train it on data of its own "
                "classes, or train a new one without init="
            )
        adapted = copy.deepcopy(self)
        for module in adapted.modules():  # a wrapper's inner generator (a DVAE's VAE) too
            if isinstance(module, Generator):
                module.config = dataclasses.replace(module.config, classes=list(classes))
                module._hub_mixin_config = module.config
        return adapted

    # ----------------------------------------------------------------- helpers
    def _check_labels(
        self, labels: Tensor | Sequence[int] | None, n: int, *, allow_unlabelled: bool = False
    ) -> Tensor | None:
        """``labels`` as a long tensor on the model's device, checked against ``n`` and the
        classes; ``allow_unlabelled`` (training paths only) also accepts ``UNLABELLED``."""
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
        lowest = UNLABELLED if allow_unlabelled else 0
        if low < lowest or high >= max(k, 1):
            hint = (
                f" (label {UNLABELLED}, unlabelled, is only for training: fit(unlabelled=...))"
                if low == UNLABELLED
                else ""
            )
            also = f" (or be {UNLABELLED}: a training row of unknown class)" if lowest else ""
            raise ValueError(
                f"labels must lie in [0, {k - 1}] for the {k} classes {self.classes}{also}, "
                f"got values in [{int(labels.min())}, {int(labels.max())}]{hint}"
            )
        return labels.to(self.device)

    def randn(self, n: int, shape: tuple[int, ...], rng: RandomSource = None) -> Tensor:
        """Standard normal noise of shape ``(n, *shape)`` on the model's device, in its dtype.

        ``rng`` is None (torch's global RNG), one ``torch.Generator`` for the batch, or one
        stream per sample (``n`` ``torch.Generator`` objects, or ``ItemStreams``): then sample
        ``i`` depends on its own stream alone, whatever batch it is drawn in.
        """
        return normal(n, tuple(shape), rng, self.device).to(self.device, self.dtype)

    def extra_repr(self) -> str:
        return f"sample_shape={self.sample_shape}, classes={len(self.classes)}"

    def sample_labels(self, n: int, labels: Tensor | Sequence[int] | None) -> Tensor | None:
        """The labels ``sample(n, labels)`` draws for, checked with ``n``: a class-aware
        generator given none draws the classes in turn (0, 1, ..., K-1, 0, ...); an
        unconditional one refuses labels, since its samples could not keep them."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative int, got {n!r}")
        if labels is not None and not self.conditional:
            raise ValueError(
                f"labels were given, but this {type(self).__name__} is unconditional: train it "
                "class-conditional (conditional=True / --conditional) or per class (--per-class) "
                "to sample given classes"
            )
        if self.conditional and labels is None:
            labels = torch.arange(n) % max(len(self.classes), 1)
        return self._check_labels(labels, n)

    # ----------------------------------------------------------------- checkpoints
    def save_weights(self, save_directory: str | Path) -> None:
        """Write ``config.json`` and ``model.safetensors`` (atomically) and nothing else: what
        training saves at each better epoch. ``save_pretrained`` adds the latent bank, the
        quality report and a model card."""
        target = self.module if hasattr(self, "module") else self
        save_checkpoint(Path(save_directory), target, self.config.to_dict())

    def _save_pretrained(self, save_directory: Path) -> None:
        """The Hub mixin's hook: the weights and config, and the latent bank and quality report
        attached to the generator, so that ``from_pretrained`` gives it back whole."""
        self.save_weights(save_directory)
        bank, report = bank_of(self), quality_of(self)
        if bank is not None:
            bank.save(save_directory)
        if report is not None:
            write_quality(save_directory, report)

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
        """The Hub mixin's hook: build the model from ``config``, load its safetensors and
        attach the latent bank and quality report saved beside them.

        ``Generator.from_pretrained`` builds the class ``config.json``'s ``model_type`` names;
        a model class builds itself and refuses the config of another kind.
        """
        if config is None:
            raise CheckpointError(
                f"no {CONFIG_NAME} found for {model_id!r}: it is not a generator folder or a Hub "
                "repo id; a bundled name loads with learned_aug.load_generator(...)"
            )
        if cls is Generator:
            cls = model_class(config, model_id)
        model = cls(config, **model_kwargs)
        hub = {
            "revision": revision,
            "cache_dir": cache_dir,
            "force_download": force_download,
            "local_files_only": local_files_only,
            "token": token,
        }
        load_weights(model, weights_file(model_id, **hub), device=map_location)
        _attach_saved(model, model_id, device=map_location, **hub)
        return model.eval()


def check_class_names(classes: Sequence[str]) -> list[str]:
    """``classes`` as a list of unique, non-empty names; a ValueError naming it otherwise.

    Example:
        >>> check_class_names(("cat", "dog"))
        ['cat', 'dog']
    """
    if isinstance(classes, str) or not isinstance(classes, Sequence):
        raise ValueError(f"classes must be a sequence of class names, got {classes!r}")
    names = [str(c) for c in classes]
    if not names or len(set(names)) != len(names) or not all(names):
        raise ValueError(f"classes must be non-empty, unique class names, got {list(classes)!r}")
    return names


def _attach_saved(
    generator: Generator, location: str, *, device: str | torch.device, **hub_kwargs: Any
) -> None:
    """Attach the bank and the quality report saved beside the generator at ``location`` (a
    local folder or a Hub repo id; ``hub_kwargs`` go to ``hf_hub_download``), the bank on
    ``device``; what is not there is attached as ``None``."""
    bank_file = saved_file(location, BANK_NAME, **hub_kwargs)
    bank = None if bank_file is None else LatentBank.load(bank_file).to(device)
    quality_file = saved_file(location, QUALITY_JSON, **hub_kwargs)
    attach_quality(generator, None if quality_file is None else read_quality(quality_file))
    attach_bank(generator, bank)


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


def model_class(config: Any, name: str) -> type[Generator]:
    """The registered class of a ``config.json`` dict, or a CheckpointError naming ``name``."""
    kind = config.get("model_type") if isinstance(config, dict) else None
    if kind not in MODELS:
        raise CheckpointError(
            f"{CONFIG_NAME} of {name!r} has model_type={kind!r}; this learned-aug knows "
            f"{sorted(MODELS)}"
        )
    return MODELS[kind]
