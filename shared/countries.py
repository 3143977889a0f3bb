"""Country names as the city writes them, in Finnish, Swedish and English (ISO 3166-1 through pycountry)."""

import gettext
from functools import cache

import pycountry


def country_name(code: str, language: str) -> str:
    """The short common name ("Bolivia", "South Korea") where the catalogue has one in `language`, else the
    official one; the code itself for a code the catalogue does not know."""
    country = pycountry.countries.get(alpha_2=code)
    return code if country is None else _name(country, _translations(language))


def all_countries(language: str) -> list[tuple[str, str]]:
    """(alpha-2 code, name in `language`) for every ISO 3166-1 country, unsorted."""
    names = _translations(language)
    return [(country.alpha_2, _name(country, names)) for country in pycountry.countries]


@cache
def _translations(language: str) -> gettext.NullTranslations:
    if language == "en":
        return gettext.NullTranslations()
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True)


def _name(country, names: gettext.NullTranslations) -> str:
    if country.alpha_2 == "TW":  # the catalogue's official name is not how the city addresses Taiwan
        return "Taiwan"
    common = getattr(country, "common_name", None)
    if common and names.gettext(common) != common:
        return names.gettext(common)
    translated = names.gettext(country.name)
    return common if translated == country.name and common else translated
