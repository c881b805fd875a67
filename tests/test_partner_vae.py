"""A VAE trained in pairs (``partner=True``, DAGAN's idea): the encoder sees one image, the
decoder reconstructs another image of its class."""

from __future__ import annotations

import pytest
import torch
from conftest import QUICK, RUN, TINY

from learned_aug import FitSettings, fit, load_generator
from learned_aug.cli import build_parser
from learned_aug.cli import fit as cli_fit
from learned_aug.models import UNLABELLED, VAE, DenoisingVAE, VAEConfig, create_generator
from learned_aug.training import trainer
from learned_aug.training.pairs import Partners, trains_in_pairs


@pytest.fixture(scope="module")
def small(digits):
    """180 real 8x8 digits, 18 a class."""
    return digits.subset(range(0, 1797, 10))


@pytest.fixture
def spy(monkeypatch):
    """The ``_Trainer`` of each fit, and the ``target`` each training loss call got."""
    seen: dict[str, list] = {"trainers": [], "targets": []}
    train, loss = trainer._Trainer.train, VAE.loss

    def recording_train(self, progress):
        seen["trainers"].append(self)
        return train(self, progress)

    def recording_loss(self, x, labels=None, *, kl_weight=1.0, **kw):
        seen["targets"].append(kw.get("target"))
        return loss(self, x, labels, kl_weight=kl_weight, **kw)

    monkeypatch.setattr(trainer._Trainer, "train", recording_train)
    monkeypatch.setattr(VAE, "loss", recording_loss)
    return seen


def _weights_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_a_partner_is_another_row_of_its_class_and_a_pool_row_is_its_own():
    labels = torch.tensor([0, 1, 0, 2, 1, 0, UNLABELLED, 3, UNLABELLED, 1])
    partners, generator = Partners(labels), torch.Generator().manual_seed(0)
    rows, alone = torch.arange(len(labels)), (labels == UNLABELLED) | (labels == 2) | (labels == 3)
    drawn = torch.stack([partners.draw(generator) for _ in range(300)])
    assert (labels[drawn] == labels).all()
    assert ((drawn == rows) == alone).all(), "a row with company never pairs with itself"
    # Every other row of the class comes up, about equally often (class 0: rows 0, 2, 5).
    counts = torch.bincount(drawn[:, 0], minlength=len(labels))
    assert counts[0] == 0 and counts[2] > 120 and counts[5] > 120
    again = Partners(labels).draw(torch.Generator().manual_seed(0))
    assert torch.equal(again, drawn[0]), "the same seed draws the same partners"


def test_fit_with_partner_trains_on_same_class_pairs_and_round_trips(small, spy, tmp_path):
    result = fit("vae", small, QUICK, config={**TINY, "partner": True}, **RUN)
    (run,) = spy["trainers"]
    assert run.partner is not None and (run.y[run.partner] == run.y).all()
    assert (run.partner != torch.arange(len(run.y))).all(), "18 rows a class: never itself"
    targets = spy["targets"]
    assert targets and all(t is not None for t in targets), "every training step pairs"
    # The validation loss of early stopping is the paired one: its partners share the class.
    assert run.vt is not None and not torch.equal(run.vt, run.vx)
    for target, label in zip(run.vt, run.vy, strict=True):
        assert any(torch.equal(target, v) for v in run.vx[run.vy == label])
    assert result.history[0]["train_loss"] > 0
    result.model.save_pretrained(tmp_path)
    loaded = load_generator(tmp_path)
    assert loaded.config.partner is True
    assert '"partner": true' in (tmp_path / "config.json").read_text()


def test_the_same_seed_gives_the_same_weights(small):
    settings = FitSettings(epochs=2, amp=False, seed=3)
    a, b = (fit("vae", small, settings, config={**TINY, "partner": True}, **RUN) for _ in "ab")
    assert _weights_equal(a.model, b.model)
    c = fit(
        "vae",
        small,
        FitSettings(epochs=2, amp=False, seed=4),
        config={**TINY, "partner": True},
        **RUN,
    )
    assert not _weights_equal(a.model, c.model)


