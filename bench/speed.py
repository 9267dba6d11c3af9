"""Speed benchmark: tagger against flair and against the bare network, on CoNLL-2003.

    python bench/speed.py [--threads 1 2] [--train-sentences N] [--flair-python PATH]

In one run on one machine, for each thread count, every measurement in its own subprocess (so
that peak memory, ``ru_maxrss``, does not mix), all with the same network: word embeddings 100d
trained from scratch + character BiLSTM (25d chars, 25 units per direction), one BiLSTM layer of
256 per direction, no attention, CRF; batch 32 for training, 64 for tagging.

- **tagger**: training = epochs of ``tagger.training.Loop.epoch`` over the first N training
  sentences (batching, forward, backward, clipping, Adam; no dev evaluation, no checkpoint);
  tagging = ``Tagger.tag_file(test.txt -> file)`` end to end, model load timed separately.
- **flair** (``bench/flair_side.py`` in its own venv): the same network, a manual training loop
  over the same slice, ``predict(mini_batch_size=64)`` on the test file read and written.
- **bare**: the same layer sizes in plain PyTorch + pytorch-crf on synthetic equal-length batches,
  no I/O, with the tagger's training step (0.05 word dropout, 0.5 dropout on token features and
  BiLSTM states, clipping at 5.0, fused Adam): the ceiling for this network on this machine.

Every system is measured ``--rounds`` times, in turn with the others (so that the machine's drift
touches all alike), each time in a new process that keeps the fastest of ``--repeat`` repetitions
(training: epochs); each figure is the best of its rounds.

Also measured: the machine's float32 matrix-multiply FLOP/s (1024x1024 ``torch.mm``) per thread
count, and the share of it the tagger reaches while tagging. Writes
``bench/results/speed-<date>.json`` and ``.md`` and prints the markdown; when other processes took
more than 5% of a measurement's wall time it writes nothing and exits 3 (``--allow-busy`` writes
``speed-<date>-busy.*``, marked busy).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from report import add_busy_flag, busy_notes, cpu_info, save_unless_busy

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "conll2003"
RESULTS = ROOT / "bench" / "results"
FLAIR_SIDE = ROOT / "bench" / "flair_side.py"
DEFAULT_FLAIR_PYTHON = "/work/flair-venv/bin/python"
FLAIR_INSTALL = (
    "python3 -m venv /work/flair-venv && "
    "/work/flair-venv/bin/pip install torch==2.13.0 flair==0.15.1"
)
MARKER = "BENCH-RESULT "
TRAIN_BATCH, TAG_BATCH = 32, 64
WORD_DIM, CHAR_DIM, CHAR_HIDDEN, HIDDEN = 100, 25, 25, 256
MAX_WORD_LENGTH = 25  # the tagger's model.max_word_length: longer words feed 25 characters
SYNTHETIC_LENGTH = 14  # CoNLL-2003's mean sentence length, for the bare network
TAGGER_OVERRIDES = [
    f"model.word_dim={WORD_DIM}",
    "model.casing_dim=0",  # flair has no casing feature
    "model.char_encoder=lstm",
    f"model.char_dim={CHAR_DIM}",
    f"model.char_hidden={CHAR_HIDDEN}",
    f"model.hidden_size={HIDDEN}",
    "model.num_layers=1",
    "model.attention=[]",
    "embeddings.lowercase=false",  # flair's one-hot words are case-sensitive
    f"train.batch_size={TRAIN_BATCH}",
    f"train.eval_batch_size={TAG_BATCH}",
    "train.threads=1",  # replaced per run
]
TRAINING_METHOD = (
    "epochs of tagger.training.Loop.epoch over the slice (length-bucketed batches of 32, "
    "encoded arrays -> tensors, forward, backward, clip 5.0, fused Adam), the fastest counting; "
    "data loading and encoding, vocabulary, dev evaluation and model saving are outside the "
    "timed region"
)


# ----------------------------------------------------------------------------- the parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--train-sentences", type=int, default=3000)
    parser.add_argument("--flair-python", default=DEFAULT_FLAIR_PYTHON)
    parser.add_argument("--data", default=str(DATA), help="folder with train.txt and test.txt")
    parser.add_argument("--test-sentences", type=int, default=None, help="tag only the first N")
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="repetitions (training: epochs) per measurement process; the fastest counts",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="times the whole set of measurements runs, in turn; the best round counts",
    )
    parser.add_argument("--skip-flair", action="store_true")
    add_busy_flag(parser)
    parser.add_argument("--output", default=str(RESULTS), help="folder for the results")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def write_conll(path: Path, sentences: list[Any], tags: bool = True) -> None:
    """``token tag`` lines (or the original token lines), a blank line after each sentence."""
    with open(path, "w", encoding="utf-8") as out:
        for sentence in sentences:
            for i, token in enumerate(sentence.tokens):
                out.write(f"{token} {sentence.tags[i]}\n" if tags else f"{token}\n")
            out.write("\n")


def prepare_data(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Write the training slice (and, if asked, a shorter test file); return their statistics."""
    from itertools import islice

    from tagger.data.conll import read_sentences

    data = Path(args.data)
    train = list(islice(read_sentences(data / "train.txt"), args.train_sentences))
    slice_path = work / "train-slice.txt"
    write_conll(slice_path, train)
    test_path = data / "test.txt"
    test = list(read_sentences(test_path))
    if args.test_sentences:
        test = test[: args.test_sentences]
        test_path = work / "test-slice.txt"
        write_conll(test_path, test)
    return {
        "train_file": str(data / "train.txt"),
        "train_slice": str(slice_path),
        "train_sentences": len(train),
        "train_tokens": sum(len(s.tokens) for s in train),
        "test_file": str(test_path),
        "dev_file": str(data / "dev.txt"),
        "test_sentences": len(test),
        "test_tokens": sum(len(s.tokens) for s in test),
        "test_mean_chars": mean_chars(test),
        "train_mean_chars": mean_chars(train),
    }


