"""LatentBank: the training set's latent codes, for neighbour search and sampling near real data.

A bank holds, for every real example, its code (the posterior mean for a Gaussian latent), the
posterior's standard deviation (Gaussian latents; for the aggregate posterior) and its label.
Interpolation and extrapolation (Iser 2023) move an example's code toward or away from one of
its k nearest neighbours *of the same class*; ``SyntheticDataset`` starts from bank codes. For a
per-class generator each class is encoded by its own member, so every row lives in the latent
space of the member that decodes it, and neighbours never cross classes.

The bank is saved next to the generator as ``latent_bank.safetensors`` (``fit`` and
``save_pretrained`` write it); every way of loading a generator (``Generator.from_pretrained``,
which ``load_generator`` calls) finds it there and attaches it to the generator it loads
(:func:`attach_bank`), where the strategies that need one take it (:func:`bank_of`).

This module sits below ``models`` (the model base reads a checkpoint's bank as it loads its
weights), so it never imports a model: a generator is taken by what it offers (``encode``,
``sample_shape``, ``classes``, ``conditional``, ``device``), as
``sample_grid.save_sample_grid`` takes it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from torch.distributions import Distribution

from learned_aug.checkpoint import CheckpointError
from learned_aug.data import load_dataset, resize_batch
from learned_aug.files import BANK_NAME, atomic_write
from learned_aug.rng import RandomSource, uniform

BANK_VERSION = 2  # 2 added the posterior standard deviations ("stds"); version 1 reads as before
_TENSORS = ({"codes", "labels"}, {"codes", "labels", "stds"})
M = TypeVar("M", bound=nn.Module)  # a generator: attach_bank returns the one it was given
# Codes closer than this to the query are the query itself (it is in the bank when it is a
# training example): it is never its own neighbour.
SELF_DISTANCE = 1e-4


class LatentBank(nn.Module):
    """Latent codes ``(N, *latent_shape)`` of real examples with their labels ``(N,)``.

    A module (the codes are buffers), so it moves with ``.to(device)`` and pickles.

    Args:
        codes: one code per example.
        labels: class index of each example (``-1`` for unlabelled data).
        classes: class names, in label order.
        stds: the posterior standard deviation of each example, shaped like ``codes`` (Gaussian
            latents); ``None`` where the latent has none (VQ codes) or an old bank lacks it.

    Example:
        >>> import torch
        >>> from learned_aug import LatentBank
        >>> codes, labels = torch.tensor([[0.0], [1.0], [5.0]]), torch.tensor([0, 0, 1])
        >>> bank = LatentBank(codes, labels, ["a", "b"])
        >>> bank.neighbours(torch.tensor([[0.6]]), torch.tensor([0]), k=1)  # class "a" only
        tensor([[1.]])
    """

    def __init__(
        self, codes: Tensor, labels: Tensor, classes: list[str], stds: Tensor | None = None
    ):
        super().__init__()
        if not isinstance(codes, Tensor) or codes.dim() < 2:
            raise ValueError(f"codes must be a tensor (N, *latent_shape), got {_shape(codes)}")
        if stds is not None and (not isinstance(stds, Tensor) or stds.shape != codes.shape):
            raise ValueError(
                f"stds must be a tensor of the codes' shape {tuple(codes.shape)}, "
                f"got {_shape(stds)}"
            )
        labels = torch.as_tensor(labels, dtype=torch.long)
        if labels.shape != (len(codes),):
            raise ValueError(f"labels must have shape ({len(codes)},), got {tuple(labels.shape)}")
        if len(labels) and (labels.min() < -1 or labels.max() >= max(len(classes), 1)):
            raise ValueError(f"labels must lie in [-1, {len(classes) - 1}] for classes {classes}")
        self.classes = [str(c) for c in classes]
        self.register_buffer("codes", codes.detach())
        self.register_buffer("labels", labels)
        self.register_buffer("stds", None if stds is None else stds.detach())
        self._mixtures: dict[
            tuple[int, int], Any
        ] = {}  # per-class Gaussian mixtures, fitted on demand
        # Rows sorted by class, and where each class starts, for O(1) draws of a class's rows.
        order = torch.argsort(labels, stable=True)
        counts = torch.bincount(labels.clamp(min=0), minlength=len(self.classes))
        counts = counts if (labels >= 0).all() else torch.tensor([len(labels)])
        self.register_buffer("_order", order, persistent=False)
        self.register_buffer("_counts", counts, persistent=False)
        self.register_buffer("_starts", torch.cumsum(counts, 0) - counts, persistent=False)

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def labelled(self) -> bool:
        return bool(len(self.labels)) and bool((self.labels >= 0).all())

    def extra_repr(self) -> str:
        return f"n={len(self)}, latent_shape={tuple(self.codes.shape[1:])}, classes={self.classes}"

    # ------------------------------------------------------------------------ build / io
    @classmethod
    @torch.no_grad()
    def build(cls, generator: Any, data: Any, *, batch_size: int = 256) -> LatentBank:
        """Encode every example of ``data`` (anything ``load_dataset`` reads) with ``generator``
        (a ``Generator``).

        Labels go to a class-aware generator, so a per-class generator encodes each class with
        its member. A Gaussian posterior gives codes (means) and stds; VQ codes give codes alone.
        """
        data = load_dataset(data)
        if generator.classes and data.classes != generator.classes:
            raise ValueError(
                f"data has classes {data.classes}, but the generator was trained on "
                f"{generator.classes}: build the bank from the generator's own data"
            )
        size = tuple(generator.sample_shape[1:])
        was_training = generator.training
        generator.eval()
        means, stds = [], []
        for xb, yb in zip(data.x.split(batch_size), data.y.split(batch_size), strict=True):
            xb = xb.to(generator.device)
            xb = resize_batch(xb, size) if len(size) == 2 else xb
            q = generator.encode(xb, yb.to(generator.device) if generator.conditional else None)
            gaussian = isinstance(q, Distribution)
            means.append(q.mean.float().cpu() if gaussian else q.cpu())
            if gaussian:
                stds.append(q.stddev.float().cpu())
        generator.train(was_training)
        codes = torch.cat(means) if means else torch.empty(0, 0)
        return cls(codes, data.y.clone(), data.classes, torch.cat(stds) if stds else None)

    def save(self, folder: str | Path) -> Path:
        """Write ``folder/latent_bank.safetensors`` atomically; returns its path."""
        path = Path(folder) / BANK_NAME
        tensors = {"codes": self.codes.cpu().contiguous(), "labels": self.labels.cpu()}
        if self.stds is not None:
            tensors["stds"] = self.stds.cpu().contiguous()
        metadata = {"classes": json.dumps(self.classes), "format_version": str(BANK_VERSION)}
        atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))
        return path

    @classmethod
    def load(cls, path: str | Path) -> LatentBank:
        """Read a bank from its file, or from the folder that holds ``latent_bank.safetensors``."""
        path = Path(path)
        path = path / BANK_NAME if path.is_dir() else path
        try:
            tensors = load_file(str(path))
            with safe_open(str(path), framework="pt") as f:
                metadata = f.metadata() or {}
        except (SafetensorError, OSError) as err:
            raise CheckpointError(f"{path} is not a readable latent bank: {err}") from err
        version = int(metadata.get("format_version", BANK_VERSION))
        if version > BANK_VERSION or set(tensors) not in _TENSORS:
            raise CheckpointError(
                f"{path} is a latent bank this learned-aug cannot read (format_version "
                f"{version}, tensors {sorted(tensors)}); upgrade learned-aug or rebuild it"
            )
        classes = json.loads(metadata.get("classes", "[]"))
        return cls(tensors["codes"], tensors["labels"], classes, tensors.get("stds"))

    @classmethod
    def find(cls, folder: str | Path) -> LatentBank | None:
        """The bank saved in a local generator folder, or ``None`` when it has none.

        For a bundled name or a Hub repo id use ``learned_aug.find_bank``.
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise ValueError(
                f"folder={str(folder)!r} is not a local folder; to find the bank of a bundled "
                "name or a Hub repo id use learned_aug.find_bank"
            )
        return cls.load(folder) if (folder / BANK_NAME).is_file() else None

    # ------------------------------------------------------------------------ mixtures
    def mixture(self, label: int, components: int = 10) -> tuple[Tensor, Tensor, Tensor]:
        """A diagonal Gaussian mixture fitted to the codes of class ``label`` (of all codes for
        an unlabelled bank): ``(weights (M,), means (M, d), stds (M, d))``.

        Fitted once with scikit-learn (EM, fixed seed) and cached, so every process and worker
        gets the same mixture. Chadebec et al. (2022) sample a VAE this way, in place of
        N(0, I).
        """
        key = (int(label), int(components))
        if key not in self._mixtures:
            try:
                from sklearn.mixture import GaussianMixture
            except ImportError as err:
                raise ImportError(
                    'the "gmm" strategy fits mixtures with scikit-learn: pip install '
                    '"learned-aug[eval]"'
                ) from err
            if not self.codes.is_floating_point():
                raise TypeError("a Gaussian mixture needs continuous codes, not VQ code indices")
            rows = self._order if label < 0 or not self.labelled else self.of_class(label)
            codes = self.codes[rows].flatten(1).double().cpu().numpy()
            if len(codes) == 0:
                raise ValueError(f"the latent bank has no example of class {label}")
            gmm = GaussianMixture(
                min(components, len(codes)), covariance_type="diag", reg_covar=1e-4, random_state=0
            ).fit(codes)
            self._mixtures[key] = (
                torch.from_numpy(gmm.weights_).float(),
                torch.from_numpy(gmm.means_).float(),
                torch.from_numpy(gmm.covariances_).sqrt().float(),
            )
        return self._mixtures[key]

    def of_class(self, label: int) -> Tensor:
        """Row indices of class ``label``."""
        start, count = int(self._starts[label]), int(self._counts[label])
        return self._order[start : start + count]

    # ------------------------------------------------------------------------ queries
    def _check_classes(self, labels: Tensor) -> Tensor:
        labels = labels.to(self._counts.device, torch.long)
        if len(labels) and (labels.min() < 0 or labels.max() >= len(self._counts)):
            raise ValueError(
                f"labels must lie in [0, {len(self._counts) - 1}] for the bank's classes "
                f"{self.classes}, got values in [{int(labels.min())}, {int(labels.max())}]"
            )
        empty = labels[self._counts[labels] == 0]
        if len(empty):
            raise ValueError(f"the latent bank has no example of class {int(empty[0])}")
        return labels

    def pick(self, n: int, labels: Tensor | None = None, rng: RandomSource = None) -> Tensor:
        """``n`` row indices drawn uniformly: of each label's class, or of the whole bank."""
        if not len(self):
            raise ValueError("the latent bank is empty")
        u = uniform(n, rng).to(self._counts.device)
        if labels is None or not self.labelled:
            return (u * len(self)).long().clamp(max=len(self) - 1)
        labels = self._check_classes(labels)
        offset = (u * self._counts[labels]).long().clamp(max=self._counts[labels] - 1)
        return self._order[self._starts[labels] + offset]

    def neighbours(
        self, z: Tensor, labels: Tensor | None, *, k: int = 5, rng: RandomSource = None
    ) -> Tensor:
        """For each code, one of its ``k`` nearest bank codes of the same class, drawn uniformly.

        Without labels (or with an unlabelled bank) neighbours come from the whole bank.
        """
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        if not len(self):
            raise ValueError("the latent bank is empty")
        flat = self.codes.flatten(1)
        dist = torch.cdist(z.detach().to(flat.device, flat.dtype).flatten(1), flat)
        if labels is not None and self.labelled:
            labels = self._check_classes(labels)
            dist.masked_fill_(labels[:, None] != self.labels[None, :], torch.inf)
        dist.masked_fill_(dist < SELF_DISTANCE, torch.inf)
        near, idx = dist.topk(min(k, len(self)), dim=1, largest=False)
        valid = near.isfinite().sum(dim=1)
        if (valid == 0).any():
            raise ValueError(
                "an example has no other example of its class in the latent bank: it needs at "
                "least two examples of each class"
            )
        u = uniform(len(z), rng).to(valid.device)
        choice = torch.minimum((u * valid).long(), valid - 1)
        return self.codes[idx[torch.arange(len(z), device=idx.device), choice]]


def _shape(x: Any) -> str:
    return f"shape {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__


def attach_bank(generator: M, bank: LatentBank | None) -> M:
    """Give ``generator`` its latent bank (loading, ``fit`` and ``build_latent_bank`` do);
    returns the generator.

    The bank is a plain attribute, not a submodule: it is not part of the weights
    (``state_dict``; ``save_pretrained`` writes it to a file of its own) and
    ``generator.to(device)`` leaves it where it is (the strategies move what they read).
    """
    if bank is not None and not isinstance(bank, LatentBank):
        raise TypeError(f"bank must be a LatentBank or None, got {type(bank).__name__}")
    generator.__dict__["latent_bank"] = bank
    return generator


def bank_of(generator: nn.Module) -> LatentBank | None:
    """The latent bank attached to ``generator``, or ``None``.

    Example:
        >>> from learned_aug import VAE, VAEConfig
        >>> bank_of(VAE(VAEConfig(image_size=(8, 8), latent_dim=2))) is None
        True
    """
    return generator.__dict__.get("latent_bank")
