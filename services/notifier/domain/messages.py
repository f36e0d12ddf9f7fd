"""The words of every message: templates per locale, reasons in words, locale-aware formats.

Pure: apart from reading the templates shipped next to this module it does no I/O. Templates
live in ``templates/<locale>/<kind>.<part>`` with the parts ``subject.txt``, ``txt``, ``html``
and ``sms.txt``; every locale has every template (a unit test checks it). Values reach the
templates only through the context of ``render``; a key a template uses but the context lacks
is an error (``StrictUndefined``), never an empty gap in a message.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal, TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from babel import Locale
from babel.dates import format_date, format_skeleton, format_time
from babel.lists import format_list
from babel.numbers import format_decimal

from services.notifier.domain import phrases
from services.notifier.domain.sms import fit, segments
from shared.skills import BABEL_LOCALES, LOCALES, SKILL_LABELS
from shared.vocabulary import (
    DAYS,
    LEVELS,
    NOTIFICATION_KINDS,
    UNMATCHED_CODES,
    NotificationKind,
    ReasonCode,
)

__all__ = [
    "LOCALES",
    "Rendered",
    "describe_reason",
    "render",
    "resolve_locale",
]

DEFAULT_LOCALE = "en"
PARTS: tuple[str, ...] = ("subject.txt", "txt", "html", "sms.txt")
TEMPLATES = Path(__file__).parent.parent / "templates"
SMS_SEGMENTS = 2

# Context keys a caller may leave out, with the value a template then sees.
OPTIONAL: dict[NotificationKind, dict[str, Any]] = {
    "match_accepted_organisation": {"how_to_meet": None}
}

ListStyle = Literal["standard", "or"]
# Reasons whose words depend on no parameter.
FIXED_REASONS: frozenset[ReasonCode] = frozenset(
    {
        "remote",
        "no_volunteers",
        "out_of_reach",
        "previously_offered",
        "no_capacity",
        "no_time_overlap",
        "paused_or_excluded",
    }
)


@dataclass(frozen=True)
class Rendered:
    """One message in every form it may be sent in."""

    locale: str  # the locale actually used, after fallback
    subject: str
    text: str
    html: str
    sms: str  # already fitted to ``SMS_SEGMENTS`` parts


def resolve_locale(locale: str | None) -> str:
    """The supported locale to write in: the exact tag, else its language part, else English.

    ``"pt-BR"`` and ``"pt_BR"`` give ``"pt"``; ``"ka"`` and ``None`` give ``"en"``.
    """
    if not locale:
        return DEFAULT_LOCALE
    tag = locale.strip().replace("_", "-").lower()
    if tag in LOCALES:
        return tag
    language = tag.split("-")[0]
    return language if language in LOCALES else DEFAULT_LOCALE


def _zone(timezone: str | None) -> dt.tzinfo:
    """The recipient's time zone; an unknown name falls back to UTC rather than losing a
    message (the registry validates zones, so this is only a safety net)."""
    try:
        return ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


@lru_cache(maxsize=len(BABEL_LOCALES))
def _babel(locale: str) -> Locale:
    return Locale.parse(BABEL_LOCALES[locale])


def _fill(template: str, **values: str) -> str:
    """``template`` with its placeholders; ``{Name}`` is ``{name}`` with a capital first letter."""
    capitalised = {key.capitalize(): value[:1].upper() + value[1:] for key, value in values.items()}
    return template.format_map({**values, **capitalised})


def _as_list(value: Any) -> list[str]:
    """Codes from a reason parameter, which should be a list but may be a single string."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, Iterable):
        return [str(item) for item in value if item]
    return []


def _is_count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


