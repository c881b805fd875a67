"""Recipes: a generator kind, its settings and a training budget in optimizer steps, as one object.

``DEFAULT_RECIPE`` is what ``learned-aug fit --data D --out R`` trains when no model flag is
given, and what ``learned-aug evaluate`` measures as ``learned``: one class-conditional VAE
(latent size 8) trained on the images plus four RandAugment copies of them, sampled by
``SyntheticDataset`` from its aggregate posterior (the latent bank ``fit`` saves). How it was
chosen, and how it does, is on docs/results.md.

A budget in steps rather than epochs gives tiny and large training sets similar training: 50
images (four steps an epoch) train for as many steps as 500, where a fixed 30 epochs left a
generator of 50 small images with nothing learned.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from learned_aug.data import LabelledData, load_dataset, load_unlabelled
from learned_aug.training.fitting import FitResult, fit
from learned_aug.training.settings import FitSettings

SETTING_NAMES = tuple(f.name for f in dataclasses.fields(FitSettings))
"""What :meth:`Recipe.fit` hands to its ``FitSettings``."""
RUN_NAMES = tuple(
    name
    for name, p in inspect.signature(fit).parameters.items()
    if p.kind is p.KEYWORD_ONLY and name not in ("config", "init", "unlabelled")
)
"""What :meth:`Recipe.fit` hands to ``fit`` itself (``out``, ``device``, ...); the config and
the init are the recipe's, the unlabelled pool a keyword of its own."""


def step_budget(
    examples: int,
    *,
    steps: int,
    min_epochs: int,
    max_epochs: int,
    patience_steps: int,
    batch_size: int = 64,
    val_fraction: float = 0.15,
    scale: float = 1.0,
) -> tuple[int, int]:
    """``(epochs, patience)`` that give about ``steps * scale`` optimizer steps on ``examples``
    training examples (before the validation split), within ``[min_epochs, max_epochs]``, and a
    patience of ``patience_steps`` steps (at least 10 epochs).

    Example:
        >>> step_budget(250, steps=750, min_epochs=10, max_epochs=400, patience_steps=300)
        (188, 75)
    """
    per_epoch = max(1, math.ceil(round(examples * (1 - val_fraction)) / batch_size))
    epochs = int(min(max_epochs, max(min_epochs, math.ceil(steps * scale / per_epoch))))
    return epochs, max(10, math.ceil(patience_steps / per_epoch))


