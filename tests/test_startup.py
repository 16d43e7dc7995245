"""Start-up stays light: `actstat --help` does not import numpy, a probe never imports matplotlib."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
from click.testing import CliRunner
from actstat.cli import cli
r = CliRunner().invoke(cli, {args!r})
assert r.exit_code == 0, r.output
print(sorted(m for m in {mods!r} if m in sys.modules))
"""


def _loaded(args: list[str], mods: list[str]) -> str:
    out = subprocess.run([sys.executable, "-c", CODE.format(args=args, mods=mods)], capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


def test_help_does_not_import_numpy_or_rich() -> None:
    assert _loaded(["--help"], ["numpy", "rich", "matplotlib"]) == "[]"


def test_probe_without_pictures_never_imports_matplotlib() -> None:
    args = ["probe", "--layers", "2", "--width", "8", "--batch", "4"]
    assert _loaded(args, ["numpy", "matplotlib"]) == "['numpy']"


def test_openblas_idle_threads_are_asked_to_sleep_unless_the_user_chose() -> None:
    import os

    code = "import os, actstat.cli, numpy; print(os.environ['OPENBLAS_THREAD_TIMEOUT'])"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "4"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**env, "OPENBLAS_THREAD_TIMEOUT": "12"})
    assert out.stdout.strip() == "12"


def test_forward_probe_imports_neither_the_backward_pass_nor_rich_for_json() -> None:
    args = ["probe", "--layers", "2", "--width", "8", "--batch", "4", "--format", "json"]
    assert _loaded(args, ["actstat.backward", "rich", "actstat.rendering.records"]) == \
        "['actstat.rendering.records']"
    assert _loaded(args + ["--grad"], ["actstat.backward"]) == "['actstat.backward']"


def test_table_probe_loads_rich() -> None:
    # (imported on a helper thread during the probe, then used by the table)
    args = ["probe", "--layers", "2", "--width", "8", "--batch", "4"]
    assert _loaded(args, ["rich", "actstat.rendering.table"]) == "['actstat.rendering.table', 'rich']"
