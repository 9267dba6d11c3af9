"""Token representations: word embedding + casing embedding + character CNN or BiLSTM."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from tagger.config import ModelConfig
from tagger.data.vocab import CASINGS
from tagger.model.encoder import BiLSTM
from tagger.model.grouping import Cost, cheapest_split


class CharCNN(nn.Module):
    """Character CNN with max-pooling over each word's own characters (Ma & Hovy 2016)."""

    def __init__(self, n_chars: int, char_dim: int, filters: int, kernel: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(n_chars, char_dim, padding_idx=0)
        self.conv = nn.Conv1d(char_dim, filters, kernel, padding=kernel // 2)
        self.out_dim = filters

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        """chars (N, L) ids, 0 = padding -> (N, filters)."""
        hidden = self.conv(self.embed(chars).transpose(1, 2))  # (N, F, L)
        hidden = hidden.masked_fill((chars == 0).unsqueeze(1), -1e4)  # pad positions never win
        return hidden.max(2).values.clamp(min=-1e3)  # (N, F); all-pad rows (empty) stay finite


class CharLSTM(nn.Module):
    """Character BiLSTM; a word is its last forward state and its first backward state.

    Runs dense, without packing (see :mod:`tagger.model.encoder` for why).
    """

    def __init__(self, n_chars: int, char_dim: int, hidden: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(n_chars, char_dim, padding_idx=0)
        self.lstm = BiLSTM(char_dim, hidden)
        self.hidden = hidden
        self.out_dim = 2 * hidden

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        """chars (N, L) ids, 0 = padding -> (N, 2 * hidden).

        On CPU, words run shortest first in groups of similar length, each padded only to its
        own longest word (:func:`tagger.model.grouping.cheapest_split` under ``CHAR_COST``),
        with row counts rounded up to a multiple of 16 by empty words: oneDNN builds and caches
        a kernel per input shape, and building one costs more than running it, so the set of
        shapes must stay small. On a GPU the words run in one call.
        """
        lengths = (chars != 0).sum(1).clamp(min=1)  # (N,)
        if torch.jit.is_tracing() or chars.device.type != "cpu":  # export, or GPU: one call
            return self._encode(chars, lengths)
        lengths, order = lengths.sort(stable=True)  # (N,), (N,) shortest words first
        chars = chars[order]  # (N, L)
        parts = []
        for begin, end, width in cheapest_split(lengths.tolist(), CHAR_COST)[0]:
            rows, sizes = chars[begin:end, :width], lengths[begin:end]  # (n, width), (n,)
            fill = -(end - begin) % CHAR_COST.quantum  # empty words up to the quantum
            if fill:
                rows = torch.cat([rows, rows.new_zeros(fill, width)])  # (n', width)
                sizes = torch.cat([sizes, sizes.new_ones(fill)])  # (n',)
            parts.append(self._encode(rows, sizes)[: end - begin])  # (n, 2h)
        return torch.cat(parts)[order.argsort()]  # (N, 2h) in the input order

    def _encode(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """chars (n, w), lengths (n,) -> (n, 2h): last forward state, first backward state."""
        states = self.lstm(self.embed(chars), lengths, group=False)  # (n, w, 2h)
        last = states.gather(1, (lengths - 1).view(-1, 1, 1).expand(-1, 1, states.size(2)))
        return torch.cat([last[:, 0, : self.hidden], states[:, 0, self.hidden :]], dim=1)


# The character BiLSTM's cost model (H=25, one CPU thread): a call costs about as much as 150
# row-steps; rows come in multiples of 16. Chosen by timing (``docs/performance.md``, "Where the
# code's choices were measured").
CHAR_COST = Cost(call=150.0, step=0.0, quantum=16)


@dataclass(frozen=True)
class WordVectors:
    """The word embedding table: its size and how it starts and trains.

    ``count`` words (id 0 is padding, 1 unknown) of ``dim`` values (the pretrained size when
    ``pretrained`` (count, dim) is given); ``freeze`` keeps them fixed. ``static_copy`` also feeds
    a frozen copy of the initial vectors beside the trained ones (Kim 2014's static channel):
    fine-tuning moves the training words' vectors away from the pretrained space, while words
    seen only at test time keep their pretrained vectors; the static copy gives every word a
    vector the network learnt to read.
    """

    count: int
    dim: int
    pretrained: torch.Tensor | None = None
    freeze: bool = False
    static_copy: bool = False


class Embedder(nn.Module):
    """Concatenate word, casing and character features of each token.

    Args:
        cfg: the ``model`` section (casing and character encoder sizes, word dropout).
        words: the word vectors' table; n_chars: character vocabulary size.
    """

    def __init__(self, cfg: ModelConfig, words: WordVectors, n_chars: int) -> None:
        super().__init__()
        n_words, word_dim, static_copy = words.count, words.dim, words.static_copy
        self.words = nn.Embedding(n_words, word_dim, padding_idx=0)
        if words.pretrained is not None:
            self.words.weight.data.copy_(words.pretrained)
        self.words.weight.requires_grad_(not words.freeze)
        self.static: nn.Embedding | None = None
        if static_copy:
            self.static = nn.Embedding(n_words, word_dim, padding_idx=0)
            self.static.weight.data.copy_(self.words.weight.data)
            self.static.weight.requires_grad_(False)
        self.casing = nn.Embedding(len(CASINGS), cfg.casing_dim, padding_idx=0)
        self.chars: nn.Module | None = None
        char_dim = 0
        if cfg.char_encoder == "cnn":
            self.chars = CharCNN(n_chars, cfg.char_dim, cfg.char_hidden, cfg.char_kernel)
        elif cfg.char_encoder == "lstm":
            self.chars = CharLSTM(n_chars, cfg.char_dim, cfg.char_hidden)
        if self.chars is not None:
            char_dim = self.chars.out_dim
        self.word_dropout = cfg.word_dropout
        self.out_dim = word_dim * (2 if static_copy else 1) + cfg.casing_dim + char_dim

    def char_table(self, chars: torch.Tensor) -> torch.Tensor | None:
        """chars (U, L) ids of distinct words, row 0 the padding word -> (U, F) vectors with
        row 0 zero; None without a character model."""
        if self.chars is None:
            return None
        vectors = self.chars(chars)  # (U, F)
        return torch.cat([torch.zeros_like(vectors[:1]), vectors[1:]])  # padding row: zeros

    def forward(
        self,
        words: torch.Tensor,
        casing: torch.Tensor,
        char_index: torch.Tensor,
        char_table: torch.Tensor | None,
    ) -> torch.Tensor:
        """words, casing, char_index (B, T); char_table (U, F) rows picked by char_index
        -> (B, T, out_dim)."""
        if self.training and self.word_dropout > 0:
            drop = torch.rand(words.shape, device=words.device) < self.word_dropout
            words = words.masked_fill(drop & (words > 0), 1)  # (B, T): some words become <unk>
        parts = [self.words(words), self.casing(casing)]  # (B, T, W), (B, T, C)
        if self.static is not None:
            parts.append(self.static(words))  # (B, T, W)
        if char_table is not None:
            parts.append(nn.functional.embedding(char_index, char_table))  # (B, T, F)
        return torch.cat(parts, dim=-1)