class Formatter:
    """Locale- and time-zone-aware formatting for one recipient."""

    def __init__(self, locale: str, timezone: str | None = "UTC") -> None:
        self.locale = resolve_locale(locale)
        self.babel = _babel(self.locale)
        self.zone = _zone(timezone)

    # --- values -----------------------------------------------------------------------------

    def local(self, value: dt.datetime) -> dt.datetime:
        """An instant as the recipient's wall-clock time (a naive value is taken as UTC)."""
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(self.zone)

    def date(self, value: dt.date | dt.datetime, format: str = "long") -> str:
        """A calendar date; for an instant, its date in the recipient's time zone."""
        if isinstance(value, dt.datetime):
            value = self.local(value).date()
        return format_date(value, format, locale=self.babel)

    def time(self, value: dt.datetime) -> str:
        """An instant as the recipient's clock time."""
        return format_time(self.local(value), "short", locale=self.babel)

    def datetime(self, value: dt.datetime) -> str:
        """An instant as the recipient's date and clock time, joined the locale's way."""
        pattern = str(self.babel.datetime_formats["medium"])
        return pattern.replace("{1}", self.date(value)).replace("{0}", self.time(value))

    def clock(self, value: Any) -> str | None:
        """A wall-clock time given as ``"HH:MM"`` in the locale's style (``10.00`` in Finnish);
        None if it is not a time."""
        try:
            parsed = dt.time.fromisoformat(value)
        except (TypeError, ValueError):
            return None
        return format_time(parsed, "short", locale=self.babel)

    def weekday(self, day: str) -> str:
        """``"tue"`` as the locale's weekday name (``wtorek``, ``вівторок``, ``tiistai``)."""
        code = str(day).lower()[:3]
        if code not in DAYS:
            return str(day)
        return str(self.babel.days["stand-alone"]["wide"][DAYS.index(code)])

    def km(self, value: float) -> str:
        number = format_decimal(float(value), "#,##0.0", locale=self.babel)
        return f"{number} {phrases.KILOMETRE[self.locale]}"

    def skill(self, code: str) -> str:
        labels = SKILL_LABELS.get(code)
        if labels is None:  # a code newer than this taxonomy: show it readably
            return str(code).replace("_", " ")
        return labels.get(self.locale) or labels[DEFAULT_LOCALE]

    def skills(self, codes: Any) -> str:
        # Commas only: labels such as "Forms and paperwork" already contain the word "and".
        return ", ".join(self.skill(code) for code in _as_list(codes))

    def language(self, code: str) -> str:
        name = self.babel.languages.get(str(code).lower())
        return str(name) if name else str(code)

    def languages(self, codes: Any, style: ListStyle = "standard") -> str:
        return self.join([self.language(code) for code in _as_list(codes)], style)

    def join(self, items: list[str], style: ListStyle = "standard") -> str:
        """``a, b and c`` in the locale (``style="or"`` for ``a, b or c``)."""
        return format_list(items, style=style, locale=self.babel) if items else ""

    def level(self, code: str) -> str:
        return phrases.LEVEL_NAMES[self.locale].get(str(code), str(code))

    def urgency(self, code: str) -> str:
        return phrases.URGENCY_NAMES[self.locale].get(str(code), str(code))

    def people(self, count: int) -> str:
        """``3 people``, with the noun in the locale's plural form for the number."""
        nouns = phrases.PEOPLE[self.locale]
        return f"{count} {nouns.get(self.babel.plural_form(count), nouns['other'])}"

    # --- reasons ----------------------------------------------------------------------------

    def phrase(self, key: str, **values: str) -> str:
        return _fill(phrases.REASONS[self.locale][key], **values)

    def reason(self, reason: Any) -> str:
        """One reason code with its parameters as a sentence; never fails on odd input."""
        if hasattr(reason, "model_dump"):  # an event's pydantic ``Reason``
            reason = reason.model_dump()
        if not isinstance(reason, Mapping):
            return f"{self.phrase('unknown')}."
        code = str(reason.get("code", ""))
        describe = self._describers.get(code)
        try:
            if code in FIXED_REASONS:
                sentence = self.phrase(code)
            elif describe is not None:
                sentence = describe(reason)
            else:
                sentence = self.phrase("unknown")
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError):
            # A parameter of an unexpected type: a general sentence beats a lost message.
            sentence = self.phrase("unknown")
        count = reason.get("count")
        # Why a request has no volunteer may say how many volunteers it ruled out.
        if code in UNMATCHED_CODES and code != "no_volunteers" and _is_count(count):
            return f"{sentence} ({self.people(count)})."
        return f"{sentence}."

    @cached_property
    def _describers(self) -> dict[str, Callable[[Mapping[str, Any]], str]]:
        """How each reason with parameters is put into words."""
        return dict(
            shared_language=self._shared_language,
            speaks_locale=self._speaks_locale,
            # The name the design document uses for the same reason.
            locale_language=self._speaks_locale,
            skills=lambda r: self._with_list("skills", self.skills(r.get("skills"))),
            distance=self._distance,
            available=self._available,
            load=self._load,
            no_shared_language=lambda r: self._with_list(
                "no_shared_language", self.languages(r.get("languages"), style="or")
            ),
            missing_skill=lambda r: self._with_list("missing_skill", self.skills(r.get("skills"))),
        )

    def _with_list(self, key: str, listed: str) -> str:
        if not listed:
            return self.phrase(f"{key}.none")
        name = "languages" if key == "no_shared_language" else "skills"
        return self.phrase(key, **{name: listed})

    def _shared_language(self, reason: Mapping[str, Any]) -> str:
        language = reason.get("language")
        if not language:
            return self.phrase("shared_language.none")
        level = str(reason.get("level", "")).lower()
        key = f"shared_language.{level}" if level in LEVELS else "shared_language.any"
        return self.phrase(key, language=self.language(language))

    def _speaks_locale(self, reason: Mapping[str, Any]) -> str:
        language = reason.get("language")
        if not language:
            return self.phrase("speaks_locale.none")
        return self.phrase("speaks_locale", language=self.language(language))

    def _distance(self, reason: Mapping[str, Any]) -> str:
        km = reason.get("km")
        if isinstance(km, bool) or not isinstance(km, int | float):
            return self.phrase("distance.none")
        return self.phrase("distance", km=self.km(km))

    def _available(self, reason: Mapping[str, Any]) -> str:
        day = str(reason.get("day", "")).lower()
        if day not in DAYS:
            return self.phrase("available.none")
        when = self.weekday(day)
        if date := self._short_date(reason.get("date")):  # the first shared slot's date
            when = f"{when} {date}"
        start, end = self.clock(reason.get("start")), self.clock(reason.get("end"))
        if start is None or end is None:
            return self.phrase("available.day", when=when)
        return self.phrase("available", when=when, start=start, end=end)

    def _short_date(self, value: Any) -> str | None:
        """An ISO date as day and month (``2 Mar``, ``2.3.``); None if it is not one."""
        try:
            return format_skeleton("MMMd", dt.date.fromisoformat(value), locale=self.babel)
        except (TypeError, ValueError):
            return None

    def _load(self, reason: Mapping[str, Any]) -> str:
        active, capacity = reason.get("active"), reason.get("capacity")
        if not isinstance(active, int) or not isinstance(capacity, int) or capacity <= 0:
            return self.phrase("load.none")
        if active == 0:
            return self.phrase("load.idle")
        return self.phrase("load", active=str(active), capacity=str(capacity))


