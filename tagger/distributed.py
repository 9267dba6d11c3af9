"""Data-parallel training on ``torch.distributed`` (gloo on CPU, NCCL on GPU).

Started by ``torchrun`` (which sets RANK, WORLD_SIZE, MASTER_ADDR, ...) or by
``tagger train --nproc N``, which runs torchrun for one machine. Every rank builds the same
global, length-bucketed batches of ``train.batch_size * world`` sentences from the same seed and
trains on its slice of each; DistributedDataParallel averages the gradients, so one step equals
a single-process step on the whole global batch. Rank 0 evaluates and writes files; the other
ranks wait for its decisions.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class World:
    """This process's place among the training processes."""

    rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, ids: Sequence[int]) -> list[int]:
        """This rank's slice of a global batch."""
        return list(ids[self.rank :: self.size])

    def barrier(self) -> None:
        if self.size > 1:
            torch.distributed.barrier()

    def broadcast_from_main(self, value: Any) -> Any:
        """Rank 0's ``value``, on every rank (the others wait for it)."""
        if self.size == 1:
            return value
        box = [value]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def wrap(self, network: torch.nn.Module) -> torch.nn.Module:
        """The module to call for the training loss (DDP when there are several ranks)."""
        if self.size == 1:
            return network
        from torch.nn.parallel import DistributedDataParallel

        device = next(network.parameters()).device
        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(network, device_ids=ids)


def current() -> World:
    """Join the process group when started by torchrun; a world of one otherwise."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World()
    if not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    return World(torch.distributed.get_rank(), torch.distributed.get_world_size())


def leave() -> None:
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def launch(nproc: int, argv: Sequence[str]) -> int:
    """Run ``tagger <argv>`` in ``nproc`` processes on this machine via torchrun."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "tagger",
        *argv,
    ]
    return subprocess.call(command)
