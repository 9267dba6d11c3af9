"""One validation pass for config values (issue 25, items 10, 11 and 14): every numeric key is
range-checked with the key named, YAML is parsed without aliases, model files and checkpoints
are checked field by field, and a fuzz test over config values."""

from __future__ import annotations

import gzip
import json
import math
import os
import shutil
import typing
from pathlib import Path

import pytest
import torch
from conftest import first_sentences
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tiny_run import ROOT, invoke, one_error_line, train_args

from tagger.config import RANGES, Config, ConfigError, load_config


def numeric_keys() -> list[str]:
    keys = []
    for section, cls in typing.get_type_hints(Config).items():
        for name, hint in typing.get_type_hints(cls).items():
            if hint in (int, float) or {int, float} & set(typing.get_args(hint)):
                keys.append(f"{section}.{name}")
    assert "train.threads" in keys and "model.dropout" in keys
    return keys


def test_every_numeric_key_has_a_range():
    assert set(numeric_keys()) <= set(RANGES), set(numeric_keys()) - set(RANGES)
    for key in RANGES:  # the defaults are in range
        section, name = key.split(".")
        value = getattr(getattr(Config(), section), name)
        if value is not None:
            RANGES[key].check(key, value)


BAD_VALUES = [
    ("train.batch_size", "-4"),
    ("train.batch_size", "0"),
    ("train.max_epochs", "0"),
    ("model.hidden_size", "0"),
    ("model.hidden_size", str(10**9)),
    ("train.lr", ".nan"),
    ("train.lr", "nan"),
    ("train.lr", "-0.1"),
    ("train.lr", "1e400"),
    ("model.dropout", "2.0"),
    ("train.threads", "-1"),
    ("train.seed", "-1"),
    ("train.ema", "1.0"),
    ("data.dev_fraction", "1.5"),
    ("model.attention", "[{type: multihead, heads: 0}]"),
    ("model.attention", "[{type: local, window: -3}]"),
    ("model.attention", "[{type: global, dropout: .inf}]"),
]


@pytest.mark.parametrize(("key", "value"), BAD_VALUES)
def test_out_of_range_values_name_the_key(key, value):
    with pytest.raises(ConfigError, match=key.split(".")[-1]):
        load_config(None, [f"{key}={value}"])


@pytest.mark.parametrize(("key", "value"), BAD_VALUES[:12])
def test_cli_train_with_a_bad_value_is_one_error_line(tmp_path, wnut40, key, value):
    out = tmp_path / "run"
    result = invoke(*train_args(wnut40, tmp_path / "cache", f"{key}={value}"), "--output", out)
    one_error_line(result, key)
    assert not out.exists()


def test_bad_yaml_in_set_is_one_error_line(tmp_path, wnut40):
    result = invoke(*train_args(wnut40, tmp_path / "c", "train.lr=[1"), "-o", tmp_path / "r")
    one_error_line(result, "--set", "not valid YAML")


def test_invalid_yaml_file_is_one_line_with_file_and_line(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("data:\n  train: a.conll\ntrain:\n  lr: [0.1\n  seed: 1\n")
    result = invoke("train", config, "--output", tmp_path / "run")
    line = one_error_line(result, f"{config}:", "not valid YAML")
    assert line.split(f"{config}:")[1].split(":")[0].isdigit()  # a line number


def test_yaml_alias_bomb_is_refused_quickly(tmp_path):
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 12)]
    config = tmp_path / "bomb.yaml"
    config.write_text("\n".join(levels) + "\n")
    result = invoke("train", config, "--output", tmp_path / "run")
    one_error_line(result, str(config), "alias")


def test_deeply_nested_yaml_is_one_error_line(tmp_path):
    config = tmp_path / "deep.yaml"
    config.write_text("a: " + "[" * 50000 + "\n")
    result = invoke("train", config, "--output", tmp_path / "run")
    one_error_line(result, str(config))


def test_nbest_zero_is_one_error_line(tmp_path):
    result = invoke("predict", tmp_path, "-", "--nbest", "0")
    one_error_line(result, "--nbest")
    result = invoke("predict", tmp_path, "-", "--workers", "-2")
    one_error_line(result, "--workers")


