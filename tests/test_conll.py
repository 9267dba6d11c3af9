"""Tests for tagger.data.conll: reading CoNLL/CoNLL-U/text and writing predictions back."""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagger.data.conll import (
    Chunk,
    Sentence,
    format_chunk,
    iter_chunks,
    iter_lines,
    read_sentences,
    require_sentences,
    write_lines_atomic,
)
from tagger.errors import DataError, TaggerError

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def write(tmp_path: Path, text: str | bytes, name: str = "data.txt") -> Path:
    """Write ``text`` (str as UTF-8, bytes as is) to a file in ``tmp_path``; return its path."""
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def sentences(path: Path, **kwargs: object) -> list[Sentence]:
    """All sentences of ``path``."""
    return list(read_sentences(path, **kwargs))  # type: ignore[arg-type]


def all_lines(chunks: list[Chunk]) -> list[str]:
    """The chunks' lines, concatenated."""
    return [line for chunk in chunks for line in chunk.lines]


def round_trip(path: Path, fmt: str = "conll", **kwargs: object) -> list[str]:
    """Format every chunk of ``path`` back with its own gold tags."""
    out: list[str] = []
    for chunk in iter_chunks(path, fmt, **kwargs):  # type: ignore[arg-type]
        tags = chunk.sentence.tags if chunk.sentence else None
        out.extend(format_chunk(chunk, tags, fmt, **kwargs))  # type: ignore[arg-type]
    return out


# --- CoNLL -----------------------------------------------------------------------------------


def test_space_separated_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "EU NNP I-ORG\nrejects VBZ O\n\nPeter NNP I-PER\n")
    assert sentences(path) == [
        Sentence(["EU", "rejects"], ["I-ORG", "O"], 0, 1),
        Sentence(["Peter"], ["I-PER"], 0, 4),
    ]


def test_tab_separated_columns_and_runs_of_spaces(tmp_path: Path) -> None:
    path = write(tmp_path, "New\tB-LOC\nYork  \t I-LOC\n")
    assert sentences(path) == [Sentence(["New", "York"], ["B-LOC", "I-LOC"], 0, 1)]


@pytest.mark.parametrize(
    ("token_column", "tag_column", "tokens", "tags"),
    [
        (0, -1, ["a", "b"], ["T1", "T2"]),
        (0, 1, ["a", "b"], ["P1", "P2"]),
        (1, -2, ["P1", "P2"], ["P1", "P2"]),
        (-3, 2, ["a", "b"], ["T1", "T2"]),
        (0, None, ["a", "b"], None),
    ],
)
def test_column_selection(
    tmp_path: Path, token_column: int, tag_column: int | None, tokens: list, tags: list | None
) -> None:
    path = write(tmp_path, "a P1 T1\nb P2 T2\n")
    found = sentences(path, token_column=token_column, tag_column=tag_column)
    assert found == [Sentence(tokens, tags, 0, 1)]


def test_docstart_with_and_without_blank_line(tmp_path: Path) -> None:
    text = (
        "-DOCSTART- -X- O O\n\na x O\n\nb x O\n\n"  # doc 0, followed by a blank line
        "-DOCSTART- -X- O O\nc x O\n"  # doc 1, no blank line after DOCSTART
        "-DOCSTART- -X- O O\n"  # ends the sentence without a blank line
        "-DOCSTART- -X- O O\n\nd x B-X\n"  # two in a row: no empty document
    )
    found = sentences(write(tmp_path, text))
    assert [(s.tokens, s.doc, s.line) for s in found] == [
        (["a"], 0, 3),
        (["b"], 0, 5),
        (["c"], 1, 8),
        (["d"], 2, 12),
    ]
    chunks = list(iter_chunks(tmp_path / "data.txt"))
    assert all_lines(chunks) == text.split("\n")[:-1]
    docstarts = [c for c in chunks if c.lines[0].startswith("-DOCSTART-")]
    assert all(c.sentence is None and c.token_rows == [] for c in docstarts)


