"""fit(init=...): start from a pretrained generator (new classes start at the mean class), and
fit(unlabelled=...): a pool of unlabelled images trained on with the class left open."""

from __future__ import annotations

import dataclasses
import json
from typing import ClassVar

import PIL.Image
import pytest
import torch
from conftest import QUICK, RUN, TINY

from learned_aug import UNLABELLED, VAE, Recipe, VAEConfig, fit, load_generator
from learned_aug.cli import main
from learned_aug.data import LabelledData, load_dataset, load_unlabelled
from learned_aug.latent_bank import bank_of
from learned_aug.models import ClasswiseGenerator
from learned_aug.training import fitting
from learned_aug.training.recipe import RUN_NAMES
from learned_aug.training.settings import FitSettings

LABEL_COLUMNS = ("enc_fc.0.weight", "dec_fc.0.weight")
CONDITIONAL = {"conditional": True, **TINY}


def _classes(digits: LabelledData, low: int, count: int, every: int = 1) -> LabelledData:
    """The digits of classes ``low .. low + count - 1``, relabelled 0.., with only those classes."""
    keep = ((digits.y >= low) & (digits.y < low + count)).nonzero().flatten()[::every]
    names = [str(d) for d in range(low, low + count)]
    return LabelledData(digits.x[keep].clone(), digits.y[keep] - low, names)


@pytest.fixture(scope="module")
def low(digits) -> LabelledData:
    """Digits 0-4 (about 900 8x8 images)."""
    return _classes(digits, 0, 5)


@pytest.fixture(scope="module")
def high(digits) -> LabelledData:
    """Digits 5-9, every fourth (about 225 images)."""
    return _classes(digits, 5, 5, every=4)


@pytest.fixture(scope="module")
def pretrained(low) -> VAE:
    """A tiny class-conditional VAE trained one epoch on digits 0-4."""
    return fit("vae", low, QUICK, config=CONDITIONAL, **RUN).model


