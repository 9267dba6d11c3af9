"""Optimisation: the optimiser and its parameter groups, learning-rate schedules, and the moving
average of the weights (``train.ema``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from tagger.config import Config


def param_groups(cfg: Config, network: torch.nn.Module) -> list[dict[str, Any]]:
    """The trainable parameters, the word vectors in a group of their own at
    ``embeddings.lr_scale`` times the learning rate.

    Adam moves a rare word's vector by about the learning rate at every step after the word was
    seen, whatever the gradient's size, so fine-tuned training words drift away from the
    pretrained vectors that the dev/test-only words keep; a smaller rate bounds that drift.
    """
    words = network.embedder.words.weight
    scale = cfg.embeddings.lr_scale
    if scale == 1.0 or not words.requires_grad:  # one group, as checkpoints before lr_scale had
        return [{"params": [p for p in network.parameters() if p.requires_grad]}]
    rest = [p for p in network.parameters() if p.requires_grad and p is not words]
    return [{"params": rest}, {"params": [words], "lr": cfg.train.lr * scale}]


def make_optimizer(cfg: Config, network: torch.nn.Module) -> torch.optim.Optimizer:
    t = cfg.train
    params = param_groups(cfg, network)
    if t.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay, foreach=True
        )
    kind = torch.optim.AdamW if t.optimizer == "adamw" else torch.optim.Adam
    # fused: one kernel over all parameters, a fraction of the per-tensor loop's cost per step
    # (docs/performance.md, "Training loop")
    return kind(params, lr=t.lr, weight_decay=t.weight_decay, fused=True)


def make_scheduler(cfg: Config, optimizer: torch.optim.Optimizer) -> Any:
    """Decay the learning rate by ``train.lr_decay`` on dev plateaus or, with ``train.lr_step``,
    every that many epochs (for ``train.with_dev``, where no held-out score is left to watch)."""
    t = cfg.train
    if t.lr_step > 0:
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=t.lr_step, gamma=t.lr_decay)
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="max", factor=t.lr_decay, patience=t.lr_patience, min_lr=t.min_lr
    )


def make_average(cfg: Config, network: torch.nn.Module) -> Any:
    """With ``train.ema`` > 0, torch's AveragedModel keeping a moving average of the weights,
    updated after every step (Polyak averaging), or None. The average is what gets evaluated
    and saved; it smooths the last steps' noise, which on small corpora moves the test score
    from one epoch, or one seed, to the next."""
    if cfg.train.ema == 0:
        return None
    from torch.optim.swa_utils import AveragedModel

    return AveragedModel(network, multi_avg_fn=corrected_ema(cfg.train.ema))


def corrected_ema(decay: float) -> Callable[[list, list, Any], None]:
    """AveragedModel's update for an exponential moving average without the start-up bias.

    torch's ``get_ema_multi_avg_fn`` starts the average at the first weights, so early on it
    is mostly the initial network (0.999 ** 1000 = 37% of it after 1000 steps), which scores
    near zero and so misleads dev-based LR decay and early stopping. This one keeps the average
    of all weights so far, weighted ``decay ** age`` and normalised (Adam's bias correction):
    after n earlier updates the new weights get ``(1 - decay) / (1 - decay ** (n + 1))``,
    1 at the first update, tending to ``1 - decay``.
    """

    @torch.no_grad()
    def update(averaged: list, current: list, updates: Any) -> None:
        weight = (1 - decay) / (1 - decay ** (int(updates) + 1))
        torch._foreach_lerp_(averaged, current, weight)

    return update
