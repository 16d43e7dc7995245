"""The options that choose where a command's tasks run (actstat.executor): --jobs and --cluster."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click

from .options import _with_options


def _check_cluster(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    from ..errors import ConfigError
    from ..executor import check_cluster_address

    try:
        return check_cluster_address(value)
    except ConfigError as e:
        raise click.BadParameter(str(e).split(": ", 1)[-1], ctx, param) from None


def executor_option_list(what: str) -> list[Callable[..., Any]]:
    return [
        click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
                     help=f"Parallel local processes for the {what} (results equal --jobs 1).  "
                     "[default: the number of cores]"),
        click.option("--cluster", envvar="ACTSTAT_CLUSTER", default=None, callback=_check_cluster,
                     metavar="tcp://HOST:PORT",
                     help=f"Run the {what} on this Dask distributed scheduler instead (pip install"
                     " 'actstat[dask]'; the workers need the same actstat). Results equal --jobs 1."
                     "  [env var: ACTSTAT_CLUSTER]"),
    ]


def executor_options(what: str) -> Callable[..., Any]:
    return _with_options(executor_option_list(what))


def resolve_executor(jobs: int | None, cluster: str | None) -> tuple[int, str | None]:
    """(jobs, cluster): --jobs on the command line wins over ACTSTAT_CLUSTER; both options given is a
    usage error."""
    if cluster is not None and jobs is not None:
        ctx = click.get_current_context()
        from click.core import ParameterSource

        if ctx.get_parameter_source("cluster") != ParameterSource.ENVIRONMENT:
            raise click.UsageError("give --jobs (local processes) or --cluster (a Dask cluster), not both")
        cluster = None
    return (jobs or os.cpu_count() or 1), cluster
