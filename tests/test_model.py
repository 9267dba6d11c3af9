"""Tests for the network (embedder, BiLSTM, attention, CRF) and for batching."""

from __future__ import annotations

import random
from unittest.mock import patch

import pytest
import torch

from tagger.config import ConfigError, ModelConfig, load_config
from tagger.data.batching import Encoded, bucket_batches, make_batch
from tagger.data.vocab import build_vocab, casing
from tagger.errors import TaggerError
from tagger.model.attention import build_attention
from tagger.model.network import TaggerNetwork

SENTENCES = [
    (["EU", "rejects", "German", "call"], ["S-ORG", "O", "S-MISC", "O"]),
    (["Peter", "Blackburn"], ["B-PER", "E-PER"]),
    (["BRUSSELS", "1996-08-22", "extraordinarily-long-token-here-beyond-cap"], ["S-LOC", "O", "O"]),
    (["The", "European", "Commission", "said", "on", "Thursday", "it"], ["O"] * 7),
    (["x"], ["O"]),
]


@pytest.fixture(scope="module")
def vocab():
    return build_vocab(SENTENCES, scheme="iobes", model_scheme="iobes")


def network(vocab, char_encoder: str = "cnn", **overrides) -> TaggerNetwork:
    cfg = ModelConfig(
        word_dim=12,
        casing_dim=4,
        char_encoder=char_encoder,
        char_dim=6,
        char_hidden=5,
        hidden_size=8,
        max_word_length=10,
        attention=[{"type": "multihead", "heads": 2}],
        **overrides,
    )
    torch.manual_seed(0)
    return TaggerNetwork(cfg, len(vocab.words), len(vocab.chars), 12, vocab.tags, "iobes")


def _token_chars(batch, b: int, t: int) -> list[int]:
    """Character ids of token (b, t): its distinct word's row of ``batch.chars``."""
    return batch.chars[batch.char_index[b, t]].tolist()


def test_make_batch_shapes_and_padding(vocab) -> None:
    tokens = [s for s, _ in SENTENCES[:3]]
    tags = [t for _, t in SENTENCES[:3]]
    batch = make_batch(vocab, tokens, tags, max_word_length=10)
    distinct = {t for s in tokens for t in s}
    assert batch.words.shape == (3, 4) and batch.casing.shape == (3, 4)
    assert batch.chars.shape == (len(distinct) + 1, 10)  # + the padding word; capped at 10
    assert batch.char_index.shape == (3, 4)
    assert batch.tags is not None and batch.tags.shape == (3, 4)
    assert batch.lengths.tolist() == [4, 2, 3]
    assert batch.mask.tolist() == [
        [True, True, True, True],
        [True, True, False, False],
        [True, True, True, False],
    ]
    # Padding is 0 everywhere the mask is false, non-zero (word/casing/chars) where it is true.
    for field in (batch.words, batch.casing, batch.tags, batch.char_index):
        assert field[~batch.mask].eq(0).all()
    assert batch.chars[0].eq(0).all()  # row 0: the padding word
    assert batch.words[batch.mask].ne(0).all() and batch.casing[batch.mask].ne(0).all()
    assert batch.char_index[batch.mask].ne(0).all()
    # Ids round trip through the vocab.
    assert batch.words[0].tolist() == vocab.word_ids(tokens[0])
    assert batch.tags[1, :2].tolist() == vocab.tag_ids(["B-PER", "E-PER"])
    assert batch.casing[0].tolist() == [casing(t) for t in tokens[0]]
    peter = _token_chars(batch, 1, 0)
    assert peter[:5] == vocab.char_ids("Peter") and peter[5:] == [0] * 5
    assert _token_chars(batch, 2, 2) == vocab.char_ids(tokens[2][2][:10])


def test_make_batch_one_row_per_distinct_word(vocab) -> None:
    batch = make_batch(vocab, [["the", "cat", "the"], ["cat"]], None, max_word_length=25)
    assert batch.chars.shape == (3, 3)  # padding, "cat", "the"
    index = batch.char_index
    assert index[0, 0] == index[0, 2] and index[0, 1] == index[1, 0] and index[0, 0] != index[0, 1]


def test_encoded_shared_index_points_at_every_type(vocab) -> None:
    sentences = [["EU", "rejects", "EU"], ["Peter"], ["rejects", "call"]]
    encoded = Encoded(vocab, sentences, None, max_word_length=4)
    batch = encoded.batch([2, 0], shared=True)
    assert batch.chars is None
    for b, i in enumerate([2, 0]):
        for t, token in enumerate(sentences[i]):
            assert encoded.types[int(batch.char_index[b, t])] == token
    rows = torch.cat([r for r, _ in encoded.char_chunks(size=2)])
    assert sorted(rows.tolist()) == list(range(1, len(encoded.types)))  # each type once
    widths = [chars.shape[1] for _, chars in encoded.char_chunks(size=2)]
    assert widths == sorted(widths) and max(widths) == 4  # shortest first, capped


