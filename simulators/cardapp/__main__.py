"""Command line of the card app: ``init``, ``serve``, ``sign`` and ``reset-lock``.

``sign`` exits 0 when the portal accepted, 1 when it refused, 2 on a card error (the contract's codes)
and 3 when the request could not be fetched or used (bad origin, malformed, portal unreachable).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from simulators.cardapp.card import CardStore
from simulators.cardapp.client import PortalClient
from simulators.cardapp.config import Settings
from simulators.cardapp.errors import UnknownCard
from simulators.cardapp.provision import init
from simulators.cardapp.service import approve


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulators.cardapp", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("init", help="create the CA and the demo cards (idempotent)")
    serve = commands.add_parser("serve", help="run init, then serve the card app and the CA's CRL")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8002)
    sign = commands.add_parser("sign", help="sign a signing request of the portal with a card")
    sign.add_argument("request_url")
    sign.add_argument("--card", required=True, help="person id from demo/people.json")
    secret = sign.add_mutually_exclusive_group(required=True)
    secret.add_argument("--pin", help="4-digit PIN (user-authentication certificate)")
    secret.add_argument("--password", help="6-16 character password (signature certificate)")
    reset = commands.add_parser("reset-lock", help="unlock a card, as the municipal office would")
    reset.add_argument("--card", required=True)
    return parser


def _init(settings: Settings) -> int:
    started = time.monotonic()
    _, _, report = init(settings)
    print(
        f"cards: {len(report.issued)} issued, {len(report.kept)} kept, {len(report.revoked)} revoked "
        f"({time.monotonic() - started:.1f}s); CA in {settings.ca_dir}, cards in {settings.db_path}"
    )
    return 0


def _serve(settings: Settings, host: str, port: int) -> int:
    import uvicorn

    from simulators.cardapp.web import create_app

    _init(settings)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
    return 0


def _sign(settings: Settings, args: argparse.Namespace) -> int:
    store = CardStore(settings.db_path)
    client = PortalClient(settings.allowed_origins, settings.http_timeout)
    secret_kind, secret = ("pin", args.pin) if args.pin is not None else ("password", args.password)
    outcome = approve(store, client, args.request_url, args.card, secret, secret_kind=secret_kind)
    if outcome.status == "accepted":
        print(json.dumps(outcome.portal, ensure_ascii=False))
    else:
        print(f"{outcome.message['ja']}\n{outcome.message['en']}", file=sys.stderr)
    return outcome.exit_code


def _reset(settings: Settings, card_id: str) -> int:
    try:
        card = CardStore(settings.db_path).reset(card_id)
    except UnknownCard as error:
        print(error.text(), file=sys.stderr)
        return 2
    print(f"{card.id}: ロックを解除しました / unlocked")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings.from_env()
    if args.command == "init":
        return _init(settings)
    if args.command == "serve":
        return _serve(settings, args.host, args.port)
    if args.command == "sign":
        return _sign(settings, args)
    return _reset(settings, args.card)


if __name__ == "__main__":
    sys.exit(main())
