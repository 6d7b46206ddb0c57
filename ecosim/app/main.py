"""The ``ecosim-app`` console script: serve the page on this machine.

ecosim-app                       # http://127.0.0.1:8765/, runs under results/app
ecosim-app --port 9000 --results results/pricing
ecosim-app --runs-root results --runs-root /shared/results   # where runs may be opened from

The server listens on the loopback interface only (``--host`` changes it, at your own risk: the
page runs what anyone who reaches it asks for). The page writes runs under ``--results`` only,
and opens finished runs from under it and the runs roots only (``ecosim.app.run_dirs``). It
runs Solara's server in production mode, without its version check and usage telemetry (a page
on a laptop calls nobody).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

#: The environment variable that tells the page where runs go.
RESULTS_ENV = "ECOSIM_APP_RESULTS"
#: The environment variable that lists (``os.pathsep``-separated) where runs may be opened from.
RUNS_ROOTS_ENV = "ECOSIM_APP_RUNS_ROOTS"
DEFAULT_PORT = 8765


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of ``ecosim-app``."""
    parser = argparse.ArgumentParser(
        prog="ecosim-app", description="Serve ecosim's page for strategists (a local web page).")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port to listen on (default {DEFAULT_PORT})")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to listen on (default 127.0.0.1, this machine only)")
    parser.add_argument("--results", default="results/app",
                        help="directory the page's runs are written under (default results/app)")
    parser.add_argument("--runs-root", action="append", metavar="DIR",
                        help="a directory whose finished runs the page may open, besides "
                             "--results (repeatable; default: results)")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port: {args.port} is not allowed; expected a port in [1, 65535]")
    return args


def page_environment(args: argparse.Namespace) -> dict[str, str]:
    """What the page reads from the environment: where runs go and may be opened from.

    Paths are resolved against the current directory now, once: the runs roots are the results
    directory, then each ``--runs-root`` (default: ``results``, where ``ecosim`` writes).
    """
    results = Path(args.results).expanduser().resolve()
    roots = [results, *(Path(root).expanduser().resolve()
                        for root in args.runs_root or ["results"])]
    return {RESULTS_ENV: str(results),
            RUNS_ROOTS_ENV: os.pathsep.join(dict.fromkeys(str(root) for root in roots))}


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``ecosim-app`` console script: print the URL, then serve."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    environment = page_environment(args)
    os.environ.update(environment)
    os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
    roots = ", ".join(environment[RUNS_ROOTS_ENV].split(os.pathsep))
    print(f"ecosim-app: the page is at http://{args.host}:{args.port}/ (runs go to "
          f"{environment[RESULTS_ENV]}; finished runs open from {roots}; Ctrl+C stops it)",
          flush=True)
    try:
        from solara.__main__ import cli
    except ImportError:
        sys.exit("ecosim-app: the page needs Solara: pip install -e \".[app]\" (or \".[test]\")")

    cli(["run", "ecosim.app.page", "--host", args.host, "--port", str(args.port),
         "--production", "--no-open", "--no-check-version", "--log-level", "warning"])


if __name__ == "__main__":
    main()
