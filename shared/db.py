"""Engines, sessions and the table conventions every service database follows."""

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import MetaData, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


# SQLSTATE classes of a server going away or not taking work yet: connection exception (08), operator
# intervention such as "the database system is shutting down" or "is starting up" (57P), insufficient resources (53).
UNAVAILABLE_SQLSTATES = ("08", "57P", "53")


def database_unavailable(exc: BaseException) -> bool:
    """What a database restart, failover or network cut raises: worth waiting out, unlike a defect."""
    if isinstance(exc, (OSError, TimeoutError, OperationalError, InterfaceError)):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    return exc.connection_invalidated or sqlstate.startswith(UNAVAILABLE_SQLSTATES)


def insert_of(dialect_name: str) -> Callable[..., postgresql.Insert | sqlite.Insert]:
    """The `insert` of a dialect by name (`on_conflict_do_nothing`, `on_conflict_do_update`), for statements
    built once per dialect and kept: building a statement costs more CPU than running it."""
    return postgresql.insert if dialect_name == "postgresql" else sqlite.insert


def column_values(row) -> dict[str, Any]:
    """A mapped object's values by column (our models name attributes after their columns), for a Core insert
    that skips the unit of work."""
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}


def async_url(url: str) -> str:
    """Accept plain `postgresql://` and `sqlite:///` URLs and pick the async driver."""
    for plain, driver in (("postgresql://", "postgresql+asyncpg://"), ("sqlite:///", "sqlite+aiosqlite:///")):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def make_engine(url: str) -> AsyncEngine:
    url = async_url(url)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # Parameters can hold personal data; errors and logs must not repeat them.
    engine = create_async_engine(url, pool_size=10, max_overflow=10, hide_parameters=True)
    event.listen(engine.sync_engine, "checkout", _replace_closed_connection)
    return engine


def _replace_closed_connection(dbapi_connection, _record, _proxy) -> None:
    """A pooled connection the server closed (a restart) is replaced when it is checked out.

    Instead of `pool_pre_ping`, which costs three round trips per checkout with asyncpg (BEGIN, ping,
    ROLLBACK): the socket already knows it was closed. A path that breaks silently is caught by the
    query's error, which invalidates the pool.
    """
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("connection closed by the server")


async def lock_for_writing(session: AsyncSession) -> None:
    """Before reading what a transaction will change: on SQLite, take the database's write lock now.

    PostgreSQL locks the rows read `FOR UPDATE`; SQLite ignores that clause, so two transactions could read the
    same row and both write it. `BEGIN IMMEDIATE` makes a concurrent writer wait (busy_timeout) until this one
    commits, and what is read next is current. Only as the transaction's first write: SQLite has no nesting.
    """
    connection = await session.connection()
    if connection.dialect.name != "sqlite":
        return
    raw = await connection.get_raw_connection()
    if not raw.driver_connection.in_transaction:
        await connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(_request_session)]
