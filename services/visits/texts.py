"""The public pages' words in Finnish, Swedish and English, and country names in each."""

import unicodedata
from functools import cache

from shared.countries import all_countries

LANGUAGES = ("fi", "sv", "en")

FOCUS_AREAS = {
    "fi": {"smart-city": "Älykäs kaupunki ja digitalisaatio",
           "climate": "Ilmastonmuutoksen torjunta ja kestävä kehitys",
           "innovation": "Innovaatiot ja kilpailukyky", "mobility": "Liikenne ja liikkuminen",
           "education": "Koulutus ja osaaminen", "participation": "Osallisuus ja segregaation ehkäisy",
           "culture": "Kulttuuri ja taide", "design": "Design"},
    "sv": {"smart-city": "Smart stad och digitalisering",
           "climate": "Bekämpning av klimatförändringen och hållbar utveckling",
           "innovation": "Innovationer och konkurrenskraft", "mobility": "Trafik och mobilitet",
           "education": "Utbildning och kompetens", "participation": "Delaktighet och förebyggande av segregation",
           "culture": "Kultur och konst", "design": "Design"},
    "en": {"smart-city": "Smart City and digitalisation",
           "climate": "Climate change prevention and sustainable development",
           "innovation": "Innovations and competitiveness", "mobility": "Transportation and mobility",
           "education": "Education and expertise", "participation": "Participation and prevention of segregation",
           "culture": "Culture and art", "design": "Design"},
}

RANKS = {
    "fi": {"head_of_state": "Valtionpäämies", "head_of_government": "Hallituksen päämies", "minister": "Ministeri",
           "ambassador": "Suurlähettiläs", "mayor": "Pormestari", "senior_official": "Korkea virkamies",
           "expert": "Asiantuntija", "other": "Muu"},
    "sv": {"head_of_state": "Statschef", "head_of_government": "Regeringschef", "minister": "Minister",
           "ambassador": "Ambassadör", "mayor": "Borgmästare", "senior_official": "Högre tjänsteman",
           "expert": "Expert", "other": "Annan"},
    "en": {"head_of_state": "Head of state", "head_of_government": "Head of government", "minister": "Minister",
           "ambassador": "Ambassador", "mayor": "Mayor", "senior_official": "Senior official", "expert": "Expert",
           "other": "Other"},
}

DIVISIONS = {
    "fi": {"education": "Kasvatuksen ja koulutuksen toimiala", "urban-environment": "Kaupunkiympäristön toimiala",
           "culture-and-leisure": "Kulttuurin ja vapaa-ajan toimiala",
           "social-services-health": "Sosiaali-, terveys- ja pelastustoimiala",
           "city-executive-office": "Kaupunginkanslia", "economic-development": "Kaupunginkanslia, elinkeino-osasto",
           "forum-virium": "Forum Virium Helsinki", "business-hub": "Helsinki Business Hub",
           "international-affairs": "Kansainvälisten asioiden yksikkö"},
    "sv": {"education": "Fostrans- och utbildningssektorn", "urban-environment": "Stadsmiljösektorn",
           "culture-and-leisure": "Kultur- och fritidssektorn",
           "social-services-health": "Social-, hälsovårds- och räddningssektorn",
           "city-executive-office": "Stadskansliet", "economic-development": "Stadskansliet, näringslivsavdelningen",
           "forum-virium": "Forum Virium Helsinki", "business-hub": "Helsinki Business Hub",
           "international-affairs": "Enheten för internationella ärenden"},
    "en": {"education": "Education Division", "urban-environment": "Urban Environment Division",
           "culture-and-leisure": "Culture and Leisure Division",
           "social-services-health": "Social Services, Health Care and Rescue Services Division",
           "city-executive-office": "City Executive Office",
           "economic-development": "Economic Development, City Executive Office",
           "forum-virium": "Forum Virium Helsinki", "business-hub": "Helsinki Business Hub",
           "international-affairs": "International Affairs Unit"},
}

