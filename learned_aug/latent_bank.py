"""LatentBank: the training set's latent codes, for neighbour search and sampling near real data.

A bank holds one code per real example (the posterior mean for a Gaussian latent) and its label.
Interpolation and extrapolation (Iser 2023) move an example's code toward or away from one of
its k nearest neighbours *of the same class*; ``SyntheticDataset`` starts from bank codes. For a
per-class generator each class is encoded by its own member, so every row lives in the latent
space of the member that decodes it, and neighbours never cross classes.

The bank is saved next to the generator as ``latent_bank.safetensors`` and found there by
``LearnedAugment.from_pretrained`` and ``SyntheticDataset``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import EntryNotFoundError, HFValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from learned_aug.models.base import CheckpointError, Generator, RandomSource, atomic_write
from learned_aug.sampling import encode_mean, uniform

BANK_NAME = "latent_bank.safetensors"
BANK_VERSION = 1
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

    Example:
        >>> import torch
        >>> from learned_aug import LatentBank
        >>> codes, labels = torch.tensor([[0.0], [1.0], [5.0]]), torch.tensor([0, 0, 1])
        >>> bank = LatentBank(codes, labels, ["a", "b"])
        >>> bank.neighbours(torch.tensor([[0.6]]), torch.tensor([0]), k=1)  # class "a" only
        tensor([[1.]])
    """

    def __init__(self, codes: Tensor, labels: Tensor, classes: list[str]):
        super().__init__()
        if not isinstance(codes, Tensor) or codes.dim() < 2:
            raise ValueError(f"codes must be a tensor (N, *latent_shape), got {_shape(codes)}")
        labels = torch.as_tensor(labels, dtype=torch.long)
        if labels.shape != (len(codes),):
            raise ValueError(f"labels must have shape ({len(codes)},), got {tuple(labels.shape)}")
        if len(labels) and (labels.min() < -1 or labels.max() >= max(len(classes), 1)):
            raise ValueError(f"labels must lie in [-1, {len(classes) - 1}] for classes {classes}")
        self.classes = [str(c) for c in classes]
        self.register_buffer("codes", codes.detach())
        self.register_buffer("labels", labels)
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
    def build(cls, generator: Generator, data: Any, *, batch_size: int = 256) -> LatentBank:
        """Encode every example of ``data`` (anything ``load_dataset`` reads) with ``generator``.

        Labels go to the generator, so a per-class generator encodes each class with its member.
        """
        from learned_aug.data import load_dataset
        from learned_aug.functional import resize_batch

        data = load_dataset(data)
        if generator.classes and data.classes != generator.classes:
            raise ValueError(
                f"data has classes {data.classes}, but the generator was trained on "
                f"{generator.classes}: build the bank from the generator's own data"
            )
        size = tuple(generator.sample_shape[1:])
        was_training = generator.training
        generator.eval()
        parts = []
        for xb, yb in zip(data.x.split(batch_size), data.y.split(batch_size), strict=True):
            xb = xb.to(generator.device)
            xb = resize_batch(xb, size) if len(size) == 2 else xb
            parts.append(encode_mean(generator, xb, yb).float().cpu())
        generator.train(was_training)
        return cls(torch.cat(parts), data.y.clone(), data.classes)

    def save(self, folder: str | Path) -> Path:
        """Write ``folder/latent_bank.safetensors`` atomically; returns its path."""
        path = Path(folder) / BANK_NAME
        tensors = {"codes": self.codes.cpu().contiguous(), "labels": self.labels.cpu()}
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
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                metadata = f.metadata() or {}
        except (SafetensorError, OSError) as err:
            raise CheckpointError(f"{path} is not a readable latent bank: {err}") from err
        version = int(metadata.get("format_version", BANK_VERSION))
        if version > BANK_VERSION or set(tensors) != {"codes", "labels"}:
            raise CheckpointError(
                f"{path} is a latent bank this learned-aug cannot read (format_version "
                f"{version}, tensors {sorted(tensors)}); upgrade learned-aug or rebuild it"
            )
        return cls(tensors["codes"], tensors["labels"], json.loads(metadata.get("classes", "[]")))

    @classmethod
    def find(cls, location: str | Path, **hub_kwargs: Any) -> LatentBank | None:
        """The bank saved with the generator at ``location`` (a folder or Hub repo id), if any."""
        folder = Path(location)
        if folder.is_dir():
            return cls.load(folder) if (folder / BANK_NAME).is_file() else None
        try:
            return cls.load(hf_hub_download(str(location), BANK_NAME, **hub_kwargs))
        except (EntryNotFoundError, HFValidationError, OSError):
            return None  # no bank in the repo, not in the offline cache, or no such repo

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


def build_latent_bank(
    generator: Generator | str | Path,
    data: Any,
    *,
    batch_size: int = 256,
    device: str = "cpu",
) -> LatentBank:
    """Build the latent bank of ``generator`` from ``data``; save it into a generator folder.

    Args:
        generator: a Generator, or a folder / bundled name; a local folder gets the bank saved
            as ``latent_bank.safetensors`` beside the weights.
        data: the generator's training data, anything ``load_dataset`` reads.
        batch_size: examples encoded at once.
        device: where a loaded generator runs.

    Example:
        >>> from learned_aug import VAE, VAEConfig, build_latent_bank
        >>> vae = VAE(VAEConfig(image_size=(8, 8), latent_dim=2, classes=list("0123456789")))
        >>> len(build_latent_bank(vae, "digits"))
        1797
    """
    folder = None
    if isinstance(generator, (str, Path)):
        from learned_aug.hub import load_generator, resolve

        location = resolve(generator)
        folder = Path(location) if Path(location).is_dir() else None
        generator = load_generator(location, device=device)
    bank = LatentBank.build(generator, data, batch_size=batch_size)
    if folder is not None:
        bank.save(folder)
    return bank
