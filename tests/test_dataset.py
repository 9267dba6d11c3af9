"""Arrow-backed corpora: content-keyed cache, errors, and the hf: loader on local datasets."""

from __future__ import annotations

import os

import datasets
import pytest

from tagger.data.dataset import file_digest, load_corpus
from tagger.errors import DataError


def write(path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def test_columns_and_values(tmp_path):
    src = tmp_path / "a.conll"
    write(src, "-DOCSTART- O\n\nEU B-ORG\nrejects O\n\nPeter B-PER\n")
    data = load_corpus(str(src), cache_dir=str(tmp_path / "cache"))
    assert data.column_names == ["tokens", "tags", "doc", "line"]
    assert data["tokens"] == [["EU", "rejects"], ["Peter"]]
    assert data["tags"] == [["B-ORG", "O"], ["B-PER"]]
    assert data["line"] == [3, 6]


def test_cache_is_keyed_on_content_not_name_or_mtime(tmp_path):
    src = tmp_path / "a.conll"
    cache = str(tmp_path / "cache")
    write(src, "EU B-ORG\n")
    stat = src.stat()
    assert load_corpus(str(src), cache_dir=cache)["tokens"] == [["EU"]]
    write(src, "UN B-ORG\n")  # same name, same size, same mtime: only the bytes differ
    os.utime(src, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert load_corpus(str(src), cache_dir=cache)["tokens"] == [["UN"]]


def test_same_content_reuses_cache(tmp_path):
    cache = str(tmp_path / "cache")
    for name in ("a.conll", "b.conll"):
        write(tmp_path / name, "EU B-ORG\n")
    first = load_corpus(str(tmp_path / "a.conll"), cache_dir=cache)
    again = load_corpus(str(tmp_path / "a.conll"), cache_dir=cache)
    assert first.cache_files and first.cache_files == again.cache_files
    assert file_digest(tmp_path / "a.conll") == file_digest(tmp_path / "b.conll")


def test_errors_name_file_and_line(tmp_path):
    src = tmp_path / "bad.conll"
    write(src, "EU B-ORG\nrejects O extra\n")
    with pytest.raises(DataError, match=r"bad.conll:2"):
        load_corpus(str(src), cache_dir=str(tmp_path / "cache"))
    with pytest.raises(DataError, match="not found"):
        load_corpus(str(tmp_path / "missing.conll"))
    empty = tmp_path / "empty.conll"
    write(empty, "\n\n")
    with pytest.raises(DataError, match="no sentences"):
        load_corpus(str(empty), cache_dir=str(tmp_path / "cache"))


def class_label_dataset() -> datasets.Dataset:
    names = ["O", "B-PER", "I-PER", "B-LOC"]
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "tokens": datasets.Sequence(datasets.Value("string")),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=names)),
        }
    )
    rows = {"id": ["0", "1"], "tokens": [["Ann", "Lee", "runs"], ["Paris"]]}
    rows["ner_tags"] = [[1, 2, 0], [3]]
    return datasets.Dataset.from_dict(rows, features=features)


def test_hf_saved_to_disk(tmp_path):
    class_label_dataset().save_to_disk(str(tmp_path / "ds"))
    data = load_corpus(f"hf:{tmp_path / 'ds'}")
    assert data["tokens"] == [["Ann", "Lee", "runs"], ["Paris"]]
    assert data["tags"] == [["B-PER", "I-PER", "O"], ["B-LOC"]]


def test_hf_dataset_dict_split(tmp_path):
    dd = datasets.DatasetDict({"train": class_label_dataset(), "test": class_label_dataset()})
    dd.save_to_disk(str(tmp_path / "dd"))
    assert load_corpus(f"hf:{tmp_path / 'dd'}:test")["tags"][1] == ["B-LOC"]


def test_hf_load_dataset_path_with_string_tags(tmp_path):
    # load_dataset on a local folder of JSON lines: the same call that reads a hub name
    folder = tmp_path / "hub"
    folder.mkdir()
    (folder / "train.jsonl").write_text(
        '{"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"]}\n', encoding="utf-8"
    )
    data = load_corpus(f"hf:{folder}:train")
    assert data["tokens"] == [["EU", "rejects"]] and data["tags"] == [["B-ORG", "O"]]


def test_hf_missing_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="hf:"):
        load_corpus(f"hf:{tmp_path / 'nothing-here'}")
