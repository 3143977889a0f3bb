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
    """aiosmtpd handler: accepts everything at once, remembers (arrival time, X-Visitdesk-Reference, recipients).

    Messages are parsed only when read, after the run: a real server answers "250" without parsing the message
    in Python, and neither should the yardstick's, or it would slow down what it measures.
    """

    def __init__(self):
        self._received: list[tuple[float, float, bytes, tuple[str, ...]]] = []
        self._parsed: list[Arrival] = []
        self.arrived = asyncio.Event()

    async def handle_DATA(self, server, session, envelope) -> str:
        self._received.append((time.perf_counter(), time.time(), envelope.original_content,
                               tuple(envelope.rcpt_tos)))
        self.arrived.set()
        return "250 Message accepted for delivery"

    @property
    def count(self) -> int:
        return len(self._received)

    @property
    def arrivals(self) -> list[Arrival]:
        for at, wall, content, recipients in self._received[len(self._parsed):]:
            message = email.message_from_bytes(content, policy=email.policy.default)
            self._parsed.append(Arrival(at, wall, message.get("X-Visitdesk-Reference"), recipients,
                                        str(message.get("Subject", ""))))
        return self._parsed

    async def wait_for(self, count: int, timeout: float) -> bool:
        """True once `count` messages have arrived; False at the deadline."""
        deadline = time.perf_counter() + timeout
        while self.count < count:
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
