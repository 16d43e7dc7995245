"""Errors raised by the actstat core.

The core never imports click: it raises these, and the CLI converts them once,
at the edge, into an exit status (see ``actstat.cli``).
"""

from __future__ import annotations


class ActstatError(Exception):
    """Base class for every error actstat raises on purpose."""


class ConfigError(ActstatError, ValueError):
    """A configuration that makes no sense (bad size, bad parameter, ...).

    The CLI maps it to exit status 2, like a usage error.
    """


class UnknownNameError(ConfigError, KeyError):
    """A name that is not in a registry; the message lists the valid names."""

    def __init__(self, kind: str, name: str, valid: list[str]) -> None:
        self.kind = kind
        self.name = name
        self.valid = sorted(valid)
        import difflib  # (only for this message: not at start-up)

        close = difflib.get_close_matches(name, self.valid, n=1, cutoff=0.5)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        msg = f"unknown {kind} '{name}'.{hint} Valid: {', '.join(self.valid)}"
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class MemoryLimitError(ConfigError):
    """The configuration's arrays would not fit in the memory available."""


class DataError(ActstatError, ValueError):
    """User-supplied data (an input file) that cannot be used."""
