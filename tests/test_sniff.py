"""The input format is decided by content, never by the extension alone, and predictions never
overwrite input that is not the model's own tag column (issue 19: "never corrupt input")."""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli import app
from tagger.data.conll import format_chunk, iter_chunks, iter_lines, read_sentences
from tagger.data.peek import PeekedLines
from tagger.data.sniff import KnownTags, choose_write, detect_format, format_of
from tagger.errors import DataError

SHARED = ROOT.parent / "shared" / "data"
GOOD = "EU B-ORG\nrejects O\nGerman B-MISC\ncall O\n\nPeter B-PER\nBlackburn I-PER\n"
TWO = "Obama visited Paris\nMerkel met Macron\n"
UNEVEN = "Obama visited Paris\nMerkel met Macron in Berlin yesterday\nBiden spoke\n"
POS = "EU NNP\nrejects VBZ\nGerman JJ\ncall NN\n. .\n\nPeter NNP\nBlackburn NNP\n"
NER = KnownTags.of(["O", "B-ORG", "I-ORG", "S-PER", "E-PER", "B-MISC"], "iob2")


def invoke(*args: object, stdin: str | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], input=stdin)


def write(path: Path, text: str) -> Path:
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def detect(text: str, name: str = "in.txt", known: KnownTags | None = None) -> str:
    lines = list(enumerate(text.splitlines(), 1))
    return detect_format(name, lines, known)


def one_line_error(result, *fragments: str) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("model")
    data = write(tmp / "train.conll", (GOOD + "\n") * 5)
    sets = [f"data.train={data}", f"data.dev={data}", "data.test=null", "train.max_epochs=1"]
    sets += ["model.hidden_size=8", "model.word_dim=8", "model.char_hidden=4", "model.attention=[]"]
    sets += ["train.threads=1"]
    args = ["train", ROOT / "configs" / "demo.yaml", "--output", tmp / "run", "--quiet"]
    for item in sets:
        args += ["--set", item]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return tmp / "run"


# --- detection -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        (TWO, "text"),
        (UNEVEN, "text"),
        ("EU rejects German call to boycott British lamb .\nPeter Blackburn\n", "text"),
        (GOOD, "conll"),
        (POS, "conll"),
        ("EU\trejects\n\nPeter\tBlackburn\n", "conll"),  # TABs and even widths: columns
        ("EU\nrejects\nGerman\n\nPeter\n", "conll"),  # one token per line
        ("# a comment\n-DOCSTART- -X- O\n\nEU NNP B-NP B-ORG\nis VBZ B-VP O\n", "conll"),
        (
            "1\tEU\teu\tPROPN\tNNP\t_\t2\tnsubj\t_\t_\n2\t.\t.\tPUNCT\t.\t_\t1\tpunct\t_\t_\n",
            "conllu",
        ),
    ],
)
def test_detect_by_content(text: str, fmt: str) -> None:
    for name in ("in.txt", "in.conll", "-", "in"):  # the extension does not override content
        assert detect(text, name) == fmt


def test_model_labels_count_as_tags() -> None:
    plain = "EU ORGX\nrejects nope\n"  # neither tag-shaped nor words we can tell apart
    with pytest.raises(DataError, match="--input-format"):
        detect(plain)
    pos = KnownTags.of(["ORGX", "nope"], "none")
    assert detect(plain, known=pos) == "conll"


def test_ambiguous_content_is_an_error_unless_the_extension_breaks_the_tie() -> None:
    mixed = "a b O\nc d e\n"  # even widths, half of the last words tag-like
    with pytest.raises(DataError, match=r"in\.txt: .*--input-format conll, conllu or text"):
        detect(mixed)
    assert detect(mixed, "in.conll") == "conll"
    assert detect(mixed, "in.raw") == "text"
    assert detect("", "x.conllu") == "conllu" and detect("", "x.txt") == "conll"
    lemmas = "".join(f"word{i} lemma{i}\n" for i in range(12))  # equal widths, no tags
    with pytest.raises(DataError, match="12 lines, 100% of them with 2 columns, 0% of last"):
        detect(lemmas)


