"""Checks before a training run writes anything: the network can be built from the config and
can take one training step (forward and backward) on the device, in the chosen precision."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from tagger.archive import build_network
from tagger.config import Config, ConfigError
from tagger.data.batching import Encoded
from tagger.data.vocab import Vocab
from tagger.runtime import autocast, network_device, pick_device


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def checked_network(cfg: Config, vocab: Vocab, dim: int, matrix: torch.Tensor) -> Any:
    """The network for ``cfg`` on its device; a config it cannot be built from is a ConfigError."""
    try:
        network = build_network(cfg, vocab, dim, pretrained=matrix)
    except (RuntimeError, ValueError, ZeroDivisionError, OverflowError, MemoryError) as exc:
        message = f"model: cannot build the network from this config: {_first_line(exc)}"
        raise ConfigError(message) from None
    return network.to(pick_device(cfg.train.device))


def try_step(
    cfg: Config,
    vocab: Vocab,
    network: Any,
    tokens: Sequence[Sequence[str]],
    tags: Sequence[Sequence[str]],
    docs: Sequence[int],
) -> None:
    """A training step's forward and backward on a few sentences (model-scheme ``tags``),
    without the optimiser step: the gradients are dropped and the random state put back, so
    the run's weights are as without it. Call it before DistributedDataParallel wraps the
    network (its gradient hooks must not fire). A failure is a ConfigError, e.g. bf16 on a CPU
    without bf16 kernels."""
    device = network_device(network)
    encoded = Encoded(vocab, tokens, tags, cfg.model.max_word_length, docs)
    batch = encoded.batch(list(range(len(tokens)))).to(device)
    rng = torch.random.get_rng_state()
    try:
        # the loss from its parts, not network.loss: what wraps or counts training steps
        # (hooks, tests) must not see this trial
        with autocast(device, cfg.train.precision):
            emissions = network.emissions(batch)  # (B, T, K)
            loss = network.crf.neg_log_likelihood(emissions, batch.tags, batch.mask)
        loss.backward()
    except (RuntimeError, ValueError, IndexError, ZeroDivisionError) as exc:
        if cfg.train.precision != "fp32":
            key = f"train.precision: {cfg.train.precision} does not run here"
            raise ConfigError(f"{key} ({_first_line(exc)}); use fp32") from None
        message = f"model: the network cannot run with this config: {_first_line(exc)}"
        raise ConfigError(message) from None
    finally:
        network.zero_grad(set_to_none=True)
        torch.random.set_rng_state(rng)
