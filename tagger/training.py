"""The training loop: data preparation, optimiser, clipping, LR decay, early stopping, best model.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tagger import checkpoint, distributed, preflight, runlock, windows
from tagger.archive import save_model
from tagger.atomic import atomic_write_bytes
from tagger.config import Config, ConfigError
from tagger.data.batching import bucket_batches, document_batches
from tagger.data.dataset import load_corpus
from tagger.data.schemes import (
    TagError,
    check_tags,
    convert,
    detect_scheme,
    find_misfit,
    normalize_scheme,
)
from tagger.data.sniff import training_format
from tagger.data.streaming import (
    ColumnView,
    StreamingEncoded,
    document_ids,
    iter_column,
    sentence_lengths,
)
from tagger.data.vectors import load_vectors
from tagger.data.vocab import Vocab, build_vocab
from tagger.decoding import decode
from tagger.errors import DataError, TaggerError
from tagger.runtime import autocast, network_device
from tagger.scoring import score

METRICS = "metrics.jsonl"


class TrainingError(TaggerError):
    """Training cannot go on (e.g. the loss became NaN); the best model so far is kept."""


@dataclass
class Corpus:
    """One split: its Arrow dataset, sentence lengths and where it came from."""

    path: str
    data: Any  # datasets.Dataset with tokens, tags, doc, line

    @property
    def lengths(self) -> list[int]:
        return sentence_lengths(self.data)


def load_split(cfg: Config, path: str | None) -> Corpus | None:
    d = cfg.data
    if path is None:
        return None
    fmt = training_format(path) if d.format == "auto" else d.format
    data = load_corpus(path, fmt, d.token_column, d.tag_column, d.tag_field, d.cache_dir)
    return Corpus(path, data)


def hold_out(train: Corpus, fraction: float) -> tuple[Corpus, Corpus]:
    """Split off the last ``fraction`` of the training sentences as a dev set."""
    total = len(train.data)
    keep = total - max(1, int(total * fraction))
    if keep < 1:
        raise TaggerError(f"data.dev_fraction={fraction} leaves no training sentence")
    rest = train.data.select(range(keep, total))
    return Corpus(train.path, train.data.select(range(keep))), Corpus(train.path, rest)


def resolve_schemes(cfg: Config, train: Corpus) -> tuple[str, str]:
    """The training files' scheme (given or detected) and the scheme the model learns in."""
    check_tagged(train)
    tags = iter_column(train.data, "tags")
    if cfg.data.scheme:
        scheme = normalize_scheme(cfg.data.scheme)
    else:
        reject_misfits(train)
        scheme = detect_scheme(tags)
    check_split(train, scheme)
    model_scheme = normalize_scheme(cfg.data.train_scheme) if scheme != "none" else "none"
    return scheme, model_scheme


def check_tagged(corpus: Corpus) -> None:
    """Raise a DataError when a training split has no tag column."""
    if not any(iter_column(corpus.data, "tags")):
        raise DataError(corpus.path, None, "no tag column: training needs tagged sentences")
    for length, line in zip(corpus.lengths, corpus.data["line"]):
        if length > windows.WINDOW:  # its attention scores alone would take (T * T) memory
            message = f"a sentence of {length} tokens; training takes at most {windows.WINDOW}"
            raise DataError(corpus.path, line, f"{message} (split it; tagging takes any length)")


def reject_misfits(corpus: Corpus) -> None:
    """Raise a DataError at the first tag that is neither O nor PREFIX-TYPE in a corpus of
    entity tags (one stray ``B-`` must not turn a NER corpus into a plain tag set)."""
    bad = find_misfit(iter_column(corpus.data, "tags"))
    if bad is not None:
        index, position, tag = bad
        message = (
            f"tag {tag!r} does not fit the entity tags of this file: expected O or "
            "B-, I-, E-, S-, L-, U- and a type (data.scheme=none reads every tag as a plain tag)"
        )
        raise DataError(corpus.path, ColumnView(corpus.data, "line")[index] + position, message)


