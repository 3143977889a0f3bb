"""A local SMTP server that records when each message arrived, by reference and recipient (no files)."""

import asyncio
import email.policy
import time
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser

from aiosmtpd.smtp import SMTP


@dataclass(frozen=True)
class Arrival:
    at: float  # time.perf_counter() in this process when the server accepted the DATA
    wall: float  # time.time() at the same moment, to line up with the services' database timestamps
    reference: str | None
    recipients: tuple[str, ...]
    subject: str


class Recorder:
    """aiosmtpd handler: accepts everything, remembers (arrival time, X-Visitdesk-Reference, recipients).

    Only the header block is read (compat32 parser, no body, no header objects): a real server answers "250"
    without parsing messages in Python, and the yardstick's own work must not slow down what it measures.
    """

    def __init__(self):
        self.arrivals: list[Arrival] = []
        self.arrived = asyncio.Event()
        self._headers = BytesHeaderParser(policy=email.policy.compat32)

    async def handle_DATA(self, server, session, envelope) -> str:
        at, wall = time.perf_counter(), time.time()
        head = self._headers.parsebytes(envelope.original_content.split(b"\r\n\r\n", 1)[0])
        subject = str(make_header(decode_header(head.get("Subject", ""))))
        self.arrivals.append(Arrival(at, wall, head.get("X-Visitdesk-Reference"), tuple(envelope.rcpt_tos), subject))
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
        lambda: SMTP(recorder, hostname="bench.localhost", enable_SMTPUTF8=True), host="127.0.0.1", port=port
    )
    return server, recorder
