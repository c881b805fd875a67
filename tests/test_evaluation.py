"""The few-shot protocol on real data: classifier, augmentations, latent samplers, report, CLI."""

from __future__ import annotations

import math
import re
from types import SimpleNamespace as Namespace

import pytest
import torch
from torchvision.transforms import v2

from learned_aug import Recipe, speed
from learned_aug.cli import main
from learned_aug.conventional import get_conventional
from learned_aug.data import LabelledData, balanced_subset
from learned_aug.evaluation import (
    CONDITIONS,
    GENERATORS,
    EvaluationConfig,
    PaperCNN,
    TabularMLP,
    default_classifier,
    get_augment,
    predict_logits,
    run_protocol,
    scores,
    train_classifier,
)
from learned_aug.evaluation.protocol import classifier_precision
from learned_aug.evaluation.report import (
    gain_interval,
    judge,
    learned_pairs,
    markdown_table,
    read_csv,
    verdict,
    wilcoxon_test,
    write_csv,
    write_report,
)
from learned_aug.training.recipe import step_budget

TINY_VAE = Recipe(
    "vae",
    {"per_class": True, "latent_dim": 3, "hidden_channels": (8, 16), "hidden_dim": 32},
    steps=20,
    min_epochs=3,
)


@pytest.fixture
def tiny_generators(monkeypatch):
    """The protocol's generators, shrunk so a protocol run takes seconds."""
    monkeypatch.setitem(GENERATORS, "vae", TINY_VAE)
    cvae = Recipe("vae", {**TINY_VAE.config, "conditional": True}, steps=20, min_epochs=20)
    monkeypatch.setitem(GENERATORS, "cvae", cvae)
    vq = {"codebook_size": 16, "hidden_channels": (8,), "prior_dim": 16, "prior_layers": 1}
    monkeypatch.setitem(GENERATORS, "vqvae", Recipe("vqvae", vq, steps=10, min_epochs=2))


@pytest.fixture(scope="module")
def few_digits(request):
    data = request.getfixturevalue("digits")
    return balanced_subset(data, 10, seed=0)


# ------------------------------------------------------------------ classifiers
@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8), (3, 64, 48)])
def test_paper_cnn_fits_any_image_shape(shape):
    logits = PaperCNN(shape, 10)(torch.rand(2, *shape))
    assert logits.shape == (2, 10)


def test_paper_cnn_is_the_papers_on_mnist():
    convs = [m for m in PaperCNN((1, 28, 28), 10).modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 128, 128]
    assert all(c.padding == (0, 0) for c in convs)  # Keras' default "valid" convs


def test_paper_cnn_refuses_wrong_shapes():
    with pytest.raises(ValueError, match="sample_shape"):
        PaperCNN((30,), 2)
    with pytest.raises(ValueError, match="num_classes"):
        PaperCNN((1, 8, 8), 1)


def test_default_classifier_picks_by_data(digits):
    from learned_aug.data import load_dataset

    assert isinstance(default_classifier(digits), PaperCNN)
    wine = load_dataset("wine")
    mlp = default_classifier(wine)
    assert isinstance(mlp, TabularMLP)
    assert torch.allclose(mlp.mean, wine.x.mean(0))


def test_train_classifier_learns(few_digits):
    train, test = few_digits
    torch.manual_seed(0)
    result = train_classifier(PaperCNN(train.sample_shape, 10), train, None, max_epochs=25)
    assert len(result.history) == 25 and result.best_epoch == 25  # no validation: the last
    pred = predict_logits(result.model, test.x).argmax(1)
    assert scores(test.y, pred)["accuracy"] > 0.5  # 10 per class; chance is 0.1


def test_train_classifier_stops_early_at_the_best_validation_loss(few_digits):
    train, test = few_digits
    # wrong validation labels: the better the model fits, the worse the validation loss
    val = test.subset(range(100))
    val.y = (val.y + 1) % 10
    result = train_classifier(
        PaperCNN(train.sample_shape, 10), train, val, max_epochs=30, patience=3
    )
    assert len(result.history) < 30
    assert result.best_epoch == min(result.history, key=lambda h: h["val_loss"])["epoch"]
    assert len(result.history) == result.best_epoch + 3