def mean_chars(sentences: list[Any]) -> float:
    """Mean characters per token that the char BiLSTM reads (words cut at MAX_WORD_LENGTH)."""
    lengths = [min(len(t), MAX_WORD_LENGTH) for s in sentences for t in s.tokens]
    return sum(lengths) / max(len(lengths), 1)


def run_child(command: list[str], threads: int, label: str) -> dict[str, Any]:
    """Run one measurement; return the JSON it printed after MARKER (with its wall time)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env.update(HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    print(f"  {label} ({threads} thread{'s' if threads > 1 else ''}) ...", end="", flush=True)
    cpu_before, own_before = cpu_seconds(), children_cpu_seconds()
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - started
    cpu_after, own = cpu_seconds(), children_cpu_seconds() - own_before
    lines = [x for x in done.stdout.splitlines() if x.startswith(MARKER)]
    if done.returncode != 0 or not lines:
        print(" failed")
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        raise RuntimeError(f"{label} failed (exit {done.returncode}):\n{tail}")
    result = json.loads(lines[-1][len(MARKER) :])
    result["wall_s"] = wall
    result["cpu_s"] = own
    if cpu_before and cpu_after:
        result["other_cpu_s"] = max(0.0, cpu_after[0] - cpu_before[0] - own)
        result["steal_s"] = cpu_after[1] - cpu_before[1]
    print(f" {wall:.1f} s")
    return result


def cpu_seconds() -> tuple[float, float] | None:
    """(busy CPU seconds of the whole machine, seconds stolen by the hypervisor), /proc/stat."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    hz = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / hz, steal / hz


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def worker_command(name: str, spec: dict[str, Any]) -> list[str]:
    script = str(Path(__file__).resolve())
    return [sys.executable, script, "--worker", name, "--spec", json.dumps(spec)]


def flair_command(
    python: str, mode: str, threads: int, model: Path, repeat: int, **paths: str
) -> list[str]:
    command = [python, str(FLAIR_SIDE), mode, "--threads", str(threads), "--model", str(model)]
    command += ["--repeat", str(repeat)]
    for key, value in paths.items():
        command += [f"--{key}", value]
    batch = TRAIN_BATCH if mode == "train" else TAG_BATCH
    return command + ["--batch-size", str(batch)]


