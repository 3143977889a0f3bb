"""A visit's fee and its late-cancellation fee: decimals to the cent, half up, never floats."""

from datetime import date, time, timedelta
from decimal import Decimal

import pytest

from services.visits import domain

EDUCATION = domain.FeeSchedule(
    currency="EUR",
    price_per_visitor_hour=Decimal("35.75"),
    minimum_net=Decimal("150.00"),
    vat_percent=Decimal("25.5"),
    free_until_days=14,
    late_cancellation_percent=Decimal("50"),
    exempt_ranks=frozenset({"minister", "head_of_state"}),
)


def quote_for(visitors: int, start: time, end: time, rank: str = "expert") -> domain.Quote | None:
    return domain.quote(EDUCATION, rank=rank, visitors=visitors, start=start, end=end)


def test_a_group_of_twelve_for_three_hours_pays_per_visitor_and_hour_with_vat_rounded_half_up():
    quote = quote_for(12, time(9, 0), time(12, 0))
    # 12 × 3 × 35.75 = 1287.00; VAT 25.5 % is 328.185, half up 328.19 (half to even would give 328.18).
    assert (quote.hours, quote.net, quote.vat, quote.gross) == (
        Decimal("3.00"),
        Decimal("1287.00"),
        Decimal("328.19"),
        Decimal("1615.19"),
    )
    assert all(isinstance(getattr(quote, name), Decimal) for name in domain.QUOTE_AMOUNTS)


def test_a_small_short_visit_pays_the_minimum():
    quote = quote_for(2, time(10, 0), time(11, 30))  # 2 × 1.5 × 35.75 = 107.25, below the minimum
    assert (quote.hours, quote.net, quote.vat, quote.gross) == (
        Decimal("1.50"),
        Decimal("150.00"),
        Decimal("38.25"),
        Decimal("188.25"),
    )


def test_an_exempt_rank_or_a_division_without_a_schedule_pays_nothing():
    assert quote_for(12, time(9), time(12), rank="minister") is None
    assert domain.quote(None, rank="expert", visitors=12, start=time(9), end=time(12)) is None


def test_the_quote_travels_as_decimal_strings_and_comes_back_the_same():
    quote = quote_for(12, time(9), time(12))
    data = quote.as_json()
    assert data["net"] == "1287.00" and data["gross"] == "1615.19" and data["vat_percent"] == "25.5"
    assert data["terms"] == {"free_until_days": 14, "late_cancellation_percent": "50"}
    assert domain.Quote.from_json(data) == quote


def test_a_moved_visit_keeps_the_rates_it_was_quoted_at():
    first = quote_for(12, time(9), time(12))
    moved = domain.requote(first, start=time(9), end=time(11))
    assert (moved.price_per_visitor_hour, moved.net, moved.gross) == (
        Decimal("35.75"),
        Decimal("858.00"),
        Decimal("1076.79"),
    )


VISIT_DAY = date(2027, 3, 17)


@pytest.mark.parametrize("days_before", [30, 15, 14])
def test_cancelling_until_the_free_period_ends_costs_nothing(days_before):
    quote = quote_for(12, time(9), time(12))
    assert domain.late_fee(quote, visit_date=VISIT_DAY, today=VISIT_DAY - timedelta(days=days_before)) is None


def test_cancelling_after_the_free_period_costs_the_terms_share_of_the_net_with_vat():
    quote = quote_for(12, time(9), time(12))
    fee = domain.late_fee(quote, visit_date=VISIT_DAY, today=VISIT_DAY - timedelta(days=13))
    # half of 1287.00 is 643.50; VAT 25.5 % of it is 164.0925, 164.09.
    assert (fee.net, fee.vat, fee.gross) == (Decimal("643.50"), Decimal("164.09"), Decimal("807.59"))
    assert fee.as_json() == {
        "currency": "EUR",
        "percent": "50",
        "net": "643.50",
        "vat_percent": "25.5",
        "vat": "164.09",
        "gross": "807.59",
    }


def test_a_visit_without_a_fee_costs_nothing_to_cancel():
    assert domain.late_fee(None, visit_date=VISIT_DAY, today=VISIT_DAY) is None


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [(time(10), None, "end_time"), (None, time(12), "start_time"), (time(12), time(12), "end_time")],
)
def test_times_come_both_or_neither_and_the_end_follows_the_start(start, end, field):
    with pytest.raises(domain.InvalidDecision) as refused:
        domain.check_times(start, end)
    assert refused.value.field == field


def test_hours_are_counted_to_the_hundredth():
    assert domain.visit_hours(time(9, 0), time(10, 40)) == Decimal("1.67")
