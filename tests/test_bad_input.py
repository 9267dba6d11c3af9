"""Bad input: one line naming file and line, exit status 2, no traceback, no output."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app

ROOT = Path(__file__).resolve().parents[1]
GOOD = "EU B-ORG\nrejects O\nGerman B-MISC\n\nPeter B-PER\nBlackburn I-PER\n"


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def assert_clean_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("model")
    data = tmp / "train.conll"
    data.write_text(GOOD * 5, encoding="utf-8")
    sets = [
        f"data.train={data}",
        f"data.dev={data}",
        "data.test=null",
        "train.max_epochs=1",
        "model.hidden_size=8",
        "model.word_dim=8",
        "model.char_hidden=4",
        "model.attention=[]",
    ]
    args = ["train", str(ROOT / "configs" / "demo.yaml"), "--output", str(tmp / "run"), "--quiet"]
    for item in sets:
        args += ["--set", item]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return tmp / "run"


BAD_FILES = {
    "column count": ("EU B-ORG\nrejects O extra\n", ":2:", "columns"),
    "unknown prefix": ("EU B-ORG\nrejects O\n\nPeter X-PER\n", ":4:", "X-PER"),
    "not utf-8": (b"EU B-ORG\nrejects \xff\xfe O\n", ":2:", "UTF-8"),
    "empty": ("", "", "no sentences"),
    "blank only": ("\n\n\t\n", "", "no sentences"),
}


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_training_file(tmp_path, case):
    content, where, what = BAD_FILES[case]
    data = write(tmp_path / "train.conll", content)
    out = tmp_path / "run"
    result = invoke(
        "train", str(ROOT / "configs" / "demo.yaml"), "--output", str(out), "--quiet",
        "--set", f"data.train={data}", "--set", "data.dev=null", "--set", "data.test=null",
    )  # fmt: skip
    assert_clean_error(result, f"train.conll{where}", what)
    assert not out.exists()


def train_on(tmp_path: Path, text: str, *sets: str):
    tmp_path.mkdir(exist_ok=True)
    data = write(tmp_path / "train.conll", text)
    out = tmp_path / "run"
    args = ["train", str(ROOT / "configs" / "demo.yaml"), "--output", str(out), "--quiet"]
    sets = (f"data.train={data}", "data.dev=null", "data.test=null", "train.max_epochs=1", *sets)
    for item in (*sets, "model.hidden_size=8", "model.word_dim=8", "model.attention=[]"):
        args += ["--set", item]
    return invoke(*args), out


@pytest.mark.parametrize("stray", ["B-", "FOO", "B", "I-"])
def test_stray_tag_in_a_ner_training_file_is_an_error(tmp_path, stray):
    # Issue 25, item 7: one stray tag used to turn the corpus into a plain tag set ("scheme
    # none": no constraints, no entity scores) and train with exit 0.
    text = GOOD * 3 + f"\nBerlin B-LOC\ncalls {stray}\n"
    result, out = train_on(tmp_path, text)
    assert_clean_error(result, "train.conll:21:", repr(stray), "data.scheme=none")
    assert not out.exists()


def test_plain_tag_sets_still_train_as_plain(tmp_path):
    text = "EU NNP\nrejects VBZ\nB B\n\n- HYPH\n( -LRB-\nx B-\n"  # no PREFIX-TYPE tag
    result, out = train_on(tmp_path, text)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "vocab.json").read_text())["scheme"] == "none"
    stray = GOOD + "\nBerlin FOO\n"
    result, out = train_on(tmp_path / "x", stray, "data.scheme=none")  # asked for: plain tags
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("case", sorted(set(BAD_FILES) - {"unknown prefix"}))
def test_bad_prediction_file_to_score(tmp_path, case):
    content, where, what = BAD_FILES[case]
    gold = write(tmp_path / "gold.conll", GOOD)
    pred = write(tmp_path / "pred.conll", content)
    assert_clean_error(invoke("evaluate", str(gold), str(pred)), f"pred.conll{where}", what)


def test_unknown_prefix_in_a_file_to_score_is_scored_as_conlleval_does(tmp_path):
    # Issue 25, item 5 (a changed promise): conlleval.pl accepts any tag, and so does evaluate;
    # "X-ORG" is prefix X, type ORG (it used to be an error here).
    gold = write(tmp_path / "gold.conll", "EU X-ORG\nrejects B-ORG\n")
    pred = write(tmp_path / "pred.conll", "EU B-ORG\nrejects O\n")
    result = invoke("evaluate", str(gold), str(pred), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # gold: X-ORG starts ORG (a change of type) and B-ORG after X continues it: ORG[0:2];
    # pred: ORG[0:1], so nothing is right (conlleval.pl: 1 phrase, found 1, correct 0).
    assert report["per_type"]["ORG"]["support"] == 1
    assert report["micro"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


@pytest.mark.parametrize(
    ("pred", "fragment"),
    [
        ("EU B-ORG\nrejects O\nBritish B-MISC\n\nPeter B-PER\nBlackburn I-PER\n", ":3:"),
        ("EU B-ORG\nrejects O\nGerman B-MISC\n\nPeter B-PER\n", ":5:"),
        ("EU B-ORG\nrejects O\nGerman B-MISC\n\nPeter B-PER\nBlackburn I-PER\n\nx O\n", ":8:"),
        ("EU B-ORG\nrejects O\nGerman B-MISC\n", "gold.conll:5"),
    ],
    ids=["token", "shorter sentence", "extra sentence", "missing sentence"],
)
def test_prediction_for_another_text_is_an_error(tmp_path, pred, fragment):
    # Issue 25, item 6: the tokens and sentences of gold and prediction must be the same.
    gold = write(tmp_path / "gold.conll", GOOD)
    pred_path = write(tmp_path / "pred.conll", pred)
    result = invoke("evaluate", str(gold), str(pred_path))
    assert_clean_error(result, "pred.conll", fragment)
    assert result.stdout == ""


def test_no_token_check_scores_normalised_tokens(tmp_path):
    gold = write(tmp_path / "gold.conll", GOOD)
    lowered = "\n".join(
        f"{line.split()[0].lower()} {line.split()[1]}" if line else "" for line in GOOD.splitlines()
    )
    pred = write(tmp_path / "pred.conll", lowered + "\n")
    assert_clean_error(invoke("evaluate", str(gold), str(pred)), "pred.conll:1:", "'eu'", "'EU'")
    result = invoke("evaluate", str(gold), str(pred), "--no-token-check", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["micro"]["f1"] == 1.0
    shorter = write(tmp_path / "short.conll", "eu B-ORG\n\npeter B-PER\nblackburn I-PER\n")
    result = invoke("evaluate", str(gold), str(shorter), "--no-token-check")
    assert_clean_error(result, "short.conll:1:", "1 tokens")  # lengths are still checked


def test_invalid_sequences_are_scored_not_rejected(tmp_path):
    gold = write(tmp_path / "gold.conll", "EU B-ORG\nrejects O\n\nPeter B-PER\nLee I-PER\n")
    pred = write(tmp_path / "pred.conll", "EU I-ORG\nrejects O\n\nPeter B-PER\nLee I-LOC\n")
    result = invoke("evaluate", str(gold), str(pred), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # I-ORG after nothing starts an ORG entity (correct); B-PER I-LOC are two wrong entities
    assert report["per_type"]["ORG"]["f1"] == 1.0
    assert report["micro"]["precision"] == pytest.approx(1 / 3)
    assert report["micro"]["recall"] == pytest.approx(1 / 2)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("1\tEU\teu\tPROPN\tNNP\t_\t2\tnsubj\t_\n", "conll.conllu:1:"),
        ("1\tEU\teu\tPROPN\tNNP\t_\t2\tnsubj\t_\t_\n2\tx\n", "conll.conllu:2:"),
    ],
)
def test_conllu_wrong_field_count(tmp_path, model_dir, content, fragment):
    src = write(tmp_path / "conll.conllu", content)
    out = tmp_path / "out.conllu"
    result = invoke("predict", str(model_dir), str(src), "--output", str(out))
    assert_clean_error(result, fragment, "10")
    assert not out.exists()


@pytest.mark.parametrize("content", ["", "\n\t\n", "-DOCSTART- O\n\n"])
def test_nothing_to_tag(tmp_path, model_dir, content):
    src = write(tmp_path / "in.conll", content)
    out = tmp_path / "out.conll"
    result = invoke("predict", str(model_dir), str(src), "--output", str(out))
    assert_clean_error(result, "in.conll", "no sentences")
    assert not out.exists()


def test_tag_column_beyond_columns(tmp_path, model_dir):
    src = write(tmp_path / "in.conll", GOOD)
    out = tmp_path / "out.conll"
    args = ["predict", str(model_dir), str(src), "--output", str(out), "--tag-column", "5"]
    assert_clean_error(invoke(*args), "in.conll:1:", "column 5")
    assert not out.exists()


def test_bad_file_to_tag_leaves_no_output_and_keeps_old_one(tmp_path, model_dir):
    src = write(tmp_path / "in.conll", GOOD + "\nx O\ny O z\n")
    out = write(tmp_path / "out.conll", "precious\n")
    result = invoke("predict", str(model_dir), str(src), "--output", str(out))
    assert_clean_error(result, "in.conll:9:")
    assert out.read_text() == "precious\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_unseen_tags_in_file_to_tag_are_kept_or_replaced_on_request(tmp_path, model_dir):
    # Issue 19 changed this: a last column of tags the model does not know is kept (the
    # predictions are appended); --write replace replaces it as before.
    src = write(tmp_path / "in.conll", "EU B-WEIRD\nrejects Q\n")
    out = tmp_path / "out.conll"
    result = invoke("predict", str(model_dir), str(src), "--output", str(out))
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in out.read_text().splitlines()]
    assert [r[:2] for r in rows] == [["EU", "B-WEIRD"], ["rejects", "Q"]]
    assert all(len(r) == 3 and r[2] not in ("B-WEIRD", "Q") for r in rows)
    args = ["predict", str(model_dir), str(src), "--output", str(out), "--write", "replace"]
    assert invoke(*args).exit_code == 0
    tags = [line.split()[1] for line in out.read_text().splitlines()]
    assert len(tags) == 2 and "B-WEIRD" not in tags and "Q" not in tags


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("train.batch_sise=3", "train.batch_sise"),
        ("train.batch_size=big", "train.batch_size"),
        ("model.char_encoder=rnn", "model.char_encoder"),
        ("data.scheme=iob3", "data.scheme"),
    ],
)
def test_bad_config(tmp_path, override, fragment):
    out = tmp_path / "run"
    args = ["train", str(ROOT / "configs" / "demo.yaml"), "--output", str(out)]
    assert_clean_error(invoke(*args, "--set", override), fragment)
    assert not out.exists()


def test_missing_files(tmp_path, model_dir):
    missing = str(tmp_path / "nope.conll")
    out = tmp_path / "run"
    args = ["train", str(ROOT / "configs" / "demo.yaml"), "--output", str(out)]
    assert_clean_error(invoke(*args, "--set", f"data.train={missing}"), "nope.conll")
    assert_clean_error(invoke("train", str(tmp_path / "nope.yaml"), "--output", str(out)))
    assert_clean_error(invoke("predict", str(model_dir), missing), "nope.conll")
    assert_clean_error(invoke("evaluate", missing, missing), "nope.conll")
    assert not out.exists()


def test_run_dir_that_is_not_a_model(tmp_path):
    src = write(tmp_path / "in.conll", GOOD)
    for run_dir in (tmp_path / "nothing", tmp_path):
        assert_clean_error(invoke("predict", str(run_dir), str(src)), "not a tagger model")


def test_malicious_pickle_as_model_file(tmp_path, model_dir):
    import os
    import pickle
    import shutil

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    run_dir = tmp_path / "run"
    shutil.copytree(model_dir, run_dir)
    (run_dir / "model.safetensors").write_bytes(pickle.dumps(Evil()))
    src = write(tmp_path / "in.conll", GOOD)
    assert_clean_error(invoke("predict", str(run_dir), str(src)), "model.safetensors")
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncate-weights", "edit-config", "config-not-json"])
def test_damaged_model_files(tmp_path, model_dir, damage):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(model_dir, run_dir)
    weights, config = run_dir / "model.safetensors", run_dir / "config.json"
    if damage == "truncate-weights":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif damage == "edit-config":
        info = json.loads(config.read_text())
        info["config"]["model"]["hidden_size"] = 99
        config.write_text(json.dumps(info))
    else:
        config.write_text("{not json")
    src = write(tmp_path / "in.conll", GOOD)
    assert_clean_error(invoke("predict", str(run_dir), str(src)), str(run_dir))


def test_gz_input_and_long_sentences(tmp_path, model_dir):
    tokens = [f"w{i}" for i in range(5000)]
    text = "\n".join(f"{t} O" for t in tokens) + "\n\nEU B-ORG\n"
    src = tmp_path / "long.conll.gz"
    with gzip.open(src, "wt", encoding="utf-8") as handle:
        handle.write(text)
    out = tmp_path / "out.conll"
    result = invoke("predict", str(model_dir), str(src), "--output", str(out))
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert len(lines) == len(text.splitlines())
    assert [line.split()[0] for line in lines if line] == [*tokens, "EU"]
