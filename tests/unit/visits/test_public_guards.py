"""Tracking tokens, CSRF, the confirmation receipt, the rate limit and listing cursors."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from services.visits import listing, security

SECRET = "test-secret"


def test_tracking_tokens_are_stored_as_sha256_and_compared_in_constant_time():
    token = security.new_tracking_token()
    stored = security.hash_token(token)
    assert len(stored) == 64 and token not in stored
    assert security.token_matches(token, stored)
    assert not security.token_matches(token + "x", stored)


def test_a_csrf_token_is_valid_when_cookie_and_field_match_and_we_signed_it():
    token = security.new_csrf_token(SECRET)
    assert security.csrf_valid(SECRET, token, token)
    assert not security.csrf_valid(SECRET, token, security.new_csrf_token(SECRET))
    assert not security.csrf_valid(SECRET, None, token)
    assert not security.csrf_valid("another-secret", token, token)
    planted = "attacker.nonce"
    assert not security.csrf_valid(SECRET, planted, planted)


def test_a_receipt_gives_back_the_token_only_for_its_reference():
    receipt = security.new_receipt(SECRET, "HEL-2026-000001", "tok-en_1")
    assert security.read_receipt(SECRET, receipt, "HEL-2026-000001") == "tok-en_1"
    assert security.read_receipt(SECRET, receipt, "HEL-2026-000002") is None
    assert security.read_receipt(SECRET, receipt + "0", "HEL-2026-000001") is None
    assert security.read_receipt(SECRET, None, "HEL-2026-000001") is None


def test_the_sliding_window_admits_the_limit_then_says_how_long_to_wait():
    window = security.SlidingWindow(limit=3, window=600)
    assert [window.hit("10.0.0.1", t) for t in (0, 10, 20)] == [None, None, None]
    assert window.hit("10.0.0.1", 30) == pytest.approx(570)
    assert window.hit("10.0.0.2", 30) is None  # per address
    assert window.hit("10.0.0.1", 600.5) is None  # the first hit has slid out


def test_a_cursor_round_trips_and_a_forged_one_is_refused():
    row = SimpleNamespace(created_at=datetime(2027, 1, 5, 10, 30, 1, 123456, tzinfo=UTC), id="abc")
    assert listing.decode_cursor(listing.encode_cursor(row)) == (row.created_at, "abc")
    with pytest.raises(listing.InvalidCursor):
        listing.decode_cursor("not-a-cursor")
