"""What the e-mails say: answers to proposed dates, a decline after acceptance, hosts, sentence case, times,
venues, fees, late cancellations and moved visits."""

import re

import pytest

from services.notifications import domain
from services.protocol.domain import HOST_BY_LEVEL, host_for
from tests.unit.notifications.samples import LATE_FEE, QUOTE, render

LANGUAGES = ("fi", "sv", "en")
PICKED = {"start": "2027-04-05", "end": "2027-04-09"}
PICKED_SHOWN = {"fi": "5.4.2027–9.4.2027", "sv": "5.4.2027–9.4.2027", "en": "5 April 2027 – 9 April 2027"}
VISIT_DAY = {"fi": "3.3.2027", "sv": "3.3.2027", "en": "3 March 2027"}  # the samples' visit_date
WORDS = "We would gladly come then.\nOur minister joins us & <b>brings</b> a gift."

TAKEN = {  # the division's e-mail when the delegation takes one of its proposed ranges: subject, first line
    "fi": ("Delegaatio hyväksyi ehdottamanne ajan", "Delegaatio on hyväksynyt ehdottamanne ajan: "),
    "sv": ("Delegationen godtog den tid ni föreslog", "Delegationen har godtagit den tid ni föreslog: "),
    "en": ("The delegation accepted your proposed dates", "The delegation accepted the dates you proposed: "),
}
TURNED_DOWN = {
    "fi": "Delegaatio ei hyväksynyt ehdottamianne aikoja",
    "sv": "Delegationen tackade nej till de tider ni föreslog",
    "en": "The delegation turned down the dates you proposed",
}
FROM_DELEGATION = {
    "fi": "Delegaation viesti: ",
    "sv": "Meddelande från delegationen: ",
    "en": "Message from the delegation: ",
}
DECIDE = {"fi": "Päättäkää pyynnöstä", "sv": "Fatta beslut om förfrågan", "en": "Please decide on it"}
LATE_DECLINE = {  # staff: the accepted visit on <day> will not take place; the delegation: the one confirmed earlier
    "fi": ("hyväksytty vierailu {day} ei toteudu", "Aiemmin vahvistamamme vierailunne {day} ei näin ollen toteudu."),
    "sv": (
        "det godkända besöket {day} blir inte av",
        "Ert besök {day}, som vi tidigare bekräftat, blir därför inte av.",
    ),
    "en": (
        "the accepted visit on {day} will not take place",
        "The visit on {day} that we confirmed earlier will therefore not take place.",
    ),
}
NO_ROOM = {
    "fi": "Syy: toivotuille ajoille ei ole tilaa",
    "sv": "Skäl: det finns inte plats under de önskade tiderna",
    "en": "Reason: there is no room on the requested dates",
}
HOST_LABEL = {"fi": "Isäntä: ", "sv": "Värd: ", "en": "Host: "}
OFFICERS_WORDS = ["Apulaispormestari Nasima Razmyar", "Director, Helsinki Marketing", "Rehtori & <i>kanslia</i>"]
HOSTS = {  # by protocol level, for a visit of the education division
    "fi": {
        1: "pormestari",
        2: "apulaispormestari",
        3: "toimialajohtaja, Kasvatuksen ja koulutuksen toimiala",
        4: "Kasvatuksen ja koulutuksen toimiala",
    },
    "sv": {
        1: "borgmästaren",
        2: "biträdande borgmästaren",
        3: "sektorchef, Fostrans- och utbildningssektorn",
        4: "Fostrans- och utbildningssektorn",
    },
    "en": {1: "the Mayor", 2: "a Deputy Mayor", 3: "Director, Education Division", 4: "Education Division"},
}


def shows_words(message, words: str, label: str) -> bool:
    """The words as written in the text, escaped in a paragraph that keeps their line breaks in the HTML."""
    escaped = words.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (
        f"{label}{words}" in message.text
        and "<b>" not in message.html
        and f'<p style="white-space:pre-line">{label}{escaped}</p>' in message.html
    )


