"""Contrastive fine-tuning under Accelerate: ``train(TrainConfig)`` (CLI: ``hubbleclip train``)."""

from hubbleclip.lazy import lazy_attributes
from hubbleclip.training.config import TrainConfig

__all__ = ["TrainConfig", "train"]
__getattr__ = lazy_attributes(__name__, {"train": "trainer"})
