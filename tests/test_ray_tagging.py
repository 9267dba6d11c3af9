"""Ray Data tagging on a local 2-CPU Ray instance: the same bytes as ``tagger predict``."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT, first_sentences, tiny_overrides

from tagger.config import load_config
from tagger.errors import TaggerError
from tagger.training import train

ray = pytest.importorskip("ray")

DEV = ROOT / "data" / "wnut17" / "dev.conll"


@pytest.fixture(scope="module")
def cluster():
    from tagger.ray_tagging import connect

    try:
        started = connect("local")
    except TaggerError:  # Ray's fixed 30 s start-up timeout, hit on an overloaded machine
        started = connect("local")
    yield
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory, wnut40: Path) -> Path:
    tmp = tmp_path_factory.mktemp("ray-model")
    extra = {"train.max_epochs": 1}
    cfg = load_config(None, [f"data.train={wnut40}", *tiny_overrides(tmp, **extra)])
    train(cfg, tmp / "run", progress=False, log=lambda _m: None)
    return tmp / "run"


def test_ray_output_is_byte_identical_to_predict(cluster, model: Path, tmp_path: Path) -> None:
    from tagger.prediction import Tagger
    from tagger.ray_tagging import tag_files

    source = tmp_path / "dev.conll"
    source.write_text(first_sentences(DEV, 300), encoding="utf-8")
    expected = tmp_path / "expected.conll"
    count = Tagger.load(model).tag_file(str(source), str(expected))
    second = tmp_path / "second.conll"
    second.write_text(first_sentences(DEV, 70), encoding="utf-8")
    outs = [tmp_path / "ray.conll", tmp_path / "ray-second.conll"]
    tagged = tag_files(model, [str(source), str(second)], [str(o) for o in outs], actors=2)
    assert outs[0].read_bytes() == expected.read_bytes()
    alone = tmp_path / "alone.conll"
    other = Tagger.load(model).tag_file(str(second), str(alone))
    assert outs[1].read_bytes() == alone.read_bytes()
    assert (tagged, tagged.sentences) == (count + other, count.sentences + other.sentences)


def test_ray_errors_name_the_file_and_leave_no_output(cluster, model: Path, tmp_path: Path) -> None:
    from tagger.ray_tagging import tag_files

    bad = tmp_path / "bad.conll"
    bad.write_text("x\tO\n\na\tO\nb\tc\tO\n", encoding="utf-8")
    out = tmp_path / "out.conll"
    with pytest.raises(TaggerError, match=f"{bad}:4"):
        tag_files(model, [str(bad)], [str(out)], actors=1)
    assert not out.exists()
    with pytest.raises(TaggerError, match="not found"):
        tag_files(model, [str(tmp_path / "missing.conll")], [str(out)], actors=1)


def test_predict_with_ray_option(cluster, model: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli import app

    source = tmp_path / "dev.conll"
    source.write_text(first_sentences(DEV, 100), encoding="utf-8")
    outs, closing = {}, {}
    for name, extra in {"plain": [], "ray": ["--ray", "local", "--workers", "2"]}.items():
        outs[name] = tmp_path / f"{name}.conll"
        args = ["predict", str(model), str(source), "--output", str(outs[name]), *extra]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        closing[name] = result.stderr.strip().splitlines()[-1].split(" in ")[0]
    assert outs["ray"].read_bytes() == outs["plain"].read_bytes()
    assert closing["ray"] == closing["plain"] and closing["ray"].startswith("tagged 100 sentences")
    args = ["predict", str(model), str(source), "--output", str(tmp_path / "x"), "--ray", "local"]
    result = CliRunner().invoke(app, [*args, "--shard", "1/2"])
    assert result.exit_code == 2 and result.output.startswith("error: --ray")
