"""The learned-aug command line: fit -> sample -> an ImageFolder torchvision loads."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
from torchvision.datasets import ImageFolder

from learned_aug.cli import COMMANDS, build_parser, main, names

TINY_FLAGS = ["--model", "vae", "--latent-dim", "3", "--no-progress", "--epochs", "2"]


def test_fit_then_sample_gives_an_image_folder(tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        main(
            [
                "fit",
                "--data",
                "digits",
                "--per-class",
                "--out",
                str(run),
                *TINY_FLAGS,
            ]
        )
        == 0
    )
    assert (run / "samples.png").is_file() and (run / "training.json").is_file()
    out = tmp_path / "synthetic"
    assert (
        main(["sample", str(run), "-n", "40", "--seed", "1", "--out", str(out), "--no-progress"])
        == 0
    )
    folder = ImageFolder(out)
    assert folder.classes == [str(d) for d in range(10)]
    assert len(folder) == 40 and sorted(folder.targets) == sorted(i % 10 for i in range(40))
    assert folder[0][0].size == (8, 8)
    assert main(["info", str(run)]) == 0
    assert "classwise" in capsys.readouterr().out


def test_fit_refuses_an_out_that_holds_a_run(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["fit", "--data", "digits", "--out", str(run), *TINY_FLAGS]
    assert main(args) == 0
    assert main(args) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main([*args, "--resume", "--epochs", "3"]) == 0


def test_sample_refuses_a_non_empty_out(tmp_path, capsys):
    run = tmp_path / "run"
    main(["fit", "--data", "digits", "--out", str(run), *TINY_FLAGS])
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "keep.txt").write_text("x")
    assert main(["sample", str(run), "-n", "3", "--out", str(tmp_path / "o")]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_unknown_data_lists_what_is_accepted(tmp_path, capsys):
    assert main(["fit", "--data", "no-such-set", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "mnist-5k" in err and "digits" in err


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_subcommand_explains_its_flags(name):
    out = subprocess.run(
        [sys.executable, "-m", "learned_aug.cli", name, "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.startswith(f"usage: learned-aug {name}")
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[name]
    silent = [a.option_strings or a.dest for a in sub._actions if not a.help]
    assert not silent, f"flags without help in `learned-aug {name}`: {silent}"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_a_runner_in_the_cli_package(name):
    runner = COMMANDS[name].runner
    assert runner == f"learned_aug.cli.{name}" and callable(importlib.import_module(runner).run)


def test_sample_writes_a_csv_for_a_tabular_generator(tmp_path):
    from learned_aug.data import load_csv

    out = tmp_path / "rows"
    assert main(["sample", "wine-vae", "-n", "30", "--out", str(out), "--no-progress"]) == 0
    table = load_csv(out / "samples.csv", label_column="label")
    assert len(table) == 30 and table.x.shape[1] == 13
    assert sorted(table.classes) == ["class_0", "class_1", "class_2"]


# Parsing --help in a fresh interpreter, then listing what it imported: torch, torchvision and
# the registries must wait until a command runs.
HELP_IMPORTS = """
import contextlib, io, sys
from learned_aug.cli import COMMANDS, main
for argv in [["--help"], *([name, "--help"] for name in COMMANDS)]:
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):
        main(argv)
    assert out.getvalue().startswith("usage: learned-aug"), argv
heavy = ("torch", "torchvision", "numpy", "PIL", "huggingface_hub", "learned_aug.models")
print(sorted(m for m in sys.modules if m.startswith(heavy)))
"""


def test_help_of_every_command_imports_no_torch():
    out = subprocess.run(
        [sys.executable, "-c", HELP_IMPORTS], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_names_the_cli_offers_equal_the_registries():
    from learned_aug.conventional import CONVENTIONAL
    from learned_aug.data import BUNDLED
    from learned_aug.evaluation import CONDITIONS, protocol
    from learned_aug.models import MODELS
    from learned_aug.models.likelihood import LIKELIHOODS
    from learned_aug.training.fitting import OPTIMIZERS

    assert tuple(sorted(MODELS)) == names.MODEL_NAMES
    assert tuple(sorted(CONVENTIONAL)) == names.CONVENTIONAL_NAMES
    assert tuple(sorted(OPTIMIZERS)) == names.OPTIMIZER_NAMES
    assert LIKELIHOODS == names.LIKELIHOOD_NAMES
    assert tuple(BUNDLED) == names.DATASET_NAMES
    assert names.DEFAULT_CONDITIONS == protocol.DEFAULT_CONDITIONS
    assert names.DEFAULT_SIZES == protocol.DEFAULT_SIZES
    assert set(names.TABULAR_CONDITIONS) <= set(CONDITIONS)
    assert set(names.DEFAULT_CONDITIONS) <= set(CONDITIONS)
    fit = next(a for a in build_parser()._actions if a.dest == "command").choices["fit"]
    choices = {a.dest: a.choices for a in fit._actions}
    assert set(choices["model"]) == set(MODELS) - {"classwise"}  # that one is --per-class
    assert set(choices["augment"]) == set(CONVENTIONAL) | {"none"}
