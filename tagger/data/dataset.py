"""Corpora as Arrow-backed ``datasets.Dataset`` objects (memory-mapped, so larger than memory).

A CoNLL/CoNLL-U file is parsed once into an Arrow cache keyed on the file's *content* (its
SHA-256 and the reading options), not its name or modification time: ``from_generator`` caches
on its arguments, so the digest is one of them. ``hf:NAME[:SPLIT]`` loads a Hugging Face dataset
(a hub name, or a local folder that ``datasets.load_dataset`` reads) with token and tag features.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tagger.errors import DataError, TaggerError


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _generate(path: str, digest: str, options: dict[str, Any]) -> Iterator[dict[str, Any]]:
    from tagger.data.conll import read_sentences, require_sentences

    del digest  # only part of the cache key
    for sentence in require_sentences(path, read_sentences(path, **options)):
        yield {
            "tokens": sentence.tokens,
            "tags": sentence.tags or [],
            "doc": sentence.doc,
            "line": sentence.line,
        }


def load_corpus(
    path: str,
    fmt: str = "conll",
    token_column: int = 0,
    tag_column: int | None = -1,
    tag_field: str = "upos",
    cache_dir: str | None = None,
) -> Any:
    """Load sentences as a ``datasets.Dataset`` with columns tokens, tags, doc, line."""
    if path.startswith("hf:") or is_saved_dataset(path):
        return load_hub(path.removeprefix("hf:"), tag_field)
    if not Path(path).is_file():
        hint = "" if Path(path).is_absolute() else f" (under {Path.cwd()}; {ROOT_HINT})"
        raise DataError(path, None, f"data file not found{hint}")
    datasets = quiet_datasets()
    options = {"fmt": fmt, "token_column": token_column, "tag_column": tag_column}
    options["tag_field"] = tag_field
    kwargs = {"path": str(Path(path).resolve()), "digest": file_digest(path), "options": options}
    try:
        return datasets.Dataset.from_generator(_generate, gen_kwargs=kwargs, cache_dir=cache_dir)
    except Exception as exc:  # datasets wraps errors raised inside the generator
        cause = exc
        while cause is not None and not isinstance(cause, TaggerError):
            cause = cause.__cause__ or cause.__context__
        if cause is not None:
            raise cause from None
        raise


ROOT_HINT = "relative data paths are read from data.root, $TAGGER_DATA or --data-root"


def quiet_datasets() -> Any:
    """The ``datasets`` module with its progress bars and info logs off (they flood stderr)."""
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    return datasets


SAVED = ("dataset_info.json", "state.json", "dataset_dict.json")  # what save_to_disk writes


def is_saved_dataset(path: str) -> bool:
    """Whether ``path`` (or FOLDER of ``FOLDER:SPLIT``) is a folder written by ``save_to_disk``."""
    for folder in (path, path.rpartition(":")[0]):
        if folder and any((Path(folder) / name).is_file() for name in SAVED):
            return True
    return False


def open_hub(spec: str) -> Any:
    """``NAME[:SPLIT]`` (default split: train) from the hub or a local dataset folder, with its
    columns as they are."""
    datasets = quiet_datasets()
    name, split = spec, "train"
    if ":" in spec and not Path(spec).is_dir():
        name, split = spec.rsplit(":", 1)
    try:
        if is_saved_dataset(name):
            data = datasets.load_from_disk(name)
            data = data[split] if isinstance(data, datasets.DatasetDict) else data
        else:
            data = datasets.load_dataset(name, split=split)
    except (FileNotFoundError, ValueError, ConnectionError, KeyError) as exc:
        raise DataError(f"hf:{spec}", None, f"cannot load dataset: {exc}") from None
    if "tokens" not in data.column_names:
        raise DataError(f"hf:{spec}", None, "dataset has no 'tokens' feature")
    return data


def load_hub(spec: str, tag_field: str = "tags") -> Any:
    """``NAME[:SPLIT]`` as columns tokens, tags, doc, line (see :func:`open_hub`)."""
    return _standardise(open_hub(spec), f"hf:{spec}", tag_field)


def _standardise(data: Any, where: str, tag_field: str) -> Any:
    """Rename the token and tag features to tokens/tags (tag names, not ClassLabel ids)."""
    import datasets

    candidates = [tag_field, "tags", "ner_tags", "pos_tags", "upos", "chunk_tags"]
    tag_col = next((c for c in candidates if c in data.column_names), None)
    if tag_col is None:
        raise DataError(where, None, f"dataset has no tag feature (looked for {candidates})")
    feature = data.features[tag_col]
    inner = getattr(feature, "feature", None)
    if isinstance(inner, datasets.ClassLabel):
        names = inner.names
        data = data.map(lambda row: {"_tags": [names[i] for i in row[tag_col]]})
    else:
        data = data.map(lambda row: {"_tags": row[tag_col]})
    # A ``doc`` column (a dataset saved from tagger's reader has one) keeps each row's document;
    # without one the rows are one document, like a CoNLL file without -DOCSTART- lines.
    has_doc = "doc" in data.column_names
    data = data.map(
        lambda row, i: {"line": i + 1} | ({} if has_doc else {"doc": 0}), with_indices=True
    )
    keep = ["tokens", "_tags", "doc", "line"]
    data = data.remove_columns([c for c in data.column_names if c not in keep])
    return data.rename_column("_tags", "tags")
