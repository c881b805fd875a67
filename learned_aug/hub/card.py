"""Model cards: the ``README.md`` saved with every generator and pushed to the Hub with it.

:func:`write_model_card` writes the card once, at the end of ``fit`` and when ``learned-aug push``
stages a folder: Hub metadata (``library_name: learned-aug`` and tags), what the generator
is, how to load it, the data and the exact command that trained it, its metrics (read from the
run folder's ``training.json`` and ``history.json``), a sample grid (``samples.png``, with the seed
that drew it) and the config. A card written here carries :data:`CARD_MARKER`, so it is
refreshed on the next write; a ``README.md`` written by hand (without the marker) is never
overwritten.
"""

from __future__ import annotations

import inspect
import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import ModelCard, ModelCardData

from learned_aug.card_template import CARD_MARKER
from learned_aug.files import (
    BANK_NAME,
    CARD_NAME,
    CONFIG_NAME,
    HISTORY_JSON,
    QUALITY_JSON,
    SAMPLES_NAME,
    TRAINING_JSON,
    WEIGHTS_NAME,
    atomic_write_text,
)
from learned_aug.loading import load_generator
from learned_aug.models import Generator
from learned_aug.sample_grid import sample_grid_seed, save_sample_grid

TAGS = ("learned-aug", "data-augmentation", "generative-autoencoder", "pytorch", "safetensors")
# Keys of training.json that are descriptions, not metrics.
_NOT_METRICS = frozenset({"command", "data", "metrics", "notes"})
METRIC_HELP = {
    "examples": "training examples (train + validation)",
    "best_epoch": "epoch whose weights were kept",
    "best_val_loss": "validation loss of that epoch (negative ELBO per example; lower is better)",
    "epochs_run": "epochs trained before stopping",
    "stopped_early": "stopped by early stopping on the validation loss",
    "train_seconds_wall": "wall-clock training time in seconds",
    "train_loss": "training loss of the best epoch",
    "train_recon": "reconstruction term of the training loss",
    "train_kl": "KL term of the training loss (nats)",
    "classifier_accuracy_real_val": "logistic regression fitted on the training split, "
    "accuracy on the real validation split (the reference)",
    "classifier_accuracy_samples": "the same classifier on 50 samples per class: how often "
    "it names the class a sample was drawn for",
    "cas": "Classification Accuracy Score: the same classifier trained on the samples alone, "
    "accuracy on the real validation split (at or above the reference: the samples teach as "
    "much as the images)",
    "linear_probe_accuracy_val": "logistic regression on the frozen encoder's latent means, "
    "validation accuracy",
    "pixel_logistic_regression_accuracy_val": "the same on raw pixels (the reference)",
    "active_units": "latent dimensions whose posterior mean varies across the data (0: collapsed)",
    "latent_dims": "latent dimensions",
    "copy_distance_ratio": "samples' distance to their nearest training image over the training "
    "images' own nearest-neighbour distance (near 0: copies)",
}

TEMPLATE = """---
{{ card_data }}
---

# {{ title }}

{{ marker }}

{{ summary }}

| | |
| --- | --- |
| kind | `{{ model_type }}` ({{ class_name }}) |
| sample shape | `{{ sample_shape }}` |
| classes | {{ classes }} |
| parameters | {{ parameters }} |
| weights | `model.safetensors` (safetensors only: learned-aug never loads pickled weights) |
{% if bank %}| latent bank | `latent_bank.safetensors` (training codes, for interpolation) |
{% endif %}
## Use

```python
from learned_aug import SyntheticDataset, load_generator

generator = load_generator("{{ name }}")
synthetic = SyntheticDataset(generator, n=1000, seed=0)  # (sample, label) pairs
```

From the command line: `learned-aug sample {{ name }} -n 1000 --out synthetic/`.

## Training

{{ data_line }}

{% if command %}```bash
{{ command }}
```{% else %}The training command was not recorded.{% endif %}
{% if notes %}
{{ notes }}
{% endif %}
## Metrics

{% if metrics %}| metric | value | meaning |
| --- | --- | --- |
{% for key, value, meaning in metrics %}| {{ key }} | {{ value }} | {{ meaning }} |
{% endfor %}{% else %}No metrics were recorded for this checkpoint.{% endif %}

## Samples

{{ samples }}

## Config

```json
{{ config }}
```
"""


@dataclass
class RunInfo:
    """What a run folder records about its training (all optional).

    Example:
        >>> info = RunInfo(command="learned-aug fit --data digits --out run", metrics={"kl": 9.5})
        >>> info.metrics
        {'kl': 9.5}
    """

    command: str | None = None
    data: str | None = None
    notes: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None  # a card is documentation: a damaged log must not stop a save


