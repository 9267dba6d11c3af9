"""Training data preparation: the train / dev / test splits read (dev held out of train, or
merged into it with ``train.with_dev``), their tag schemes resolved and checked, tags converted to
the model's scheme, and the vocabulary with its initial word vectors."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from tagger import distributed, windows
from tagger.config import Config, ConfigError
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
from tagger.data.streaming import ColumnView, document_ids, iter_column, sentence_lengths
from tagger.data.vectors import load_vectors
from tagger.data.vocab import Vocab, build_vocab
from tagger.errors import DataError


@dataclass
class Corpus:
    """One split: its Arrow dataset, sentence lengths and where it came from."""

    path: str
    data: Any  # datasets.Dataset with tokens, tags, doc, line

    @property
    def lengths(self) -> list[int]:
        return sentence_lengths(self.data)


@dataclass
class Splits:
    """The corpora of a run, checked, and the schemes of the files and of the model."""

    train: Corpus  # with ``train.with_dev``: train + dev
    dev: Corpus | None
    test: Corpus | None
    scheme: str
    model_scheme: str

    @property
    def others(self) -> list[Corpus]:
        """The dev and test corpora that there are (their words join a pretrained vocabulary)."""
        return [c for c in (self.dev, self.test) if c is not None]


def prepare_splits(cfg: Config, world: distributed.World) -> Splits:
    """Read the splits (dev held out of train with ``data.dev_fraction``), resolve the schemes
    and check every split against them; with ``train.with_dev`` dev joins the training data."""
    if not cfg.data.train:
        raise ConfigError("data.train: no training file given")
    if not world.main:
        world.barrier()  # rank 0 fills the Arrow cache first
    train_set = load_split(cfg, cfg.data.train)
    dev_set = load_split(cfg, cfg.data.dev)
    test_set = load_split(cfg, cfg.data.test)
    if world.main:
        world.barrier()
    if dev_set is None and cfg.data.dev_fraction > 0:
        train_set, dev_set = hold_out(train_set, cfg.data.dev_fraction)
    splits = Splits(train_set, dev_set, test_set, *resolve_schemes(cfg, train_set))
    for corpus in splits.others:  # scored in the model's scheme: their tags must fit it too
        check_split(corpus, splits.scheme)
    if cfg.train.with_dev:
        splits.train = merge_dev(train_set, dev_set, splits.scheme)
    return splits


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
        raise ConfigError(f"data.dev_fraction={fraction} leaves no training sentence")
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
        raise ConfigError("train.with_dev: needs a dev set (data.dev or data.dev_fraction)")
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
