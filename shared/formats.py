"""Amounts, percentages, numbers and times of day in the reader's language, from CLDR data (Babel): "1 234,50 €"
in Finnish and Swedish as written in Finland, "€1,234.50" in English."""

from datetime import time
from decimal import Decimal
from typing import Final

from babel.dates import format_time
from babel.numbers import format_currency, format_decimal, format_percent

LOCALES: Final = {"fi": "fi_FI", "sv": "sv_FI", "en": "en_IE"}


def money(amount: Decimal | str, currency: str, language: str) -> str:
    """An amount to the cent with its currency, in `language`'s format."""
    return format_currency(Decimal(amount), currency, locale=LOCALES[language])


def percent(value: Decimal | str, language: str) -> str:
    """25.5 as "25,5 %" (fi, sv) or "25.5%" (en): as many decimals as the value has, no more."""
    return format_percent(Decimal(value) / 100, locale=LOCALES[language], decimal_quantization=False)


def number(value: Decimal | str, language: str) -> str:
    """A plain number without needless decimals: hours "3" or "2,5"."""
    return format_decimal(Decimal(value).normalize(), locale=LOCALES[language])


def clock(moment: time, language: str) -> str:
    """A time of day: "9.30" (fi), "09:30" (sv, en)."""
    return format_time(moment, format="short", locale=LOCALES[language])
