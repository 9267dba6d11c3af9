"""Tagging every real corpus in ../shared/data: one output line per input line, tokens unchanged,
every token tagged, sentences of any length (never dropped or truncated)."""

from __future__ import annotations

import pytest
from conftest import ROOT, tiny_overrides

from tagger.config import load_config
from tagger.data.conll import read_sentences
from tagger.prediction import Tagger
from tagger.training import train

SHARED = ROOT.parent / "shared" / "data"
# (file, format, columns added): a tag column that is not the (WNUT-17) model's own is kept and
# the predictions appended (issue 19); CoNLL-U keeps UPOS and writes MISC Pred=TAG.
CORPORA = [
    ("conll2003/test.txt", "conll", 1),
    ("wnut17/test.txt", "conll", 0),
    ("conll2000/test.txt", "conll", 1),
    ("ud_ewt/test.conllu", "conllu", 0),
]


@pytest.fixture(scope="module")
def tagger(tmp_path_factory, wnut40) -> Tagger:
    tmp = tmp_path_factory.mktemp("corpora")
    sets = tiny_overrides(tmp / "cache", **{"data.train": wnut40, "data.dev": wnut40})
    cfg = load_config(ROOT / "configs" / "demo.yaml", [*sets, "data.test=null"])
    cfg.model.attention = []
    cfg.train.max_epochs = 1
    train(cfg, tmp / "run", progress=False, log=lambda _: None)
    return Tagger.load(tmp / "run")


@pytest.mark.parametrize(("name", "fmt", "added"), CORPORA)
def test_every_line_kept_and_every_token_tagged(tagger, tmp_path, name, fmt, added):
    source = SHARED / name
    if not source.exists():
        pytest.skip(f"{source} is not here (it lies beside the checkout in development and CI)")
    out = tmp_path / "out"
    tagged = tagger.tag_file(str(source), str(out))  # the format is detected
    before = source.read_text(encoding="utf-8").splitlines()
    after = out.read_text(encoding="utf-8").splitlines()
    assert len(after) == len(before)
    tokens = sum(len(s.tokens) for s in read_sentences(str(source), fmt))
    assert tagged == tokens
    types = {t.split("-", 1)[1] for t in tagger.vocab.tags if t != "O"}
    labels = {"O"} | {f"{prefix}-{kind}" for prefix in "BI" for kind in types}  # IOB2 output
    token_col = 1 if fmt == "conllu" else 0
    for old, new in zip(before, after):
        if old.startswith("#") and fmt == "conllu" or not old.strip():
            assert new == old
            continue
        old_fields, new_fields = old.split(), new.split()
        assert new_fields[token_col] == old_fields[token_col]
        if fmt == "conll" and not old.startswith("-DOCSTART-"):
            assert len(new_fields) == len(old_fields) + added
            assert new_fields[: len(old_fields) - 1 + added] == old_fields[: -1 + added or None]
            assert new_fields[-1] in labels
        else:
            assert len(new_fields) == len(old_fields)
    if fmt == "conllu":
        assert all("Pred=" in line for line in after if line.split("\t")[0].isdigit())


def test_conll2000_hash_token_is_a_token():
    source = SHARED / "conll2000" / "train.txt"
    if not source.exists():
        pytest.skip(f"{source} is not here")
    lines = source.read_text(encoding="utf-8").splitlines()
    tokens = [t for s in read_sentences(str(source)) for t in s.tokens]
    assert len(tokens) == sum(1 for line in lines if line.strip())


def test_sentence_lengths_1_to_5000(tagger):
    sentences = [["w"] * n for n in (1, 2, 37, 512, 5000)]
    tags = tagger.tag(sentences)
    assert [len(t) for t in tags] == [1, 2, 37, 512, 5000]
    assert tagger.tag([[]]) == [[]]


def test_hash_line_before_first_token_is_a_comment(tmp_path):
    path = tmp_path / "a.conll"
    path.write_text("# a comment\nEU NNP B-NP\n\n# # O\nx NN B-NP\n\n# note\ny NN O\n")
    sentences = list(read_sentences(str(path)))
    assert [s.tokens for s in sentences] == [["EU"], ["#", "x"], ["y"]]