@pytest.mark.parametrize(
    ("folder", "fmt"), [("conll2003", "conll"), ("wnut17", "conll"), ("conll2000", "conll")]
)
def test_real_corpora_are_detected(folder: str, fmt: str) -> None:
    files = sorted((SHARED / folder).glob("*.txt"))
    if not files:
        pytest.skip(f"{SHARED / folder} is not here (it lies beside the checkout in development)")
    for path in files:
        assert format_of(path) == fmt, path


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("conll2003/test.txt", "conll"),
        ("wnut17/test.txt", "conll"),
        ("ud_ewt/dev.conllu", "conllu"),
    ],
)
def test_real_corpora_as_text_are_detected_as_text(tmp_path: Path, name: str, fmt: str) -> None:
    source = SHARED / name
    if not source.exists():
        pytest.skip(f"{source} is not here")
    sentences = [" ".join(s.tokens) for s in read_sentences(source, fmt)][:300]
    lines = write(tmp_path / "lines.txt", "\n".join(sentences) + "\n")
    paragraphs = write(tmp_path / "paragraphs.txt", "\n\n".join(sentences) + "\n")
    running = write(tmp_path / "running.txt", " ".join(sentences[:40]) + "\n")
    assert [format_of(p) for p in (lines, paragraphs, running)] == ["text"] * 3
    if fmt == "conllu":  # the original sentences, as UD gives them
        lines_of = source.read_text(encoding="utf-8").splitlines()
        texts = [x[9:] for x in lines_of if x.startswith("# text = ")]
        assert format_of(write(tmp_path / "raw.txt", "\n".join(texts[:300]))) == "text"


def test_ud_ewt_is_detected_as_conllu_even_renamed(tmp_path: Path) -> None:
    source = SHARED / "ud_ewt" / "dev.conllu"
    if not source.exists():
        pytest.skip(f"{source} is not here")
    assert format_of(source) == "conllu"
    head = "".join(source.open(encoding="utf-8").readlines()[:300])
    assert format_of(write(tmp_path / "dev.txt", head)) == "conllu"


def test_shipped_wnut17_is_detected_under_any_name(tmp_path: Path) -> None:
    for path in sorted((ROOT / "data" / "wnut17").glob("*.conll")):
        assert format_of(path) == "conll"
        head = "".join(path.open(encoding="utf-8").readlines()[:300])
        assert format_of(write(tmp_path / f"{path.stem}.raw", head)) == "conll"


def test_one_line_longer_than_the_peek_is_text(tmp_path: Path) -> None:
    long = " ".join(f"Word{i}" for i in range(20000)) + "\n"  # about 150 KB
    assert format_of(write(tmp_path / "long.txt", long)) == "text"
    assert format_of(write(tmp_path / "long.txt.gz", long)) == "text"


def test_gzip_is_detected_by_content(tmp_path: Path) -> None:
    assert format_of(write(tmp_path / "two.txt.gz", TWO)) == "text"
    assert format_of(write(tmp_path / "good.txt.gz", GOOD)) == "conll"


def test_peeked_lines_replay_the_whole_input_once(tmp_path: Path) -> None:
    text = "".join(f"w{i} O\n" + ("\n" if i % 7 == 0 else "") for i in range(500))
    path = write(tmp_path / "long.conll.gz", text)
    peeked = PeekedLines(path, lines=20)
    assert len(peeked.head) == 20
    assert [line for _, line in peeked] == text.splitlines()
    with pytest.raises(RuntimeError):
        list(peeked)


@pytest.mark.parametrize("size", [10, 64 * 1024])
def test_peeked_stdin_is_put_back_for_any_later_reader(monkeypatch, size: int) -> None:
    text = "\ufeff" + "x" * 50 + "\r\n" + "".join(f"w{i} O\n" for i in range(300)) + "last"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    peeked = PeekedLines("-", lines=20, size=size)
    expected = text[1:].replace("\r\n", "\n").split("\n")
    head = [line for _, line in peeked.head]
    assert head == (["x" * 7] if size == 10 else expected[:20])  # 10 bytes: BOM and 7 x
    assert len(peeked.head) == (1 if size == 10 else 20)  # a cut line: what was read of it
    assert [line for _, line in iter_lines("-")] == expected  # another reader: all of it


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.text(st.characters(blacklist_categories=("Cs",)), max_size=30), max_size=40),
    st.integers(1, 30),
    st.integers(1, 300),
    st.booleans(),
)
def test_peeking_loses_and_repeats_nothing(lines: list[str], count: int, size: int, crlf: bool):
    data = ("\r\n" if crlf else "\n").join(lines).encode()
    old = sys.stdin
    try:
        sys.stdin = io.TextIOWrapper(io.BytesIO(data))
        expected = list(iter_lines("-"))
        sys.stdin = io.TextIOWrapper(io.BytesIO(data))
        peeked = PeekedLines("-", count, size)
        whole = peeked.head[:-1] if peeked.head and peeked.head[-1] not in expected else peeked.head
        assert whole == expected[: len(whole)] and len(peeked.head) <= count
        assert list(iter_lines("-")) == expected  # another reader after the peek
    finally:
        sys.stdin = old