def measure_threads(
    threads: int, data: dict[str, Any], work: Path, flair_python: str | None, args: Any
) -> dict[str, Any]:
    """Every measurement at one thread count, ``args.rounds`` times in turn (tagger, bare,
    flair, tagger, bare, flair, ...), so that the machine's drift over minutes touches every
    system alike; each figure is the best of its rounds (:func:`best_of`)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for number in range(1, args.rounds + 1):
        print(f" round {number} of {args.rounds}")
        for key, result in measure_round(threads, data, work, flair_python, args.repeat).items():
            found.setdefault(key, []).append(result)
    return {key: best_of(results) for key, results in found.items()}


SPEEDS = ("tokens_per_s", "tag_tokens_per_s", "flops_per_s")


def best_of(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One measurement's rounds as one: the fastest round (by its first speed), with the highest
    of each other speed and of peak memory over all rounds, and every round's speeds under
    ``rounds``."""
    first = next(k for k in SPEEDS if k in results[0])
    out = dict(max(results, key=lambda r: r[first]))
    for key in SPEEDS:
        if key in out:
            out[key] = max(r[key] for r in results)
    out["peak_rss_mb"] = max(r.get("peak_rss_mb", 0.0) for r in results)
    out["rounds"] = [{k: r[k] for k in (*SPEEDS, "wall_s") if k in r} for r in results]
    return out


def measure_round(
    threads: int, data: dict[str, Any], work: Path, flair_python: str | None, repeat: int
) -> dict[str, Any]:
    """Every measurement at one thread count, once, each in its own process."""
    out: dict[str, Any] = {}
    model = work / f"tagger-model-{threads}"
    base = {"threads": threads, "data": data, "repeat": repeat}
    out["matmul"] = run_child(worker_command("matmul", base), threads, "matmul")
    spec = {**base, "model": str(model)}
    out["tagger_train"] = run_child(worker_command("tagger-train", spec), threads, "tagger train")
    spec["out"] = str(work / f"tagger-pred-{threads}.txt")
    spec["dev_out"] = str(work / f"tagger-dev-{threads}.txt")
    out["tagger_tag"] = run_child(worker_command("tagger-tag", spec), threads, "tagger tag")
    out["tagger_tag"]["dev_f1"] = dev_f1(data["dev_file"], spec["dev_out"])
    sizes = {k: out["tagger_train"][k] for k in ("vocab_words", "vocab_chars", "tags")}
    spec = {**base, **sizes}
    out["bare"] = run_child(worker_command("bare", spec), threads, "bare network")
    if flair_python:
        folder = work / f"flair-model-{threads}"
        folder.mkdir(exist_ok=True)
        train = flair_command(
            flair_python, "train", threads, folder, repeat, train=data["train_slice"]
        )
        out["flair_train"] = run_child(train, threads, "flair train")
        pred = str(work / f"flair-pred-{threads}.txt")
        dev_out = str(work / f"flair-dev-{threads}.txt")
        paths = {"test": data["test_file"], "out": pred}
        paths.update({"dev": data["dev_file"], "dev-out": dev_out})
        tag = flair_command(flair_python, "tag", threads, folder, repeat, **paths)
        out["flair_tag"] = run_child(tag, threads, "flair tag")
        out["flair_tag"]["dev_f1"] = dev_f1(data["dev_file"], dev_out)
    return out


def dev_f1(gold: str, predicted: str) -> float:
    """Entity micro F1 (%, seqeval's conlleval-compatible default mode, so IOB1 and IOB2 files
    compare) of a predictions file whose last column is the tag, against the gold dev file."""
    from seqeval.metrics import f1_score

    from tagger.scoring import read_tag_sequences

    _, truth, _ = read_tag_sequences(gold)
    _, found, _ = read_tag_sequences(predicted)
    return 100 * f1_score(truth, found)


def flops_per_token(vocab_tags: int, chars_per_token: float) -> dict[str, Any]:
    """Multiply-adds per token of the tagger's network, analytically; FLOPs = 2 x MACs.

    An LSTM step of input size d and hidden size h costs 4h(d + h) multiply-adds (four gates,
    input and recurrent matrices); a bidirectional layer twice that. Per token: the word BiLSTM
    runs one step per direction, the char BiLSTM one step per direction per character, and the
    emission layer 2H x K. Embedding look-ups, biases, activations and the CRF (K^2 adds per
    token for Viterbi) are left out. Padding is not counted: this is the useful work.
    """
    d_word = WORD_DIM + 2 * CHAR_HIDDEN
    word = 2 * 4 * HIDDEN * (d_word + HIDDEN)
    char = chars_per_token * 2 * 4 * CHAR_HIDDEN * (CHAR_DIM + CHAR_HIDDEN)
    emit = 2 * HIDDEN * vocab_tags
    macs = word + char + emit
    return {
        "formula": "2 x [2*4H(D+H) + c*2*4h(e+h) + 2H*K]",
        "H": HIDDEN,
        "D": d_word,
        "h": CHAR_HIDDEN,
        "e": CHAR_DIM,
        "K": vocab_tags,
        "c": round(chars_per_token, 3),
        "macs_word_bilstm": word,
        "macs_char_bilstm": round(char),
        "macs_emissions": emit,
        "flops_per_token": round(2 * macs),
    }


