"""Migrations on PostgreSQL and SQLite: seeded routing, an append-only audit log, up and down with data."""

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import delete, insert, inspect, select, update
from sqlalchemy.exc import DBAPIError

from services.visits.models import AuditEntry, DivisionRow, FeeScheduleRow, Member, RoutingRule, VisitRequest
from shared.db import make_engine
from shared.migrations import downgrade, upgrade
from tests.support import create_database, unique


@pytest.fixture(params=["postgresql", "sqlite"])
async def database_url(request, postgres_url, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'visits.sqlite'}"
    return await create_database(postgres_url, unique("vd_visits_storage_"))


async def test_the_routing_table_and_divisions_are_seeded(database_url):
    await asyncio.to_thread(upgrade, "visits", database_url)
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            rules = dict((await conn.execute(select(RoutingRule.focus_area, RoutingRule.division))).all())
            divisions = {r.code: r for r in (await conn.execute(select(DivisionRow))).all()}
    finally:
        await engine.dispose()
    assert rules == {
        "smart-city": "forum-virium",
        "climate": "urban-environment",
        "innovation": "economic-development",
        "mobility": "urban-environment",
        "education": "education",
        "participation": "city-executive-office",
        "culture": "culture-and-leisure",
        "design": "city-executive-office",
    }
    assert len(divisions) == 9 and "international-affairs" in divisions
    assert divisions["education"].lead_time_weeks == 8 and divisions["culture-and-leisure"].lead_time_weeks == 4
    assert {d.decision_deadline_days for d in divisions.values()} == {5}


async def test_the_audit_log_refuses_updates_and_deletes(database_url):
    await asyncio.to_thread(upgrade, "visits", database_url)
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(AuditEntry).values(
                    at=datetime.now(UTC), actor="admin-1", action="test", outcome="allowed", details={}
                )
            )
        for change in (update(AuditEntry).values(actor="someone-else"), delete(AuditEntry)):
            with pytest.raises(DBAPIError, match="append-only"):
                async with engine.begin() as conn:
                    await conn.execute(change)
        async with engine.connect() as conn:
            assert (await conn.execute(select(AuditEntry.actor))).scalars().all() == ["admin-1"]
    finally:
        await engine.dispose()


async def test_migration_0002_goes_down_to_0001_and_up_again(database_url):
    await asyncio.to_thread(upgrade, "visits", database_url)
    await asyncio.to_thread(downgrade, "visits", database_url, "0001")
    assert await _tables(database_url) == {"outbox", "processed_events"}
    await asyncio.to_thread(upgrade, "visits", database_url)
    assert {"requests", "audit_log", "full_weeks", "waitlist", "routing_rules"} <= await _tables(database_url)


async def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    return set(names) - {"alembic_version"}


async def test_migration_0003_goes_down_to_0002_and_up_again_keeping_requests_and_their_members(database_url):
    await asyncio.to_thread(upgrade, "visits", database_url, "0002")
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(VisitRequest.__table__).values(
                    id="r-1",
                    reference="HEL-2026-000001",
                    status="declined",
                    division="education",
                    info_divisions=[],
                    primary_focus_area="education",
                    organisation="Examplia",
                    organisation_key="examplia",
                    country="EE",
                    language="en",
                    highest_rank="expert",
                    delegation_size=3,
                    preferred_dates=[],
                    proposed_dates=[],
                    purpose="Schools.",
                    needs={},
                    short_notice=False,
                    tracking_token_hash="0" * 64,
                    created_at=now,
                    updated_at=now,
                )
            )
            await conn.execute(insert(Member.__table__).values(request_id="r-1", position=0, name="Kaja"))
        await asyncio.to_thread(upgrade, "visits", database_url)
        async with engine.connect() as conn:
            ended_at, erased_at = (await conn.execute(select(VisitRequest.ended_at, VisitRequest.erased_at))).one()
        assert ended_at is not None and erased_at is None  # its retention clock starts at its last change
        await asyncio.to_thread(downgrade, "visits", database_url, "0002")
        async with engine.connect() as conn:
            assert (await conn.execute(select(Member.name))).scalars().all() == ["Kaja"]
            columns = await conn.run_sync(lambda sync: {c["name"] for c in inspect(sync).get_columns("requests")})
        assert not {"ended_at", "erased_at"} & columns
        await asyncio.to_thread(upgrade, "visits", database_url)
    finally:
        await engine.dispose()


