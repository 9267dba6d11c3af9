"""Raw text: tokenisation with offsets, sentence splitting, predict's input forms, JSONL /
standoff / CoNLL output of text files, streaming and workers."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from conftest import ROOT, tiny_overrides
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli import app
from tagger import Tagger, load_config, train
from tagger.data import text as text_module
from tagger.data.text import input_kind, iter_text_chunks, split_text
from tagger.records import Span, TaggedSentence, tagged_text

SPLITS = ("sentences", "wrapped", "lines", "pretokenized")
NAMES = ["Anna", "Paris", "Bieber", "Justin", "York", "Merkel", "Obama", "Macron", "Lyon"]
WORDS = ["the", "saw", "in", "met", "visited", "and", "a", "big", "city", "today", "with"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A tiny model trained on a synthetic corpus where runs of capitalised words are PER
    entities: it finds entities in any text, so span offsets get exercised."""
    tmp = tmp_path_factory.mktemp("text")
    rng = random.Random(0)
    lines = []
    for _ in range(150):
        for _ in range(rng.randint(3, 9)):
            if rng.random() < 0.3:
                names = rng.sample(NAMES, rng.randint(1, 2))
                lines += [f"{n}\t{'B' if i == 0 else 'I'}-PER" for i, n in enumerate(names)]
            else:
                lines.append(f"{rng.choice(WORDS)}\tO")
        lines += [".\tO", ""]
    data = tmp / "names.conll"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sets = tiny_overrides(tmp / "cache", **{"data.train": data, "data.dev": data})
    cfg = load_config(ROOT / "configs" / "demo.yaml", [*sets, "data.test=null"])
    cfg.train.max_epochs = 4
    train(cfg, tmp / "run", progress=False, log=lambda _: None)
    return tmp / "run"


# ---------------------------------------------------------------------------------------------
# Tokenisation
# ---------------------------------------------------------------------------------------------


def words(text: str, split: str = "sentences") -> list[list[str]]:
    return [[t.text for t in s] for s in split_text(text, split)]


def test_punctuation_and_brackets_are_tokens() -> None:
    found = words('Paris (France) grew, said "York." @JustinBieber! Mr. Bond isn\'t here.')
    flat = [t for s in found for t in s]
    for token in ["Paris", "(", "France", ")", "grew", ",", '"', "York", ".", "!", "n't"]:
        assert token in flat
    assert "@JustinBieber" in flat  # a Twitter handle stays one token, as in WNUT-17
    assert "Mr." in flat  # an abbreviation keeps its period and does not end the sentence
    assert len(found) == 3


def test_conll_conventions_hyphens_stay_inside_words() -> None:
    flat = [t for s in words("Bre-X fell on 1996-12-06 after a one-day 2-0 win.") for t in s]
    assert {"Bre-X", "1996-12-06", "one-day", "2-0"} <= set(flat)
    assert words("Reuters (London):") == [["Reuters", "(", "London", ")", ":"]]


def test_splits() -> None:
    text = "It rained. Anna left.\nNew line here"
    assert words(text, "sentences") == [
        ["It", "rained", "."],
        ["Anna", "left", "."],
        ["New", "line", "here"],
    ]
    assert words("Anna met\nMerkel. Then", "wrapped") == [["Anna", "met", "Merkel", "."], ["Then"]]
    assert words("Anna met\nMerkel. Then") == [["Anna", "met"], ["Merkel", "."], ["Then"]]
    assert words(text, "lines") == [["It", "rained", ".", "Anna", "left", "."], text.split()[4:]]
    assert words("a,b  c.\n\n d", "pretokenized") == [["a,b", "c."], ["d"]]
    assert split_text(" \n\t ") == []
    with pytest.raises(Exception, match="unknown split"):
        split_text("x", "words")


# Arbitrary Unicode, with extra weight on what breaks tokenisers: emoji (also joined by ZWJ),
# CJK, combining marks, tabs, CR/LF, zero-width characters, no-break spaces.
SPECIAL = "😀👍🏽\u200d日本語中文\u0301\u0308\t\r\n\u200b\u200c\ufeff\u00a0\u2028 .,()'\"-@#"
TEXTS = st.text(
    st.one_of(st.characters(blacklist_categories=["Cs"]), st.sampled_from(list(SPECIAL))),
    max_size=60,
)


def check_coverage(text: str, tokens: list) -> None:
    """Offsets slice the text to the token; tokens in order, apart, never holding whitespace;
    every non-whitespace character in exactly one token."""
    covered = [0] * len(text)
    last = 0
    for token in tokens:
        assert text[token.start : token.end] == token.text and token.text
        assert token.start >= last
        last = token.end
        for i in range(token.start, token.end):
            covered[i] += 1
    for char, count in zip(text, covered):
        assert count == (0 if char.isspace() else 1), (char, count)


