"""The `visitdesk` command: migrate databases, mint development tokens, run everything locally."""

import argparse
import os
import sys
from pathlib import Path

from shared.auth import ROLES, mint_token
from shared.migrations import upgrade
from shared.settings import ServiceSettings
from visitdesk import FIRST_PORT, SERVICES


def database_url(service: str) -> str:
    """Only the database URL: a migration job needs no other secret of the service."""
    variable = f"{service.upper()}_DATABASE_URL"
    if not os.environ.get(variable):
        sys.exit(f"visitdesk: setting {variable}: Field required")
    return os.environ[variable]


def migrate(args: argparse.Namespace) -> None:
    """Bring each service's database to its newest migration (a deploy step, never at start-up)."""
    unknown = set(args.service) - set(SERVICES)
    if unknown:
        sys.exit(f"visitdesk migrate: unknown service {', '.join(sorted(unknown))}")
    for service in args.service or SERVICES:
        upgrade(service, database_url(service))
        print(f"{service}: migrated to head")


def token(args: argparse.Namespace) -> None:
    """Print a development bearer token for a role."""
    if args.role == "division_officer" and not args.division:
        sys.exit("visitdesk token: --division is required for division_officer")
    settings = ServiceSettings(database_url="unused")
    print(mint_token(settings, role=args.role, division=args.division, sub=args.sub, ttl_seconds=args.ttl))


def dev(args: argparse.Namespace) -> None:
    """Run the embedded default: SQLite, a local broker, an SMTP sink and all four services."""
    from visitdesk.dev import run_dev

    run_dev(port_base=args.port_base, data_dir=args.data_dir, keycloak=args.keycloak)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="visitdesk", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("migrate", help=migrate.__doc__)
    p.add_argument("service", nargs="*", help=f"any of {', '.join(SERVICES)} (default: all)")
    p.set_defaults(func=migrate)
    p = commands.add_parser("token", help=token.__doc__)
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--division")
    p.add_argument("--sub")
    p.add_argument("--ttl", type=int, default=8 * 3600, help="seconds")
    p.set_defaults(func=token)
    p = commands.add_parser("dev", help=dev.__doc__)
    p.add_argument("--port-base", type=int, default=FIRST_PORT, help="visits' port; the others follow")
    p.add_argument("--data-dir", type=Path, default=Path("var"), help="SQLite databases and mail (default var/)")
    p.add_argument(
        "--keycloak",
        nargs="?",
        const="local",
        metavar="ISSUER",
        help="staff sign in at Keycloak instead of the development page: the local one (deploy/keycloak.sh), "
        "or the running one of ISSUER",
    )
    p.set_defaults(func=dev)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
