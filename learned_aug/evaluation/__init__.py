"""The few-shot evaluation protocol: does learned augmentation help a classifier?"""

from learned_aug.evaluation.augment import AUGMENTS, get_augment
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
    Condition,
    LearnedSpec,
    fit_generator,
)
from learned_aug.evaluation.metrics import scores
from learned_aug.evaluation.protocol import EvaluationConfig, run_protocol
from learned_aug.evaluation.report import gain_interval, judge, verdict
from learned_aug.evaluation.teacher import fit_teacher

__all__ = [
    "AUGMENTS",
    "CONDITIONS",
    "GENERATORS",
    "LEARNED",
    "Condition",
    "EvaluationConfig",
    "LearnedSpec",
    "PaperCNN",
    "TabularMLP",
    "TrainResult",
    "default_classifier",
    "fit_generator",
    "fit_teacher",
    "gain_interval",
    "get_augment",
    "judge",
    "predict_logits",
    "run_protocol",
    "scores",
    "train_classifier",
    "verdict",
]
