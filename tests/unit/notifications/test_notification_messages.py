"""E-mails and webhook bodies as the dispatcher sends them, and what the delivery log shows of them."""

import email
import email.policy
import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from services.notifications.messages import email_message, signature
from services.notifications.schemas import DeliveryPublic


def test_the_webhook_signature_is_an_hmac_of_the_timestamp_and_the_raw_body():
    body = b'{"reference":"HEL-2027-0042"}'
    expected = hmac.new(b"s3cret-s3cret-16", b"1767225600." + body, hashlib.sha256).hexdigest()
    assert signature("s3cret-s3cret-16", 1767225600, body) == f"t=1767225600,v1={expected}"


def _read(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_an_email_carries_a_message_id_derived_from_its_delivery_and_both_bodies():
    outgoing = email_message(
        delivery_id="0b6d4c1e",
        sender="visitdesk <no-reply@hel.example>",
        to="anna@example.se",
        subject="Ert besök – HEL-1",
        text="Hej\n",
        html="<p>Hej</p>",
        language="sv",
        reference="HEL-1",
    )
    assert (outgoing.sender, outgoing.recipient, outgoing.smtputf8) == (
        "no-reply@hel.example",
        "anna@example.se",
        False,
    )
    message = _read(outgoing.data)
    assert message["Message-ID"] == "<0b6d4c1e@visitdesk>"
    assert (message["Content-Language"], message["X-Visitdesk-Reference"]) == ("sv", "HEL-1")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Hej\n"
    assert message.get_body(("html",)).get_content().strip() == "<p>Hej</p>"


@pytest.mark.parametrize(
    ("language", "subject", "text"),
    [
        ("fi", "Vierailupyyntönne on vastaanotettu – HEL-2027-0042", "Hyvä vastaanottaja,\nKiitos yhteydenotosta.\n"),
        ("sv", "Ert besök är bekräftat – HEL-2027-0042", "Hej,\nEr förfrågan är mottagen. Välkomna!\n"),
        ("en", "Your visit request HEL-2027-0042 has been received", "Dear guest,\n" + "A long line. " * 40 + "\n"),
        (
            "en",
            "Your visit request HEL-2027-0042 from the Ministry for Foreign Affairs of Sweden has been received",
            "Dear guest,\n",
        ),  # a subject too long for one header line: folded
    ],
)
def test_an_email_is_wire_ready_with_crlf_and_ascii_headers_and_reads_back_unchanged(language, subject, text):
    raw = email_message(
        delivery_id="0b6d4c1e",
        sender="Helsingin kaupunki / visitdesk <no-reply@hel.example>",
        to="anna@example.se",
        subject=subject,
        text=text,
        html=f"<p>{text}</p>",
        language=language,
        reference="HEL-2027-0042",
    ).data
    _head, _ = raw.split(b"\r\n\r\n", 1)
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    assert raw.isascii() and max(len(line) for line in raw.split(b"\r\n")) <= 78
    read = _read(raw)
    assert (read["Subject"], read["Message-ID"], read["Content-Language"]) == (
        subject,
        "<0b6d4c1e@visitdesk>",
        language,
    )
    assert read["From"].addresses[0].addr_spec == "no-reply@hel.example"
    assert read["From"].addresses[0].display_name == "Helsingin kaupunki / visitdesk"
    assert read.get_body(("plain",)).get_content().replace("\r\n", "\n") == text
    assert text.splitlines()[0] in read.get_body(("html",)).get_content()


def test_an_international_address_goes_as_utf8_for_a_server_that_offers_smtputf8():
    outgoing = email_message(
        delivery_id="0b6d4c1e",
        sender="visitdesk <no-reply@hel.example>",
        to="jörg@bücher.example",
        subject="Ihr Besuch – HEL-1",
        text="Hallo\n",
        html=None,
        language="en",
        reference="HEL-1",
    )
    assert (outgoing.recipient, outgoing.smtputf8) == ("jörg@bücher.example", True)
    read = _read(outgoing.data)
    assert (read["To"], read["Subject"]) == ("jörg@bücher.example", "Ihr Besuch – HEL-1")
    assert read.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Hallo\n"


@pytest.mark.parametrize("field", ["to", "subject", "reference"])
def test_a_header_value_with_a_line_break_is_refused_rather_than_injected(field):
    values = {"to": "anna@example.se", "subject": "Hej", "reference": "HEL-1"} | {field: "x\r\nBcc: evil@example.com"}
    with pytest.raises(ValueError):
        email_message(
            delivery_id="0b6d4c1e",
            sender="visitdesk <no-reply@hel.example>",
            text="Hej\n",
            html=None,
            language="sv",
            **values,
        )


def test_the_delivery_log_shows_where_a_webhook_goes_but_not_its_secret_path_or_credentials():
    now = datetime.now(UTC)
    row = {
        "id": "d1",
        "event_id": "e1",
        "event_type": "visit.routed.v1",
        "reference": "HEL-1",
        "division": "education",
        "recipient_kind": "division",
        "channel": "webhook",
        "language": "fi",
        "status": "sent",
        "attempts": 1,
        "last_error": None,
        "created_at": now,
        "next_attempt_at": now,
        "sent_at": now,
        "failed_at": None,
    }
    webhook = DeliveryPublic(**row, address="https://bot:pw@hooks.example:8443/services/T0/B0/XXXX?k=1")
    email = DeliveryPublic(**row | {"channel": "email"}, address="kv@hel.example")
    assert webhook.address == "https://hooks.example:8443/…"
    assert email.address == "kv@hel.example"
