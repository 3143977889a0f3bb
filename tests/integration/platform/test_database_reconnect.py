"""Pooled connections that PostgreSQL dropped are replaced at checkout, so the next use does not fail."""

import asyncio

from sqlalchemy import text
from sqlalchemy.engine import make_url

from shared.db import make_engine
from tests.faults.proxy import TcpProxy


async def test_connections_dropped_by_the_server_are_replaced_before_the_next_query(new_database):
    url = make_url(await new_database("capacity", migrate=False))
    proxy = await TcpProxy(lambda: (url.host, url.port)).start()
    engine = make_engine(url.set(port=proxy.port).render_as_string(hide_password=False))
    try:

        async def use_one() -> None:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT pg_sleep(0.05)"))

        await asyncio.gather(*(use_one() for _ in range(4)))  # four connections wait in the pool
        assert engine.pool.checkedin() == 4
        await proxy.cut(0)  # every one of them dropped, as a server restart does; new ones still connect
        await asyncio.sleep(0.2)
        for _ in range(6):
            async with engine.connect() as conn:
                assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await engine.dispose()
        await proxy.stop()
