"""Every path that tags gives the same tags with a document-scope model (issue 25, item 9).

CLI predict (CoNLL and JSONL output), ``--workers 2``, ``evaluate RUN DATA``, ``Tagger.evaluate``,
``Tagger.tag`` / ``Tagger.predict`` with document ids, and datasets (a saved dataset with a ``doc``
column) all tag a sentence with its document. ONNX cannot carry documents (the export refuses
document-level models, and the runtime refuses to load one); a dataset without a ``doc`` column
is one document, like a CoNLL file without ``-DOCSTART-`` lines.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, WNUT_TRAIN, tiny_overrides
from typer.testing import CliRunner

from cli import app
from tagger import Tagger
from tagger.config import load_config
from tagger.data.conll import read_sentences
from tagger.training import train


def invoke(*args: object):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def file_tags(path: Path) -> list[list[str]]:
    return [s.tags or [] for s in read_sentences(path)]


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 WNUT-17 sentences as 6 documents of 5, a -DOCSTART- line before each."""
    sentences = list(read_sentences(WNUT_TRAIN))[:30]
    text = "".join(
        ("-DOCSTART-\tO\n\n" if i % 5 == 0 else "")
        + "".join(f"{token}\t{tag}\n" for token, tag in zip(s.tokens, s.tags or []))
        + "\n"
        for i, s in enumerate(sentences)
    )
    path = tmp_path_factory.mktemp("docs") / "docs.conll"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run_dir(documents: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model whose only context layer is a BiLSTM over whole documents; one epoch at a
    small learning rate keeps its tags varied, so that document context changes some of them."""
    tmp = tmp_path_factory.mktemp("docrun")
    extra = {
        "model.attention": "[{type: bilstm, scope: document, hidden: 8}]",
        "train.max_epochs": 1,
        "train.lr": 0.001,
        "data.dev": "null",
        "data.test": "null",
    }
    sets = [f"data.train={documents}", *tiny_overrides(tmp / "cache", **extra)]
    train(
        load_config(ROOT / "configs" / "demo.yaml", sets),
        tmp / "run",
        progress=False,
        log=lambda _m: None,
    )
    return tmp / "run"


def test_every_path_tags_with_the_document(documents: Path, run_dir: Path, tmp_path: Path) -> None:
    tagger = Tagger.load(run_dir)
    assert tagger.network.document_level
    sentences = list(read_sentences(documents))
    tokens, docs = [s.tokens for s in sentences], [s.doc for s in sentences]
    assert sorted(set(docs)) == list(range(6))
    expected = tagger.tag(tokens, docs)
    # The model uses the context: each sentence alone is tagged differently.
    assert tagger.tag(tokens, list(range(len(tokens)))) != expected

    paths: dict[str, list[list[str]]] = {}
    for name, extra in (("predict", []), ("workers", ["--workers", "2"])):
        out = tmp_path / f"{name}.conll"
        invoke("predict", run_dir, documents, "--output", out, *extra)
        paths[name] = file_tags(out)

    # evaluate RUN DATA scored the sentences without their documents before issue 25.
    report = json.loads(invoke("evaluate", run_dir, documents, "--json").stdout)
    pred_report = invoke("evaluate", documents, tmp_path / "predict.conll", "--json").stdout
    assert report == json.loads(pred_report) == tagger.evaluate(str(documents))
    out = tmp_path / "pred.jsonl"
    invoke("predict", run_dir, documents, "--output", out, "--format", "jsonl")
    paths["jsonl"] = [json.loads(line)["tags"] for line in out.read_text().splitlines()]
    paths["Tagger.predict"] = [s.tags for s in tagger.predict(tokens, tokenized=True, docs=docs)]
    nbest = tagger.predict(tokens, tokenized=True, docs=docs, nbest=3)
    paths["Tagger.predict nbest"] = [s.alternatives[0]["tags"] for s in nbest]
    paths["Tagger.tag_gold"] = tagger.tag_gold(str(documents))[1]

    # A dataset saved from the reader keeps its doc column.
    from tagger.data.dataset import load_corpus

    saved = tmp_path / "saved"
    load_corpus(str(documents), cache_dir=str(tmp_path / "cache")).save_to_disk(str(saved))
    out = tmp_path / "dataset.jsonl"
    invoke("predict", run_dir, f"hf:{saved}", "--output", out)
    paths["dataset"] = [json.loads(line)["tags"] for line in out.read_text().splitlines()]
    invoke("predict", run_dir, f"hf:{saved}", "--output", tmp_path / "tagged")
    from datasets import load_from_disk

    paths["dataset folder"] = load_from_disk(str(tmp_path / "tagged"))["pred_tags"]

    for name, tags in paths.items():
        assert tags == expected, name


def test_dataset_without_documents_is_one_document(
    documents: Path, run_dir: Path, tmp_path: Path
) -> None:
    from datasets import Dataset

    tagger = Tagger.load(run_dir)
    tokens = [s.tokens for s in read_sentences(documents)]
    Dataset.from_dict({"tokens": tokens, "tags": tokens}).save_to_disk(str(tmp_path / "plain"))
    out = tmp_path / "plain.jsonl"
    invoke("predict", run_dir, f"hf:{tmp_path / 'plain'}", "--output", out)
    tags = [json.loads(line)["tags"] for line in out.read_text().splitlines()]
    assert tags == tagger.tag(tokens, [0] * len(tokens)) == tagger.tag(tokens)
    # ...and so is a list of sentences given to the Python API without document ids, and the
    # same sentences written as a file without -DOCSTART- lines.
    plain = tmp_path / "plain.conll"
    plain.write_text("".join(" ".join(t) + "\n" for t in tokens), encoding="utf-8")
    text = ["--input-format", "text", "--split", "pretokenized"]  # the tokens as they are
    invoke("predict", run_dir, plain, *text, "--output", tmp_path / "p.conll")
    assert file_tags(tmp_path / "p.conll") == tags
    assert [s.tags for s in tagger.predict(tokens, tokenized=True)] == tags


def test_onnx_refuses_document_models(run_dir: Path, tmp_path: Path, documents: Path) -> None:
    pytest.importorskip("onnxruntime")
    result = CliRunner().invoke(app, ["export", str(run_dir)])
    assert result.exit_code == 2 and "document-level" in result.stderr
    (run_dir / "model.onnx").write_bytes(b"")  # e.g. copied from another run
    try:
        args = ["predict", str(run_dir), str(documents), "--runtime", "onnx"]
        result = CliRunner().invoke(app, args)
    finally:
        (run_dir / "model.onnx").unlink()
    assert result.exit_code == 2 and "document-level" in result.stderr, result.output
