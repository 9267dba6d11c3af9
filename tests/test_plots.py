"""Pictures: training curves, confusion matrices and attention heat maps, from the CLI."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from conftest import ROOT, tiny_overrides
from typer.testing import CliRunner

from cli import app
from tagger.plots import MISSED, SPURIOUS, entity_confusion

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, wnut40):
    tmp = tmp_path_factory.mktemp("plots")
    sets = tiny_overrides(tmp / "cache", **{"data.train": wnut40, "data.dev": wnut40})
    sets += ["data.test=null", "train.max_epochs=2", "model.attention=[{type: label}]"]
    args = ["train", str(ROOT / "configs" / "demo.yaml"), "--output", str(tmp / "run"), "--quiet"]
    result = CliRunner().invoke(app, [*args, *[x for s in sets for x in ("--set", s)]])
    assert result.exit_code == 0, result.output
    return tmp / "run"


def test_entity_confusion_counts():
    gold = [["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG", "B-LOC", "O"]]
    counts = entity_confusion(gold, pred, "iob2")
    assert counts == Counter(
        {("PER", "PER"): 1, ("LOC", "ORG"): 1, ("ORG", MISSED): 1, (SPURIOUS, "LOC"): 1}
    )


def test_plot_run(run_dir, tmp_path):
    result = CliRunner().invoke(app, ["plot", str(run_dir), "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["dev.png", "loss.png", "lr.png", "per_type.png"]
    assert all((tmp_path / n).read_bytes().startswith(PNG) for n in names)


def test_a_run_trained_on_dev_has_no_dev_scores(tmp_path, wnut40):
    """train.with_dev: dev is training data, so no epoch scores it (metrics, the CLI's summary)
    and the plots leave the dev curve out."""
    sets = tiny_overrides(tmp_path / "cache", **{"data.train": wnut40, "data.dev": wnut40})
    sets += ["data.test=null", "train.max_epochs=2", "train.with_dev=true"]
    args = ["train", str(ROOT / "configs" / "demo.yaml"), "--output", str(tmp_path / "run")]
    result = CliRunner().invoke(
        app, [*args, "--quiet", "--json", *[x for s in sets for x in ("--set", s)]]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["best_epoch"] in (1, 2) and "dev" not in summary
    epochs = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert len(epochs) == 2 and all(m["dev"] is None for m in epochs)
    result = CliRunner().invoke(app, ["plot", str(tmp_path / "run"), "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["loss.png", "lr.png"]


def test_explain_sentence_and_file(run_dir, tmp_path, wnut40):
    out = tmp_path / "attn.png"
    args = ["explain", str(run_dir), "I love New York", "--output", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(PNG)
    assert "York" in result.stdout
    last = result.stdout.splitlines()[-1]  # one line, however long the path
    assert last.startswith("path probability ") and last.endswith(f"; heat map: {out}")
    args = ["explain", str(run_dir), str(wnut40), "--index", "2", "--output", str(out)]
    assert CliRunner().invoke(app, args).exit_code == 0
    bad = CliRunner().invoke(app, ["explain", str(run_dir), str(wnut40), "--index", "999"])
    assert bad.exit_code == 2 and "--index 999" in bad.stderr


def test_evaluate_confusion_png(run_dir, tmp_path, wnut40):
    out = tmp_path / "confusion.png"
    args = ["evaluate", str(run_dir), str(wnut40), "--confusion", str(out), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(PNG)


def test_plot_of_a_non_run_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(app, ["plot", str(tmp_path)])
    assert result.exit_code == 2 and "metrics.jsonl" in result.stderr


def test_confusion_numbers_are_white_on_dark_cells():
    pytest.importorskip("matplotlib")
    from tagger.plots import _ink, _pyplot

    fig, ax = _pyplot().subplots()
    image = ax.imshow([[0, 50, 100]], cmap="Blues")
    assert (_ink(image, 0), _ink(image, 100)) == ("black", "white")
    _pyplot().close(fig)


def test_attention_picture_grows_with_the_sentence(tmp_path):
    pytest.importorskip("matplotlib")
    import struct

    import numpy as np

    from tagger.plots import plot_attention

    sizes = []
    for length in (10, 45):
        tokens = [f"w{i}" for i in range(length)]
        weights = np.full((length, length), 1 / length)
        path = plot_attention(tokens, [("multihead", weights)], ["O"], tmp_path / "a.png")
        sizes.append(struct.unpack(">II", path.read_bytes()[16:24]))  # PNG width, height
    (w10, h10), (w45, h45) = sizes
    assert w45 > 3 * w10 / 2 and h45 > 3 * h10 / 2  # about the same room per token


def test_attention_caption_keeps_the_whole_sentence_within_the_width():
    from tagger.plots import caption

    tokens = [f"word{i}" for i in range(51)]
    text = caption(tokens, 8.0)
    lines = text.splitlines()
    assert len(lines) > 1 and all(len(line) <= 72 for line in lines)
    assert text.split() == ["51", "tokens:", *tokens]  # nothing cut off