# --- the delegation takes one of the proposed ranges ----------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_proposed_dates_taken_reach_the_division_as_such_with_the_range_and_the_delegations_words(
    renderer, sample, lang
):
    event = sample("visit.routed.v1", routed_by="delegation", preferred_dates=[PICKED], message=WORDS)
    message = render(renderer, event, "division", lang)
    subject, first_line = TAKEN[lang]
    assert message.subject == f"{subject} – {event.reference}"
    assert message.text.startswith(f"{first_line}{PICKED_SHOWN[lang]}.\n")
    assert f"{first_line}<strong>{PICKED_SHOWN[lang]}</strong>." in message.html
    assert shows_words(message, WORDS, FROM_DELEGATION[lang])
    assert event.organisation in message.text and DECIDE[lang] in message.text and DECIDE[lang] in message.html
    by_rule = render(renderer, sample("visit.routed.v1", routed_by="rule"), "division", lang)
    assert TAKEN[lang][0] not in by_rule.subject and TAKEN[lang][1] not in by_rule.text  # still a new request


@pytest.mark.parametrize("lang", LANGUAGES)
def test_proposed_dates_taken_without_words_show_no_empty_message(renderer, sample, lang):
    message = render(renderer, sample("visit.routed.v1", routed_by="delegation"), "division", lang)
    assert TAKEN[lang][1] in message.text
    assert FROM_DELEGATION[lang] not in message.text and "pre-line" not in message.html


# --- the delegation turns the proposed dates down -------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_proposed_dates_turned_down_reach_the_division_as_an_answer_in_the_delegations_words(renderer, sample, lang):
    event = sample("visit.cancelled.v1", was_accepted=False, declined_proposed=True, message=WORDS)
    message = render(renderer, event, "division", lang)
    plain = render(renderer, sample("visit.cancelled.v1", was_accepted=False), "division", lang)
    assert message.text.startswith(TURNED_DOWN[lang]) and f"<p>{TURNED_DOWN[lang]}" in message.html
    assert shows_words(message, WORDS, FROM_DELEGATION[lang])
    assert message.subject != plain.subject and event.reference in message.subject
    assert TURNED_DOWN[lang] not in plain.text and FROM_DELEGATION[lang] not in plain.text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_proposed_dates_turned_down_without_words_show_no_empty_message(renderer, sample, lang):
    event = sample("visit.cancelled.v1", was_accepted=False, declined_proposed=True)
    message = render(renderer, event, "division", lang)
    assert TURNED_DOWN[lang] in message.text
    assert FROM_DELEGATION[lang] not in message.text and "pre-line" not in message.html


