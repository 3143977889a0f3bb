"""The local SMTP sink that dev, the end-to-end tests and the fault runs read their e-mail from."""

import asyncio
import threading
from email.message import EmailMessage

import aiosmtplib

from visitdesk.mailsink import mailsink

LAST_LINE = b"End of message."


def message(n: int) -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "city@visitdesk.invalid", f"guest{n}@example.org", f"Message {n}"
    mail.set_content("A long programme.\n" * 50_000 + LAST_LINE.decode())  # ~1 MB: a file takes a while to write
    return mail


async def test_a_reader_never_sees_a_message_half_written(tmp_path):
    """The fault runs and `make dev`'s users read the .eml files as they arrive, so each appears whole or not at all."""
    incomplete, complete, stop = [], set(), threading.Event()

    def read_while_they_arrive(directory) -> None:
        while not stop.is_set():
            for path in directory.glob("*.eml"):
                if path.name not in complete:
                    content = path.read_bytes()
                    if content.startswith(b"X-Mailsink-Envelope-From") and content.rstrip().endswith(LAST_LINE):
                        complete.add(path.name)
                    else:
                        incomplete.append(len(content))

    async with mailsink(tmp_path / "mail") as sink:
        reader = asyncio.create_task(asyncio.to_thread(read_while_they_arrive, sink.handler.directory))
        try:
            for n in range(12):
                await aiosmtplib.send(message(n), hostname=sink.host, port=sink.port)
        finally:
            stop.set()
            await reader
        arrived = sink.messages()

    assert incomplete == [], f"{len(incomplete)} reads of a message not yet whole"
    assert len(complete) == 12
    assert sorted(m["X-Mailsink-Envelope-To"] for m in arrived) == sorted(f"guest{n}@example.org" for n in range(12))