STATUSES = {
    "fi": {"submitted": "Vastaanotettu", "routed": "Toimialan käsiteltävänä", "waitlisted": "Jonossa",
           "accepted": "Hyväksytty", "declined": "Ei hyväksytty", "dates_proposed": "Uusia ajankohtia ehdotettu",
           "cancelled": "Peruttu", "completed": "Toteutunut"},
    "sv": {"submitted": "Mottagen", "routed": "Under behandling hos sektorn", "waitlisted": "På väntelistan",
           "accepted": "Godkänd", "declined": "Avböjd", "dates_proposed": "Nya tidpunkter föreslagna",
           "cancelled": "Återkallad", "completed": "Genomförd"},
    "en": {"submitted": "Received", "routed": "Being handled by the division", "waitlisted": "On the waiting list",
           "accepted": "Accepted", "declined": "Declined", "dates_proposed": "New dates proposed",
           "cancelled": "Cancelled", "completed": "Completed"},
}

ACTIONS = {
    "fi": {"submitted": "Pyyntö vastaanotettu", "routed": "Ohjattu toimialalle", "waitlisted": "Siirretty jonoon",
           "accepted": "Vierailu hyväksytty", "declined": "Pyyntöä ei hyväksytty",
           "redirected": "Siirretty toiselle toimialalle", "dates_proposed": "Uusia ajankohtia ehdotettu",
           "cancelled": "Pyyntö peruttu", "completed": "Vierailu toteutunut",
           "personal_data_erased": "Henkilötiedot poistettu"},
    "sv": {"submitted": "Begäran mottagen", "routed": "Styrd till sektorn", "waitlisted": "Placerad på väntelistan",
           "accepted": "Besöket godkänt", "declined": "Begäran avböjd",
           "redirected": "Flyttad till en annan sektor",
           "dates_proposed": "Nya tidpunkter föreslagna", "cancelled": "Begäran återkallad",
           "completed": "Besöket genomfört", "personal_data_erased": "Personuppgifterna raderade"},
    "en": {"submitted": "Request received", "routed": "Sent to the division",
           "waitlisted": "Placed on the waiting list",
           "accepted": "Visit accepted", "declined": "Request declined", "redirected": "Moved to another division",
           "dates_proposed": "New dates proposed", "cancelled": "Request cancelled",
           "completed": "Visit completed", "personal_data_erased": "Personal data erased"},
}

