"""Input size bounds (issue 25, item 13): a maximum line length, bounded memory on endless
input, long sentences decoded in windows, long training sentences refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tiny_run import ROOT, invoke, one_error_line, train_args

from tagger import windows
from tagger.data.conll import MAX_LINE, iter_lines
from tagger.data.schemes import check_tags
from tagger.errors import DataError


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, wnut40: Path) -> Path:
    tmp = tmp_path_factory.mktemp("bounds")
    result = invoke(*train_args(wnut40, tmp / "cache"), "--output", tmp / "run")
    assert result.exit_code == 0, result.output
    return tmp / "run"


def limited(code: str, *args: str, memory: int = 3 << 30) -> subprocess.CompletedProcess:
    """Run Python ``code`` in a child limited to ``memory`` bytes of address space."""
    prelude = f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + code, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_line_longer_than_the_limit_names_file_and_line(tmp_path, run_dir):
    data = tmp_path / "long.conll"
    data.write_bytes(b"EU B-ORG\n\n" + b"x" * (MAX_LINE + 10) + b" O\n")
    with pytest.raises(DataError, match=r"long\.conll:3: line longer than"):
        list(iter_lines(data))
    result = invoke("predict", run_dir, data, "--output", tmp_path / "pred.conll")
    one_error_line(result, "long.conll:3:", "longer than")
    assert not (tmp_path / "pred.conll").exists()


def test_lines_up_to_the_limit_are_read(tmp_path):
    data = tmp_path / "ok.txt"
    data.write_bytes(b"a\n" + b"y" * MAX_LINE + b"\nb")
    assert [len(text) for _, text in iter_lines(data)] == [1, MAX_LINE, 1]


def test_dev_zero_ends_with_an_error_in_bounded_memory():
    code = (
        "from tagger.data.conll import iter_lines\n"
        "from tagger.errors import DataError\n"
        "try:\n    list(iter_lines('/dev/zero'))\n"
        "except DataError as exc:\n    print(exc)\n"
    )
    done = limited(code, memory=1 << 30)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == f"/dev/zero:1: line longer than {MAX_LINE} bytes"


def test_predict_dev_zero_is_one_error_line(run_dir, tmp_path):
    result = invoke("predict", run_dir, "/dev/zero", "--input-format", "text")
    one_error_line(result, "/dev/zero:1:", "longer than")


def test_a_20000_token_sentence_is_tagged_in_bounded_memory(run_dir):
    """Whole-sentence attention would need 2 heads x 20,000^2 x 4 bytes = 3.2 GB for its scores
    alone (and as much again for their softmax); the child may use 3 GB of address space in
    all, torch included."""
    code = (
        "import sys, torch\n"
        "torch.set_num_threads(1)\n"
        "from tagger.prediction import Tagger\n"
        "from tagger.data.schemes import check_tags\n"
        "tagger = Tagger.load(sys.argv[1])\n"
        "tokens = [f'w{i % 97}' for i in range(20000)]\n"
        "tags = tagger.tag([tokens, ['EU', 'rejects']])\n"
        "check_tags(tags[0], tagger.vocab.scheme)\n"
        "print(len(tags[0]), len(tags[1]))\n"
    )
    done = limited(code, str(run_dir))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["20000", "2"]


def test_windows_are_joined_where_both_agree():
    sentence = [f"t{i}" for i in range(25)]
    cut = windows.split([sentence, ["a"]], docs=[0, 1], window=10, overlap=4)
    assert cut.spans == [(0, 10), (6, 16), (12, 22), (18, 25), (0, 1)]
    assert cut.groups == [[0, 1, 2, 3], [4]] and cut.docs == [0, 0, 0, 0, 1]
    truth = ["O", "B-X", "I-X", "E-X"] * 7  # what a whole-sentence decode would give
    pieces = [truth[s:e] for s, e in cut.spans[:4]] + [["S-Y"]]
    pieces[1][0] = "S-X"  # windows disagree near their edges ...
    pieces[0][-1] = "S-X"
    joined = cut.gather(pieces, cut.cuts(pieces))
    assert joined[0] == truth[:25] and joined[1] == ["S-Y"]  # ... and are joined where they agree


def test_long_sentences_in_windows_keep_valid_paths(run_dir):
    from tagger.prediction import Tagger

    tagger = Tagger.load(run_dir)
    tokens = (ROOT / "data" / "wnut17" / "train.conll").read_text().split()[: 2 * 3000 : 2]
    whole = tagger.tag([tokens])[0]
    original = windows.WINDOW, windows.OVERLAP
    try:
        windows.WINDOW, windows.OVERLAP = 200, 40
        windowed = tagger.tag([tokens])[0]
        detailed = tagger.predict([tokens], tokenized=True, nbest=2)[0]
    finally:
        windows.WINDOW, windows.OVERLAP = original
    assert len(windowed) == len(tokens) == len(detailed.tags) == len(detailed.confidences)
    check_tags(windowed, tagger.vocab.scheme)
    same = sum(a == b for a, b in zip(whole, windowed)) / len(tokens)
    assert same > 0.95, same
    assert detailed.tags == windowed and 0.0 <= detailed.probability <= 1.0


def test_batches_of_long_sentences_are_capped():
    lengths = [3000, 3000, 3000, 10, 10]
    capped = windows.cap([[0, 1, 2], [3, 4]], lengths, budget=2 * 3000 * 3000)
    assert capped == [[0, 1], [2], [3, 4]]


def test_training_refuses_a_sentence_longer_than_the_window(tmp_path):
    data = tmp_path / "long.conll"
    lines = ["EU B-ORG", "rejects O", ""] + [f"w{i} O" for i in range(windows.WINDOW + 1)]
    data.write_text("\n".join(lines) + "\n")
    result = invoke(*train_args(data, tmp_path / "cache"), "--output", tmp_path / "run")
    one_error_line(result, "long.conll:4:", f"at most {windows.WINDOW}")
    assert not (tmp_path / "run").exists()
