"""The training loop: epochs of optimiser steps, dev scoring, LR decay, early stopping, the kept
model and a checkpoint per epoch; :func:`train` sets it up (``training_data.py``,
``optimisation.py``) and runs it.

Seeded and repeatable on CPU: the same config gives the same weights.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tagger import checkpoint, distributed, preflight, runlock, windows
from tagger.archive import save_model
from tagger.atomic import atomic_write_bytes
from tagger.checkpoint import TrainState
from tagger.config import Config, silenced_settings
from tagger.data.batching import bucket_batches, document_batches
from tagger.data.streaming import StreamingEncoded, document_ids
from tagger.data.vocab import Vocab
from tagger.decoding import decode
from tagger.errors import TaggerError
from tagger.optimisation import make_average, make_optimizer, make_scheduler
from tagger.runtime import autocast, network_device
from tagger.scoring import score
from tagger.training_data import (
    Corpus,
    Splits,
    prepare_splits,
    prepare_vocab,
    tag_converter,
    to_model_tags,
)

METRICS = "metrics.jsonl"


class TrainingError(TaggerError):
    """Training cannot go on (e.g. the loss became NaN); the best model so far is kept."""


def evaluate_split(network: Any, vocab: Vocab, corpus: Corpus) -> dict[str, Any]:
    """Decode a split and score it in the model's scheme."""
    tokens, docs = corpus.data["tokens"], corpus.data["doc"]
    gold = to_model_tags(corpus.data["tags"], vocab.scheme, vocab.model_scheme)
    return score(gold, decode(network, vocab, tokens, docs=docs), vocab.model_scheme)