def test_train_classifier_mixes_synthetic_rows_at_the_share():
    train, pool, seen = _numbered_rows(100), _numbered_rows(1000), []
    pool.x += 1000  # synthetic rows are numbered 1000..1999

    def record(x, y):
        seen.append(x[:, 0].long())
        return x, y

    result = train_classifier(
        TabularMLP(1, 2),
        train,
        None,
        augment=record,
        synthetic=pool,
        synthetic_share=0.25,
        max_epochs=2,
        min_steps_per_epoch=3,
    )
    assert result.steps == 2 * 4  # 100 real rows in batches of 32, twice
    assert [len(b) for b in seen] == [43] * 8  # 32 real and 11 synthetic: a share of 0.26
    assert all(int((b >= 1000).sum()) == 11 for b in seen)
    synthetic = torch.cat([b[b >= 1000] for b in seen])
    assert len(set(synthetic.tolist())) == len(synthetic), "no synthetic row twice in a pass"
    assert math.isnan(result.best_val_loss)


def _numbered_rows(n: int) -> LabelledData:
    """Rows whose single feature is their index, so a batch tells which rows it holds."""
    return LabelledData(
        torch.arange(n, dtype=torch.float32)[:, None], torch.arange(n) % 2, ["a", "b"]
    )


def test_an_epoch_is_one_pass_without_replacement():
    train, seen = _numbered_rows(96), []

    def record(x, y):
        seen.append(x[:, 0].long())
        return x, y

    result = train_classifier(
        TabularMLP(1, 2), train, None, augment=record, batch_size=32, max_epochs=3
    )
    assert result.steps == 9  # 3 steps a pass
    for epoch in range(3):
        rows = torch.cat(seen[3 * epoch : 3 * epoch + 3])
        assert sorted(rows.tolist()) == list(range(96)), "each row once per epoch"
    assert seen[0].tolist() != seen[3].tolist(), "reshuffled every pass"


def test_short_epochs_take_whole_passes_and_batches_stay_full():
    train, seen = _numbered_rows(20), []
    train_classifier(
        TabularMLP(1, 2),
        train,
        None,
        augment=lambda x, y: seen.append(x[:, 0].long()) or (x, y),
        batch_size=8,
        max_epochs=1,
        min_steps_per_epoch=5,
    )
    assert [len(b) for b in seen] == [8] * 5  # 40 draws: two passes over the 20 rows
    assert sorted(torch.cat(seen).tolist()) == sorted(list(range(20)) * 2)


def test_train_classifier_is_deterministic_in_its_seed(few_digits):
    train, _ = few_digits
    runs = []
    for seed in (1, 1, 2):
        torch.manual_seed(0)
        model = PaperCNN(train.sample_shape, 10, width=0.25)
        runs.append(train_classifier(model, train, None, max_epochs=2, seed=seed))
    same = [r.model.state_dict() for r in runs]
    assert all(torch.equal(same[0][k], same[1][k]) for k in same[0])
    assert not all(torch.equal(same[0][k], same[2][k]) for k in same[0])


def test_protocol_precision_is_asked_or_chosen(digits, monkeypatch):
    monkeypatch.delenv(speed.ENV_VAR, raising=False)
    asked = classifier_precision(EvaluationConfig(bf16=True), digits)
    assert asked.enabled and asked.reason == "asked for autocast"
    monkeypatch.setenv(speed.ENV_VAR, "0")
    chosen = classifier_precision(EvaluationConfig(), digits)
    assert not chosen.enabled and chosen.reason == f"{speed.ENV_VAR}=0"
    monkeypatch.delenv(speed.ENV_VAR)
    if not speed.native_bf16():  # a CPU without bf16 units: float32, and nothing timed
        assert not classifier_precision(EvaluationConfig(), digits).enabled


def test_train_classifier_checks_arguments(few_digits):
    train, _ = few_digits
    with pytest.raises(ValueError, match="batch_size"):
        train_classifier(PaperCNN(train.sample_shape, 10), train, None, batch_size=0)
    with pytest.raises(ValueError, match="synthetic_weight"):
        train_classifier(PaperCNN(train.sample_shape, 10), train, None, synthetic_weight=-1)


def test_train_classifier_takes_any_transform_of_the_batch(few_digits):
    # the protocol of torchvision's v2 transforms on an (images, labels) sample: MixUp's soft
    # labels train the classifier as well
    train, _ = few_digits
    seen = []

    def labels_of(x, y):
        seen.append(y)
        return x, y

    mix = v2.Compose([v2.MixUp(num_classes=10), labels_of])
    torch.manual_seed(0)
    model = PaperCNN(train.sample_shape, 10, width=0.25)
    result = train_classifier(model, train, None, augment=mix, max_epochs=1)
    assert result.steps == 4 and len(seen) == 4
    assert all(y.shape == (32, 10) and torch.allclose(y.sum(1), torch.ones(32)) for y in seen)
    assert all(((y > 0) & (y < 1)).any() for y in seen)  # mixed, not one-hot


