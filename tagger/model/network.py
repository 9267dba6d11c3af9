"""The network: embedder -> BiLSTM -> attention stack -> linear emissions -> constrained CRF."""

from __future__ import annotations

import torch
from torch import nn

from tagger.config import ModelConfig
from tagger.data.batching import Batch
from tagger.data.schemes import allowed_transitions
from tagger.model.attention import LabelAttention, build_attention
from tagger.model.crf import ConstrainedCRF, marginals, nbest_viterbi
from tagger.model.dropout import Dropout
from tagger.model.embedder import Embedder, WordVectors
from tagger.model.encoder import BiLSTM


class TaggerNetwork(nn.Module):
    """BiLSTM-attention-CRF.

    Args:
        cfg: layer sizes (``model`` section of the config).
        n_words, n_chars: vocabulary sizes; word_dim: word vector size.
        labels: the model's tags; scheme: their scheme (``none`` for plain tag sets), which
            decides the CRF's forbidden transitions when ``cfg.constrain`` is set.
        pretrained: optional (n_words, word_dim) initial word vectors.
        freeze_words: keep the word vectors fixed; static_copy: also feed a frozen copy of them
            (see :class:`tagger.model.embedder.WordVectors`).
    """

    def __init__(
        self,
        cfg: ModelConfig,
        n_words: int,
        n_chars: int,
        word_dim: int,
        labels: list[str],
        scheme: str,
        pretrained: torch.Tensor | None = None,
        freeze_words: bool = False,
        static_copy: bool = False,
    ) -> None:
        super().__init__()
        self.max_word_length = cfg.max_word_length
        words = WordVectors(n_words, word_dim, pretrained, freeze_words, static_copy)
        self.embedder = Embedder(cfg, words, n_chars)
        self.dropout = Dropout(cfg.dropout)
        self.lstm = BiLSTM(self.embedder.out_dim, cfg.hidden_size, cfg.num_layers, cfg.dropout)
        size = self.lstm.out_dim
        self.attention = build_attention(cfg.attention, size, tags=len(labels))
        self.emit = nn.Linear(size, len(labels))
        constrain = cfg.constrain and scheme != "none"
        allowed = allowed_transitions(labels, scheme) if constrain else None
        self.crf = ConstrainedCRF(len(labels), allowed)

    def encode(
        self, batch: Batch, char_table: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        """Token states (B, T, 2H) and each attention layer's weights for inspection (None where
        a layer has none: a ``bilstm`` layer always, local and multi-head attention in training).

        ``char_table`` (U, F): character vectors computed ahead for the rows ``batch.char_index``
        points at (tagging computes them once per buffer); by default from ``batch.chars``.
        """
        if char_table is None and batch.chars is not None:
            char_table = self.embedder.char_table(batch.chars)  # (U, F)
        x = self.embedder(batch.words, batch.casing, batch.char_index, char_table)  # (B, T, E)
        x = self.dropout(x)
        x = self.lstm(x, batch.lengths)  # (B, T, 2H)
        weights = []
        for layer in self.attention:
            x, w = layer(x, batch.mask, batch.docs)  # (B, T, 2H)
            weights.append(w)
        return self.dropout(x), weights

    @property
    def document_level(self) -> bool:
        """Whether an attention layer looks across the sentences of a document, so that
        batches should hold whole documents (:func:`tagger.data.batching.document_batches`)."""
        return any(layer.document_level for layer in self.attention)

    def emissions(self, batch: Batch, char_table: torch.Tensor | None = None) -> torch.Tensor:
        """Emission scores (B, T, K); a last label-attention layer over the K tags adds its
        attention logits (the label-attention network's prediction) to them."""
        scores = self.emit(self.encode(batch, char_table)[0])  # (B, T, K)
        last = self.attention[-1] if len(self.attention) else None
        if isinstance(last, LabelAttention) and last.logits.size(-1) == scores.size(-1):
            scores = scores + last.logits
        return scores

    def forward(self, batch: Batch) -> torch.Tensor:
        """The training loss (so that DistributedDataParallel can wrap the network)."""
        return self.loss(batch)

    def loss(self, batch: Batch) -> torch.Tensor:
        """Mean negative log-likelihood of the gold tags (``batch.tags`` required)."""
        return self.crf.neg_log_likelihood(self.emissions(batch), batch.tags, batch.mask)

    def decode(self, batch: Batch, char_table: torch.Tensor | None = None) -> torch.Tensor:
        """Best tag ids (B, T) by batched Viterbi; 0 past each sentence's end."""
        return self.crf.viterbi(self.emissions(batch, char_table), batch.mask)

    def decode_nbest(
        self, batch: Batch, k: int = 1, char_table: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """The k best paths with their probabilities, and token marginals.

        Returns ``paths`` (B, k, T), ``path_probs`` (B, k) = p(path | x), ``real`` (B, k)
        (false where a sentence has fewer than k paths) and ``marginals`` (B, T, K) =
        p(y_t = j | x) by forward-backward.
        """
        emissions = self.emissions(batch, char_table)  # (B, T, K)
        trans = self.crf.parameters_masked()
        paths, scores = nbest_viterbi(emissions, batch.mask, trans, k)  # (B, k, T), (B, k)
        probs, log_z = marginals(emissions, batch.mask, trans)  # (B, T, K), (B,)
        return {
            "paths": paths,
            "path_probs": (scores - log_z.unsqueeze(1)).exp(),
            "real": torch.isfinite(scores),  # (B, k): false for paths a short sentence lacks
            "marginals": probs,
        }
