"""Every message the rules can produce renders in every language, names the reference and links home."""

import pytest
from jinja2 import UndefinedError

from services.notifications import domain
from services.visits import texts
from tests.unit.notifications.samples import LATE_FEE, QUOTE, render

LANGUAGES = ("fi", "sv", "en")
# Variants that take other branches of the templates: no host, no limit, no open weeks, from the waitlist,
# proposed dates taken or turned down, a decline after acceptance, each host protocol names, times, venues and
# fees, a visit moved to another day or only to other hours, a cancellation free or late.
VARIANTS = {
    "visit.routed.v1": [
        {"routed_by": "rule"},
        {"routed_by": "waitlist"},
        {"routed_by": "delegation", "message": "Sopii."},
        {"routed_by": "delegation"},
    ],
    "visit.declined.v1": [
        {"was_accepted": False},
        {"was_accepted": True, "highest_rank": "minister"},
        {"was_accepted": True, "highest_rank": "minister", "visit_date": None, "message": ""},
    ],
    "visit.waitlisted.v1": [{"nearest_open_weeks": ["2027-W11"]}, {"nearest_open_weeks": []}],
    "visit.accepted.v1": [
        {"host": "Deputy Mayor", "needs": {"press": True}},
        {"host": None},
        {"start_time": "09:30", "end_time": "12:30", "venue": "Kallion lukio", "quote": QUOTE},
    ],
    "visit.rescheduled.v1": [
        {},
        {"previous_date": "2027-03-03", "start_time": "13:00", "end_time": "15:00", "message": "Sali 2."},
        {"venue": "Kallion lukio", "host": None, "quote": QUOTE},
    ],
    "visit.cancelled.v1": [
        {"was_accepted": True},
        {"was_accepted": True, "quote": QUOTE},
        {"was_accepted": True, "quote": QUOTE, "late_fee": LATE_FEE},
        {"was_accepted": False, "visit_date": None},
        {"declined_proposed": True, "message": "Ei käy."},
        {"declined_proposed": True},
    ],
    "capacity.week_full.v1": [{"limit": 6}, {"limit": None}],
    "protocol.plan_created.v1": [
        {},
        {"visit_date": None, "host": None, "conflicts": []},
        {"host": "Mayor"},
        {"host": "Director, education"},
        {"host": "education"},
        {"host": "Rehtori"},
    ],
}
CASES = [
    (rule.event_type, rule.recipient, lang, variant)
    for rule in domain.RULES
    for lang in LANGUAGES
    for variant in VARIANTS.get(rule.event_type, [{}])
]


@pytest.mark.parametrize(
    ("event_type", "recipient", "lang", "variant"),
    CASES,
    ids=[f"{t}-{r}-{lang}-{i}" for i, (t, r, lang, _) in enumerate(CASES)],
)
def test_every_rule_renders_in_every_language_with_the_reference(
    renderer, sample, event_type, recipient, lang, variant
):
    event = sample(event_type, **variant)
    message = render(renderer, event, recipient, lang)
    assert message.subject and "\n" not in message.subject
    if event_type != "capacity.week_full.v1":  # a week has no request, hence no reference
        assert event.reference in message.text and event.reference in message.html
    if recipient == "delegation":
        assert event.reference in message.subject
        assert event.tracking_url in message.text
        assert f'href="{event.tracking_url}"' in message.html
    assert message.html.startswith("<!doctype html>") and f'<html lang="{lang}">' in message.html


def test_the_delegation_reads_its_own_language(renderer, sample):
    event = sample("visit.accepted.v1")
    texts = {lang: render(renderer, event, "delegation", lang).text for lang in LANGUAGES}
    assert "Hyvä Anna Lind" in texts["fi"] and "Bästa Anna Lind" in texts["sv"] and "Dear Anna Lind" in texts["en"]
    assert "3.3.2027" in texts["fi"] and "3 March 2027" in texts["en"]


def test_data_from_the_public_form_is_escaped_in_html_and_kept_as_written_in_text(renderer, sample):
    event = sample("visit.routed.v1", organisation="Tom & <script>alert(1)</script>")
    message = render(renderer, event, "division", "fi")
    assert "Tom & <script>" in message.text
    assert "<script>" not in message.html and "Tom &amp; &lt;script&gt;" in message.html


def test_a_line_break_in_the_data_cannot_add_a_header_through_the_subject(renderer, sample):
    event = sample("visit.accepted.v1", reference="HEL-1\nBcc: x@example.com")
    assert "\n" not in render(renderer, event, "delegation", "en").subject


def test_a_variable_the_template_needs_but_the_event_lacks_fails_loudly(renderer):
    with pytest.raises(UndefinedError):
        renderer.render("en/delegation/visit.accepted.j2", {"lang": "en", "reference": "HEL-1"})


def test_country_codes_are_named_in_the_readers_language(renderer, sample):
    event = sample("visit.routed.v1", country="DE")
    assert "Saksa" in render(renderer, event, "division", "fi").text
    assert "Tyskland" in render(renderer, event, "division", "sv").text
    assert "Germany" in render(renderer, event, "division", "en").text


@pytest.mark.parametrize("code", ["KR", "TW", "IR", "DE"])
def test_staff_mails_name_a_country_as_the_form_does(renderer, sample, code):
    # The common name where the catalogue has one ("South Korea"), not the official "Korea, Republic of".
    for lang in ("fi", "sv", "en"):
        on_the_form = dict(texts.countries(lang))[code]
        mail = render(renderer, sample("visit.routed.v1", country=code), "division", lang).text
        assert f"({on_the_form})" in mail, (lang, on_the_form)


def test_a_delegation_message_without_a_known_link_leaves_the_link_out(renderer, sample):
    message = render(renderer, sample("visit.declined.v1", tracking_url=None), "delegation", "en")
    assert "None" not in message.text and "href" not in message.html
    assert "Reference: HEL-2027-0042" in message.text
