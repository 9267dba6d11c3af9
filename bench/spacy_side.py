"""tagger beside spaCy 3.8 on CoNLL-2003: test F1, training time, tagging speed, memory, size.

    python bench/spacy_side.py [--spacy-python /work/spacy-venv/bin/python] [--threads 1 2]
        [--optimize efficiency accuracy] [--tagger-config configs/conll2003.yaml] [--set K=V ...]

One command, one machine, one run. spaCy lives in its own venv (``python3 -m venv
/work/spacy-venv && /work/spacy-venv/bin/pip install 'spacy==3.8.*'``); nothing is downloaded.
Steps, each in a subprocess so that its peak memory (``wait4``'s ``ru_maxrss``) stands alone:

1. the CoNLL-2003 splits (IOB1) rewritten in IOB2 with spaCy's document delimiter, then
   ``spacy convert -c ner``; GloVe 6B 50d through ``spacy init vectors --attr LOWER`` (the tagger
   config lowercases its look-ups too) truncated to the tagger config's ``max_vectors``;
2. ``spacy init config --pipeline ner --optimize MODE`` with static vectors switched on, then
   ``spacy train`` (its defaults: evaluation on dev every 200 steps, ``model-best`` kept);
3. ``tagger train`` on the same splits and vectors;
4. tagging test.txt file in, file out (reading, tagging, writing ``token tag`` lines; model
   loading timed apart) at each thread count: spaCy with ``nlp.pipe`` over pre-tokenised
   ``Doc`` objects (NER only, ``batch_size`` = the tagger's ``train.eval_batch_size``), the
   tagger with ``Tagger.tag_file``; both outputs scored by ``tagger evaluate``, spaCy's also by
   ``spacy evaluate``;
5. CLI start-up (``--help``, best of 3) and model size on disk.

"Time to reach spaCy's F1" uses dev F1, the score both systems select their model by: the first
moment in the tagger's run (set-up plus the epochs so far) at which its dev F1 is at least spaCy's
best dev F1. Every measurement also records the CPU time other processes took; when that exceeds
5% of a measurement's wall time the script refuses to write ``bench/results`` (``--allow-busy``
writes ``spacy-side-<date>-busy.*`` instead, for smoke tests; ``report.save_unless_busy``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from report import add_busy_flag, busy_cpu_seconds, machine, save_unless_busy
from report import busy_notes as report_busy_notes

ROOT = Path(__file__).resolve().parent.parent
MARKER = "BENCH-RESULT "
DELIMITER = "-DOCSTART- -X- O O"
SPLITS = ("train", "dev", "test")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spacy-python", default="/work/spacy-venv/bin/python")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "conll2003"))
    parser.add_argument(
        "--vectors", default=str(ROOT.parent / "shared" / "data" / "glove" / "glove.6B.50d.txt.gz")
    )
    parser.add_argument("--optimize", nargs="+", default=["efficiency", "accuracy"])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--train-threads", type=int, default=2)
    parser.add_argument("--tagger-config", default=str(ROOT / "configs" / "conll2003.yaml"))
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--max-steps", type=int, default=0, help="spaCy max_steps (0: default)")
    parser.add_argument("--sentences", type=int, default=0, help="first N per split (smoke)")
    parser.add_argument("--work", default="/tmp/spacy-side")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results"))
    add_busy_flag(parser)
    parser.add_argument("--reuse", action="store_true", help="keep trained models (smoke tests)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------------------------
# Processes: wall time, peak memory, and the CPU time that other processes took meanwhile
# ---------------------------------------------------------------------------------------------


def thread_env(threads: int) -> dict[str, str]:
    names = ("OMP", "MKL", "OPENBLAS", "BLIS", "VECLIB_MAXIMUM", "NUMEXPR")
    env = dict(os.environ, HF_DATASETS_OFFLINE="1", PYTHONUNBUFFERED="1")
    env.update({f"{name}_NUM_THREADS": str(threads) for name in names})
    return env


def run(command: list[str], threads: int, log: Path | None = None) -> dict[str, Any]:
    """Run ``command``; its wall time, peak RSS, exit status, timestamped output lines."""
    before, started = busy_cpu_seconds() or 0.0, time.perf_counter()
    pipe, env = subprocess.PIPE, thread_env(threads)
    child = subprocess.Popen(command, stdout=pipe, stderr=subprocess.STDOUT, text=True, env=env)
    lines = []
    assert child.stdout is not None
    for line in child.stdout:
        lines.append((time.perf_counter() - started, line.rstrip("\n")))
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    own = usage.ru_utime + usage.ru_stime
    if log is not None:
        log.write_text("\n".join(f"{t:9.2f} {x}" for t, x in lines) + "\n", encoding="utf-8")
    result = {
        "command": command,
        "wall_s": wall,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "other_cpu_s": max(0.0, (busy_cpu_seconds() or 0.0) - before - own),
        "lines": lines,
    }
    if os.waitstatus_to_exitcode(status) != 0:
        tail = "\n".join(x for _, x in lines[-30:])
        raise RuntimeError(f"{' '.join(command)} failed:\n{tail}")
    return result


def marked(result: dict[str, Any]) -> dict[str, Any]:
    """The JSON a worker printed after MARKER, merged with the process figures."""
    found = [x for _, x in result["lines"] if x.startswith(MARKER)]
    out = {k: v for k, v in result.items() if k != "lines"}
    return {**out, **json.loads(found[-1][len(MARKER) :])}


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def read_documents(path: Path, limit: int) -> list[list[list[tuple[str, str]]]]:
    """Documents of sentences of (token, tag) from a CoNLL file, ``-DOCSTART-`` separated."""
    docs: list[list[list[tuple[str, str]]]] = [[]]
    sentence: list[tuple[str, str]] = []
    count = 0
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        fields = line.split()
        if fields and fields[0] == "-DOCSTART-":
            docs.append([])
        elif fields:
            sentence.append((fields[0], fields[-1]))
        elif sentence:
            docs[-1].append(sentence)
            sentence, count = [], count + 1
            if limit and count >= limit:
                break
    return [d for d in docs if d]


def iob1_to_iob2(tags: list[str]) -> list[str]:
    """IOB1 (B- only between two entities of one type) as IOB2 (B- at every entity start)."""
    out, previous = [], "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        out.append(tag)
        previous = tag
    return out


def write_split(docs: list[list[list[tuple[str, str]]]], path: Path, delimiters: bool) -> int:
    """Write ``token tag`` lines in IOB2; returns the token count."""
    lines, tokens = [], 0
    for doc in docs:
        if delimiters:
            lines += [DELIMITER, ""]
        for sentence in doc:
            tags = iob1_to_iob2([t for _, t in sentence])
            lines += [f"{w} {t}" for (w, _), t in zip(sentence, tags)] + [""]
            tokens += len(sentence)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tokens


def prepare(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """IOB2 copies of the splits (gold for scoring), spaCy's .spacy files and vectors."""
    data = {}
    for split in SPLITS:
        docs = read_documents(Path(args.data) / f"{split}.txt", args.sentences)
        data[split] = work / f"{split}.iob2"
        data[f"{split}_tokens"] = write_split(docs, data[split], delimiters=False)
        write_split(docs, work / f"{split}.spacy-in.iob", delimiters=True)
    spacy = [args.spacy_python, "-m", "spacy"]
    for split in SPLITS:
        source = work / f"{split}.spacy-in.iob"
        run(spacy + ["convert", str(source), str(work), "-c", "ner", "-n", "0"], 2)
        data[f"{split}_spacy"] = work / f"{split}.spacy-in.spacy"
    vectors = work / "vectors"
    if not vectors.exists():
        init = ["init", "vectors", "en", args.vectors, str(vectors), "--attr", "LOWER"]
        run(spacy + init + ["--truncate", str(max_vectors(args))], 2)
    data["vectors"] = vectors
    return data


