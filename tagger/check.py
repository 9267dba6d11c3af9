"""``tagger check``: what a corpus holds and what is wrong with it, before training on it
(sentences, tokens and labels per split, the tag scheme, scheme errors, labels that only dev or
test have, very long sentences, words without a pretrained vector)."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagger.config import Config
from tagger.data.schemes import (
    TagError,
    check_tags,
    convert,
    detect_scheme,
    find_misfit,
    get_spans,
    normalize_scheme,
)
from tagger.errors import TaggerError

SHOWN = 5  # problems listed per kind; the rest are counted


@dataclass
class Split:
    """One file's counts and problems."""

    name: str
    path: str
    sentences: int = 0
    tokens: int = 0
    scheme: str = "none"
    labels: Counter[str] = field(default_factory=Counter)  # entity types, or plain tags
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    longest: tuple[int, int] = (0, 0)  # (tokens, first line)
    outliers: int = 0  # sentences far longer than the rest (Tukey's far-out rule)
    unseen_words: float | None = None  # share of tokens not in train (dev / test)
    no_vector: float | None = None  # share of tokens without a pretrained vector


@dataclass
class _Read:
    tokens: list[list[str]]
    tags: list[list[str]]
    lines: list[int]


def _read(path: str, cfg: Config) -> _Read:
    """A file's (or a ``datasets`` folder's / ``hf:`` dataset's) sentences."""
    d = cfg.data
    if path.startswith("hf:") or Path(path).is_dir():
        from tagger.data.dataset import load_hub

        data = load_hub(path.removeprefix("hf:"), d.tag_field)
        return _Read(data["tokens"], data["tags"], data["line"])
    from tagger.data.conll import read_sentences
    from tagger.data.sniff import format_of

    fmt = format_of(path) if d.format == "auto" else d.format
    out = _Read([], [], [])
    for sentence in read_sentences(path, fmt, d.token_column, d.tag_column, d.tag_field):
        out.tokens.append(sentence.tokens)
        out.tags.append(sentence.tags or [])
        out.lines.append(sentence.line)
    return out


def check_split(name: str, path: str, cfg: Config, scheme: str | None) -> tuple[Split, _Read]:
    """Count one split and list its problems; ``scheme``: the one to hold it to (else detected)."""
    report = Split(name, path)
    try:
        read = _read(path, cfg)
    except TaggerError as exc:  # unreadable: the other splits are still checked
        report.errors.append(str(exc))
        return report, _Read([], [], [])
    report.sentences, report.tokens = len(read.tokens), sum(map(len, read.tokens))
    if not read.tokens:
        report.errors.append(f"{path}: no sentences found")
        return report, read
    if not any(read.tags):
        report.warnings.append(f"{path}: no tag column (fine to tag, not to train or score)")
        return report, read
    bad = find_misfit(read.tags)
    if bad is not None:
        index, position, tag = bad
        report.errors.append(f"{path}:{read.lines[index] + position}: malformed tag {tag!r}")
        return report, read
    report.scheme = normalize_scheme(scheme) if scheme else detect_scheme(read.tags)
    _scheme_problems(report, read)
    _count_labels(report, read)
    _lengths(report, read)
    return report, read


def _scheme_problems(report: Split, read: _Read) -> None:
    """Tags the scheme does not have (errors); sentences not in its canonical form (warnings:
    training and scoring read them as conlleval does)."""
    scheme, bad = report.scheme, []
    if scheme == "none":
        return
    for tags, line in zip(read.tags, read.lines):
        for position, tag in enumerate(tags):
            try:
                check_tags([tag], scheme)
            except TagError as exc:
                report.errors.append(f"{report.path}:{line + position}: {exc}")
                return
        canonical = convert(tags, scheme, scheme)
        if canonical != tags:
            bad.append(line + next(i for i, (a, b) in enumerate(zip(tags, canonical)) if a != b))
    if bad:
        where = ", ".join(str(n) for n in bad[:SHOWN])
        report.warnings.append(
            f"{report.path}: {len(bad)} sentences with a B-/I-/E-/S- prefix out of place for "
            f"{scheme}, read as conlleval does; first at lines {where}"
        )


def _count_labels(report: Split, read: _Read) -> None:
    if report.scheme == "none":
        report.labels = Counter(t for tags in read.tags for t in tags)
        return
    report.labels = Counter(
        kind for tags in read.tags for kind, _, _ in get_spans(tags, report.scheme)
    )


