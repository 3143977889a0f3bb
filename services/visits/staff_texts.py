"""The words of the staff sign-in pages in Finnish, Swedish and English (Finnish first: staff read it first)."""

ROLE_NAMES = {
    "fi": {
        "admin": "Ylläpitäjä",
        "communications": "Viestintä",
        "protocol_officer": "Protokollavirkailija",
        "division_officer": "Toimialan virkailija",
    },
    "sv": {
        "admin": "Administratör",
        "communications": "Kommunikation",
        "protocol_officer": "Protokolltjänsteman",
        "division_officer": "Sektorns tjänsteman",
    },
    "en": {
        "admin": "Administrator",
        "communications": "Communications",
        "protocol_officer": "Protocol officer",
        "division_officer": "Division officer",
    },
}

STAFF_TEXTS = {
    "fi": {
        "service": "Vierailupyynnöt · henkilöstö",
        "unavailable_title": "Kirjautuminen ei ole nyt käytettävissä",
        "unavailable": "Kaupungin kirjautumispalvelu ei vastaa juuri nyt. Tietojanne ei ole menetetty. "
        "Yrittäkää hetken kuluttua uudelleen.",
        "try_again": "Yritä uudelleen",
        "no_access_title": "Ei käyttöoikeutta",
        "no_access": "Tunnuksellanne ei ole oikeutta vierailupyyntöjen käsittelyyn: se ei kuulu mihinkään "
        "vierailupalvelun ryhmään. Jos tarvitsette pääsyn, pyytäkää sitä esihenkilöltänne.",
        "not_for_role_title": "Tämä sivu ei ole roolillenne",
        "not_for_role": "Olette kirjautuneena roolissa {role}, jolle tämä sivu ei kuulu.",
        "sign_out_provider": "Kirjaudu ulos kaupungin kirjautumispalvelusta",
        "failed_title": "Kirjautuminen ei onnistunut",
        "failed": "Kirjautuminen keskeytyi tai vanheni. Aloittakaa kirjautuminen alusta.",
        "sign_in_again": "Kirjaudu uudelleen",
        "signed_out_title": "Olette kirjautunut ulos",
        "signed_out": "Istuntonne on päättynyt tässä palvelussa ja kaupungin kirjautumispalvelussa.",
        "signed_out_here": "Istuntonne on päättynyt tässä palvelussa. Kirjautumispalvelua ei tavoitettu: sulkekaa "
        "selain, jotta kirjautuminen päättyy myös siellä.",
        "csrf_title": "Lomake vanheni",
        "csrf": "Lomaketta ei hyväksytty, eikä mitään muutettu. Ladatkaa sivu uudelleen ja yrittäkää uudestaan.",
        "dev_title": "Kehityskirjautuminen",
        "dev_intro": "Tämä sivu on vain kehitysympäristössä: valitkaa rooli, jolla kirjaudutte. Tuotannossa "
        "henkilöstö kirjautuu kaupungin kirjautumispalvelulla.",
        "dev_roles": "Roolit",
        "dev_officers": "Toimialojen virkailijat",
        "sign_in_as": "Kirjaudu: {who}",
    },
    "sv": {
        "service": "Besöksförfrågningar · personal",
        "unavailable_title": "Inloggningen är inte tillgänglig just nu",
        "unavailable": "Stadens inloggningstjänst svarar inte just nu. Inga uppgifter har gått förlorade. "
        "Försök igen om en stund.",
        "try_again": "Försök igen",
        "no_access_title": "Ingen behörighet",
        "no_access": "Ert konto har ingen behörighet att behandla besöksförfrågningar: det hör inte till någon av "
        "besökstjänstens grupper. Be er chef om behörighet om ni behöver den.",
        "not_for_role_title": "Den här sidan är inte för er roll",
        "not_for_role": "Ni är inloggad i rollen {role}, som den här sidan inte är avsedd för.",
        "sign_out_provider": "Logga ut från stadens inloggningstjänst",
        "failed_title": "Inloggningen misslyckades",
        "failed": "Inloggningen avbröts eller gick ut. Börja om från början.",
        "sign_in_again": "Logga in igen",
        "signed_out_title": "Ni har loggat ut",
        "signed_out": "Er session har avslutats i den här tjänsten och i stadens inloggningstjänst.",
        "signed_out_here": "Er session har avslutats i den här tjänsten. Inloggningstjänsten nåddes inte: stäng "
        "webbläsaren så att inloggningen avslutas även där.",
        "csrf_title": "Formuläret har gått ut",
        "csrf": "Formuläret godtogs inte och ingenting ändrades. Ladda om sidan och försök igen.",
        "dev_title": "Utvecklingsinloggning",
        "dev_intro": "Den här sidan finns bara i utvecklingsmiljön: välj rollen du loggar in med. I produktion "
        "loggar personalen in med stadens inloggningstjänst.",
        "dev_roles": "Roller",
        "dev_officers": "Sektorernas tjänstemän",
        "sign_in_as": "Logga in: {who}",
    },
    "en": {
        "service": "Visit requests · staff",
        "unavailable_title": "Sign-in is unavailable right now",
        "unavailable": "The city's sign-in service is not answering just now. Nothing has been lost. "
        "Please try again in a moment.",
        "try_again": "Try again",
        "no_access_title": "No access",
        "no_access": "Your account has no access to visit requests: it is in none of the visit service's groups. "
        "If you need access, ask your manager for it.",
        "not_for_role_title": "This page is not for your role",
        "not_for_role": "You are signed in as {role}, and this page is not for that role.",
        "sign_out_provider": "Sign out of the city's sign-in service",
        "failed_title": "Sign-in did not complete",
        "failed": "Signing in was interrupted or took too long. Please start again.",
        "sign_in_again": "Sign in again",
        "signed_out_title": "You have signed out",
        "signed_out": "Your session has ended here and at the city's sign-in service.",
        "signed_out_here": "Your session has ended here. The sign-in service could not be reached: close the "
        "browser to end your sign-in there too.",
        "csrf_title": "The form has expired",
        "csrf": "The form was not accepted and nothing was changed. Please reload the page and try again.",
        "dev_title": "Development sign-in",
        "dev_intro": "This page exists in development only: choose the role to sign in as. In production, staff "
        "sign in with the city's sign-in service.",
        "dev_roles": "Roles",
        "dev_officers": "Division officers",
        "sign_in_as": "Sign in: {who}",
    },
}
