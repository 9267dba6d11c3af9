"""Where the network runs: device choice and mixed precision."""

from __future__ import annotations

import contextlib
import os
from typing import Any

import torch

from tagger.errors import TaggerError


def pick_device(name: str = "auto") -> torch.device:
    """``auto``: this rank's GPU when CUDA is available, else the CPU; ``cuda:N``: GPU N."""
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise TaggerError("train.device: cuda requested but no CUDA GPU is available")
    if name.startswith("cuda:"):
        return torch.device(name)
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))


def network_device(network: torch.nn.Module) -> torch.device:
    return next(network.parameters()).device


def autocast(device: torch.device, precision: str) -> Any:
    """bf16 autocast for matrix products when asked (the CRF's log-sum-exps stay in fp32)."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