async def test_migrations_0004_and_0005_go_down_to_0003_and_up_again(database_url):
    await asyncio.to_thread(upgrade, "visits", database_url)
    assert "submission_keys" in await _tables(database_url)
    assert "ix_requests_country_created_at_id" in await _request_indexes(database_url)
    await asyncio.to_thread(downgrade, "visits", database_url, "0003")
    assert "submission_keys" not in await _tables(database_url)
    assert "ix_requests_country_created_at_id" not in await _request_indexes(database_url)
    await asyncio.to_thread(upgrade, "visits", database_url)
    assert "submission_keys" in await _tables(database_url)
    assert "ix_requests_country_created_at_id" in await _request_indexes(database_url)


async def test_migration_0006_goes_down_to_0005_and_up_again(database_url):
    await asyncio.to_thread(upgrade, "visits", database_url, "0005")
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    try:
        async with engine.begin() as conn:  # escalated, then given other dates before proposing cleared the flag
            await conn.execute(
                insert(VisitRequest.__table__).values(
                    id="r-1",
                    reference="HEL-2026-000001",
                    status="dates_proposed",
                    division="education",
                    info_divisions=[],
                    primary_focus_area="education",
                    organisation="Examplia",
                    organisation_key="examplia",
                    country="EE",
                    language="en",
                    highest_rank="expert",
                    delegation_size=3,
                    preferred_dates=[],
                    proposed_dates=[],
                    purpose="Schools.",
                    needs={},
                    short_notice=False,
                    tracking_token_hash="0" * 64,
                    escalated_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
        await asyncio.to_thread(upgrade, "visits", database_url)
        async with engine.connect() as conn:
            assert await conn.scalar(select(VisitRequest.escalated_at)) is None  # no longer overdue
    finally:
        await engine.dispose()
    assert "ix_requests_offered_week" in await _request_indexes(database_url)
    await asyncio.to_thread(downgrade, "visits", database_url, "0005")
    assert "ix_requests_offered_week" not in await _request_indexes(database_url)
    assert "offered_week" not in await _request_columns(database_url)
    await asyncio.to_thread(upgrade, "visits", database_url)
    assert "offered_week" in await _request_columns(database_url)


async def _request_indexes(url: str) -> set[str]:
    return await _names_in_requests(url, "get_indexes")


async def _request_columns(url: str) -> set[str]:
    return await _names_in_requests(url, "get_columns")


async def _names_in_requests(url: str, what: str) -> set[str]:
    """The names of the requests table's indexes or columns, as the database reports them."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            found = await conn.run_sync(lambda sync: getattr(inspect(sync), what)("requests"))
    finally:
        await engine.dispose()
    return {item["name"] for item in found}


async def test_a_fee_schedule_keeps_its_amounts_exact_on_either_database(database_url):
    # SQLite has no decimal type: a NUMERIC column there would hand back floats (0.1 + 0.2 is not 0.3).
    await asyncio.to_thread(upgrade, "visits", database_url)
    engine = make_engine(database_url)
    amounts = {
        "price_per_visitor_hour": Decimal("0.10"),
        "minimum_net": Decimal("9999999999.99"),
        "vat_percent": Decimal("25.5"),
        "late_cancellation_percent": Decimal("33.33"),
    }
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(FeeScheduleRow).values(
                    division="education",
                    currency="EUR",
                    exempt_ranks=["minister"],
                    free_until_days=14,
                    updated_at=datetime.now(UTC),
                    **amounts,
                )
            )
        async with engine.connect() as conn:
            row = (await conn.execute(select(FeeScheduleRow.__table__))).one()
    finally:
        await engine.dispose()
    stored = {name: getattr(row, name) for name in amounts}
    assert stored == amounts and all(isinstance(v, Decimal) for v in stored.values())
    assert str(row.vat_percent) == "25.50" and str(row.price_per_visitor_hour) == "0.10"
