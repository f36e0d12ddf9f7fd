"""The pages' languages: gettext catalogues through Babel, the page language chosen per request,
and locale-aware words for dates, numbers, weekdays, languages and the matcher's reasons.

Catalogues live in ``services/registry/locale/<locale>/LC_MESSAGES/messages.po`` (English is
the source language and needs none). They are compiled in memory when first used, so no
binary ``.mo`` file is kept in the repository; ``make messages`` refreshes them from the
templates and code.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.core import negotiate_locale
from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

from shared.skills import BABEL_LOCALES, DEFAULT_LOCALE, LOCALES, SKILL_LABELS
from shared.vocabulary import (
    DAYS,
    Channel,
    Level,
    MatchStatus,
    RequestStatus,
    UnmatchedCode,
    Urgency,
)

CATALOGUES = Path(__file__).resolve().parents[2] / "locale"
# Each language named in itself, for the switcher (a reader looks for their own language).
ENDONYMS: dict[str, str] = {
    "en": "English",
    "pl": "Polski",
    "uk": "Українська",
    "ru": "Русский",
    "fi": "Suomi",
    "pt": "Português",
    "sl": "Slovenščina",
}


def N_(message: str) -> str:
    """Marks a message for the catalogue where it is defined; translated where it is shown."""
    return message


@cache
def translations(locale: str) -> NullTranslations:
    path = CATALOGUES / locale / "LC_MESSAGES" / "messages.po"
    if locale == DEFAULT_LOCALE or not path.is_file():
        return NullTranslations()
    with path.open("rb") as source:
        catalogue = read_po(source, locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    return Translations(compiled)


def choose_locale(
    asked: str | None, cookie: str | None, accept_language: str | None, known: str | None = None
) -> str:
    """The page language: an explicit choice, else the remembered one, else the one the reader
    is known by, else the browser's."""
    for candidate in (asked, cookie, known):
        if candidate in LOCALES:
            return candidate
    preferred = []
    for part in (accept_language or "").split(","):
        tag, _, quality = part.strip().partition(";q=")
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            continue
        if tag and tag != "*":
            preferred.append((weight, tag.replace("-", "_")))
    ordered = [tag for _, tag in sorted(preferred, key=lambda item: -item[0])]
    found = negotiate_locale(ordered, list(LOCALES), sep="_")
    if found is None:  # "uk_UA" against "uk": compare the language parts
        found = negotiate_locale([t.split("_")[0] for t in ordered], list(LOCALES))
    return found or DEFAULT_LOCALE


class Words:
    """Everything a page says, in one locale."""

    def __init__(self, locale: str) -> None:
        self.locale = locale if locale in LOCALES else DEFAULT_LOCALE
        self.babel = Locale.parse(BABEL_LOCALES[self.locale])
        self.html_lang = BABEL_LOCALES[self.locale].replace("_", "-")
        self._translations = translations(self.locale)

    # --- messages ---------------------------------------------------------------------------

    def _(self, message: str, **values: Any) -> str:
        text = self._translations.ugettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, count: int, **values: Any) -> str:
        text = self._translations.ungettext(singular, plural, count)
        return text % {"count": count, **values}

    # --- values -----------------------------------------------------------------------------

    def date(self, value: dt.date, format: str = "long") -> str:
        return format_date(value, format, locale=self.babel)

    def datetime(self, value: dt.datetime, timezone: str | None = None) -> str:
        """An instant as a date and clock time in ``timezone`` (UTC when not given)."""
        local = value.astimezone(ZoneInfo(timezone or "UTC"))
        pattern = str(self.babel.datetime_formats["medium"])
        return pattern.replace("{1}", self.date(local.date(), "medium")).replace(
            "{0}", format_time(local, "short", locale=self.babel)
        )

    def clock(self, value: str) -> str:
        """``"17:00"`` in the locale's style (``17.00`` in Finnish)."""
        try:
            return format_time(dt.time.fromisoformat(value), "short", locale=self.babel)
        except (TypeError, ValueError):
            return str(value)

    def weekday(self, day: str, width: str = "wide") -> str:
        code = str(day).lower()[:3]
        if code not in DAYS:
            return str(day)
        return str(self.babel.days["stand-alone"][width][DAYS.index(code)])

    def number(self, value: float, pattern: str = "#,##0.#") -> str:
        return format_decimal(value, pattern, locale=self.babel)

    def km(self, value: float) -> str:
        return self._("%(km)s km", km=self.number(value, "#,##0.0"))

    def language(self, code: str) -> str:
        name = self.babel.languages.get(str(code).lower())
        return str(name) if name else str(code)

    def languages(self, codes: Iterable[str]) -> str:
        return ", ".join(self.language(code) for code in codes)

    def language_choices(self, codes: Iterable[str]) -> list[tuple[str, str]]:
        """Languages for a picker, by their names in this locale, in its alphabetical order."""
        named = [(code, self.language(code)) for code in codes]
        return sorted(named, key=lambda item: item[1].casefold())

    def skill(self, code: str) -> str:
        labels = SKILL_LABELS.get(code, {})
        return labels.get(self.locale) or labels.get(DEFAULT_LOCALE) or code.replace("_", " ")

    def skill_choices(self) -> list[tuple[str, str, str]]:
        """The taxonomy for a form: code, label and what the help means, in this locale."""
        return [
            (
                code,
                self.skill(code),
                self._(SKILL_DESCRIPTIONS[code]) if code in SKILL_DESCRIPTIONS else "",
            )
            for code in SKILL_LABELS
        ]

    def skills(self, codes: Iterable[str]) -> str:
        return ", ".join(self.skill(code) for code in codes)

    def _label(self, labels: Mapping[Any, str], code: str) -> str:
        """A code's label in this locale; an unknown code as it is."""
        return self._(labels.get(code, code))

    def level(self, code: str) -> str:
        return self._label(LEVELS, code)

    def urgency(self, code: str) -> str:
        return self._label(URGENCIES, code)

    def status(self, code: str) -> str:
        return self._label(STATUSES, code)

    def channel(self, code: str) -> str:
        return self._label(CHANNELS, code)

    # --- the matcher's reasons, as the organisation's desk reads them ------------------------

    def reason(self, reason: Mapping[str, Any]) -> str:
        """One reason code with its parameters as a sentence; never fails on odd input."""
        code = str(reason.get("code", ""))
        try:
            return self._reason(code, reason)
        except (TypeError, ValueError, KeyError):
            return self._("Another reason was taken into account.")

    def _reason(self, code: str, r: Mapping[str, Any]) -> str:
        if code == "shared_language":
            return self._(
                "Speaks %(language)s (%(level)s).",
                language=self.language(r["language"]),
                level=self.level(str(r.get("level", ""))),
            )
        if code in ("speaks_locale", "locale_language"):
            return self._(
                "Also speaks %(language)s, the person's own language.",
                language=self.language(r["language"]),
            )
        if code == "skills":
            return self._("Can help with: %(skills)s.", skills=self.skills(_codes(r["skills"])))
        if code == "distance":
            return self._("Lives about %(distance)s away.", distance=self.km(float(r["km"])))
        if code == "remote":
            return self._("Helps remotely, by phone or online.")
        if code == "available":
            return self._(
                "Free on %(day)s, %(start)s–%(end)s.",
                day=self.weekday(r["day"]),
                start=self.clock(r["start"]),
                end=self.clock(r["end"]),
            )
        if code == "load":
            return self._(
                "Has room: %(active)s of %(capacity)s places taken.",
                active=int(r["active"]),
                capacity=int(r["capacity"]),
            )
        if code == "no_shared_language":
            return self._(
                "No available volunteer speaks %(languages)s.",
                languages=self.languages(_codes(r["languages"])),
            )
        if code == "missing_skill":
            return self._(
                "No available volunteer offers: %(skills)s.",
                skills=self.skills(_codes(r["skills"])),
            )
        if code in UNMATCHED:
            return self._label(UNMATCHED, code)
        return self._("Another reason was taken into account.")


