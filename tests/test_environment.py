"""Works without HOME, under LC_ALL=C, with NO_COLOR or TERM=dumb; the same command gives byte-identical output."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ARGS = ["probe", "--layers", "3", "--width", "40", "--batch", "50", "--act", "tanh", "--init", "normal:0.01"]


def run(args: list[str], env_changes: dict[str, str | None]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    for k, v in env_changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return subprocess.run([sys.executable, "-m", "actstat", *args], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.mark.parametrize(
    "env",
    [{"HOME": None}, {"LC_ALL": "C", "LANG": "C"}, {"NO_COLOR": "1"}, {"TERM": "dumb"},
     {"HOME": None, "LC_ALL": "C", "TERM": "dumb", "NO_COLOR": None}],
    ids=["no-home", "lc-all-c", "no-color", "term-dumb", "all"],
)
@pytest.mark.parametrize("fmt", ["table", "json"])
def test_runs_in_odd_environments(env: dict[str, str | None], fmt: str) -> None:
    r = run([*ARGS, "--format", fmt], env)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert "\x1b[" not in r.stdout
    if fmt == "json":
        json.loads(r.stdout)
    else:
        assert "vanishing" in r.stdout


def test_same_command_same_bytes() -> None:
    a = run([*ARGS, "--format", "json"], {})
    b = run([*ARGS, "--format", "json"], {"PYTHONHASHSEED": "123"})
    assert a.returncode == 0 and a.stdout == b.stdout
