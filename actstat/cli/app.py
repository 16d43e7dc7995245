"""The group and its error handling: every error is one line with a documented exit status.

Exit status: 0 success; 1 error while running (e.g. a file that cannot be written);
2 usage error (bad option, bad name or parameter, impossible size, too little memory);
3 a warning named by --fail-on fired; 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import click

from .._version import __version__
from ..errors import ActstatError, ConfigError, DataError

# OpenBLAS's idle threads spin for about 0.1 s after every matrix product, holding the core that the
# weight-drawing helper thread and numpy's single-threaded statistics need in the meantime (a probe's
# non-product work took 1.5x as long). This asks them to sleep at once. OpenBLAS reads it when numpy
# first loads it, which is after this point; a value the user has set is kept.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
EXIT_FAIL_ON = 3
EXIT_INTERRUPTED = 130


def _one_line(msg: str) -> str:
    return " ".join(msg.split())


class Interrupted(BaseException):
    """Raised by our SIGINT handler: click turns KeyboardInterrupt into noise, this passes through.
    A BaseException, so that atomic writers clean up on the way out."""


def _on_sigint(signum: int, frame: Any) -> None:
    raise Interrupted()


class Terminated(Interrupted):
    """Raised on SIGTERM or SIGHUP, so that temporary files are removed as on Ctrl-C; exit 128 + signum."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated(signum)


def _what_was_written() -> str:
    from ..fileio import written

    if not written:
        return "no output was written."
    return f"only {', '.join(written)} {'was' if len(written) == 1 else 'were'} written."


class ActstatGroup(click.Group):
    """A group whose every error is one line on stderr with a documented exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # The reader went away (`actstat ... | head`): stop quietly, as the Python docs advise,
            # pointing stdout at devnull so the interpreter's final flush cannot complain.
            import os

            with contextlib.suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            raise click.exceptions.Exit(0) from None

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        import signal
        import threading

        fileio = sys.modules.get("actstat.fileio")  # (a new invocation in this process has written nothing)
        if fileio is not None:
            fileio.written.clear()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, _on_sigint)
            for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
                h = signal.getsignal(sig) if sig is not None else None
                if sig is not None and (h is signal.SIG_DFL or getattr(h, "_actstat_early", False)):  # (not SIG_IGN)
                    signal.signal(sig, _on_sigterm)
        try:
            if sys.stdout is None:  # started with stdout closed (>&-): nowhere to put the report
                raise click.ClickException("standard output is closed; redirect it to a file or a pipe")
            rv = super().main(args, prog_name or "actstat", complete_var, standalone_mode=False, **extra)
            sys.stdout.flush()  # (a full disk or a closed pipe is reported here, not at interpreter exit)
        except click.exceptions.NoArgsIsHelpError as e:
            click.echo(e.ctx.get_help() if e.ctx else str(e), err=True)
            sys.exit(2)
        except click.ClickException as e:
            click.echo(f"Error: {_one_line(e.format_message())}", err=True)
            sys.exit(e.exit_code)
        except Terminated as e:
            with contextlib.suppress(OSError, ValueError):  # (after SIGHUP the terminal may be gone)
                click.echo(f"Terminated: {_what_was_written()}", err=True)
            sys.exit(128 + e.signum)
        except (Interrupted, click.Abort, KeyboardInterrupt):
            click.echo(f"Interrupted: {_what_was_written()}", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except MemoryError:
            click.echo("Error: out of memory; use smaller --batch/--width/--layers", err=True)
            sys.exit(1)
        except OSError as e:  # writing the output failed (a full disk, a file name too long, ...)
            where = f" {e.filename}" if e.filename else " standard output"
            with contextlib.suppress(OSError, ValueError):
                click.echo(f"Error: cannot write{where}: {e.strerror or e}", err=True)
            sys.exit(1)
        except Exception as e:  # a bug: still one line, never a traceback
            click.echo(f"Error: internal error ({type(e).__name__}: {_one_line(str(e))}); please report it",
                       err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


@contextlib.contextmanager
def core_errors() -> Iterator[None]:
    """Convert the core's errors once, at the edge: ConfigError -> exit 2, others -> exit 1."""
    try:
        yield
    except (ConfigError, DataError) as e:
        raise click.UsageError(str(e)) from None
    except ActstatError as e:
        raise click.ClickException(str(e)) from None


# --- parameter types ------------------------------------------------------------------


@click.group(cls=ActstatGroup, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="actstat")
def cli() -> None:
    """Per-layer activation statistics of a deep network at initialisation, with diagnoses.

    \b
    Example:
        actstat probe --init he --act relu --layers 10

    Exit status: 0 ok, 1 error, 2 usage error, 3 a --fail-on warning fired, 130 interrupted.
    """
