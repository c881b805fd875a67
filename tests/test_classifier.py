"""The protocol's classifiers and their one training recipe: steps, batches, schedule, seeds."""

from __future__ import annotations

import itertools
import math
import re

import pytest
import torch
from torchvision.transforms import v2

from learned_aug.data import LabelledData, balanced_subset
from learned_aug.evaluation import (
    ClassifierRecipe,
    ConvNet,
    PaperCNN,
    TabularMLP,
    default_classifier,
    pixel_baseline,
    predict_logits,
    scores,
    train_classifier,
)

SHORT = ClassifierRecipe(min_steps=8, max_steps=8)


@pytest.fixture(scope="module")
def few_digits(request):
    data = request.getfixturevalue("digits")
    return balanced_subset(data, 10, seed=0)


def _numbered_rows(n: int, offset: int = 0) -> LabelledData:
    """Rows whose single feature is their index, so a batch tells which rows it holds."""
    return LabelledData(
        torch.arange(offset, offset + n, dtype=torch.float32)[:, None],
        torch.arange(n) % 2,
        ["a", "b"],
    )


def _batches(train, recipe=SHORT, **kwargs) -> list[torch.Tensor]:
    seen = []

    def record(x, y):
        seen.append(x[:, 0].long())
        return x, y

    train_classifier(TabularMLP(1, 2), train, recipe, augment=record, **kwargs)
    return seen


# ------------------------------------------------------------------ networks
@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8), (3, 64, 48)])
def test_classifiers_fit_any_image_shape(shape):
    for net in (ConvNet(shape, 7), PaperCNN(shape, 7)):
        assert net(torch.rand(2, *shape)).shape == (2, 7)


def test_paper_cnn_is_the_papers_on_mnist():
    cnn = PaperCNN((1, 28, 28), 10)
    assert [m.out_channels for m in cnn.features if isinstance(m, torch.nn.Conv2d)] == [
        64, 128, 128, 128
    ]  # fmt: skip


def test_classifiers_refuse_wrong_shapes():
    with pytest.raises(ValueError, match=re.escape("sample_shape must be (C, H, W), got (64,)")):
        ConvNet((64,), 3)
    with pytest.raises(ValueError, match=re.escape("width must be a positive int, got 0.5")):
        ConvNet((1, 8, 8), 3, width=0.5)


def test_default_classifier_picks_by_data(digits):
    assert isinstance(default_classifier(digits), ConvNet)
    rows = LabelledData(torch.rand(20, 4), torch.arange(20) % 2, ["a", "b"])
    assert isinstance(default_classifier(rows), TabularMLP)


# ------------------------------------------------------------------ recipe
def test_tabular_mlp_adds_noise_to_standardised_features_only_while_training():
    torch.manual_seed(0)
    mean, std = torch.tensor([10.0, -5.0]), torch.tensor([2.0, 0.5])
    noisy, clean = (
        TabularMLP(2, 3, mean=mean, std=std),
        TabularMLP(2, 3, mean=mean, std=std, noise=0),
    )
    clean.load_state_dict(noisy.state_dict())
    x = mean + std * torch.randn(64, 2)
    for m in (noisy, clean):
        m.eval()
    assert torch.equal(noisy(x), clean(x))  # no noise at test time
    noisy.train()
    clean.net[2].p = noisy.net[2].p = 0.0  # dropout off: only the input noise differs
    torch.manual_seed(1)
    got = noisy(x)
    torch.manual_seed(1)
    eps = torch.randn_like(x)
    assert torch.allclose(got, clean.net((x - mean) / std + 0.3 * eps), atol=1e-6)
    with pytest.raises(ValueError, match=r"noise must be >= 0, got -0\.1"):
        TabularMLP(2, 3, noise=-0.1)


def test_the_step_rule_grows_with_the_data_between_its_bounds():
    recipe = ClassifierRecipe(epochs=30, min_steps=400, max_steps=2000, batch_size=64)
    assert [recipe.steps(n) for n in (50, 853, 854, 2500, 10**5)] == [400, 400, 401, 1172, 2000]


def test_warm_up_then_cosine_to_zero():
    recipe = ClassifierRecipe(lr=1.0, warmup=0.1)
    lrs = [recipe.lr_at(step, 100) for step in range(101)]
    assert lrs[0] == 0 and lrs[5] == pytest.approx(0.5) and lrs[10] == pytest.approx(1.0)
    assert lrs[55] == pytest.approx(0.5) and lrs[100] == pytest.approx(0.0)
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:])), "decays after warm-up"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "batch_size must be a positive int, got 0"),
        ({"min_steps": 10, "max_steps": 5}, "min_steps=10 is above max_steps=5"),
        ({"lr": 0}, "lr must be > 0, got 0"),
        ({"label_smoothing": 1.0}, "label_smoothing must be in [0, 1), got 1.0"),
    ],
)
def test_recipe_refuses_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ClassifierRecipe(**kwargs)


