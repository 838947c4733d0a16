"""Command line: ``python -m simulators.agency {init,serve,code,schemas}``.

``init`` (re)builds the records, ``serve`` runs init then uvicorn, ``code`` prints a demo resident's
agency-specific codes (for curl sessions), ``schemas`` writes (or with ``--check`` compares) the payload
contracts in contracts/self-information/. Configuration comes from environment variables only; this module
must never write the My Number anywhere but the terminal that asked for a code derived from it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import schemas
from .codes import agency_code
from .config import Settings
from .seed import initialise
from .store import Store


def _init(settings: Settings) -> None:
    summary = initialise(settings)
    print(
        f"agency simulator: {summary.agencies} agencies, {summary.residents} resident records, "
        f"{summary.payloads} payloads, {summary.provision_records} provision records in {summary.db_path}"
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
    args = parser.parse_args(argv)
    if args.command == "schemas":
        return _schemas(args.dir, args.check)  # needs no settings

    settings = Settings.from_env()
    if args.command == "init":
        _init(settings)
    elif args.command == "serve":
        _serve(settings, args.host, args.port, args.workers)
    else:
        return _code(settings, args.person_id, args.agency)
    return 0


if __name__ == "__main__":
    sys.exit(main())
