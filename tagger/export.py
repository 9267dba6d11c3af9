"""Portable export: the whole tagger, Viterbi decoding included, as one ONNX graph.

Inputs are the tensors of :class:`tagger.data.batching.Batch` (word, casing and character ids,
sentence lengths); outputs are the best tag ids (B, T) and their path scores (B,). The Viterbi
recursion is compiled with TorchScript so that it exports as an ONNX ``Loop`` over the sentence
length instead of being unrolled for one length. :class:`OnnxBackend` runs such a file with
onnxruntime as the decoding backend of a :class:`tagger.prediction.Tagger`
(:func:`load_onnx_tagger`).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tagger import decoding
from tagger.data.batching import Batch
from tagger.decoding import Decoded
from tagger.errors import TaggerError
from tagger.model.crf import viterbi_unpacked
from tagger.prediction import Tagger

ONNX = "model.onnx"
INSTALL_ONNX = (
    "pip install onnx onnxruntime (or, in the tagger checkout, pip install -e '.[onnx]'; "
    "'tagger' on PyPI is another project)"
)
INPUTS = ("words", "casing", "chars", "char_index", "lengths")


_viterbi = torch.jit.script(viterbi_unpacked)  # a loop ONNX keeps as a Loop, not unrolled


class Decoder(nn.Module):
    """The network plus Viterbi, with tensor inputs and outputs only."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, words, casing, chars, char_index, lengths):  # type: ignore[no-untyped-def]
        steps = torch.arange(words.size(1)).unsqueeze(0)  # (1, T)
        mask = steps < lengths.unsqueeze(1)  # (B, T)
        batch = Batch(words, casing, chars, char_index, mask, lengths)
        emissions = self.network.emissions(batch)  # (B, T, K)
        return _viterbi(emissions, mask, *self.network.crf.parameters_masked())


def export_onnx(run_dir: str | Path, target: str | Path | None = None) -> Path:
    """Write ``model.onnx`` (or ``target``) for the model in ``run_dir``; returns its path."""
    import importlib.util

    from tagger.atomic import atomic_write_bytes, check_target
    from tagger.data.batching import make_batch

    if importlib.util.find_spec("onnx") is None:  # torch's exporter needs it to write the file
        raise TaggerError(f"export needs onnx: {INSTALL_ONNX}")
    path = Path(target) if target else Path(run_dir) / ONNX
    check_target(path)  # before the export's work
    tagger = Tagger.load(run_dir)
    network = tagger.network.eval()
    if network.document_level:
        raise TaggerError("models with document-level attention cannot be exported to ONNX yet")
    words = [["Peter", "Blackburn"], ["EU"]]
    example = make_batch(tagger.vocab, words, None, network.max_word_length)
    args = tuple(getattr(example, name) for name in INPUTS)
    dynamic = {"words": {0: "batch", 1: "time"}, "casing": {0: "batch", 1: "time"}}
    dynamic |= {"chars": {0: "types", 1: "chars"}, "char_index": {0: "batch", 1: "time"}}
    dynamic |= {"lengths": {0: "batch"}}
    dynamic |= {"tags": {0: "batch", 1: "time"}, "scores": {0: "batch"}}
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # the exporter warns that LSTM batch sizes may not vary; they do (tests/test_export.py)
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Decoder(network),
            args,
            buffer,
            input_names=list(INPUTS),
            output_names=["tags", "scores"],
            dynamic_axes=dynamic,
            opset_version=17,
            dynamo=False,
        )
    atomic_write_bytes(path, buffer.getvalue())
    return path


class OnnxBackend:
    """Decoding in onnxruntime with an exported graph (tags only: no marginals, no n-best);
    pass it to :class:`tagger.prediction.Tagger` as its ``backend``."""

    def __init__(self, session: Any, network: Any, vocab: Any, batch_size: int) -> None:
        self.session, self.network, self.vocab = session, network, vocab
        self.batch_size = batch_size

    def tags(
        self, sentences: Sequence[Sequence[str]], docs: Sequence[int] | None
    ) -> list[list[str]]:
        """Model-scheme tags; ``docs`` is ignored (the graph has no input for documents)."""
        out: list[list[str]] = [[] for _ in sentences]
        batches = decoding.batches(
            self.network, self.vocab, sentences, self.batch_size, shared=False
        )
        for ids, batch, _ in batches:
            feed = {name: getattr(batch, name).numpy() for name in INPUTS}
            tags, _ = self.session.run(None, feed)  # (B, T)
            for row, i in zip(tags.tolist(), ids):
                out[i] = [self.vocab.tags[t] for t in row[: len(sentences[i])]]
        return out

    def detailed(
        self, sentences: Sequence[Sequence[str]], docs: Sequence[int] | None, k: int
    ) -> list[Decoded]:
        raise TaggerError("the onnx runtime gives tags only: use --runtime torch for JSONL output")


def load_onnx_tagger(run_dir: str | Path) -> Tagger:
    """The model in ``run_dir`` as a :class:`Tagger` that decodes its exported ``model.onnx``
    in onnxruntime (on the CPU)."""
    try:
        import onnxruntime
    except ImportError:
        raise TaggerError(f"--runtime onnx needs onnxruntime: {INSTALL_ONNX}") from None
    path = Path(run_dir) / ONNX
    if not path.is_file():
        raise TaggerError(f"{run_dir}: no {ONNX}; run 'tagger export {run_dir}' first")
    base = Tagger.load(run_dir)
    if base.network.document_level:  # the graph has no input for document ids
        raise TaggerError(f"{run_dir}: a document-level model cannot run in onnx")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = onnxruntime.InferenceSession(str(path), options, ["CPUExecutionProvider"])
    backend = OnnxBackend(session, base.network, base.vocab, base.batch_size)
    return Tagger(base.cfg, base.vocab, base.network, base.batch_size, base.run_dir, backend)
