"""HTML forms <-> API bodies: what a posted form means, and where each refusal is shown.

Pure: the pages post plain form fields (so they work without JavaScript); this module turns
them into the same bodies the JSON API takes, so both are checked by the same rules
(``schemas.VolunteerIn`` / ``schemas.RequestIn``), and turns the rules' refusals back into
messages next to the fields, in the page's language.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.registry import domain
from services.registry.entrypoints.web import places
from services.registry.entrypoints.web.i18n import N_, Words
from shared.skills import LOCALES as SITE_LOCALES
from shared.vocabulary import DAYS, LEVELS, URGENCIES, Channel, Level, Urgency

# The availability grid: one box per day and hour, from 06:00 to 23:00.
FIRST_HOUR, LAST_HOUR = 6, 23
HOURS: tuple[int, ...] = tuple(range(FIRST_HOUR, LAST_HOUR))
LANGUAGE_ROWS = 4  # language rows on the volunteer form (empty ones are ignored)
REQUEST_LANGUAGE_ROWS = 3
# What a form says when the reader leaves these choices as they are.
DEFAULT_LEVEL: Level = "fluent"
# The sign-up form's first language row starts as the reader's own language.
SIGN_UP_LEVEL: Level = "native"
SIGN_UP_CHANNEL: Channel = "email"
DEFAULT_URGENCY: Urgency = "normal"
# Languages offered in the pickers: those of the partner cities and of the people they help.
LANGUAGE_CHOICES: tuple[str, ...] = (
    "pl", "uk", "ru", "en", "fi", "pt", "sl", "be", "ka", "hi", "vi", "tl", "de", "fr", "es",
    "it", "ga", "sv", "et", "lv", "lt", "cs", "sk", "hu", "ro", "bg", "hr", "sr", "bs", "sq",
    "mk", "el", "tr", "hy", "az", "kk", "uz", "ky", "tg", "tk", "mn", "fa", "ps", "ar", "ur",
    "bn", "ne", "ta", "te", "zh", "ja", "ko", "th", "id", "ms", "am", "ti", "so", "sw", "ha",
    "yo", "ig",
)  # fmt: skip
# Time zones of the partner cities and their neighbours; the place's own zone is the default.
TIMEZONES: tuple[str, ...] = (
    "Europe/Warsaw",
    "Europe/Helsinki",
    "Europe/Lisbon",
    "Europe/Ljubljana",
    "Europe/Dublin",
    "Europe/London",
    "Europe/Kyiv",
    "Europe/Berlin",
    "Europe/Vilnius",
    "Europe/Tallinn",
    "Europe/Stockholm",
    "Europe/Madrid",
)

Form = Mapping[str, Sequence[str]]
# The templates take these from here.
__all__ = ["LEVELS", "SITE_LOCALES", "URGENCIES", "Form", "Parsed", "PlaceAnswer"]


def one(form: Form, name: str) -> str:
    values = form.get(name) or []
    return values[0].strip() if values else ""


def ticked(form: Form, name: str) -> bool:
    return one(form, name) in ("on", "true", "1", "yes")


# --- availability grid ----------------------------------------------------------------------


def windows_from_slots(slots: Sequence[str]) -> list[dict[str, str]]:
    """``["tue-17", "tue-18"]`` -> ``[{"day": "tue", "start": "17:00", "end": "19:00"}]``."""
    hours: dict[str, set[int]] = {day: set() for day in DAYS}
    for slot in slots:
        day, _, hour_text = slot.partition("-")
        if day in hours and hour_text.isdigit() and int(hour_text) in HOURS:
            hours[day].add(int(hour_text))
    windows = []
    for day in DAYS:
        run: list[int] = []
        for hour in [*sorted(hours[day]), -1]:
            if run and hour != run[-1] + 1:
                windows.append(
                    {"day": day, "start": f"{run[0]:02}:00", "end": f"{run[-1] + 1:02}:00"}
                )
                run = []
            if hour >= 0:
                run.append(hour)
    return windows


def slots_from_windows(windows: Sequence[Mapping[str, str]]) -> set[str]:
    """The grid's boxes that a stored window covers whole (the grid has hour steps)."""
    slots = set()
    for window in windows:
        start, end = domain.parse_clock(window["start"]), domain.parse_clock(window["end"])
        for hour in HOURS:
            if start.hour * 60 + start.minute <= hour * 60 and (hour + 1) * 60 <= (
                end.hour * 60 + end.minute or 24 * 60
            ):
                slots.add(f"{window['day']}-{hour:02}")
    return slots


