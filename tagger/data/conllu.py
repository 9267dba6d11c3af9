"""CoNLL-U: ten TAB-separated fields; ``#`` lines are comments (``# newdoc`` starts a new
document); multiword-token ranges (``3-4``) and empty nodes (``5.1``) are not tokens but are
kept. The tag is UPOS, XPOS or the value of a MISC key; reading and setting it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from tagger.data.chunks import Chunk, ChunkBuilder
from tagger.errors import DataError

CONLLU_FIELDS = 10
_UPOS, _XPOS, _MISC = 3, 4, 9


def _misc_value(misc: str, key: str) -> str | None:
    """The value of ``key`` in a CoNLL-U MISC field (``Key=Value|...``), or ``None``."""
    if misc in ("", "_"):
        return None
    for item in misc.split("|"):
        name, eq, value = item.partition("=")
        if eq and name == key:
            return value
    return None


def conllu_tag(fields: list[str], tag_field: str) -> str:
    """The tag of a CoNLL-U word line (its 10 fields): UPOS, XPOS or a MISC key's value (``O``
    if absent)."""
    kind = tag_field.lower()
    if kind == "upos":
        return fields[_UPOS]
    if kind == "xpos":
        return fields[_XPOS]
    value = _misc_value(fields[_MISC], tag_field)
    return "O" if value is None else value


def conllu_chunks(name: str, lines: Iterable[tuple[int, str]], tag_field: str) -> Iterator[Chunk]:
    """Cut the lines of a CoNLL-U file into chunks."""
    build = ChunkBuilder()
    for lineno, line in lines:
        if not line.strip():
            yield from build.outside(line)
        elif line.startswith("#"):
            yield from build.comment(line)
        else:
            fields = line.split("\t")
            if len(fields) != CONLLU_FIELDS:
                message = f"expected {CONLLU_FIELDS} tab-separated fields, found {len(fields)}"
                raise DataError(name, lineno, message)
            if "-" in fields[0] or "." in fields[0]:
                build.extra(line)
            else:
                build.word(line, lineno, fields[1], conllu_tag(fields, tag_field))
    yield from build.finish()


def _set_misc(misc: str, key: str, value: str) -> str:
    """Set ``key=value`` in a CoNLL-U MISC field, replacing an earlier value of ``key``."""
    items = [] if misc in ("", "_") else misc.split("|")
    entry = f"{key}={value}"
    for index, item in enumerate(items):
        name, eq, _ = item.partition("=")
        if eq and name == key:
            items[index] = entry
            break
    else:
        items.append(entry)
    return "|".join(items) or "_"


def set_conllu_tag(line: str, tag: str, tag_field: str) -> str:
    """Rebuild a CoNLL-U word line with its UPOS, XPOS or MISC ``tag_field`` set to ``tag``."""
    fields = line.split("\t")
    kind = tag_field.lower()
    if kind == "upos":
        fields[_UPOS] = tag
    elif kind == "xpos":
        fields[_XPOS] = tag
    else:
        fields[_MISC] = _set_misc(fields[_MISC], tag_field, tag)
    return "\t".join(fields)