def test_comment_lines(tmp_path: Path) -> None:
    text = "# sent_id = 1\n#\nEU X O\n# SYM O\nok X O\n\n# orphan\n\n# trailing\n"
    path = write(tmp_path, text)
    chunks = list(iter_chunks(path))
    assert chunks[0].lines == ["# sent_id = 1", "#", "EU X O", "# SYM O", "ok X O"]
    assert chunks[0].token_rows == [2, 3, 4]
    assert chunks[0].sentence == Sentence(["EU", "#", "ok"], ["O", "O", "O"], 0, 3)
    assert [c.sentence for c in chunks[1:]] == [None] * (len(chunks) - 1)
    assert all_lines(chunks) == text.split("\n")[:-1]
    assert chunks[-1].lines == ["# trailing"]


# Issue 25, item 8: comments are told from "#" tokens by the file's separator layout and by the
# "# key = value" metadata form, not by counting whitespace-separated words.
UD_NER_TAB = (
    "# global.columns = ID FORM UPOS XPOS NER\n"
    "# newdoc id = d1\n"
    "# sent_id = 1\n"
    "# text = Miramar rocks on\n"  # 5 words, as many as the token lines' 5 columns
    "1\tMiramar\tPROPN\tNNP\tB-LOC\n2\trocks\tVERB\tVBZ\tO\n3\ton\tADP\tIN\tO\n"
    "\n"
    "# newdoc id = d2\n"  # 4 words
    "# sent_id = 2\n"
    "# text = Miramar?\n"
    "1\tMiramar\tPROPN\tNNP\tB-LOC\n2\t?\tPUNCT\t.\tO\n"
    "\n"
    "# text = a b\tc d e\n"  # 2 TAB fields: still a comment in a 5-field TAB file
    "1\t#\tSYM\tNN\tO\n"
)


def test_ud_derived_tab_file_comments(tmp_path: Path) -> None:
    found = sentences(write(tmp_path, UD_NER_TAB))
    assert [s.tokens for s in found] == [["1", "2", "3"], ["1", "2"], ["1"]]
    assert [s.tags for s in found] == [["B-LOC", "O", "O"], ["B-LOC", "O"], ["O"]]
    assert [s.doc for s in found] == [0, 1, 1]  # "# newdoc" starts a document, as in CoNLL-U
    assert [s.line for s in found] == [5, 12, 16]
    assert round_trip(write(tmp_path, UD_NER_TAB)) == UD_NER_TAB.split("\n")[:-1]


@pytest.mark.parametrize("separator", [" ", "\t"])
def test_metadata_comments_as_wide_as_token_lines(tmp_path: Path, separator: str) -> None:
    # "# sent_id = 2" has 4 words, like the 4 columns of CoNLL-2003: it used to be a token
    # whose tag is "2" (which turned the whole file into a plain tag set).
    row = separator.join
    text = (
        f"{row(['EU', 'NNP', 'B-NP', 'B-ORG'])}\n\n"
        "# sent_id = 2\n# newdoc id = x y\n# text = Peter Blackburn\n"
        f"{row(['Peter', 'NNP', 'B-NP', 'B-PER'])}\n{row(['Blackburn', 'NNP', 'I-NP', 'I-PER'])}\n"
    )
    found = sentences(write(tmp_path, text))
    assert [s.tokens for s in found] == [["EU"], ["Peter", "Blackburn"]]
    assert [s.tags for s in found] == [["B-ORG"], ["B-PER", "I-PER"]]
    assert found[1].line == 6


def test_conll2000_hash_tokens_stay_tokens(tmp_path: Path) -> None:
    # CoNLL-2000 has sentences that start with the token "#" (POS "#"): "# # B-NP".
    text = "Rockwell NNP B-NP\n\n# # B-NP\n1 CD I-NP\n\n# # B-NP\n\n# comment\nok UH O\n"
    found = sentences(write(tmp_path, text))
    assert [s.tokens for s in found] == [["Rockwell"], ["#", "1"], ["#"], ["ok"]]
    tab = sentences(write(tmp_path, text.replace(" ", "\t").replace("#\tcomment", "# comment")))
    assert [s.tokens for s in tab] == [["Rockwell"], ["#", "1"], ["#"], ["ok"]]