ERRORS = {
    "fi": {
        "organisation": "Kirjoittakaa organisaation nimi (enintään 200 merkkiä).",
        "country": "Valitkaa maa.",
        "contact_name": "Kirjoittakaa yhteyshenkilön nimi (enintään 200 merkkiä).",
        "contact_email": "Kirjoittakaa toimiva sähköpostiosoite, esimerkiksi nimi@example.org.",
        "contact_phone": "Kirjoittakaa puhelinnumero numeroina, esimerkiksi +358 9 310 1641.",
        "language": "Valitkaa asiointikieli.",
        "primary_focus_area": "Valitkaa pääaihe.",
        "other_focus_areas": "Valitkaa enintään kaksi muuta aihetta.",
        "delegation_size": "Kirjoittakaa henkilömäärä kokonaislukuna väliltä 1–200.",
        "highest_rank": "Valitkaa delegaation korkea-arvoisimman jäsenen asema.",
        "preferred_start": "Ajanjakso {n}: antakaa alkamispäivä (VVVV-KK-PP), joka on tänään tai myöhemmin.",
        "preferred_end": "Ajanjakso {n}: antakaa päättymispäivä (VVVV-KK-PP), joka ei ole ennen alkamispäivää. "
                         "Ajanjakso voi olla enintään vuoden pituinen ja päättyä enintään viiden vuoden päästä.",
        "purpose": "Kuvatkaa vierailun tarkoitus (enintään 2 000 merkkiä).",
        "members": "Kirjoittakaa kukin jäsen omalle rivilleen muodossa: nimi; arvo tai tehtävä; rooli.",
        "needs_interpreter_language": "Tulkkauskieli voi olla enintään 100 merkkiä.",
        "needs_accessibility": "Esteettömyystarpeet voivat olla enintään 1 000 merkkiä.",
    },
    "sv": {
        "organisation": "Ange organisationens namn (högst 200 tecken).",
        "country": "Välj land.",
        "contact_name": "Ange kontaktpersonens namn (högst 200 tecken).",
        "contact_email": "Ange en giltig e-postadress, till exempel namn@example.org.",
        "contact_phone": "Ange telefonnumret med siffror, till exempel +358 9 310 1641.",
        "language": "Välj korrespondensspråk.",
        "primary_focus_area": "Välj huvudämne.",
        "other_focus_areas": "Välj högst två övriga ämnen.",
        "delegation_size": "Ange antalet personer som ett heltal mellan 1 och 200.",
        "highest_rank": "Välj den högst rankade medlemmens ställning.",
        "preferred_start": "Period {n}: ange ett startdatum (ÅÅÅÅ-MM-DD) som är i dag eller senare.",
        "preferred_end": "Period {n}: ange ett slutdatum (ÅÅÅÅ-MM-DD) som inte är före startdatumet. "
                         "En period får vara högst ett år lång och sluta högst fem år framåt.",
        "purpose": "Beskriv syftet med besöket (högst 2 000 tecken).",
        "members": "Ange varje medlem på en egen rad: namn; titel; roll.",
        "needs_interpreter_language": "Tolkningsspråket får vara högst 100 tecken.",
        "needs_accessibility": "Tillgänglighetsbehoven får vara högst 1 000 tecken.",
    },
    "en": {
        "organisation": "Enter the name of the organisation (at most 200 characters).",
        "country": "Choose the country.",
        "contact_name": "Enter the contact person's name (at most 200 characters).",
        "contact_email": "Enter a valid e-mail address, such as name@example.org.",
        "contact_phone": "Enter the phone number in digits, for example +358 9 310 1641.",
        "language": "Choose the language of correspondence.",
        "primary_focus_area": "Choose the main topic.",
        "other_focus_areas": "Choose at most two other topics.",
        "delegation_size": "Enter the number of people as a whole number from 1 to 200.",
        "highest_rank": "Choose the position of the highest-ranking member.",
        "preferred_start": "Period {n}: enter a start date (YYYY-MM-DD) that is today or later.",
        "preferred_end": "Period {n}: enter an end date (YYYY-MM-DD) that is not before the start date. "
                         "A period may be at most a year long and end at most five years ahead.",
        "purpose": "Describe the purpose of the visit (at most 2,000 characters).",
        "members": "Give each member on a line of their own as: name; title; role.",
        "needs_interpreter_language": "The interpreting language can be at most 100 characters.",
        "needs_accessibility": "Accessibility needs can be at most 1,000 characters.",
    },
}

