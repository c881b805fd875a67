"""The few-shot evaluation protocol: does learned augmentation help a classifier?"""

from learned_aug.evaluation.augment import AUGMENTS, get_augment
from learned_aug.evaluation.classifier import (
    ClassifierRecipe,
    TrainResult,
    predict_logits,
    train_classifier,
)
from learned_aug.evaluation.conditions import (
    CONDITIONS,
    CONTROL,
    LEARNED,
    RECIPES,
    Condition,
    LearnedSpec,
    fit_recipe,
    register_learned,
)
from learned_aug.evaluation.metrics import pixel_baseline, scores
from learned_aug.evaluation.networks import ConvNet, PaperCNN, TabularMLP, default_classifier
from learned_aug.evaluation.protocol import (
    DEFAULT_CONDITIONS,
    EvaluationConfig,
    run_protocol,
)
from learned_aug.evaluation.report import gain_interval, judge, verdict
from learned_aug.evaluation.teacher import fit_teacher

__all__ = [
    "AUGMENTS",
    "CONDITIONS",
    "CONTROL",
    "DEFAULT_CONDITIONS",
    "LEARNED",
    "RECIPES",
    "ClassifierRecipe",
    "Condition",
    "ConvNet",
    "EvaluationConfig",
    "LearnedSpec",
    "PaperCNN",
    "TabularMLP",
    "TrainResult",
    "default_classifier",
    "fit_recipe",
    "fit_teacher",
    "gain_interval",
    "get_augment",
    "judge",
    "pixel_baseline",
    "predict_logits",
    "register_learned",
    "run_protocol",
    "scores",
    "train_classifier",
    "verdict",
]