def selection_score(report: dict[str, Any]) -> float:
    """The score that picks the kept epoch and drives plateau decay and early stopping: micro F1,
    or accuracy for plain tag sets."""
    return report["micro"]["f1"] if "micro" in report else report["accuracy"]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train(
    cfg: Config | None,
    output: str | Path,
    *,
    progress: bool = True,
    log: Callable[[str], None] = print,
    resume: bool = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train a model as ``cfg`` says and write the kept one to ``output``: the epoch of best dev
    score; with ``train.with_dev`` the epoch of lowest training loss; with no dev set the epoch
    of best score on the training data (a log line says so).

    With ``resume``, the config comes from ``output``'s checkpoint and training continues after
    the last finished epoch, ending with the same weights as an uninterrupted run. Returns the
    summary: best epoch, its dev scores, and test scores when a test file is given.
    """
    output = Path(output)
    world = distributed.current()
    if not world.main:
        log = _silent
        progress = False
    if resume:
        cfg = checkpoint.read_config(output)
    elif cfg is None:
        raise TaggerError("train: give a config, or resume an interrupted run")
    elif world.main:
        checkpoint.check_free(output, overwrite=overwrite)
    options = {"progress": progress, "log": log, "resume": resume, "world": world}
    loop, test_set = build_loop(cfg, output, **options)
    # everything is validated: only now is the run directory created, locked and written
    with runlock.hold(output) if world.main else contextlib.nullcontext():
        if not resume and world.main:
            loop.replacing = checkpoint.check_free(output, overwrite=overwrite)  # under the lock
            if not loop.replacing:
                checkpoint.start(output, cfg)
        summary = loop.run()
        if test_set is not None and world.main:
            from tagger.archive import load_model

            _, _, best, _ = load_model(output)
            summary["test"] = evaluate_split(best, loop.vocab, test_set)
            loop.record({"event": "test", **summary["test"]})
            log(f"test {_describe(summary['test'])}")
    world.barrier()
    return summary


def build_loop(
    cfg: Config,
    output: Path,
    *,
    progress: bool = False,
    log: Callable[[str], None] = print,
    resume: bool = False,
    world: distributed.World | None = None,
) -> tuple[Loop, Corpus | None]:
    """Everything :func:`train` sets up before its first epoch: the data, vocabulary, network
    and :class:`Loop` (restored from ``output``'s checkpoint with ``resume``), and the test set.
    Writes nothing: bad data or a network that cannot be built fails here, before ``output``
    is touched."""
    world = world or distributed.World()
    torch.set_num_threads(cfg.train.threads or os.cpu_count() or 1)
    seed_everything(cfg.train.seed)
    splits = prepare_splits(cfg, world)
    scheme, model_scheme = splits.scheme, splits.model_scheme
    vocab, matrix, dim = prepare_vocab(cfg, splits.train, splits.others, scheme, model_scheme)
    log(
        f"train {len(splits.train.data)} sentences, scheme {scheme} -> {model_scheme}, "
        f"{len(vocab.tags)} tags, {len(vocab.words)} words, {len(vocab.chars)} chars"
        + (f", {world.size} processes" if world.size > 1 else "")
    )
    seed_everything(cfg.train.seed)
    network = preflight.checked_network(cfg, vocab, dim, matrix)
    first = splits.train.data.select(range(min(2, len(splits.train.data))))
    tags = to_model_tags(first["tags"], scheme, model_scheme)
    preflight.try_step(cfg, vocab, network, first["tokens"], tags, first["doc"])
    dev_set = splits.dev or splits.train
    options = {"progress": progress, "log": log, "world": world}
    loop = Loop(cfg, vocab, network, splits.train, dev_set, output, **options)
    loop.meta = {"word_dim": dim}
    for warning in [*silenced_settings(cfg), *_selection_notes(cfg, splits)]:
        log(f"warning: {warning}")
    if resume and loop.resume():
        log(f"resuming after epoch {loop.epoch_done}")
    return loop, splits.test


def _selection_notes(cfg: Config, splits: Splits) -> list[str]:
    """What picks the kept epoch when it is not a held-out dev score."""
    if splits.dev is not None or cfg.train.with_dev:
        return []
    return [
        "no dev set (data.dev, data.dev_fraction): the kept epoch, plateau LR decay and early "
        "stopping go by the score on the training data itself"
    ]


def _silent(_message: str) -> None:
    """The log of ranks other than 0."""


def _describe(report: dict[str, Any]) -> str:
    if "micro" in report:
        m = report["micro"]
        return f"P {100 * m['precision']:.2f} R {100 * m['recall']:.2f} F1 {100 * m['f1']:.2f}"
    return f"accuracy {100 * report['accuracy']:.2f}"


class Loop:
    """Epochs of training with dev evaluation, LR decay and early stopping."""

    def __init__(
        self,
        cfg: Config,
        vocab: Vocab,
        network: Any,
        train_set: Corpus,
        dev_set: Corpus,
        output: Path,
        *,
        progress: bool = False,
        log: Callable[[str], None] = print,
        world: distributed.World | None = None,
    ) -> None:
        self.world = world or distributed.World()
        self.cfg, self.vocab, self.network = cfg, vocab, network
        self.loss_module = self.world.wrap(network)  # what a step calls: DDP or the network
        self.train_set, self.dev_set, self.output = train_set, dev_set, output
        self.progress, self.log = progress, log
        self.optimizer = make_optimizer(cfg, network)
        self.scheduler = make_scheduler(cfg, self.optimizer)
        self.averaged = make_average(cfg, network)
        self.rng = random.Random(cfg.train.seed)
        self.lengths = train_set.lengths  # the per-sentence index; batches read Arrow rows
        self.docs = document_ids(train_set.data)
        self.whole_documents = network.document_level  # batches of whole documents (settable)
        convert = tag_converter(vocab.scheme, vocab.model_scheme)
        width = cfg.model.max_word_length
        self.encoded = StreamingEncoded(vocab, train_set.data, convert, width)
        self.metrics: list[dict[str, Any]] = []
        self.meta: dict[str, Any] = {}
        self.best, self.best_epoch = -math.inf, 0
        self.epoch_done, self.finished = 0, False
        self.replacing = False  # True: an old run is in output until this one's first epoch ends

    def record(self, entry: dict[str, Any]) -> None:
        """Append to metrics.jsonl (rewritten atomically; rank 0 only)."""
        self.metrics.append(entry)
        if not self.world.main:
            return
        text = "".join(json.dumps(m) + "\n" for m in self.metrics)
        atomic_write_bytes(self.output / METRICS, text.encode("utf-8"))

    def run(self) -> dict[str, Any]:
        """Epochs until ``train.max_epochs`` or early stopping; returns the kept epoch and its
        dev scores."""
        self.output.mkdir(parents=True, exist_ok=True)  # train() has made it (bench callers not)
        while not self.finished and self.epoch_done < self.cfg.train.max_epochs:
            epoch = self.epoch_done + 1
            started = time.perf_counter()
            loss, tokens = self.epoch(epoch)
            self.close_epoch(epoch, loss, tokens, time.perf_counter() - started)
        best = next(m for m in self.metrics if m.get("epoch") == self.best_epoch)
        return {"best_epoch": self.best_epoch, "dev": best["dev"]}

    def close_epoch(self, epoch: int, loss: float, tokens: int, seconds: float) -> None:
        """After an epoch's steps: score dev, keep the model if it improved, record, decay the
        learning rate, decide on early stopping and write the checkpoint."""
        t = self.cfg.train
        dev = self.evaluate_dev()
        value = -loss if t.with_dev else selection_score(dev)
        improved = value > self.best
        if self.replacing and self.world.main:  # the old run gives way only now
            checkpoint.start(self.output, self.cfg)
            self.replacing = False
        if improved:
            self.best, self.best_epoch = value, epoch
            if self.world.main:
                meta = {"epoch": epoch, "dev": dev, **self.meta}
                save_model(self.output, self.cfg, self.vocab, self.saved_network, **meta)
        lr = self.optimizer.param_groups[0]["lr"]
        entry = {"epoch": epoch, "loss": loss, "lr": lr, "dev": dev}
        entry |= {"tokens_per_s": tokens / seconds, "seconds": seconds, "best": improved}
        self.record(entry)
        self.log(
            f"epoch {epoch}: loss {loss:.4f} lr {lr:.2g} {tokens / seconds:,.0f} tok/s"
            f"{'' if dev is None else ' dev ' + _describe(dev)}{' *' if improved else ''}"
        )
        if t.lr_step > 0:
            self.scheduler.step()
        else:
            self.scheduler.step(value)
        self.epoch_done = epoch
        if epoch - self.best_epoch >= t.patience:
            watched = "training loss" if t.with_dev else "dev"
            self.log(f"early stop: no {watched} improvement for {t.patience} epochs")
            self.finished = True
        if self.world.main:
            checkpoint.save(self.output, self.state())

    def evaluate_dev(self) -> dict[str, Any] | None:
        """The saved network's dev scores, on every rank; None with ``train.with_dev``, where dev
        is training data: the kept epoch is then the one of lowest training loss, and scoring
        data the network trained on would only cost time (docs/performance.md, "Training loop")."""
        if self.cfg.train.with_dev:
            return None
        main = self.world.main
        dev = evaluate_split(self.saved_network, self.vocab, self.dev_set) if main else None
        return self.world.broadcast_from_main(dev)  # other ranks wait for rank 0's evaluation

    def epoch(self, epoch: int) -> tuple[float, int]:
        """One pass over the training data; returns (mean loss, tokens seen by all ranks). The
        network's train/eval mode is put back afterwards."""
        from tagger.progress import Progress

        t, world = self.cfg.train, self.world
        batches = [ids for ids in self.plan(self.rng) if len(ids) >= world.size]
        every = sum(self.lengths[i] for ids in batches for i in ids)  # all ranks' tokens
        batches = [world.shard(ids) for ids in batches]
        torch.manual_seed(t.seed + 1000 * epoch + world.rank)  # dropout: per epoch and rank
        was_training = self.network.training
        self.network.train()
        total, tokens, seen = 0.0, 0, 0
        try:
            with Progress(f"epoch {epoch}", len(batches), enabled=self.progress) as bar:
                for ids in batches:
                    loss = self.step(ids)
                    total += loss * len(ids)
                    seen += len(ids)
                    tokens += sum(self.lengths[i] for i in ids)
                    bar.advance(loss=loss, tokens=tokens * world.size)
        finally:
            self.network.train(was_training)
        return total / max(seen, 1), every

    def plan(self, rng: random.Random) -> list[list[int]]:
        """One epoch's batches (sentence ids, all ranks'), in the order ``rng`` shuffles them."""
        size = self.cfg.train.batch_size * self.world.size
        if self.whole_documents:  # attention across a document's sentences
            return document_batches(self.docs, size, rng, self.lengths, windows.DOCUMENT)
        return windows.cap(bucket_batches(self.lengths, size, rng), self.lengths)

    def step(self, ids: list[int]) -> float:
        """One optimiser step on the sentences ``ids``; returns the loss."""
        batch = self.encoded.batch(ids)
        device = network_device(self.network)
        with autocast(device, self.cfg.train.precision):
            loss = self.loss_module(batch.to(device))  # TaggerNetwork.forward: the loss
        if not torch.isfinite(loss):
            raise TrainingError(
                f"training loss became {loss.item()}; the best model so far is kept in "
                f"{self.output} (try a lower train.lr or train.clip)"
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.train.clip > 0:
            torch.nn.utils.clip_grad_norm_(self.network.parameters(), self.cfg.train.clip)
        self.optimizer.step()
        if self.averaged is not None:
            self.averaged.update_parameters(self.network)
        return float(loss.item())

    @property
    def saved_network(self) -> Any:
        """The network that is scored and saved: the weight average when there is one."""
        return self.network if self.averaged is None else self.averaged.module

    def state(self) -> TrainState:
        """Everything a resumed run needs to continue as if never stopped."""
        return TrainState(
            epoch_done=self.epoch_done,
            finished=self.finished,
            best=self.best,
            best_epoch=self.best_epoch,
            metrics=self.metrics,
            network=self.network.state_dict(),
            optimizer=self.optimizer.state_dict(),
            scheduler=self.scheduler.state_dict(),
            rng_python=self.rng.getstate(),  # the batch order; dropout is reseeded each epoch
            averaged=None if self.averaged is None else self.averaged.state_dict(),
        )

    def resume(self) -> bool:
        """Continue from ``output``'s checkpoint; False when no epoch had finished."""
        state = checkpoint.load(self.output, self.cfg.train.max_epochs)
        if state is None:
            return False
        with checkpoint.damaged_if_failing(self.output):  # e.g. tensors of the wrong shape
            self.network.load_state_dict(state.network)
            self.optimizer.load_state_dict(state.optimizer)
            self.scheduler.load_state_dict(state.scheduler)
            if self.averaged is not None:
                self.averaged.load_state_dict(state.averaged)
            self.rng.setstate(state.rng_python)
        self.epoch_done, self.finished = state.epoch_done, state.finished
        self.best, self.best_epoch = state.best, state.best_epoch
        self.metrics = state.metrics
        return True
