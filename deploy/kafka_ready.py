#!/usr/bin/env python3
"""Exit 0 once a Kafka broker at BOOTSTRAP answers a metadata request, else 1.

Usage: kafka_ready.py BOOTSTRAP [timeout_s]

"Ready" means a real client round trip succeeds (aiokafka bootstrap plus a
cluster metadata call that lists at least one broker), not merely that the port
accepts connections. Attempts are retried until timeout_s (default 5) runs out.
"""

import asyncio
import logging
import sys
import time

from aiokafka.admin import AIOKafkaAdminClient


async def metadata_ok(bootstrap: str, request_timeout_s: float) -> bool:
    """One attempt: bootstrap a fresh admin client and ask for cluster metadata."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="visitdesk-kafka-ready",
        request_timeout_ms=max(1000, int(request_timeout_s * 1000)),
    )
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        return bool(cluster.get("brokers"))
    except Exception:
        return False
    finally:
        await admin.close()


async def wait_ready(bootstrap: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            # wait_for also bounds the TCP connect, which has no timeout of its own.
            if await asyncio.wait_for(metadata_ok(bootstrap, remaining), remaining):
                return True
        except TimeoutError:
            return False
        await asyncio.sleep(min(0.5, max(0.0, deadline - time.monotonic())))


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    bootstrap = argv[1]
    timeout_s = float(argv[2]) if len(argv) == 3 else 5.0
    # aiokafka logs every refused connection at ERROR; while polling that is noise.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    return 0 if asyncio.run(wait_ready(bootstrap, timeout_s)) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