@settings(max_examples=150, deadline=None)
@given(TEXTS, st.sampled_from(SPLITS))
def test_offsets_round_trip(text: str, split: str) -> None:
    sentences = split_text(text, split)
    check_coverage(text, [t for s in sentences for t in s])
    assert all(sentences)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXTS, st.data())
def test_span_offsets_round_trip(text: str, data: st.DataObject) -> None:
    """Any span over a sentence's tokens gets character offsets that slice to its text."""
    sentences = split_text(text)
    items = []
    for tokens in sentences:
        start = data.draw(st.integers(0, len(tokens) - 1))
        end = data.draw(st.integers(start + 1, len(tokens)))
        words_ = [t.text for t in tokens]
        span = Span("X", start, end, " ".join(words_[start:end]), 0.5)
        items.append((tokens, TaggedSentence(words_, ["O"] * len(tokens), [span])))
    tagged = tagged_text(text, items)
    for span in tagged.spans:
        assert text[span.start_char : span.end_char] == span.text
    record = tagged.to_dict()
    assert all(text[s["start"] : s["end"]] == s["text"] for s in record["spans"])
    assert all(text[t["start"] : t["end"]] == t["text"] for t in record["tokens"])


@pytest.fixture(scope="module")
def tagger(run_dir) -> Tagger:
    return Tagger.load(run_dir)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS)
def test_predicted_offsets_round_trip(tagger, text: str) -> None:
    """Through the model: tokens and predicted spans slice the text to their own text."""
    found = tagger.predict(text + " Anna met Justin Bieber.")
    tokens = [
        text_module.Token(w, a, b)
        for s in found.sentences
        for w, (a, b) in zip(s.tokens, s.offsets)
    ]
    check_coverage(found.text, tokens)
    assert found.spans
    for span in found.spans:
        assert found.text[span.start_char : span.end_char] == span.text


# ---------------------------------------------------------------------------------------------
# The Python API
# ---------------------------------------------------------------------------------------------


def test_input_kinds() -> None:
    assert input_kind("a b")[0] == "text"
    assert input_kind(["a b", "c"])[0] == "texts"
    assert input_kind([["a", "b"], ("c",)])[0] == "tokens"
    assert input_kind(iter([["a"]]), tokenized=True) == ("tokens", [["a"]])
    for bad in (5, None, b"bytes", {"a": 1}, [1, 2], ["a", ["b"]], [["a", 1]], [["a"], "b"]):
        with pytest.raises(TypeError, match="a list of token lists"):
            input_kind(bad)


def test_predict_one_string_is_one_text(run_dir) -> None:
    """Issue 19, case 4: a string used to give one sentence per character."""
    tagger = Tagger.load(run_dir)
    found = tagger.predict("I saw Justin Bieber")
    assert [s.tokens for s in found.sentences] == [["I", "saw", "Justin", "Bieber"]]
    spans = [(s.type, s.text, s.start_char, s.end_char) for s in found.spans]
    assert ("PER", "Justin Bieber", 6, 19) in spans


def test_predict_strings_with_tokenized_is_a_type_error(run_dir) -> None:
    """Issue 19, case 4: ``tokenized=True`` with strings used to tag characters."""
    tagger = Tagger.load(run_dir)
    with pytest.raises(TypeError, match="token lists"):
        tagger.predict(["Obama visited Paris"], tokenized=True)
    with pytest.raises(TypeError, match="a list of strings"):
        tagger.predict(42)
    tokens = tagger.predict([["Obama", "visited", "Paris"]], tokenized=True)
    assert tokens[0].tokens == ["Obama", "visited", "Paris"] and len(tokens[0].tags) == 3


def test_predict_texts_matches_token_lists(run_dir) -> None:
    tagger = Tagger.load(run_dir)
    texts = ["Anna met Obama in Paris (France). Merkel and Macron visited Lyon!", "", "a big city"]
    found = tagger.predict(texts)
    assert [len(t.sentences) for t in found] == [2, 0, 1]
    sentences = [s for t in found for s in t.sentences]
    by_tokens = tagger.predict([s.tokens for s in sentences], docs=[0, 0, 2])
    assert [s.tags for s in sentences] == [s.tags for s in by_tokens]
    first = found[0]
    assert "France" in [s.text for s in first.spans]  # split off its brackets, so found
    for span in first.spans:
        assert texts[0][span.start_char : span.end_char] == span.text
    assert [s.tokens for s in tagger.predict(texts[0], split="lines").sentences] == [
        [t for s in sentences[:2] for t in s.tokens]
    ]


# ---------------------------------------------------------------------------------------------
# Text files on the command line
# ---------------------------------------------------------------------------------------------

