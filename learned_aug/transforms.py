"""LearnedAugment: a generative autoencoder as a torchvision v2 transform."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import PIL.Image
import torch
from torch import Tensor
from torchvision import tv_tensors
from torchvision.transforms.v2 import Transform
from torchvision.transforms.v2._utils import has_any, is_pure_tensor

from learned_aug import functional as F
from learned_aug.hub import find_bank, load_generator, resolve
from learned_aug.latent_bank import LatentBank
from learned_aug.models import Generator
from learned_aug.rng import check_alpha, draw_alpha
from learned_aug.sampling import Strategy, StrategyFn, get_strategy

DEFAULT_STRATEGY = "noise"


def is_label(inpt: Any) -> bool:
    """A class label in a sample: a Python int, or an integer tensor with at most one dimension."""
    if isinstance(inpt, bool):
        return False
    if isinstance(inpt, int):
        return True
    return (
        is_pure_tensor(inpt)
        and inpt.dim() <= 1
        and not inpt.is_floating_point()
        and not inpt.is_complex()
    )


def _batch_size(image: Any) -> int:
    return image.shape[0] if isinstance(image, Tensor) and image.dim() == 4 else 1


def _rng(seed: int | torch.Generator | None) -> torch.Generator | None:
    if seed is None or isinstance(seed, torch.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"rng must be None, an int seed or a torch.Generator, got {seed!r}")
    return torch.Generator().manual_seed(seed)


class LearnedAugment(Transform):
    """Augment images with a trained generator, like any torchvision v2 transform.

    Each image is replaced by the generator's variation of it, made by ``strategy`` (see
    ``learned_aug.sampling.STRATEGIES``): ``"noise"`` (the default: decode the image's code plus
    a small Gaussian step, strength in [0, 0.3]; it needs no bank and stays near real codes,
    where generated samples help most), ``"reconstruct"``, ``"interpolate"`` / ``"extrapolate"``
    toward / away from a same-class neighbour in the latent bank, or ``"prior"`` (a fresh sample
    of the class). Inputs: PIL images (L or RGB), uint8 or float tensors CHW or BCHW,
    ``tv_tensors.Image``, and samples such as ``(image, label)`` or dicts; the output has the
    input's type, mode, dtype and size. The first integer in a sample (an int or a 0-d / 1-d
    integer tensor) is its label: it passes through unchanged and conditions class-conditional
    and per-class generators. A BCHW batch runs as one batched forward pass.

    Args:
        generator: a trained Generator, or a name / folder / Hub id (see ``from_pretrained``).
        strategy: a name in ``STRATEGIES``, or a function with the strategy signature.
        strength: the strategy's alpha: a number, or a ``(low, high)`` range drawn per image;
            ``None`` uses the strategy's default.
        p: probability that each image is augmented (the others pass through unchanged).
        bank: the latent bank for interpolation / extrapolation (``from_pretrained`` finds the
            one saved with the generator).
        rng: an int seed or a ``torch.Generator`` to make the output reproducible; ``None``
            draws from torch's global RNG, which ``DataLoader`` seeds differently in each worker
            (a fixed seed would repeat the same draws in every worker).
        resize: resize images of another size to the generator's size and back; ``False``
            raises instead.
        strategy_kwargs: keyword arguments of the strategy (``k`` neighbours, ...).

    Example:
        >>> import torch
        >>> from torchvision.transforms import v2
        >>> from learned_aug import LearnedAugment, VAE, VAEConfig
        >>> vae = VAE(VAEConfig(image_size=(28, 28), latent_dim=3))
        >>> aug = v2.Compose([v2.RandomRotation(10), LearnedAugment(vae, strength=0.2, rng=0)])
        >>> image = torch.randint(0, 256, (1, 32, 32), dtype=torch.uint8)
        >>> out, label = aug(image, 7)
        >>> out.shape, out.dtype, label
        (torch.Size([1, 32, 32]), torch.uint8, 7)
    """

    def __init__(
        self,
        generator: Generator | str | Path,
        strategy: str | Strategy | StrategyFn = DEFAULT_STRATEGY,
        strength: float | tuple[float, float] | None = None,
        p: float = 1.0,
        *,
        bank: LatentBank | None = None,
        rng: int | torch.Generator | None = None,
        resize: bool = True,
        strategy_kwargs: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        if isinstance(generator, (str, Path)):
            generator = load_generator(generator)
        if not isinstance(generator, Generator):
            raise TypeError(
                f"generator must be a learned_aug Generator or a name, got "
                f"{type(generator).__name__}"
            )
        if len(generator.sample_shape) != 3:
            raise ValueError(
                f"LearnedAugment augments images, but this generator makes samples of shape "
                f"{generator.sample_shape}; use SyntheticDataset for tabular generators"
            )
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be a number in [0, 1], got {p!r}")
        if bank is not None and not isinstance(bank, LatentBank):
            raise TypeError(f"bank must be a LatentBank or None, got {type(bank).__name__}")
        self._strategy = get_strategy(strategy)
        if self._strategy.needs_bank and bank is None:
            raise ValueError(
                f"strategy {self._strategy.name!r} needs a latent bank, and none was given: "
                "build one with learned_aug.build_latent_bank(generator_folder, data)"
            )
        default = self._strategy.default_alpha
        self.strength = check_alpha(
            strength if strength is not None else (default or 0.0), "strength"
        )
        self.strategy, self.p, self.resize = self._strategy.name, float(p), bool(resize)
        self.strategy_kwargs = dict(strategy_kwargs or {})
        self.generator = F.for_inference(generator)
        self.bank = bank
        self._rng = _rng(rng)

    @classmethod
    def from_pretrained(
        cls, name_or_path: str | Path, *, device: str = "cpu", **kwargs: Any
    ) -> LearnedAugment:
        """Load a generator (bundled name, folder or Hub id) and the latent bank saved with it.

        ``kwargs`` go to ``LearnedAugment`` (``strategy``, ``strength``, ``p``, ``rng``, ...).
        """
        location = resolve(name_or_path)
        generator = load_generator(location, device=device)
        if kwargs.get("bank") is None:
            bank = find_bank(location)
            kwargs["bank"] = None if bank is None else bank.to(device)
        return cls(generator, **kwargs)

    def train(self, mode: bool = True) -> LearnedAugment:
        # A transform is never trained: keep the generator in eval mode whatever the caller's mode.
        super().train(mode)
        self.generator.eval()
        return self

    def _needs_transform_list(self, flat_inputs: list[Any]) -> list[bool]:
        # torchvision's rule for images (explicit images win, else the first pure tensor), plus
        # the first label, so that make_params sees it; transform() returns labels unchanged.
        transform_pure_tensor = not has_any(
            flat_inputs, tv_tensors.Image, tv_tensors.Video, PIL.Image.Image
        )
        needs, seen_label = [], False
        for inpt in flat_inputs:
            if is_label(inpt):
                needs.append(not seen_label)
                seen_label = True
            elif isinstance(inpt, (PIL.Image.Image, tv_tensors.Image)):
                needs.append(True)
            elif is_pure_tensor(inpt) and transform_pure_tensor:
                needs.append(True)
                transform_pure_tensor = False
            else:
                needs.append(False)
        return needs

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        images = [x for x in flat_inputs if not is_label(x)]
        labels = next((x for x in flat_inputs if is_label(x)), None)
        n = _batch_size(images[0]) if images else 1
        # p = 1, the common case, draws nothing and augments every image (apply None).
        apply = None if self.p >= 1.0 else torch.rand(n, generator=self._rng) < self.p
        alpha = draw_alpha(self.strength, n, self._rng)
        # The strategy's own draws (noise, neighbour choice) replay from this seed.
        seed = int(torch.randint(2**62, (), generator=self._rng))
        return {
            "n": n,
            "labels": F.batch_labels(labels, n),
            "apply": apply,
            "alpha": alpha,
            "seed": seed,
        }

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if is_label(inpt):
            return inpt
        if _batch_size(inpt) != params["n"]:
            raise ValueError(
                "LearnedAugment transforms one image or one batch per sample; got images of "
                f"batch sizes {params['n']} and {_batch_size(inpt)}"
            )
        return F.learned_augment(
            inpt,
            self.generator,
            self._strategy,
            labels=params["labels"],
            alpha=params["alpha"],
            apply=params["apply"],
            rng=torch.Generator().manual_seed(params["seed"]),
            bank=self.bank,
            resize=self.resize,
            options=self.strategy_kwargs,
        )

    def extra_repr(self) -> str:
        return (
            f"strategy={self.strategy!r}, strength={self.strength}, p={self.p}, "
            f"resize={self.resize}"
        )