def test_hash_tab_token_starts_a_sentence(tmp_path: Path) -> None:
    path = write(tmp_path, "#\tO\n#tag\tB-X\n")
    assert sentences(path) == [Sentence(["#", "#tag"], ["O", "B-X"], 0, 1)]


def test_several_blank_and_whitespace_only_lines(tmp_path: Path) -> None:
    text = "\n\na\tO\n\t\n \n\nb\tO\n\t\n\n"
    path = write(tmp_path, text)
    assert sentences(path) == [Sentence(["a"], ["O"], 0, 3), Sentence(["b"], ["O"], 0, 7)]
    chunks = list(iter_chunks(path))
    assert all_lines(chunks) == text.split("\n")[:-1]
    assert round_trip(path) == text.split("\n")[:-1]


def test_crlf_and_bom(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbfEU\tB-ORG\r\nis\tO\r\n\r\nok\tO\r\n")
    assert sentences(path) == [
        Sentence(["EU", "is"], ["B-ORG", "O"], 0, 1),
        Sentence(["ok"], ["O"], 0, 4),
    ]
    assert round_trip(path) == ["EU\tB-ORG", "is\tO", "", "ok\tO"]


def test_gzip(tmp_path: Path) -> None:
    path = tmp_path / "data.txt.gz"
    path.write_bytes(gzip.compress(b"a O\nb B-X\n\nc O\n"))
    assert [s.tags for s in sentences(path)] == [["O", "B-X"], ["O"]]


def test_non_utf8_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, b"a O\n\nb O\nc\xff O\n")
    with pytest.raises(DataError, match=r"data\.txt:4: not valid UTF-8") as info:
        sentences(path)
    assert info.value.line == 4


def test_column_count_mismatch(tmp_path: Path) -> None:
    path = write(tmp_path, "a x O\n\nb x O\nc O\n")
    with pytest.raises(DataError, match=r":4: expected 3 columns like line 3, found 2"):
        sentences(path)


def test_tag_and_token_column_beyond_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a b c d\n")
    with pytest.raises(DataError, match=r":1: tag column 5 does not exist: the line has 4 columns"):
        sentences(path, tag_column=5)
    with pytest.raises(DataError, match=r"token column -5 does not exist"):
        sentences(path, token_column=-5)


def test_one_column_file_reads_no_tags_and_format_appends(tmp_path: Path) -> None:
    path = write(tmp_path, "-DOCSTART-\n\nHello\nworld\n\nBye\n")
    assert sentences(path) == [
        Sentence(["Hello", "world"], None, 0, 3),
        Sentence(["Bye"], None, 0, 6),
    ]
    out: list[str] = []
    for chunk in iter_chunks(path):
        tags = ["T"] * len(chunk.token_rows) if chunk.sentence else None
        out.extend(format_chunk(chunk, tags))
    assert out == ["-DOCSTART-", "", "Hello T", "world T", "", "Bye T"]


def test_one_column_sentence_in_a_tagged_file_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "a O\n\nb\n")
    with pytest.raises(DataError, match=r":3: expected 2 columns like line 1, found 1"):
        sentences(path)


def test_format_conll_replaces_or_appends_the_tag(tmp_path: Path) -> None:
    path = write(tmp_path, "# c\nEU  NNP\tB-ORG\nis VBZ O\n")
    (chunk,) = iter_chunks(path)
    assert format_chunk(chunk, ["X", "Y"]) == ["# c", "EU\tNNP\tX", "is VBZ Y"]
    assert format_chunk(chunk, ["X", "Y"], tag_column=1) == ["# c", "EU\tX\tB-ORG", "is Y O"]
    appended = format_chunk(chunk, ["X", "Y"], tag_column=None)
    assert appended == ["# c", "EU\tNNP\tB-ORG\tX", "is VBZ O Y"]
    assert format_chunk(chunk, None) == chunk.lines
    with pytest.raises(ValueError):
        format_chunk(chunk, ["X"])