def describe_reason(reason: dict[str, Any], locale: str, timezone: str = "UTC") -> str:
    """One reason (a matcher code with its parameters) as a sentence in ``locale``.

    An unknown code gives a general sentence; a known code with missing or malformed
    parameters gives a plainer sentence about the same thing. The matcher's
    reasons carry no instants: the ``available`` times are already the request's wall-clock
    times and are shown as given, so ``timezone`` (the recipient's, as for ``render``) changes
    nothing for them today.
    """
    return Formatter(locale, timezone).reason(reason)


# --- templates ------------------------------------------------------------------------------


def _formatter(context: jinja2.runtime.Context) -> Formatter:
    formatter = context["_format"]
    assert isinstance(formatter, Formatter)
    return formatter


def _filter(name: str) -> Callable[..., str]:
    """A Jinja filter calling ``Formatter.<name>`` of the message being rendered."""

    @jinja2.pass_context
    def apply(context: jinja2.runtime.Context, value: Any, *args: Any) -> str:
        if isinstance(value, jinja2.Undefined):
            # Jinja hands a missing value to a filter without complaint; make it the error
            # StrictUndefined promises instead of a confusing one deep inside Babel.
            str(value)
        method: Callable[..., str] = getattr(_formatter(context), name)
        return method(value, *args)

    return apply


