"""Which database errors are waited out (a restart, failover or cut) and which are defects, with asyncpg's own
errors."""

import asyncpg.exceptions as pg
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from shared.db import database_unavailable


def _wrapped(error: Exception, kind=DBAPIError, invalidated: bool = False) -> DBAPIError:
    return kind("SELECT 1", {}, error, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "exc",
    [
        _wrapped(pg.CannotConnectNowError("the database system is shutting down")),  # 57P03: a restart began
        _wrapped(pg.AdminShutdownError("terminating connection due to administrator command")),  # 57P01
        _wrapped(pg.TooManyConnectionsError("sorry, too many clients already")),  # 53300
        _wrapped(pg.ConnectionFailureError("connection failure")),  # 08006
        _wrapped(RuntimeError("socket gone"), invalidated=True),
        _wrapped(RuntimeError("anything"), kind=OperationalError),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError(),
    ],
)
def test_a_database_going_away_is_waited_out(exc):
    assert database_unavailable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        _wrapped(pg.UniqueViolationError("duplicate key"), kind=IntegrityError),  # 23505
        _wrapped(pg.UndefinedColumnError("column does not exist")),  # 42703: a defect, retrying cannot help
        ValueError("a bug"),
    ],
)
def test_a_defect_is_not_mistaken_for_an_outage(exc):
    assert not database_unavailable(exc)
