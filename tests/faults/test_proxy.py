"""The fault suite's TCP proxy: pipes bytes, cuts the network for a while, loses answers on request."""

import asyncio
from contextlib import asynccontextmanager

import pytest

from tests.faults.proxy import TcpProxy


@asynccontextmanager
async def echo_behind_proxy():
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(100):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    proxy = await TcpProxy(lambda: ("127.0.0.1", port)).start()
    try:
        yield proxy
    finally:
        await proxy.stop()
        server.close()


async def roundtrip(port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(100), 5)
    writer.close()
    return answer


async def test_the_proxy_pipes_both_ways():
    async with echo_behind_proxy() as proxy:
        assert await roundtrip(proxy.port, b"hello") == b"hello"


async def test_a_cut_drops_open_connections_and_refuses_new_ones_until_it_ends():
    async with echo_behind_proxy() as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        cut = asyncio.create_task(proxy.cut(0.5))
        assert await asyncio.wait_for(reader.read(100), 5) == b""
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", proxy.port)
        await cut
        assert await roundtrip(proxy.port, b"again") == b"again"
        writer.close()


async def test_a_lost_answer_closes_that_connection_and_only_that_one():
    async with echo_behind_proxy() as proxy:
        proxy.answers_to_lose = 1
        assert await roundtrip(proxy.port, b"first") == b""
        assert await roundtrip(proxy.port, b"second") == b"second"
