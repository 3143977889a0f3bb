"""The staff session's guards without I/O: the signed cookie, the sealed row, the CSRF token, the way back."""

import pytest

from services.visits import staff
from services.visits.config import Settings

settings = Settings(database_url="unused")
other = Settings(database_url="unused", session_secret="another deployment")


def test_a_cookie_opens_only_with_its_own_signature_and_secret():
    cookie = staff.cookie_value(settings, "k3y")
    assert staff.key_in(settings, cookie) == "k3y"
    assert staff.key_in(other, cookie) is None
    assert staff.key_in(settings, staff.cookie_value(other, "k3y")) is None
    for forged in ("k3y", "k3y.", f"k3z.{cookie.split('.')[1]}", f".{cookie.split('.')[1]}", "", None, "ä.ö"):
        assert staff.key_in(settings, forged) is None, forged


def test_what_a_row_keeps_sealed_opens_only_with_the_cookies_key():
    sealed = staff.seal("key-one", {"name": "Aino", "refresh_token": "r"})
    assert staff.unseal("key-one", sealed) == {"name": "Aino", "refresh_token": "r"}
    assert staff.unseal("key-two", sealed) is None
    assert staff.unseal("key-one", sealed[:-4] + "AAAA") is None
    assert staff.unseal("key-one", "not base64 at all!") is None
    assert "Aino" not in sealed


def test_the_csrf_token_belongs_to_one_session():
    token = staff.csrf_token(settings, "key-one")
    assert staff.csrf_matches(settings, "key-one", token)
    assert not staff.csrf_matches(settings, "key-two", token)
    assert not staff.csrf_matches(other, "key-one", token)
    assert not staff.csrf_matches(settings, "key-one", None)
    assert not staff.csrf_matches(settings, "key-one", ["list"])


@pytest.mark.parametrize(
    "asked,goes_to",
    [
        ("/queue?status=routed", "/queue?status=routed"),
        ("/desk/requests/HEL-2027-0001", "/desk/requests/HEL-2027-0001"),
        (None, "/queue"),
        ("", "/queue"),
        ("https://evil.example/", "/queue"),
        ("//evil.example/", "/queue"),
        ("/\\evil.example", "/queue"),
        ("queue", "/queue"),
        ("/queue\nSet-Cookie: x", "/queue"),
    ],
)
def test_sign_in_comes_back_only_to_a_page_of_this_site(asked, goes_to):
    assert staff.safe_next(asked) == goes_to


def test_production_needs_its_own_session_secret_and_a_provider_needs_a_client_secret():
    production = {
        "database_url": "unused",
        "environment": "production",
        "oidc_issuer": "https://login.example.test/realms/helsinki",
        "csrf_secret": "c",
        "oidc_client_secret": "o",
    }
    with pytest.raises(ValueError, match="VISITS_SESSION_SECRET"):
        Settings(**production)
    with pytest.raises(ValueError, match="VISITS_OIDC_CLIENT_SECRET"):
        Settings(**production | {"session_secret": "s", "oidc_client_secret": None})
    assert Settings(**production | {"session_secret": "s"}).oidc_client_id == "visitdesk"