def read_run(folder: str | Path) -> RunInfo:
    """Collect the training command, data and metrics recorded in a run folder.

    ``training.json`` (written by ``learned-aug fit`` and ``scripts/make_pretrained.py``) gives
    ``command``, ``data``, its scalar entries and its ``metrics`` dict; ``history.json`` (written
    by ``fit``) gives the losses of the best epoch when ``training.json`` does not.
    """
    folder = Path(folder)
    info = RunInfo()
    training = _read_json(folder / TRAINING_JSON)
    if isinstance(training, dict):
        info.command, info.data = training.get("command") or None, training.get("data")
        info.notes = training.get("notes")
        info.metrics.update(
            (k, v) for k, v in training.items() if k not in _NOT_METRICS and _is_scalar(v)
        )
        if isinstance(training.get("metrics"), dict):
            info.metrics.update((k, v) for k, v in training["metrics"].items() if _is_scalar(v))
    quality = _read_json(folder / QUALITY_JSON)
    if isinstance(quality, dict):
        info.metrics.update((k, v) for k, v in quality.items() if _is_scalar(v))
        problems = [str(w) for w in quality.get("warnings", []) if w]
        if problems:
            found = " ".join(f"Warning: {w}." for w in problems)
            info.notes = f"{info.notes}\n\n{found}" if info.notes else found
    history = _read_json(folder / HISTORY_JSON)
    if isinstance(history, list) and history and all(isinstance(r, dict) for r in history):
        best = min(history, key=lambda r: _finite(r.get("val_loss", r.get("train_loss"))))
        info.metrics.setdefault("epochs_run", len(history))
        info.metrics.setdefault("best_epoch", best.get("epoch"))
        for key in ("val_loss", "train_loss", "train_recon", "train_kl"):
            if _is_scalar(best.get(key)):
                info.metrics.setdefault(key if key != "val_loss" else "best_val_loss", best[key])
    return info


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (int, float, str, bool)) and not isinstance(value, dict)


def _finite(value: Any) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return math.inf
    return value if math.isfinite(value) else math.inf


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def is_generated(path: str | Path) -> bool:
    """Whether the ``README.md`` at ``path`` is a card written by learned-aug (safe to refresh)."""
    path = Path(path)
    try:
        return path.is_file() and CARD_MARKER in path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False


def _first_paragraph(cls: type) -> str:
    doc = (inspect.getdoc(cls) or cls.__name__).split("\n\n")[0]
    return " ".join(doc.split()).replace("``", "`")  # reST literals -> Markdown


def _summary(generator: Generator) -> str:
    summary = _first_paragraph(type(generator))
    members = getattr(generator, "members", None)
    if members:
        summary += f" Each member: {_first_paragraph(type(members[0]))}"
    return f"A [learned-aug](https://github.com/learned-aug/learned-aug) generator. {summary}"


@torch.no_grad()
def _samples_section(
    generator: Generator, save_directory: Path | None, run_dir: Path | None, seed: int
) -> str:
    """Markdown for the samples, writing ``samples.png`` next to the card where it is missing
    (copied from the run, or drawn with ``seed``); the card names the seed the grid records."""
    if len(generator.sample_shape) != 3:
        return _sample_table(generator, seed=seed)
    target = save_directory / SAMPLES_NAME if save_directory is not None else None
    source = run_dir / SAMPLES_NAME if run_dir is not None else None
    if target is not None and not target.is_file():
        if source is not None and source.is_file():
            shutil.copyfile(source, target)
        else:
            save_sample_grid(generator, target, seed=seed)
    shown = target if target is not None else source
    if shown is None or not shown.is_file():
        return "No sample grid was saved with this card."
    recorded = sample_grid_seed(shown)
    rows = "one row per class" if generator.conditional else "unconditional samples"
    drawn = f"seed {recorded}" if recorded is not None else "seed not recorded"
    return f"![samples from this generator]({SAMPLES_NAME})\n\n{rows}, {drawn}."


