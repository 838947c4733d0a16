"""Command line of the sample bank: ``init`` (its key pair) and ``serve``."""

from __future__ import annotations

import argparse
import sys

from simulators.bank.config import Settings
from simulators.bank.keys import bank_key


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulators.bank", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("init", help="create the bank's signing key and public JWKS if missing")
    serve = commands.add_parser("serve", help="serve the bank's pages (runs init first)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8003)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "init":
        settings = Settings.from_env()
        bank_key(settings)
        print(f"bank key ready: {settings.key_file}, public JWKS {settings.jwks_file}")
        return 0
    import uvicorn

    from simulators.bank.web import create_app

    settings = Settings.from_env(public_url=f"http://{args.host}:{args.port}")
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
