"""The Python API: Tagger.load / predict (spans, confidences, n-best) / evaluate; JSONL output."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, tiny_overrides
from typer.testing import CliRunner

from cli import app
from tagger import Tagger, load_config, train


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, wnut40):
    tmp = tmp_path_factory.mktemp("api")
    sets = tiny_overrides(tmp / "cache", **{"data.train": wnut40, "data.dev": wnut40})
    cfg = load_config(ROOT / "configs" / "demo.yaml", [*sets, "data.test=null"])
    cfg.train.max_epochs = 6
    train(cfg, tmp / "run", progress=False, log=lambda _: None)
    return tmp / "run"


def test_predict_strings_and_tokens(run_dir):
    tagger = Tagger.load(run_dir)
    texts = ["Empire State Building is in New York", "I love Justin Bieber"]
    by_text = [t.sentences[0] for t in tagger.predict(texts)]  # one sentence per text
    by_tokens = tagger.predict([t.split() for t in texts], tokenized=True)
    assert [s.tags for s in by_text] == [s.tags for s in by_tokens]
    for sentence in by_text:
        assert len(sentence.tags) == len(sentence.tokens) == len(sentence.confidences)
        assert all(0.0 < c <= 1.0 + 1e-6 for c in sentence.confidences)
        assert 0.0 < sentence.probability <= 1.0 + 1e-6
        # the path is at most as likely as its least likely token
        assert sentence.probability <= min(sentence.confidences) + 1e-6
        for span in sentence.spans:
            assert span.text == " ".join(sentence.tokens[span.start : span.end])
            assert span.confidence == pytest.approx(
                min(sentence.confidences[span.start : span.end])
            )
    assert tagger.predict(texts)[0].sentences[0].tags == tagger.tag([texts[0].split()])[0]


def test_nbest_paths_are_distinct_and_ranked(run_dir):
    tagger = Tagger.load(run_dir)
    (sentence,) = tagger.predict("I love Justin Bieber and New York", nbest=5).sentences
    options = sentence.alternatives
    assert len(options) == 5
    assert options[0]["tags"] == sentence.tags
    assert options[0]["probability"] == pytest.approx(sentence.probability)
    probs = [o["probability"] for o in options]
    assert probs == sorted(probs, reverse=True)
    assert sum(probs) <= 1.0 + 1e-5
    assert len({tuple(o["tags"]) for o in options}) == 5
    (short,) = tagger.predict([["Hi"]], nbest=50)  # fewer paths than asked: only real ones
    assert 1 <= len(short.alternatives) < 50


def test_evaluate_from_python(run_dir, wnut40):
    report = Tagger.load(run_dir).evaluate(str(wnut40))
    assert set(report) >= {"accuracy", "micro", "macro", "per_type"}
    assert 0.0 <= report["micro"]["f1"] <= 1.0


def test_cli_jsonl_with_nbest(run_dir, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("I love Justin Bieber\n\nNew York is big\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    args = ["predict", str(run_dir), str(src), "--input-format", "text", "--format", "jsonl"]
    result = CliRunner().invoke(app, [*args, "--nbest", "3", "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [[t["text"] for t in r["tokens"]] for r in rows] == [
        ["I", "love", "Justin", "Bieber"],
        ["New", "York", "is", "big"],
    ]
    for row in rows:  # text gives a record per document: its sentences hold the n-best paths
        (sentence,) = row["sentences"]
        assert len(sentence["alternatives"]) == 3
        assert all(0 < t["confidence"] <= 1 + 1e-6 for t in row["tokens"])
    refused = CliRunner().invoke(app, ["predict", str(run_dir), str(src), "--nbest", "3"])
    assert refused.exit_code == 2 and "--format jsonl" in refused.stderr