@pytest.fixture(scope="module")
def model(tmp_path_factory, wnut40: Path) -> Path:
    tmp = tmp_path_factory.mktemp("model")
    result = invoke(*train_args(wnut40, tmp / "cache"), "--output", tmp / "run")
    assert result.exit_code == 0, result.output
    return tmp / "run"


def test_explain_an_empty_sentence(model, tmp_path):
    result = invoke("explain", model, "", "--output", tmp_path / "a.png")
    one_error_line(result, "empty")
    result = invoke("explain", model, "   ", "--output", tmp_path / "a.png")
    one_error_line(result, "empty")


def edited(model: Path, tmp_path: Path, name: str, change) -> Path:
    run = tmp_path / "run"
    shutil.copytree(model, run)
    path = run / name
    raw = json.loads(path.read_text())
    text = change(raw)
    path.write_text(text if isinstance(text, str) else json.dumps(raw))
    return run


def set_in(keys: tuple[str, ...], value):
    def change(raw):
        node = raw
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return change


MODEL_EDITS = {
    "negative hidden size": ("config.json", set_in(("config", "model", "hidden_size"), -5)),
    "huge hidden size": ("config.json", set_in(("config", "model", "hidden_size"), 10**9)),
    "negative word_dim": ("config.json", set_in(("word_dim",), -1)),
    "huge word_dim": ("config.json", set_in(("word_dim",), 10**12)),
    "nan dropout": ("config.json", lambda raw: json.dumps(raw).replace(
        '"dropout": 0.0', '"dropout": NaN')),
    "deeply nested config": ("config.json", lambda raw: "[" * 100000 + "]" * 100000),
    "deeply nested vocab": ("vocab.json", lambda raw: '{"a": ' + "[" * 100000 + "]" * 100000 + "}"),
    "unknown scheme": ("vocab.json", set_in(("scheme",), "ioxyz")),
    "tags not strings": ("vocab.json", set_in(("tags",), [1, 2, 3])),
    "no tags": ("vocab.json", set_in(("tags",), [])),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(MODEL_EDITS))
def test_damaged_model_files_are_one_error_line(model, tmp_path, case):
    name, change = MODEL_EDITS[case]
    run = edited(model, tmp_path, name, change)
    data = tmp_path / "in.conll"
    data.write_text("EU\nrejects\n")
    out = tmp_path / "pred.conll"
    result = invoke("predict", run, data, "--output", out)
    one_error_line(result, str(run))
    assert not out.exists()


STATE_EDITS = {
    "epoch not a number": lambda s: s.update(epoch_done="3"),
    "negative epoch": lambda s: s.update(epoch_done=-2),
    "best epoch after the last": lambda s: s.update(best_epoch=99),
    "random state": lambda s: s.update(rng_python=(3, (1, 2), None)),
    "metrics not json": lambda s: s.update(metrics="{not json"),
    "missing field": lambda s: s.pop("finished"),
}


@pytest.mark.parametrize("case", sorted(STATE_EDITS))
def test_damaged_checkpoint_fields_are_one_error_line(model, tmp_path, case):
    run = tmp_path / "run"
    shutil.copytree(model, run)
    path = run / "checkpoint" / "state.pt"
    state = torch.load(path, weights_only=True)
    state["epoch_done"], state["finished"] = 0, False  # so that resuming has work to do
    state["best_epoch"] = 0
    STATE_EDITS[case](state)
    torch.save(state, path)
    result = invoke("train", "--resume", run, "--quiet")
    one_error_line(result, "state.pt", "damaged checkpoint")


