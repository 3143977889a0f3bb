"""Messages: templates rendered to subject, text and HTML; e-mails and signed webhook bodies built from them."""

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email import policy
from email.charset import BASE64, QP, Charset
from email.header import Header
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.environment import TemplateModule

from shared import countries, formats

TEMPLATES = Path(__file__).resolve().parent / "templates"
MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEK_FORMATS = {"fi": "viikko {week}/{year}", "sv": "vecka {week}/{year}", "en": "week {week} of {year}"}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@pass_context
def format_day(context, value: date | str) -> str:
    """12.3.2027 in Finnish and Swedish (as used in Finland), 12 March 2027 in English."""
    day = date.fromisoformat(value) if isinstance(value, str) else value
    if context["lang"] == "en":
        return f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}"
    return f"{day.day}.{day.month}.{day.year}"


@pass_context
def format_week(context, iso_week: str) -> str:
    """2027-W07 as 'viikko 7/2027', 'vecka 7/2027' or 'week 7 of 2027'."""
    year, week = iso_week.split("-W")
    return WEEK_FORMATS[context["lang"]].format(week=int(week), year=year)


@pass_context
def country_name(context, code: str) -> str:
    """The name the city uses, in the mail's language (as on the form): "South Korea", not "Korea, Republic of"."""
    return countries.country_name(code, context["lang"])


@pass_context
def money(context, amount, currency: str = "EUR") -> str:
    """An amount in the mail's language: "1 234,50 €" (fi, sv), "€1,234.50" (en)."""
    return formats.money(amount, currency, context["lang"])


@pass_context
def percent(context, value) -> str:
    return formats.percent(value, context["lang"])


@pass_context
def number(context, value) -> str:
    return formats.number(value, context["lang"])


@pass_context
def clock(context, moment: time | str) -> str:
    """A time of day as the mail's language writes it: "9.30" (fi), "09:30" (sv, en)."""
    return formats.clock(time.fromisoformat(moment) if isinstance(moment, str) else moment, context["lang"])


def days_before(day: date | str, days: int) -> date:
    return (date.fromisoformat(day) if isinstance(day, str) else day) - timedelta(days=days)


def _environment(*, html: bool, directory: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(directory),
        undefined=StrictUndefined,
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )  # templates change with a deploy
    env.filters.update(
        day=format_day,
        week=format_week,
        country=country_name,
        money=money,
        percent=percent,
        number=number,
        clock=clock,
        days_before=days_before,
    )
    return env


class Renderer:
    """Each template sets `subject`, `text` and `html`; HTML is rendered with autoescaping, the rest without."""

    def __init__(self, directory: Path = TEMPLATES):
        self.text_env = _environment(html=False, directory=directory)
        self.html_env = _environment(html=True, directory=directory)
        self._calendar_words: dict[str, TemplateModule] = {}

    def calendar_words(self, language: str) -> TemplateModule:
        """The macros of `<language>/calendar.j2`: how calendar entries and feeds are worded in `language`."""
        if language not in self._calendar_words:
            template = self.text_env.get_template(f"{language}/calendar.j2")
            self._calendar_words[language] = template.make_module({"lang": language})
        return self._calendar_words[language]

    def render(self, name: str, context: dict[str, Any]) -> Rendered:
        """Raises jinja2.TemplateError when the template or one of its variables is missing."""
        plain = self.text_env.get_template(name).make_module(context)
        marked = self.html_env.get_template(name).make_module(context)
        subject = " ".join(str(plain.subject).split())  # one line: no header injection from data
        page = self.html_env.get_template("layout.html").render(lang=context["lang"], subject=subject, body=marked.html)
        return Rendered(subject=subject, text=str(plain.text).strip() + "\n", html=page)


@dataclass(frozen=True)
class OutgoingEmail:
    """An e-mail as it goes on the wire: envelope addresses and the CRLF-terminated message."""

    sender: str  # addr-spec of the envelope's MAIL FROM
    recipient: str
    data: bytes
    smtputf8: bool = False  # an address is not ASCII: only a server offering SMTPUTF8 can take it


class _Wire(policy.Compat32):
    """compat32 with CRLF that writes a short ASCII header line as it is.

    compat32 passes every header through `Header(value).encode()` to fold it, about half of building an
    e-mail, although ours fit on one line; the rest (encoded subjects, long values) still goes that way.
    """

    def _fold(self, name, value, sanitize):
        if (
            isinstance(value, str)
            and value.isascii()
            and len(name) + len(value) + 2 <= 78
            and ("\r" not in value and "\n" not in value)
        ):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