def test_empty_file_and_require_sentences(tmp_path: Path) -> None:
    empty = write(tmp_path, "\n\n", "empty.txt")
    assert [c.sentence for c in iter_chunks(empty)] == [None, None]
    assert sentences(empty) == []
    with pytest.raises(DataError, match=r"empty\.txt: no sentences found"):
        list(require_sentences(empty, read_sentences(empty)))
    full = write(tmp_path, "a O\n")
    assert len(list(require_sentences(full, read_sentences(full)))) == 1


def test_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(TaggerError, match="unknown format"):
        list(iter_chunks(write(tmp_path, "a\n"), "conllx"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TaggerError, match="cannot read"):
        list(iter_chunks(tmp_path / "nope.txt"))


# --- CoNLL-U ---------------------------------------------------------------------------------

CONLLU = (
    "# newdoc id = d1\n"
    "# text = Don't go.\n"
    "1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_\n"
    "1\tDo\tdo\tAUX\tVBP\t_\t3\taux\t_\tNER=O\n"
    "2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_\n"
    "3\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\tNER=B-ACT|SpaceAfter=No\n"
    "3.1\tgone\tgo\tVERB\tVBN\t_\t_\t_\t3:conj\t_\n"
    "4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_\n"
    "\n"
    "# text = Hi\n"
    "1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n"
    "\n"
    "# newdoc\n"
    "1\tBye\tbye\tINTJ\tUH\t_\t0\troot\t_\t_\n"
    "\n"
)


def test_conllu_skips_ranges_and_empty_nodes(tmp_path: Path) -> None:
    path = write(tmp_path, CONLLU, "data.conllu")
    chunks = list(iter_chunks(path, "conllu"))
    first = chunks[0]
    assert len(first.lines) == 8 and first.token_rows == [3, 4, 5, 7]
    assert first.sentence == Sentence(
        ["Do", "n't", "go", "."], ["AUX", "PART", "VERB", "PUNCT"], 0, 4
    )
    found = sentences(path, fmt="conllu")
    assert [(s.tokens, s.doc, s.line) for s in found] == [
        (["Do", "n't", "go", "."], 0, 4),
        (["Hi"], 0, 11),
        (["Bye"], 1, 14),
    ]
    assert round_trip(path, "conllu") == CONLLU.split("\n")[:-1]
    new = format_chunk(first, ["A", "B", "C", "D"], "conllu")
    assert new[2] == first.lines[2] and new[6] == first.lines[6]
    assert new[5] == "3\tgo\tgo\tC\tVB\t_\t0\troot\t_\tNER=B-ACT|SpaceAfter=No"


def test_conllu_xpos_and_misc_tags(tmp_path: Path) -> None:
    path = write(tmp_path, CONLLU, "data.conllu")
    assert sentences(path, fmt="conllu", tag_field="xpos")[0].tags == ["VBP", "RB", "VB", "."]
    assert sentences(path, fmt="conllu", tag_field="NER")[0].tags == ["O", "O", "B-ACT", "O"]
    first = next(iter_chunks(path, "conllu", tag_field="NER"))
    new = format_chunk(first, ["B-X", "I-X", "O", "O"], "conllu", tag_field="NER")
    assert new[3].endswith("\tNER=B-X")
    assert new[4].endswith("\t_\tNER=I-X")
    assert new[5].endswith("\tNER=O|SpaceAfter=No")
    assert new[5].split("\t")[3] == "VERB"
    xpos = format_chunk(first, ["1", "2", "3", "4"], "conllu", tag_field="xpos")
    assert xpos[7] == "4\t.\t.\tPUNCT\t4\t_\t3\tpunct\t_\t_"


def test_conllu_wrong_field_count(tmp_path: Path) -> None:
    path = write(tmp_path, "# x\n1\tDo\tdo\tAUX\n", "bad.conllu")
    with pytest.raises(
        DataError, match=r"bad\.conllu:2: expected 10 tab-separated fields, found 4"
    ):
        sentences(path, fmt="conllu")


# --- text ------------------------------------------------------------------------------------


def test_text_format(tmp_path: Path) -> None:
    path = write(tmp_path, "Hello  world .\n\n \nBye\n", "in.raw")
    chunks = list(iter_chunks(path, "text"))
    assert [c.sentence for c in chunks] == [
        Sentence(["Hello", "world", "."], None, 0, 1),
        None,
        None,
        Sentence(["Bye"], None, 0, 4),
    ]
    assert chunks[0].token_rows == [0, 0, 0]
    assert round_trip(path, "text") == ["Hello  world .", "", " ", "Bye"]
    assert format_chunk(chunks[0], ["A", "B", "O"], "text") == ["Hello\tA", "world\tB", ".\tO", ""]


# --- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ("conll", "-DOCSTART- -X- O O\n\nEU NNP B-ORG\n# SYM O\n\n\n# c\nok UH O\n"),
        ("conll", "a\tO\n\t\nb\tB-X\nc\tI-X\n"),
        ("conll", "one\ntwo\n\nthree\n"),
        ("conllu", CONLLU),
        ("text", "a b c\n\nd e\n"),
    ],
)
def test_round_trip_reproduces_input(tmp_path: Path, fmt: str, text: str) -> None:
    path = write(tmp_path, text)
    out = round_trip(path, fmt)
    assert out == text.split("\n")[:-1]
    target = tmp_path / "out.txt"
    write_lines_atomic(target, out)
    assert target.read_text(encoding="utf-8") == text


