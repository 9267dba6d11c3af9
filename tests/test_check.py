"""`tagger check`: counts per split, the scheme, errors and warnings, OOV rates, exit status."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cli import app
from tagger.check import check_corpus
from tagger.config import Config

TRAIN = "EU B-ORG\nrejects O\nGerman B-MISC\ncall I-MISC\n\nPeter B-PER\nBlackburn I-PER\n"
DEV = "EU B-ORG\nin O\nParis B-LOC\n\nHe O\n"


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_counts_labels_and_scheme(tmp_path):
    train, dev = write(tmp_path, "train.conll", TRAIN), write(tmp_path, "dev.conll", DEV)
    splits = check_corpus({"train": str(train), "dev": str(dev)}, Config())
    assert [(s.sentences, s.tokens) for s in splits] == [(2, 6), (2, 4)]
    assert splits[0].scheme == splits[1].scheme == "iob2"
    assert dict(splits[0].labels) == {"ORG": 1, "MISC": 1, "PER": 1}
    assert dict(splits[1].labels) == {"ORG": 1, "LOC": 1}
    assert splits[1].unseen_words == 3 / 4  # in, Paris, He
    assert any("LOC" in w for w in splits[1].warnings)  # a label train lacks
    assert not splits[0].errors and not splits[1].errors


def test_cli_reports_counts_and_exits_0(tmp_path):
    train, dev = write(tmp_path, "train.conll", TRAIN), write(tmp_path, "dev.conll", DEV)
    result = invoke("check", train, dev)
    assert result.exit_code == 0, result.output
    assert "iob2" in result.stdout and "MISC" in result.stdout
    assert "warning:" in result.stdout and "LOC" in result.stdout


def test_broken_file_names_its_line_and_exits_2(tmp_path):
    train = write(tmp_path, "train.conll", TRAIN)
    broken = write(tmp_path, "dev.conll", "EU B-ORG\n\nx I-PER\ny E-PER\n")  # E- is not IOB2
    result = invoke("check", train, broken)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {broken}:4:"), result.stderr
    assert "Traceback" not in result.output


def test_unreadable_split_is_an_error_and_the_rest_is_still_counted(tmp_path):
    train = write(tmp_path, "train.conll", TRAIN)
    result = invoke("check", train, tmp_path / "missing.conll")
    assert result.exit_code == 2 and "missing.conll" in result.stderr
    assert "3" in result.stdout or "6" in result.stdout  # train's row is printed


def test_config_and_vectors(tmp_path):
    (tmp_path / "data").mkdir()
    write(tmp_path, "data/train.conll", TRAIN)
    write(tmp_path, "data/dev.conll", DEV)
    write(tmp_path, "data/vectors.txt", "eu 0.1 0.2\npeter 0.3 0.4\nparis 0.5 0.6\n")
    config = write(
        tmp_path,
        "exp.yaml",
        "data:\n  train: train.conll\n  dev: dev.conll\nembeddings:\n  pretrained: vectors.txt\n",
    )
    result = invoke("check", config, "--data-root", tmp_path / "data", "--json")
    assert result.exit_code == 0, result.output
    train, dev = json.loads(result.stdout)
    assert train["no_vector"] == 4 / 6 and dev["no_vector"] == 2 / 4
