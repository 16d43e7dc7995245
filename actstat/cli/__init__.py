"""The command line: parse, call the core, render. Only this package imports click.

One module per command, each a thin client of the library (parse, call the core, render):
``app`` holds the group and its error handling, ``options`` the parameter types and the option
bundles that several commands share, ``common`` the run helpers. Importing a command module
registers its command on the group; the imports below are the registry.
"""

from __future__ import annotations


def _quiet_early_interrupts() -> None:
    """Run as the ``actstat`` program: until the group installs its handlers, a Ctrl-C (or SIGTERM/SIGHUP)
    during the imports ends the process with the usual line and status instead of a traceback."""
    import os
    import signal
    import sys
    import threading

    prog = sys.argv[0] if sys.argv else ""
    name, parent = os.path.basename(prog), os.path.basename(os.path.dirname(prog))
    if not (name == "actstat" or (name == "__main__.py" and parent == "actstat")):  # (not pytest's __main__)
        return
    if threading.current_thread() is not threading.main_thread():
        return

    def stop(signum: int, frame: object) -> None:
        os.write(2, b"Interrupted: no output was written.\n" if signum == signal.SIGINT
                 else b"Terminated: no output was written.\n")
        os._exit(130 if signum == signal.SIGINT else 128 + signum)

    stop._actstat_early = True  # type: ignore[attr-defined]  (the group replaces it: app.ActstatGroup.main)
    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None and signal.getsignal(sig) in (signal.SIG_DFL, signal.default_int_handler):
            signal.signal(sig, stop)


_quiet_early_interrupts()

from .app import EXIT_FAIL_ON, EXIT_INTERRUPTED, cli  # noqa: E402
from .common import progress_bar

from . import probe, compare, report, gallery, theory, listing  # noqa: E402,F401,I001  (registers the commands)
from . import search, trainability  # noqa: E402,F401,I001  (registers the commands)
from . import train  # noqa: E402,F401,I001  (registers the command)
from . import train_forms  # noqa: E402,F401,I001  (report --train, compare --train)

__all__ = ["EXIT_FAIL_ON", "EXIT_INTERRUPTED", "cli", "progress_bar"]