# ------------------------------------------------------------------ augmentations
@pytest.mark.parametrize(
    ("name", "entry", "settings"),
    [
        ("aug", "affine", {}),
        ("trivialaugment", "trivialaugment", {}),
        ("randaugment", "randaugment", {}),
        ("ra-n3-m9", "randaugment", {"num_ops": 3, "magnitude": 9}),
    ],
)
def test_a_conditions_augmentation_is_an_entry_of_the_one_registry(digits, name, entry, settings):
    x, y = digits.x[:8], digits.y[:8]
    out, labels = get_augment(name, rng=0)(x, y)
    assert torch.equal(out, get_conventional(entry, rng=0, **settings)(x, y)[0])
    assert labels is y and out.shape == x.shape and out.dtype == torch.float32
    assert float(out.min()) >= 0 and float(out.max()) <= 1 and not torch.equal(out, x)
    assert not torch.equal(get_augment(name, rng=1)(x, y)[0], out)


def test_tuned_randaugment_takes_the_settings_of_the_training_size():
    assert get_augment("randaugment-tuned", size=50).each.num_ops == 3
    assert get_augment("randaugment-tuned", size=100).each.magnitude == 14


def test_get_augment_names_what_is_accepted():
    with pytest.raises(ValueError, match="trivialaugment"):
        get_augment("mixup")


# ------------------------------------------------------------------ protocol + report
@pytest.fixture(scope="module")
def records(digits):
    mp = pytest.MonkeyPatch()
    mp.setitem(GENERATORS, "vae", TINY_VAE)
    config = EvaluationConfig(
        sizes=(50,),
        seeds=2,
        conditions=("none", "vae", "aug+vae"),
        max_steps=10,
        min_steps_per_epoch=5,
        max_test=200,
    )
    try:
        return run_protocol(digits, config, progress=False)
    finally:
        mp.undo()


def test_protocol_runs_every_cell(records):
    assert [(r["seed"], r["condition"]) for r in records] == [
        (s, c) for s in (0, 1) for c in ("none", "vae", "aug+vae")
    ]
    for r in records:
        assert r["size"] == 50 and r["n_test"] == 200 and r["steps"] <= 10
        assert 0 <= r["macro_f1"] <= 1 and 0 <= r["accuracy"] <= 1


def test_protocol_refuses_what_cannot_apply():
    with pytest.raises(ValueError, match="unknown"):
        EvaluationConfig(conditions=("none", "gan"))
    with pytest.raises(ValueError, match="feature vectors"):
        run_protocol("wine", EvaluationConfig(sizes=(30,), seeds=1, conditions=("aug",)))
    with pytest.raises(ValueError, match="per class"):
        run_protocol("digits", EvaluationConfig(sizes=(10,), seeds=1, conditions=("none",)))


def test_protocol_on_tabular_data(monkeypatch):
    monkeypatch.setitem(GENERATORS, "tvae", Recipe("tabular-vae", {}, steps=20))
    config = EvaluationConfig(sizes=(30,), seeds=1, conditions=("none", "tvae-post"), max_steps=20)
    none, learned = run_protocol("wine", config, progress=False)
    assert none["n_test"] == learned["n_test"] == 178 - 30
    assert none["weighted_f1"] > 0.4 and 0 <= learned["weighted_f1"] <= 1


def test_cli_evaluate_on_an_image_folder(tmp_path, digits, tiny_generators):
    from PIL import Image

    for label in range(3):
        folder = tmp_path / "data" / f"class{label}"
        folder.mkdir(parents=True)
        for i, image in enumerate(digits.x[digits.y == label][:12]):
            Image.fromarray((image[0] * 255).byte().numpy()).save(folder / f"{i}.png")
    out = tmp_path / "out"
    argv = ["evaluate", "--data", str(tmp_path / "data"), "--train-size", "15", "--seeds", "1"]
    argv += ["--conditions", "none", "aug+vae", "--max-steps", "3", "--out", str(out)]
    assert main([*argv, "--no-progress"]) == 0
    records = read_csv(out / "results.csv")
    assert [r["condition"] for r in records] == ["none", "aug+vae"]
    assert all(r["n_test"] == 36 - 15 for r in records)


