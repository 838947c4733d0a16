"""Command line: ``python -m simulators.agency <command>``: init, serve, code, schemas, sender-credentials,
send-status-report, lookup-account.

``init`` (re)builds the records, ``serve`` runs init then uvicorn, ``code`` prints a demo resident's
agency-specific codes (for curl sessions), ``schemas`` writes (or with ``--check`` compares) the payload
contracts in contracts/self-information/. ``sender-credentials`` makes (once) and shows the notice-sending
agency's key, JWKS and webhook secret for the portal's staff; ``send-status-report`` sends a resident the
child-rearing allowance status report (現況届) through the portal's agency API; ``lookup-account`` asks it
for a resident's public-fund account to pay them.
Configuration comes from environment variables only; this module
must never write the My Number anywhere but the terminal that asked for a code derived from it.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

import httpx

from . import schemas, sender
from .codes import agency_code
from .config import Settings
from .seed import initialise
from .store import Store


def _init(settings: Settings) -> None:
    summary = initialise(settings)
    print(
        f"agency simulator: {summary.agencies} agencies, {summary.residents} resident records, "
        f"{summary.payloads} payloads, {summary.provision_records} provision records, "
        f"{summary.bank_accounts} bank accounts in {summary.db_path}"
    )


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

    _init(settings)
    # A restart is a healthy start: fault overrides from a previous run would otherwise linger unseen.
    Store(settings.db_path).clear_faults()
    uvicorn.run(
        "simulators.agency.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


def _code(settings: Settings, person_id: str, agency_id: str | None) -> int:
    people = json.loads(settings.people_file.read_text(encoding="utf-8"))["people"]
    agencies = json.loads(settings.agencies_file.read_text(encoding="utf-8"))["agencies"]
    person = next((p for p in people if p["id"] == person_id), None)
    if person is None:
        print(f"no person '{person_id}' in {settings.people_file}", file=sys.stderr)
        return 1
    for agency in agencies:
        if not agency["categories"]:
            continue  # the bank check knows nobody by code
        if agency_id in (None, agency["id"]):
            print(f"{agency['id']}\t{agency_code(agency['code_secret'], person['my_number'])}")
    return 0


def _schemas(directory: Path, check: bool) -> int:
    if check:
        stale = schemas.differences(directory)
        for name in stale:
            print(f"out of date: {directory / name}", file=sys.stderr)
        if stale:
            print("run: python -m simulators.agency schemas", file=sys.stderr)
        return 1 if stale else 0
    changed = schemas.write(directory)
    print(f"agency simulator: {len(changed)} schema file(s) written in {directory}")
    return 0


def _sender_credentials(settings: Settings, register_args: bool) -> int:
    if register_args:
        # One argument a line, for `mapfile` in scripts/demo.
        print("\n".join(sender.register_arguments(settings)))
        return 0
    creds = sender.sender_credentials(settings)
    print(
        json.dumps(
            {
                "client_id": creds.client_id,
                "agency": creds.agency_id,
                "jwks_file": str(creds.jwks_file),
                "webhook_url": sender.webhook_url(settings),
                "webhook_secret_file": str(creds.webhook_secret_file),
                "jwks": json.loads(creds.jwks_file.read_text(encoding="utf-8")),
            },
            indent=2,
        )
    )
    return 0


def _send_status_report(settings: Settings, args: argparse.Namespace) -> int:
    try:
        result = sender.send_status_report(
            settings,
            portal=args.portal,
            person_id=args.person,
            today=args.today,
            audience=args.audience,
            idempotency_key=args.idempotency_key,
        )
    except LookupError as exc:
        print(exc, file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(f"could not reach the portal: {exc}", file=sys.stderr)
        return 1
    print(f"HTTP {result.status} (Idempotency-Key: {result.idempotency_key})", file=sys.stderr)
    print(json.dumps(result.body, ensure_ascii=False, indent=2))
    return 0 if result.status in (200, 201) else 1


def _lookup_account(settings: Settings, args: argparse.Namespace) -> int:
    try:
        result = sender.lookup_account(
            settings, portal=args.portal, person_id=args.person, purpose=args.purpose, audience=args.audience
        )
    except LookupError as exc:
        print(exc, file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(f"could not reach the portal: {exc}", file=sys.stderr)
        return 1
    print(f"HTTP {result.status}", file=sys.stderr)
    print(json.dumps(result.body, ensure_ascii=False, indent=2))
    return 0 if result.status == 200 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.agency", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("init", help="create or rebuild the agencies' records (idempotent)")
    serve = commands.add_parser("serve", help="init, then serve HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8001)
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    code = commands.add_parser("code", help="print a demo resident's agency-specific codes")
    code.add_argument("person_id", help="an id from demo/people.json, e.g. yamada-hanako")
    code.add_argument("--agency", default=None, help="only this agency")
    schema = commands.add_parser(
        "schemas", help="write the payloads' JSON Schemas (contracts/self-information)"
    )
    schema.add_argument("--dir", type=Path, default=schemas.CONTRACTS_DIR, help="where the files live")
    schema.add_argument("--check", action="store_true", help="only compare; exit 1 when a file differs")
    creds = commands.add_parser(
        "sender-credentials", help="make (once) and show the sending agency's JWKS and webhook secret"
    )
    creds.add_argument(
        "--register-args",
        action="store_true",
        help="print the arguments of the portal's manage.py agency_client_register, one a line",
    )
    send = commands.add_parser(
        "send-status-report", help="send a resident the 児童扶養手当 status report (現況届) via the portal"
    )
    send.add_argument("--portal", default="http://127.0.0.1:8000", help="the portal's base URL")
    send.add_argument("--person", required=True, help="an id from demo/people.json, e.g. sato-misaki")
    send.add_argument("--audience", default=None, help="assertion aud (default <portal>/api/agency/v1)")
    send.add_argument("--idempotency-key", default=None, help="default: one per person and day")
    send.add_argument("--today", type=date.fromisoformat, default=None, help=argparse.SUPPRESS)
    lookup = commands.add_parser(
        "lookup-account", help="look up a resident's public-fund account (公金受取口座) via the portal"
    )
    lookup.add_argument("--portal", default="http://127.0.0.1:8000", help="the portal's base URL")
    lookup.add_argument("--person", required=True, help="an id from demo/people.json, e.g. sato-misaki")
    lookup.add_argument("--purpose", default="児童扶養手当の支給", help="the payment, as residents read it")
    lookup.add_argument("--audience", default=None, help="assertion aud (default <portal>/api/agency/v1)")
    args = parser.parse_args(argv)
    if args.command == "schemas":
        return _schemas(args.dir, args.check)  # needs no settings

    settings = Settings.from_env()
    if args.command == "init":
        _init(settings)
    elif args.command == "serve":
        _serve(settings, args.host, args.port, args.workers)
    elif args.command == "sender-credentials":
        return _sender_credentials(settings, args.register_args)
    elif args.command == "send-status-report":
        return _send_status_report(settings, args)
    elif args.command == "lookup-account":
        return _lookup_account(settings, args)
    else:
        return _code(settings, args.person_id, args.agency)
    return 0


if __name__ == "__main__":
    sys.exit(main())