def max_vectors(args: argparse.Namespace) -> int:
    """The tagger config's ``embeddings.max_vectors`` (the same vocabulary for both)."""
    text = Path(args.tagger_config).read_text(encoding="utf-8")
    found = re.search(r"max_vectors:\s*(\d+)", text)
    return int(found.group(1)) if found else 0


# ---------------------------------------------------------------------------------------------
# spaCy
# ---------------------------------------------------------------------------------------------

_ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+[\d.]+\s+[\d.]+\s+([\d.]+)\s+[\d.]+\s+[\d.]+\s+[\d.]+")


def train_spacy(args: argparse.Namespace, work: Path, data: dict, mode: str) -> dict[str, Any]:
    spacy = [args.spacy_python, "-m", "spacy"]
    config, model = work / f"spacy-{mode}.cfg", work / f"spacy-{mode}"
    saved = work / f"spacy-{mode}-train.json"
    if args.reuse and saved.exists():
        return json.loads(saved.read_text())
    init = ["init", "config", str(config), "--lang", "en", "--pipeline", "ner"]
    run(spacy + init + ["--optimize", mode, "--force"], 1)
    shutil.rmtree(model, ignore_errors=True)
    command = spacy + ["train", str(config), "--output", str(model)]
    command += ["--paths.train", str(data["train_spacy"]), "--paths.dev", str(data["dev_spacy"])]
    command += ["--paths.vectors", str(data["vectors"])]
    command += ["--initialize.vectors", str(data["vectors"])]
    command += ["--components.tok2vec.model.embed.include_static_vectors", "true"]
    if args.max_steps:
        command += ["--training.max_steps", str(args.max_steps)]
    result = run(command, args.train_threads, work / f"spacy-{mode}-train.log")
    evals = []  # (seconds since start, step, dev ENTS_F in percent) for each evaluation row
    for seconds, line in result.pop("lines"):
        row = _ROW.match(line)
        if row:
            evals.append((seconds, int(row.group(2)), float(row.group(3))))
    result["evals"] = evals
    result["best_dev_f1"] = max((f for _, _, f in evals), default=None)
    result["model"] = str(model / "model-best")
    result["size_mb"] = folder_mb(model / "model-best")
    saved.write_text(json.dumps(result))
    return result


