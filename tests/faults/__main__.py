"""`make faults`: every fault with 40 requests each, then 60 s load runs; exits 1 on any loss or duplicate.

python -m tests.faults [--requests 40] [--rate 5] [--faults "visits SIGKILL + restart,..."]
                       [--load-rates 5,10] [--load-seconds 60] [--no-load] [--keep DIR]
"""

import argparse
import asyncio
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from tests.faults import suite
from tests.faults.load import LoadRun


def log(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)


async def main(args: argparse.Namespace, workdir: Path) -> int:
    # SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C: services, broker and PostgreSQL are stopped.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    faults = [f.strip() for f in args.faults.split(",")] if args.faults else list(suite.FAULTS)
    unknown = [f for f in faults if f not in suite.FAULTS]
    if unknown:
        sys.exit(f"unknown fault(s) {unknown}; known: {', '.join(suite.FAULTS)}")
    outcomes, reports = [], []
    async with suite.rig(workdir, log) as rig:
        for name in faults:
            outcome = await suite.run_fault(rig, name, args.requests, rate=args.rate, log=log)
            log(f"{name}: {'ok' if outcome.ok else 'FAILED'}")
            outcomes.append(outcome)
        for rate in [] if args.no_load else [float(r) for r in args.load_rates.split(",")]:
            log(f"load run: {rate:g}/s for {args.load_seconds:g} s")
            reports.append(await LoadRun(rig, rate=rate, duration=args.load_seconds).run())
    print("\n## Faults\n\n" + suite.table(outcomes))
    failures = suite.problems(outcomes)
    for report in reports:
        print(f"\n## Load: {report.rate:g} arrivals a second for {report.duration:g} s\n\n" + report.table())
        if not report.verdict.passed or report.verdict.resent:
            failures += [
                f"load {report.rate:g}/s: {line}"
                for line in (report.verdict.violations + report.verdict.pending + report.verdict.resent)[:10]
            ]
        failures += [f"load {report.rate:g}/s error sample: {line}" for line in report.error_samples[:3]]
    if failures:
        print("\nProblems:\n" + "\n".join(f"- {line}" for line in failures))
    lost = sum(o.lost for o in outcomes) + sum(r.verdict.lost for r in reports)
    duplicated = sum(o.duplicated for o in outcomes) + sum(r.verdict.duplicated for r in reports)
    ok = all(o.ok for o in outcomes) and all(r.verdict.passed and not r.verdict.resent for r in reports)
    print(f"\n{'PASSED' if ok else 'FAILED'}: {lost} lost, {duplicated} duplicated")
    return 0 if ok else 1


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.faults", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40, help="submissions per fault (default 40)")
    parser.add_argument("--rate", type=float, default=5.0, help="submissions a second during a fault (default 5)")
    parser.add_argument("--faults", help="comma-separated subset (default: all)")
    parser.add_argument(
        "--load-rates",
        default="5,10",
        help="arrivals a second, one 60 s load run each (default 5,10: below and at this 2-core machine's limit)",
    )
    parser.add_argument("--load-seconds", type=float, default=60.0)
    parser.add_argument("--no-load", action="store_true", help="skip the load run")
    parser.add_argument("--keep", type=Path, help="keep service logs and mail here instead of a temporary dir")
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse()
    directory = arguments.keep or Path(tempfile.mkdtemp(prefix="vdfaults-run-"))
    try:
        code = asyncio.run(main(arguments, directory))
    except (KeyboardInterrupt, asyncio.CancelledError):
        code = 130
    if arguments.keep is None and code == 0:
        shutil.rmtree(directory, ignore_errors=True)
    elif code != 0:
        print(f"service logs and mail kept in {directory}")
    sys.exit(code)