@dataclass(frozen=True)
class Recipe:
    """A generator kind with its settings, a step budget and the sampler its samples come from.

    Args:
        model: a registered model name (``"vae"``, ``"tabular-vae"``, ...).
        config: ``fit``'s ``config``: the model's config fields (``conditional``,
            ``latent_dim``) and ``per_class`` / ``mix_in``.
        augment: train on the images plus ``augment_copies`` copies under this conventional
            augmentation (a key of ``learned_aug.conventional.CONVENTIONAL``); None: the images.
        augment_copies: augmented copies of every image.
        steps: optimizer steps to aim for; epochs are steps / steps per epoch, clamped.
        min_epochs: fewest epochs (large sets, whose epochs are long, stop there).
        max_epochs: most epochs (tiny sets).
        patience_steps: early-stopping patience in optimizer steps (at least 10 epochs).
        tabular: the recipe used instead on feature vectors (tables), if any.
        colour: the recipe used instead on colour (3-channel) images, if any.
        init: start from this pretrained generator (``fit``'s ``init``: a bundled name or a
            folder) instead of new weights; its kind and config must match ``model`` and
            ``config``. A ``tabular`` / ``colour`` recipe without one takes this one.

    Example:
        >>> from learned_aug import DEFAULT_RECIPE, SyntheticDataset, load_dataset
        >>> from learned_aug.data import balanced_subset
        >>> few = balanced_subset(load_dataset("digits"), 5, seed=0)[0]  # 50 8x8 digits
        >>> quick = DEFAULT_RECIPE.replace(steps=20, min_epochs=1)  # a smoke-sized budget
        >>> gen = quick.fit(few, progress=False).model
        >>> image, label = SyntheticDataset(gen, n=20, seed=0)[0]
        >>> label
        0
    """

    model: str = "vae"
    config: Mapping[str, Any] = field(default_factory=dict)
    augment: str | None = None
    augment_copies: int = 4
    steps: int = 750
    min_epochs: int = 3
    max_epochs: int = 400
    patience_steps: int = 300
    tabular: Recipe | None = None
    colour: Recipe | None = None
    init: str | None = None

    def replace(self, **changes: Any) -> Recipe:
        """A copy with ``changes`` (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def for_data(self, data: LabelledData) -> Recipe:
        """The recipe for ``data``: ``tabular`` for feature vectors and ``colour`` for RGB
        images when it has them (with this recipe's ``init`` where it has none), else self."""
        part = self
        if not data.is_image and self.tabular is not None:
            part = self.tabular
        elif data.is_image and data.sample_shape[0] == 3 and self.colour is not None:
            part = self.colour
        if part is not self and part.init is None and self.init is not None:
            part = part.replace(init=self.init)
        return part

    def copies_for(self, examples: int, pool: int = 0) -> int:
        """Augmented copies of each of ``examples`` images: the recipe's, or with a ``pool`` of
        unlabelled images, enough that the labelled rows are about as many as the pool's (at
        most ``MAX_POOL_COPIES``), so that half of what the generator trains on is labelled.

        Example:
            >>> from learned_aug import DEFAULT_RECIPE
            >>> DEFAULT_RECIPE.copies_for(50), DEFAULT_RECIPE.copies_for(50, pool=2500)
            (4, 49)
        """
        if not self.augment:
            return 0
        if not pool:
            return self.augment_copies
        balanced = math.ceil(pool / max(examples, 1)) - 1
        return max(self.augment_copies, min(balanced, MAX_POOL_COPIES))

    def budget(
        self,
        examples: int,
        batch_size: int = 64,
        val_fraction: float = 0.15,
        scale: float = 1.0,
        pool: int = 0,
        copies: int | None = None,
    ) -> tuple[int, int]:
        """``(epochs, patience)`` for ``examples`` images (before any augmented copies) and
        ``pool`` unlabelled ones (``fit``'s ``unlabelled``, which gets no copies), each image
        with ``copies`` augmented copies (None: ``copies_for``; none without ``augment``).

        A pool is added to the labelled training, not taken out of it: the labelled rows get
        the optimizer steps they get without a pool, and the pool's rows come on top (with a
        pool as large as the labelled rows, twice the steps).

        Example:
            >>> quick = Recipe(steps=100, min_epochs=1)
            >>> quick.budget(640), quick.budget(640, pool=640)
            ((12, 34), (12, 18))
        """
        if not self.augment:
            copies = 0
        elif copies is None:
            copies = self.copies_for(examples, pool)
        rows = examples * (copies + 1)
        steps = self.steps * (rows + pool) / rows if self.augment else self.steps * 2
        return step_budget(
            rows + pool,
            steps=math.ceil(steps) if pool else self.steps,
            min_epochs=self.min_epochs,
            max_epochs=self.max_epochs,
            patience_steps=self.patience_steps,
            batch_size=batch_size,
            val_fraction=val_fraction,
            scale=scale,
        )

    def fit_settings(
        self, data: LabelledData, scale: float = 1.0, pool: int = 0, **changes: Any
    ) -> FitSettings:
        """The ``FitSettings`` this recipe trains ``data`` (and ``pool`` unlabelled examples)
        with: the step budget's epochs and patience (for the ``batch_size`` and ``val_fraction``
        of ``changes``), its augmentation; ``changes`` are FitSettings fields and win (``None``
        keeps the recipe's value, except for ``augment``, where it means no copies).

        Example:
            >>> from learned_aug import DEFAULT_RECIPE, load_dataset
            >>> settings = DEFAULT_RECIPE.fit_settings(load_dataset("digits"), seed=3)
            >>> settings.epochs, settings.patience, settings.augment, settings.seed
            (7, 10, 'randaugment', 3)
        """
        unknown = sorted(set(changes) - set(SETTING_NAMES))
        if unknown:
            raise TypeError(
                f"fit_settings got {unknown}, which are not FitSettings fields; it takes "
                f"{list(SETTING_NAMES)}"
            )
        recipe = self.for_data(data)
        batch_size = changes.get("batch_size") or FitSettings.batch_size
        val_fraction = changes.get("val_fraction")
        val_fraction = FitSettings.val_fraction if val_fraction is None else val_fraction
        copies = changes.get("augment_copies")  # the copies trained are the copies budgeted
        if copies is None:
            copies = recipe.copies_for(len(data), pool) or recipe.augment_copies
        epochs, patience = recipe.budget(len(data), batch_size, val_fraction, scale, pool, copies)
        fields = {
            "epochs": epochs,
            "patience": patience,
            "augment": recipe.augment,
            "augment_copies": copies,
        }
        fields.update({k: v for k, v in changes.items() if v is not None or k == "augment"})
        return FitSettings(**fields)

    def fit(
        self, data: Any, *, scale: float = 1.0, unlabelled: Any = None, **options: Any
    ) -> FitResult:
        """Train this recipe's generator on ``data`` with ``learned_aug.fit``.

        ``options`` are changes to its settings (FitSettings fields: ``seed=``, ``epochs=``, ...,
        as in :meth:`fit_settings`) and ``fit``'s own keywords (``out=``, ``resume=``,
        ``device=``, ``progress=``, ...); ``scale`` multiplies the step budget. Its model config
        and its ``init`` are the recipe's (the part ``for_data`` picks): change them with
        ``replace(config={...}, init=...)``. ``unlabelled`` is ``fit``'s pool of unlabelled
        examples; it is added to the labelled training (``budget``: the labelled images get
        enough augmented copies to match the pool's rows, and the steps they get without one).
        """
        settings = {k: v for k, v in options.items() if k in SETTING_NAMES}
        run = {k: v for k, v in options.items() if k not in SETTING_NAMES}
        unknown = sorted(set(run) - set(RUN_NAMES))
        if unknown:
            raise TypeError(
                f"Recipe.fit got {unknown}: it takes FitSettings fields {list(SETTING_NAMES)} "
                f"and fit's keywords {list(RUN_NAMES)}; a model config field belongs to the "
                "recipe: part = recipe.for_data(data); part.replace(config={**part.config, "
                "name: value}).fit(data); so is init: recipe.replace(init=name)"
            )
        data = load_dataset(data)
        recipe = self.for_data(data)
        if unlabelled is not None:  # read once: its size sets the budget
            progress = bool(run.get("progress", True))
            unlabelled = load_unlabelled(unlabelled, data.sample_shape, progress=progress)
        pool = 0 if unlabelled is None else len(unlabelled)
        chosen = recipe.fit_settings(data, scale, pool, **settings)
        return fit(
            recipe.model,
            data,
            chosen,
            config=dict(recipe.config),
            init=recipe.init,
            unlabelled=unlabelled,
            **run,
        )


MAX_POOL_COPIES = 49
"""The most augmented copies of each labelled image when a pool sets their number."""

COLOUR_RECIPE = Recipe(
    "vae", {"conditional": True, "latent_dim": 8}, augment="randaugment", steps=3000
)
"""The default path on colour images: the same class-conditional VAE (its conv stack follows the
image size, its likelihood the calibrated Gaussian), with four times the step budget. How its
samples score as training data (the Classification Accuracy Score against the real images, and
the candidates measured beside it) is on docs/benchmarks.md (benchmarks/bench_cas.py)."""

TABULAR_RECIPE = Recipe("tabular-vae", {"conditional": True}, augment=None, steps=750)
"""The default path on feature vectors: a class-conditional MLP VAE (Iser 2023's protocol)."""

DEFAULT_RECIPE = Recipe(
    "vae",
    {"conditional": True, "latent_dim": 8},
    augment="randaugment",
    augment_copies=4,
    tabular=TABULAR_RECIPE,
    colour=COLOUR_RECIPE,
)
"""What ``learned-aug fit`` trains without model flags, and ``learned-aug evaluate``'s
``learned``: a class-conditional VAE (latent size 8) on the images plus four RandAugment copies,
sampled from its aggregate posterior."""
