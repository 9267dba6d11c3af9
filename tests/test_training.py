"""Tests for tagger.training and tagger.prediction: tiny models trained on tiny data."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_overrides
from safetensors.torch import load_file

import tagger.optimisation as optimisation
import tagger.training as training
import tagger.training_data as training_data
from tagger.config import load_config
from tagger.data.conll import read_sentences
from tagger.data.schemes import convert, get_spans
from tagger.decoding import TorchBackend, decode
from tagger.prediction import Tagger
from tagger.scoring import score

EPOCHS = 8
QUIET = {"progress": False, "log": lambda _msg: None}


def config(tmp: Path, train: Path, **extra: object):
    return load_config(None, [f"data.train={train}", *tiny_overrides(tmp / "cache", **extra)])


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, wnut40: Path):
    """A model trained for EPOCHS epochs (dev = train), plus copies of each network it saved."""
    tmp = tmp_path_factory.mktemp("train")
    cfg = config(tmp, wnut40, **{"train.max_epochs": EPOCHS})
    saved: list[torch.nn.Module] = []
    real_save = training.save_model

    def spy(run_dir, cfg, vocab, network, **meta):
        saved.append(copy.deepcopy(network))
        return real_save(run_dir, cfg, vocab, network, **meta)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training, "save_model", spy)
        summary = training.train(cfg, tmp / "run", **QUIET)
    return {"run": tmp / "run", "summary": summary, "saved": saved, "data": wnut40}


def metrics(run: Path) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_run_directory_contents(trained) -> None:
    run = trained["run"]
    assert {p.name for p in run.iterdir()} >= {
        "config.json",
        "vocab.json",
        "model.safetensors",
        "metrics.jsonl",
    }
    assert not list(run.glob("*.tmp")) and not list(run.glob(".*.tmp"))  # no leftovers
    info = json.loads((run / "config.json").read_text())
    assert info["format"] == "tagger-model/1"
    assert info["config"]["model"]["hidden_size"] == 16
    assert info["epoch"] == trained["summary"]["best_epoch"]
    vocab = json.loads((run / "vocab.json").read_text())
    assert vocab["scheme"] == "iob2" and vocab["model_scheme"] == "iobes"
    assert "S-person" in vocab["tags"] and "B-person" in vocab["tags"]
    rows = metrics(run)
    assert [r["epoch"] for r in rows] == list(range(1, EPOCHS + 1))
    for row in rows:
        assert {"loss", "lr", "dev", "tokens_per_s", "seconds", "best"} <= set(row)
        assert 0.0 <= row["dev"]["micro"]["f1"] <= 1.0
    assert rows[0]["best"] is True


def test_loss_falls_and_training_f1_rises(trained) -> None:
    rows = metrics(trained["run"])
    assert rows[-1]["loss"] < 0.5 * rows[0]["loss"]
    first_f1 = rows[0]["dev"]["micro"]["f1"]
    best_f1 = max(r["dev"]["micro"]["f1"] for r in rows)
    assert best_f1 > first_f1 + 0.3
    summary = trained["summary"]
    assert summary["dev"]["micro"]["f1"] == best_f1
    assert rows[summary["best_epoch"] - 1]["best"] is True
    # The saved (best) model scores the same on the training file when loaded back.
    report = Tagger.load(trained["run"]).evaluate(str(trained["data"]))
    assert report["micro"]["f1"] == pytest.approx(best_f1)
    assert report["micro"]["f1"] > 0.5


def test_save_load_gives_identical_predictions(trained) -> None:
    run, data = trained["run"], trained["data"]
    tokens = [s.tokens for s in read_sentences(data)]
    first, second = Tagger.load(run), Tagger.load(run)
    assert first.tag(tokens) == second.tag(tokens)
    # The in-memory network that train() saved last (the best one) tags the same way.
    in_memory = trained["saved"][-1]
    state = load_file(run / "model.safetensors")
    assert state.keys() == in_memory.state_dict().keys()
    for key, value in in_memory.state_dict().items():
        assert torch.equal(state[key], value), key
    vocab = first.vocab
    model_tags = decode(in_memory, vocab, tokens)
    assert decode(first.network, vocab, tokens) == model_tags
    assert first.tag(tokens) == [convert(t, "iobes", "iob2") for t in model_tags]
    assert any(t != "O" for s in model_tags for t in s)


def test_predict_gives_spans(trained) -> None:
    data = trained["data"]
    tagger = Tagger.load(trained["run"])
    sentences = [s for s in read_sentences(data) if any(t != "O" for t in s.tags or [])][:5]
    results = tagger.predict([s.tokens for s in sentences], tokenized=True)
    for sentence, result in zip(sentences, results):
        assert result.tokens == sentence.tokens and len(result.tags) == len(sentence.tokens)
        spans = [(s.type, s.start, s.end) for s in result.spans]
        assert spans == get_spans(result.tags, "iob2")
        for span in result.spans:
            assert span.text == " ".join(sentence.tokens[span.start : span.end])
    text = " ".join(sentences[0].tokens)
    (as_text,) = tagger.predict(text, split="pretokenized").sentences
    assert as_text.tags == results[0].tags
    found = [(s.type, s.start, s.end, s.text, s.confidence) for s in as_text.spans]
    assert found == [(s.type, s.start, s.end, s.text, s.confidence) for s in results[0].spans]
    assert all(text[s.start_char : s.end_char] == s.text for s in as_text.spans)


def test_tag_file_progress_bar_counts_bytes(trained, tmp_path: Path, monkeypatch) -> None:
    """With progress on, the bar's total is the file size and it ends at the bytes read (the
    data is ASCII); the output is the same as without the bar."""
    from tagger import progress

    seen: list[tuple[int | None, int]] = []

    class Recorder(progress.Progress):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.enabled, self.done = False, 0  # record without drawing

        def advance(self, steps: int = 1, **_kw) -> None:
            self.done += steps

        def __exit__(self, *exc: object) -> None:
            seen.append((self.total, self.done))

    monkeypatch.setattr(progress, "Progress", Recorder)
    tagger = Tagger.load(trained["run"])
    data = trained["data"]
    tagger.tag_file(str(data), str(tmp_path / "a.txt"), progress=True)
    tagger.tag_file(str(data), str(tmp_path / "b.txt"), progress=False)
    size = data.stat().st_size
    assert seen[0] == (size, size)
    assert (tmp_path / "a.txt").read_bytes() == (tmp_path / "b.txt").read_bytes()


def test_predict_empty_sentence(trained) -> None:
    tagger = Tagger.load(trained["run"])
    results = tagger.predict(["", "New York"])
    assert results[0].sentences == [] and len(results[1].sentences[0].tags) == 2
    results = tagger.predict([[], ["New", "York"]])
    assert results[0].tags == [] and len(results[1].tags) == 2


def test_evaluate_honours_token_column(trained, tmp_path: Path) -> None:
    base = Tagger.load(trained["run"])
    cfg = copy.deepcopy(base.cfg)
    cfg.data.token_column = 1
    seen: list[list[str]] = []

    class Spy(TorchBackend):
        def tags(self, sentences, docs):
            seen.extend(list(s) for s in sentences)
            return super().tags(sentences, docs)

    path = tmp_path / "ids.conll"
    path.write_text("1\tEmpire\tB-location\n2\tState\tI-location\n3\trocks\tO\n", "utf-8")
    spy = Spy(base.network, base.vocab)
    Tagger(cfg, base.vocab, base.network, backend=spy).evaluate(str(path))
    assert seen == [["Empire", "State", "rocks"]]


def test_same_seed_gives_bit_identical_weights(tmp_path: Path, wnut40: Path) -> None:
    states = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        cfg = config(tmp_path, wnut40, **{"train.max_epochs": 2, "train.seed": seed})
        training.train(cfg, tmp_path / name, **QUIET)
        states.append(load_file(tmp_path / name / "model.safetensors"))
    a, b, c = states
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert any(not torch.equal(a[key], c[key]) for key in a)  # the seed matters


# --- pretrained vectors ----------------------------------------------------------------------

VECTORS = [
    ("the", [0.1, 0.2, 0.3]),
    ("Empire", [1.0, -1.0, 0.5]),  # a training word, capitalised in the file
    ("zebra", [2.0, 2.0, 2.0]),  # in no data file, but among the most frequent vectors
    ("EMPIRE", [9.0, 9.0, 9.0]),  # lowercases to "empire" again: the first vector wins
    ("quokka", [3.0, 3.0, 3.0]),  # rank 4, only in the dev file
    ("yak", [4.0, 4.0, 4.0]),  # rank 5, in no data file: dropped with max_vectors=3
]


def write_vectors(path: Path, kind: str) -> Path:
    lines = [f"{w} {' '.join(str(v) for v in vec)}" for w, vec in VECTORS]
    if kind == "word2vec":
        lines.insert(0, f"{len(VECTORS)} 3")
    text = "\n".join(lines) + "\n"
    if kind == "gz":
        path = path.with_suffix(".txt.gz")
        path.write_bytes(gzip.compress(text.encode("utf-8")))
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", ["glove", "gz", "word2vec"])
def test_prepare_vocab_with_pretrained_vectors(tmp_path: Path, kind: str) -> None:
    train = tmp_path / "train.conll"
    train.write_text("Empire\tB-location\nState\tI-location\nthe\tO\n", encoding="utf-8")
    dev = tmp_path / "dev.conll"
    dev.write_text("Quokka\tO\nnew\tO\n", encoding="utf-8")
    vectors = write_vectors(tmp_path / "vectors.txt", kind)
    cfg = config(
        tmp_path,
        train,
        **{"data.dev": dev, "embeddings.pretrained": vectors, "embeddings.max_vectors": 3},
    )
    train_set = training_data.load_split(cfg, cfg.data.train)
    dev_set = training_data.load_split(cfg, cfg.data.dev)
    scheme, model_scheme = training_data.resolve_schemes(cfg, train_set)
    vocab, matrix, dim = training_data.prepare_vocab(
        cfg, train_set, [dev_set], scheme, model_scheme
    )

    assert dim == 3 and matrix.shape == (len(vocab.words), 3)
    assert vocab.words[:2] == ["<pad>", "<unk>"]
    assert {"empire", "state", "the", "zebra", "quokka"} <= set(vocab.words)
    assert "yak" not in vocab.words and "new" not in vocab.words and "EMPIRE" not in vocab.words
    assert len(vocab.words) == len(set(vocab.words))
    expected = {"the": [0.1, 0.2, 0.3], "empire": [1.0, -1.0, 0.5], "zebra": [2.0] * 3}
    expected["quokka"] = [3.0] * 3
    for word, vector in expected.items():
        row = matrix[vocab.word_index[word]]
        assert torch.allclose(row, torch.tensor(vector)), word
    assert matrix[0].eq(0).all()
    # "state" has no vector: random, inside the uniform init's bound sqrt(3 / dim) = 1.
    state = matrix[vocab.word_index["state"]]
    assert state.abs().max() <= 1.0 and not torch.equal(state, torch.zeros(3))


def test_prepare_vocab_without_vectors_uses_word_dim(tmp_path: Path, wnut40: Path) -> None:
    cfg = config(tmp_path, wnut40)
    train_set = training_data.load_split(cfg, cfg.data.train)
    scheme, model_scheme = training_data.resolve_schemes(cfg, train_set)
    vocab, matrix, dim = training_data.prepare_vocab(cfg, train_set, [], scheme, model_scheme)
    assert (scheme, model_scheme) == ("iob2", "iobes")
    assert dim == 16 and matrix.shape == (len(vocab.words), 16)
    assert all(tag.split("-")[0] in ("O", "B", "I", "E", "S") for tag in vocab.tags)
    assert "empire" in vocab.word_index and "Empire" not in vocab.word_index  # lowercased


def test_trained_embeddings_start_from_vectors(tmp_path: Path) -> None:
    """A frozen pretrained embedding keeps the vectors through training and loading."""
    train = tmp_path / "train.conll"
    train.write_text("Empire\tB-location\nthe\tO\n\nzebra\tO\n", encoding="utf-8")
    vectors = write_vectors(tmp_path / "vectors.txt", "glove")
    cfg = config(
        tmp_path,
        train,
        **{"embeddings.pretrained": vectors, "embeddings.freeze": True, "train.max_epochs": 1},
    )
    training.train(cfg, tmp_path / "run", **QUIET)
    tagger = Tagger.load(tmp_path / "run")
    weight = tagger.network.embedder.words.weight.detach()
    assert weight.shape[1] == 3
    for word in ("the", "empire", "zebra"):
        row = weight[tagger.vocab.word_index[word]].numpy()
        assert np.allclose(row, dict((w.lower(), v) for w, v in VECTORS[:3])[word])


def test_lr_scale_moves_word_vectors_less(tmp_path: Path, wnut40: Path) -> None:
    """embeddings.lr_scale puts the word vectors in their own optimiser group: after the same
    steps they moved about that much less than at the full rate; 0 freezes them."""
    words = sorted({t.lower() for s in read_sentences(wnut40) for t in s.tokens})
    table = np.random.default_rng(0).normal(size=(len(words), 8)).round(4)
    lines = [f"{w} {' '.join(map(str, row))}" for w, row in zip(words, table)]
    (tmp_path / "vectors.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    start = dict(zip(words, table))
    moved = {}
    for scale in (1.0, 0.1, 0.0):
        extra = {"embeddings.pretrained": tmp_path / "vectors.txt", "embeddings.lr_scale": scale}
        cfg = config(tmp_path, wnut40, **{**extra, "train.max_epochs": 2})
        lrs = [cfg.train.lr] if scale in (0.0, 1.0) else [cfg.train.lr, scale * cfg.train.lr]
        run = tmp_path / f"run{scale}"
        training.train(cfg, run, **QUIET)
        tagger = Tagger.load(run)
        optimizer = optimisation.make_optimizer(cfg, tagger.network)
        assert [group["lr"] for group in optimizer.param_groups] == lrs
        weight = tagger.network.embedder.words.weight.detach().numpy()
        rows = [tagger.vocab.word_index[w] for w in words]
        moved[scale] = np.abs(weight[rows] - np.stack([start[w] for w in words])).max()
    assert moved[0.0] < 1e-6
    assert 0.0 < moved[0.1] < 0.3 * moved[1.0]


def test_static_copy_keeps_the_initial_vectors(tmp_path: Path, wnut40: Path) -> None:
    """embeddings.static_copy feeds a frozen copy of the initial vectors beside the trained ones:
    after training (and loading) the copy still equals the pretrained vectors while the trained
    table moved, and the network reads both (its input is one word vector wider)."""
    vectors = write_vectors(tmp_path / "vectors.txt", "glove")
    extra = {"embeddings.pretrained": vectors, "embeddings.static_copy": True}
    cfg = config(tmp_path, wnut40, **{**extra, "train.max_epochs": 2})
    training.train(cfg, tmp_path / "run", **QUIET)
    tagger = Tagger.load(tmp_path / "run")
    embedder, row = tagger.network.embedder, tagger.vocab.word_index["the"]
    assert torch.equal(embedder.static.weight[row], torch.tensor([0.1, 0.2, 0.3]))
    assert not torch.equal(embedder.words.weight[row], embedder.static.weight[row])
    plain = embedder.casing.embedding_dim + embedder.chars.out_dim
    assert embedder.out_dim == plain + 2 * 3


def test_with_dev_trains_on_train_and_dev(tmp_path: Path, wnut40: Path) -> None:
    """train.with_dev: dev's words join the vocabulary, dev's sentences the training batches
    (the tokens per epoch add up), and the kept epoch is the one of lowest training loss."""
    dev = tmp_path / "dev.conll"
    dev.write_text("Zyzzyva\tB-person\nwent\tO\nhome\tO\n\n", encoding="utf-8")
    runs = {}
    for with_dev in (False, True):
        extra = {"data.dev": dev, "train.with_dev": with_dev, "train.max_epochs": 3}
        training.train(config(tmp_path, wnut40, **extra), tmp_path / f"run{with_dev}", **QUIET)
        runs[with_dev] = tmp_path / f"run{with_dev}"
    assert "zyzzyva" in Tagger.load(runs[True]).vocab.word_index
    assert "zyzzyva" not in Tagger.load(runs[False]).vocab.word_index
    plain, merged = (metrics(runs[k])[:3] for k in (False, True))
    seconds = [m["tokens_per_s"] * m["seconds"] for m in (plain[0], merged[0])]
    assert round(seconds[1] - seconds[0]) == 3  # dev's three tokens
    best = min(merged, key=lambda m: m["loss"])
    assert (
        best["best"]
        and json.loads((runs[True] / "config.json").read_text())["epoch"] == (best["epoch"])
    )


def test_lr_step_decays_on_a_fixed_schedule(tmp_path: Path, wnut40: Path) -> None:
    """train.lr_step: the learning rate is multiplied by lr_decay every N epochs, whatever dev
    says (lr_patience 0 would otherwise decay at nearly every epoch of this tiny run)."""
    extra = {"train.lr_step": 2, "train.lr_decay": 0.5, "train.lr_patience": 0}
    training.train(config(tmp_path, wnut40, **{**extra, "train.max_epochs": 5}), tmp_path / "r")
    lrs = [m["lr"] for m in metrics(tmp_path / "r") if "epoch" in m]
    assert lrs == [0.02, 0.02, 0.01, 0.01, 0.005]  # tiny_overrides' train.lr is 0.02


def test_ema_keeps_a_moving_average_of_the_weights(tmp_path: Path, wnut40: Path) -> None:
    """train.ema: the average after step n is the mean of the weights after steps 1..n, step k
    weighted ema ** (n - k) (no pull towards the initial weights); the checkpoint holds both,
    and what gets saved is the average (which differs from the weights the optimiser left)."""
    trajectory: list[torch.Tensor] = []  # the output layer's weights after each step
    saves: list[tuple[int, torch.Tensor]] = []  # (steps so far, saved weights)
    real_step, real_save = training.Loop.step, training.save_model

    def step(loop, ids):
        loss = real_step(loop, ids)
        trajectory.append(loop.network.emit.weight.detach().clone())
        return loss

    def save(run_dir, cfg, vocab, network, **meta):
        saves.append((len(trajectory), network.emit.weight.detach().clone()))
        return real_save(run_dir, cfg, vocab, network, **meta)

    cfg = config(tmp_path, wnut40, **{"train.ema": 0.8, "train.max_epochs": 2})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training.Loop, "step", step)
        patch.setattr(training, "save_model", save)
        training.train(cfg, tmp_path / "run", **QUIET)
    averages = []  # the decay-weighted mean of all weights so far, computed directly
    for n in range(len(trajectory)):
        ages = [0.8 ** (n - k) for k in range(n + 1)]
        averages.append(sum(a * w for a, w in zip(ages, trajectory)) / sum(ages))
    state = torch.load(tmp_path / "run" / "checkpoint" / "state.pt", weights_only=True)
    assert torch.equal(state["network"]["emit.weight"], trajectory[-1])
    assert torch.allclose(state["averaged"]["module.emit.weight"], averages[-1], atol=1e-6)
    assert not torch.allclose(averages[-1], trajectory[-1], atol=1e-3)
    assert saves
    for steps, saved in saves:
        assert torch.allclose(saved, averages[steps - 1], atol=1e-6)
    with pytest.raises(training.TaggerError, match=r"train\.ema"):
        training.train(config(tmp_path, wnut40, **{"train.ema": 1.0}), tmp_path / "bad", **QUIET)


def test_with_dev_needs_a_dev_set_and_checks_it(tmp_path: Path, wnut40: Path) -> None:
    with pytest.raises(training.TaggerError, match="train.with_dev"):
        training.train(config(tmp_path, wnut40, **{"train.with_dev": True}), tmp_path / "a")
    dev = tmp_path / "dev.conll"
    dev.write_text("a\tO\n\nb\tS-person\n\n", encoding="utf-8")  # not IOB2: sentence at line 3
    cfg = config(tmp_path, wnut40, **{"train.with_dev": True, "data.dev": dev})
    with pytest.raises(training_data.DataError, match=r"dev\.conll.*3"):
        training.train(cfg, tmp_path / "b", **QUIET)
    assert not (tmp_path / "b").exists()


# --- IOB1 in, IOB1 out -----------------------------------------------------------------------

IOB1_SENTENCES = [
    [("Alice", "I-PER"), ("Bob", "B-PER"), ("met", "O"), ("Carol", "I-PER"), (".", "O")],
    [("Visit", "O"), ("Paris", "I-LOC"), ("London", "B-LOC"), ("now", "O")],
    [("Dan", "I-PER"), ("Smith", "I-PER"), ("and", "O"), ("Eve", "I-PER"), ("left", "O")],
    [("In", "O"), ("Rome", "I-LOC"), ("Ann", "I-PER"), ("Lee", "B-PER"), ("sang", "O")],
]


def test_iob1_input_is_written_back_as_iob1(tmp_path: Path) -> None:
    text = "\n\n".join("\n".join(f"{w} {t}" for w, t in s) for s in IOB1_SENTENCES * 5) + "\n"
    train = tmp_path / "iob1.conll"
    train.write_text(text, encoding="utf-8")
    cfg = config(tmp_path, train, **{"train.max_epochs": 12, "train.batch_size": 4})
    training.train(cfg, tmp_path / "run", **QUIET)
    tagger = Tagger.load(tmp_path / "run")
    assert tagger.vocab.scheme == "iob1" and tagger.vocab.model_scheme == "iobes"

    source = tmp_path / "input.conll"
    source.write_text(
        "\n\n".join("\n".join(f"{w} {t}" for w, t in s) for s in IOB1_SENTENCES) + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.conll"
    assert tagger.tag_file(str(source), str(out)) == sum(len(s) for s in IOB1_SENTENCES)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(source.read_text(encoding="utf-8").splitlines())
    predicted = [s.tags for s in read_sentences(out)]
    for tags in predicted:
        assert tags is not None
        assert convert(tags, "iob1", "iob1") == tags  # canonical IOB1
        assert not any(t.startswith(("S-", "E-")) for t in tags)
    assert predicted == [[t for _, t in s] for s in IOB1_SENTENCES]
    assert score([[t for _, t in s] for s in IOB1_SENTENCES], predicted)["micro"]["f1"] == 1.0


def test_dev_fraction_holds_out_the_end_of_train(tmp_path, wnut40):
    from tagger.training_data import hold_out, load_split

    cfg = load_config(None, [f"data.train={wnut40}", f"data.cache_dir={tmp_path / 'c'}"])
    corpus = load_split(cfg, cfg.data.train)
    train_part, dev_part = hold_out(corpus, 0.25)
    assert len(train_part.data) == 30 and len(dev_part.data) == 10
    joined = list(train_part.data["tokens"]) + list(dev_part.data["tokens"])
    assert joined == list(corpus.data["tokens"])
