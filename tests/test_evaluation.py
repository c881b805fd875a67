"""The few-shot protocol on real data: classifier, augmentations, latent samplers, report, CLI."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from types import SimpleNamespace as Namespace

import pytest
import torch

from learned_aug import DEFAULT_RECIPE, Recipe, precision
from learned_aug.cli import main
from learned_aug.conventional import get_conventional
from learned_aug.data import balanced_subset
from learned_aug.evaluation import (
    AUGMENTS,
    CONDITIONS,
    CONTROL,
    DEFAULT_CONDITIONS,
    LEARNED,
    RECIPES,
    ClassifierRecipe,
    Condition,
    ConvNet,
    EvaluationConfig,
    LearnedSpec,
    get_augment,
    register_learned,
    run_protocol,
)
from learned_aug.evaluation.protocol import classifier_precision
from learned_aug.evaluation.report import (
    broken_baselines,
    checks,
    gain_interval,
    judge,
    learned_pairs,
    markdown_table,
    read_csv,
    unmatched,
    verdict,
    wilcoxon_test,
    write_csv,
    write_report,
)

TINY_CVAE = Recipe(
    "vae",
    {"conditional": True, "latent_dim": 3, "hidden_channels": (8, 16), "hidden_dim": 32},
    steps=20,
    min_epochs=3,
)
SHORT = ClassifierRecipe(min_steps=6, max_steps=6)


@pytest.fixture
def tiny_generators(monkeypatch):
    """The default generator, shrunk so a protocol run takes seconds."""
    monkeypatch.setitem(RECIPES, "learned", TINY_CVAE)


@pytest.fixture(scope="module")
def few_digits(request):
    data = request.getfixturevalue("digits")
    return balanced_subset(data, 10, seed=0)


# ------------------------------------------------------------------ precision
def test_protocol_precision_is_asked_or_chosen(digits, monkeypatch):
    monkeypatch.delenv(precision.ENV_VAR, raising=False)
    asked = classifier_precision(EvaluationConfig(amp=True), digits)
    assert asked.enabled and asked.reason == "asked for autocast"
    monkeypatch.setenv(precision.ENV_VAR, "0")
    chosen = classifier_precision(EvaluationConfig(), digits)
    assert not chosen.enabled and chosen.reason == f"{precision.ENV_VAR}=0"
    monkeypatch.delenv(precision.ENV_VAR)
    if not precision.native_bf16():  # a CPU without bf16 units: float32, and nothing timed
        assert not classifier_precision(EvaluationConfig(), digits).enabled


# ------------------------------------------------------------------ augmentations
@pytest.mark.parametrize(
    ("name", "entry", "settings"),
    [
        ("aug", "affine", {}),
        ("trivialaugment", "trivialaugment", {}),
        ("randaugment", "randaugment", {}),
        ("flip", "flip", {}),
    ],
)
def test_a_conditions_augmentation_is_an_entry_of_the_one_registry(digits, name, entry, settings):
    x, y = digits.x[:8], digits.y[:8]
    out, labels = get_augment(name, rng=0)(x, y)
    assert torch.equal(out, get_conventional(entry, rng=0, **settings)(x, y)[0])
    assert labels is y and out.shape == x.shape and out.dtype == torch.float32
    assert float(out.min()) >= 0 and float(out.max()) <= 1 and not torch.equal(out, x)
    assert not torch.equal(get_augment(name, rng=1)(x, y)[0], out)


def test_get_augment_names_what_is_accepted():
    with pytest.raises(ValueError, match="trivialaugment"):
        get_augment("mixup")


# ------------------------------------------------------------------ protocol + report
CONDITIONS_RUN = ("none", "randaugment", "randaugment-views", "learned", "randaugment+learned")


@pytest.fixture(scope="module")
def records(digits):
    mp = pytest.MonkeyPatch()
    mp.setitem(RECIPES, "learned", TINY_CVAE)
    config = EvaluationConfig(
        sizes=(50,), seeds=2, conditions=CONDITIONS_RUN, recipe=SHORT, max_test=200
    )
    try:
        return run_protocol(digits, config, progress=False)
    finally:
        mp.undo()


def test_protocol_runs_every_cell(records):
    assert [(r["seed"], r["condition"]) for r in records] == [
        (s, c) for s in (0, 1) for c in CONDITIONS_RUN
    ]
    for r in records:
        assert r["size"] == 50 and r["n_test"] == 200
        assert 0 <= r["macro_f1"] <= 1 and 0 <= r["accuracy"] <= 1 and 0 < r["pixel_lr_f1"] <= 1


def test_every_condition_of_a_cell_trains_the_same_steps_on_the_same_batch(records):
    assert unmatched(records) == []
    plan = {r["condition"]: (r["real_per_step"], r["images_per_step"], r["synthetic_per_step"])
            for r in records}  # fmt: skip
    assert plan == {
        "none": (64, 64, 0),
        "randaugment": (64, 64, 0),
        "randaugment-views": (64, 32, 0),  # the synthetic half: a second view of each image
        "learned": (32, 32, 32),
        "randaugment+learned": (32, 32, 32),
    }
    assert {(r["steps"], r["batch_size"]) for r in records} == {(SHORT.steps(50), 64)}


def test_no_generator_sees_an_image_that_is_not_a_training_image(digits, monkeypatch):
    from learned_aug.evaluation import conditions, protocol

    fitted, trained = [], []
    real_fit, real_train = conditions.fit_recipe, protocol.train_classifier

    def spy_fit(name, train, seed, scale=1.0):
        fitted.append(train)
        return real_fit(name, train, seed, scale)

    def spy_train(model, train, *args, **kwargs):
        trained.append(train)
        return real_train(model, train, *args, **kwargs)

    monkeypatch.setitem(RECIPES, "learned", TINY_CVAE)
    monkeypatch.setattr(protocol, "fit_recipe", spy_fit)
    monkeypatch.setattr(protocol, "train_classifier", spy_train)
    config = EvaluationConfig(sizes=(50,), seeds=1, conditions=CONDITIONS_RUN, recipe=SHORT)
    cell = protocol.Cell(digits, 50, 0, config)
    for name in CONDITIONS_RUN:
        cell.run(name, lambda data: ConvNet(data.sample_shape, 10))
    train, test = set(cell.train_index.tolist()), set(cell.test_index.tolist())
    assert not train & test and len(train | test) == len(digits)
    assert len(fitted) == 1 and torch.equal(fitted[0].x, digits.x[cell.train_index])
    # the classifier trains on exactly those images, and nothing else selects or stops it
    assert len(trained) == len(CONDITIONS_RUN)
    assert all(torch.equal(t.x, fitted[0].x) for t in trained)


def test_the_suite_csv_compares_only_matched_runs_and_flags_broken_baselines():
    path = Path(__file__).resolve().parents[1] / "docs" / "suite" / "suite.csv"
    rows = read_csv(path)
    assert rows and unmatched(rows) == []
    for r in rows:
        assert r["batch_size"] == 64 and r["steps"] >= ClassifierRecipe().min_steps
        assert r["real_per_step"] + r["synthetic_per_step"] == 64
    assert {r["condition"] for r in rows} >= {"none", "randaugment", CONTROL}


def test_broken_baselines_are_flagged_against_pixels():
    rows = [
        {"size": 50, "seed": s, "condition": c, "macro_f1": f1, "pixel_lr_f1": 0.7}
        for s in (0, 1)
        for c, f1 in (("none", 0.65), ("randaugment", 0.8), ("learned", 0.5))
    ]
    assert broken_baselines(rows) == ["size 50: none 65.00 < pixel logistic regression 70.00"]
    assert any("pixel" in line for line in checks(rows))


def test_protocol_refuses_what_cannot_apply():
    with pytest.raises(ValueError, match="unknown"):
        EvaluationConfig(conditions=("none", "gan"))
    with pytest.raises(ValueError, match="feature vectors"):
        run_protocol("wine", EvaluationConfig(sizes=(30,), seeds=1, conditions=("aug",)))
    with pytest.raises(ValueError, match="per class"):
        run_protocol("digits", EvaluationConfig(sizes=(10,), seeds=1, conditions=("none",)))


def test_protocol_on_tabular_data(monkeypatch):
    tabular = Recipe("tabular-vae", {"conditional": True}, steps=20)
    monkeypatch.setitem(RECIPES, "learned", DEFAULT_RECIPE.replace(tabular=tabular))
    config = EvaluationConfig(sizes=(30,), seeds=1, conditions=("none", "learned"), recipe=SHORT)
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
    argv += ["--conditions", "none", "aug+learned", "--max-steps", "3", "--out", str(out)]
    assert main([*argv, "--no-progress"]) == 0
    records = read_csv(out / "results.csv")
    assert [r["condition"] for r in records] == ["none", "aug+learned"]
    assert [r["steps"] for r in records] == [3, 3]
    assert all(r["n_test"] == 36 - 15 for r in records)


def test_report_files_and_tables(records, tmp_path):
    path = write_report(records, tmp_path, command="learned-aug evaluate --data digits")
    text = path.read_text()
    assert "| size | none | randaugment | randaugment-views | learned |" in text
    assert "learned-aug evaluate" in text
    assert (tmp_path / "results_f1.png").read_bytes()[:4] == b"\x89PNG"
    again = read_csv(tmp_path / "results.csv")
    assert [r["macro_f1"] for r in again] == pytest.approx([r["macro_f1"] for r in records])
    table = markdown_table(records, published={"paper": {50: 76.3}})
    assert table.splitlines()[2].endswith("| 76.30 |")


def test_wilcoxon_pairs_by_size_and_seed(records, tmp_path):
    t = wilcoxon_test(records, "learned", "none")
    assert t["n"] == 2
    by = {(r["seed"], r["condition"]): r["macro_f1"] for r in records}
    expected = ((by[0, "learned"] - by[0, "none"]) + (by[1, "learned"] - by[1, "none"])) / 2
    assert t["mean_diff"] == pytest.approx(expected)
    write_csv(records, tmp_path / "runs.csv")
    assert len(read_csv(tmp_path / "runs.csv")) == len(records)


def test_research_variants_register_their_conditions(digits, monkeypatch):
    # a LearnedAugment strategy (online, with the latent bank) joins as one registry entry
    saved = dict(LEARNED), dict(CONDITIONS)
    monkeypatch.setitem(RECIPES, "learned", TINY_CVAE)
    try:
        register_learned("learned-noise", LearnedSpec("learned", "noise", mode="transform"))
        assert CONDITIONS["aug+learned-noise"] == Condition("aug", "learned-noise")
        config = EvaluationConfig(
            sizes=(50,), seeds=1, conditions=("learned-noise", "aug+learned-noise"),
            recipe=SHORT, max_test=100,
        )  # fmt: skip
        records = run_protocol(digits, config, progress=False)
        assert [r["synthetic_per_step"] for r in records] == [0, 0]
        with pytest.raises(ValueError, match="uses recipe 'gan', which is not in RECIPES"):
            register_learned("gan", LearnedSpec("gan", None))
    finally:
        LEARNED.clear(), LEARNED.update(saved[0])
        CONDITIONS.clear(), CONDITIONS.update(saved[1])


def test_generators_train_as_fit_trains_a_recipe(few_digits, monkeypatch):
    from learned_aug.evaluation.conditions import fit_recipe
    from learned_aug.training import recipe

    seen = []

    def fit(model, data, settings, **kwargs):  # the arguments stand in for the trained model
        seen.append((model, data))
        return Namespace(model={**kwargs, "settings": settings})

    monkeypatch.setattr(recipe, "fit", fit)
    train = few_digits[0]
    kwargs = fit_recipe("learned", train, seed=3, scale=0.5)
    settings = kwargs["settings"]
    assert seen[-1][0] == DEFAULT_RECIPE.model and seen[-1][1] is train
    assert (settings.augment, settings.augment_copies) == ("randaugment", 4)
    assert (settings.seed, kwargs["device"]) == (3, "cpu")
    assert kwargs["config"] == dict(DEFAULT_RECIPE.config)


def test_conditions_registry_pairs_learned_with_every_conventional_one():
    assert {c for c in CONDITIONS if c.endswith("+learned")} == {f"{a}+learned" for a in AUGMENTS}
    assert CONDITIONS[CONTROL] == Condition("randaugment", None, views=2)


def test_verdict_calls_gains_losses_and_ties():
    base = {"none": 0.70, "randaugment": 0.80, "randaugment-views": 0.81, "trivialaugment": 0.7}
    runs = []
    for seed in range(3):
        for c, f1 in base.items():
            runs.append({"size": 50, "seed": seed, "condition": c, "macro_f1": f1})
        runs.append({"size": 50, "seed": seed, "condition": "learned", "macro_f1": 0.73})
        runs.append(
            {"size": 50, "seed": seed, "condition": "randaugment+learned", "macro_f1": 0.79}
        )
        runs.append(
            {"size": 50, "seed": seed, "condition": "trivialaugment+learned", "macro_f1": 0.705}
        )
    assert learned_pairs(r["condition"] for r in runs) == [
        ("learned", "none"),
        ("randaugment+learned", "randaugment-views"),  # the compute-matched control
        ("trivialaugment+learned", "trivialaugment"),
    ]
    lines = verdict(runs).splitlines()
    assert lines[0].startswith("- learned against none: +3.00 macro F1 points (better in 3 of 3")
    assert lines[0].endswith("it helps on this data.")
    assert lines[1].endswith("it costs points on this data; train with randaugment-views alone.")
    assert lines[2] == (
        "- trivialaugment+learned against trivialaugment: +0.50 macro F1 points (better in 3 of "
        "3 runs; 95% interval +0.50 to +0.50): no clear gain: not at least +1 points clear of the "
        "noise between runs; more seeds (--seeds) narrow the interval."
    )
    one_seed = [r for r in runs if r["seed"] == 0]
    # one run: a loss is still called, a gain never is
    assert verdict(one_seed).count("one run cannot tell a gain from the noise between seeds") == 2
    assert verdict(one_seed).splitlines()[1].endswith("train with randaugment-views alone.")
    assert verdict([r for r in runs if r["condition"] != "none"]).count("\n") == 1


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


def test_quick_is_three_seeds_of_the_suites_recipe_and_flags_still_win():
    from learned_aug.cli import build_parser
    from learned_aug.cli.evaluate import _config

    def config(*flags):
        args = build_parser().parse_args(["evaluate", "--data", "digits", *flags, "--out", "x"])
        return _config(args, is_image=True)

    quick = config("--quick")
    assert (quick.sizes, quick.seed_list, quick.recipe) == ((100,), [0, 1, 2], ClassifierRecipe())
    assert tuple(quick.conditions) == DEFAULT_CONDITIONS
    assert config("--quick", "--seeds", "1", "--train-size", "50").seed_list == [0]
    assert config().seed_list == [0, 1, 2, 3, 4]
    assert config("--max-steps", "50").recipe.steps(10**6) == 50


def test_cli_evaluate_prints_its_verdict(tmp_path, tiny_generators, capsys):
    argv = ["evaluate", "--data", "digits", "--train-size", "50", "--seeds", "1", "--quick"]
    argv += ["--conditions", "none", "learned", "--max-steps", "5", "--image-size", "12"]
    assert main([*argv, "--out", str(tmp_path), "--no-progress", "--fp32"]) == 0
    out = capsys.readouterr().out
    verdict_line = (
        "Verdict (does learned augmentation help on this data?):\n- learned against none: "
    )
    assert verdict_line in out
    assert "one run cannot tell a gain from the noise between seeds" in out or "costs" in out
    assert "- learned against none: " in (tmp_path / "results.md").read_text()


def test_cli_evaluate_writes_the_report(tmp_path, capsys):
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
    rows = read_csv(tmp_path / "results.csv")
    assert {r["precision"] for r in rows} == {"float32"} and [r["steps"] for r in rows] == [5, 5]
    assert {p.name for p in tmp_path.iterdir()} >= {"results.md", "results.csv", "results_f1.png"}
    assert [r["condition"] for r in rows] == ["none", "aug"]


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


def test_a_cached_generator_is_fitted_once_and_gives_the_same_runs(digits, tmp_path, monkeypatch):
    from learned_aug.evaluation import protocol

    fits = []
    real_fit = protocol.fit_recipe

    def counting_fit(name, train, seed, scale=1.0):
        fits.append(name)
        return real_fit(name, train, seed, scale)

    monkeypatch.setitem(RECIPES, "learned", TINY_CVAE)
    monkeypatch.setattr(protocol, "fit_recipe", counting_fit)
    config = EvaluationConfig(
        sizes=(50,), seeds=1, conditions=("learned", "randaugment+learned"), recipe=SHORT
    )
    fresh = run_protocol(digits, config, progress=False)
    first = run_protocol(digits, config, progress=False, cache=tmp_path)
    again = run_protocol(digits, config, progress=False, cache=tmp_path)
    assert fits == ["learned", "learned"]  # uncached, then fitted once into the cache
    assert [p.name for p in tmp_path.iterdir()] == [next(tmp_path.iterdir()).name]
    assert next(tmp_path.iterdir()).name.startswith("learned-n50-seed0-")
    for a, b, c in zip(fresh, first, again, strict=True):
        assert a["macro_f1"] == b["macro_f1"] == c["macro_f1"]
        assert a["cas"] == b["cas"] == c["cas"]
    # another draw, or another recipe, never finds that generator
    other = protocol.Cell(digits, 50, 1, config, tmp_path)
    assert other.cached("learned") != protocol.Cell(digits, 50, 0, config, tmp_path).cached(
        "learned"
    )
    monkeypatch.setitem(RECIPES, "learned", dataclasses.replace(TINY_CVAE, steps=7))
    assert not protocol.Cell(digits, 50, 0, config, tmp_path).cached("learned").exists()