def test_report_files_and_tables(records, tmp_path):
    path = write_report(records, tmp_path, command="learned-aug evaluate --data digits")
    text = path.read_text()
    assert "| size | none | vae | aug+vae |" in text and "learned-aug evaluate" in text
    assert (tmp_path / "results_f1.png").read_bytes()[:4] == b"\x89PNG"
    again = read_csv(tmp_path / "results.csv")
    assert [r["macro_f1"] for r in again] == pytest.approx([r["macro_f1"] for r in records])
    table = markdown_table(records, published={"paper": {50: 76.3}})
    assert table.splitlines()[2].endswith("| 76.30 |")


def test_wilcoxon_pairs_by_size_and_seed(records, tmp_path):
    t = wilcoxon_test(records, "vae", "none")
    assert t["n"] == 2
    by = {(r["seed"], r["condition"]): r["macro_f1"] for r in records}
    expected = ((by[0, "vae"] - by[0, "none"]) + (by[1, "vae"] - by[1, "none"])) / 2
    assert t["mean_diff"] == pytest.approx(expected)
    write_csv(records, tmp_path / "runs.csv")
    assert len(read_csv(tmp_path / "runs.csv")) == len(records)


def test_generators_and_strategies_plug_in(digits, tiny_generators):
    # LearnedAugment strategies (online, with a latent bank) and a VQ-VAE with its prior
    conditions = ("cvae-noise", "aug+cvae-interpolate", "vqvae")
    config = EvaluationConfig(
        sizes=(50,), seeds=1, conditions=conditions, max_steps=5, min_steps_per_epoch=5,
        max_test=100,
    )  # fmt: skip
    records = run_protocol(digits, config, progress=False)
    assert [r["condition"] for r in records] == list(conditions)
    assert all(r["steps"] == 5 for r in records)


def test_generators_train_as_fit_trains_a_recipe(few_digits, monkeypatch):
    from learned_aug.evaluation.conditions import fit_generator
    from learned_aug.training import recipe

    seen = []

    def fit(model, data, **kwargs):  # the keyword arguments stand in for the trained model
        seen.append((model, data))
        return Namespace(model=kwargs)

    monkeypatch.setattr(recipe, "fit", fit)
    train = few_digits[0]
    # fit makes the copies, with an augmentation of the one registry (conventional.CONVENTIONAL)
    kwargs = fit_generator("cvae-a", train, seed=3, scale=0.5)
    assert seen[-1][0] == "vae" and seen[-1][1] is train
    assert (kwargs["augment"], kwargs["augment_copies"]) == ("affine", 4)
    assert (kwargs["seed"], kwargs["device"], kwargs["conditional"]) == (3, "cpu", True)
    # the budget counts the copies: 1,500 steps (halved) on 5 images for each one
    budget = dict(steps=750, min_epochs=20, max_epochs=400, patience_steps=300)
    assert (kwargs["epochs"], kwargs["patience"]) == step_budget(5 * len(train), **budget)
    assert fit_generator("cvae-ra", train, seed=3)["augment"] == "randaugment"
    assert fit_generator("cvae", train, seed=3)["augment"] is None
    # a VQ-VAE: fit trains both stages (the prior as long as the autoencoder)
    vqvae = fit_generator("vqvae", train, seed=3)
    assert seen[-1][0] == "vqvae" and "prior_epochs" not in vqvae  # fit's default: as long


def test_a_vqvae_condition_trains_both_stages(few_digits, tiny_generators):
    from learned_aug.evaluation.conditions import fit_generator

    gen = fit_generator("vqvae", few_digits[0], seed=0)
    assert gen.prior.trained and gen.stage == "autoencoder"


def test_conditions_registry_pairs_every_learned_one_with_aug():
    learned = {c.learned for c in CONDITIONS.values() if c.learned}
    for name in learned:
        assert CONDITIONS[f"aug+{name}"].augment == "aug"


def test_verdict_calls_gains_losses_and_ties():
    base = {"none": 0.70, "randaugment": 0.80, "vae": 0.705}
    runs = []
    for seed in range(3):
        for c, f1 in base.items():
            runs.append({"size": 50, "seed": seed, "condition": c, "macro_f1": f1})
        runs.append({"size": 50, "seed": seed, "condition": "learned", "macro_f1": 0.73})
        runs.append(
            {"size": 50, "seed": seed, "condition": "randaugment+learned", "macro_f1": 0.78}
        )
    assert learned_pairs(["none", "randaugment", "vae", "learned", "randaugment+learned"]) == [
        ("vae", "none"), ("learned", "none"), ("randaugment+learned", "randaugment")
    ]  # fmt: skip
    lines = verdict(runs).splitlines()
    assert lines[0] == (
        "- vae against none: +0.50 macro F1 points (better in 3 of 3 runs; 95% interval +0.50 "
        "to +0.50): no clear gain: not at least +1 points clear of the noise between runs; more "
        "seeds (--seeds) narrow the interval."
    )
    assert lines[1].startswith("- learned against none: +3.00 macro F1 points (better in 3 of 3")
    assert lines[1].endswith("it helps on this data.")
    assert lines[2].endswith("it costs points on this data; train with randaugment alone.")
    one_seed = [r for r in runs if r["seed"] == 0]
    # one run: a loss is still called, a gain never is
    assert verdict(one_seed).count("one run cannot tell a gain from the noise between seeds") == 2
    assert verdict(one_seed).splitlines()[2].endswith("train with randaugment alone.")
    assert verdict([r for r in runs if r["condition"] != "none"]).count("\n") == 0