TEXT = (
    "Anna met Obama in Paris. Merkel\nvisited Lyon (France) today!\n\n"
    "\t \n"
    "the city and York\r\n"
    "😀 Macron met Justin Bieber with Anna.\n"
)


def run(*args: str, **kwargs) -> object:
    return CliRunner().invoke(app, [str(a) for a in args], **kwargs)


def test_jsonl_records_have_offsets(run_dir, tmp_path) -> None:
    src = tmp_path / "in.txt"
    src.write_bytes(TEXT.encode())
    result = run("predict", run_dir, src, "--input-format", "text", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["id"], r["line"]) for r in rows] == [(0, 1), (1, 5)]  # two documents
    assert rows[0]["text"] == "Anna met Obama in Paris. Merkel\nvisited Lyon (France) today!"
    assert rows[1]["text"] == "the city and York\n😀 Macron met Justin Bieber with Anna."
    for row in rows:
        text = row["text"]
        for token in row["tokens"]:
            assert text[token["start"] : token["end"]] == token["text"]
        for span in row["spans"]:
            assert text[span["start"] : span["end"]] == span["text"]
            assert 0 < span["confidence"] <= 1 + 1e-6
        for sentence in row["sentences"]:
            first, last = sentence["tokens"]
            assert sentence["start"] == row["tokens"][first]["start"]
            assert sentence["end"] == row["tokens"][last - 1]["end"]
    assert "Merkel" in [s["text"] for s in rows[0]["spans"]]
    assert any(s["text"] == "France" for s in rows[0]["spans"])


def test_standoff_and_conll(run_dir, tmp_path) -> None:
    src = tmp_path / "in.txt"
    src.write_text(TEXT, encoding="utf-8")
    jsonl = run("predict", run_dir, src, "--input-format", "text", "--format", "jsonl")
    rows = [json.loads(line) for line in jsonl.stdout.splitlines()]
    result = run("predict", run_dir, src, "--input-format", "text", "--format", "standoff")
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    expected = [
        [str(r["id"]), str(s["start"]), str(s["end"]), s["type"], s["text"]]
        + [f"{s['confidence']:.4f}"]
        for r in rows
        for s in r["spans"]
    ]
    assert lines == expected and lines
    result = run("predict", run_dir, src, "--input-format", "text", "--split", "lines")
    assert result.exit_code == 0, result.output
    blocks = result.stdout.split("\n\n")
    assert len([b for b in blocks if b.strip()]) == 4  # one sentence per non-blank line
    assert all(len(line.split("\t")) == 2 for line in result.stdout.splitlines() if line)


def test_standoff_escapes_line_ends() -> None:
    from tagger.records import TaggedText, standoff_lines

    sentence = TaggedSentence(["New", "York"], ["B-LOC", "I-LOC"], [Span("LOC", 0, 2, "", 0.9)])
    tokens = split_text("New\tYork")[0]
    text = tagged_text("New\tYork", [(tokens, sentence)])
    assert isinstance(text, TaggedText)
    assert list(standoff_lines(3, text)) == ["3\t0\t8\tLOC\tNew\\tYork\t0.9000"]


def test_workers_give_identical_output(run_dir, tmp_path) -> None:
    src = tmp_path / "many.txt"
    src.write_text((TEXT + "\n") * 60, encoding="utf-8")  # 360 sentences: two buffers of 256
    outputs = []
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}.jsonl"
        args = ["--input-format", "text", "--format", "jsonl", "--workers", workers]
        result = run("predict", run_dir, src, *args, "--output", out)
        assert result.exit_code == 0, result.output
        outputs.append(out.read_text(encoding="utf-8"))
    assert outputs[0] == outputs[1] and outputs[0].count("\n") == 120


def test_long_documents_stream_in_pieces(tmp_path, monkeypatch) -> None:
    """A document with no blank line is cut at line ends, so memory stays bounded."""
    monkeypatch.setattr(text_module, "MAX_DOCUMENT_CHARS", 50)
    src = tmp_path / "long.txt"
    src.write_text("Anna met Obama in Paris today.\n" * 10, encoding="utf-8")
    chunks = iter_text_chunks(src)
    first = next(chunks)  # a generator: the file is read as it goes
    records = {id(c.record): c.record for c in [first, *chunks]}.values()
    assert 3 <= len(records) <= 5
    assert all(len(r.text) <= 50 + 31 for r in records)
    assert "\n".join(r.text for r in records) == src.read_text().rstrip("\n")


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (b"fine\n\xff bad\n", [], "in.txt:2"),
        (b"\n \n", [], "no text found"),
        (b"x\n", ["--format", "standoff", "--input-format", "conll"], "needs text input"),
    ],
)
def test_bad_text_input(run_dir, tmp_path, content, args, message) -> None:
    src = tmp_path / "in.txt"
    src.write_bytes(content)
    out = tmp_path / "out.jsonl"
    out.write_text("keep me", encoding="utf-8")
    base = ["predict", run_dir, src, "--output", out, "--format", "jsonl"]
    result = run(*base, *(args or ["--input-format", "text"]))
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert out.read_text(encoding="utf-8") == "keep me"