def check_split(corpus: Corpus, scheme: str) -> None:
    """Raise a DataError (file and line) at the first sentence not valid in ``scheme``."""
    if scheme == "none":
        return
    for sentence_tags, line in zip(
        iter_column(corpus.data, "tags"), iter_column(corpus.data, "line")
    ):
        try:
            check_tags(sentence_tags, scheme)
        except TagError as exc:
            raise DataError(corpus.path, line, str(exc)) from None


def merge_dev(train: Corpus, dev: Corpus | None, scheme: str) -> Corpus:
    """Train + dev as one training split (``train.with_dev``), dev's documents numbered after
    train's; dev is checked against the training files' scheme first, naming its own lines."""
    import datasets

    if dev is None:
        raise TaggerError("train.with_dev: needs a dev set (data.dev or data.dev_fraction)")
    check_tagged(dev)
    check_split(dev, scheme)
    offset = int(document_ids(train.data).max(initial=-1)) + 1
    shifted = dev.data.map(lambda row: {"doc": row["doc"] + offset})
    return Corpus(train.path, datasets.concatenate_datasets([train.data, shifted]))


def to_model_tags(tags: list[list[str]], scheme: str, model_scheme: str) -> list[list[str]]:
    if scheme == model_scheme:
        return tags
    return [convert(t, scheme, model_scheme) for t in tags]


def tag_converter(scheme: str, model_scheme: str) -> Callable[[list[str]], list[str]]:
    """One sentence's file tags -> model tags."""
    if scheme == model_scheme:
        return list
    return lambda tags: convert(tags, scheme, model_scheme)


def prepare_vocab(
    cfg: Config, train: Corpus, others: list[Corpus], scheme: str, model_scheme: str
) -> tuple[Vocab, torch.Tensor, int]:
    """Vocabulary and initial word vectors (pretrained where available, else uniform random).

    With pretrained vectors the vocabulary also holds the ``embeddings.max_vectors`` most frequent
    pretrained words and the pretrained words of the dev/test files (as NCRF++ does), so those
    words keep their vectors instead of becoming <unk>.
    """
    emb = cfg.embeddings
    model_tags = map(tag_converter(scheme, model_scheme), iter_column(train.data, "tags"))
    pairs = zip(iter_column(train.data, "tokens"), model_tags)  # one pass, a slice at a time
    vocab = build_vocab(pairs, lowercase=emb.lowercase, scheme=scheme, model_scheme=model_scheme)
    vectors = None
    if emb.pretrained:
        key = vocab.word_key
        wanted = set(vocab.words) | {
            key(t) for c in others for s in iter_column(c.data, "tokens") for t in s
        }
        vectors = load_vectors(
            emb.pretrained, lambda w, rank: rank < emb.max_vectors or w in wanted, emb.lowercase
        )
        known = set(vocab.words)
        extra = [w for w in vectors.words if w not in known]
        vocab = Vocab(
            vocab.words + extra, vocab.chars, vocab.tags, scheme, model_scheme, emb.lowercase
        )
    dim = vectors.dim if vectors is not None else cfg.model.word_dim
    bound = math.sqrt(3.0 / dim)
    matrix = torch.empty(len(vocab.words), dim).uniform_(-bound, bound)
    matrix[0] = 0.0
    if vectors is not None:
        rows = [vocab.word_index[w] for w in vectors.words]
        matrix[rows] = torch.from_numpy(vectors.matrix)
    return vocab, matrix, dim


def make_optimizer(cfg: Config, network: torch.nn.Module) -> torch.optim.Optimizer:
    t = cfg.train
    params = param_groups(cfg, network)
    if t.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay, foreach=True
        )
    kind = torch.optim.AdamW if t.optimizer == "adamw" else torch.optim.Adam
    # fused: one kernel over all parameters; the per-tensor loop costs ~40 ms a step on CPU
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
    if not 0 <= cfg.train.ema < 1:
        raise ConfigError(f"train.ema: expected a decay in [0, 1), got {cfg.train.ema}")
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


