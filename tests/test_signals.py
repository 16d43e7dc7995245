"""Ctrl-C: status 130, one line on stderr, no partial output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


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
