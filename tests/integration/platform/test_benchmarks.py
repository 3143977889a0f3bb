"""`make bench` still runs: each figure of the issue, shrunk to seconds, through real services.

Nothing here looks at speed (that is `make bench`'s job, as ratios in one run); it checks that every benchmark
starts its servers, drives them, sees every submission through and reports figures it could compute.
"""

import math

from bench import intake, latency, submission


async def test_the_intake_benchmark_drives_both_servers_and_the_outbox_drains(postgres_url, kafka_bootstrap):
    figures = await intake.run(postgres_url, kafka_bootstrap, seconds=1, rounds=1, concurrency=4, name="intake-smoke")
    assert figures["error_samples"] == []
    assert figures["visits_rps"] > 0 and figures["baseline_rps"] > 0 and math.isfinite(figures["ratio"])
    assert all(math.isfinite(s) for s in figures["outbox_drain_seconds_after_round"])  # drained, not given up
    assert figures["server_cpu_ms_per_request"]["visits"] > 0


async def test_the_latency_benchmark_sees_every_division_email_arrive(postgres_url, kafka_bootstrap):
    figures = await latency.run(postgres_url, kafka_bootstrap, rate=2, seconds=2, name="latency-smoke")
    assert figures["failures"] == []
    assert figures["submitted"] == figures["arrived"] == 4
    assert figures["raw_count"] == 4 and figures["e2e_p50_ms"] > 0 and math.isfinite(figures["ratio_p50"])


async def test_the_submission_benchmark_calls_the_intake_in_process(postgres_url, kafka_bootstrap):
    figures = await submission.run(postgres_url, kafka_bootstrap, count=5, warm_up=1)
    assert figures["count"] == 5 and figures["cpu_ms"] > 0
