"""The public form in Finnish, Swedish and English: CSRF, honeypot, errors, confirmation and tracking."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from services.visits import domain, models
from services.visits.schemas import helsinki_today
from tests.builders import future
from tests.integration.visits.running import form_data, just_after_midnight_yesterday, token_of

SUBMIT = {"fi": "Lähetä pyyntö", "sv": "Skicka begäran", "en": "Send request"}
THANKS = {
    "fi": "Kiitos, pyyntönne on vastaanotettu",
    "sv": "Tack, er begäran har tagits emot",
    "en": "Thank you, your request has been received",
}


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
async def test_a_form_post_in_each_language_renders_its_confirmation(visits, lang):
    form = await visits.client.get("/apply", params={"lang": lang})
    assert f'<html lang="{lang}">' in form.text and SUBMIT[lang] in form.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    posted = await visits.client.post("/apply", data=form_data(csrf, lang))
    assert posted.status_code == 303, posted.text
    location = posted.headers["location"]
    reference = re.fullmatch(rf"/apply/confirmation/(HEL-\d{{4}}-\d{{6}})\?lang={lang}", location).group(1)
    confirmation = await visits.client.get(location)
    assert confirmation.status_code == 200
    assert THANKS[lang] in confirmation.text and reference in confirmation.text
    tracking_url = re.search(r'class="tracking-link" href="([^"]+)"', confirmation.text).group(1)
    view = await visits.view(reference)
    assert (view["language"], view["division"], view["focus_areas"]) == (
        lang,
        "culture-and-leisure",
        ["culture", "design"],
    )
    assert view["members"] == [{"name": "Jaan Tamm", "title": "Rector", "role": "leader"}]
    token = tracking_url.split("token=", 1)[1]
    own = await visits.client.get(f"/api/v1/requests/{reference}", params={"token": token})
    assert own.status_code == 200


async def test_the_confirmation_shows_nothing_to_a_browser_without_the_receipt(visits):
    csrf = await visits.form_csrf("en")
    location = (await visits.client.post("/apply", data=form_data(csrf, "en"))).headers["location"]
    reference = location.split("/")[-1].split("?")[0]
    visits.client.cookies.delete("visitdesk_receipt")
    page = await visits.client.get(location)
    assert page.status_code == 200 and f"<strong>{reference}</strong>" not in page.text
    assert "token=" not in page.text


async def test_a_form_post_without_the_csrf_token_is_refused_and_stores_nothing(visits):
    csrf = await visits.form_csrf("fi")
    before = await visits.count(models.VisitRequest)
    missing = await visits.client.post("/apply", data=form_data("", "fi"))
    forged = await visits.client.post("/apply", data=form_data(csrf + "0", "fi"))
    assert (missing.status_code, forged.status_code) == (403, 403)
    assert "Lomake vanhentui" in missing.text
    assert await visits.count(models.VisitRequest) == before


async def test_a_filled_honeypot_pretends_success_and_stores_nothing(visits):
    csrf = await visits.form_csrf("sv")
    before = await visits.count(models.VisitRequest), await visits.count(models.outbox)
    posted = await visits.client.post("/apply", data=form_data(csrf, "sv", website="http://spam.example"))
    assert posted.status_code == 303 and posted.headers["location"].startswith("/apply/confirmation/")
    page = await visits.client.get(posted.headers["location"])
    assert page.status_code == 200 and THANKS["sv"] in page.text
    assert (await visits.count(models.VisitRequest), await visits.count(models.outbox)) == before


async def test_form_errors_are_summarised_at_the_top_and_linked_to_their_fields(visits):
    csrf = await visits.form_csrf("en")
    before = await visits.count(models.VisitRequest)
    page = await visits.client.post(
        "/apply",
        data=form_data(
            csrf,
            "en",
            organisation="",
            contact_email="nope",
            delegation_size="500",
            preferred_1_start="2020-01-01",
            other_focus_areas=["design", "climate", "mobility"],
        ),
    )
    assert page.status_code == 422
    assert page.text.index('class="error-summary"') < page.text.index("<form")
    links = re.findall(r'<li><a href="#([a-z_0-9]+)">', page.text)
    assert links == ["organisation", "contact_email", "other_focus_areas", "delegation_size", "preferred_1_start"]
    for field in ("organisation", "contact_email", "delegation_size", "preferred_1_start"):
        assert re.search(
            rf'id="{field}"[^>]*aria-describedby="[^"]*{field}-error"[^>]*aria-invalid="true"', page.text
        ), field
    assert 'value="Jaan Tamm"' in page.text  # what was typed stays
    assert await visits.count(models.VisitRequest) == before


async def test_an_error_in_the_third_period_is_shown_there_when_the_second_is_left_empty(visits):
    csrf = await visits.form_csrf("en")
    page = await visits.client.post(
        "/apply", data=form_data(csrf, "en", preferred_3_start=future(90), preferred_3_end=future(80))
    )  # ends before it starts
    assert page.status_code == 422
    assert re.findall(r'<li><a href="#([a-z_0-9]+)">', page.text) == ["preferred_3_end"]
    assert re.search(r'id="preferred_3_end"[^>]*aria-invalid="true"', page.text)
    assert not re.search(r'id="preferred_2_end"[^>]*aria-invalid="true"', page.text)


async def test_pages_carry_the_security_headers_and_the_stylesheet_is_served(visits):
    page = await visits.client.get("/apply", params={"lang": "en"})
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "HttpOnly" in page.headers["set-cookie"] and "SameSite=strict" in page.headers["set-cookie"]
    css = await visits.client.get("/static/visitdesk.css")
    assert css.status_code == 200 and "#0000bf" in css.text


async def test_the_tracking_page_shows_the_request_in_its_language(visits):
    submitted = await visits.submit(language="fi", focus_areas=["mobility"])
    path = submitted["tracking_url"].split("8001", 1)[1]
    page = await visits.client.get(path)
    assert page.status_code == 200
    assert submitted["reference"] in page.text and "Kaupunkiympäristön toimiala" in page.text
    assert "Toimialan käsiteltävänä" in page.text
    wrong = await visits.client.get(f"/track/{submitted['reference']}", params={"token": "guess", "lang": "en"})
    assert wrong.status_code == 404 and "Request not found" in wrong.text


async def test_the_tracking_page_dates_the_history_in_helsinki_days(visits):
    submitted = await visits.submit(language="en")
    yesterday = helsinki_today() - timedelta(days=1)
    async with visits.app.state.sessions() as session:
        request = await session.scalar(
            select(models.VisitRequest.id).where(models.VisitRequest.reference == submitted["reference"])
        )
        await session.execute(
            update(models.HistoryEntry)
            .where(models.HistoryEntry.request_id == request)
            .values(at=just_after_midnight_yesterday())
        )
        await session.commit()
    page = await visits.client.get(submitted["tracking_url"].split("8001", 1)[1])
    assert page.status_code == 200
    history = page.text.split('<ol class="history">', 1)[1].split("</ol>", 1)[0]
    assert re.findall(r"<time [^>]*>([^<]+)</time>", history) == [yesterday.isoformat()] * 2  # submitted, routed


async def proposed(visits, **changes) -> tuple[dict, str]:
    """A request the division answered with two other periods; its tracking page's path."""
    submitted = await visits.submit(**changes)
    response = await visits.decide(
        submitted["reference"],
        "education",
        decision="propose",
        message="Spring is full.",
        proposed_dates=[{"start": future(120), "end": future(122)}, {"start": future(140), "end": future(141)}],
    )
    assert response.json()["status"] == "dates_proposed", response.text
    return submitted, submitted["tracking_url"].split("8001", 1)[1]