def values_of(profile: Mapping[str, Any]) -> dict[str, list[str]]:
    """A presented volunteer as the form's fields, to fill the edit form."""
    availability = profile["availability"]
    slots = sorted(slots_from_windows(availability))
    values: dict[str, list[str]] = {
        "name": [profile["name"] or ""],
        "email": [profile["email"] or ""],
        "phone": [profile["phone"] or ""],
        "locale": [profile["locale"]],
        "skills": list(profile["skills"]),
        "max_travel_km": [_plain_number(profile["max_travel_km"])],
        "timezone": [profile["timezone"]],
        "capacity": [str(profile["capacity"])],
        "channels": list(profile["channels"]),
        "slot": slots,
        "slots_before": [",".join(slots)],
        "availability_before": [json.dumps(availability)],
    }
    if profile["remote_ok"]:
        values["remote_ok"] = ["on"]
    if profile["location"] is not None:
        values["lat"] = [str(profile["location"]["lat"])]
        values["lon"] = [str(profile["location"]["lon"])]
    for row, language in enumerate(profile["languages"][:LANGUAGE_ROWS]):
        values[f"lang_code_{row}"] = [language["code"]]
        values[f"lang_level_{row}"] = [language["level"]]
    return values


def _plain_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _availability(form: Form) -> list[dict[str, str]]:
    """The ticked hours as windows; but when the grid was left as it was shown, the stored
    windows, so that times the grid cannot show (17:30-19:00, 05:00-06:00) are not lost."""
    slots = sorted(set(form.get("slot", [])))
    before = one(form, "availability_before")
    if before and slots == sorted(set(one(form, "slots_before").split(",")) - {""}):
        try:
            kept = json.loads(before)
        except ValueError:
            kept = None
        if isinstance(kept, list):
            return kept
    return windows_from_slots(slots)


# --- places ---------------------------------------------------------------------------------


@dataclass
class PlaceAnswer:
    """Where the form says: a location, or the candidates to choose from, or nothing."""

    location: dict[str, float] | None = None
    label: str = ""
    timezone: str | None = None
    candidates: list[places.Place] = field(default_factory=list)
    problem: str | None = None  # a catalogue message id


def place_from_form(form: Form, locale: str) -> PlaceAnswer:
    chosen = one(form, "place_id")
    if chosen.isdigit() and (place := places.by_id(int(chosen))) is not None:
        return PlaceAnswer(
            {"lat": place.lat, "lon": place.lon}, place.label(locale), place.timezone
        )
    lat, lon = one(form, "lat"), one(form, "lon")
    if lat and lon:
        try:
            location = {"lat": round(float(lat), 5), "lon": round(float(lon), 5)}
        except ValueError:
            return PlaceAnswer(problem=N_("This is not a location."))
        return PlaceAnswer(location, one(form, "place_query"))
    query = one(form, "place_query")
    if not query:
        return PlaceAnswer()
    found = places.resolve(query)
    if not found:
        return PlaceAnswer(problem=N_("No place of this name was found; try a nearby town."))
    if len(found) > 1:
        return PlaceAnswer(candidates=found, problem=N_("Several places have this name; pick one."))
    place = found[0]
    return PlaceAnswer({"lat": place.lat, "lon": place.lon}, place.label(locale), place.timezone)


# --- bodies ---------------------------------------------------------------------------------


@dataclass
class Parsed:
    """An API body built from a form, with what the form itself already refuses."""

    body: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)  # form field -> catalogue message id
    place: PlaceAnswer = field(default_factory=PlaceAnswer)
    # API field path -> form field, for rows whose position on the form differs from the list's
    fields: dict[str, str] = field(default_factory=dict)


def _number(form: Form, name: str, parsed: Parsed, default: str) -> str | float:
    raw = one(form, name) or default
    try:
        return float(raw.replace(",", "."))
    except ValueError:
        parsed.errors[name] = N_("Please enter a number.")
        return raw


def _timezone(form: Form, place: PlaceAnswer) -> str:
    chosen = one(form, "timezone")
    if chosen and chosen != "auto":
        return chosen
    return place.timezone or "Europe/Warsaw"


def volunteer_body(form: Form, locale: str, *, registering: bool) -> Parsed:
    parsed = Parsed(body={})
    languages: list[dict[str, str]] = []
    for row in range(LANGUAGE_ROWS):
        code = one(form, f"lang_code_{row}")
        if code:
            parsed.fields[f"languages.{len(languages)}"] = f"lang_code_{row}"
            level = one(form, f"lang_level_{row}") or DEFAULT_LEVEL
            languages.append({"code": code, "level": level})
    place = parsed.place = place_from_form(form, locale)
    if place.problem:
        parsed.errors["place"] = place.problem
    capacity = _number(form, "capacity", parsed, "1")
    body: dict[str, Any] = {
        "name": one(form, "name"),
        "email": one(form, "email"),
        "phone": one(form, "phone") or None,
        "locale": one(form, "locale") or locale,
        "languages": languages,
        "skills": list(form.get("skills", [])),
        "remote_ok": ticked(form, "remote_ok"),
        "location": place.location,
        "max_travel_km": _number(form, "max_travel_km", parsed, "10"),
        "availability": _availability(form),
        "timezone": _timezone(form, place),
        "capacity": int(capacity)
        if isinstance(capacity, float) and capacity.is_integer()
        else capacity,
        "channels": list(form.get("channels", [])),
    }
    if registering:
        body["consent"] = ticked(form, "consent")
    parsed.body = body
    return parsed


