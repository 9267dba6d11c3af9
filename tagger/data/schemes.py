"""Tag schemes for sequence labelling: parsing, span extraction, conversion and CRF constraints.

A tag is either the plain ``O`` (outside any entity) or ``PREFIX-TYPE``, split at the *first*
hyphen, so ``B-creative-work`` has prefix ``B`` and type ``creative-work``. The schemes are:

``iob1``
    The original CoNLL-2003 encoding. Every token of an entity is tagged ``I-TYPE``; ``B-TYPE``
    is used only on the first token of an entity that directly follows (no ``O`` in between)
    another entity of the same type. Example: ``I-PER I-PER B-PER O I-LOC``.
``iob2`` (alias ``bio``)
    Every entity starts with ``B-TYPE`` and continues with ``I-TYPE``: ``B-PER I-PER B-PER``.
``iobes``
    ``S-TYPE`` for single-token entities; otherwise ``B-TYPE``, zero or more ``I-TYPE`` and a final
    ``E-TYPE``: ``B-PER E-PER S-LOC``.
``bilou``
    Same as ``iobes`` with ``L`` (last) for ``E`` and ``U`` (unit) for ``S``.
``none``
    A plain tag set (e.g. part-of-speech tags such as ``NOUN`` or ``-LRB-``): tags are not parsed,
    there are no spans and every transition is allowed.

Spans are ``(type, start, end_exclusive)`` triples. :func:`get_spans` follows the chunk logic of
the CoNLL evaluation script ``conlleval`` (its ``startOfChunk``/``endOfChunk`` functions, in the
extended form that also handles ``S``, as in the widely used Python port and ``seqeval``), so it
decodes *any* sequence, including invalid ones, exactly the way the standard scorer does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

SCHEMES: tuple[str, ...] = ("iob1", "iob2", "iobes", "bilou", "none")

_ALIASES: dict[str, str] = {"bio": "iob2"}

#: Prefixes that may appear in a tag, whatever the scheme.
_PREFIXES: frozenset[str] = frozenset("BIESLU")

#: Prefixes allowed in each scheme (``none`` accepts any tag and is not listed).
_SCHEME_PREFIXES: dict[str, tuple[str, ...]] = {
    "iob1": ("B", "I"),
    "iob2": ("B", "I"),
    "iobes": ("B", "I", "E", "S"),
    "bilou": ("B", "I", "L", "U"),
}

#: BILOU prefixes mapped to their IOBES equivalents for span extraction.
_TO_IOBES: dict[str, str] = {"L": "E", "U": "S"}

Span = tuple[str, int, int]


class TagError(ValueError):
    """Raised for a malformed tag or a tag whose prefix the scheme does not allow."""


def normalize_scheme(name: str) -> str:
    """Return the canonical scheme name for ``name`` (case-insensitive, ``bio`` -> ``iob2``).

    Raises ValueError naming the valid choices if ``name`` is not a known scheme.
    """
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in SCHEMES:
        choices = ", ".join(SCHEMES + tuple(_ALIASES))
        raise ValueError(f"unknown tag scheme {name!r}: expected one of {choices}")
    return key


def split_tag(tag: str) -> tuple[str, str | None]:
    """Split ``tag`` into ``(prefix, type)``, e.g. ``"B-PER"`` -> ``("B", "PER")``.

    ``"O"`` gives ``("O", None)``. The split is at the first hyphen, so types may contain
    hyphens. Raises TagError for anything that is neither ``O`` nor ``P-TYPE`` with ``P`` one of
    B, I, E, S, L, U and a non-empty type.
    """
    if tag == "O":
        return "O", None
    prefix, sep, type_ = tag.partition("-")
    if not sep or prefix not in _PREFIXES or not type_:
        raise TagError(
            f"malformed tag {tag!r}: expected O or PREFIX-TYPE with PREFIX one of "
            f"B, I, E, S, L, U and a non-empty TYPE"
        )
    return prefix, type_


def _is_prefixed(tag: str) -> bool:
    """Return True if ``tag`` is a well-formed ``PREFIX-TYPE`` tag (not ``O``)."""
    prefix, sep, type_ = tag.partition("-")
    return bool(sep) and prefix in _PREFIXES and bool(type_)


def check_tags(tags: Iterable[str], scheme: str) -> None:
    """Raise TagError for the first tag in ``tags`` that is not valid in ``scheme``.

    Only the tags themselves are checked (prefix and form), not the order they come in. For the
    ``none`` scheme every tag is accepted.
    """
    scheme = normalize_scheme(scheme)
    if scheme == "none":
        return
    allowed = _SCHEME_PREFIXES[scheme]
    for tag in tags:
        if tag == "O":
            continue
        if not _is_prefixed(tag) or tag.partition("-")[0] not in allowed:
            expected = "/".join(f"{p}-" for p in allowed)
            raise TagError(f"unknown tag {tag!r} for scheme {scheme}: expected O or {expected}TYPE")


def _end_of_chunk(prev_tag: str, tag: str, prev_type: str | None, type_: str | None) -> bool:
    """conlleval ``endOfChunk``: does a chunk end between the previous and the current token?"""
    closed = prev_tag in ("E", "S") or (prev_tag in ("B", "I") and tag in ("B", "S", "O"))
    return closed or (prev_tag != "O" and prev_type != type_)


def _start_of_chunk(prev_tag: str, tag: str, prev_type: str | None, type_: str | None) -> bool:
    """conlleval ``startOfChunk``: does a chunk start at the current token?"""
    opened = tag in ("B", "S") or (tag in ("I", "E") and prev_tag in ("O", "E", "S"))
    return opened or (tag != "O" and prev_type != type_)


def get_spans(tags: Sequence[str], scheme: str) -> list[Span]:
    """Return the ``(type, start, end_exclusive)`` spans of ``tags``, sorted by start.

    Uses conlleval's chunk logic, which decodes any sequence of B/I/E/S/O tags (``L`` is read as
    ``E`` and ``U`` as ``S``), so it is lenient: prefixes are not checked against ``scheme``.
    ``I-PER`` after ``O`` starts a chunk and ``B-PER I-LOC`` is two chunks. Returns ``[]`` for the
    ``none`` scheme. Raises TagError for malformed tags.
    """
    if normalize_scheme(scheme) == "none":
        return []
    spans: list[Span] = []
    prev_tag, prev_type = "O", None
    start = 0
    for i, tag in enumerate([*tags, "O"]):
        prefix, type_ = split_tag(tag)
        prefix = _TO_IOBES.get(prefix, prefix)
        if _end_of_chunk(prev_tag, prefix, prev_type, type_):
            assert prev_type is not None
            spans.append((prev_type, start, i))
        if _start_of_chunk(prev_tag, prefix, prev_type, type_):
            start = i
        prev_tag, prev_type = prefix, type_
    return spans


def encode_spans(spans: Iterable[Span], length: int, scheme: str) -> list[str]:
    """Encode non-overlapping ``spans`` as a tag sequence of ``length`` tokens in ``scheme``.

    Tokens outside every span get ``O``. Raises ValueError for the ``none`` scheme, for empty or
    out-of-range spans and for overlapping spans.
    """
    scheme = normalize_scheme(scheme)
    if scheme == "none":
        raise ValueError("cannot encode spans in the 'none' scheme")
    tags = ["O"] * length
    prev_type, prev_end = None, -1
    for type_, start, end in sorted(spans, key=lambda s: (s[1], s[2])):
        if not 0 <= start < end <= length:
            raise ValueError(f"span {(type_, start, end)!r} is empty or outside 0..{length}")
        if start < prev_end:
            raise ValueError(f"span {(type_, start, end)!r} overlaps the previous span")
        tags[start:end] = _encode_span(
            type_, end - start, scheme, prev_end == start and prev_type == type_
        )
        prev_type, prev_end = type_, end
    return tags


def _encode_span(type_: str, size: int, scheme: str, follows_same_type: bool) -> list[str]:
    """Return the tags of one entity of ``size`` tokens in ``scheme``.

    ``follows_same_type`` says whether the entity directly follows one of the same type (which is
    what makes IOB1 use ``B``).
    """
    if scheme == "iob1":
        first = "B" if follows_same_type else "I"
        return [f"{first}-{type_}"] + [f"I-{type_}"] * (size - 1)
    if scheme == "iob2":
        return [f"B-{type_}"] + [f"I-{type_}"] * (size - 1)
    single, last = ("S", "E") if scheme == "iobes" else ("U", "L")
    if size == 1:
        return [f"{single}-{type_}"]
    return [f"B-{type_}"] + [f"I-{type_}"] * (size - 2) + [f"{last}-{type_}"]


def convert(tags: Sequence[str], source: str, target: str) -> list[str]:
    """Convert ``tags`` from scheme ``source`` to scheme ``target``.

    The spans are read with :func:`get_spans` (so invalid sequences are repaired the way conlleval
    reads them) and re-encoded in ``target``. For a valid sequence ``convert(x, s, s) == x``.
    Raises TagError if a tag is not allowed in ``source`` and ValueError when converting to or from
    ``none`` (unless both are ``none``, which returns a copy).
    """
    source, target = normalize_scheme(source), normalize_scheme(target)
    if source == "none" or target == "none":
        if source == target:
            return list(tags)
        raise ValueError(f"cannot convert tags from scheme {source} to scheme {target}")
    if all(t == "O" for t in tags):
        return list(tags)  # no entity: the same in every scheme (most sentences of a corpus)
    check_tags(tags, source)
    spans = _valid_iobes_spans(tags) if source in ("iobes", "bilou") else None
    if spans is None:
        spans = get_spans(tags, source)
    return encode_spans(spans, len(tags), target)


def _valid_iobes_spans(tags: Sequence[str]) -> list[Span] | None:
    """The spans of a *valid* IOBES / BILOU sequence in one pass, or None if it is not valid.

    What a constrained CRF outputs is always valid, and this one pass is faster
    (``docs/performance.md``) than :func:`get_spans`, which repairs any sequence the way
    conlleval reads it (the fallback). Prefixes must already be checked against the scheme.
    """
    spans: list[Span] = []
    start, kind = -1, ""
    for i, tag in enumerate(tags):
        if tag == "O":
            if start >= 0:
                return None
            continue
        prefix, _, type_ = tag.partition("-")
        prefix = _TO_IOBES.get(prefix, prefix)
        if prefix in ("B", "S"):
            if start >= 0:
                return None
            if prefix == "S":
                spans.append((type_, i, i + 1))
            else:
                start, kind = i, type_
        elif start < 0 or type_ != kind:
            return None  # I or E outside an entity of its type
        elif prefix == "E":
            spans.append((kind, start, i + 1))
            start = -1
    return None if start >= 0 else spans


def is_entity_tag(tag: str) -> bool:
    """Whether ``tag`` is a well-formed ``PREFIX-TYPE`` tag: a prefix of B, I, E, S, L, U, a
    hyphen and a non-empty type (``B-PER``, ``I-creative-work``; not ``O``, ``B-``, ``X-PER``)."""
    return _is_prefixed(tag)


def find_misfit(sequences: Iterable[Sequence[str]]) -> tuple[int, int, str] | None:
    """``(sequence index, position, tag)`` of the first tag that does not fit a tagged corpus.

    The rule: a corpus with at least one entity tag (:func:`is_entity_tag`) is a scheme corpus,
    and then every tag must be ``O`` or an entity tag; ``B-``, ``X-PER``, ``FOO`` or ``NOUN``
    there are mistakes, not signs of a plain tag set. A corpus without entity tags (POS tags,
    bare ``B``/``I`` chunk marks) is a plain tag set, where every tag fits. Returns None when
    every tag fits.
    """
    first_bad, entity = None, False
    for index, sequence in enumerate(sequences):
        for position, tag in enumerate(sequence):
            if tag == "O":
                continue
            if _is_prefixed(tag):
                entity = True
            elif first_bad is None:
                first_bad = (index, position, tag)
        if entity and first_bad is not None:
            return first_bad
    return None


def detect_scheme(sequences: Iterable[Sequence[str]]) -> str:
    """Guess the tag scheme of a corpus given as tag sequences.

    Returns ``none`` if no tag is a well-formed ``PREFIX-TYPE`` tag (a plain tag set such as POS
    tags, even if some tags contain hyphens like ``-LRB-``); otherwise, from the entity tags
    (others are misfits, see :func:`find_misfit`), ``bilou`` if any ``L``/``U`` prefix occurs,
    ``iobes`` if any ``E``/``S`` prefix occurs, ``iob1`` if some entity starts with ``I`` (at the
    start of a sequence, after ``O`` or after a tag of another type), else ``iob2``.
    """
    prefixes: set[str] = set()
    entity_starts_with_i = False
    for sequence in sequences:
        prev_type = None
        for tag in sequence:
            if not _is_prefixed(tag):
                prev_type = None
                continue
            prefix, type_ = split_tag(tag)
            prefixes.add(prefix)
            if prefix == "I" and type_ != prev_type:
                entity_starts_with_i = True
            prev_type = type_
    if not prefixes:
        return "none"
    if prefixes & {"L", "U"}:
        return "bilou"
    if prefixes & {"E", "S"}:
        return "iobes"
    return "iob1" if entity_starts_with_i else "iob2"


def _allowed_pair(scheme: str, prev: tuple[str, str | None], cur: tuple[str, str | None]) -> bool:
    """Return True if label ``cur`` may directly follow label ``prev`` in ``scheme``."""
    (p_prefix, p_type), (c_prefix, c_type) = prev, cur
    if scheme == "iob1":
        if c_prefix == "B":
            return p_prefix in ("B", "I") and p_type == c_type
        return True
    if scheme == "iob2":
        if c_prefix == "I":
            return p_prefix in ("B", "I") and p_type == c_type
        return True
    # iobes / bilou (already mapped to B/I/E/S)
    if p_prefix in ("B", "I"):
        return c_prefix in ("I", "E") and p_type == c_type
    return c_prefix in ("O", "B", "S")


def _allowed_start(scheme: str, prefix: str) -> bool:
    """Return True if a label with ``prefix`` may start a sequence in ``scheme``."""
    if scheme == "iob1":
        return prefix != "B"
    if scheme == "iob2":
        return prefix != "I"
    return prefix in ("O", "B", "S")


def _allowed_end(scheme: str, prefix: str) -> bool:
    """Return True if a label with ``prefix`` may end a sequence in ``scheme``."""
    if scheme in ("iob1", "iob2"):
        return True
    return prefix in ("O", "E", "S")


def allowed_transitions(
    labels: Sequence[str], scheme: str
) -> tuple[list[bool], list[list[bool]], list[bool]]:
    """Return the transition constraints of a CRF over ``labels`` in ``scheme``.

    The result is ``(start_allowed, allowed, end_allowed)`` where ``start_allowed[j]`` says whether
    label ``j`` may start a sequence, ``allowed[i][j]`` whether label ``j`` may follow label ``i``
    and ``end_allowed[i]`` whether label ``i`` may end a sequence. A sequence satisfies all three
    exactly when it is a valid, canonical encoding in ``scheme`` (``convert(x, s, s) == x``).
    For ``none`` everything is allowed. Raises TagError if a label is not valid in ``scheme``.
    """
    scheme = normalize_scheme(scheme)
    n = len(labels)
    if scheme == "none":
        return [True] * n, [[True] * n for _ in range(n)], [True] * n
    check_tags(labels, scheme)
    parsed = []
    for label in labels:
        prefix, type_ = split_tag(label)
        parsed.append((_TO_IOBES.get(prefix, prefix), type_))
    start = [_allowed_start(scheme, p) for p, _ in parsed]
    end = [_allowed_end(scheme, p) for p, _ in parsed]
    pairs = [[_allowed_pair(scheme, a, b) for b in parsed] for a in parsed]
    return start, pairs, end