# --- opening and writing files ---------------------------------------------------------------


def test_lines_bom_crlf_gzip(tmp_path: Path) -> None:
    plain = write(tmp_path, b"\xef\xbb\xbfa b\r\nc\r\n")
    assert list(iter_lines(plain)) == [(1, "a b"), (2, "c")]
    packed = tmp_path / "x.gz"
    packed.write_bytes(gzip.compress(b"\xef\xbb\xbfz\r\n"))
    assert list(iter_lines(packed)) == [(1, "z")]
    bad = write(tmp_path, b"ok\n\xff\n", "bad.txt")
    with pytest.raises(DataError, match=r"bad\.txt:2: not valid UTF-8"):
        list(iter_lines(bad))


class _FakeStdin:
    """Stands in for sys.stdin: only ``buffer`` is used."""

    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _FakeStdin(b"a O\n\nb O\n")
    monkeypatch.setattr(sys, "stdin", fake)
    assert [s.tokens for s in read_sentences("-")] == [["a"], ["b"]]
    fake.buffer.seek(0)
    assert next(iter_lines("-")) == (1, "a O")
    assert not fake.buffer.closed


def test_write_lines_atomic(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    write_lines_atomic(target, iter(["a", "é", ""]))
    assert target.read_bytes() == "a\né\n\n".encode()
    packed = tmp_path / "out.txt.gz"
    write_lines_atomic(packed, ["x", "y"])
    assert gzip.decompress(packed.read_bytes()) == b"x\ny\n"


def test_write_lines_atomic_leaves_nothing_on_error(tmp_path: Path) -> None:
    def failing():
        yield "first"
        raise RuntimeError("boom")

    new = tmp_path / "new.txt"
    with pytest.raises(RuntimeError, match="boom"):
        write_lines_atomic(new, failing())
    assert not new.exists()
    old = tmp_path / "old.txt"
    old.write_text("keep\n", encoding="utf-8")
    with pytest.raises(RuntimeError):
        write_lines_atomic(old, failing())
    assert old.read_text(encoding="utf-8") == "keep\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.txt"]