async def test_the_delegation_takes_a_proposed_period_on_its_page(visits):
    submitted, path = await proposed(visits, language="sv")
    page = await visits.client.get(path)
    assert "Svara på de föreslagna datumen" in page.text
    assert f'value="{future(140)}/{future(141)}"' in page.text and 'value="decline"' in page.text
    form = {
        "token": token_of(submitted),
        "lang": "sv",
        "answer": f"{future(140)}/{future(141)}",
        "message": "We can come then.",
    }
    answered = await visits.client.post(f"/track/{submitted['reference']}/respond", data=form)
    assert answered.status_code == 303
    assert answered.headers["location"] == f"/track/{submitted['reference']}?token={token_of(submitted)}&lang=sv"
    visit = await visits.view(submitted["reference"])
    assert visit["status"] == "routed" and visit["proposed_dates"] == []
    assert visit["preferred_dates"] == [{"start": future(140), "end": future(141)}]
    after = await visits.client.get(answered.headers["location"])
    assert "We can come then." in after.text and "Svara på de föreslagna datumen" not in after.text

    again = await visits.client.post(f"/track/{submitted['reference']}/respond", data=form)  # a second click
    assert again.status_code == 409 and "Begärans status har redan ändrats" in again.text
    assert (await visits.view(submitted["reference"]))["preferred_dates"] == visit["preferred_dates"]


async def test_the_delegation_turns_the_proposed_periods_down_on_its_page(visits):
    submitted, _path = await proposed(visits)
    form = {"token": token_of(submitted), "lang": "en", "answer": "decline", "message": "Autumn does not suit us."}
    answered = await visits.client.post(f"/track/{submitted['reference']}/respond", data=form)
    assert answered.status_code == 303
    assert (await visits.view(submitted["reference"]))["status"] == "cancelled"


