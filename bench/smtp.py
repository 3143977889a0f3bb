"""A local SMTP server that records when each message arrived, by reference and recipient (no files)."""

import asyncio
import email
import email.policy
import time
from dataclasses import dataclass

from aiosmtpd.smtp import SMTP


@dataclass(frozen=True)
class Arrival:
    at: float  # time.perf_counter() in this process when the server accepted the DATA
    wall: float  # time.time() at the same moment, to line up with the services' database timestamps
    reference: str | None
    recipients: tuple[str, ...]
    subject: str


class Recorder:
    """aiosmtpd handler: accepts everything, remembers (arrival time, X-Visitdesk-Reference, recipients)."""

    def __init__(self):
        self.arrivals: list[Arrival] = []
        self.arrived = asyncio.Event()

    async def handle_DATA(self, server, session, envelope) -> str:
        at = time.perf_counter()
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.arrivals.append(Arrival(at, time.time(), message.get("X-Visitdesk-Reference"), tuple(envelope.rcpt_tos),
                                     str(message.get("Subject", ""))))
        self.arrived.set()
        return "250 Message accepted for delivery"

    async def wait_for(self, count: int, timeout: float) -> bool:
        """True once `count` messages have arrived; False at the deadline."""
        deadline = time.perf_counter() + timeout
        while len(self.arrivals) < count:
            self.arrived.clear()
            left = deadline - time.perf_counter()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(self.arrived.wait(), min(left, 1.0))
            except TimeoutError:
                pass
        return True


async def start_recorder(port: int = 0) -> tuple[asyncio.Server, Recorder]:
    recorder = Recorder()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(recorder, hostname="bench.localhost", enable_SMTPUTF8=True), host="127.0.0.1", port=port)
    return server, recorder
