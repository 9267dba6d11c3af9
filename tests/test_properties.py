"""Property tests: Viterbi with constraints equals brute force; the reader never crashes."""

from __future__ import annotations

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_crf import brute_best

from tagger.data.conll import read_sentences
from tagger.data.schemes import allowed_transitions
from tagger.errors import TaggerError
from tagger.model.crf import ConstrainedCRF

LABELS = {
    "iob2": ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"],
    "iobes": ["O", "B-PER", "I-PER", "E-PER", "S-PER"],
    "iob1": ["O", "I-PER", "B-PER", "I-LOC"],
}


@settings(max_examples=60, deadline=None)
@given(
    scheme=st.sampled_from(sorted(LABELS)),
    lengths=st.lists(st.integers(1, 4), min_size=1, max_size=4),
    seed=st.integers(0, 2**16),
)
def test_constrained_viterbi_equals_brute_force(scheme, lengths, seed):
    labels = LABELS[scheme]
    allowed = allowed_transitions(labels, scheme)
    torch.manual_seed(seed)
    crf = ConstrainedCRF(len(labels), allowed)
    with torch.no_grad():
        for param in (crf.start_transitions, crf.transitions, crf.end_transitions):
            param.normal_(0, 2)
    width = max(lengths)
    emissions = torch.randn(len(lengths), width, len(labels)) * 3  # (B, T, K)
    mask = torch.arange(width).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)  # (B, T)
    with torch.no_grad():
        tags = crf.viterbi(emissions, mask)
    raw = [crf.start_transitions, crf.transitions, crf.end_transitions]
    raw = [p.detach().double() for p in raw]
    for row, length in enumerate(lengths):
        best, _ = brute_best(emissions[row, :length].double(), *raw, allowed)
        assert tags[row, :length].tolist() == best


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.lists(
            st.sampled_from(
                [
                    b"EU B-ORG",
                    b"x O",
                    b"",
                    b"\t",
                    b"-DOCSTART- O",
                    b"# c",
                    b"a b c",
                    b"\xff\xfe",
                    b"1\tEU\t_\tX\t_\t_\t0\t_\t_\t_",
                    b"\r",
                    b"I-PER",
                ]
            ),
            max_size=12,
        ).map(b"\n".join),
    ),
    fmt=st.sampled_from(["conll", "conllu", "text"]),
)
def test_reader_parses_or_raises_the_clear_error(tmp_path, data, fmt):
    path = tmp_path / "random.txt"
    path.write_bytes(data)
    try:
        sentences = list(read_sentences(str(path), fmt))
    except TaggerError as exc:
        assert str(exc).startswith(str(path))
    else:
        assert all(s.tokens and s.line >= 1 for s in sentences)
