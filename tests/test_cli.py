"""Tests for the command line (cli.app) through typer's CliRunner."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import tiny_overrides
from typer.testing import CliRunner

from cli import app
from tagger.data.conll import read_sentences

COMMANDS = ("train", "predict", "evaluate")


def invoke(*args: object, input: str | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def sets(*items: str) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, wnut40: Path) -> dict[str, Path]:
    """A config file, a data file and a model trained by ``tagger train``."""
    tmp = tmp_path_factory.mktemp("cli")
    config = tmp / "exp.yaml"
    config.write_text(f"data:\n  train: {wnut40}\n", encoding="utf-8")
    run = tmp / "run"
    result = invoke(
        "train", config, "--output", run, "--quiet", "--json", *sets(*tiny_overrides(tmp / "cache"))
    )
    assert result.exit_code == 0, result.output
    return {"tmp": tmp, "config": config, "data": wnut40, "run": run, "summary": result.stdout}


def check_user_error(result, *words: str) -> None:
    """Exit status 2, exactly one line on stderr starting with 'error:', no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0]


def test_train_writes_a_model_and_prints_a_summary(workspace) -> None:
    summary = json.loads(workspace["summary"])
    assert summary["output"] == str(workspace["run"])
    assert summary["best_epoch"] in (1, 2, 3)
    assert 0.0 <= summary["dev"]["micro"]["f1"] <= 1.0
    for name in ("config.json", "vocab.json", "model.safetensors", "metrics.jsonl"):
        assert (workspace["run"] / name).is_file()
    lines = (workspace["run"] / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3
    info = json.loads((workspace["run"] / "config.json").read_text())
    assert info["config"]["model"]["hidden_size"] == 16  # --set reached the config
    assert info["config"]["data"]["train"] == str(workspace["data"])  # from the YAML file


def test_predict_conll_keeps_every_line(workspace, tmp_path: Path) -> None:
    out = tmp_path / "pred.conll"
    result = invoke("predict", workspace["run"], workspace["data"], "--output", out)
    assert result.exit_code == 0, result.output
    source = workspace["data"].read_text(encoding="utf-8").splitlines()
    written = out.read_text(encoding="utf-8").splitlines()
    assert len(written) == len(source)
    tags = set()
    for before, after in zip(source, written):
        if before.strip():
            assert after.split("\t")[0] == before.split("\t")[0]
            assert len(after.split("\t")) == 2
            tags.add(after.split("\t")[1])
        else:
            assert after == before  # separator lines copied unchanged
    vocab = json.loads((workspace["run"] / "vocab.json").read_text())
    assert "O" in tags
    assert all(t == "O" or t[:2] in ("B-", "I-") for t in tags)  # written back as IOB2
    types = {t.split("-", 1)[1] for t in vocab["tags"] if t != "O"}
    assert tags <= {"O"} | {f"{p}-{t}" for t in types for p in "BI"}


def test_predict_to_stdout_with_dash(workspace, tmp_path: Path) -> None:
    out = tmp_path / "pred.conll"
    assert invoke("predict", workspace["run"], workspace["data"], "-o", out).exit_code == 0
    result = invoke("predict", workspace["run"], workspace["data"], "--output", "-")
    assert result.exit_code == 0, result.output
    assert result.stdout == out.read_text(encoding="utf-8")


def test_predict_jsonl(workspace) -> None:
    result = invoke("predict", workspace["run"], workspace["data"], "--format", "jsonl")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    sentences = list(read_sentences(workspace["data"]))
    assert len(rows) == len(sentences) == 40
    for row, sentence in zip(rows, sentences):
        assert set(row) == {"tokens", "tags", "spans", "confidences", "probability", "alternatives"}
        assert row["tokens"] == sentence.tokens
        assert len(row["tags"]) == len(sentence.tokens)
        for span in row["spans"]:
            assert span["text"] == " ".join(sentence.tokens[span["start"] : span["end"]])


def test_predict_text_from_stdin(workspace) -> None:
    text = "Empire State Building = ESB .\n\nPretty bad storm here last evening .\n"
    result = invoke(
        "predict", workspace["run"], "-", "--input-format", "text", "--format", "jsonl", input=text
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [[t["text"] for t in r["tokens"]] for r in rows] == [
        line.split() for line in text.split("\n\n")
    ]
    assert [len([t["tag"] for t in r["tokens"]]) for r in rows] == [6, 7]
    # Text in, CoNLL out: token<TAB>tag lines, a blank line after each sentence.
    result = invoke("predict", workspace["run"], "-", "--input-format", "text", input=text)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    tokens = [line.split("\t")[0] for line in lines if line]
    assert tokens == text.split()
    assert lines.count("") >= 2


def test_evaluate_two_files_json(workspace, tmp_path: Path) -> None:
    pred = tmp_path / "pred.conll"
    assert invoke("predict", workspace["run"], workspace["data"], "-o", pred).exit_code == 0
    result = invoke("evaluate", workspace["data"], pred, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"accuracy", "micro", "macro", "per_type"} <= set(report)
    values = [report["accuracy"], *report["micro"].values(), *report["macro"].values()]
    for row in report["per_type"].values():
        values += [row["precision"], row["recall"], row["f1"]]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert "person" in report["per_type"] and report["per_type"]["person"]["support"] == 6
    # A file scored against itself is perfect.
    same = json.loads(invoke("evaluate", workspace["data"], workspace["data"], "--json").stdout)
    assert same["micro"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0}


def test_evaluate_model_on_data(workspace, tmp_path: Path) -> None:
    pred = tmp_path / "pred.conll"
    assert invoke("predict", workspace["run"], workspace["data"], "-o", pred).exit_code == 0
    files = json.loads(invoke("evaluate", workspace["data"], pred, "--json").stdout)
    result = invoke("evaluate", workspace["run"], workspace["data"], "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["accuracy"] == pytest.approx(files["accuracy"])
    assert report["micro"] == pytest.approx(files["micro"])
    assert report["per_type"].keys() == files["per_type"].keys()
    table = invoke("evaluate", workspace["run"], workspace["data"])
    assert table.exit_code == 0 and "micro avg" in table.stdout and "person" in table.stdout


def test_help_mentions_examples() -> None:
    result = invoke("--help")
    assert result.exit_code == 0 and "Example" in result.stdout
    for command in COMMANDS:
        result = invoke(command, "--help")
        assert result.exit_code == 0, result.output
        assert "Example" in result.stdout, command


def test_error_missing_data_file_for_train(workspace, tmp_path: Path) -> None:
    out = tmp_path / "out"
    missing = tmp_path / "missing.conll"
    result = invoke(
        "train", workspace["config"], "-o", out, "--quiet", *sets(f"data.train={missing}")
    )
    check_user_error(result, "missing.conll")


def test_failed_train_leaves_no_run_directory(workspace, tmp_path: Path) -> None:
    out = tmp_path / "out"
    missing = tmp_path / "missing.conll"
    result = invoke(
        "train", workspace["config"], "-o", out, "--quiet", *sets(f"data.train={missing}")
    )
    assert result.exit_code == 2
    assert not out.exists()


def test_error_missing_input_for_predict(workspace, tmp_path: Path) -> None:
    out = tmp_path / "pred.conll"
    result = invoke("predict", workspace["run"], tmp_path / "missing.conll", "-o", out)
    check_user_error(result, "missing.conll")
    assert list(tmp_path.iterdir()) == []  # neither the output nor a temporary file


def test_error_missing_file_for_evaluate(workspace, tmp_path: Path) -> None:
    result = invoke("evaluate", workspace["data"], tmp_path / "missing.conll")
    check_user_error(result, "missing.conll")


def test_error_unknown_config_key(workspace, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke("train", workspace["config"], "-o", out, *sets("train.batch_sise=4"))
    check_user_error(result, "train.batch_sise")
    assert not out.exists()


def test_error_unknown_scheme(workspace, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke("train", workspace["config"], "-o", out, *sets("data.scheme=bioes2"))
    check_user_error(result, "data.scheme")
    assert not out.exists()


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_error_run_dir_that_is_not_a_model(workspace, tmp_path: Path, command: str) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "pred.conll"
    args = ("-o", out) if command == "predict" else ()
    result = invoke(command, empty, workspace["data"], *args)
    check_user_error(result, "not a tagger model")
    assert not out.exists()
    assert list(empty.iterdir()) == []


def test_version() -> None:
    from tagger import __version__

    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"tagger {__version__}"


def test_predict_ends_with_a_summary_line(workspace, tmp_path: Path) -> None:
    out = tmp_path / "pred.conll"
    result = invoke("predict", workspace["run"], workspace["data"], "--output", out)
    assert result.exit_code == 0, result.output
    sentences = list(read_sentences(workspace["data"]))
    tokens = sum(len(s.tokens) for s in sentences)
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"tagged {len(sentences):,} sentences, {tokens:,} tokens in "), line
    assert "tokens/s" in line and line.endswith(f"-> {out}")
    quiet = invoke("predict", workspace["run"], workspace["data"], "--output", out, "--quiet")
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_predict_summary_counts_the_sentences_of_text(workspace, tmp_path: Path) -> None:
    """Raw text (stdin, JSONL out): the closing line counts the sentences it cut and tagged."""
    text = "I saw Justin Bieber in New York. Then I flew home.\n\nObama visited Paris\n"
    args = ["predict", workspace["run"], "-", "--input-format", "text", "--format", "jsonl"]
    result = invoke(*args, input=text)
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    sentences = sum(len(r["sentences"]) for r in records)
    tokens = sum(len(r["tokens"]) for r in records)
    assert (len(records), sentences) == (2, 3)
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"tagged {sentences} sentences, {tokens} tokens in "), line


def test_tagging_line_counts_in_words() -> None:
    from tagger.summaries import tagging_line

    assert (
        tagging_line(1, 7, 2.0, "-")
        == "tagged 1 sentence, 7 tokens in 2.0 s (4 tokens/s) -> stdout"
    )
    line = tagging_line(1287, 1, 0.5, "out.conll")
    assert line == "tagged 1,287 sentences, 1 token in 0.5 s (2 tokens/s) -> out.conll"


def test_train_prints_a_readable_summary(workspace, tmp_path: Path) -> None:
    args = ["train", workspace["config"], "--output", tmp_path / "run", "--quiet"]
    result = invoke(
        *args, *sets(*tiny_overrides(workspace["tmp"] / "cache", **{"train.max_epochs": 1}))
    )
    assert result.exit_code == 0, result.output
    assert "kept epoch" in result.stdout and "F1 " in result.stdout and "{" not in result.stdout


def test_export_without_onnx_is_one_error_line(workspace, monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a)
    )
    result = invoke("export", workspace["run"], "--output", workspace["tmp"] / "m.onnx")
    check_user_error(result, "pip install", "[onnx]")
    assert not (workspace["tmp"] / "m.onnx").exists()


def test_ray_without_ray_names_an_install_that_works(workspace, monkeypatch) -> None:
    """Not 'pip install tagger[ray]': 'tagger' on the package index is another project."""
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    out = workspace["tmp"] / "ray.conll"
    result = invoke("predict", workspace["run"], workspace["data"], "-o", out, "--ray", "local")
    check_user_error(result, "pip install 'ray[data]'", "pip install -e '.[ray]'")
    assert not out.exists()