def _lengths(report: Split, read: _Read) -> None:
    """The longest sentence, and how many lie beyond Q3 + 3 IQR (Tukey's far-out values)."""
    lengths = [len(t) for t in read.tokens]
    longest = max(range(len(lengths)), key=lengths.__getitem__)
    report.longest = (lengths[longest], read.lines[longest])
    if len(lengths) >= 4:
        q1, _, q3 = statistics.quantiles(lengths, n=4)
        limit = q3 + 3 * (q3 - q1)
        report.outliers = sum(n > limit for n in lengths)
        if report.outliers:
            report.warnings.append(
                f"{report.path}: {report.outliers} sentences far longer than most (over "
                f"{limit:.0f} tokens; the longest, {report.longest[0]}, at line "
                f"{report.longest[1]}); a missing blank line would look like this"
            )


def check_corpus(paths: dict[str, str], cfg: Config, vectors: str | None = None) -> list[Split]:
    """Check each split (the first is the training split); ``vectors``: a pretrained vector
    file to measure out-of-vocabulary rates against."""
    splits, texts = [], []
    scheme = cfg.data.scheme
    for name, path in paths.items():
        report, read = check_split(name, path, cfg, scheme)
        scheme = scheme or (report.scheme if report.labels else None)  # train's for the rest
        splits.append(report)
        texts.append(read)
    _compare_to_train(splits, texts)
    if vectors:
        _vector_coverage(splits, texts, vectors, cfg.embeddings.lowercase)
    return splits


def _compare_to_train(splits: list[Split], texts: list[_Read]) -> None:
    train, words = splits[0], {w for s in texts[0].tokens for w in s}
    for split, read in zip(splits[1:], texts[1:]):
        missing = sorted(set(split.labels) - set(train.labels))
        if missing and train.labels:
            split.warnings.append(
                f"{split.path}: labels that {train.path} lacks (never predicted): "
                + ", ".join(missing)
            )
        if split.tokens:
            unseen = sum(w not in words for s in read.tokens for w in s)
            split.unseen_words = unseen / split.tokens


def _vector_coverage(splits: list[Split], texts: list[_Read], path: str, lowercase: bool) -> None:
    from tagger.data.vectors import load_vectors

    key = str.lower if lowercase else str
    wanted = {key(w) for read in texts for s in read.tokens for w in s}
    found = set(load_vectors(path, lambda w, _rank: w in wanted, lowercase).words)
    for split, read in zip(splits, texts):
        if split.tokens:
            missing = sum(key(w) not in found for s in read.tokens for w in s)
            split.no_vector = missing / split.tokens


def config_splits(cfg: Config) -> dict[str, str]:
    """The train / dev / test paths a config names."""
    d = cfg.data
    found = {k: v for k, v in (("train", d.train), ("dev", d.dev), ("test", d.test)) if v}
    if not found:
        raise TaggerError("the config names no data file (data.train, data.dev, data.test)")
    return found


def problems(splits: list[Split]) -> list[str]:
    return [e for s in splits for e in s.errors]


def to_dict(splits: list[Split]) -> list[dict[str, Any]]:
    return [{**vars(s), "labels": dict(s.labels.most_common())} for s in splits]


def report_tables(splits: list[Split]) -> list[Any]:
    """Rich tables: one row per split, then label counts per split."""
    from rich.table import Table

    def share(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.1f}%"

    summary = Table(show_edge=False)
    summary.add_column("split")
    for column in ("sentences", "tokens", "scheme", "longest", "not in train", "no vector"):
        summary.add_column(column, justify="left" if column == "scheme" else "right")
    for s in splits:
        summary.add_row(
            s.name, f"{s.sentences:,}", f"{s.tokens:,}", s.scheme, str(s.longest[0]),
            share(s.unseen_words), share(s.no_vector),
        )  # fmt: skip
    entity = any(s.scheme != "none" for s in splits)
    labels = Table(title="entities per type" if entity else "tags", show_edge=False)
    labels.add_column("label")
    for s in splits:
        labels.add_column(s.name, justify="right")
    names = sorted({n for s in splits for n in s.labels})
    for name in names:
        labels.add_row(name, *(str(s.labels.get(name, 0)) for s in splits))
    return [summary, labels] if names else [summary]