def test_make_batch_char_width_is_the_longest_word(vocab) -> None:
    batch = make_batch(vocab, [["a", "bcd"], ["ef"]], None, max_word_length=25)
    assert batch.chars.shape == (4, 3)
    assert batch.tags is None
    assert "a" not in vocab.word_index and batch.words[0, 0] == 1  # unseen words: <unk> = 1


def test_make_batch_unknown_words_and_chars(vocab) -> None:
    batch = make_batch(vocab, [["zzzqqq", "EU"]], None)
    assert batch.words[0].tolist() == [1, vocab.word_index["eu"]]  # lowercased lookup
    chars = _token_chars(batch, 0, 0)
    assert chars[0] == vocab.char_index.get("z", 1)
    assert vocab.char_index.get("q") is None and chars[3] == 1


def test_bucket_batches_without_rng_sorted_longest_first() -> None:
    lengths = [3, 9, 1, 9, 4, 7, 2, 9, 9]
    batches = bucket_batches(lengths, 3)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths, reverse=True)
    # Full at 3; a new batch where padding would pass 10% + 1 token (9 -> 7, 4 -> 2).
    assert [[lengths[i] for i in b] for b in batches] == [[9, 9, 9], [9], [7], [4, 3], [2, 1]]
    assert [len(b) for b in bucket_batches(lengths, 3, slack=100.0)] == [3, 3, 3]


@pytest.mark.parametrize("n, size", [(1, 4), (200, 7), (500, 64)])
def test_bucket_batches_without_rng_bound_padding(n: int, size: int) -> None:
    gen = random.Random(n)
    lengths = [gen.randint(1, 80) for _ in range(n)]
    batches = bucket_batches(lengths, size)
    assert sorted(i for b in batches for i in b) == list(range(n))
    for batch in batches:
        longest, shortest = lengths[batch[0]], lengths[batch[-1]]
        assert 1 <= len(batch) <= size and longest <= 1.1 * shortest + 1