def test_write_lines_atomic_stdout(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    write_lines_atomic("-", ["a\tO", "ü"])
    assert capsysbinary.readouterr().out == "a\tO\nü\n".encode()


# --- property test ---------------------------------------------------------------------------

FIELD = st.text(
    alphabet=st.characters(blacklist_categories=("Z", "C")), min_size=1, max_size=4
).filter(lambda s: s not in ("#", "-DOCSTART-"))
BLANK = st.sampled_from(["", "\t", " ", "  \t"])


@st.composite
def conll_files(draw: st.DrawFn) -> tuple[str, list[Sentence]]:
    """A random CoNLL file and the sentences it holds."""
    columns = draw(st.integers(1, 4))
    separator = draw(st.sampled_from([" ", "\t"]))
    docstart = draw(st.booleans())
    lines: list[str] = draw(st.lists(BLANK, max_size=2))
    expected: list[Sentence] = []
    for doc in range(draw(st.integers(1, 3))):
        if docstart:
            lines.append(separator.join(["-DOCSTART-", "-X-", "O", "O"][:columns]))
            lines += draw(st.lists(BLANK, max_size=2))
        for index in range(draw(st.integers(1, 3))):
            if index:
                lines += draw(st.lists(BLANK, min_size=1, max_size=3))
            rows = draw(st.lists(st.lists(FIELD, min_size=columns, max_size=columns), min_size=1))
            tags = [row[-1] for row in rows] if columns > 1 else None
            expected.append(Sentence([row[0] for row in rows], tags, doc if docstart else 0, 0))
            expected[-1].line = len(lines) + 1
            lines += [separator.join(row) for row in rows]
        if not docstart:
            lines += draw(st.lists(BLANK, min_size=1, max_size=3))
    lines += draw(st.lists(BLANK, max_size=2))
    return "".join(line + "\n" for line in lines), expected


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(conll_files())
def test_random_conll_files_read_back(tmp_path: Path, case: tuple[str, list[Sentence]]) -> None:
    text, expected = case
    path = tmp_path / "random.txt"
    write_lines_atomic(path, text.split("\n")[:-1])
    assert sentences(path) == expected
    assert round_trip(path) == text.split("\n")[:-1]


# --- real corpora ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt", "count", "docs"),
    [
        ("conll2003/train.txt", "conll", 14041, 946),
        ("wnut17/train.txt", "conll", 3394, 1),
        ("conll2000/train.txt", "conll", 8936, 1),
        ("conll2000/test.txt", "conll", 2012, 1),
        ("ud_ewt/dev.conllu", "conllu", 2001, 318),
    ],
)
def test_real_corpus(name: str, fmt: str, count: int, docs: int | None) -> None:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"{path} is not present")
    found = 0
    doc_ids: set[int] = set()
    with path.open(encoding="utf-8", newline="\n") as source:
        original = (line.rstrip("\n") for line in source)
        lines = 0
        for chunk in iter_chunks(path, fmt):
            if chunk.sentence is not None:
                found += 1
                doc_ids.add(chunk.sentence.doc)
            tags = chunk.sentence.tags if chunk.sentence else None
            for line in format_chunk(chunk, tags, fmt):
                assert line == next(original)
                lines += 1
        assert next(original, None) is None
    assert found == count
    assert lines > count
    if docs is not None:
        assert len(doc_ids) == docs


def test_conll2000_reads_as_before() -> None:
    # Issue 25, item 8: the comment rule keeps CoNLL-2000's "# # B-NP" lines as tokens (counts
    # taken with the reader before the change: 8936 sentences, 211727 tokens in train).
    path = DATA / "conll2000" / "train.txt"
    if not path.exists():
        pytest.skip(f"{path} is not present")
    found = sentences(path)
    assert (len(found), sum(len(s.tokens) for s in found)) == (8936, 211727)
    hash_lines = sum(line.startswith("# ") for line in path.read_text("utf-8").splitlines())
    assert sum(s.tokens.count("#") for s in found) == hash_lines
