"""Chunk streams tagged a buffer at a time: consecutive groups of about ``buffer`` sentences
(cut between documents when asked), each group's results attached back to its chunks in order,
and groups tagged in worker processes with at most ``2 * workers`` in flight."""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch

from tagger.data.conll import Chunk


def groups(chunks: Iterable[Chunk], buffer: int, whole_docs: bool = False) -> Iterator[list[Chunk]]:
    """Consecutive chunks holding about ``buffer`` sentences each; with ``whole_docs`` cut
    between documents (but always by ``2 * buffer`` sentences, so memory stays bounded)."""
    pending: list[Chunk] = []
    count, last_doc = 0, None
    for chunk in chunks:
        sentence = chunk.sentence
        if sentence is not None:
            new_doc = sentence.doc != last_doc
            if count >= buffer and (not whole_docs or new_doc or count >= 2 * buffer):
                yield pending
                pending, count = [], 0
            count, last_doc = count + 1, sentence.doc
        pending.append(chunk)
    if pending:
        yield pending


def sentences_of(group: list[Chunk]) -> tuple[list[list[str]], list[int]]:
    """The tokens and document ids of the group's sentences."""
    sentences = [c.sentence for c in group if c.sentence is not None]
    return [s.tokens for s in sentences], [s.doc for s in sentences]


def attach(group: list[Chunk], results: list[Any]) -> Iterator[tuple[Chunk, Any]]:
    """``(chunk, result)`` for each chunk of ``group``: the next result for a chunk with a
    sentence, None for the others."""
    remaining = iter(results)
    for chunk in group:
        yield chunk, (next(remaining) if chunk.sentence is not None else None)


def in_workers(
    load: Callable[..., Any],
    run_dir: str,
    chunk_groups: Iterable[list[Chunk]],
    nbest: int | None,
    workers: int,
) -> Iterator[tuple[Chunk, Any]]:
    """``(chunk, result)`` of each group, in order, tagged by ``workers`` processes that each
    load the model once (``load(run_dir, device=...)``: a picklable loader, ``Tagger.load``)."""
    context = multiprocessing.get_context("spawn")  # no fork of a process holding OpenMP
    slots = context.Value("i", 0)  # each worker takes the next number: its GPU, if any
    init = (load, run_dir, max(1, torch.get_num_threads() // workers), slots)
    with context.Pool(workers, initializer=_worker_init, initargs=init) as pool:
        window: deque[tuple[list[Chunk], Any]] = deque()
        for group in chunk_groups:
            job = pool.apply_async(_worker_tag, (*sentences_of(group), nbest))
            window.append((group, job))
            if len(window) >= 2 * workers:
                done, result = window.popleft()
                yield from attach(done, result.get())
        while window:
            done, result = window.popleft()
            yield from attach(done, result.get())


_WORKER: Any = None  # the worker process's tagger


def _worker_init(load: Callable[..., Any], run_dir: str, threads: int, slots: Any) -> None:
    """Load the model once per worker: on GPU ``slot % count`` when there are GPUs."""
    global _WORKER
    with slots.get_lock():
        slot = slots.value
        slots.value += 1
    torch.set_num_threads(threads)
    gpus = torch.cuda.device_count()
    _WORKER = load(run_dir, device=f"cuda:{slot % gpus}" if gpus else "cpu")


def _worker_tag(sentences: list[list[str]], docs: list[int], nbest: int | None) -> list[Any]:
    assert _WORKER is not None
    return _WORKER.tag_buffer(sentences, docs, nbest)
