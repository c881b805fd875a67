"""A teacher's soft labels (He et al. 2023): each synthetic target mixes the one-hot class a
sample was drawn for with a classifier's softened prediction (the Teacher is the synthetic
data's target_transform, as OneHot is the real data's); real data joins with OneHot;
the protocol trains on the soft targets and can keep RandAugment off the synthetic rows."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import ConcatDataset, DataLoader

from learned_aug import (
    LabelledData,
    MixSampler,
    OneHot,
    SyntheticDataset,
    Teacher,
    VAEConfig,
)
from learned_aug.evaluation import (
    ClassifierRecipe,
    EvaluationConfig,
    TabularMLP,
    fit_teacher,
    run_protocol,
    train_classifier,
)
from learned_aug.models import VAE


def brightness(x: torch.Tensor) -> torch.Tensor:
    """Two-class logits: class 1 for bright images, class 0 for dark ones."""
    m = x.flatten(1).mean(dim=1)
    return torch.stack([0.5 - m, m - 0.5], dim=1) * 8


def generator(conditional: bool) -> VAE:
    torch.manual_seed(0)
    config = VAEConfig(
        image_size=(8, 8),
        latent_dim=2,
        hidden_channels=(4,),
        classes=["dark", "bright"],
        conditional=conditional,
    )
    return VAE(config)


# ------------------------------------------------------------------------------ the targets
def test_targets_mix_the_one_hot_class_with_the_softened_prediction():
    x = torch.stack([torch.full((1, 4, 4), 0.2), torch.full((1, 4, 4), 0.9)])
    logits = brightness(x)
    teacher = Teacher(brightness, temperature=2.0, hard_weight=0.25)
    got = teacher.targets(x, torch.tensor([1, 1]), 2)
    want = 0.25 * torch.tensor([[0.0, 1.0], [0.0, 1.0]]) + 0.75 * (logits / 2).softmax(1)
    assert torch.allclose(got, want)
    assert torch.allclose(got.sum(1), torch.ones(2))
    # hard_weight 1: the class alone; 0: the teacher alone, its own class where none is given
    assert torch.equal(Teacher(brightness, hard_weight=1.0).targets(x, torch.tensor([1, 0]), 2),
                       torch.tensor([[0.0, 1.0], [1.0, 0.0]]))  # fmt: skip
    alone = Teacher(brightness, hard_weight=0.5).targets(x, None, 2)
    assert alone.argmax(1).tolist() == [0, 1] and bool((alone.max(1).values > 0.5).all())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"classifier": "not callable"}, TypeError, "classifier must be callable"),
        ({"temperature": 0.0}, ValueError, "temperature must be a finite number > 0, got 0.0"),
        ({"temperature": float("inf")}, ValueError, "temperature"),
        ({"hard_weight": 1.5}, ValueError, r"hard_weight must lie in \[0, 1\], got 1.5"),
    ],
)
def test_teacher_arguments_are_checked(kwargs, error, match):
    with pytest.raises(error, match=match):
        Teacher(**{"classifier": brightness, **kwargs})


def test_a_teacher_of_the_wrong_number_of_classes_is_refused():
    three = Teacher(lambda x: torch.zeros(len(x), 3))
    wanted = r"logits \(2, 2\) for 2 samples of 2 classes, got \(2, 3\)"
    with pytest.raises(ValueError, match=wanted):
        three.targets(torch.rand(2, 1, 4, 4), None, 2)


def test_one_hot_is_a_target_transform_with_checked_labels():
    assert OneHot(3)(2).tolist() == [0.0, 0.0, 1.0]
    assert OneHot(2)(torch.tensor(0)).dtype == torch.float32
    with pytest.raises(ValueError, match=r"label must lie in \[0, 2\] for OneHot\(3\), got 5"):
        OneHot(3)(5)
    with pytest.raises(ValueError, match="num_classes must be >= 1, got 0"):
        OneHot(0)
    with pytest.raises(TypeError, match="num_classes must be an int"):
        OneHot(2.0)  # type: ignore[arg-type]


# ------------------------------------------------------------------ SyntheticDataset items
def test_a_conditional_generator_keeps_its_classes_as_the_hard_part():
    teacher = Teacher(brightness, hard_weight=0.5)
    data = SyntheticDataset(generator(True), n=10, seed=3, target_transform=teacher)
    assert list(data.targets) == [0, 1] * 5  # known without generating
    x, targets = data.generate(range(10))
    assert targets.shape == (10, 2) and torch.allclose(targets.sum(1), torch.ones(10))
    want = 0.5 * F.one_hot(torch.tensor(data.targets), 2) + 0.5 * (brightness(x) / 2).softmax(1)
    assert torch.allclose(targets, want)
    image, target = data[3]
    assert torch.equal(image, x[3]) and torch.allclose(target, targets[3])
    again = SyntheticDataset(generator(True), n=10, seed=3, target_transform=teacher)
    assert torch.equal(again.generate(range(10))[1], targets)  # same seed, same soft labels


def test_explicit_labels_give_the_hard_part_and_the_teacher_the_rest():
    labels = [1, 1, 1, 0]
    teacher = Teacher(brightness, hard_weight=0.5)
    data = SyntheticDataset(generator(True), 4, labels, seed=1, target_transform=teacher)
    x, targets = data.generate(range(4))
    assert list(data.targets) == labels
    want = 0.5 * F.one_hot(torch.tensor(labels), 2) + 0.5 * (brightness(x) / 2).softmax(1)
    assert torch.allclose(targets, want)


def test_a_teacher_labels_an_unconditional_generator_without_a_bank():
    vae = generator(False)
    with pytest.raises(ValueError, match="cannot say which class"):
        SyntheticDataset(vae, n=6)
    data = SyntheticDataset(vae, n=6, target_transform=Teacher(brightness))
    x, targets = data.generate(range(6))
    assert data.classes == ["dark", "bright"]
    assert data.targets == brightness(x).argmax(1).tolist() == targets.argmax(1).tolist()


def test_teacher_and_unlabelled_and_wrong_types_are_refused():
    teacher = Teacher(brightness)
    with pytest.raises(TypeError, match=r"target_transform must be callable or None .*got str"):
        SyntheticDataset(generator(True), n=4, target_transform="soft")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"transform got a Teacher.*target_transform=teacher"):
        SyntheticDataset(generator(True), n=4, transform=teacher)
    with pytest.raises(ValueError, match="labels='unlabelled' asks for no labels"):
        SyntheticDataset(generator(True), n=4, labels="unlabelled", target_transform=teacher)
    with pytest.raises(TypeError, match=r"a Teacher labels generated samples.*OneHot"):
        teacher(1)  # a real dataset's target_transform sees the label alone


def test_soft_targets_are_not_written_out_as_hard_classes(tmp_path):
    from learned_aug.synthetic import to_folder

    data = SyntheticDataset(generator(True), n=4, target_transform=Teacher(brightness))
    with pytest.raises(ValueError, match="teacher's soft probabilities, which it would silently"):
        to_folder(data, tmp_path, progress=False)
    assert not any((tmp_path / c).exists() and any((tmp_path / c).iterdir()) for c in data.classes)


def test_soft_targets_collate_with_one_hot_real_data_under_mix_sampler():
    k = 2
    real = LabelledData(torch.rand(8, 1, 8, 8), torch.tensor([0, 1] * 4), ["dark", "bright"])
    real_hot = [(x, OneHot(k)(y)) for x, y in real]
    synthetic = SyntheticDataset(generator(True), n=20, target_transform=Teacher(brightness))
    joined = ConcatDataset([real_hot, synthetic])
    loader = DataLoader(joined, batch_sampler=MixSampler(joined, batch_size=8, share=0.5, rng=0))
    x, y = next(iter(loader))
    assert x.shape == (8, 1, 8, 8) and y.shape == (8, k) and y.dtype == torch.float32
    assert torch.equal(y[:4].sum(1), torch.ones(4)) and set(y[:4].flatten().tolist()) <= {0, 1}
    assert torch.allclose(y[4:].sum(1), torch.ones(4))
    assert F.cross_entropy(torch.zeros(8, k), y).item() == pytest.approx(0.6931, abs=1e-4)


# --------------------------------------------------------------------- training on them
def _line(values, label):
    x = torch.tensor(values, dtype=torch.float32)[:, None]
    return LabelledData(x, torch.full((len(values),), label), ["a", "b"])


def test_the_classifier_learns_the_soft_targets_not_the_hard_labels():
    real_a, real_b = _line([-1.0] * 8, 0), _line([1.0] * 8, 1)
    x, y = torch.cat([real_a.x, real_b.x]), torch.cat([real_a.y, real_b.y])
    real = LabelledData(x, y, ["a", "b"])
    synthetic = _line([3.0] * 16, 0)  # hard label "a" ...
    says_b = torch.tensor([[0.0, 1.0]] * 16)  # ... but the teacher says "b"

    def trained(targets):
        torch.manual_seed(0)
        result = train_classifier(
            TabularMLP(1, 2),
            real,
            ClassifierRecipe(min_steps=300, max_steps=300, label_smoothing=0.0),
            synthetic=synthetic,
            synthetic_targets=targets,
        )
        return result.model(torch.tensor([[3.0]])).argmax(1).item()

    assert trained(says_b) == 1 and trained(None) == 0
    with pytest.raises(ValueError, match=r"synthetic_targets must be a tensor of shape \(16, 2\)"):
        train_classifier(TabularMLP(1, 2), real, synthetic=synthetic,
                         synthetic_targets=torch.ones(3, 2))  # fmt: skip


def test_fit_teacher_trains_a_classifier_of_the_real_images(digits):
    train, test = digits.subset(range(0, 600)), digits.subset(range(1200, 1797))
    teacher = fit_teacher(train, recipe=ClassifierRecipe(min_steps=300, max_steps=300), seed=0)
    accuracy = (teacher.classifier(test.x).argmax(1) == test.y).float().mean().item()
    assert accuracy > 0.7
    assert not teacher.classifier.training  # labels do not depend on the batch
    with pytest.raises(ValueError, match="augment='randaugment' transforms images"):
        fit_teacher("wine")


def test_the_protocol_runs_a_teacher_condition(monkeypatch):
    from learned_aug.evaluation import CONDITIONS, LEARNED, LearnedSpec, register_learned

    saved = dict(LEARNED), dict(CONDITIONS)
    try:
        register_learned("learned-teacher", LearnedSpec("learned", None, teacher=True))
        config = EvaluationConfig(
            sizes=(30,),
            seeds=1,
            conditions=("learned", "learned-teacher"),
            recipe=ClassifierRecipe(min_steps=20, max_steps=20),
            generator_scale=0.02,
        )
        rows = {r["condition"]: r for r in run_protocol("wine", config, progress=False)}
    finally:
        LEARNED.clear(), LEARNED.update(saved[0])
        CONDITIONS.clear(), CONDITIONS.update(saved[1])
    assert set(rows) == set(config.conditions)
    assert all(0.0 <= r["macro_f1"] <= 1.0 for r in rows.values())
    assert rows["learned"]["steps"] == rows["learned-teacher"]["steps"] == 20