def _codes(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value]


@cache
def words(locale: str) -> Words:
    return Words(locale)


# Labels by code, one table per word of the vocabulary (their keys are checked against it).
LEVELS: dict[Level, str] = {
    "native": N_("native"),
    "fluent": N_("fluent"),
    "conversational": N_("conversational"),
    "basic": N_("basic"),
}
URGENCIES: dict[Urgency, str] = {
    "low": N_("low"),
    "normal": N_("normal"),
    "high": N_("high"),
    "critical": N_("critical"),
}
# A request's statuses and an offer's.
STATUSES: dict[RequestStatus | MatchStatus, str] = {
    "open": N_("waiting for a match"),
    "proposed": N_("offered to a volunteer"),
    "accepted": N_("accepted"),
    "completed": N_("completed"),
    "unmatched": N_("no volunteer yet"),
    "cancelled": N_("cancelled"),
    "expired": N_("expired"),
    "declined": N_("declined"),
    "withdrawn": N_("withdrawn"),
}
CHANNELS: dict[Channel, str] = {"email": N_("Email"), "sms": N_("Text message (SMS)")}
# The reasons without parameters; "no_shared_language" and "missing_skill" name languages and
# skills, so ``Words.reason`` words them itself.
UNMATCHED: dict[UnmatchedCode, str] = {
    "no_volunteers": N_("No volunteers have registered yet."),
    "out_of_reach": N_("Volunteers live too far away and do not help remotely."),
    "previously_offered": N_("Volunteers who could help were asked already and said no."),
    "no_capacity": N_("Volunteers who could help are busy with other requests."),
    "no_time_overlap": N_("No volunteer is free at the times given before the date needed."),
    "paused_or_excluded": N_("Volunteers who could help are taking a break."),
}
# One line under each skill on the forms: what helping with it means in practice.
SKILL_DESCRIPTIONS = {
    "legal_aid": N_("Explain rights, residence and work permits; find a lawyer and go along."),
    "translation": N_("Interpret at appointments or translate letters and documents."),
    "job_search": N_("Write a CV, look for jobs, prepare for an interview."),
    "housing": N_("Look for a flat, read a tenancy agreement, talk to a landlord."),
    "medical_accompaniment": N_("Book a doctor's appointment and go along to it."),
    "language_tutoring": N_("Practise the local language in regular meetings."),
    "childcare": N_("Look after children during an appointment or a course."),
    "paperwork": N_("Fill in forms and deal with offices."),
    "transport": N_("Drive someone to an appointment or help them move things."),
    "digital_help": N_("Set up a phone, e-mail, online banking or public e-services."),
}
