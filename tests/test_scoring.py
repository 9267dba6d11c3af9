"""Tests for tagger.scoring against hand-computed, conlleval-style answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tagger.errors import DataError
from tagger.scoring import accuracy, report_table, score, score_files


def prf(report: dict, key: str = "micro") -> tuple[float, float, float]:
    row = report[key]
    return row["precision"], row["recall"], row["f1"]


def test_perfect_prediction() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-creative-work", "I-creative-work"]]
    report = score(gold, [list(s) for s in gold])
    assert report["accuracy"] == 1.0
    assert prf(report) == (1.0, 1.0, 1.0)
    assert prf(report, "macro") == (1.0, 1.0, 1.0)
    assert set(report["per_type"]) == {"PER", "LOC", "creative-work"}
    assert report["per_type"]["PER"]["support"] == 1


def test_one_missed_and_one_spurious_entity() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC", "O"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "O", "O"], ["B-ORG", "B-MISC"]]
    # Gold entities: PER[0:2], LOC[3:4], ORG[0:1] (3). Predicted: PER[0:2], ORG[0:1], MISC[1:2]
    # (3). Correct: PER and ORG (2). P = 2/3, R = 2/3, F1 = 2PR/(P+R) = 2/3.
    # Per type: PER 1/1/1, ORG 1/1/1, LOC P=0 (no prediction) R=0, MISC P=0 R=0 (no gold).
    # Macro over the 4 types: P = (1+1+0+0)/4 = 0.5, R = 0.5, F1 = 0.5.
    # Tokens: 7, wrong: B-LOC->O and O->B-MISC, so accuracy 5/7.
    report = score(gold, pred, "iob2")
    assert prf(report) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert prf(report, "macro") == pytest.approx((0.5, 0.5, 0.5))
    assert report["accuracy"] == pytest.approx(5 / 7)
    per = report["per_type"]
    assert set(per) == {"PER", "LOC", "ORG", "MISC"}
    assert per["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert per["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert per["MISC"]["support"] == 0 and per["MISC"]["precision"] == 0.0


def test_micro_and_macro_differ() -> None:
    # PER: 3 gold, all found (P=R=1). LOC: 1 gold, found with the wrong boundary plus nothing
    # else: LOC P=0 (1 predicted, 0 right), R=0.
    # Micro: TP=3, predicted 4, gold 4 -> P=R=F1=0.75. Macro: (1+0)/2 = 0.5 for P, R and F1.
    gold = [["B-PER", "O", "B-PER", "O", "B-PER", "B-LOC", "I-LOC"]]
    pred = [["B-PER", "O", "B-PER", "O", "B-PER", "B-LOC", "O"]]
    report = score(gold, pred)
    assert prf(report) == pytest.approx((0.75, 0.75, 0.75))
    assert prf(report, "macro") == pytest.approx((0.5, 0.5, 0.5))


def test_per_type_support_counts_gold_entities() -> None:
    gold = [["B-PER", "O", "B-PER", "I-PER"], ["B-LOC", "B-PER"], ["O"]]
    pred = [["O", "O", "O", "O"], ["O", "O"], ["B-LOC"]]
    report = score(gold, pred)
    assert report["per_type"]["PER"]["support"] == 3
    assert report["per_type"]["LOC"]["support"] == 1
    assert prf(report) == (0.0, 0.0, 0.0)


def test_iob2_i_after_o_starts_an_entity() -> None:
    # conlleval reads "O I-PER I-PER" as PER[1:3], so it matches the valid "O B-PER I-PER".
    gold = [["O", "B-PER", "I-PER", "O"]]
    report = score(gold, [["O", "I-PER", "I-PER", "O"]], "iob2")
    assert prf(report) == (1.0, 1.0, 1.0)
    assert report["accuracy"] == 0.75


def test_b_then_i_of_another_type_is_two_entities() -> None:
    # Gold "B-PER I-LOC" = PER[0:1] + LOC[1:2], the same entities as "B-PER B-LOC".
    gold = [["B-PER", "I-LOC", "O"]]
    assert prf(score(gold, [["B-PER", "B-LOC", "O"]], "iob2")) == (1.0, 1.0, 1.0)
    # ...and not one PER[0:2]: predicted PER[0:2] matches nothing (P=0/1, R=0/2).
    report = score(gold, [["B-PER", "I-PER", "O"]], "iob2")
    assert prf(report) == (0.0, 0.0, 0.0)
    assert report["per_type"]["PER"]["support"] == 1
    assert report["per_type"]["LOC"]["support"] == 1


def test_iob1_adjacent_entities() -> None:
    # IOB1 "I-PER I-PER B-PER O" = PER[0:2] + PER[2:3]; "I-PER I-PER I-PER O" = PER[0:3].
    gold = [["I-PER", "I-PER", "B-PER", "O", "I-LOC"]]
    report = score(gold, [list(gold[0])], "iob1")
    assert prf(report) == (1.0, 1.0, 1.0)
    assert report["per_type"]["PER"]["support"] == 2
    # Merged prediction: PER[0:3] (wrong) and LOC[4:5] (right): P = 1/2, R = 1/3, F1 = 0.4.
    report = score(gold, [["I-PER", "I-PER", "I-PER", "O", "I-LOC"]], "iob1")
    assert prf(report) == pytest.approx((0.5, 1 / 3, 0.4))
    # IOB1 invalid "O I-PER" is still an entity, and "B-PER I-LOC" two.
    gold = [["O", "I-PER", "B-PER", "I-LOC"]]
    assert score(gold, [list(gold[0])], "iob1")["per_type"]["PER"]["support"] == 2
    assert score(gold, [list(gold[0])], "iob1")["per_type"]["LOC"]["support"] == 1


def test_iobes_scoring() -> None:
    gold = [["S-PER", "B-LOC", "E-LOC", "S-PER"]]
    report = score(gold, [["S-PER", "B-LOC", "E-LOC", "O"]], "iobes")
    # Gold 3 entities, predicted 2, both right: P = 1, R = 2/3, F1 = 0.8.
    assert prf(report) == pytest.approx((1.0, 2 / 3, 0.8))


def test_bilou_scoring() -> None:
    gold = [["U-PER", "U-PER", "B-LOC", "L-LOC", "U-LOC"]]
    # Gold: PER[0:1], PER[1:2], LOC[2:4], LOC[4:5]; predicted: PER[0:2], LOC[2:5].
    report = score(gold, [["B-PER", "L-PER", "B-LOC", "I-LOC", "L-LOC"]], "bilou")
    assert report["per_type"]["PER"]["support"] == 2
    assert report["per_type"]["LOC"]["support"] == 2
    assert prf(report) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("scheme", [None, "none"])
def test_plain_tag_set_gives_only_accuracy(scheme: str | None) -> None:
    gold = [["DET", "NOUN", "-LRB-"], ["VERB", "PRP$"]]
    pred = [["DET", "VERB", "-LRB-"], ["VERB", "NOUN"]]
    report = score(gold, pred, scheme)
    assert report == {"accuracy": pytest.approx(3 / 5)}


def test_explicit_none_scheme_overrides_detection() -> None:
    gold = [["B-NP", "I-NP", "O"]]
    assert set(score(gold, gold, "none")) == {"accuracy"}
    assert set(score(gold, gold)) == {"accuracy", "micro", "macro", "per_type"}


def test_accuracy_counts_tokens() -> None:
    assert accuracy([["a", "b"], ["c"]], [["a", "x"], ["c"]]) == pytest.approx(2 / 3)
    assert accuracy([], []) == 0.0


def write(path: Path, sentences: list[list[tuple[str, str]]]) -> str:
    text = "\n\n".join("\n".join(f"{w}\t{t}" for w, t in s) for s in sentences) + "\n"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_score_files(tmp_path: Path) -> None:
    gold = write(tmp_path / "gold.conll", [[("EU", "B-ORG"), ("x", "O")], [("Bob", "B-PER")]])
    pred = write(tmp_path / "pred.conll", [[("EU", "B-ORG"), ("x", "O")], [("Bob", "O")]])
    report = score_files(gold, pred)
    assert prf(report) == pytest.approx((1.0, 0.5, 2 / 3))
    assert report["accuracy"] == pytest.approx(2 / 3)
    table = report_table(report)
    assert table.row_count == 4  # ORG, PER, micro avg, macro avg


def test_score_files_token_count_mismatch_names_pred_file_and_line(tmp_path: Path) -> None:
    gold = write(
        tmp_path / "gold.conll",
        [[("EU", "B-ORG"), ("x", "O")], [("Bob", "B-PER"), ("ran", "O"), (".", "O")]],
    )
    pred = write(
        tmp_path / "pred.conll", [[("EU", "B-ORG"), ("x", "O")], [("Bob", "B-PER"), ("ran", "O")]]
    )
    with pytest.raises(DataError) as info:
        score_files(gold, pred)
    # The second sentence starts on line 4 of the prediction file.
    assert str(info.value).startswith(f"{pred}:4:")
    assert info.value.path == pred and info.value.line == 4
    assert "3" in str(info.value) and "2" in str(info.value)


def test_score_files_sentence_count_mismatch(tmp_path: Path) -> None:
    gold = write(tmp_path / "gold.conll", [[("a", "O")], [("b", "O")]])
    pred = write(tmp_path / "pred.conll", [[("a", "O")]])
    with pytest.raises(DataError, match=r"pred\.conll: 1 sentences, the gold file has 2"):
        score_files(gold, pred)


def test_score_files_needs_tags(tmp_path: Path) -> None:
    gold = write(tmp_path / "gold.conll", [[("a", "O")]])
    untagged = tmp_path / "pred.conll"
    untagged.write_text("a\n", encoding="utf-8")
    with pytest.raises(DataError, match="no tag column"):
        score_files(gold, str(untagged))
