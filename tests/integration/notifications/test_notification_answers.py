"""The delegation's answers to proposed dates, and a decline after acceptance, as the people told read them.

Real Kafka, PostgreSQL and SMTP server; staff read Finnish (the default), the delegation Swedish.
"""

from tests.integration.notifications.running import running, settled

PICKED = {"start": "2027-04-05", "end": "2027-04-09"}
WORDS = "Huhtikuu sopii meille hyvin.\nTerveisin Anna & <valtuuskunta>"


def mails_by_recipient(sink, rows: list[dict]) -> dict:
    """The e-mails of the logged deliveries, by recipient kind, each as (message, text, html)."""
    kinds = {f"<{r['id']}@visitdesk>": r["recipient_kind"] for r in rows if r["channel"] == "email"}
    return {
        kinds[m["Message-ID"]]: (m, body(m, "plain"), body(m, "html"))
        for m in sink.messages()
        if m["Message-ID"] in kinds
    }


def body(mail, subtype: str) -> str:
    return mail.get_body((subtype,)).get_content().replace("\r\n", "\n")


async def test_proposed_dates_the_delegation_takes_reach_the_division_as_its_answer_in_its_words(
    database, sink, make_settings, publish, visit_event
):
    settings = make_settings(database, sink.port)
    event = visit_event(
        "visit.routed.v1", routed_by="delegation", message=WORDS, preferred_dates=[PICKED], visit_date=None, host=None
    )
    reference = event["data"]["reference"]
    async with running(settings) as (_app, client):
        await publish(settings, "visits.v1", event)
        rows = await settled(client, settings, reference, 1)
    assert [(r["recipient_kind"], r["status"]) for r in rows] == [("division", "sent")]
    mail, text, html = mails_by_recipient(sink, rows)["division"]
    assert mail["To"] == "education@visitdesk.invalid"
    assert mail["Subject"] == f"Delegaatio hyväksyi ehdottamanne ajan – {reference}"
    assert text.startswith("Delegaatio on hyväksynyt ehdottamanne ajan: 5.4.2027–9.4.2027.\n")
    assert f"Delegaation viesti: {WORDS}\n" in text and "Päättäkää pyynnöstä" in text
    assert (
        '<p style="white-space:pre-line">Delegaation viesti: Huhtikuu sopii meille hyvin.\n'
        "Terveisin Anna &amp; &lt;valtuuskunta&gt;</p>"
    ) in html


async def test_proposed_dates_the_delegation_turns_down_reach_the_division_as_its_answer_in_its_words(
    database, sink, make_settings, publish, visit_event
):
    settings = make_settings(database, sink.port)
    event = visit_event(
        "visit.cancelled.v1", was_accepted=False, declined_proposed=True, message=WORDS, visit_date=None, host=None
    )
    reference = event["data"]["reference"]
    async with running(settings) as (_app, client):
        await publish(settings, "visits.v1", event)
        rows = await settled(client, settings, reference, 2)
    assert sorted((r["recipient_kind"], r["status"]) for r in rows) == [("delegation", "sent"), ("division", "sent")]
    mail, text, html = mails_by_recipient(sink, rows)["division"]
    assert mail["Subject"] == f"Ehdotetut ajat eivät sopineet, vierailu peruttu – {reference}"
    assert text.startswith("Delegaatio ei hyväksynyt ehdottamianne aikoja, ja sen vierailupyyntö on peruttu.\n")
    assert f"Delegaation viesti: {WORDS}\n" in text and "&lt;valtuuskunta&gt;" in html


async def test_an_accepted_prominent_visit_the_division_declines_reaches_the_protocol_office_and_communications(
    database, sink, make_settings, publish, visit_event
):
    settings = make_settings(database, sink.port)
    event = visit_event(
        "visit.declined.v1",
        was_accepted=True,
        highest_rank="minister",
        reason="no_capacity",
        message="Pahoittelemme muutosta.",
        visit_date="2027-03-03",
        language="sv",
    )
    reference = event["data"]["reference"]
    async with running(settings) as (_app, client):
        await publish(settings, "visits.v1", event)
        rows = await settled(client, settings, reference, 3)
    assert sorted((r["recipient_kind"], r["status"]) for r in rows) == [
        ("communications", "sent"),
        ("delegation", "sent"),
        ("protocol_office", "sent"),
    ]
    mails = mails_by_recipient(sink, rows)
    for kind, address in (
        ("protocol_office", settings.protocol_office_email),
        ("communications", settings.communications_email),
    ):
        mail, text, _html = mails[kind]
        assert mail["To"] == address
        assert mail["Subject"] == f"Hyväksytty vierailu peruuntuu – {reference}"
        assert "on hylännyt vierailupyynnön; hyväksytty vierailu 3.3.2027 ei toteudu." in text
        assert "Syy: toivotuille ajoille ei ole tilaa" in text and "Pahoittelemme muutosta." in text
    mail, text, _html = mails["delegation"]
    assert text.startswith("Bästa Anna Lind,\n\nTack för ert intresse")
    assert "Ert besök 3.3.2027, som vi tidigare bekräftat, blir därför inte av." in text
