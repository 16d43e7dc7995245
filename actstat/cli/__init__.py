"""The command line: parse, call the core, render. Only this package imports click.

One module per command, each a thin client of the library (parse, call the core, render):
``app`` holds the group and its error handling, ``options`` the parameter types and the option
bundles that several commands share, ``common`` the run helpers. Importing a command module
registers its command on the group; the imports below are the registry.
"""

from __future__ import annotations

from .app import EXIT_FAIL_ON, EXIT_INTERRUPTED, cli
from .common import progress_bar

from . import probe, compare, report, gallery, theory, listing  # noqa: E402,F401,I001  (registers the commands)
from . import search, trainability  # noqa: E402,F401,I001  (registers the commands)
from . import train  # noqa: E402,F401,I001  (registers the command)
from . import train_forms  # noqa: E402,F401,I001  (report --train, compare --train)

__all__ = ["EXIT_FAIL_ON", "EXIT_INTERRUPTED", "cli", "progress_bar"]
