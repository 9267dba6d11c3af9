"""The one output writer (issue 25, items 1, 4 and 12): links written through, devices and FIFOs
written directly, temporary files created late and cleaned up, every OSError one error line,
SIGTERM handled like Ctrl-C."""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tiny_run import child, invoke, one_error_line, train_args

from tagger.atomic import TEMP, atomic_write_bytes
from tagger.data.conll import write_lines_atomic

INPUT = "EU\nrejects\nGerman\ncall\n\nPeter\nBlackburn\n"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, wnut40: Path) -> Path:
    tmp = tmp_path_factory.mktemp("out")
    result = invoke(*train_args(wnut40, tmp / "cache"), "--output", tmp / "run")
    assert result.exit_code == 0, result.output
    return tmp / "run"


def temps(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".old"))]


def source(tmp_path: Path) -> Path:
    path = tmp_path / "in.conll"
    path.write_text(INPUT, encoding="utf-8")
    return path


def test_symlink_is_written_through(run_dir, tmp_path):
    target = tmp_path / "real" / "pred.conll"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "link.conll"
    link.symlink_to(target)
    result = invoke("predict", run_dir, source(tmp_path), "--output", link)
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert target.read_text().splitlines()[0].startswith("EU ")
    assert temps(tmp_path) == [] and temps(target.parent) == []


def test_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "new.txt")
    write_lines_atomic(link, ["a", "b"])
    assert link.is_symlink() and (tmp_path / "new.txt").read_text() == "a\nb\n"


def test_fifo_is_written_directly(run_dir, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    result = invoke("predict", run_dir, source(tmp_path), "--output", fifo)
    reader.join(timeout=60)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still a FIFO, not a regular file
    assert received and received[0].decode().startswith("EU ")


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_device_node_is_written_not_replaced(run_dir, tmp_path):
    null = tmp_path / "null"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a copy of /dev/null
    result = invoke("predict", run_dir, source(tmp_path), "--output", null)
    assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    assert temps(tmp_path) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_full_disk_device_gives_one_error_line(run_dir, tmp_path):
    full = tmp_path / "full"
    os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))  # a copy of /dev/full: ENOSPC
    result = invoke("predict", run_dir, source(tmp_path), "--output", full)
    one_error_line(result, str(full), "No space left")
    assert stat.S_ISCHR(os.lstat(full).st_mode)


def test_dev_stdout_prints(run_dir, tmp_path):
    proc = child(["predict", run_dir, source(tmp_path), "--output", "/dev/stdout"], tmp_path)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert out.splitlines()[0].startswith("EU ")


def test_temp_file_is_created_only_when_output_is_ready(tmp_path):
    seen: list[list[str]] = []

    def lines():
        seen.append(temps(tmp_path))  # the input is being read: no temporary file yet
        yield "first"
        seen.append(temps(tmp_path))
        yield "second"

    write_lines_atomic(tmp_path / "out.txt", lines())
    assert seen[0] == [] and len(seen[1]) == 1 and TEMP.match(seen[1][0])
    assert str(os.getpid()) in seen[1][0]  # the writer's pid is in the name
    assert (tmp_path / "out.txt").read_text() == "first\nsecond\n" and temps(tmp_path) == []