FILTERS: tuple[str, ...] = (
    "date",
    "datetime",
    "time",
    "weekday",
    "km",
    "skill",
    "skills",
    "language",
    "languages",
    "level",
    "urgency",
    "reason",
)


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        # Only HTML is escaped: a name with "<" must read as written in text, subject and SMS.
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    environment.filters.update({name: _filter(name) for name in FILTERS})
    return environment


@lru_cache(maxsize=len(LOCALES) * len(NOTIFICATION_KINDS))
def _has_templates(locale: str, kind: NotificationKind) -> bool:
    return all((TEMPLATES / locale / f"{kind}.{part}").is_file() for part in PARTS)


def _tidy(text: str) -> str:
    """No trailing spaces, at most one blank line in a row, one final newline."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def render(
    kind: NotificationKind, locale: str | None, context: dict[str, Any], timezone: str = "UTC"
) -> Rendered:
    """Render every part of message ``kind`` for a recipient with ``locale`` and ``timezone``.

    Instants in ``context`` are shown in ``timezone``. A locale without the templates falls
    back to English for the whole message, so one message never mixes languages.
    """
    if kind not in NOTIFICATION_KINDS:
        raise ValueError(f"unknown message kind: {kind!r}")
    chosen = resolve_locale(locale)
    if not _has_templates(chosen, kind):
        chosen = DEFAULT_LOCALE
    formatter = Formatter(chosen, timezone)
    values = {
        **OPTIONAL.get(kind, {}),
        **context,
        "_format": formatter,
        "html_lang": BABEL_LOCALES[chosen].replace("_", "-"),
    }
    environment = _environment()

    def part(name: str, **extra: Any) -> str:
        template = environment.get_template(f"{chosen}/{kind}.{name}")
        return template.render({**values, **extra})

    subject = " ".join(part("subject.txt").split())
    text = _tidy(part("txt"))
    html = _tidy(part("html", subject=subject))
    lines = [line.strip() for line in part("sms.txt").splitlines() if line.strip()]
    accept_url = str(context["accept_url"]) if kind == "offer" else None
    return Rendered(chosen, subject, text, html, _fit_sms(lines, accept_url))


def _fit_sms(lines: list[str], accept_url: str | None) -> str:
    """The SMS within ``SMS_SEGMENTS`` parts; an offer keeps its accept link whole, at the end.

    An offer's SMS template ends with the line holding the accept link (a label and the link).
    Next to a long link in a UCS-2 message (Cyrillic, Polish letters) even that line may not
    fit; then the link alone is kept, which is what the volunteer needs to answer.
    """
    text = "\n".join(lines)
    if accept_url is None:
        return fit(text, "", SMS_SEGMENTS)
    call = lines[-1] if lines and lines[-1].endswith(accept_url) else accept_url
    fitted = fit(text, call, SMS_SEGMENTS)
    if segments(fitted) > SMS_SEGMENTS and call != accept_url:
        fitted = fit("\n".join([*lines[:-1], accept_url]), accept_url, SMS_SEGMENTS)
    return fitted
