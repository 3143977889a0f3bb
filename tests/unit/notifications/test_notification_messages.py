"""E-mails and webhook bodies as the dispatcher sends them, and what the delivery log shows of them."""

import hashlib
import hmac
from datetime import UTC, datetime

from services.notifications.messages import email_message, signature
from services.notifications.schemas import DeliveryPublic


def test_the_webhook_signature_is_an_hmac_of_the_timestamp_and_the_raw_body():
    body = b'{"reference":"HEL-2027-0042"}'
    expected = hmac.new(b"s3cret-s3cret-16", b"1767225600." + body, hashlib.sha256).hexdigest()
    assert signature("s3cret-s3cret-16", 1767225600, body) == f"t=1767225600,v1={expected}"


def test_an_email_carries_a_message_id_derived_from_its_delivery_and_both_bodies():
    message = email_message(delivery_id="0b6d4c1e", sender="visitdesk <no-reply@hel.example>",
                            to="anna@example.se", subject="Ert besök – HEL-1", text="Hej\n", html="<p>Hej</p>",
                            language="sv", reference="HEL-1")
    assert message["Message-ID"] == "<0b6d4c1e@visitdesk>"
    assert (message["Content-Language"], message["X-Visitdesk-Reference"]) == ("sv", "HEL-1")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_body(("plain",)).get_content() == "Hej\n"
    assert message.get_body(("html",)).get_content().strip() == "<p>Hej</p>"


def test_the_delivery_log_shows_where_a_webhook_goes_but_not_its_secret_path_or_credentials():
    now = datetime.now(UTC)
    row = {"id": "d1", "event_id": "e1", "event_type": "visit.routed.v1", "reference": "HEL-1",
           "division": "education", "recipient_kind": "division", "channel": "webhook", "language": "fi",
           "status": "sent", "attempts": 1, "last_error": None, "created_at": now, "next_attempt_at": now,
           "sent_at": now, "failed_at": None}
    webhook = DeliveryPublic(**row, address="https://bot:pw@hooks.example:8443/services/T0/B0/XXXX?k=1")
    email = DeliveryPublic(**row | {"channel": "email"}, address="kv@hel.example")
    assert webhook.address == "https://hooks.example:8443/…"
    assert email.address == "kv@hel.example"
