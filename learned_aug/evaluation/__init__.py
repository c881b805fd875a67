"""The few-shot evaluation protocol: does learned augmentation help a classifier?"""

from learned_aug.evaluation.augment import AUGMENTS, get_augment, random_affine
from learned_aug.evaluation.classifier import (
    PaperCNN,
    TabularMLP,
    TrainResult,
    default_classifier,
    predict_logits,
    train_classifier,
)
from learned_aug.evaluation.conditions import (
    CONDITIONS,
    GENERATORS,
    LEARNED,
    TRAINERS,
    Condition,
    GeneratorSpec,
    LearnedSpec,
    fit_generator,
)
from learned_aug.evaluation.metrics import scores
from learned_aug.evaluation.protocol import EvaluationConfig, run_protocol

__all__ = [
    "AUGMENTS",
    "CONDITIONS",
    "GENERATORS",
    "LEARNED",
    "TRAINERS",
    "Condition",
    "EvaluationConfig",
    "GeneratorSpec",
    "LearnedSpec",
    "PaperCNN",
    "TabularMLP",
    "TrainResult",
    "default_classifier",
    "fit_generator",
    "get_augment",
    "predict_logits",
    "random_affine",
    "run_protocol",
    "scores",
    "train_classifier",
]