TEXTS = {
    "fi": {
        "city": "Helsingin kaupunki", "service": "Vierailupyynnöt", "skip": "Siirry sisältöön",
        "languages": "Kieli",
        "apply_title": "Vierailupyyntö Helsingin kaupungille",
        "intro": "Ulkomaiset delegaatiot voivat pyytää tällä lomakkeella vierailua Helsingin kaupungin "
                 "toimialalle. Ohjaamme pyynnön pääaiheestanne vastaavalle toimialalle. Saatte viitenumeron ja "
                 "henkilökohtaisen linkin, jolla voitte seurata pyynnön käsittelyä.",
        "required_note": "Tähdellä (*) merkityt kentät ovat pakollisia.",
        "error_summary": "Korjatkaa seuraavat kohdat:", "error_prefix": "Virhe:",
        "section_organisation": "Organisaatio", "section_contact": "Yhteyshenkilö", "section_topic": "Vierailun aihe",
        "section_delegation": "Delegaatio", "section_dates": "Toivotut ajankohdat",
        "section_needs": "Erityisjärjestelyt",
        "organisation": "Organisaation nimi", "country": "Maa", "choose_country": "Valitkaa maa",
        "contact_name": "Nimi", "contact_email": "Sähköpostiosoite", "contact_phone": "Puhelinnumero (vapaaehtoinen)",
        "phone_hint": "Maatunnuksen kanssa, esimerkiksi +358 9 310 1641.",
        "language": "Asiointikieli", "primary_focus_area": "Pääaihe", "choose": "Valitkaa",
        "primary_hint": "Pääaihe ratkaisee, mikä toimiala käsittelee pyyntönne.",
        "other_focus_areas": "Muut aiheet (enintään kaksi, vapaaehtoinen)",
        "delegation_size": "Delegaation henkilömäärä", "size_hint": "1–200 henkilöä.",
        "highest_rank": "Delegaation korkea-arvoisimman jäsenen asema",
        "members": "Delegaation jäsenet (vapaaehtoinen)",
        "members_hint": "Yksi henkilö riviä kohden: nimi; arvo tai tehtävä; rooli delegaatiossa.",
        "dates_hint": "Antakaa yhdestä kolmeen ajanjaksoa. Ensimmäinen on pakollinen.",
        "period": "Ajanjakso {n}", "start": "Alkaen", "end": "Päättyen", "date_hint": "Muodossa VVVV-KK-PP.",
        "purpose": "Vierailun tarkoitus",
        "purpose_hint": "Mitä haluaisitte nähdä tai mistä keskustella? Enintään 2 000 merkkiä.",
        "interpreter": "Tulkkauskieli, jos tarvitsette tulkin (vapaaehtoinen)",
        "press": "Delegaation mukana on mediaa tai vierailulle toivotaan julkisuutta",
        "accessibility": "Esteettömyystarpeet (vapaaehtoinen)",
        "honeypot": "Jättäkää tämä kenttä tyhjäksi",
        "privacy": "Käytämme antamianne henkilötietoja vain tämän vierailun käsittelyyn. Ne poistetaan "
                   "180 päivän kuluttua vierailusta tai päätöksestä.",
        "submit": "Lähetä pyyntö",
        "confirmation_title": "Kiitos, pyyntönne on vastaanotettu", "your_reference": "Viitenumeronne",
        "tracking": "Voitte seurata pyyntönne käsittelyä tällä henkilökohtaisella linkillä. Säilyttäkää se "
                    "huolellisesti: kuka tahansa linkin saanut näkee pyynnön tiedot. Lähetimme linkin myös "
                    "sähköpostiinne.",
        "tracking_link": "Seuraa pyyntöä",
        "next_steps": "Vastuussa oleva toimiala vastaa yleensä noin viikon kuluessa. Ilmoitamme jokaisesta "
                      "muutoksesta sähköpostitse.",
        "confirmation_gone": "Viitenumero ja seurantalinkki on lähetetty sähköpostiinne.",
        "another": "Lähetä uusi pyyntö",
        "track_title": "Vierailupyyntö {reference}", "status": "Tila", "handled_by": "Käsittelijä",
        "reference": "Viitenumero", "preferred_dates": "Toivotut ajankohdat",
        "proposed_dates": "Ehdotetut ajankohdat", "visit_date": "Vierailupäivä", "host": "Isäntä",
        "history": "Käsittelyn vaiheet",
        "answer_title": "Vastatkaa ehdotettuihin ajankohtiin",
        "answer_choose": "Mikä toimialan ehdottamista ajankohdista sopii teille?",
        "answer_decline": "Mikään niistä ei sovi meille: perumme vierailupyynnön",
        "answer_message": "Viesti toimialalle (vapaaehtoinen)", "answer_submit": "Lähetä vastaus",
        "answer_missing": "Valitkaa yksi ehdotetuista ajankohdista tai se, ettei mikään niistä sovi.",
        "message_too_long": "Viesti voi olla enintään 2 000 merkkiä.",
        "cancel_title": "Vierailun peruminen",
        "cancel_confirm": "Kyllä, perumme vierailupyyntömme. Peruttua pyyntöä ei voi palauttaa.",
        "cancel_submit": "Peru pyyntö",
        "cancel_missing": "Vahvistakaa peruminen rastittamalla ruutu.",
        "changed_title": "Pyynnön tila on jo muuttunut",
        "changed": "Pyyntöä ei voi enää muuttaa näin, koska sen tila on muuttunut sivun lataamisen jälkeen. "
                   "Katsokaa pyynnön nykyinen tila sen sivulta.",
        "back_to_request": "Takaisin pyyntöönne",
        "not_found_title": "Pyyntöä ei löytynyt",
        "not_found": "Tällä linkillä ei löytynyt pyyntöä. Tarkistakaa, että kopioitte koko linkin.",
        "csrf_title": "Lomake vanhentui",
        "csrf": "Istuntonne on vanhentunut. Ladatkaa lomake uudelleen ja lähettäkää se uudestaan.",
        "limit_title": "Liian monta pyyntöä",
        "limit": "Olette lähettäneet liian monta pyyntöä. Yrittäkää uudelleen {minutes} minuutin kuluttua.",
        "limit_one": "Olette lähettäneet liian monta pyyntöä. Yrittäkää uudelleen minuutin kuluttua.",
        "resent_title": "Lomake on jo lähetetty",
        "resent": "Tämä lomake on jo lähetetty toisin tiedoin. Avatkaa lomake uudelleen lähettääksenne uuden "
                  "pyynnön.",
        "back": "Takaisin lomakkeelle",
    },
    "sv": {
        "city": "Helsingfors stad", "service": "Besöksförfrågningar", "skip": "Hoppa till innehållet",
        "languages": "Språk",
        "apply_title": "Begäran om besök hos Helsingfors stad",
        "intro": "Utländska delegationer kan med detta formulär begära ett besök hos en sektor inom Helsingfors "
                 "stad. Vi styr er begäran till den sektor som ansvarar för ert huvudämne. Ni får ett "
                 "referensnummer och en personlig länk där ni kan följa behandlingen av begäran.",
        "required_note": "Fält som är märkta med * är obligatoriska.",
        "error_summary": "Rätta följande uppgifter:", "error_prefix": "Fel:",
        "section_organisation": "Organisation", "section_contact": "Kontaktperson", "section_topic": "Besökets ämne",
        "section_delegation": "Delegationen", "section_dates": "Önskade tidpunkter",
        "section_needs": "Särskilda arrangemang",
        "organisation": "Organisationens namn", "country": "Land", "choose_country": "Välj land",
        "contact_name": "Namn", "contact_email": "E-postadress", "contact_phone": "Telefonnummer (frivilligt)",
        "phone_hint": "Med landsnummer, till exempel +358 9 310 1641.",
        "language": "Korrespondensspråk", "primary_focus_area": "Huvudämne", "choose": "Välj",
        "primary_hint": "Huvudämnet avgör vilken sektor som behandlar er begäran.",
        "other_focus_areas": "Övriga ämnen (högst två, frivilligt)",
        "delegation_size": "Antal personer i delegationen", "size_hint": "1–200 personer.",
        "highest_rank": "Den högst rankade medlemmens ställning",
        "members": "Delegationens medlemmar (frivilligt)",
        "members_hint": "En person per rad: namn; titel; roll i delegationen.",
        "dates_hint": "Ange en till tre perioder. Den första är obligatorisk.",
        "period": "Period {n}", "start": "Från", "end": "Till", "date_hint": "Format ÅÅÅÅ-MM-DD.",
        "purpose": "Syftet med besöket",
        "purpose_hint": "Vad vill ni se eller diskutera? Högst 2 000 tecken.",
        "interpreter": "Tolkningsspråk, om ni behöver tolk (frivilligt)",
        "press": "Medier följer med delegationen eller ni önskar publicitet för besöket",
        "accessibility": "Tillgänglighetsbehov (frivilligt)",
        "honeypot": "Lämna detta fält tomt",
        "privacy": "Vi använder de personuppgifter ni lämnar endast för att behandla detta besök. De raderas "
                   "180 dagar efter besöket eller beslutet.",
        "submit": "Skicka begäran",
        "confirmation_title": "Tack, er begäran har tagits emot", "your_reference": "Ert referensnummer",
        "tracking": "Ni kan följa behandlingen av er begäran med denna personliga länk. Förvara den väl: vem som "
                    "helst som har länken kan se uppgifterna i begäran. Vi har också skickat länken till "
                    "er e-post.",
        "tracking_link": "Följ er begäran",
        "next_steps": "Den ansvariga sektorn svarar vanligtvis inom ungefär en vecka. Vi meddelar er per e-post "
                      "vid varje ändring.",
        "confirmation_gone": "Referensnumret och uppföljningslänken har skickats till er e-post.",
        "another": "Skicka en ny begäran",
        "track_title": "Besöksbegäran {reference}", "status": "Status", "handled_by": "Behandlas av",
        "reference": "Referensnummer", "preferred_dates": "Önskade tidpunkter",
        "proposed_dates": "Föreslagna tidpunkter", "visit_date": "Besöksdag", "host": "Värd",
        "history": "Händelser",
        "answer_title": "Svara på de föreslagna datumen",
        "answer_choose": "Vilken av sektorns föreslagna perioder passar er?",
        "answer_decline": "Ingen av dem passar oss: vi drar tillbaka vår besöksbegäran",
        "answer_message": "Meddelande till sektorn (frivilligt)", "answer_submit": "Skicka svar",
        "answer_missing": "Välj en av de föreslagna perioderna, eller att ingen av dem passar.",
        "message_too_long": "Meddelandet får vara högst 2 000 tecken.",
        "cancel_title": "Dra tillbaka besöksbegäran",
        "cancel_confirm": "Ja, vi drar tillbaka vår besöksbegäran. Det går inte att ångra.",
        "cancel_submit": "Dra tillbaka begäran",
        "cancel_missing": "Bekräfta genom att kryssa i rutan.",
        "changed_title": "Begärans status har redan ändrats",
        "changed": "Begäran kan inte längre ändras så här, eftersom den har ändrats sedan sidan laddades. "
                   "Se dess nuvarande status på begärans sida.",
        "back_to_request": "Tillbaka till er begäran",
        "not_found_title": "Begäran hittades inte",
        "not_found": "Vi hittade ingen begäran med denna länk. Kontrollera att ni kopierade hela länken.",
        "csrf_title": "Formuläret har gått ut",
        "csrf": "Er session har gått ut. Ladda om formuläret och skicka det på nytt.",
        "limit_title": "För många förfrågningar",
        "limit": "Ni har skickat för många förfrågningar. Försök igen om {minutes} minuter.",
        "limit_one": "Ni har skickat för många förfrågningar. Försök igen om en minut.",
        "resent_title": "Formuläret har redan skickats",
        "resent": "Det här formuläret har redan skickats med andra uppgifter. Öppna formuläret på nytt för att "
                  "skicka en ny begäran.",
        "back": "Tillbaka till formuläret",
    },
    "en": {
        "city": "City of Helsinki", "service": "Visit requests", "skip": "Skip to content", "languages": "Language",
        "apply_title": "Request a visit to the City of Helsinki",
        "intro": "Foreign delegations can use this form to request a visit to a City of Helsinki division. We "
                 "send your request to the division responsible for your main topic. You will get a reference "
                 "number and a private link for following your request.",
        "required_note": "Fields marked with * are required.",
        "error_summary": "Please correct the following:", "error_prefix": "Error:",
        "section_organisation": "Organisation", "section_contact": "Contact person",
        "section_topic": "Topic of the visit", "section_delegation": "The delegation",
        "section_dates": "Preferred dates", "section_needs": "Special arrangements",
        "organisation": "Name of the organisation", "country": "Country", "choose_country": "Choose a country",
        "contact_name": "Name", "contact_email": "E-mail address", "contact_phone": "Phone number (optional)",
        "phone_hint": "With the country code, for example +358 9 310 1641.",
        "language": "Language of correspondence", "primary_focus_area": "Main topic", "choose": "Choose",
        "primary_hint": "The main topic decides which division handles your request.",
        "other_focus_areas": "Other topics (at most two, optional)",
        "delegation_size": "Number of people in the delegation", "size_hint": "1–200 people.",
        "highest_rank": "Position of the highest-ranking member",
        "members": "Members of the delegation (optional)",
        "members_hint": "One person per line: name; title; role in the delegation.",
        "dates_hint": "Give one to three periods. The first one is required.",
        "period": "Period {n}", "start": "From", "end": "Until", "date_hint": "Format YYYY-MM-DD.",
        "purpose": "Purpose of the visit",
        "purpose_hint": "What would you like to see or discuss? At most 2,000 characters.",
        "interpreter": "Interpreting language, if you need an interpreter (optional)",
        "press": "Media will accompany the delegation, or you would like publicity for the visit",
        "accessibility": "Accessibility needs (optional)",
        "honeypot": "Leave this field empty",
        "privacy": "We use the personal data you give only to handle this visit. It is erased 180 days after the "
                   "visit or the decision.",
        "submit": "Send request",
        "confirmation_title": "Thank you, your request has been received", "your_reference": "Your reference",
        "tracking": "You can follow your request with this private link. Keep it safe: anyone with the link can "
                    "see the request. We have also sent it to your e-mail.",
        "tracking_link": "Follow your request",
        "next_steps": "The responsible division usually answers within about a week. We will e-mail you at "
                      "every change.",
        "confirmation_gone": "Your reference and tracking link have been sent to your e-mail.",
        "another": "Send another request",
        "track_title": "Visit request {reference}", "status": "Status", "handled_by": "Handled by",
        "reference": "Reference", "preferred_dates": "Preferred dates", "proposed_dates": "Proposed dates",
        "visit_date": "Date of the visit", "host": "Host", "history": "What has happened",
        "answer_title": "Answer the proposed dates",
        "answer_choose": "Which of the periods the division proposes suits you?",
        "answer_decline": "None of them suits us: we call off our visit request",
        "answer_message": "Message to the division (optional)", "answer_submit": "Send answer",
        "answer_missing": "Choose one of the proposed periods, or that none of them suits you.",
        "message_too_long": "The message may be at most 2,000 characters.",
        "cancel_title": "Call off the visit",
        "cancel_confirm": "Yes, we call off our visit request. This cannot be undone.",
        "cancel_submit": "Cancel the request",
        "cancel_missing": "Tick the box to confirm that you want to call off the visit.",
        "changed_title": "The request has already changed",
        "changed": "Your request can no longer be changed this way: it has moved on since the page was loaded. "
                   "See where it stands now on its page.",
        "back_to_request": "Back to your request",
        "not_found_title": "Request not found",
        "not_found": "We could not find a request with this link. Check that you copied the whole link.",
        "csrf_title": "The form has expired",
        "csrf": "Your session has expired. Please reload the form and send it again.",
        "limit_title": "Too many requests",
        "limit": "You have sent too many requests. Please try again in {minutes} minutes.",
        "limit_one": "You have sent too many requests. Please try again in a minute.",
        "resent_title": "This form was already sent",
        "resent": "This form was already sent with different details. Open the form again to send a new request.",
        "back": "Back to the form",
    },
}

LANGUAGE_NAMES = {"fi": "Suomi", "sv": "Svenska", "en": "English"}


def language(value: str | None) -> str:
    """The page language; Finnish when none or an unknown one is asked for."""
    return value if value in LANGUAGES else "fi"


def _collation_key(name: str, lang: str) -> str:
    # Finnish and Swedish both put å, ä and ö after z; other accents sort with their base letter.
    name = name.casefold()
    if lang in ("fi", "sv"):
        name = name.replace("å", "{").replace("ä", "|").replace("ö", "}")
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))


@cache
def countries(lang: str) -> list[tuple[str, str]]:
    """(alpha-2 code, name in `lang`) for every ISO 3166-1 country, in that language's order."""
    return sorted(all_countries(lang), key=lambda p: _collation_key(p[1], lang))