async def test_an_answer_without_a_choice_or_with_a_wrong_token_changes_nothing(visits):
    submitted, _path = await proposed(visits)
    reference = submitted["reference"]
    nothing = await visits.client.post(
        f"/track/{reference}/respond", data={"token": token_of(submitted), "lang": "en", "message": "Hmm."}
    )
    assert nothing.status_code == 422
    assert re.search(r'id="answer-error"[^>]*>.*Choose one of the proposed periods', nothing.text)
    outside = await visits.client.post(
        f"/track/{reference}/respond",
        data={"token": token_of(submitted), "lang": "en", "answer": f"{future(200)}/{future(201)}"},
    )
    assert outside.status_code == 409  # not a period the division proposed: the page was out of date
    stranger = await visits.client.post(
        f"/track/{reference}/respond", data={"token": "guess", "lang": "en", "answer": "decline"}
    )
    assert stranger.status_code == 404 and "Request not found" in stranger.text
    assert (await visits.view(reference))["status"] == "dates_proposed"


async def test_the_delegation_calls_its_visit_off_on_its_page_once_it_confirms(visits):
    submitted = await visits.submit(language="fi")
    reference, path = submitted["reference"], submitted["tracking_url"].split("8001", 1)[1]
    page = await visits.client.get(path)
    assert "Vierailun peruminen" in page.text and f'action="/track/{reference}/cancel"' in page.text
    unconfirmed = await visits.client.post(
        f"/track/{reference}/cancel", data={"token": token_of(submitted), "lang": "fi"}
    )
    assert unconfirmed.status_code == 422 and "Vahvistakaa peruminen" in unconfirmed.text
    assert (await visits.view(reference))["status"] == "routed"
    confirmed = await visits.client.post(
        f"/track/{reference}/cancel", data={"token": token_of(submitted), "lang": "fi", "confirm": "yes"}
    )
    assert confirmed.status_code == 303
    assert (await visits.view(reference))["status"] == "cancelled"
    after = await visits.client.get(confirmed.headers["location"])
    assert '<dd class="status status-cancelled">Peruttu</dd>' in after.text
    assert "Vierailun peruminen" not in after.text  # nothing left to call off


def paragraphs(total: int) -> str:
    """`total` characters as a browser counts them (a line break is one), in lines of 99 sent with CRLF."""
    lines = ["x" * 99] * (total // 100)
    text = "\n".join(lines)
    return (text + "\n" + "y" * (total - len(text) - 1)).replace("\n", "\r\n")


async def test_text_with_line_breaks_is_counted_as_the_browser_counts_it(visits):
    csrf = await visits.form_csrf("en")
    purpose = paragraphs(2000)  # 2,000 in the textarea, more on the wire
    assert len(purpose) > 2000
    sent = await visits.client.post("/apply", data=form_data(csrf, "en", purpose=purpose))
    assert sent.status_code == 303, re.findall(r'class="error-message"[^>]*>(.*?)</p>', sent.text)


async def test_a_refused_answer_keeps_what_was_typed_and_names_the_message(visits):
    submitted, _path = await proposed(visits)
    reference, chosen = submitted["reference"], f"{future(140)}/{future(141)}"
    long = paragraphs(2000) + "z"  # one character too many
    page = await visits.client.post(
        f"/track/{reference}/respond",
        data={"token": token_of(submitted), "lang": "sv", "answer": chosen, "message": long},
    )
    assert page.status_code == 422
    assert re.search(r'id="message-error"[^>]*>.*Meddelandet får vara högst 2 000 tecken', page.text)
    assert f'value="{chosen}" checked' in page.text and long.replace("\r\n", "\n") in page.text
    assert "<title>Fel: " in page.text  # a screen reader hears at once that something needs correcting
    sv_link = re.search(r'href="([^"]+)" lang="sv"', page.text).group(1)
    assert sv_link == f"/track/{reference}?token={token_of(submitted)}&amp;lang=sv"  # the page, not the POST
    assert (await visits.view(reference))["status"] == "dates_proposed"


async def test_a_proposed_period_that_has_begun_can_still_be_taken_from_today(visits):
    submitted, path = await proposed(visits)
    reference = submitted["reference"]
    async with visits.app.state.sessions() as session:  # the division proposed a period that began yesterday
        await session.execute(
            update(models.VisitRequest)
            .where(models.VisitRequest.reference == reference)
            .values(
                proposed_dates=[
                    domain.DateRange(helsinki_today() - timedelta(days=1), helsinki_today() + timedelta(days=3))
                ]
            )
        )
        await session.commit()
    begun = f"{future(-1)}/{future(3)}"
    assert f'value="{begun}"' in (await visits.client.get(path)).text
    answered = await visits.client.post(
        f"/track/{reference}/respond", data={"token": token_of(submitted), "lang": "en", "answer": begun}
    )
    assert answered.status_code == 303
    assert (await visits.view(reference))["preferred_dates"] == [{"start": future(0), "end": future(3)}]


async def test_a_csrf_token_that_is_not_ascii_is_refused_not_an_error(visits):
    await visits.form_csrf("en")  # sets the cookie
    page = await visits.client.post("/apply", data=form_data("é", "en"))
    assert page.status_code == 403