def machine_info(threads: list[int]) -> dict[str, Any]:
    info = cpu_info()
    flags = set(info.get("flags", "").split())
    return {
        "cpu_model": info.get("model name", platform.processor() or "unknown"),
        "logical_cpus": os.cpu_count(),
        "cores_per_socket": info.get("cpu cores"),
        "simd": sorted(flags & {"avx2", "avx512f", "avx512_bf16", "amx_tile", "fma"}),
        "threads_used": threads,
        "load_avg_at_start": os.getloadavg()[0],
        "platform": platform.platform(),
    }


def versions(runs: dict[int, dict[str, Any]]) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    first = next(iter(runs.values()))
    out = {"python": platform.python_version(), "torch": first["tagger_train"]["torch"]}
    for name in ("tagger", "pytorch-crf"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    if "flair_train" in first:
        out["flair"] = first["flair_train"]["flair"]
        out["flair_torch"] = first["flair_train"]["torch"]
    return out


def summarize(run: dict[str, Any], flops: int) -> dict[str, Any]:
    """Per-system rows, ratios and the matmul share for one thread count."""
    rows = {
        "tagger": row(run["tagger_train"], run["tagger_tag"]),
        "bare": row(run["bare"], run["bare"], tag_key="tag_tokens_per_s"),
    }
    if "flair_train" in run:
        rows["flair"] = row(run["flair_train"], run["flair_tag"])
    ratios = {}
    for other in ("flair", "bare"):
        if other in rows:
            ratios[f"tagger/{other}"] = {
                k: rows["tagger"][k] / rows[other][k] for k in ("train_tok_s", "tag_tok_s")
            }
    matmul = run["matmul"]["flops_per_s"]
    return {
        "rows": rows,
        "ratios": ratios,
        "matmul_gflops": matmul / 1e9,
        "tagger_tag_gflops": rows["tagger"]["tag_tok_s"] * flops / 1e9,
        "tagger_tag_matmul_fraction": rows["tagger"]["tag_tok_s"] * flops / matmul,
        "bare_tag_matmul_fraction": rows["bare"]["tag_tok_s"] * flops / matmul,
    }


def row(train: dict[str, Any], tag: dict[str, Any], tag_key: str = "tokens_per_s") -> dict:
    same = train is tag
    return {
        "train_tok_s": train["tokens_per_s"],
        "tag_tok_s": tag[tag_key],
        "load_s": None if same else tag["load_s"],
        "train_peak_rss_mb": train["peak_rss_mb"],
        "tag_peak_rss_mb": None if same else tag["peak_rss_mb"],
        "dev_f1": tag.get("dev_f1"),
    }


def fmt(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def markdown(report: dict[str, Any]) -> str:
    data, machine, flops = report["data"], report["machine"], report["flops"]
    lines = [
        f"# Speed benchmark, {report['date']}",
        "",
        f"`{report['command']}`",
        "",
        f"CoNLL-2003: training on the first {data['train_sentences']} sentences of train.txt "
        f"({data['train_tokens']:,} tokens, batch {TRAIN_BATCH}); tagging "
        f"{data['test_sentences']} test sentences ({data['test_tokens']:,} tokens, batch "
        f"{TAG_BATCH}). Every figure is the best of {report['rounds']} rounds, the systems "
        f"measured in turn in each round, each time in a new process that keeps the fastest of "
        f"{report['repeat']} repetitions (training: epochs). Peak RSS: training / tagging "
        f"process. Bare = plain PyTorch, synthetic batches of length {SYNTHETIC_LENGTH}, "
        "no I/O (train and tag in one process). Dev F1: CoNLL-2003 dev.txt tagged (untimed) "
        f"by the model trained {report['repeat']} epochs on the slice (the same number for "
        "tagger and flair, each with its own optimiser defaults).",
        "",
        "| system | threads | train tok/s | tag tok/s | load s | peak RSS MB (train / tag) "
        "| dev F1 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for threads, summary in report["summary"].items():
        for name, r in summary["rows"].items():
            rss = f"{fmt(r['train_peak_rss_mb'])} / {fmt(r['tag_peak_rss_mb'])}"
            lines.append(
                f"| {name} | {threads} | {fmt(r['train_tok_s'])} | {fmt(r['tag_tok_s'])} | "
                f"{fmt(r['load_s'], 2)} | {rss} | {fmt(r['dev_f1'], 2)} |"
            )
    for threads, summary in report["summary"].items():
        for name, ratio in summary["ratios"].items():
            lines.append(
                f"| **{name}** | {threads} | {ratio['train_tok_s']:.2f}x | "
                f"{ratio['tag_tok_s']:.2f}x | | | |"
            )
    lines += ["", *machine_lines(machine, flops, report), ""]
    return "\n".join(lines)


def machine_lines(machine: dict[str, Any], flops: dict[str, Any], report: dict) -> list[str]:
    v = report["versions"]
    out = [
        f"- CPU: {machine['cpu_model']}, {machine['logical_cpus']} logical CPUs "
        f"({machine['cores_per_socket']} cores per socket), SIMD {', '.join(machine['simd'])}; "
        f"threads used: {', '.join(map(str, machine['threads_used']))}; "
        f"load average at start {machine['load_avg_at_start']:.2f}",
        f"- Versions: Python {v['python']}, torch {v['torch']}, tagger {v['tagger']}, "
        f"pytorch-crf {v['pytorch-crf']}, flair {v.get('flair', '–')} "
        f"(torch {v.get('flair_torch', '–')})",
        f"- FLOP/token of the tagger's network: {flops['flops_per_token']:,} = {flops['formula']} "
        f"with H={flops['H']}, D={flops['D']}, h={flops['h']}, e={flops['e']}, K={flops['K']}, "
        f"c={flops['c']} chars/token (word BiLSTM {flops['macs_word_bilstm']:,} MACs, char "
        f"BiLSTM {flops['macs_char_bilstm']:,}, emissions {flops['macs_emissions']:,})",
    ]
    for threads, s in report["summary"].items():
        out.append(
            f"- {threads} thread(s): matmul {s['matmul_gflops']:.1f} GFLOP/s (1024x1024 float32 "
            f"torch.mm); tagger tagging reaches {s['tagger_tag_gflops']:.2f} GFLOP/s = "
            f"{100 * s['tagger_tag_matmul_fraction']:.1f}% of it (bare network: "
            f"{100 * s['bare_tag_matmul_fraction']:.1f}%)"
        )
    out.append(f"- Tagger training measured as: {TRAINING_METHOD}")
    out += [f"- Note: {note}" for note in report["notes"]]
    return out


def collect_notes(runs: dict[int, dict[str, Any]]) -> list[str]:
    notes = []
    for threads, run in runs.items():
        for key, value in run.items():
            got = value.get("threads")
            if got is not None and got != threads:
                notes.append(f"{key} ran with {got} threads, not {threads}")
    return notes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.threads = list(dict.fromkeys(args.threads))  # each thread count once, in order
    if args.worker:
        run_worker(args.worker, json.loads(args.spec))
        return 0
    flair_python = None if args.skip_flair else args.flair_python
    if flair_python and not Path(flair_python).exists():
        print(f"flair venv not found at {flair_python}; install it with:\n  {FLAIR_INSTALL}")
        print("(running without flair; pass --flair-python PATH if it lives elsewhere)")
        flair_python = None
    machine = machine_info(args.threads)
    with tempfile.TemporaryDirectory(prefix="tagger-speed-") as tmp:
        work = Path(tmp)
        data = prepare_data(args, work)
        runs = {}
        for threads in args.threads:
            print(f"threads = {threads}")
            runs[threads] = measure_threads(threads, data, work, flair_python, args)
    tags = runs[args.threads[0]]["tagger_train"]["tags"]
    flops = flops_per_token(tags, data["test_mean_chars"])
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "command": "python bench/speed.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "data": {k: v for k, v in data.items() if k != "train_slice"},
        "machine": machine,
        "versions": versions(runs),
        "flops": flops,
        "training_method": TRAINING_METHOD,
        "repeat": args.repeat,
        "rounds": args.rounds,
        "summary": {t: summarize(run, flops["flops_per_token"]) for t, run in runs.items()},
        "raw": runs,
        "notes": collect_notes(runs),
        "busy": busy_notes(runs),  # other processes' CPU time (and steal) over 5% of a wall
    }
    name = f"speed-{report['date']}"
    written = save_unless_busy(report, args.output, name, markdown(report), args.allow_busy)
    return 0 if written else 3  # 3: refused, the machine was busy


# ----------------------------------------------------------------------------- the children


def run_worker(name: str, spec: dict[str, Any]) -> None:
    import torch

    torch.set_num_threads(spec["threads"])
    jobs = {
        "matmul": worker_matmul,
        "tagger-train": worker_tagger_train,
        "tagger-tag": worker_tagger_tag,
        "bare": worker_bare,
    }
    result = jobs[name](spec)
    result.update(
        threads=torch.get_num_threads(),
        torch=torch.__version__,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
    print(MARKER + json.dumps(result), flush=True)


def worker_matmul(spec: dict[str, Any], size: int = 1024, seconds: float = 2.0) -> dict:
    """float32 FLOP/s of ``torch.mm`` on two size x size matrices (best of repeated rounds)."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(3):
        torch.mm(a, b)
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        for _ in range(5):
            torch.mm(a, b)
        best = max(best, 5 * 2 * size**3 / (time.perf_counter() - started))
    return {"flops_per_s": best, "size": size}


def tagger_config(spec: dict[str, Any], work: str) -> Any:
    from tagger.config import load_config

    overrides = [o for o in TAGGER_OVERRIDES if not o.startswith("train.threads")]
    overrides += [
        f"train.threads={spec['threads']}",
        f"data.train={spec['data']['train_slice']}",
        f"data.cache_dir={work}",
    ]
    return load_config(None, overrides)


def worker_tagger_train(spec: dict[str, Any]) -> dict[str, Any]:
    from tagger.archive import build_network, save_model
    from tagger.training import Loop, seed_everything
    from tagger.training_data import load_split, prepare_vocab, resolve_schemes

    model = Path(spec["model"])
    cfg = tagger_config(spec, str(model.parent / "arrow-cache"))
    started = time.perf_counter()
    seed_everything(cfg.train.seed)
    train_set = load_split(cfg, cfg.data.train)
    scheme, model_scheme = resolve_schemes(cfg, train_set)
    vocab, matrix, dim = prepare_vocab(cfg, train_set, [], scheme, model_scheme)
    network = build_network(cfg, vocab, dim, pretrained=matrix)
    loop = Loop(cfg, vocab, network, train_set, train_set, model, log=lambda _m: None)
    prep_s = time.perf_counter() - started
    repeats = []
    for epoch in range(1, spec["repeat"] + 1):  # the fastest epoch counts
        started = time.perf_counter()
        loss, tokens = loop.epoch(epoch)
        repeats.append(time.perf_counter() - started)
    seconds = min(repeats)
    model.mkdir(parents=True, exist_ok=True)
    save_model(model, cfg, vocab, network, epoch=1, word_dim=dim)
    return {
        "tokens": tokens,
        "sentences": len(train_set.data),
        "seconds": seconds,
        "tokens_per_s": tokens / seconds,
        "repeats_s": repeats,
        "prep_s": prep_s,
        "loss": loss,
        "vocab_words": len(vocab.words),
        "vocab_chars": len(vocab.chars),
        "tags": len(vocab.tags),
        "parameters": sum(p.numel() for p in network.parameters()),
    }


def worker_tagger_tag(spec: dict[str, Any]) -> dict[str, Any]:
    from tagger.prediction import Tagger

    started = time.perf_counter()
    tagger = Tagger.load(spec["model"], batch_size=TAG_BATCH)  # the same batches as the others
    load_s = time.perf_counter() - started
    repeats = []
    for _ in range(spec["repeat"]):  # the fastest repetition counts
        started = time.perf_counter()
        tokens = tagger.tag_file(spec["data"]["test_file"], spec["out"])
        repeats.append(time.perf_counter() - started)
    seconds = min(repeats)
    result = {"tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds}
    result["repeats_s"] = repeats
    tagger.tag_file(spec["data"]["dev_file"], spec["dev_out"])  # untimed, for the dev F1
    result.update(load_s=load_s, decode_batch=tagger.batch_size)
    return result


def bare_network(n_words: int, n_chars: int, n_tags: int) -> Any:
    """Embedding(V, 100) + char BiLSTM(25, 25) + BiLSTM(256) + Linear + pytorch-crf CRF, with
    the tagger's dropout: 0.05 word dropout, 0.5 dropout on the token features and on the
    BiLSTM states (``nn.Dropout``; active in training only)."""
    import torch
    from torch import nn
    from torchcrf import CRF

    class Bare(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.words = nn.Embedding(n_words, WORD_DIM)
            self.chars = nn.Embedding(n_chars, CHAR_DIM)
            self.char_lstm = nn.LSTM(CHAR_DIM, CHAR_HIDDEN, batch_first=True, bidirectional=True)
            dim = WORD_DIM + 2 * CHAR_HIDDEN
            self.lstm = nn.LSTM(dim, HIDDEN, batch_first=True, bidirectional=True)
            self.emit = nn.Linear(2 * HIDDEN, n_tags)
            self.crf = CRF(n_tags, batch_first=True)
            self.dropout = nn.Dropout(0.5)

        def emissions(self, words: torch.Tensor, chars: torch.Tensor) -> torch.Tensor:
            """words (B, T), chars (B, T, L) -> (B, T, K)."""
            b, t, length = chars.shape
            if self.training:  # word dropout: 5% of the words become <unk> (id 1)
                words = words.masked_fill(torch.rand(words.shape) < 0.05, 1)
            _, (h_n, _) = self.char_lstm(self.chars(chars.reshape(b * t, length)))
            char_vectors = torch.cat([h_n[0], h_n[1]], 1).reshape(b, t, -1)  # (B, T, 2h)
            features = self.dropout(torch.cat([self.words(words), char_vectors], 2))
            states, _ = self.lstm(features)
            return self.emit(self.dropout(states))

    return Bare()


def worker_bare(spec: dict[str, Any]) -> dict[str, Any]:
    import torch

    torch.manual_seed(0)
    data = spec["data"]
    net = bare_network(spec["vocab_words"], spec["vocab_chars"], spec["tags"])
    chars_per_word = max(1, round(data["train_mean_chars"]))
    train_steps = max(10, math.ceil(data["train_sentences"] / TRAIN_BATCH))
    tag_steps = max(5, math.ceil(data["test_sentences"] / TAG_BATCH))
    repeats = range(spec["repeat"])  # the fastest repetition counts, as for the others
    train = max(bare_train(net, spec, TRAIN_BATCH, chars_per_word, train_steps) for _ in repeats)
    tag = max(bare_tag(net, spec, TAG_BATCH, chars_per_word, tag_steps) for _ in repeats)
    return {"tokens_per_s": train, "tag_tokens_per_s": tag, "chars_per_word": chars_per_word}


def synthetic_batch(spec: dict[str, Any], batch: int, chars: int) -> tuple[Any, Any, Any]:
    import torch

    shape = (batch, SYNTHETIC_LENGTH)
    words = torch.randint(1, spec["vocab_words"], shape)
    char_ids = torch.randint(1, spec["vocab_chars"], (*shape, chars))
    tags = torch.randint(0, spec["tags"], shape)
    return words, char_ids, tags


def bare_train(net: Any, spec: dict[str, Any], batch: int, chars: int, steps: int) -> float:
    """Tokens/s of forward + CRF loss + backward + clipping + Adam, after 3 untimed steps."""
    import torch

    optimizer = torch.optim.Adam(net.parameters(), lr=0.002, fused=True)
    words, char_ids, tags = synthetic_batch(spec, batch, chars)
    mask = torch.ones(words.shape, dtype=torch.bool)
    net.train()

    def step() -> None:
        loss = -net.crf(net.emissions(words, char_ids), tags, mask, reduction="mean")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        optimizer.step()

    for _ in range(3):
        step()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * words.numel() / (time.perf_counter() - started)


def bare_tag(net: Any, spec: dict[str, Any], batch: int, chars: int, steps: int) -> float:
    """Tokens/s of forward + pytorch-crf Viterbi decode, after 2 untimed batches."""
    import torch

    words, char_ids, _ = synthetic_batch(spec, batch, chars)
    mask = torch.ones(words.shape, dtype=torch.bool)
    net.eval()
    with torch.inference_mode():
        for _ in range(2):
            net.crf.decode(net.emissions(words, char_ids), mask)
        started = time.perf_counter()
        for _ in range(steps):
            net.crf.decode(net.emissions(words, char_ids), mask)
        seconds = time.perf_counter() - started
    return steps * words.numel() / seconds


if __name__ == "__main__":
    sys.exit(main())
