"""The ``tagger`` command line: parses arguments and calls the library; nothing else.

Heavy modules (torch, datasets) are imported inside the commands so that ``--help`` is instant.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from tagger.data.chunks import FORMATS  # the readers' table (imports only tagger.errors)

app = typer.Typer(
    help="Train, apply and score BiLSTM-attention-CRF sequence taggers (NER, chunking, POS).\n\n"
    "Example: tagger train configs/demo.yaml --output runs/demo && "
    "tagger predict runs/demo data/wnut17/test.conll --output pred.conll && "
    "tagger evaluate data/wnut17/test.conll pred.conll",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)
init_app = typer.Typer(help="Start a config.", no_args_is_help=True)
app.add_typer(init_app, name="init")

T = TypeVar("T")


def _choices(name: str, values: tuple[str, ...]) -> Any:
    """A str Enum for typer from a library table of names (the table is the one source)."""
    return Enum(name, {value.replace("-", "_"): value for value in values}, type=str)


InputFormat = _choices("InputFormat", FORMATS)
# records.OUTPUT_FORMATS, text.SPLITS and sniff.WRITE_MODES would import the whole reading
# chain at start-up, so these repeat them; tests/test_single_source.py checks that they agree
OutputFormat = _choices("OutputFormat", ("conll", "jsonl", "standoff"))
Split = _choices("Split", ("sentences", "wrapped", "lines", "pretokenized"))
WriteMode = _choices("WriteMode", ("auto", "replace", "append", "gold-pred"))


class Runtime(str, Enum):
    torch = "torch"
    onnx = "onnx"


class ExportFormat(str, Enum):
    onnx = "onnx"


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _without_nproc(argv: list[str]) -> list[str]:
    """The command line minus ``--nproc N`` (for the processes torchrun starts)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is so that it unwinds (and cleans up) as on Ctrl-C."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the cleanup
    raise Terminated()


def _os_message(exc: OSError) -> str:
    """One line for an OSError that no library layer turned into a TaggerError."""
    where = f"{exc.filename}: " if exc.filename is not None else ""
    return f"{where}{exc.strerror or exc}"


def guarded(call: Callable[[], T], on_interrupt: Callable[[], str] | None = None) -> T:
    """Run ``call``; a user-facing error becomes one line on stderr and exit status 2.

    SIGTERM is handled like Ctrl-C: temporary files are removed on the way out, one line says
    ``error: interrupted`` (plus ``on_interrupt()``, e.g. how to resume), and the exit status is
    the shell's convention, 128 + the signal: 130 for SIGINT, 143 for SIGTERM.
    """
    import signal

    from tagger.errors import TaggerError

    previous = None
    with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return call()
    except TaggerError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(_os_message(exc))
    except MemoryError:
        _fail("out of memory")
    except KeyboardInterrupt as exc:
        term = isinstance(exc, Terminated)
        extra = on_interrupt() if on_interrupt else ""
        typer.echo(f"error: interrupted by {'SIGTERM' if term else 'SIGINT'}{extra}", err=True)
        raise typer.Exit(143 if term else 130) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    raise AssertionError("unreachable")


def _at_least(low: int, **options: int) -> None:
    """One error line (not a usage box) for a numeric option below ``low``."""
    from tagger.errors import TaggerError

    for name, value in options.items():
        if value < low:
            raise TaggerError(f"--{name}: expected at least {low}, got {value}")


def _check_train_arguments(
    config: Path | None,
    output: Path | None,
    resume: Path | None,
    sets: list[str] | None,
    overwrite: bool,
) -> None:
    """train takes CONFIG and --output for a new run, or --resume RUN_DIR alone (the resumed
    run's config and directory are fixed: anything else given would be ignored, so refuse it)."""
    from tagger.errors import TaggerError

    if resume is None:
        if config is None or output is None:
            raise TaggerError("train needs CONFIG and --output RUN_DIR (or --resume RUN_DIR)")
        return
    given = [
        name
        for name, value in (
            ("CONFIG", config),
            ("--set", sets),
            ("--overwrite", overwrite),
            ("--output", output is not None and output.resolve() != resume.resolve()),
        )
        if value
    ]
    if given:
        raise TaggerError(
            f"--resume {resume} continues that run with its own config and directory: "
            f"{', '.join(given)} cannot be given with it (start a new run without --resume)"
        )


