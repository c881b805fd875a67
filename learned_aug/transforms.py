"""LearnedAugment: a generative autoencoder as a torchvision v2 transform."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torchvision import tv_tensors
from torchvision.transforms.v2 import Transform

from learned_aug import functional as LF
from learned_aug.loading import load_generator
from learned_aug.models import Generator
from learned_aug.rng import as_rng, draw_strength
from learned_aug.strategies import Strategy, as_strategy, augment_strategy

LabelsGetter = Callable[[Any], Any]
LABEL_KEYS = ("label", "labels", "target")

# The label labels_getter found in the sample now being transformed, for make_params (see
# LearnedAugment.forward). A context variable, so that threads transforming at once each see
# their own sample's label.
_SAMPLE_LABEL: ContextVar[Any] = ContextVar("learned_aug_sample_label", default=None)


def is_label(value: Any) -> bool:
    """A class label candidate: a Python int (not a bool), or a plain integer tensor."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return (
        isinstance(value, Tensor)
        and not isinstance(value, tv_tensors.TVTensor)
        and not (value.is_floating_point() or value.is_complex() or value.dtype == torch.bool)
    )


def default_labels_getter(sample: Any) -> Any:
    """The label of a sample where torchvision's MixUp/CutMix look for one, or ``None``.

    Only the second item of a 2-tuple or 2-list ``(image, label)``, or the value of a dict's
    ``"label"``, ``"labels"`` or ``"target"`` key (any case; the first such key), and only when
    it is an int or an integer tensor. Any other integer in a sample is not a label.

    Example:
        >>> default_labels_getter(("image", 7)), default_labels_getter({"image": 0, "Label": 3})
        (7, 3)
        >>> default_labels_getter((5, "image", 7)) is None
        True
    """
    if isinstance(sample, (tuple, list)) and len(sample) == 2:
        value = sample[1]
    elif isinstance(sample, Mapping):
        key = next((k for k in sample if isinstance(k, str) and k.lower() in LABEL_KEYS), None)
        value = None if key is None else sample[key]
    else:
        return None
    return value if is_label(value) else None


def no_labels(sample: Any) -> None:
    """The getter of ``labels_getter=None``: a sample never has a label."""
    return None


def _labels_getter(value: Any) -> LabelsGetter:
    if isinstance(value, str):
        if value != "default":
            raise ValueError(f"labels_getter must be 'default', a callable or None, got {value!r}")
        return default_labels_getter
    if value is None:
        return no_labels
    if not callable(value):
        raise TypeError(
            f"labels_getter must be 'default', a callable or None, got {type(value).__name__}"
        )
    return value


def _image_generator(generator: Generator) -> Generator:
    """The generator, checked to make images."""
    if isinstance(generator, (str, Path)):
        raise TypeError(
            f"generator must be a learned_aug Generator, got the name {str(generator)!r}: use "
            f"LearnedAugment.from_pretrained({str(generator)!r}) or "
            f"LearnedAugment(load_generator({str(generator)!r}))"
        )
    if not isinstance(generator, Generator):
        raise TypeError(
            f"generator must be a learned_aug Generator, got {type(generator).__name__}"
        )
    if len(generator.sample_shape) != 3:
        raise ValueError(
            f"LearnedAugment augments images, but this generator makes samples of shape "
            f"{generator.sample_shape}; use SyntheticDataset for tabular generators"
        )
    return generator