def tag_spacy(args: argparse.Namespace, work: Path, model: str, threads: int, batch: int) -> dict:
    out = work / f"spacy-pred-{Path(model).parent.name}-{threads}.txt"
    spec = {"model": model, "test": str(work / "test.iob2"), "out": str(out), "batch": batch}
    command = [args.spacy_python, __file__, "--worker", "spacy_tag", "--spec", json.dumps(spec)]
    return {**marked(run(command, threads)), "output": str(out)}


def spacy_own_f1(args: argparse.Namespace, work: Path, data: dict, model: str) -> float:
    metrics = work / f"spacy-eval-{Path(model).parent.name}.json"
    command = [args.spacy_python, "-m", "spacy", "evaluate", model, str(data["test_spacy"])]
    run(command + ["--output", str(metrics)], 1)
    return 100 * json.loads(metrics.read_text())["ents_f"]


def worker_spacy_tag(spec: dict[str, Any]) -> dict[str, Any]:
    """In the spaCy venv: file in, pre-tokenised Docs through ``nlp.pipe``, file out."""
    import spacy
    from spacy.tokens import Doc

    started = time.perf_counter()
    nlp = spacy.load(spec["model"])
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    sentences, current = [], []
    for line in Path(spec["test"]).read_text(encoding="utf-8").splitlines() + [""]:
        if line.strip():
            current.append(line.split()[0])
        elif current:
            sentences.append(current)
            current = []
    docs = (Doc(nlp.vocab, words=words) for words in sentences)
    lines = []
    with nlp.select_pipes(enable=[n for n in ("tok2vec", "ner") if n in nlp.pipe_names]):
        for doc in nlp.pipe(docs, batch_size=spec["batch"]):
            for token in doc:
                tag = "O" if token.ent_iob_ in ("O", "") else f"{token.ent_iob_}-{token.ent_type_}"
                lines.append(f"{token.text} {tag}")
            lines.append("")
    Path(spec["out"]).write_text("\n".join(lines) + "\n", encoding="utf-8")
    seconds = time.perf_counter() - started
    tokens = sum(map(len, sentences))
    return {"load_s": load_s, "tag_s": seconds, "tokens": tokens, "words_per_s": tokens / seconds}