def evaluate_split(network: Any, vocab: Vocab, corpus: Corpus) -> dict[str, Any]:
    """Decode a split and score it in the model's scheme."""
    tokens, docs = corpus.data["tokens"], corpus.data["doc"]
    gold = to_model_tags(corpus.data["tags"], vocab.scheme, vocab.model_scheme)
    return score(gold, decode(network, vocab, tokens, docs=docs), vocab.model_scheme)


def headline(report: dict[str, Any]) -> float:
    """The number early stopping watches: micro F1, or accuracy for plain tag sets."""
    return report["micro"]["f1"] if "micro" in report else report["accuracy"]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train(
    cfg: Config | None,
    output: str | Path,
    progress: bool = True,
    log: Callable[[str], None] = print,
    resume: bool = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train a model as ``cfg`` says; write the best one (by dev score) to ``output``.

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
        checkpoint.check_free(output, overwrite)
    loop, test_set = build_loop(cfg, output, progress, log, resume, world)
    # everything is validated: only now is the run directory created, locked and written
    with runlock.hold(output) if world.main else contextlib.nullcontext():
        if not resume and world.main:
            loop.replacing = checkpoint.check_free(output, overwrite)  # again, under the lock
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
    if not cfg.data.train:
        raise TaggerError("data.train: no training file given")
    if not world.main:
        world.barrier()  # rank 0 fills the Arrow cache first
    train_set = load_split(cfg, cfg.data.train)
    dev_set = load_split(cfg, cfg.data.dev)
    test_set = load_split(cfg, cfg.data.test)
    if world.main:
        world.barrier()
    if dev_set is None and cfg.data.dev_fraction > 0:
        train_set, dev_set = hold_out(train_set, cfg.data.dev_fraction)
    others = [c for c in (dev_set, test_set) if c is not None]
    scheme, model_scheme = resolve_schemes(cfg, train_set)
    for corpus in others:  # scored in the model's scheme: their tags must fit it too
        check_split(corpus, scheme)
    if cfg.train.with_dev:
        train_set = merge_dev(train_set, dev_set, scheme)
    vocab, matrix, dim = prepare_vocab(cfg, train_set, others, scheme, model_scheme)
    log(
        f"train {len(train_set.data)} sentences, scheme {scheme} -> {model_scheme}, "
        f"{len(vocab.tags)} tags, {len(vocab.words)} words, {len(vocab.chars)} chars"
        + (f", {world.size} processes" if world.size > 1 else "")
    )
    seed_everything(cfg.train.seed)
    network = preflight.checked_network(cfg, vocab, dim, matrix)
    first = train_set.data.select(range(min(2, len(train_set.data))))
    tags = to_model_tags(first["tags"], scheme, model_scheme)
    preflight.try_step(cfg, vocab, network, first["tokens"], tags, first["doc"])
    loop = Loop(cfg, vocab, network, train_set, dev_set or train_set, output, progress, log, world)
    loop.meta = {"word_dim": dim}
    if resume and checkpoint.restore(output, loop):
        log(f"resuming after epoch {loop.epoch_done}")
    return loop, test_set


def _silent(_message: str) -> None:
    """The log of ranks other than 0."""


def _describe(report: dict[str, Any]) -> str:
    if "micro" in report:
        m = report["micro"]
        return f"P {100 * m['precision']:.2f} R {100 * m['recall']:.2f} F1 {100 * m['f1']:.2f}"
    return f"accuracy {100 * report['accuracy']:.2f}"


class Loop:
    """Epochs of training with dev evaluation, LR decay on plateau and early stopping."""

    def __init__(
        self,
        cfg: Config,
        vocab: Vocab,
        network: Any,
        train_set: Corpus,
        dev_set: Corpus,
        output: Path,
        progress: bool,
        log: Callable[[str], None],
        world: distributed.World | None = None,
    ) -> None:
        self.world = world or distributed.World()
        self.cfg, self.vocab, self.network = cfg, vocab, network
        self.trainable = self.world.wrap(network)
        self.train_set, self.dev_set, self.output = train_set, dev_set, output
        self.progress, self.log = progress, log
        self.optimizer = make_optimizer(cfg, network)
        t = cfg.train
        self.scheduler = make_scheduler(cfg, self.optimizer)
        self.averaged = make_average(cfg, network)
        self.rng = random.Random(t.seed)
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
        t = self.cfg.train
        self.output.mkdir(parents=True, exist_ok=True)  # train() has made it (bench callers not)
        while not self.finished and self.epoch_done < t.max_epochs:
            epoch = self.epoch_done + 1
            started = time.perf_counter()
            loss, tokens = self.epoch(epoch)
            seconds = time.perf_counter() - started
            dev = self.evaluate_dev()
            value = -loss if t.with_dev else headline(dev)
            improved = value > self.best
            if self.replacing and self.world.main:  # the old run gives way only now
                checkpoint.start(self.output, self.cfg)
                self.replacing = False
            if improved:
                self.best, self.best_epoch = value, epoch
                meta = {"epoch": epoch, "dev": dev, **self.meta}
                if self.world.main:
                    save_model(self.output, self.cfg, self.vocab, self.kept, **meta)
            lr = self.optimizer.param_groups[0]["lr"]
            self.record(
                {
                    "epoch": epoch,
                    "loss": loss,
                    "lr": lr,
                    "dev": dev,
                    "tokens_per_s": tokens / seconds,
                    "seconds": seconds,
                    "best": improved,
                }
            )
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
                checkpoint.save(self.output, self)
        best = next(m for m in self.metrics if m.get("epoch") == self.best_epoch)
        return {"best_epoch": self.best_epoch, "dev": best["dev"]}

    def evaluate_dev(self) -> dict[str, Any] | None:
        """The kept network's dev scores, on every rank; None with ``train.with_dev``, where dev
        is training data (the kept epoch is then the one of lowest training loss, and scoring
        data the network trained on would only cost time: 6.3 s an epoch, one thread, for the
        CoNLL-2003 document network)."""
        if self.cfg.train.with_dev:
            return None
        dev = evaluate_split(self.kept, self.vocab, self.dev_set) if self.world.main else None
        return self.world.share(dev)  # other ranks wait for rank 0's evaluation

    def epoch(self, epoch: int) -> tuple[float, int]:
        """One pass over the training data; returns (mean loss, tokens seen)."""
        from tagger.progress import Progress

        t, world = self.cfg.train, self.world
        batches = [ids for ids in self.plan(self.rng) if len(ids) >= world.size]
        every = sum(self.lengths[i] for ids in batches for i in ids)  # all ranks' tokens
        batches = [world.shard(ids) for ids in batches]
        torch.manual_seed(t.seed + 1000 * epoch + world.rank)  # dropout: per epoch and rank
        self.network.train()
        total, tokens, seen = 0.0, 0, 0
        with Progress(f"epoch {epoch}", len(batches), enabled=self.progress) as bar:
            for ids in batches:
                loss = self.step(ids)
                total += loss * len(ids)
                seen += len(ids)
                tokens += sum(self.lengths[i] for i in ids)
                bar.advance(loss=loss, tokens=tokens * world.size)
        return total / max(seen, 1), every

    def plan(self, rng: random.Random) -> list[list[int]]:
        """One epoch's batches (sentence ids, all ranks'), in the order ``rng`` shuffles them."""
        size = self.cfg.train.batch_size * self.world.size
        if self.whole_documents:  # attention across a document's sentences
            return document_batches(self.docs, size, rng)
        return windows.cap(bucket_batches(self.lengths, size, rng), self.lengths)

    def step(self, ids: list[int]) -> float:
        batch = self.encoded.batch(ids)
        device = network_device(self.network)
        with autocast(device, self.cfg.train.precision):
            loss = self.trainable(
                batch.to(device)
            )  # TaggerNetwork.forward: the loss (through DDP if several)
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
    def kept(self) -> Any:
        """The network that is evaluated and saved: the weight average when there is one."""
        return self.network if self.averaged is None else self.averaged.module
