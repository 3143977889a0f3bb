"""`make bench`: every benchmark in one run on this machine, then the ratios side by side, then a profile.

    uv run python -m bench [--quick] [--only intake,latency,scale,throughput] [--no-profile]

Figures are also written as JSON under var/bench/. Ratios compare measurements taken minutes apart in the
same run on the same machine; absolute numbers depend on what else the machine is doing.
"""

import argparse
import asyncio
import os
import platform
import time

from bench import intake, latency, profile, scale, throughput
from bench.harness import SOURCE, WORKERS, infrastructure, log, save


def machine() -> str:
    load = os.getloadavg()
    return (
        f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} · uvicorn workers "
        f"{WORKERS} · load average at start {load[0]:.1f} · services from {SOURCE}"
    )


def verdicts(results: dict) -> list[str]:
    """One line per figure: the ratio, the goal, and whether it is met."""
    lines = []
    if "intake" in results:
        r = results["intake"]["ratio"]
        lines.append(f"intake throughput ratio {r:.2f}  (goal ≥ 0.70: {'met' if r >= 0.7 else 'NOT met'})")
    if "latency" in results:
        r = results["latency"]["ratio_p50"]
        lines.append(f"end-to-end p50 / raw Kafka p50 {r:.1f}×  (goal ≤ 5×: {'met' if r <= 5 else 'NOT met'})")
    if "scale" in results:
        f = results["scale"]
        worst = max(f["ratios_p99"].items(), key=lambda kv: kv[1])
        p50 = {
            name: f["at_large"][name]["p50_ms"] / small["p50_ms"]
            for name, small in f["at_small"].items()
            if small and f["at_large"].get(name)
        }
        worst_p50 = max(p50.items(), key=lambda kv: kv[1])
        lines.append(
            f"scale p99 {f['large']}/{f['small']} rows worst {worst[1]:.2f}× ({worst[0]})  (goal ≤ 2×: "
            f"{'met' if worst[1] <= 2 else 'NOT met'}); p50 worst {worst_p50[1]:.2f}× ({worst_p50[0]})"
        )
    if "throughput" in results:
        lines.append(
            f"notifications throughput / raw consumption {results['throughput']['ratio_steady']:.4f}  (no goal set)"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs: a smoke test of the benchmarks")
    parser.add_argument("--only", default="intake,latency,scale,throughput")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    only, quick = set(args.only.split(",")), args.quick
    postgres, kafka = infrastructure()
    header = machine()
    log(header)
    began, results, reports = time.perf_counter(), {}, []
    if "intake" in only:
        results["intake"] = asyncio.run(
            intake.run(postgres, kafka, seconds=5 if quick else 10, rounds=2 if quick else 3)
        )
        reports.append(intake.report(results["intake"]))
    if "latency" in only:
        results["latency"] = asyncio.run(latency.run(postgres, kafka, seconds=10 if quick else 30))
        reports.append(latency.report(results["latency"]))
        # The same at 1/s: the pipeline's own latency when nothing queues (5/s is near capacity on 2 shared cores).
        light = asyncio.run(latency.run(postgres, kafka, rate=1, seconds=10 if quick else 20, name="latency-1"))
        reports.append(latency.report(light))
    if "scale" in only:
        results["scale"] = asyncio.run(
            scale.run(
                postgres, kafka, small=10_000, large=100_000 if quick else 1_000_000, samples=30 if quick else 150
            )
        )
        reports.append(scale.report(results["scale"]))
    if "throughput" in only:
        results["throughput"] = asyncio.run(throughput.run(postgres, kafka, events=300 if quick else 2000))
        reports.append(throughput.report(results["throughput"]))
    if not args.no_profile and ("latency" in only or "throughput" in only):
        # The latency shortfall comes from the notifications side (consumer loop, dispatcher poll): profile it.
        out = asyncio.run(profile.profile_notifications(postgres, kafka, events=200 if quick else 600))
        reports.append(f"5. Profile of notifications draining events: {out} (flat: {out.with_suffix('.flat.txt')})")
    elif not args.no_profile and "intake" in only:
        out = asyncio.run(profile.profile_intake(postgres, kafka, seconds=10 if quick else 20, concurrency=16))
        reports.append(f"5. Profile of visits under intake load: {out} (flat: {out.with_suffix('.flat.txt')})")
    summary = verdicts(results)
    save("summary", {"machine": header, "verdicts": summary, "seconds": time.perf_counter() - began})
    print(f"\nvisitdesk benchmarks — {header}\n")
    print("\n\n".join(reports))
    print("\nRatios (measured in this run):\n  " + "\n  ".join(summary))
    print(f"\n{time.perf_counter() - began:.0f} s in all; load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
