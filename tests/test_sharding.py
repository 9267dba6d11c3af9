"""``predict --shard I/N``: parts that concatenate to the whole output, documents kept whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import WNUT_TRAIN, tiny_overrides
from typer.testing import CliRunner

from cli import app
from tagger.config import load_config
from tagger.data.conll import iter_chunks, read_sentences
from tagger.data.sharding import bounds, parse_shard, select
from tagger.errors import TaggerError
from tagger.prediction import Tagger
from tagger.training import train

COUNTS = (1, 2, 3, 7)


def invoke(*args: object, input: str | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """50 WNUT-17 sentences in documents of 1 to 9 sentences, with comments and extra blanks."""
    sentences = list(read_sentences(WNUT_TRAIN))[:50]
    sizes, out, i = [4, 9, 1, 6, 2, 3, 8, 5, 7, 5], ["# a comment before everything", ""], 0
    for size in sizes:
        out += ["-DOCSTART-\tO", ""]
        for s in sentences[i : i + size]:
            out += [f"{t}\t{g}" for t, g in zip(s.tokens, s.tags or [])] + ["", ""][: 1 + i % 2]
            i += 1
    path = tmp_path_factory.mktemp("shards") / "docs.conll"
    path.write_text("\n".join([*out, "# trailing comment"]) + "\n", encoding="utf-8")
    return path


def parts(path: Path, count: int, whole_docs: bool) -> list[list]:
    cuts = bounds(iter_chunks(path), count, whole_docs)
    return [list(select(iter_chunks(path), cuts, k)) for k in range(count)]


@pytest.mark.parametrize("count", COUNTS)
def test_parts_hold_every_line_once_in_order(documents: Path, count: int) -> None:
    whole = [line for chunk in iter_chunks(documents) for line in chunk.lines]
    for whole_docs in (False, True):
        found = parts(documents, count, whole_docs)
        assert [line for part in found for c in part for line in c.lines] == whole
        sizes = [sum(c.sentence is not None for c in part) for part in found]
        assert sum(sizes) == 50
        if not whole_docs:  # equal parts: sizes differ by at most one
            assert max(sizes) - min(sizes) <= 1
        else:  # no document is split between two parts
            owner: dict[int, int] = {}
            for k, part in enumerate(found):
                for chunk in part:
                    if chunk.sentence is not None:
                        assert owner.setdefault(chunk.sentence.doc, k) == k


def test_parts_start_at_a_document_marker_and_end_after_a_blank(documents: Path) -> None:
    for part in parts(documents, 3, True)[1:]:
        assert part[0].lines == ["-DOCSTART-\tO"]
    for part in parts(documents, 3, False)[:-1]:
        assert part[-1].sentence is None and part[-1].lines == [""]


def test_more_parts_than_sentences_leaves_some_empty(tmp_path: Path) -> None:
    path = tmp_path / "two.conll"
    path.write_text("a\tO\n\nb\tO\n", encoding="utf-8")
    found = parts(path, 7, False)
    assert [line for part in found for c in part for line in c.lines] == ["a\tO", "", "b\tO"]
    assert sum(1 for part in found if part) == 2


@pytest.mark.parametrize("spec", ["0/3", "4/3", "1/0", "3", "a/b", "-1/2", ""])
def test_bad_shard_specs_are_one_line_errors(spec: str) -> None:
    with pytest.raises(TaggerError, match="--shard"):
        parse_shard(spec)


def test_good_shard_specs() -> None:
    assert parse_shard("1/1") == (1, 1)
    assert parse_shard(" 7 / 7 ") == (7, 7)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, documents: Path) -> dict[str, Path]:
    """A sentence-level and a document-level tiny model trained on ``documents``."""
    tmp = tmp_path_factory.mktemp("shard-models")
    attention = {"sentence": "[]", "document": "[{type: bilstm, scope: document, hidden: 4}]"}
    for name, spec in attention.items():
        extra = {"model.attention": spec, "train.max_epochs": 1}
        cfg = load_config(None, [f"data.train={documents}", *tiny_overrides(tmp, **extra)])
        train(cfg, tmp / name, progress=False, log=lambda _m: None)
    return {name: tmp / name for name in attention}


@pytest.mark.parametrize("level", ["sentence", "document"])
def test_sharded_outputs_concatenate_to_the_whole(
    models: dict[str, Path], documents: Path, tmp_path: Path, level: str
) -> None:
    run = models[level]
    assert Tagger.load(run).network.document_level == (level == "document")
    whole = tmp_path / "whole.conll"
    assert invoke("predict", run, documents, "--output", whole).exit_code == 0
    for count in COUNTS:
        pieces = b""
        for index in range(1, count + 1):
            out = tmp_path / f"part-{index}-of-{count}.conll"
            shard = f"{index}/{count}"
            result = invoke("predict", run, documents, "--output", out, "--shard", shard)
            assert result.exit_code == 0, result.output
            pieces += out.read_bytes()
        assert pieces == whole.read_bytes(), count


def test_sharded_jsonl_and_workers(
    models: dict[str, Path], documents: Path, tmp_path: Path
) -> None:
    """JSONL parts hold the same sentences and tags; probabilities only to float rounding
    (a sentence's marginals depend in the last bits on the batch it is decoded in)."""
    run = models["sentence"]
    whole = tmp_path / "whole.jsonl"
    assert invoke("predict", run, documents, "--output", whole, "--format", "jsonl").exit_code == 0
    pieces = []
    for index in (1, 2, 3):
        out = tmp_path / f"{index}.jsonl"
        args = ["--format", "jsonl", "--shard", f"{index}/3", "--workers", "2"]
        assert invoke("predict", run, documents, "--output", out, *args).exit_code == 0
        pieces += [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    expected = [json.loads(line) for line in whole.read_text(encoding="utf-8").splitlines()]
    assert len(pieces) == len(expected) == 50
    for got, want in zip(pieces, expected):
        assert (got["tokens"], got["tags"]) == (want["tokens"], want["tags"])
        assert got["confidences"] == pytest.approx(want["confidences"], abs=1e-5)


@pytest.mark.parametrize("spec", ["0/3", "4/3", "x"])
def test_cli_rejects_a_bad_shard_without_output(
    models: dict[str, Path], documents: Path, tmp_path: Path, spec: str
) -> None:
    out = tmp_path / "out.conll"
    result = invoke("predict", models["sentence"], documents, "--output", out, "--shard", spec)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("error: --shard")
    assert not out.exists()


def test_shard_of_stdin_and_of_an_empty_file_are_errors(
    models: dict[str, Path], tmp_path: Path
) -> None:
    run, out = models["sentence"], tmp_path / "out.conll"
    result = invoke("predict", run, "-", "--output", out, "--shard", "1/2", input="a\tO\n")
    assert result.exit_code == 2 and "stdin" in result.output
    empty = tmp_path / "empty.conll"
    empty.write_text("\n\n", encoding="utf-8")
    result = invoke("predict", run, empty, "--output", out, "--shard", "1/2")
    assert result.exit_code == 2 and "no sentences" in result.output and str(empty) in result.output
    assert not out.exists()


def test_sharded_dataset(models: dict[str, Path], tmp_path: Path) -> None:
    import datasets

    tokens = [["I", "love", "Paris"], ["Hi"], ["a", "b"]]
    rows = {"tokens": tokens, "tags": [["O"] * len(t) for t in tokens]}
    datasets.Dataset.from_dict(rows).save_to_disk(str(tmp_path / "ds"))
    run, spec = models["sentence"], f"hf:{tmp_path / 'ds'}"
    whole = tmp_path / "whole.jsonl"
    assert invoke("predict", run, spec, "--output", whole).exit_code == 0
    pieces = b""
    for index in (1, 2):
        out = tmp_path / f"{index}.jsonl"
        assert invoke("predict", run, spec, "--output", out, "--shard", f"{index}/2").exit_code == 0
        pieces += out.read_bytes()
    assert pieces == whole.read_bytes()