def _sample_table(generator: Generator, n: int = 5, columns: int = 6, seed: int = 0) -> str:
    """A few generated rows of a tabular generator, as a Markdown table."""
    rng = torch.Generator(device=generator.device).manual_seed(seed)
    labels = None
    if generator.conditional and generator.classes:
        labels = torch.arange(n) % len(generator.classes)
    rows = generator.sample(n, labels=labels, rng=rng).cpu()
    shown = min(columns, rows.shape[1])
    head = ["class"] * (labels is not None) + [f"x{j}" for j in range(shown)]
    more = " (first columns)" if shown < rows.shape[1] else ""
    lines = [f"Generated rows, seed {seed}{more}:", "", "| " + " | ".join(head) + " |"]
    lines.append("|" + " --- |" * len(head))
    for i, row in enumerate(rows):
        cells = [generator.classes[int(labels[i])]] if labels is not None else []
        cells += [f"{float(v):.4g}" for v in row[:shown]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def card_data(generator: Generator, *, data: str | None = None) -> ModelCardData:
    """Hub metadata: ``library_name: learned-aug``, the package tags and the model kind."""
    mixin = generator._hub_mixin_info.model_card_data.to_dict()
    tags = list(dict.fromkeys([*TAGS, *mixin.get("tags", []), generator.config.model_type]))
    member = getattr(generator.config, "member", None)
    if isinstance(member, dict) and member.get("model_type"):
        tags += ["per-class", member["model_type"]]
    if data:
        tags.append(Path(str(data)).name)
    return ModelCardData(library_name="learned-aug", license="apache-2.0", tags=tags)


def model_card(
    generator: Generator,
    *,
    save_directory: str | Path | None = None,
    run_dir: str | Path | None = None,
    command: str | None = None,
    data: str | None = None,
    metrics: dict[str, Any] | None = None,
    notes: str | None = None,
    title: str | None = None,
    repo_id: str | None = None,
    seed: int = 0,
) -> ModelCard:
    """The model card of ``generator``; :func:`write_model_card` saves it.

    A hand-written ``README.md`` (one without :data:`CARD_MARKER`) in ``run_dir`` is returned
    as it is. Otherwise the card is built from the arguments, falling back on what ``run_dir``
    records (``training.json``, ``history.json``, ``samples.png``).

    Args:
        generator: the generator the card describes.
        save_directory: folder the card is saved in; ``samples.png`` is written there when
            missing (copied from ``run_dir``, or drawn with ``seed``).
        run_dir: the run folder to read the training record from (default: ``save_directory``).
        command: the exact command that trained the generator.
        data: the training data (a bundled name or a path).
        metrics: metric name -> value; added to (and overriding) those of the run.
        notes: a paragraph added under Training.
        title: the card's heading (default: the repo or folder name).
        repo_id: the Hub id used in the card's loading snippet.
        seed: the seed of samples drawn for the card (a grid copied from the run keeps the
            seed it records).

    Example:
        >>> from learned_aug import VAE, VAEConfig
        >>> vae = VAE(VAEConfig(image_size=(8, 8), latent_dim=2))
        >>> card = model_card(vae, command="learned-aug fit --data digits --out run")
        >>> card.data.library_name, "learned-aug fit --data digits" in card.text
        ('learned-aug', True)
    """
    save_dir = Path(save_directory) if save_directory is not None else None
    run = Path(run_dir) if run_dir is not None else save_dir
    if run is not None and (run / CARD_NAME).is_file() and not is_generated(run / CARD_NAME):
        return ModelCard.load(run / CARD_NAME)
    info = read_run(run) if run is not None else RunInfo()
    name = repo_id or (save_dir.name if save_dir is not None else "path/to/generator")
    data = data or info.data
    values = {**info.metrics, **(metrics or {})}
    config = json.dumps(generator.config.to_dict(), indent=2, sort_keys=True)
    return ModelCard.from_template(
        card_data(generator, data=data),
        template_str=TEMPLATE,
        title=title or name,
        marker=CARD_MARKER,
        summary=_summary(generator),
        model_type=generator.config.model_type,
        class_name=type(generator).__name__,
        sample_shape=tuple(generator.sample_shape),
        classes=", ".join(f"`{c}`" for c in generator.classes) or "none (unlabelled)",
        parameters=f"{sum(p.numel() for p in generator.parameters()):,}",
        name=name,
        data_line=f"Data: `{data}`." if data else "The training data was not recorded.",
        command=command or info.command,
        notes=notes or info.notes,
        metrics=[(k, _show(v), METRIC_HELP.get(k, "")) for k, v in values.items()],
        samples=_samples_section(generator, save_dir, run, seed),
        bank=any((d / BANK_NAME).is_file() for d in (save_dir, run) if d is not None),
        config=config,
    )


def write_model_card(folder: str | Path, generator: Generator | None = None, **kwargs: Any) -> Path:
    """(Re)write the card of the generator saved in ``folder`` from what the folder records.

    A hand-written ``README.md`` is left alone. ``kwargs`` go to :func:`model_card`.
    """
    folder = Path(folder)
    for needed in (CONFIG_NAME, WEIGHTS_NAME):
        if not (folder / needed).is_file():
            raise ValueError(
                f"folder={str(folder)!r} has no {needed}: it is not a generator folder"
            )
    path = folder / CARD_NAME
    if path.is_file() and not is_generated(path):
        return path
    if generator is None:
        generator = load_generator(folder)
    card = model_card(generator, save_directory=folder, **kwargs)
    atomic_write_text(path, str(card))
    return path