# ---------------------------------------------------------------------------------------------
# tagger
# ---------------------------------------------------------------------------------------------


def train_tagger(args: argparse.Namespace, work: Path, data: dict) -> dict[str, Any]:
    run_dir = work / "tagger-run"
    if args.reuse and (work / "tagger-train.json").exists():
        return json.loads((work / "tagger-train.json").read_text())
    shutil.rmtree(run_dir, ignore_errors=True)
    command = [sys.executable, "-m", "tagger", "train", args.tagger_config, "--quiet"]
    command += ["--output", str(run_dir), "--set", f"train.threads={args.train_threads}"]
    for split in SPLITS:
        command += ["--set", f"data.{split}={data[split]}"]
    command += ["--set", f"embeddings.pretrained={args.vectors}"]
    for override in args.overrides:
        command += ["--set", override]
    result = run(command, args.train_threads, work / "tagger-train.log")
    result.pop("lines")
    epochs = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    epochs = [e for e in epochs if "epoch" in e]
    setup = result["wall_s"] - sum(e["seconds"] for e in epochs)
    elapsed, curve = setup, []
    for entry in epochs:
        elapsed += entry["seconds"]
        dev = entry.get("dev") or {}
        curve.append((elapsed, entry["epoch"], 100 * dev.get("micro", {}).get("f1", 0.0)))
    result.update(setup_s=setup, curve=curve, model=str(run_dir))
    result["epoch_s"] = min(e["seconds"] for e in epochs)
    result["size_mb"] = sum(folder_mb(run_dir / n) for n in ("model.safetensors", "vocab.json"))
    (work / "tagger-train.json").write_text(json.dumps(result))
    return result


def tag_tagger(work: Path, run_dir: str, threads: int) -> dict[str, Any]:
    out = work / f"tagger-pred-{threads}.txt"
    spec = {"model": run_dir, "test": str(work / "test.iob2"), "out": str(out), "threads": threads}
    command = [sys.executable, __file__, "--worker", "tagger_tag", "--spec", json.dumps(spec)]
    return {**marked(run(command, threads)), "output": str(out)}


def worker_tagger_tag(spec: dict[str, Any]) -> dict[str, Any]:
    import torch

    from tagger.prediction import Tagger

    torch.set_num_threads(spec["threads"])
    started = time.perf_counter()
    tagger = Tagger.load(spec["model"])
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    tokens = tagger.tag_file(spec["test"], spec["out"], "conll")
    seconds = time.perf_counter() - started
    return {"load_s": load_s, "tag_s": seconds, "tokens": tokens, "words_per_s": tokens / seconds}


def eval_batch_size(run_dir: str) -> int:
    config = json.loads((Path(run_dir) / "config.json").read_text())
    return int(config["config"]["train"]["eval_batch_size"])


