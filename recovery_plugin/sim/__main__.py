"""``python -m recovery_plugin.sim serve --port N --data-dir DIR [--faults PATH] [--host H]
[--token TOKEN] [--ready-file PATH]``: run the simulated service in the foreground."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m recovery_plugin.sim", description="Simulated election-poll service."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP service until SIGTERM/Ctrl-C")
    serve.add_argument("--port", type=int, required=True, help="port to bind (0 picks one)")
    serve.add_argument("--data-dir", type=Path, required=True, help="holds sim.db and logs")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--faults", type=Path, default=None, help="faults file (JSON or .toml)")
    serve.add_argument("--token", default=None, help="ingest bearer token (default: env)")
    serve.add_argument("--ready-file", type=Path, default=None, help="written once listening")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from recovery_plugin.sim.server import ServeError, serve

    try:
        serve(
            port=args.port,
            data_dir=args.data_dir,
            host=args.host,
            token=args.token,
            faults_path=args.faults,
            ready_file=args.ready_file,
        )
    except ServeError as exc:
        print(f"sim serve: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"sim serve: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