def test_stdin_decoding_error_names_its_line(monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"EU O\nis \xff O\n")))
    with pytest.raises(DataError, match=r"^-:2: not valid UTF-8"):
        PeekedLines("-")


# --- where the predictions go ----------------------------------------------------------------


def test_choose_write_replaces_only_the_models_own_tags() -> None:
    def mode(text: str, fmt: str = "conll", **kwargs: object) -> str:
        return choose_write(fmt, list(enumerate(text.splitlines(), 1)), NER, **kwargs)  # type: ignore[arg-type]

    assert mode(GOOD) == "replace"
    assert mode(GOOD.replace("B-", "I-")) == "replace"  # the file's scheme (IOB1) differs
    assert mode(POS) == "append"
    assert mode("EU NNP B-NP\nis VBZ B-VP\nfine JJ O\n") == "append"  # chunk tags
    assert mode(POS, mode="replace") == "replace" and mode(GOOD, mode="gold-pred") == "gold-pred"
    assert mode("EU\nrejects\n") == "replace"  # one column: the tag is added either way
    conllu = "1\tEU\teu\tPROPN\tNNP\t_\t2\tnsubj\t_\t_\n"
    assert mode(conllu, "conllu") == "append"  # UPOS is not an NER tag: MISC Pred= instead
    assert mode(conllu, "conllu", tag_field="NER") == "replace"  # absent MISC key reads O


def test_two_sentences_of_text_are_tagged_as_text(tmp_path: Path, model_dir: Path) -> None:
    for text in (TWO, UNEVEN):
        src = write(tmp_path / "two.txt", text)
        result = invoke("predict", model_dir, src)
        assert result.exit_code == 0, result.output
        rows = [line.split("\t") for line in result.stdout.splitlines() if line]
        assert [r[0] for r in rows] == text.split()  # every word kept, Paris included
        assert all(len(r) == 2 and (r[1] == "O" or r[1][:2] in ("B-", "I-")) for r in rows)
        assert result.stdout.count("\n\n") == len(text.splitlines())  # one sentence per line


def test_uneven_columns_forced_as_conll_say_which_flag_to_pass(
    tmp_path: Path, model_dir: Path
) -> None:
    src = write(tmp_path / "two.txt", UNEVEN)
    out = write(tmp_path / "out.conll", "precious\n")
    result = invoke("predict", model_dir, src, "--input-format", "conll", "-o", out)
    one_line_error(result, "two.txt:2:", "expected 3 columns", "--input-format text")
    assert out.read_text() == "precious\n"


def test_ambiguous_input_is_one_line_error_and_writes_nothing(
    tmp_path: Path, model_dir: Path
) -> None:
    src = write(tmp_path / "in.txt", "a b O\nc d e\n")
    out = write(tmp_path / "out.conll", "precious\n")
    one_line_error(invoke("predict", model_dir, src, "-o", out), "in.txt", "--input-format")
    assert out.read_text() == "precious\n"
    one_line_error(invoke("evaluate", model_dir, src), "in.txt", "--input-format")


def test_token_pos_file_keeps_its_pos_column(tmp_path: Path, model_dir: Path) -> None:
    src = write(tmp_path / "pos.txt", POS)
    result = invoke("predict", model_dir, src)
    assert result.exit_code == 0, result.output
    before, after = POS.splitlines(), result.stdout.splitlines()
    assert len(after) == len(before)
    for old, new in zip(before, after):
        assert new.startswith(old) if old else new == ""
        if old:
            assert len(new.split()) == 3 and NER.knows(new.split()[-1])
    replaced = invoke("predict", model_dir, src, "--write", "replace")
    assert [line.split()[1] for line in replaced.stdout.splitlines() if line] != [
        line.split()[1] for line in before if line
    ]