def our_f1(gold: Path, predicted: str) -> float:
    command = [sys.executable, "-m", "tagger", "evaluate", str(gold), predicted, "--json"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return 100 * json.loads(done.stdout)["micro"]["f1"]


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def folder_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def startup_s(command: list[str]) -> float:
    """Best of 3 wall times of ``command`` (a CLI's ``--help``)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True, env=thread_env(1))
        best = min(best, time.perf_counter() - started)
    return best


def time_to_reach(curve: list[tuple[float, int, float]], target: float | None) -> float | None:
    """Seconds until the first point of ``curve`` at or above ``target`` (None: never)."""
    if target is None:
        return None
    return next((t for t, _, f in curve if f >= target), None)


def busy_notes(report: dict[str, Any]) -> list[str]:
    """Measurements during which other processes took more than 5% of the wall time."""
    return report_busy_notes(report["systems"])


def fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def markdown(report: dict[str, Any]) -> str:
    threads = report["threads"]
    head = ["system", "test F1 (ours)", "test F1 (own scorer)", "train wall s", "epoch / eval s"]
    head += ["s to spaCy-eff. dev F1"] + [f"tag words/s @{t}" for t in threads]
    head += ["tag peak RSS MB", "model MB", "CLI start s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, system in report["systems"].items():
        cells = [name, fmt(system["test_f1"], 2), fmt(system.get("own_f1"), 2)]
        cells += [fmt(system["train"]["wall_s"], 0), fmt(system.get("step_s"), 1)]
        cells.append(fmt(system.get("reach_s"), 0))
        cells += [fmt(system["tag"][str(t)]["words_per_s"], 0) for t in threads]
        peak = max(system["tag"][str(t)]["peak_rss_mb"] for t in threads)
        cells += [fmt(peak, 0), fmt(system["train"]["size_mb"], 1), fmt(system["startup_s"], 2)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Machine: {report['machine']}; commit {report['commit']}; {report['date']}."]
    lines.append(f"Command: `{report['command']}`")
    return "\n".join(lines) + "\n"


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data = prepare(args, work)
    systems: dict[str, Any] = {}
    ours = train_tagger(args, work, data)
    batch = eval_batch_size(ours["model"])
    systems["tagger"] = {"train": ours, "step_s": ours["epoch_s"], "tag": {}}
    for mode in args.optimize:
        trained = train_spacy(args, work, data, mode)
        model = trained["model"]
        systems[f"spacy-{mode}"] = {
            "train": trained,
            "tag": {str(t): tag_spacy(args, work, model, t, batch) for t in args.threads},
            "own_f1": spacy_own_f1(args, work, data, model),
            "startup_s": startup_s([args.spacy_python, "-m", "spacy", "--help"]),
        }
    systems["tagger"]["tag"] = {str(t): tag_tagger(work, ours["model"], t) for t in args.threads}
    systems["tagger"]["startup_s"] = startup_s([sys.executable, "-m", "tagger", "--help"])
    for system in systems.values():
        first = system["tag"][str(args.threads[0])]["output"]
        system["test_f1"] = our_f1(data["test"], first)
    target = systems.get("spacy-efficiency", {}).get("train", {}).get("best_dev_f1")
    systems["tagger"]["reach_s"] = time_to_reach(ours["curve"], target)
    for name, system in systems.items():
        if name.startswith("spacy"):
            system["reach_s"] = time_to_reach(system["train"]["evals"], target)
    return {"systems": systems, "data_tokens": {s: data[f"{s}_tokens"] for s in SPLITS}}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker = {"spacy_tag": worker_spacy_tag, "tagger_tag": worker_tagger_tag}[args.worker]
        print(MARKER + json.dumps(worker(json.loads(args.spec))), flush=True)
        return 0
    if not Path(args.spacy_python).exists():
        print(f"no spaCy python at {args.spacy_python}; see this file's docstring", file=sys.stderr)
        return 2
    report = run_all(args)
    report.update(threads=args.threads, machine=machine(), commit=commit())
    report.update(date=datetime.date.today().isoformat(), command=" ".join(sys.argv))
    report["busy"] = busy_notes(report)
    name = f"spacy-side-{report['date']}"
    written = save_unless_busy(report, args.output, name, markdown(report), args.allow_busy)
    return 0 if written else 3  # 3: refused, the machine was busy


if __name__ == "__main__":
    sys.exit(main())
