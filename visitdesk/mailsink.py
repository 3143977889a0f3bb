"""A real local SMTP server that keeps every message it receives as an .eml file (dev and tests).

    python -m visitdesk.mailsink --dir var/mail --port 1025

In tests: `async with mailsink(tmp_path) as sink: ...` listens on a free port of 127.0.0.1;
`sink.port` is where to send, `sink.messages()` what arrived, parsed with the email package.
"""

import argparse
import asyncio
import email
import email.policy
import itertools
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session


class EmlStore:
    """aiosmtpd handler: each accepted message becomes `<time>-<n>-<id>.eml`, envelope recipients in a header."""

    _sequence = itertools.count()

    def __init__(self, directory: Path | str):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        name = f"{time.time_ns()}-{next(self._sequence):06d}-{uuid.uuid4().hex[:8]}.eml"
        recipients = ", ".join(envelope.rcpt_tos)
        header = f"X-Mailsink-Envelope-From: {envelope.mail_from}\r\nX-Mailsink-Envelope-To: {recipients}\r\n"
        await asyncio.to_thread(self._store, name, header.encode() + envelope.original_content)
        return "250 Message accepted for delivery"

    def _store(self, name: str, content: bytes) -> None:
        """Written under a name `messages()` skips, then renamed: a reader never sees half a message."""
        partial = self.directory / f".{name}.partial"
        partial.write_bytes(content)
        partial.replace(self.directory / name)

    def messages(self) -> list[EmailMessage]:
        """Every stored message, oldest first."""
        return [
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(self.directory.glob("*.eml"))
        ]


class MailSink:
    """A running SMTP server and the store behind it."""

    def __init__(self, server: asyncio.Server, handler: EmlStore):
        self.server, self.handler = server, handler
        self.host, self.port = server.sockets[0].getsockname()[:2]

    def messages(self) -> list[EmailMessage]:
        return self.handler.messages()


async def start(handler: EmlStore, *, host: str = "127.0.0.1", port: int = 0) -> MailSink:
    """Listen in the running event loop; port 0 picks a free one."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="mailsink.localhost", enable_SMTPUTF8=True, data_size_limit=25 * 2**20),
        host=host,
        port=port,
    )
    return MailSink(server, handler)


@asynccontextmanager
async def mailsink(
    directory: Path | str, *, host: str = "127.0.0.1", port: int = 0, handler: EmlStore | None = None
) -> AsyncIterator[MailSink]:
    """A sink for the duration of the block; pass a handler (an EmlStore subclass) to change its answers."""
    sink = await start(handler or EmlStore(directory), host=host, port=port)
    try:
        yield sink
    finally:
        sink.server.close()
        await sink.server.wait_closed()


async def _serve(directory: str, host: str, port: int) -> None:
    sink = await start(EmlStore(directory), host=host, port=port)
    print(
        f"mailsink: listening on {sink.host}:{sink.port}, storing messages in {Path(directory).resolve()}", flush=True
    )
    async with sink.server:
        await sink.server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m visitdesk.mailsink", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="var/mail", help="where .eml files go (default var/mail)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve(args.dir, args.host, args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