@pytest.mark.parametrize("n, size, pool", [(1, 4, 50), (37, 4, 2), (100, 7, 3), (10, 32, 50)])
def test_bucket_batches_with_rng_cover_every_index_once(n: int, size: int, pool: int) -> None:
    gen = random.Random(n)
    lengths = [gen.randint(1, 30) for _ in range(n)]
    batches = bucket_batches(lengths, size, random.Random(5), pool_batches=pool)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(n))
    assert all(1 <= len(b) <= size for b in batches)
    # Only the last batch of each pool may be short.
    pools = -(-n // (size * pool))
    assert sum(len(b) < size for b in batches) <= pools
    # Deterministic for a seeded Random.
    assert bucket_batches(lengths, size, random.Random(5), pool_batches=pool) == batches


def test_bucket_batches_rng_shuffles_between_epochs_and_sorts_within_pools() -> None:
    lengths = list(range(1, 65))
    rng = random.Random(1)
    first = bucket_batches(lengths, 4, rng, pool_batches=100)
    second = bucket_batches(lengths, 4, rng, pool_batches=100)
    assert first != second  # the same rng moves on: epochs differ
    # One pool holds everything: each batch is 4 consecutive lengths.
    for batch in first:
        values = sorted(lengths[i] for i in batch)
        assert values == list(range(values[0], values[0] + 4))


@pytest.mark.parametrize("char_encoder", ["cnn", "lstm", "none"])
def test_forward_shapes(vocab, char_encoder: str) -> None:
    net = network(vocab, char_encoder)
    tokens = [s for s, _ in SENTENCES]
    tags = [t for _, t in SENTENCES]
    batch = make_batch(vocab, tokens, tags, net.max_word_length)
    k = len(vocab.tags)
    net.eval()
    with torch.no_grad():
        states, weights = net.encode(batch)
        assert states.shape == (5, 7, 16)
        assert len(weights) == 1 and weights[0].shape == (5, 7, 7)
        # Attention never looks at padding, and each row is a distribution.
        assert weights[0][~batch.mask.unsqueeze(1).expand(-1, 7, -1)].eq(0).all()
        assert torch.allclose(weights[0][batch.mask].sum(-1), torch.ones(int(batch.mask.sum())))
        emissions = net.emissions(batch)
        assert emissions.shape == (5, 7, k)
        decoded = net.decode(batch)
        assert decoded.shape == (5, 7) and decoded.dtype == torch.long
        assert decoded[~batch.mask].eq(0).all()
        assert decoded.max() < k
    net.train()
    loss = net.loss(batch)
    assert loss.dim() == 0 and torch.isfinite(loss) and loss > 0
    loss.backward()
    assert net.emit.weight.grad is not None and net.emit.weight.grad.abs().sum() > 0
    _, weights = net.encode(batch)
    assert weights == [None]  # no weights computed while training


def test_casing_dim_zero_means_no_casing_feature(vocab) -> None:
    """``model.casing_dim: 0`` is accepted (bench/speed.py's flair-like network) and trains."""

    def build(casing_dim: int) -> TaggerNetwork:
        cfg = load_config(None, [f"model.casing_dim={casing_dim}"])
        return TaggerNetwork(cfg.model, len(vocab.words), len(vocab.chars), 12, vocab.tags, "iobes")

    without, with_casing = build(0), build(8)
    assert with_casing.embedder.out_dim - without.embedder.out_dim == 8
    batch = make_batch(vocab, [s for s, _ in SENTENCES], [t for _, t in SENTENCES], 10)
    loss = without.loss(batch)
    loss.backward()
    assert torch.isfinite(loss) and without.emit.weight.grad.abs().sum() > 0
    with pytest.raises(ConfigError, match="model.casing_dim"):
        load_config(None, ["model.casing_dim=-1"])


@pytest.mark.parametrize("char_encoder", ["cnn", "lstm"])
def test_padded_batch_equals_each_sentence_alone(vocab, char_encoder: str) -> None:
    net = network(vocab, char_encoder)
    net.eval()
    # Larger random emission weights, so that decoded tags are not all the same.
    with torch.no_grad():
        net.emit.weight.normal_(0, 3.0)
    tokens = [s for s, _ in SENTENCES]
    with torch.no_grad():
        batch = make_batch(vocab, tokens, None, net.max_word_length)
        emissions = net.emissions(batch)
        decoded = net.decode(batch)
        distinct = set()
        for row, sentence in enumerate(tokens):
            alone = make_batch(vocab, [sentence], None, net.max_word_length)
            length = len(sentence)
            assert torch.allclose(emissions[row, :length], net.emissions(alone)[0], atol=1e-5)
            assert decoded[row, :length].tolist() == net.decode(alone)[0].tolist()
            distinct.update(decoded[row, :length].tolist())
    assert len(distinct) > 1


def test_fused_padded_bilstm_equals_two_one_way_lstms() -> None:
    """The one fused call on a padded batch (padding closed by the extra input channel) gives
    the outputs and gradients of the two one-way LSTMs with the backward one reading each
    sentence reversed within its length (the path ONNX export traces), and padding leaves
    every real position as it is when the sentence runs alone."""
    from tagger.model.encoder import BiLSTM

    torch.manual_seed(0)
    lstm = BiLSTM(6, 5, num_layers=2, dropout=0.0)
    lengths = torch.tensor([7, 3, 1, 5])
    x = torch.randn(4, 7, 6, requires_grad=True)
    real = torch.arange(7).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)

    def run(traced: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        lstm.zero_grad()
        x.grad = None
        with patch.object(torch.jit, "is_tracing", lambda: traced):
            out = lstm(x, lengths)
        (out[real] ** 2).sum().backward()
        grads = [x.grad.clone()] + [p.grad.clone() for p in lstm.parameters()]
        return out.detach(), grads

    fused, fused_grads = run(False)
    oneway, oneway_grads = run(True)
    assert torch.allclose(fused[real], oneway[real], atol=1e-6)
    for a, b in zip(fused_grads, oneway_grads):
        assert torch.allclose(a, b, atol=1e-5)
    with torch.no_grad():
        for row, n in enumerate(lengths.tolist()):
            alone = lstm(x[row : row + 1, :n], lengths[row : row + 1])
            assert torch.allclose(fused[row, :n], alone[0], atol=1e-6)


def test_bilstm_groups_rows_of_very_different_lengths() -> None:
    """A batch of whole documents (long and short sentences) runs in length groups; outputs and
    gradients equal one padded call's, and a batch of similar lengths stays one call."""
    from tagger.model import encoder

    lengths = torch.tensor([40, 2, 3, 2, 35, 1, 2, 3, 2, 2, 1, 3, 30, 4])
    groups = encoder.length_groups(lengths.tolist())
    assert groups is not None and len(groups) >= 2
    assert sorted(i for rows, _ in groups for i in rows) == list(range(len(lengths)))
    assert all(width == max(lengths[rows].tolist()) for rows, width in groups)
    assert encoder.length_groups([13, 14, 15, 16] * 8) is None
    torch.manual_seed(0)
    lstm = encoder.BiLSTM(6, 5, num_layers=2, dropout=0.0)
    x = torch.randn(len(lengths), 40, 6, requires_grad=True)
    real = torch.arange(40).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)

    def run(grouped: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        lstm.zero_grad()
        x.grad = None
        out = lstm(x, lengths) if grouped else lstm._run(x, lengths)  # _run: one padded call
        (out[real] ** 2).sum().backward()
        return out.detach(), [x.grad.clone()] + [p.grad.clone() for p in lstm.parameters()]

    grouped, grouped_grads = run(True)
    single, single_grads = run(False)
    assert torch.allclose(grouped[real], single[real], atol=1e-6)
    for a, b in zip(grouped_grads, single_grads):
        assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("count", [1, 5, 128, 300])
def test_char_lstm_groups_equal_each_word_alone(count: int) -> None:
    """The character BiLSTM runs words sorted by length in groups padded with empty words; each
    word's vector and gradient are those of the word run alone, in the input order."""
    from tagger.model import embedder

    torch.manual_seed(count)
    model = embedder.CharLSTM(n_chars=20, char_dim=4, hidden=3)
    lengths = torch.randint(1, 13, (count,))
    chars = torch.randint(1, 20, (count, 12)) * (torch.arange(12) < lengths.unsqueeze(1))
    cost = embedder.Cost(call=20.0, step=0.0, quantum=8)  # several groups, most with filler
    with patch.object(embedder, "CHAR_COST", cost):
        out = model(chars)  # (N, 6)
    (out**2).sum().backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    alone = torch.cat([model._encode(c[None, :n], n[None]) for c, n in zip(chars, lengths)])
    (alone**2).sum().backward()
    assert out.shape == (count, 6)
    assert torch.allclose(out, alone, atol=1e-6)
    for a, b in zip(grads, (p.grad for p in model.parameters())):
        assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("char_encoder", ["cnn", "lstm"])
def test_shared_char_table_equals_per_batch_chars(vocab, char_encoder: str) -> None:
    """Tagging computes character vectors once per distinct word of a buffer; the emissions
    match those of batches carrying their own words."""
    from tagger.decoding import batches

    net = network(vocab, char_encoder).eval()
    tokens = [s for s, _ in SENTENCES] + [["EU", "x", "Peter"], []]
    with torch.no_grad():
        shared = list(batches(net, vocab, tokens, 2, shared=True))
        local = list(batches(net, vocab, tokens, 2, shared=False))
        assert [ids for ids, _, _ in shared] == [ids for ids, _, _ in local]
        assert all(table is None for _, _, table in local)
        table = shared[0][2]
        assert table is not None and table.shape[0] == 1 + len({t for s in tokens for t in s})
        assert table[0].eq(0).all()  # the padding row
        for (_, a, table_a), (_, b, _) in zip(shared, local):
            assert a.chars is None and b.chars is not None
            expected = net.emissions(b)
            assert torch.allclose(net.emissions(a, table_a), expected, atol=1e-5)


def test_dropout_keeps_the_expected_share_and_scales() -> None:
    from tagger.model.dropout import Dropout

    layer = Dropout(0.3)
    x = torch.ones(200_000)
    torch.manual_seed(0)
    y = layer(x)
    kept = y.ne(0)
    assert abs(kept.float().mean().item() - 0.7) < 0.01
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.7))
    assert torch.equal(layer.eval()(x), x)  # identity when not training
    with pytest.raises(ValueError):
        Dropout(1.0)


def test_constraints_follow_the_scheme(vocab) -> None:
    net = network(vocab)
    o, i_per = vocab.tags.index("O"), vocab.tags.index("E-PER")
    assert not net.crf.allowed_pairs[o, i_per]
    free = network(vocab, constrain=False)
    assert free.crf.allowed_pairs.all()


def test_attention_config_errors() -> None:
    with pytest.raises(TaggerError, match="must divide"):
        build_attention([{"type": "multihead", "heads": 3}], 16)
    with pytest.raises(TaggerError, match=r"attention\[0\]\.type"):
        build_attention([{"type": "linear"}], 16)
    with pytest.raises(TaggerError, match=r"attention\[1\]"):
        build_attention([{"type": "multihead", "heads": 2}, {"type": "multihead", "size": 2}], 16)
    assert len(build_attention([], 16)) == 0