WORDS = "".join(f"w{i} {i / 7:.6f} {i / 13:.6f}\n" for i in range(5000)).encode()
VECTOR_FILES = {
    "not a number": ("v.txt", b"the 0.1 0.2\nrejects 0.3 abc\n", ":2:"),
    "nan": ("v.txt", b"the 0.1 0.2\nrejects nan 0.2\n", ":2:"),
    "wrong count": ("v.txt", b"the 0.1 0.2\nrejects 0.3\n", ":2:"),
    "truncated gzip": ("v.txt.gz", gzip.compress(WORDS)[: len(gzip.compress(WORDS)) // 2], ":"),
}


@pytest.mark.parametrize("case", sorted(VECTOR_FILES))
def test_bad_pretrained_vectors_are_one_error_line(tmp_path, wnut40, case):
    name, content, where = VECTOR_FILES[case]
    vectors = tmp_path / name
    vectors.write_bytes(content)
    args = train_args(wnut40, tmp_path / "cache", f"embeddings.pretrained={vectors}")
    result = invoke(*args, "--output", tmp_path / "run")
    one_error_line(result, name, where)


# --- the fuzz test -----------------------------------------------------------------------------

SIZES = st.one_of(st.integers(-3, 12), st.sampled_from([10**9, 2**63, "big", 1.5, None]))
SHARES = st.one_of(
    st.floats(-1, 2, allow_nan=False), st.sampled_from([math.nan, math.inf, "x", True, None])
)
COUNTS = st.one_of(st.integers(-3, 3), st.sampled_from([10**12, "many", [1], None]))
FUZZED = {
    "train.batch_size": SIZES,
    "train.eval_batch_size": SIZES,
    "train.max_epochs": st.sampled_from([-1, 0, 1, 10**9, "one", 1.0]),
    "train.lr": st.one_of(st.floats(-1, 1), st.sampled_from([math.inf, 0, "fast", 1e-300])),
    "train.seed": st.one_of(st.integers(-5, 2**33), st.sampled_from(["seed", None])),
    "train.threads": st.sampled_from([-1, 0, 1, 2, 10**6, None, "all"]),
    "train.clip": SHARES,
    "train.ema": SHARES,
    "train.momentum": SHARES,
    "train.lr_decay": SHARES,
    "train.patience": COUNTS,
    "train.lr_step": COUNTS,
    "train.optimizer": st.sampled_from(["adam", "sgd", "adamw", "lbfgs", 3]),
    "train.precision": st.sampled_from(["fp32", "bf16", "fp16"]),  # bf16: no CPU kernels on some
    "model.hidden_size": SIZES,
    "model.word_dim": SIZES,
    "model.char_hidden": SIZES,
    "model.char_kernel": SIZES,
    "model.num_layers": st.sampled_from([-1, 0, 1, 2, 17, 10**9]),
    "model.dropout": SHARES,
    "model.word_dropout": SHARES,
    "model.char_encoder": st.sampled_from(["cnn", "lstm", "none", "gru"]),
    "model.max_word_length": COUNTS,
    "model.attention": st.sampled_from(
        [
            "[]",
            "[{type: local, window: 0}]",
            "[{type: multihead, heads: 3}]",
            "[{type: global, size: 4}]",
            "[{type: label}]",
            "[{type: bilstm, hidden: -1}]",
            "[{type: nope}]",
            "[{heads: 2}]",
            "{type: local}",
            "[[1]]",
        ]
    ),  # fmt: skip
    "data.dev_fraction": SHARES,
    "data.token_column": COUNTS,
    "data.tag_column": COUNTS,
    "embeddings.lr_scale": SHARES,
}


def as_yaml(value) -> str:
    if isinstance(value, float) and math.isnan(value):
        return ".nan"
    if isinstance(value, float) and math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    if value is None:
        return "null"
    return json.dumps(value) if not isinstance(value, str) or not value.startswith("[") else value


@pytest.fixture(scope="module")
def fuzz_space(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("fuzz")
    data = tmp / "train.conll"
    data.write_text(first_sentences(ROOT / "data" / "wnut17" / "train.conll", 8))
    return {"tmp": tmp, "data": data}


@settings(  # TAGGER_FUZZ_EXAMPLES=500 for a longer, randomised campaign
    max_examples=int(os.environ.get("TAGGER_FUZZ_EXAMPLES", "25")),
    deadline=None,
    derandomize="TAGGER_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.dictionaries(st.sampled_from(sorted(FUZZED)), st.none(), min_size=1, max_size=3), st.data()
)
def test_fuzzed_configs_train_or_fail_with_one_error_line(fuzz_space, keys, data):
    chosen = {key: data.draw(FUZZED[key], label=key) for key in keys}
    tmp, corpus = fuzz_space["tmp"], fuzz_space["data"]
    out = tmp / f"run{len(list(tmp.iterdir()))}"
    args = train_args(corpus, tmp / "cache", *(f"{k}={as_yaml(v)}" for k, v in chosen.items()))
    result = invoke(*args, "--output", out)
    if result.exit_code == 0:
        assert (out / "model.safetensors").is_file(), chosen
        epochs = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
        assert [m["epoch"] for m in epochs if "epoch" in m] == [1], chosen
    else:
        one_error_line(result)