# The legacy (compat32) API builds a message about three times faster than EmailMessage with a modern policy,
# which parses every header it is given; our headers are few, and ours to get right.
WIRE = _Wire(linesep="\r\n")
UTF8 = Charset("utf-8")
UTF8.body_encoding = QP  # readable bodies in any client's "view source"
# Encoded words in base64: the quoted-printable header encoder measures every split it tries character by
# character (4 % of the service's CPU under load); headers are decoded by every client either way.
UTF8.header_encoding = BASE64
ICS = Charset("utf-8")
ICS.body_encoding = BASE64  # an attachment arrives byte for byte, CRLF line ends and all


def email_message(
    *,
    delivery_id: str,
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str | None,
    language: str,
    reference: str | None,
    calendar: str | None = None,
) -> OutgoingEmail:
    """A multipart/alternative e-mail whose Message-ID is stable across resends of one delivery; with `calendar`,
    multipart/mixed with the visit attached as `<reference>.ics` (text/calendar; method=PUBLISH)."""
    values = (sender, to, subject, language, reference or "")
    if any("\r" in v or "\n" in v for v in values):
        raise ValueError("a header value spans lines")
    name, address = parseaddr(sender)
    headers = {
        "Date": format_datetime(datetime.now(UTC)),
        "Message-ID": f"<{delivery_id}@visitdesk>",
        "Auto-Submitted": "auto-generated",
    }  # RFC 3834: no vacation replies
    if reference:
        headers["X-Visitdesk-Reference"] = reference
    attachment = (calendar, f"{reference or 'visit'}.ics") if calendar else None
    if not (address.isascii() and to.isascii()):
        return _utf8_email(address, to, sender, subject, text, html, language, headers, attachment)
    # A boundary of our own: the generator would otherwise compile a regular expression per e-mail to make one.
    message = MIMEMultipart("alternative", f"=_{delivery_id}", policy=WIRE) if html else _text_part(text, "plain")
    if html:
        message.attach(_text_part(text, "plain"))
        message.attach(_text_part(html, "html"))
    if attachment:
        message = _with_attachment(message, *attachment, boundary=f"=_{delivery_id}_mixed")
    message["From"] = formataddr((name, address), charset=UTF8)
    message["To"] = to
    message["Subject"] = subject if subject.isascii() else Header(subject, UTF8, header_name="Subject")
    for key, value in headers.items():
        message[key] = value
    message["Content-Language"] = language
    return OutgoingEmail(address, to, message.as_bytes(policy=WIRE))


def _text_part(body: str, subtype: str) -> MIMEText:
    """Plain 7-bit when it can go as it is; else quoted-printable, which also keeps lines short."""
    as_is = body.isascii() and all(len(line) <= 76 for line in body.splitlines())
    return MIMEText(body, subtype, "us-ascii" if as_is else UTF8, policy=WIRE)


def _with_attachment(body: MIMEText | MIMEMultipart, calendar: str, filename: str, *, boundary: str) -> MIMEMultipart:
    mixed = MIMEMultipart("mixed", boundary, policy=WIRE)
    mixed.attach(body)
    part = MIMEText(calendar, "calendar", ICS, policy=WIRE)
    part.set_param("method", "PUBLISH")
    part.add_header("Content-Disposition", "attachment", filename=filename)
    mixed.attach(part)
    return mixed


def _utf8_email(
    address: str,
    to: str,
    sender: str,
    subject: str,
    text: str,
    html: str | None,
    language: str,
    headers: dict[str, str],
    attachment: tuple[str, str] | None,
) -> OutgoingEmail:
    """Internationalised addresses (RFC 6531/6532): UTF-8 headers, for servers that offer SMTPUTF8."""
    message = EmailMessage(policy=policy.SMTPUTF8)
    message["From"], message["To"], message["Subject"] = sender, to, subject
    for key, value in headers.items():
        message[key] = value
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    if attachment:
        calendar, filename = attachment
        message.add_attachment(calendar, subtype="calendar", filename=filename, params={"method": "PUBLISH"})
    message["Content-Language"] = language  # after the bodies: setting content clears Content-* headers
    return OutgoingEmail(address, to, message.as_bytes(), smtputf8=True)


def webhook_body(*, delivery_id: str, envelope, reference: str | None, division: str | None, rendered: Rendered) -> str:
    """The JSON a division's webhook receives: what happened, to which request, and the staff text."""
    return json.dumps(
        {
            "delivery_id": delivery_id,
            "event_id": envelope.id,
            "event_type": envelope.type,
            "occurred_at": envelope.time.isoformat(),
            "reference": reference,
            "division": division,
            "status": envelope.data.get("status"),
            "subject": rendered.subject,
            "text": rendered.text,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, as WEBHOOKS.md tells receivers to check."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
