"""The ``ecosim-app`` console script: serve the page on this machine.

ecosim-app                       # http://127.0.0.1:8765/, runs under results/app
ecosim-app --port 9000 --results results/pricing

The server listens on the loopback interface only (``--host`` changes it, at your own risk: the
page runs what anyone who reaches it asks for). It runs Solara's server in production mode,
without its version check and usage telemetry (a page on a laptop calls nobody).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

#: The environment variable that tells the page where runs go.
RESULTS_ENV = "ECOSIM_APP_RESULTS"
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
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port: {args.port} is not allowed; expected a port in [1, 65535]")
    return args


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``ecosim-app`` console script: print the URL, then serve."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    results = Path(args.results).expanduser().resolve()
    os.environ[RESULTS_ENV] = str(results)
    os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
    print(f"ecosim-app: the page is at http://{args.host}:{args.port}/ (runs go to {results}; "
          "Ctrl+C stops it)", flush=True)
    try:
        from solara.__main__ import cli
    except ImportError:
        sys.exit("ecosim-app: the page needs Solara: pip install -e \".[app]\" (or \".[test]\")")

    cli(["run", "ecosim.app.page", "--host", args.host, "--port", str(args.port),
         "--production", "--no-open", "--no-check-version", "--log-level", "warning"])


if __name__ == "__main__":
    main()