def request_body(form: Form, locale: str) -> Parsed:
    parsed = Parsed(body={})
    languages: list[str] = []
    for row in range(REQUEST_LANGUAGE_ROWS):
        code = one(form, f"language_{row}")
        if code and code not in languages:
            parsed.fields[f"languages.{len(languages)}"] = f"language_{row}"
            languages.append(code)
    place = parsed.place = place_from_form(form, locale)
    if place.problem:
        parsed.errors["place"] = place.problem
    remote_ok = ticked(form, "remote_ok")
    parsed.body = {
        "beneficiary": {
            "display_name": one(form, "beneficiary_name"),
            "locale": one(form, "beneficiary_locale"),
            "email": one(form, "beneficiary_email") or None,
            "phone": one(form, "beneficiary_phone") or None,
            "contact_consent": ticked(form, "contact_consent"),
        },
        "languages": languages,
        "skills": list(form.get("skills", [])),
        "remote_ok": remote_ok,
        # Help given remotely needs no place; one given anyway would make it in-person only.
        "location": None if remote_ok else place.location,
        "windows": windows_from_slots(form.get("slot", [])),
        "timezone": _timezone(form, place),
        "urgency": one(form, "urgency") or DEFAULT_URGENCY,
        "needed_by": one(form, "needed_by"),
        "description": one(form, "description"),
    }
    return parsed


def idempotency_key(form: Form) -> str:
    """The key the form was rendered with, so a double click files one request."""
    key = one(form, "idempotency_key")
    try:
        return str(uuid.UUID(key))
    except ValueError:
        return str(uuid.uuid4())


# --- refusals -------------------------------------------------------------------------------

# API field path -> form field, for fields whose names differ.
VOLUNTEER_FIELDS = {
    "languages": "languages",
    "location": "place",
    "availability": "availability",
}
REQUEST_FIELDS = {
    "beneficiary.display_name": "beneficiary_name",
    "beneficiary.locale": "beneficiary_locale",
    "beneficiary.email": "beneficiary_email",
    "beneficiary.phone": "beneficiary_phone",
    "beneficiary.contact_consent": "contact_consent",
    "location": "place",
    "windows": "availability",
}
# Messages for list fields left empty, by form field.
EMPTY_LISTS = {
    "languages": N_("Please add at least one language."),
    "skills": N_("Please choose at least one kind of help."),
    "availability": N_("Please tick at least one hour in the grid."),
}
# Messages by form field for the rules the API states in English.
RULES = {
    "email": N_("Please enter an email address such as name@example.org."),
    "beneficiary_email": N_("Please enter an email address such as name@example.org."),
    "phone": N_("Please enter a phone number with its country code, such as +48601234567."),
    "beneficiary_phone": N_(
        "Please enter a phone number with its country code, such as +48601234567."
    ),
    "place": N_("Please choose a place, or say that help can be given remotely."),
    "consent": N_("We can only keep your details with your consent."),
    "needed_by": N_("Please choose a date that is not in the past."),
    "timezone": N_("Please choose a time zone."),
    "locale": N_("Please choose a language."),
    "beneficiary_locale": N_("Please choose a language."),
    "availability": N_("Each time window must end after it starts."),
}


def form_field(path: str, fields: Mapping[str, str], renames: Mapping[str, str]) -> str:
    """The form field an API error path belongs to (``languages.1.code`` -> ``lang_code_2``)."""
    parts = path.split(".")
    for length in range(len(parts), 0, -1):
        prefix = ".".join(parts[:length])
        if prefix in fields:
            return fields[prefix]
        if prefix in renames:
            return renames[prefix]
    return parts[0]


def message(error: Mapping[str, Any], name: str, words: Words) -> str:
    """A refusal in the page's words: the same rule as the API's, said for a person."""
    kind = str(error.get("type", ""))
    context = error.get("ctx") or {}
    if kind in ("missing", "string_too_short") or (kind == "too_short" and name not in EMPTY_LISTS):
        return words._("Please fill in this field.")
    if kind == "too_short":
        return words._(EMPTY_LISTS[name])
    if kind in ("string_too_long", "too_long"):
        return words._(
            "Please keep this shorter (at most %(count)s).", count=context.get("max_length", "")
        )
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return words._("This number is out of range.")
    if kind in ("float_parsing", "int_parsing", "int_from_float", "float_type", "int_type"):
        if kind.startswith("int"):
            return words._("Please enter a whole number.")
        return words._("Please enter a number.")
    if kind in ("date_parsing", "date_from_datetime_parsing", "date_type"):
        return words._("Please enter a date.")
    if kind == "literal_error":
        return words._("Please choose one of the options.")
    if name in RULES:
        return words._(RULES[name])
    if name in EMPTY_LISTS:
        return words._("Please check this choice.")
    return words._("Please check this field.")


def refusals(
    errors: Sequence[Mapping[str, Any]], parsed: Parsed, renames: Mapping[str, str], words: Words
) -> dict[str, str]:
    """Form field -> message, the first refusal per field, plus the form's own."""
    shown = {name: words._(text) for name, text in parsed.errors.items()}
    for error in errors:
        path = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body",))
        name = form_field(path, parsed.fields, renames)
        if name not in shown:
            shown[name] = message(error, name, words)
    return shown