def test_shards_of_text_concatenate_to_the_whole(run_dir, tmp_path) -> None:
    """``--shard I/N`` on text: whole documents per part, the parts concatenated are the whole
    (byte for byte as CoNLL; as JSONL the same records, probabilities aside: batches differ)."""
    src = tmp_path / "docs.txt"
    src.write_text((TEXT + "\n") * 5, encoding="utf-8")
    for fmt in ("conll", "jsonl"):
        base = ["predict", run_dir, src, "--input-format", "text", "--format", fmt]
        whole = run(*base)
        assert whole.exit_code == 0, whole.output
        parts = [run(*base, "--shard", f"{i}/3") for i in (1, 2, 3)]
        assert all(p.exit_code == 0 and p.stdout for p in parts), [p.output for p in parts]
        joined = "".join(p.stdout for p in parts)
        if fmt == "conll":
            assert joined == whole.stdout
        else:

            def brief(out: str) -> list:
                rows = [json.loads(line) for line in out.splitlines()]
                return [
                    (r["id"], r["text"], [(s["start"], s["end"]) for s in r["spans"]]) for r in rows
                ]

            assert brief(joined) == brief(whole.stdout)


def test_sentences_stream_before_the_document_ends() -> None:
    """A document's first sentences come out before its end (or stdin's) is read."""

    def lines():
        yield 1, "Anna met Obama. He left."
        raise AssertionError("read too far")

    for split in ("sentences", "lines", "pretokenized"):
        chunks = iter_text_chunks("-", split, lines())
        first = next(chunks)
        assert first.tokens[0].text == "Anna" and first.record.text.startswith("Anna")


# ---------------------------------------------------------------------------------------------
# Sentence ends without final punctuation (headlines, datelines, table rows run together)
# ---------------------------------------------------------------------------------------------


def test_a_dateline_is_a_sentence_of_its_own() -> None:
    text = (
        "CUTTITTA BACK FOR ITALY. Anna Smith ROME 1996-12-06 Italy recalled Marcello Cuttitta "
        "on Friday. Sami Aboudi AL-RAM, West Bank 1996-08-30 Crowds gathered."
    )
    assert words(text) == [
        ["CUTTITTA", "BACK", "FOR", "ITALY", "."],
        ["Anna", "Smith"],
        ["ROME", "1996-12-06"],
        ["Italy", "recalled", "Marcello", "Cuttitta", "on", "Friday", "."],
        ["Sami", "Aboudi"],
        ["AL-RAM", ",", "West", "Bank", "1996-08-30"],
        ["Crowds", "gathered", "."],
    ]
    assert words("On 1996-12-06 the match was played.") == [
        ["On", "1996-12-06", "the", "match", "was", "played", "."]
    ]


def test_rows_of_a_results_table_run_together_are_cut() -> None:
    rows = ["Chelsea 2 Arsenal 1", "Everton 0 Leeds 3", "Wimbledon 1 Derby 1", "Leicester 4 Hull 0"]
    text = "Results of matches on Saturday: " + " ".join(rows * 2)
    found = words(text)
    assert found[0] == ["Results", "of", "matches", "on", "Saturday", ":"]
    assert [" ".join(s) for s in found[1:]] == [
        part for row in rows * 2 for part in (row.rsplit(" ", 2)[0], " ".join(row.split()[2:]))
    ]
    short = "In 1996 Germany won 2 Grammy awards: Best Album and Best Song"
    assert words(short) == [short.replace(":", " :").split()]  # 15 tokens: not cut


LINE_WORDS = ["the", "LONDON", "Arsenal", "1996-08-30", "2", "3-1", ":", ",", "won", "Bank", "."]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.sampled_from(LINE_WORDS), max_size=80), st.sampled_from(["sentences", "wrapped"])
)
def test_cuts_without_punctuation_keep_every_token_and_offset(
    tokens: list[str], split: str
) -> None:
    """The new ends only cut sentences: the same tokens in the same order as the line's
    tokenisation, offsets slicing the text, no sentence empty."""
    text = " ".join(tokens)
    sentences = split_text(text, split)
    check_coverage(text, [t for s in sentences for t in s])
    assert all(sentences)
    assert [t for s in words(text, split) for t in s] == [
        t for s in words(text, "lines") for t in s
    ]