@pytest.fixture(scope="module")
def pretrained_dir(pretrained, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pretrained")
    pretrained.save_pretrained(folder)
    return folder


def _state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class _Spy(fitting._Trainer):
    """The trainer, recording how many rows it trains and validates on, and their labels."""

    rows: ClassVar[list[tuple[int, torch.Tensor]]] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _Spy.rows.append((len(self.x) + len(self.vx), torch.cat([self.y, self.vy]).cpu()))


@pytest.fixture
def spy(monkeypatch):
    _Spy.rows = []
    monkeypatch.setattr(fitting, "_Trainer", _Spy)
    return _Spy.rows


# ------------------------------------------------------------------------- with_classes
def test_with_classes_keeps_shared_columns_and_starts_new_classes_at_the_mean():
    torch.manual_seed(0)
    vae = VAE(VAEConfig(image_size=(8, 8), classes=["0", "1", "2"], **CONDITIONAL)).eval()
    before = _state(vae)
    new = vae.with_classes(["2", "0", "x", "y"])
    assert new.classes == ["2", "0", "x", "y"] and vae.classes == ["0", "1", "2"]
    assert all(torch.equal(v, before[k]) for k, v in vae.state_dict().items())  # untouched
    after = new.state_dict()
    for name in LABEL_COLUMNS:
        old, got = before[name], after[name]
        assert got.shape == (old.shape[0], old.shape[1] + 1)
        assert torch.equal(got[:, :-4], old[:, :-3])  # the features' columns
        assert torch.equal(got[:, -4], old[:, -1]) and torch.equal(got[:, -3], old[:, -3])
        mean = old[:, -3:].mean(dim=1)
        assert torch.equal(got[:, -2], mean) and torch.equal(got[:, -1], mean)
    others = [k for k in before if k not in LABEL_COLUMNS]
    assert others and all(torch.equal(after[k], before[k]) for k in others)
    z, x = torch.randn(6, 3), torch.rand(6, 1, 8, 8)
    with torch.no_grad():  # class "2" is label 2 before and label 0 after
        torch.testing.assert_close(new.decode(z, [0] * 6), vae.decode(z, [2] * 6), rtol=0, atol=0)
        torch.testing.assert_close(
            new.encode_mean(x, [1] * 6), vae.encode_mean(x, [0] * 6), rtol=0, atol=1e-7
        )


def test_with_classes_of_an_unconditional_generator_only_renames(plain):
    renamed = plain.with_classes(["a", "b"])
    assert renamed.classes == ["a", "b"] and plain.classes == []
    assert all(torch.equal(v, plain.state_dict()[k]) for k, v in renamed.state_dict().items())


def test_with_classes_refuses_a_conditional_model_that_cannot_grow_classes(classwise):
    with pytest.raises(NotImplementedError, match=r"init= with new classes is supported for "
                       r".*got a class-conditional ClasswiseGenerator"):  # fmt: skip
        classwise.with_classes(["a", "b"])
    assert isinstance(classwise, ClasswiseGenerator)
    with pytest.raises(ValueError, match=r"classes must be non-empty, unique .*\['a', 'a'\]"):
        VAE(VAEConfig(image_size=(8, 8), **CONDITIONAL, classes=["z"])).with_classes(["a", "a"])


# ------------------------------------------------------------------------- fit(init=...)
def test_fit_from_a_generator_of_other_classes_learns_the_datas_classes(pretrained, high):
    before = _state(pretrained)
    result = fit("vae", high, QUICK, init=pretrained, config={"conditional": True}, **RUN)
    model = result.model
    assert model is not pretrained and model.classes == [str(d) for d in range(5, 10)]
    assert pretrained.classes == [str(d) for d in range(5)]
    assert all(torch.equal(v, before[k]) for k, v in pretrained.state_dict().items())
    bank = bank_of(model)  # rebuilt from the new data
    assert len(bank) == len(high) and bank.labels.tolist() == high.y.tolist()
    assert len(result.history) == 1 and model.sample(5, [4] * 5).shape == (5, 1, 8, 8)
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert "decoder.0.weight" in changed  # nothing frozen: the shared weights fine-tune


@pytest.mark.filterwarnings("ignore::learned_aug.training.diagnostics.GeneratorWarning")
def test_zero_epochs_with_init_keeps_the_pretrained_weights(pretrained, high, tmp_path):
    settings = dataclasses.replace(QUICK, epochs=0)
    result = fit("vae", high, settings, init=pretrained, out=tmp_path / "run", **RUN)
    old, new = pretrained.state_dict(), result.model.state_dict()
    assert all(torch.equal(new[k], old[k]) for k in old if k not in LABEL_COLUMNS)
    for name in LABEL_COLUMNS:  # classes 5-9 are all new: each starts at the mean of 0-4
        mean = old[name][:, -5:].mean(dim=1, keepdim=True).expand(-1, 5)
        assert torch.equal(new[name][:, :-5], old[name][:, :-5])
        assert torch.equal(new[name][:, -5:], mean)
    assert result.history == [] and result.best_epoch == 0
    # The validation loss of the pretrained weights (the ELBO draws z: equal up to noise).
    assert result.best_val_loss == pytest.approx(
        fitting.evaluate_loss(result.model, *_val_rows(high, settings), 64), rel=0.02
    )
    assert len(bank_of(result.model)) == len(high)
    saved = load_generator(tmp_path / "run")
    assert saved.classes == high.classes
    assert all(torch.equal(v, new[k]) for k, v in saved.state_dict().items())


def _val_rows(data, settings):
    from learned_aug.data import stratified_split

    _, val = stratified_split(data.y, settings.val_fraction, settings.seed)
    return data.x[val], data.y[val]


def test_zero_epochs_without_init_is_refused(high):
    with pytest.raises(ValueError, match=r"settings.epochs=0 trains nothing: it is for "
                       r"fit\(init=...\)"):  # fmt: skip
        fit("vae", high, FitSettings(epochs=0), **RUN)


def test_a_mismatched_init_is_refused_naming_both_values(pretrained, pretrained_dir, high):
    with pytest.raises(ValueError, match=r"model='dvae', but the init generator is a 'vae'"):
        fit("dvae", high, QUICK, init=pretrained, **RUN)
    with pytest.raises(ValueError, match=r"config\['latent_dim'\]=7, but the init generator "
                       r"has latent_dim=3"):  # fmt: skip
        fit("vae", high, QUICK, init=pretrained_dir, config={"latent_dim": 7}, **RUN)
    with pytest.raises(ValueError, match=r"config\['conditional'\]=False, .* conditional=True"):
        fit("vae", high, QUICK, init=pretrained, config={"conditional": False}, **RUN)
    with pytest.raises(ValueError, match=r"config\['per_class'\]=True builds a new generator"):
        fit("vae", high, QUICK, init=pretrained, config={"per_class": True}, **RUN)
    bigger = load_dataset(high, image_size=10)
    with pytest.raises(ValueError, match=r"sample shape \(1, 10, 10\), but the init generator "
                       r"expects \(1, 8, 8\).*image_size="):  # fmt: skip
        fit("vae", bigger, QUICK, init=pretrained, **RUN)
    with pytest.raises(TypeError, match=r"pass model='vae'"):
        fit(pretrained, high, QUICK, init=pretrained, **RUN)


def test_an_init_given_by_folder_trains_and_equals_the_same_init_given_as_object(
    pretrained, pretrained_dir, high
):
    by_folder = fit("vae", high, QUICK, init=pretrained_dir, **RUN).model
    by_object = fit("vae", high, QUICK, init=pretrained, **RUN).model
    assert all(torch.equal(v, by_object.state_dict()[k]) for k, v in by_folder.state_dict().items())


# ------------------------------------------------------------------------- fit(unlabelled=...)
def test_a_pool_is_trained_on_as_unlabelled_rows(low, high, spy):
    pool = high.x[:40]
    model = fit("vae", low, QUICK, config=CONDITIONAL, unlabelled=pool, **RUN).model
    rows, labels = spy[0]
    assert rows == len(low) + 40
    assert (labels == UNLABELLED).sum() == 40 and labels.max() == 4
    assert len(bank_of(model)) == len(low)  # the bank: the labelled images alone
    fit("vae", low, QUICK, config=TINY, unlabelled=high, **RUN)  # unconditional, a LabelledData
    assert spy[1][0] == len(low) + len(high)


def test_an_unlabelled_row_gets_the_uniform_class_and_sampling_refuses_it(pretrained):
    onehot = pretrained._onehot(torch.tensor([UNLABELLED, 3]), 2, allow_unlabelled=True)
    assert torch.equal(onehot, torch.tensor([[0.2] * 5, [0.0, 0.0, 0.0, 1.0, 0.0]]))
    assert torch.isfinite(pretrained.loss(torch.rand(2, 1, 8, 8), torch.tensor([-1, 0]))["loss"])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\].*only for training"):
        pretrained.sample(1, labels=[UNLABELLED])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\]"):
        pretrained.decode(torch.zeros(1, 3), torch.tensor([UNLABELLED]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\].*or be -1.*\[-2, -2\]"):
        pretrained.loss(torch.rand(1, 1, 8, 8), torch.tensor([-2]))


def test_a_pool_is_refused_for_a_conditional_model_that_cannot_take_it(low, high):
    with pytest.raises(ValueError, match=r"class-conditional ClasswiseGenerator \('classwise'\) "
                       r"cannot"):  # fmt: skip
        fit("vae", low, QUICK, config={"per_class": True, **TINY}, unlabelled=high.x, **RUN)


def test_a_pool_of_another_shape_or_empty_is_refused(low):
    with pytest.raises(ValueError, match=r"unlabelled has sample shape \(1, 10, 10\).*the "
                       r"labelled data have \(1, 8, 8\)"):  # fmt: skip
        fit("vae", low, QUICK, unlabelled=torch.rand(5, 1, 10, 10), **RUN)
    with pytest.raises(ValueError, match="unlabelled is empty"):
        fit("vae", low, QUICK, unlabelled=torch.rand(0, 1, 8, 8), **RUN)
    with pytest.raises(ValueError, match=r"unlabelled images must lie in \[0, 1\]"):
        load_unlabelled(torch.full((2, 1, 8, 8), 2.0), (1, 8, 8))
    with pytest.raises(TypeError, match="unlabelled must be a float tensor"):
        load_unlabelled([1, 2], (1, 8, 8))


def _png_folder(root, count: int = 6):
    """``count`` colour PNGs of 12x12 in nested folders (and a text file, skipped)."""
    for i in range(count):
        folder = root / "a" / ("b" if i % 2 else "")
        folder.mkdir(parents=True, exist_ok=True)
        PIL.Image.new("RGB", (12, 12), (40 * i, 0, 0)).save(folder / f"{i}.png")
    return root


def test_a_folder_pool_is_read_at_any_depth_and_resized_to_the_data(tmp_path):
    with pytest.warns(UserWarning, match="skipped 1 non-image file"):
        (tmp_path / "notes.txt").write_text("x")
        pool = load_unlabelled(_png_folder(tmp_path), (1, 8, 8))
    assert pool.shape == (6, 1, 8, 8) and pool.dtype == torch.float32
    assert float(pool.min()) >= 0 and float(pool.max()) <= 1 and len(pool.unique()) > 1
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no image files under"):
        load_unlabelled(tmp_path / "empty", (1, 8, 8))
    with pytest.raises(ValueError, match=r"is a folder of images, but the labelled data are "
                       r"feature vectors"):  # fmt: skip
        load_unlabelled(tmp_path, (13,))


def test_a_pool_is_added_to_the_labelled_training_not_taken_out_of_it(low, high, spy):
    # Without augmentation: the labelled rows keep their epochs, the pool doubles the steps.
    quick = Recipe("vae", CONDITIONAL, steps=20, min_epochs=1, max_epochs=50)
    alone, with_pool = quick.fit_settings(low), quick.fit_settings(low, pool=len(low))
    assert with_pool.epochs == alone.epochs
    # With augmentation: enough copies that labelled rows match the pool, and every labelled
    # image gets the optimizer steps it gets without one (epochs over rows * copies).
    aug = quick.replace(augment="randaugment", augment_copies=4, steps=200, max_epochs=400)
    base, pooled = aug.fit_settings(low), aug.fit_settings(low, pool=20 * len(low))
    assert (base.augment_copies, pooled.augment_copies) == (4, 19)
    per_image = [s.epochs * (s.augment_copies + 1) for s in (base, pooled)]
    assert per_image[1] == pytest.approx(per_image[0], rel=0.15)
    quick.fit(low, unlabelled=high.x[:30], amp=False, **RUN)
    assert spy[0][0] == len(low) + 30
    assert "init" not in RUN_NAMES and "unlabelled" not in RUN_NAMES


def test_fits_with_the_same_seed_init_and_pool_give_the_same_weights(pretrained, low, high):
    runs = [
        fit("vae", low, QUICK, init=pretrained, unlabelled=high.x[:30], **RUN).model
        for _ in range(2)
    ]
    a, b = (r.state_dict() for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------------- the recipe, the CLI
def test_the_recipe_keeps_its_init_in_the_part_it_picks(pretrained_dir, high):
    colour = Recipe("vae", {"latent_dim": 5})
    recipe = Recipe("vae", {}, init=str(pretrained_dir), colour=colour)
    rgb = load_dataset(high, channels=3)
    assert recipe.for_data(rgb).init == str(pretrained_dir)
    assert recipe.for_data(rgb).config == {"latent_dim": 5}
    assert Recipe(init="x", colour=Recipe(init="y")).for_data(rgb).init == "y"
    quick = recipe.replace(config={"conditional": True}, steps=10, min_epochs=1)
    model = quick.fit(high, amp=False, **RUN).model
    assert model.classes == high.classes and model.config.latent_dim == 3


def test_the_copies_a_recipe_trains_are_the_copies_it_budgets(low):
    few = low.subset(torch.arange(0, len(low), 18))  # about 50 images: no epoch floor
    aug = Recipe("vae", CONDITIONAL, augment="randaugment", steps=200, max_epochs=400)
    base = aug.fit_settings(few)
    for pool in (0, 20 * len(few)):
        given = aug.fit_settings(few, pool=pool, augment_copies=9)
        assert given.augment_copies == 9
        per_image = given.epochs * (given.augment_copies + 1)
        # equal up to whole batches an epoch (about 3.3 against 6.6 batches here, rounded up);
        # budgeting 4 copies while training 9 would double it
        assert per_image == pytest.approx(base.epochs * (base.augment_copies + 1), rel=0.2)


@pytest.mark.filterwarnings("ignore::learned_aug.training.diagnostics.GeneratorWarning")
def test_the_cli_recipe_with_a_pool_trains_enough_copies_to_match_it(digits, tmp_path):
    labelled = tmp_path / "labelled"
    for i in range(20):  # 2 digits a class
        folder = labelled / str(int(digits.y[i * 80]))
        folder.mkdir(parents=True, exist_ok=True)
        PIL.Image.fromarray((digits.x[i * 80, 0] * 255).byte().numpy()).save(folder / f"{i}.png")
    pool = tmp_path / "pool"
    pool.mkdir()
    for i in range(200):
        PIL.Image.fromarray((digits.x[i, 0] * 255).byte().numpy()).save(pool / f"{i}.png")
    run = tmp_path / "run"
    argv = ["fit", "--data", str(labelled), "--unlabelled", str(pool), "--epochs", "1",
            "--no-progress", "--device", "cpu", "--out", str(run)]  # fmt: skip
    assert main(argv) == 0
    record = json.loads((run / "training.json").read_text())
    # the default recipe: 200 pool rows / 20 images -> 9 copies each (not the flag's 4)
    assert record["augment_copies"] == 9 and record["trained_on"] == 20 * 10 + 200


@pytest.mark.filterwarnings("ignore::learned_aug.training.diagnostics.GeneratorWarning")
def test_cli_fit_from_an_init_folder_and_with_an_unlabelled_folder(
    pretrained_dir, tmp_path, capsys
):
    data = ["fit", "--data", "digits", "--no-progress", "--device", "cpu", "--epochs", "1"]
    run = tmp_path / "run"
    assert main([*data, "--init", str(pretrained_dir), "--augment", "none", "--out", str(run)]) == 0
    assert load_generator(run).classes == [str(d) for d in range(10)]
    record = json.loads((run / "training.json").read_text())
    assert record["init"] == str(pretrained_dir) and record["epochs_run"] == 1
    assert f"from {pretrained_dir}" in capsys.readouterr().err
    flags = ["--model", "vae", "--latent-dim", "3", "--conditional", "--augment", "none"]
    pooled = tmp_path / "pooled"
    args = [*data, *flags, "--unlabelled", str(_png_folder(tmp_path / "pngs")), "--out"]
    assert main([*args, str(pooled)]) == 0
    record = json.loads((pooled / "training.json").read_text())
    assert record["unlabelled"] == 6 and record["trained_on"] == 1797 + 6
    clash = ["--latent-dim", "5", "--out", str(tmp_path / "clash")]
    assert main([*data, "--init", str(pretrained_dir), *clash]) == 2
    assert "config['latent_dim']=5, but the init generator has latent_dim=3" in (
        capsys.readouterr().err
    )


@pytest.mark.filterwarnings("ignore::learned_aug.training.diagnostics.GeneratorWarning")
def test_a_run_with_init_and_pool_resumes_to_the_uninterrupted_weights(pretrained, high, tmp_path):
    pool = high.x[:20]
    two = dataclasses.replace(QUICK, epochs=2, patience=None)
    whole = fit("vae", high, two, init=pretrained, unlabelled=pool, **RUN).model
    run = tmp_path / "run"
    fit("vae", high, dataclasses.replace(two, epochs=1), init=pretrained, unlabelled=pool, out=run,
        **RUN)  # fmt: skip
    resumed = fit("vae", high, two, init=pretrained, unlabelled=pool, out=run, resume=True, **RUN)
    assert len(resumed.history) == 2
    a, b = whole.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