def test_stale_temp_files_of_dead_writers_are_removed(run_dir, tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = tmp_path / f".pred.conll.tagger-{gone.pid}-0badc0de.tmp"
    stale.write_bytes(b"x" * 1000)
    live = tmp_path / ".pred.conll.tagger-1-0badc0de.tmp"  # pid 1 is alive: not ours to remove
    live.write_bytes(b"x")
    foreign = tmp_path / ".pred.conll.12345.tmp"  # not our naming: left alone
    foreign.write_bytes(b"x")
    result = invoke("predict", run_dir, source(tmp_path), "--output", tmp_path / "pred.conll")
    assert result.exit_code == 0, result.output
    assert not stale.exists() and live.exists() and foreign.exists()


def test_directory_where_a_file_is_needed(run_dir, tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    result = invoke("predict", run_dir, source(tmp_path), "--output", folder)
    one_error_line(result, str(folder), "directory")
    assert (folder / "keep.txt").read_text() == "mine"


def test_file_where_a_directory_is_needed(run_dir, tmp_path, wnut40):
    blocker = tmp_path / "file"
    blocker.write_text("mine")
    result = invoke("predict", run_dir, source(tmp_path), "--output", blocker / "pred.conll")
    one_error_line(result, "pred.conll", "not a directory")
    result = invoke("plot", run_dir, "--output", blocker)
    one_error_line(result, "file")
    result = invoke(*train_args(wnut40, tmp_path / "c"), "--output", blocker)
    one_error_line(result, str(blocker))
    assert blocker.read_text() == "mine"


def test_export_to_a_directory(run_dir, tmp_path):
    result = invoke("export", run_dir, "--output", tmp_path)
    one_error_line(result, str(tmp_path), "directory")


def fail_with(code: int, when=lambda path: True):
    """An os.replace that raises OSError(code) (naming the target) when ``when(target)``."""
    real = os.replace

    def replace(src, dst, *args, **kwargs):
        if when(str(dst)):
            raise OSError(code, os.strerror(code), str(dst))
        return real(src, dst, *args, **kwargs)

    return replace


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_os_errors_on_predict_output(run_dir, tmp_path, monkeypatch, code):
    out = tmp_path / "pred.conll"
    out.write_text("previous\n")
    monkeypatch.setattr(os, "replace", fail_with(code))
    result = invoke("predict", run_dir, source(tmp_path), "--output", out)
    one_error_line(result, str(out), os.strerror(code))
    assert out.read_text() == "previous\n" and temps(tmp_path) == []


def test_full_disk_while_writing_the_temp_file(tmp_path, monkeypatch):
    def no_space(_fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    out = tmp_path / "model.bin"
    out.write_bytes(b"old")
    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(Exception, match="No space left") as caught:
        atomic_write_bytes(out, b"new")
    assert type(caught.value).__name__ == "OutputError" and str(out) in str(caught.value)
    assert out.read_bytes() == b"old" and temps(tmp_path) == []


def test_full_disk_at_the_checkpoint_write(tmp_path, wnut40, monkeypatch):
    monkeypatch.setattr(os, "replace", fail_with(errno.ENOSPC, lambda p: p.endswith("state.pt")))
    result = invoke(*train_args(wnut40, tmp_path / "cache"), "--output", tmp_path / "run")
    one_error_line(result, "state.pt", "No space left")
    assert temps(tmp_path / "run" / "checkpoint") == []


def wait_for(condition, proc: subprocess.Popen, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def handles_sigterm(pid: int) -> bool:
    """Whether the process has a handler for SIGTERM (bit 15 of SigCgt in /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    caught = int(next(x for x in status.splitlines() if x.startswith("SigCgt:")).split()[1], 16)
    return bool(caught >> (signal.SIGTERM - 1) & 1)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_sigterm_during_predict_removes_the_temp_file(run_dir, tmp_path):
    out = tmp_path / "out" / "pred.conll"
    args = ["predict", run_dir, "-", "--input-format", "text", "--output", out]
    proc = child(args, tmp_path, stdin=subprocess.PIPE)
    proc.stdin.write("EU rejects German call\n" * 8300)  # one buffer of 8192 sentences and more
    proc.stdin.flush()  # stdin stays open: the child waits for more after writing the first part
    wait_for(lambda: out.parent.exists() and temps(out.parent), proc)
    wait_for(lambda: handles_sigterm(proc.pid), proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == ["error: interrupted by SIGTERM"], err
    assert temps(out.parent) == [] and not out.exists()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_sigterm_during_train_keeps_a_resumable_checkpoint(tmp_path, wnut40):
    run = tmp_path / "run"
    args = [*train_args(wnut40, tmp_path / "cache", epochs=200), "--output", run]
    proc = child(args, tmp_path)
    wait_for((run / "checkpoint" / "state.pt").exists, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: interrupted by SIGTERM"), err
    assert f"tagger train --resume {run}" in lines[0]
    assert temps(run) == [] and temps(run / "checkpoint") == []
    from tagger.checkpoint import read_config

    assert read_config(run).train.max_epochs == 200  # the run's config is there to resume


def test_dataset_output_never_replaces_a_folder_it_did_not_write(run_dir, tmp_path):
    import datasets

    rows = {"tokens": [["I", "love", "Paris"], ["Hi"]], "tags": [["O", "O", "O"], ["O"]]}
    datasets.Dataset.from_dict(rows).save_to_disk(str(tmp_path / "ds"))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    result = invoke("predict", run_dir, f"hf:{tmp_path / 'ds'}", "--output", mine)
    one_error_line(result, str(mine), "not replaced")
    assert (mine / "notes.txt").read_text() == "keep me"
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "real")
    for _ in range(2):  # written through the link, then replaced as a dataset it wrote
        result = invoke("predict", run_dir, f"hf:{tmp_path / 'ds'}", "--output", link)
        assert result.exit_code == 0, result.output
        assert link.is_symlink()
        assert datasets.load_from_disk(str(link))["pred_tags"][1] != []
    assert temps(tmp_path) == []


def test_empty_output_path_is_one_error_line(run_dir, tmp_path):
    result = invoke("predict", run_dir, source(tmp_path), "--output", "")
    one_error_line(result, "output path is empty")