def test_gold_file_is_replaced_or_written_gold_then_predicted(
    tmp_path: Path, model_dir: Path
) -> None:
    src = write(tmp_path / "gold.txt", GOOD)
    auto = invoke("predict", model_dir, src)
    assert auto.exit_code == 0, auto.output
    assert all(len(line.split()) == 2 for line in auto.stdout.splitlines() if line)
    for mode in ("gold-pred", "append"):
        result = invoke("predict", model_dir, src, "--write", mode)
        assert result.exit_code == 0, result.output
        rows = [line.split() for line in result.stdout.splitlines() if line]
        gold = [line.split() for line in GOOD.splitlines() if line]
        assert [r[:2] for r in rows] == gold and all(len(r) == 3 for r in rows)
    pred = tmp_path / "pred.conll"
    assert invoke("predict", model_dir, src, "--write", "gold-pred", "-o", pred).exit_code == 0
    scored = invoke("evaluate", src, pred, "--json")  # the last column of pred is the prediction
    assert scored.exit_code == 0, scored.output


def test_gold_pred_needs_a_gold_column(tmp_path: Path, model_dir: Path) -> None:
    src = write(tmp_path / "tokens.conll", "EU\nrejects\n\nPeter\n")
    out = tmp_path / "out.conll"
    result = invoke("predict", model_dir, src, "--write", "gold-pred", "-o", out)
    one_line_error(result, "tokens.conll:1:", "gold")
    assert not out.exists()
    one_line_error(invoke("predict", model_dir, write(tmp_path / "t.txt", TWO), "--write",
                          "gold-pred"), "gold-pred")  # fmt: skip


def test_stdin_is_detected_and_fully_tagged(model_dir: Path) -> None:
    text = invoke("predict", model_dir, "-", stdin=TWO)
    assert text.exit_code == 0, text.output
    assert [line.split("\t")[0] for line in text.stdout.splitlines() if line] == TWO.split()
    long = GOOD + "".join(f"\nw{i} O\n" for i in range(300))  # past the peeked lines
    conll = invoke("predict", model_dir, "-", stdin=long)
    assert conll.exit_code == 0, conll.output
    assert [line.split()[0] for line in conll.stdout.splitlines() if line] == long.split()[::2]


def test_gzip_text_is_tagged_as_text(tmp_path: Path, model_dir: Path) -> None:
    src = write(tmp_path / "two.txt.gz", TWO)
    result = invoke("predict", model_dir, src)
    assert result.exit_code == 0, result.output
    assert [line.split("\t")[0] for line in result.stdout.splitlines() if line] == TWO.split()


def test_conllu_upos_is_kept_when_the_model_tags_entities(tmp_path: Path, model_dir: Path) -> None:
    line = "1\tEU\teu\tPROPN\tNNP\t_\t2\tnsubj\t_\tSpaceAfter=No\n"
    line += "2\tcalls\tcall\tVERB\tVBZ\t_\t0\troot\t_\t_\n"
    src = write(tmp_path / "in.conllu", "# sent_id = 1\n" + line)
    result = invoke("predict", model_dir, src)
    assert result.exit_code == 0, result.output
    rows = [r.split("\t") for r in result.stdout.splitlines()[1:]]
    assert [r[3] for r in rows] == ["PROPN", "VERB"]
    assert rows[0][9].startswith("SpaceAfter=No|Pred=") and rows[1][9].startswith("Pred=")


def test_explain_reads_a_text_file_as_text(tmp_path: Path) -> None:
    src = write(tmp_path / "two.txt", TWO)
    sentences = list(read_sentences(src, format_of(src)))
    assert [s.tokens for s in sentences] == [line.split() for line in TWO.splitlines()]


def test_training_file_that_reads_as_text_is_an_error(tmp_path: Path) -> None:
    src = write(tmp_path / "two.txt", TWO)
    out = tmp_path / "run"
    args = ["train", ROOT / "configs" / "demo.yaml", "--output", out, "--quiet"]
    sets = ["data.format=auto", f"data.train={src}", "data.dev=null", "data.test=null"]
    for item in sets:
        args += ["--set", item]
    one_line_error(invoke(*args), "two.txt", "reads as text")
    assert not out.exists()


def test_append_keeps_each_line_byte_for_byte(tmp_path: Path) -> None:
    src = write(tmp_path / "in.conll", "# c\nEU  NNP\t B-NP\nis VBZ B-VP \n")
    (chunk,) = iter_chunks(src)
    assert format_chunk(chunk, ["X", "Y"], write="append") == [
        "# c",
        "EU  NNP\t B-NP\tX",
        "is VBZ B-VP Y",
    ]
    assert format_chunk(chunk, ["X", "Y"], write="replace")[1:] == ["EU\tNNP\tX", "is VBZ Y"]