def test_without_partner_the_trainer_never_pairs(small, spy, monkeypatch):
    def refuse(self, generator):
        raise AssertionError("partner=False drew partners")

    monkeypatch.setattr(Partners, "draw", refuse)
    fit("vae", small, QUICK, config=TINY, **RUN)
    (run,) = spy["trainers"]
    assert run.partners is None and run.partner is None and run.vt is None
    assert spy["targets"] and all(t is None for t in spy["targets"])


def test_partner_training_with_an_unlabelled_pool_pairs_pool_rows_with_themselves(small, spy):
    pool = torch.rand(40, 1, 8, 8)
    config = {**TINY, "partner": True, "conditional": True}
    fit("vae", small, QUICK, config=config, unlabelled=pool, **RUN)
    (run,) = spy["trainers"]
    rows, unlabelled = torch.arange(len(run.y)), run.y == UNLABELLED
    assert unlabelled.sum() > 0
    assert torch.equal(run.partner[unlabelled], rows[unlabelled])
    assert (run.partner[~unlabelled] != rows[~unlabelled]).all()


@pytest.mark.filterwarnings("ignore::learned_aug.training.diagnostics.GeneratorWarning")
def test_resume_after_a_crash_gives_the_uninterrupted_partner_run(small, tmp_path):
    settings = FitSettings(epochs=2, amp=False, patience=None)
    kw = dict(config={**TINY, "partner": True}, progress=False, device="cpu")
    full = fit("vae", small, settings, out=tmp_path / "full", **kw)

    def crash(row):
        if row["epoch"] == 1:
            raise KeyboardInterrupt  # after epoch 1's checkpoint, as a kill would

    with pytest.raises(KeyboardInterrupt):
        fit("vae", small, settings, out=tmp_path / "cut", hooks=[crash], **kw)
    resumed = fit("vae", small, settings, out=tmp_path / "cut", resume=True, **kw)
    assert _weights_equal(full.model, resumed.model)
    assert [r["val_loss"] for r in resumed.history] == [r["val_loss"] for r in full.history]


def test_a_denoising_vae_trains_in_pairs_too(small, spy):
    fit("dvae", small, QUICK, config={**TINY, "partner": True, "corruption": "noise"}, **RUN)
    (run,) = spy["trainers"]
    assert run.partner is not None and (run.y[run.partner] == run.y).all()


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_a_bad_partner_value_is_refused_by_name(value):
    with pytest.raises(ValueError, match=f"partner must be True or False, got {value!r}"):
        VAEConfig(partner=value)


def test_per_class_partner_training_is_refused(small):
    gen = create_generator("vae", small.sample_shape, small.classes, per_class=True, partner=True)
    with pytest.raises(ValueError, match="partner=True is not supported with per_class"):
        trains_in_pairs(gen)
    assert not trains_in_pairs(DenoisingVAE({"image_size": (8, 8), "corruption": "none"}))


def test_the_cli_flag_reaches_the_config(monkeypatch, tmp_path):
    given = []

    def fake_fit(model, data, settings, *, config, **kw):
        given.append(config)
        raise SystemExit(0)

    monkeypatch.setattr(cli_fit, "fit", fake_fit)
    argv = ["fit", "--data", "digits", "--model", "vae", "--out", str(tmp_path), "--no-progress"]
    for extra, expected in (["--partner"], True), ([], None):
        with pytest.raises(SystemExit):
            cli_fit.run(build_parser().parse_args([*argv, *extra]))
        assert given.pop().get("partner") is expected
    fit_parser = next(a for a in build_parser()._actions if a.dest == "command").choices["fit"]
    assert "another image of its class" in " ".join(fit_parser.format_help().split())
