"""A TCP proxy between the services and Kafka that can cut the network for a while.

The broker advertises the proxy's port (deploy/kafka.sh with KAFKA_ADVERTISED_PORT), so every client
connection -- bootstrap and the ones metadata points to -- goes through here.
"""

import asyncio
import contextlib
from collections.abc import Callable

Upstream = Callable[[], tuple[str, int]]


class TcpProxy:
    """Listens on 127.0.0.1:`port` and pipes each connection to `upstream()` (asked per connection)."""

    def __init__(self, upstream: Upstream, port: int = 0):
        self.upstream, self.port = upstream, port
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()  # both ends of every open connection
        self.tasks: set[asyncio.Task] = set()
        self.cuts = 0
        self.answers_to_lose = 0  # this many connections are dropped when the upstream starts to answer

    async def start(self) -> "TcpProxy":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self._close_all()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=5)

    async def cut(self, seconds: float) -> None:
        """Drop every open connection and refuse new ones for `seconds`, then listen again."""
        self.cuts += 1
        self._close_all()
        await asyncio.sleep(seconds)
        await self.start()

    def _close_all(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for writer in list(self.writers):
            _abort(writer)  # both pipes of the connection then end on their own

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        ends = [client_writer]
        self.writers.add(client_writer)
        self.tasks.add(asyncio.current_task())
        try:
            host, port = self.upstream()
            upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
            ends.append(upstream_writer)
            self.writers.add(upstream_writer)
            if self.server is None:  # cut while we were connecting
                return
            await asyncio.gather(
                _pipe(client_reader, upstream_writer),
                _pipe(upstream_reader, client_writer, lose=self._lose_answer),
                return_exceptions=True,
            )
        except OSError:
            pass  # upstream down (a killed broker): the client sees its connection close, as it would
        finally:
            self.tasks.discard(asyncio.current_task())
            for writer in ends:
                self.writers.discard(writer)
                _abort(writer)

    def _lose_answer(self) -> bool:
        if self.answers_to_lose > 0:
            self.answers_to_lose -= 1
            return True
        return False


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, lose: Callable[[], bool] = lambda: False
) -> None:
    first = True
    try:
        while data := await reader.read(65536):
            if first and lose():  # the request went through; its answer never arrives
                return
            first = False
            writer.write(data)
            await writer.drain()
    finally:
        # One side ended: end both, as a broken network path would.
        _abort(writer)


def _abort(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.transport.abort()