# ------------------------------------------------------------------ training
def test_train_classifier_learns_and_beats_pixels(few_digits):
    train, test = few_digits
    torch.manual_seed(0)
    result = train_classifier(ConvNet(train.sample_shape, 10), train)
    assert result.steps == ClassifierRecipe().min_steps == len(result.history)
    f1 = scores(test.y, predict_logits(result.model, test.x).argmax(1))["macro_f1"]
    assert f1 > pixel_baseline(train, test) > 0.5  # 10 per class; chance is 0.1
    assert result.final_loss == pytest.approx(sum(result.history[-40:]) / 40)


def test_every_batch_is_full_even_on_fewer_real_images_than_a_batch():
    seen = _batches(_numbered_rows(20), ClassifierRecipe(batch_size=8, min_steps=5, max_steps=5))
    assert [len(b) for b in seen] == [8] * 5  # 40 draws: two passes over the 20 rows
    assert sorted(torch.cat(seen).tolist()) == sorted(list(range(20)) * 2)


def test_synthetic_rows_fill_their_share_of_the_same_batch():
    pool = _numbered_rows(1000, offset=1000)  # synthetic rows are numbered 1000..1999
    seen = _batches(_numbered_rows(100), synthetic=pool, share=0.25)
    assert [len(b) for b in seen] == [64] * 8
    assert all(int((b >= 1000).sum()) == 16 for b in seen)  # 48 real, 16 synthetic
    synthetic = torch.cat([b[b >= 1000] for b in seen])
    assert len(set(synthetic.tolist())) == len(synthetic), "no synthetic row twice in a pass"
    real = torch.cat([b[b < 1000] for b in seen])
    assert sorted(real[:100].tolist()) == list(range(100)), "each real row once per pass"


def test_views_repeat_each_real_image_in_place_of_the_synthetic_half():
    seen = _batches(_numbered_rows(96), views=2)  # three batches a pass
    for batch in seen:
        assert len(batch) == 64 and len(set(batch.tolist())) == 32
        assert torch.equal(batch[:32], batch[32:])  # the same 32 images, each augmented twice


def test_views_are_augmented_independently(few_digits):
    train, _ = few_digits
    seen = []

    def keep(x, y):
        seen.append(x)
        return x, y

    from learned_aug.conventional import get_conventional

    augment = v2.Compose([get_conventional("randaugment", rng=0), keep])
    train_classifier(ConvNet(train.sample_shape, 10), train, SHORT, augment=augment, views=2)
    assert not torch.equal(seen[0][:32], seen[0][32:])


def test_train_classifier_is_deterministic_in_its_seed(few_digits):
    train, _ = few_digits
    runs = []
    for seed in (1, 1, 2):
        torch.manual_seed(0)
        runs.append(train_classifier(ConvNet(train.sample_shape, 10), train, SHORT, seed=seed))
    same = [r.model.state_dict() for r in runs]
    assert all(torch.equal(same[0][k], same[1][k]) for k in same[0])
    assert not all(torch.equal(same[0][k], same[2][k]) for k in same[0])


def test_train_classifier_checks_its_batch_plan(few_digits):
    train, _ = few_digits
    net = ConvNet(train.sample_shape, 10)
    with pytest.raises(ValueError, match="views=2 repeats each real image: it needs an augment"):
        train_classifier(net, train, SHORT, views=2)
    with pytest.raises(ValueError, match="views=3 does not divide the 64 real rows"):
        train_classifier(net, train, SHORT, views=3, augment=lambda x, y: (x, y))
    with pytest.raises(ValueError, match="share must be a fraction in"):
        train_classifier(net, train, SHORT, synthetic=train, share=1.0)


def test_train_classifier_takes_any_transform_of_the_batch(few_digits):
    # the protocol of torchvision's v2 transforms on an (images, labels) sample: MixUp's soft
    # labels train the classifier as well
    train, _ = few_digits
    seen = []

    def labels_of(x, y):
        seen.append(y)
        return x, y

    mix = v2.Compose([v2.MixUp(num_classes=10), labels_of])
    result = train_classifier(ConvNet(train.sample_shape, 10), train, SHORT, augment=mix)
    assert result.steps == 8 and len(seen) == 8
    assert all(y.shape == (64, 10) and torch.allclose(y.sum(1), torch.ones(64)) for y in seen)
    assert all(((y > 0) & (y < 1)).any() for y in seen)  # mixed, not one-hot
    assert not math.isnan(result.final_loss)
