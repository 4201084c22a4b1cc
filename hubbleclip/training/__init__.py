"""Contrastive fine-tuning under Accelerate: ``train(TrainConfig)`` (CLI: ``hubbleclip train``)."""

from hubbleclip.training.config import TrainConfig

__all__ = ["TrainConfig", "train"]


def train(cfg: TrainConfig) -> dict:
    from hubbleclip.training.trainer import train as _train

    return _train(cfg)