class LearnedAugment(Transform):
    """Augment images with a trained generator, like any torchvision v2 transform.

    Each image is replaced by the generator's variation of it, made by ``strategy``, an object
    of :mod:`learned_aug.strategies` that carries its strength and options
    (``Interpolate(strength=0.3, k=5)``), as ``RandAugment`` carries its magnitude. The default
    is the generator kind's own (:func:`~learned_aug.strategies.augment_strategy`): ``Noise()``
    for a continuous latent (decode the image's code plus a small Gaussian step, strength in
    [0, 0.3]; it needs no bank and stays near real codes) and ``VQResample()`` for a VQ-VAE.
    Others: ``Reconstruct``, ``Interpolate`` /
    ``Extrapolate`` toward / away from a same-class neighbour in the latent bank (the one
    ``load_generator`` attaches, unless the strategy holds its own), ``Posterior``, ``Prior``
    (a fresh sample of the class).

    Inputs are what torchvision's photometric transforms take: PIL images (L or RGB), uint8 or
    float tensors ``[..., C, H, W]`` (the leading dimensions are flattened into one batch, run
    as one forward pass, and restored), ``tv_tensors.Image``, ``tv_tensors.Video`` (every frame
    is augmented as an image of its own: draws are not shared across frames), and samples
    (tuples, dicts) holding several of them, each image drawing its own parameters. Each output
    has its input's type, mode, dtype and shape; an empty batch comes back unchanged; boxes,
    masks, keypoints and everything else pass through untouched.

    Labels: a label-conditioned generator (class-conditional or per-class) uses the sample's
    label where ``labels_getter`` finds one that fits: an int or a 0-d integer tensor, or one
    label per image (``(B,)`` for a ``(B, C, H, W)`` batch), within the generator's classes.
    Otherwise (an image alone, as a dataset's ``transform=`` sees it, a per-box ``labels``
    tensor, a label out of range) the image is classified by the generator itself, at the
    generator's size: the generative classifier (``Generator.infer_labels``). Labels always
    pass through unchanged.

    Args:
        generator: a trained Generator (``from_pretrained`` loads one by name, folder or Hub id).
        strategy: a ``Strategy`` (``Noise(strength=0.2)``), or a name in ``STRATEGIES`` as the
            shorthand for its defaults; ``None``: the generator kind's default.
        p: probability that each image is augmented (the others pass through unchanged).
        rng: an int seed or a ``torch.Generator`` to make the output reproducible; ``None``
            draws from torch's global RNG, which ``DataLoader`` seeds differently in each worker
            (a fixed seed would repeat the same draws in every worker).
        resize: resize images of another size to the generator's size and back; ``False``
            raises instead.
        labels_getter: where a sample's label is, as in torchvision's MixUp / CutMix:
            ``"default"`` (:func:`default_labels_getter`: the second item of a 2-tuple
            ``(image, label)`` or a dict's ``"label"`` / ``"labels"`` / ``"target"`` key), a
            callable ``sample -> label or None``, or ``None`` (never read a label: classify).

    Example:
        >>> import torch
        >>> from torchvision.transforms import v2
        >>> from learned_aug import LearnedAugment, VAE, VAEConfig
        >>> from learned_aug.strategies import Noise
        >>> vae = VAE(VAEConfig(image_size=(28, 28), latent_dim=3))
        >>> aug = v2.Compose([v2.RandomRotation(10), LearnedAugment(vae, Noise(0.2), rng=0)])
        >>> image = torch.randint(0, 256, (1, 32, 32), dtype=torch.uint8)
        >>> out, label = aug(image, 7)
        >>> out.shape, out.dtype, label
        (torch.Size([1, 32, 32]), torch.uint8, 7)
    """

    def __init__(
        self,
        generator: Generator,
        strategy: str | Strategy | None = None,
        p: float = 1.0,
        *,
        rng: int | torch.Generator | None = None,
        resize: bool = True,
        labels_getter: str | LabelsGetter | None = "default",
    ):
        super().__init__()
        generator = _image_generator(generator)
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be a number in [0, 1], got {p!r}")
        chosen = augment_strategy(generator) if strategy is None else as_strategy(strategy)
        self.strategy = chosen.bind(generator)
        self.p, self.resize = float(p), bool(resize)
        self._labels_getter = _labels_getter(labels_getter)
        self.labels_getter = labels_getter
        self.generator = LF.for_inference(generator)
        self._num_classes = len(generator.classes)
        self._rng = as_rng(rng)

    @classmethod
    def from_pretrained(
        cls, name: str | Path, *, device: str = "cpu", **kwargs: Any
    ) -> LearnedAugment:
        """A ``LearnedAugment`` of the generator ``load_generator`` loads (a bundled name, a
        folder or a Hub id, with the latent bank saved beside it).

        ``kwargs`` go to ``LearnedAugment`` (``strategy``, ``p``, ``rng``, ...).

        Example:
            >>> LearnedAugment.from_pretrained("mnist-vae", strategy="interpolate").strategy
            Interpolate(strength=(0.0, 0.5), k=5, bank=<5000 codes>)
        """
        return cls(load_generator(name, device=device), **kwargs)

    def train(self, mode: bool = True) -> LearnedAugment:
        # A transform is never trained: keep the generator in eval mode whatever the caller's mode.
        super().train(mode)
        self.generator.eval()
        return self

    def forward(self, *inputs: Any) -> Any:
        # torchvision says not to override forward, and its own MixUp, CutMix and
        # SanitizeBoundingBoxes do, for the same reason: a label is found from the sample's
        # structure (the second item of a pair, a dict key), and forward alone sees it;
        # make_params gets the flattened leaves, where a label is an int like any other. This
        # override only reads the label and hands the call to Transform.forward unchanged, so
        # flattening, torchvision's choice of which leaves are images, make_params and
        # transform stay torchvision's, and no private torchvision API is used (overriding
        # the private _needs_transform_list was the alternative).
        label = self._labels_getter(inputs if len(inputs) > 1 else inputs[0])
        if label is not None and not isinstance(label, (int, Tensor)):
            raise TypeError(
                f"labels_getter must return an int, an integer tensor or None, got "
                f"{type(label).__name__}"
            )
        token = _SAMPLE_LABEL.set(label)
        try:
            return super().forward(*inputs)
        finally:
            _SAMPLE_LABEL.reset(token)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        # One set of draws per image, keyed by the image object: several images of a sample
        # (of any batch sizes) each get their own.
        label = _SAMPLE_LABEL.get()
        return {id(x): self._draw(x, label) for x in flat_inputs if LF.is_image(x)}

    def _draw(self, image: Any, label: Any) -> dict[str, Any]:
        leading = LF.leading_shape(image)
        n = math.prod(leading)
        # p = 1, the common case, draws nothing and augments every image (apply None).
        apply = None if self.p >= 1.0 else torch.rand(n, generator=self._rng) < self.p
        strength = draw_strength(self.strategy.strength, n, self._rng)
        # The strategy's own draws (noise, neighbour choice) replay from this seed.
        seed = int(torch.randint(2**62, (), generator=self._rng))
        labels = None if label is None else LF.fit_labels(label, leading, self._num_classes)
        return {"labels": labels, "apply": apply, "strength": strength, "seed": seed}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        draw = params.get(id(inpt))
        if draw is None:  # boxes, masks, keypoints: passed through, as torchvision's
            return inpt  # photometric transforms do
        return LF.learned_augment(
            inpt,
            self.generator,
            self.strategy,
            labels=draw["labels"],
            strength=draw["strength"],
            apply=draw["apply"],
            rng=torch.Generator().manual_seed(draw["seed"]),
            resize=self.resize,
        )

    def extra_repr(self) -> str:
        return f"strategy={self.strategy!r}, p={self.p}, resize={self.resize}"