def test_judge_calls_a_gain_only_clear_of_the_noise_between_runs():
    # the same mean gain of 3 points: clear when the seeds agree, not when they scatter
    assert judge([0.02, 0.03, 0.04]) == "helps"
    assert judge([0.10, -0.05, 0.04]) == "no clear gain"
    assert judge([0.03]) == "no clear gain"  # one run never shows a gain
    assert judge([-0.01]) == "costs"  # a loss is called even from one run
    assert judge([0.009, 0.009, 0.009]) == "no clear gain"  # clear, but under the margin
    with pytest.raises(ValueError, match="diffs must hold at least one paired difference"):
        judge([])


def test_gain_interval_is_the_student_t_interval():
    from scipy import stats

    diffs = [0.01, 0.05, 0.03, -0.02]
    low, high = gain_interval(diffs, confidence=0.9)
    expected = stats.ttest_1samp(diffs, 0.0).confidence_interval(0.9)
    assert (low, high) == pytest.approx((expected.low, expected.high))
    assert gain_interval([0.04]) == (float("-inf"), float("inf"))
    assert gain_interval([0.02, 0.02]) == (0.02, 0.02)


def test_quick_is_three_seeds_of_the_suites_classifier_and_flags_still_win():
    from learned_aug.cli import build_parser
    from learned_aug.cli.evaluate import _config

    def config(*flags):
        args = build_parser().parse_args(["evaluate", "--data", "digits", *flags, "--out", "x"])
        return _config(args, is_image=True)

    quick = config("--quick")
    assert (quick.sizes, quick.seed_list, quick.max_steps, quick.cnn_width) == (
        (100,), [0, 1, 2], 2000, 0.25
    )  # fmt: skip
    assert config("--quick", "--seeds", "1", "--train-size", "50").seed_list == [0]
    assert config().seed_list == [0, 1, 2, 3, 4]


def test_cli_evaluate_prints_its_verdict(tmp_path, tiny_generators, capsys):
    argv = ["evaluate", "--data", "digits", "--train-size", "50", "--seeds", "1", "--quick"]
    argv += ["--conditions", "none", "vae", "--max-steps", "5", "--image-size", "12"]
    assert main([*argv, "--out", str(tmp_path), "--no-progress", "--fp32"]) == 0
    out = capsys.readouterr().out
    assert "Verdict (does learned augmentation help on this data?):\n- vae against none: " in out
    assert "one run cannot tell a gain from the noise between seeds" in out or "costs" in out
    assert "- vae against none: " in (tmp_path / "results.md").read_text()


def test_cli_evaluate_writes_the_report(tmp_path, tiny_generators, capsys):
    code = main(
        [
            "evaluate", "--data", "digits", "--train-size", "50", "--seeds", "1",
            "--conditions", "none", "aug", "--max-steps", "5", "--out", str(tmp_path),
            "--no-progress", "--fp32",
        ]
    )  # fmt: skip
    assert code == 0
    summary = capsys.readouterr().out.splitlines()[-1]
    assert summary.startswith("2 runs in ") and "classifier in float32 (asked for" in summary
    assert {r["precision"] for r in read_csv(tmp_path / "results.csv")} == {"float32"}
    assert {p.name for p in tmp_path.iterdir()} >= {"results.md", "results.csv", "results_f1.png"}
    assert [r["condition"] for r in read_csv(tmp_path / "results.csv")] == ["none", "aug"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sizes": (50,), "seeds": 0}, "seeds must be a positive count or a list of seeds, got 0"),
        ({"sizes": (), "seeds": 1}, "sizes must be positive ints, got []"),
        ({"sizes": (50,), "conditions": ("nope",)}, "conditions ['nope'] are unknown"),
    ],
)
def test_evaluation_config_refuses_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        EvaluationConfig(**kwargs)