def _version(show: bool) -> None:
    if show:
        from tagger import __version__

        typer.echo(f"tagger {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Train, apply and score BiLSTM-attention-CRF sequence taggers (NER, chunking, POS)."""


@app.command(
    epilog="Example: tagger train configs/demo.yaml --set train.max_epochs=5 --output runs/demo; "
    "after an interruption: tagger train --resume runs/demo"
)
def train(
    config: Annotated[Path | None, typer.Argument(help="YAML experiment config.")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Run directory to write.")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a config key, e.g. --set model.hidden_size=512."),
    ] = None,
    resume: Annotated[
        Path | None, typer.Option(help="Continue the interrupted run in this directory.")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a model already in OUTPUT.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar or epoch lines.")] = False,
    nproc: Annotated[
        int, typer.Option(help="Train in N processes on this machine (torchrun, DDP).")
    ] = 1,
    data_root: Annotated[
        Path | None,
        typer.Option(help="Read the config's relative data paths from here (data.root)."),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Train a model; the kept epoch (best dev score; with train.with_dev the lowest training
    loss) goes to OUTPUT with metrics.jsonl."""
    from tagger.config import load_config
    from tagger.training import train as run_training

    guarded(lambda: _at_least(1, nproc=nproc))
    if nproc > 1:
        from tagger.distributed import launch

        raise typer.Exit(launch(nproc, _without_nproc(sys.argv[1:])))

    def call() -> Any:
        _check_train_arguments(config, output, resume, set_, overwrite)
        root = [f"data.root={data_root}"] if data_root else []
        cfg = None if resume else load_config(config, [*root, *(set_ or [])])
        progress = not quiet and sys.stderr.isatty()

        def log(message: str) -> None:  # --quiet: warnings only
            if not quiet or message.startswith("warning:"):
                typer.echo(message, err=True)

        options = {"progress": progress, "log": log, "overwrite": overwrite}
        return run_training(cfg, resume or output, resume=resume is not None, **options)

    def how_to_resume() -> str:
        run_dir = resume or output
        if run_dir is not None and (run_dir / "checkpoint" / "config.json").is_file():
            return f"; continue with: tagger train --resume {run_dir}"
        return ""

    from tagger.summaries import brief, training_table

    started = time.perf_counter()
    summary = guarded(call, how_to_resume)
    run_dir = resume or output
    if json_:
        typer.echo(json.dumps(brief(summary, str(run_dir))))
    else:
        from rich.console import Console

        Console().print(training_table(summary, str(run_dir), time.perf_counter() - started))


@app.command(
    epilog="Example: tagger predict runs/demo data/wnut17/test.conll --output pred.conll; "
    "echo 'EU rejects German call' | tagger predict runs/demo - --input-format text"
)
def predict(
    run_dir: Annotated[Path, typer.Argument(help="A model directory written by 'tagger train'.")],
    input: Annotated[
        str,
        typer.Argument(help="CoNLL, CoNLL-U or text file ('-': stdin), or hf:DATASET[:SPLIT]."),
    ],
    output: Annotated[str, typer.Option("--output", "-o", help="Output file; '-' stdout.")] = "-",
    format: Annotated[
        OutputFormat,
        typer.Option(
            help="Output format. Text input: jsonl (a record per document or line: text, "
            "sentences, tokens and spans with character offsets), standoff (a TAB-separated line "
            "per entity: id start end type text confidence) or conll (token TAB tag)."
        ),
    ] = OutputFormat.conll,
    input_format: Annotated[
        InputFormat | None,
        typer.Option(help="Input format; detected from the content (README: how it is decided)."),
    ] = None,
    token_column: Annotated[int | None, typer.Option(help="0-based token column.")] = None,
    tag_column: Annotated[
        int | None, typer.Option(help="0-based tag column (replaced by the predictions).")
    ] = None,
    write: Annotated[
        WriteMode,
        typer.Option(
            help="CoNLL output: replace the tag column, append a column, or gold-pred "
            "(token ... gold pred, for conlleval); auto replaces only the model's own tag column."
        ),
    ] = WriteMode.auto,
    nbest: Annotated[
        int, typer.Option(help="With --format jsonl: the N best paths per sentence.")
    ] = 1,
    workers: Annotated[int, typer.Option(help="Tag in N processes (order kept).")] = 1,
    split: Annotated[
        Split,
        typer.Option(
            help="Text input: 'sentences' = the sentence splitter finds sentences within each "
            "line, and a line end ends one too; 'wrapped' = running text with wrapped lines (a "
            "line end is a space); 'lines' = one sentence per line; 'pretokenized' = one "
            "sentence per line, tokens separated by spaces. Blank lines separate documents."
        ),
    ] = Split.sentences,
    runtime: Annotated[
        Runtime, typer.Option(help="torch, or onnx (after 'tagger export'; tags only).")
    ] = Runtime.torch,
    shard: Annotated[
        str | None,
        typer.Option(
            metavar="I/N",
            help="Tag only part I of N (1-based, e.g. $SLURM_ARRAY_TASK_ID/8 with "
            "--array=1-8); the N outputs concatenated are the whole output.",
        ),
    ] = None,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="ADDRESS",
            help="Tag on a Ray cluster ('auto', or 'local': start one here with 2 CPUs) with "
            "--workers model replicas; needs Ray: pip install -e '.[ray]' in the tagger checkout.",
        ),
    ] = None,
    quantize: Annotated[
        str,
        typer.Option(
            metavar="none|int8",
            help="int8: the LSTMs and linear layers in int8 (CPU, torch runtime): faster, tags "
            "may differ slightly (docs/performance.md); none: float32.",
        ),
    ] = "none",
    quiet: Annotated[bool, typer.Option(help="No progress bar or closing line.")] = False,
) -> None:
    """Tag INPUT with a trained model (Viterbi decoding), keeping every input line.

    JSONL output adds each token's marginal probability, entity confidences, the best path's
    probability and, with --nbest N, the N best paths."""
    from tagger.atomic import check_target
    from tagger.data.dataset import is_saved_dataset
    from tagger.data.sharding import parse_shard
    from tagger.errors import TaggerError
    from tagger.prediction import Tagger
    from tagger.quantize import check_mode

    def call() -> Any:
        _at_least(1, nbest=nbest, workers=workers)
        if nbest > 1 and format is not OutputFormat.jsonl:
            raise TaggerError("--nbest needs --format jsonl")
        part = None if shard is None else parse_shard(shard)
        if check_mode(quantize) != "none" and (ray is not None or runtime is not Runtime.torch):
            raise TaggerError("--quantize works with the torch runtime only (no --ray, onnx)")
        if not input.startswith("hf:"):  # a dataset's output folder is checked by tag_dataset
            check_target(output)  # before any work: a directory, or a file where a folder is needed
        if ray is not None:
            from tagger.ray_tagging import tag_with_ray

            if part is not None or runtime is not Runtime.torch or input.startswith("hf:"):
                raise TaggerError("--ray tags a file with the torch runtime: no --shard, onnx, hf:")
            fmt = input_format.value if input_format else None
            columns = (token_column, tag_column)
            options = {"nbest": nbest, "columns": columns, "write": write.value}
            return tag_with_ray(run_dir, input, output, ray, fmt, format.value, workers, **options)
        if runtime is Runtime.onnx:
            from tagger.export import load_onnx_tagger

            tagger = load_onnx_tagger(run_dir)
        else:
            tagger = Tagger.load(run_dir, quantize=quantize)
        if input.startswith("hf:") or is_saved_dataset(input):
            return tagger.tag_dataset(input, output, shard=part)
        fmt = input_format.value if input_format else None
        columns = (token_column, tag_column)
        show = not quiet and sys.stderr.isatty() and output != "-"
        options = {"nbest": nbest, "workers": workers, "progress": show, "shard": part}
        options |= {"write": write.value, "split": split.value}
        return tagger.tag_file(input, output, fmt, format.value, *columns, **options)

    from tagger.summaries import tagging_line

    started = time.perf_counter()
    tally = guarded(call)
    if not quiet:
        seconds = time.perf_counter() - started
        sentences = getattr(tally, "sentences", 0)
        typer.echo(tagging_line(sentences, int(tally), seconds, output), err=True)


@app.command(
    epilog="Example: tagger evaluate gold.conll pred.conll --json; "
    "tagger evaluate runs/demo data/wnut17/test.conll"
)
def evaluate(
    gold: Annotated[str, typer.Argument(help="Gold file, or a model directory.")],
    pred: Annotated[str, typer.Argument(help="Predictions, or (with a model) data to tag.")],
    json_: Annotated[bool, typer.Option("--json", help="Print the scores as JSON.")] = False,
    input_format: Annotated[
        InputFormat | None, typer.Option(help="File format; detected from the content.")
    ] = None,
    tag_column: Annotated[int, typer.Option(help="0-based tag column in both files.")] = -1,
    confusion: Annotated[
        Path | None, typer.Option(help="Also draw the entity-type confusion matrix to this PNG.")
    ] = None,
    token_check: Annotated[
        bool,
        typer.Option(
            "--token-check/--no-token-check",
            help="Require PRED's tokens to equal GOLD's (skip for normalised tokens).",
        ),
    ] = True,
) -> None:
    """Score PRED against GOLD as conlleval.pl does, or a model on a data file."""
    from tagger.data.schemes import detect_scheme
    from tagger.data.sniff import format_of
    from tagger.scoring import Columns, read_pair, report_table, score

    def call() -> dict[str, Any]:
        if Path(gold).is_dir():
            from tagger.prediction import Tagger

            tagger = Tagger.load(gold)
            fmt = input_format.value if input_format else None
            gold_file, predicted = tagger.tag_gold(pred, fmt)
            gold_tags, scheme = gold_file.tags, tagger.vocab.scheme
        else:
            fmt = input_format.value if input_format else format_of(gold)
            pair = read_pair(gold, pred, Columns(fmt, tag_column), check_tokens=token_check)
            gold_tags, predicted, scheme = pair[0].tags, pair[1].tags, None
        report = score(gold_tags, predicted, scheme)
        if confusion is not None:  # the entity-type confusion matrix, as a PNG
            from tagger.plots import entity_confusion, plot_confusion

            kind = scheme or detect_scheme(gold_tags)
            plot_confusion(entity_confusion(gold_tags, predicted, kind), str(confusion))
        return report

    report = guarded(call)
    if confusion:
        typer.echo(f"confusion matrix: {confusion}", err=True)
    if json_:
        typer.echo(json.dumps(report, indent=2))
    else:
        from rich.console import Console

        Console().print(report_table(report))


@app.command(epilog="Example: tagger plot runs/demo  (writes runs/demo/plots/*.png)")
def plot(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by 'tagger train'.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Folder for PNGs.")] = None,
) -> None:
    """Draw the loss, dev score and learning rate per epoch and per-type precision/recall."""
    from tagger.plots import plot_run

    for path in guarded(lambda: plot_run(run_dir, output)):
        typer.echo(str(path))


@app.command(
    epilog="Example: tagger explain runs/demo 'Empire State Building is in New York' "
    "--output attention.png; tagger explain runs/demo data/wnut17/test.conll --index 3"
)
def explain(
    run_dir: Annotated[Path, typer.Argument(help="A model directory.")],
    sentence: Annotated[str, typer.Argument(help="A sentence, or a CoNLL/CoNLL-U file.")],
    index: Annotated[int, typer.Option(help="Sentence number (0-based) in the file.")] = 0,
    output: Annotated[Path, typer.Option("--output", "-o", help="Heat map PNG.")] = Path(
        "attention.png"
    ),
) -> None:
    """Heat maps of each attention layer's weights, and the tags with their probabilities."""
    from rich.console import Console
    from rich.table import Table

    from tagger.atomic import check_target
    from tagger.data.conll import read_sentences
    from tagger.data.sniff import format_of
    from tagger.data.text import split_text
    from tagger.errors import TaggerError
    from tagger.plots import plot_attention
    from tagger.prediction import Tagger

    def call() -> Any:
        check_target(output)
        if not sentence.split() and not Path(sentence).is_file():
            raise TaggerError("explain: the sentence is empty; give some words or a data file")
        tagger = Tagger.load(run_dir)
        if Path(sentence).is_file():
            found = list(read_sentences(sentence, format_of(sentence, tagger.known_tags())))
            if not 0 <= index < len(found):
                raise TaggerError(f"{sentence}: --index {index} is not one of its {len(found)}")
            tokens = found[index].tokens
        else:  # tokenised like any text, as one sentence
            tokens = [t.text for s in split_text(sentence, "lines") for t in s]
        tagged, layers = tagger.explain(tokens)
        plot_attention(tokens, layers, tagger.vocab.tags, output, tagged.tags)
        return tagged

    tagged = guarded(call)
    table = Table("token", "tag", "p(tag)", show_edge=False)
    for token, tag, prob in zip(tagged.tokens, tagged.tags, tagged.confidences):
        table.add_row(token, tag, f"{prob:.3f}")
    Console().print(table)
    typer.echo(f"path probability {tagged.probability:.3f}; heat map: {output}")  # unwrapped


@app.command(
    epilog="Example: tagger export runs/demo --format onnx && "
    "tagger predict runs/demo data/wnut17/test.conll --runtime onnx"
)
def export(
    run_dir: Annotated[Path, typer.Argument(help="A model directory.")],
    format: Annotated[ExportFormat, typer.Option(help="Export format.")] = ExportFormat.onnx,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File; default RUN_DIR/model.onnx.")
    ] = None,
) -> None:
    """Export the whole tagger, Viterbi decoding included, for onnxruntime."""
    from tagger.export import export_onnx

    typer.echo(str(guarded(lambda: export_onnx(run_dir, output))))


@init_app.command(
    "config",
    epilog="Example: tagger init config --output my.yaml; "
    "tagger init config --from conll2003 --output conll2003.yaml",
)
def init_config(
    output: Annotated[str, typer.Option("--output", "-o", help="File to write; '-' stdout.")] = "-",
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Copy a config shipped with tagger (demo, conll2003, wnut17, ...; "
            "an unknown name lists them all).",
        ),
    ] = None,
) -> None:
    """Write a config with every key, its default and what it means (or a shipped config)."""
    from tagger.template import default_config_text, shipped_config_text

    def call() -> None:
        text = shipped_config_text(from_) if from_ else default_config_text()
        if output == "-":
            typer.echo(text, nl=False)
            return
        from tagger.atomic import atomic_write_bytes
        from tagger.errors import TaggerError

        if Path(output).exists():
            raise TaggerError(f"{output} exists; not replacing it (choose another --output)")
        atomic_write_bytes(Path(output), text.encode("utf-8"))
        typer.echo(
            f"wrote {output}; train with: tagger train {output} --output runs/NAME", err=True
        )

    guarded(call)


@app.command(
    epilog="Example: tagger check data/wnut17/train.conll data/wnut17/dev.conll; "
    "tagger check configs/conll2003.yaml --data-root ../shared/data"
)
def check(
    data: Annotated[
        list[str],
        typer.Argument(
            help="A config (its train/dev/test), or data files, the training file first."
        ),
    ],
    data_root: Annotated[
        Path | None, typer.Option(help="With a config: where its relative data paths are.")
    ] = None,
    vectors: Annotated[
        str | None, typer.Option(help="Word vector file for the OOV rate (default: the config's).")
    ] = None,
    input_format: Annotated[
        InputFormat | None, typer.Option(help="File format; guessed from the extension.")
    ] = None,
    tag_column: Annotated[int, typer.Option(help="0-based tag column.")] = -1,
    json_: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Count sentences, tokens and labels per split and find what would break or mislead training
    (like 'spacy debug data'). Exit status 2 when the data has errors."""
    from tagger.check import check_corpus, config_splits, problems, report_tables, to_dict
    from tagger.config import Config, load_config

    def call() -> Any:
        if len(data) == 1 and data[0].endswith((".yaml", ".yml")):
            root = [f"data.root={data_root}"] if data_root else []
            cfg = load_config(data[0], root)
            return check_corpus(config_splits(cfg), cfg, vectors or cfg.embeddings.pretrained)
        cfg = Config()
        cfg.data.format = input_format.value if input_format else "auto"
        cfg.data.tag_column = tag_column
        names = ["train", "dev", "test"] if len(data) <= 3 else ["train"]
        names += [f"file {i + 1}" for i in range(len(names), len(data))]
        return check_corpus(dict(zip(names, data)), cfg, vectors)

    splits = guarded(call)
    if json_:
        typer.echo(json.dumps(to_dict(splits), indent=2))
    else:
        from rich.console import Console

        console = Console()
        for table in report_tables(splits):
            console.print(table)
        for split in splits:
            for line in split.warnings:
                console.print(f"warning: {line}", highlight=False, soft_wrap=True)
    found = problems(splits)
    if found:
        _fail(found[0] + (f" (and {len(found) - 1} more errors)" if len(found) > 1 else ""))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