NONE_SUITED = {
    "fi": ", koska mikään ehdotetuista ajoista ei sopinut teille.",
    "sv": ", eftersom ingen av de föreslagna tiderna passade er.",
    "en": ", as none of the proposed dates suited you.",
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_delegation_that_turned_proposed_dates_down_is_told_that_is_why_its_request_ended(renderer, sample, lang):
    turned_down = render(
        renderer, sample("visit.cancelled.v1", was_accepted=False, declined_proposed=True), "delegation", lang
    )
    plain = render(renderer, sample("visit.cancelled.v1", was_accepted=False), "delegation", lang)
    assert NONE_SUITED[lang] in turned_down.text and NONE_SUITED[lang] in turned_down.html
    assert NONE_SUITED[lang] not in plain.text


# --- a division declines a visit it had accepted --------------------------------------------------


@pytest.mark.parametrize("recipient", ["protocol_office", "communications"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_staff_hear_that_the_accepted_visit_will_not_take_place_and_why(renderer, sample, lang, recipient):
    event = sample("visit.declined.v1", was_accepted=True, highest_rank="minister", reason="no_capacity")
    message = render(renderer, event, recipient, lang)
    will_not = LATE_DECLINE[lang][0]
    assert will_not.format(day=VISIT_DAY[lang]) in message.text
    assert will_not.format(day=f"<strong>{VISIT_DAY[lang]}</strong>") in message.html
    assert NO_ROOM[lang] in message.text and NO_ROOM[lang] in message.html
    assert "no_capacity" not in message.text and event.reference in message.subject
    assert event.message in message.text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_delegation_hears_that_the_visit_confirmed_earlier_will_not_take_place(renderer, sample, lang):
    event = sample("visit.declined.v1", was_accepted=True)
    message = render(renderer, event, "delegation", lang)
    sentence = LATE_DECLINE[lang][1]
    assert sentence.format(day=VISIT_DAY[lang]) in message.text
    assert sentence.format(day=f"<strong>{VISIT_DAY[lang]}</strong>") in message.html


@pytest.mark.parametrize("changes", [{"was_accepted": False}, {"was_accepted": True, "visit_date": None}])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_decline_with_no_accepted_day_speaks_of_no_confirmed_visit(renderer, sample, lang, changes):
    event = sample("visit.declined.v1", **changes)
    delegation, staff = (render(renderer, event, r, lang) for r in ("delegation", "protocol_office"))
    confirmed_earlier = LATE_DECLINE[lang][1].split("{day}")[0]
    will_not = LATE_DECLINE[lang][0].split("{day}")[0]
    assert confirmed_earlier not in delegation.text and confirmed_earlier not in delegation.html
    assert will_not not in staff.text and NO_ROOM[lang] in staff.text


# --- hosts in protocol plans -----------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_plan_names_the_host_protocol_gave_it_in_the_mails_language_and_an_officers_own_as_written(
    renderer, sample, lang
):
    shown = {}
    for level in HOST_BY_LEVEL:
        event = sample("protocol.plan_created.v1", division="education", host=host_for(level, "education"))
        shown[HOSTS[lang][level]] = render(renderer, event, "protocol_office", lang)
    for host in OFFICERS_WORDS:
        shown[host] = render(renderer, sample("protocol.plan_created.v1", host=host), "protocol_office", lang)
    for host, message in shown.items():
        escaped = host.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert f"{HOST_LABEL[lang]}{host}\n" in message.text and f"{HOST_LABEL[lang]}{escaped}<br>" in message.html


# --- the delegation's e-mails: a capital after the salutation ---------------------------------------

# Each branch that changes a delegation e-mail's first sentence.
DELEGATION_VARIANTS = {
    "visit.declined.v1": [{"was_accepted": False}, {"was_accepted": True}],
    "visit.cancelled.v1": [{"was_accepted": False}, {"was_accepted": True}],
    "visit.waitlisted.v1": [{"nearest_open_weeks": ["2027-W11"]}, {"nearest_open_weeks": []}],
}
DELEGATION_CASES = [
    (rule.event_type, lang, changes)
    for rule in domain.RULES
    if rule.recipient == "delegation"
    for lang in LANGUAGES
    for changes in DELEGATION_VARIANTS.get(rule.event_type, [{}])
]


@pytest.mark.parametrize(
    ("event_type", "lang", "changes"),
    DELEGATION_CASES,
    ids=[f"{t}-{lang}-{i}" for i, (t, lang, _) in enumerate(DELEGATION_CASES)],
)
def test_the_sentence_after_the_salutation_starts_with_a_capital_letter(renderer, sample, event_type, lang, changes):
    event = sample(event_type, **changes)
    message = render(renderer, event, "delegation", lang)
    salutation, body = message.text.split("\n\n", 1)
    assert salutation.endswith(f"{event.contact_name},")
    assert body[0].isupper(), body[:40]
    after = re.search(rf"<p>[^<]*{re.escape(event.contact_name)},</p>\s*<p>(?:<[^>]+>)*(\w)", message.html)
    assert after and after.group(1).isupper(), message.html


# --- the visit's time, venue and fee ----------------------------------------------------------------

NBSP = "\N{NO-BREAK SPACE}"
FEE_SHOWN = {  # the samples' quote and late fee as each language writes money (Babel, CLDR)
    "fi": {"net": f"1{NBSP}287,00{NBSP}€", "vat": f"328,19{NBSP}€", "gross": f"1{NBSP}615,19{NBSP}€"},
    "sv": {"net": f"1{NBSP}287,00{NBSP}€", "vat": f"328,19{NBSP}€", "gross": f"1{NBSP}615,19{NBSP}€"},
    "en": {"net": "€1,287.00", "vat": "€328.19", "gross": "€1,615.19"},
}
VAT_SHOWN = {"fi": f"25,5{NBSP}%", "sv": f"25,5{NBSP}%", "en": "25.5%"}
LATE_SHOWN = {
    "fi": f"myöhäisestä perumisesta laskutetaan 807,59{NBSP}€ (veroton 643,50{NBSP}€ ja arvonlisävero 164,09{NBSP}€)",
    "sv": f"avgift för sen avbokning på 807,59{NBSP}€ (643,50{NBSP}€ utan moms och 164,09{NBSP}€ moms)",
    "en": "a late-cancellation fee of €807.59 (€643.50 net plus €164.09 VAT) will be invoiced",
}
FREE = {
    "fi": "Peruminen oli maksuton.",
    "sv": "Avbokningen var kostnadsfri.",
    "en": "Cancelling the visit was free of charge.",
}
FREE_UNTIL = {  # the samples' visit is on 3.3.2027, free to cancel until 14 days before
    "fi": "Vierailun voi perua maksutta 17.2.2027 asti.",
    "sv": "Besöket kan avbokas utan kostnad till och med 17.2.2027.",
    "en": "The visit can be cancelled free of charge until 17 February 2027.",
}
HOURS_SHOWN = {"fi": "9.30–12.30", "sv": "09:30–12:30", "en": "09:30–12:30"}
FEE_WORDS = {"fi": "arvonlisävero", "sv": "moms", "en": "VAT"}
CALENDAR_ATTACHED = {"fi": "kalenteritiedosto", "sv": "kalenderfil", "en": "calendar file"}
TIMED = {"start_time": "09:30", "end_time": "12:30", "venue": "Kallion lukio & <sali>"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_acceptance_shows_the_fee_with_vat_and_terms_in_the_delegations_number_format(renderer, sample, lang):
    message = render(renderer, sample("visit.accepted.v1", **TIMED, quote=QUOTE), "delegation", lang)
    for amount in FEE_SHOWN[lang].values():
        assert amount in message.text and amount in message.html
    assert VAT_SHOWN[lang] in message.text and FREE_UNTIL[lang] in message.text and FREE_UNTIL[lang] in message.html
    assert HOURS_SHOWN[lang] in message.text and HOURS_SHOWN[lang] in message.html
    assert "Kallion lukio & <sali>" in message.text and "Kallion lukio &amp; &lt;sali&gt;" in message.html
    assert CALENDAR_ATTACHED[lang] in message.text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_visit_without_a_fee_says_nothing_of_fees(renderer, sample, lang):
    for event_type in ("visit.accepted.v1", "visit.rescheduled.v1", "visit.cancelled.v1"):
        message = render(renderer, sample(event_type, quote=None), "delegation", lang)
        assert "€" not in message.text and FEE_WORDS[lang] not in message.text and FREE[lang] not in message.text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_late_cancellation_tells_the_delegation_and_the_division_what_is_invoiced(renderer, sample, lang):
    late = sample("visit.cancelled.v1", was_accepted=True, quote=QUOTE, late_fee=LATE_FEE)
    delegation, division = render(renderer, late, "delegation", lang), render(renderer, late, "division", lang)
    assert LATE_SHOWN[lang] in delegation.text and LATE_SHOWN[lang] in delegation.html
    assert "807,59" in division.text or "807.59" in division.text
    free = render(renderer, sample("visit.cancelled.v1", was_accepted=True, quote=QUOTE), "delegation", lang)
    assert FREE[lang] in free.text and "807" not in free.text


MOVED = {
    "fi": "Vierailunne Helsingin kaupunkiin on siirretty päivältä 2.3.2027 päivälle 3.3.2027.",
    "sv": "Ert besök i Helsingfors stad har flyttats från 2.3.2027 till 3.3.2027.",
    "en": "Your visit to the City of Helsinki has been moved from 2 March 2027 to 3 March 2027.",
}
HOURS_CHANGED = {
    "fi": "Vierailunne Helsingin kaupunkiin 3.3.2027 kellonaika tai paikka on muuttunut.",
    "sv": "Tiden eller platsen för ert besök i Helsingfors stad 3.3.2027 har ändrats.",
    "en": "The time or place of your visit to the City of Helsinki on 3 March 2027 has changed.",
}
FROM_DIVISION = {"fi": "Toimialan viesti: ", "sv": "Meddelande från sektorn: ", "en": "Message from the division: "}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_moved_visit_tells_the_delegation_the_new_day_hours_and_the_divisions_words(renderer, sample, lang):
    moved = sample("visit.rescheduled.v1", **TIMED, message=WORDS)
    message = render(renderer, moved, "delegation", lang)
    assert MOVED[lang] in message.text and HOURS_SHOWN[lang] in message.text
    assert shows_words(message, WORDS, FROM_DIVISION[lang])
    assert CALENDAR_ATTACHED[lang] in message.text and CALENDAR_ATTACHED[lang] in message.html
    same_day = render(renderer, sample("visit.rescheduled.v1", previous_date="2027-03-03"), "delegation", lang)
    assert HOURS_CHANGED[lang] in same_day.text and MOVED[lang] not in same_day.text
    assert FROM_DIVISION[lang] not in same_day.text and "pre-line" not in same_day.html
