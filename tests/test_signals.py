"""Ctrl-C: status 130, one line on stderr, no partial output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest


def test_sigint_during_a_long_probe_exits_130_with_one_line(tmp_path) -> None:
    env = dict(os.environ, NO_COLOR="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "actstat", "probe", "--layers", "100000", "--width", "400", "--batch", "400",
         "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )
    time.sleep(2.0)  # well into the layer loop (imports take ~0.3 s)
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert out == ""  # the JSON document is written whole or not at all
    assert err.strip().splitlines() == ["Interrupted: no output was written."]
    assert list(tmp_path.iterdir()) == []


def test_sigint_during_a_parallel_comparison_stops_the_workers(tmp_path) -> None:
    env = dict(os.environ, NO_COLOR="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "actstat", "compare", "--act", "tanh,relu", "--init", "xavier,he", "--layers",
         "20000", "--width", "300", "--batch", "300", "--jobs", "2", "--plot", "std.png"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )
    time.sleep(4.0)  # the workers are busy by now
    assert proc.poll() is None
    t = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - t < 10  # not after the workers' current probes (minutes away)
    assert proc.returncode == 130
    assert out == "" and err.strip().splitlines() == ["Interrupted: no output was written."]
    assert list(tmp_path.iterdir()) == []  # no plot, no temporary file


# --- issue 19 item 5: SIGTERM and SIGHUP clean up like SIGINT, for every command that writes files ----

def _run_until_writing(args: list[str], cwd, sig: int, timeout: float = 90) -> tuple[int, str]:
    """Start ``actstat ARGS`` in an empty ``cwd``, send ``sig`` as soon as a (temporary) file appears there."""
    env = dict(os.environ, NO_COLOR="1")
    proc = subprocess.Popen([sys.executable, "-m", "actstat", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=cwd)
    t = time.monotonic()
    while proc.poll() is None and not any(cwd.iterdir()) and time.monotonic() - t < timeout:
        time.sleep(0.002)
    seen = sorted(p.name for p in cwd.iterdir())
    assert proc.poll() is None, f"finished before it could be interrupted: {seen}"
    assert all(name.startswith(".") for name in seen), seen  # a temporary file, not the output yet
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


WRITERS = {
    "probe --hist": ["probe", "--layers", "60", "--width", "50", "--batch", "50", "--hist", "h.png", "--dpi", "1200"],
    "probe --plot": ["probe", "--layers", "30", "--width", "50", "--batch", "50", "--plot", "p.pdf", "--dpi", "1200"],
    "compare --plot": ["compare", "--act", "tanh,relu", "--layers", "5", "--width", "20", "--batch", "20",
                       "--jobs", "1", "--plot", "c.png", "--dpi", "1200"],
    "report": ["report", "--layers", "40", "--width", "30", "--batch", "30", "--out", "rep", "--dpi", "600"],
    "theory --phase-diagram": ["theory", "--phase-diagram", "ph.png", "--dpi", "1200"],
    "train --plot": ["train", "--data", "spiral", "--layers", "2", "--width", "20", "--steps", "20",
                     "--plot", "t.png", "--dpi", "1200"],
    "trainability --plot": ["trainability", "--sigma-w", "1.0:2.0:2", "--layers", "2:4:2", "--plot", "m.png",
                            "--dpi", "1200"],
    "gallery": ["gallery", "g", "--only", "cs231n-tanh-small", "--dpi", "1200"],
    "search --plot": ["search", "--data", "blobs", "--lr", "1e-3:1e-1", "--trials", "2", "--steps", "5",
                      "--widths", "8x2", "--plot", "s.png", "--dpi", "1200"],
}


@pytest.mark.parametrize("name", list(WRITERS))
def test_sigterm_and_sighup_leave_no_temporary_file(name: str, tmp_path) -> None:
    sig = signal.SIGHUP if name in ("probe --plot", "report") else signal.SIGTERM
    code, err = _run_until_writing(WRITERS[name], tmp_path, sig)
    assert code == 128 + sig, err
    last = err.strip().splitlines()[-1]
    assert "Traceback" not in err
    left = sorted(p.name for p in tmp_path.iterdir())
    if last != "Terminated: no output was written.":  # the signal came as the output was put in place
        assert last.startswith("Terminated: only ") and left and all(name in last for name in left), (last, left)
    assert not [name for name in left if name.startswith(".")], left  # never a temporary file
    assert left == [] or last != "Terminated: no output was written.", left


@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "Interrupted"),
                                             (signal.SIGTERM, 128 + signal.SIGTERM, "Terminated")])
def test_a_signal_during_the_imports_prints_no_traceback(sig: int, code: int, word: str, tmp_path) -> None:
    # as the program: the command modules import heavy libraries before the group installs its handlers;
    # a signal in between (here: right after actstat.cli's first lines) must end it with the usual line.
    # (A signal during Python's own start-up, before any actstat code runs, is out of actstat's reach.)
    src = ("import os, signal, sys; sys.argv = ['actstat', 'probe']; import actstat.cli.app;"
           f" import actstat.cli; os.kill(os.getpid(), {int(sig)}); import time; time.sleep(5); print('not stopped')")
    env = dict(os.environ, NO_COLOR="1")
    # the handler is installed by actstat/cli/__init__.py's first lines: call it as the import would
    src = src.replace("import actstat.cli;", "import actstat.cli as c; c._quiet_early_interrupts();")
    p = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, env=env, cwd=tmp_path,
                       timeout=60, check=False)
    assert p.returncode == code and p.stdout == "", (p.returncode, p.stderr)
    assert p.stderr.strip().splitlines() == [f"{word}: no output was written."], p.stderr


# --- issue 16: Ctrl-C during the training forms of compare and report --------------------------------

@pytest.mark.parametrize("args", [
    ["compare", "--train", "--data", "blobs", "--optimizer", "sgd,adam", "--steps", "1000000", "--jobs", "2",
     "--plot", "curves.png"],
    ["report", "--train", "--data", "blobs", "--steps", "1000000", "--out", "rep"],
], ids=["compare --train --jobs 2", "report --train"])
def test_sigint_while_training_exits_130_and_leaves_nothing(args: list[str], tmp_path) -> None:
    env = dict(os.environ, NO_COLOR="1")
    proc = subprocess.Popen([sys.executable, "-m", "actstat", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    time.sleep(3.0)  # training by now (a million steps: hours away from the end)
    assert proc.poll() is None
    t = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - t < 10
    assert proc.returncode == 130, err
    assert out == "" and err.strip().splitlines() == ["Interrupted: no output was written."]
    assert list(tmp_path.iterdir()) == []  # no picture, no report directory, no temporary file


def test_the_checkpoint_process_dies_with_the_training(tmp_path) -> None:
    """`train --every 10` on a long run computes its checkpoints in a forked helper process: it ends when
    the training ends, even by SIGKILL (which nothing can catch), and Ctrl-C still gives 130."""
    def children(pid: int) -> list[int]:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]

    env = dict(os.environ, NO_COLOR="1")
    cmd = [sys.executable, "-m", "actstat", "train", "--data", "blobs", "--steps", "1000000", "--every", "10",
           "--format", "ndjson"]
    for sig, code in ((signal.SIGKILL, -signal.SIGKILL), (signal.SIGINT, 130)):
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                cwd=tmp_path)
        try:
            for _ in range(3):
                proc.stdout.readline()  # type: ignore[union-attr]  (the header, then checkpoints: training)
            kids = children(proc.pid)
            assert len(kids) == 1, kids
            proc.send_signal(sig)
            proc.communicate(timeout=30)
        finally:
            proc.kill()
        assert proc.returncode == code
        t = time.monotonic()
        while time.monotonic() - t < 10:
            try:
                with open(f"/proc/{kids[0]}/stat") as f:
                    if f.read().split()[2] == "Z":  # (a zombie until reaped: gone)
                        break
            except FileNotFoundError:
                break
            time.sleep(0.05)
        assert time.monotonic() - t < 10, "the checkpoint process outlived the training"
