"""The pure parts of the web pages: catalogues, language choice, forms, sessions."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from services.registry.entrypoints.web import forms, security
from services.registry.entrypoints.web.i18n import CATALOGUES, choose_locale, words
from shared.skills import LOCALES

ROOT = Path(__file__).resolve().parents[3]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def catalogue(locale: str):  # type: ignore[no-untyped-def]
    with (CATALOGUES / locale / "LC_MESSAGES" / "messages.po").open("rb") as source:
        return read_po(source, locale=locale)


@pytest.mark.parametrize("locale", [code for code in LOCALES if code != "en"])
def test_every_page_text_is_translated_with_the_same_placeholders(locale: str) -> None:
    missing, fuzzy, mismatched = [], [], []
    for message in catalogue(locale):
        if not message.id:
            continue
        singular = message.id[0] if isinstance(message.id, tuple) else message.id
        translations = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(t.strip() for t in translations):
            missing.append(singular)
        if message.fuzzy:
            fuzzy.append(singular)
        wanted = set(PLACEHOLDER.findall(singular))
        for text in translations:
            if set(PLACEHOLDER.findall(text)) - wanted - {"count"}:
                mismatched.append(singular)
    assert missing == [] and fuzzy == [] and mismatched == []


def test_the_catalogues_hold_every_text_the_pages_use(tmp_path: Path) -> None:
    """A text added to a page or its code without ``make messages`` would show in English."""
    template = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "--quiet", "extract", "-F", "babel.cfg",
         "-k", "N_", "-o", str(template), "."],
        cwd=ROOT, check=True,
    )  # fmt: skip
    with template.open("rb") as source:
        used = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(source) if m.id}
    for locale in LOCALES:
        if locale == "en":
            continue
        known = {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue(locale) if m.id}
        assert used - known == set(), locale


def test_a_translated_page_text_really_changes_language() -> None:
    assert words("uk")._("Become a volunteer") == "Стати волонтером"
    for locale in ("pl", "ru", "fi", "pt", "sl"):
        assert words(locale)._("Become a volunteer") != "Become a volunteer", locale
    assert words("pl").weekday("tue") == "wtorek"
    assert words("fi").clock("17:00") == "17.00"
    assert words("pl").km(3.25) == "3,2 km"


@pytest.mark.parametrize(
    ("asked", "cookie", "header", "known", "expected"),
    [
        (None, None, "uk-UA,uk;q=0.9,en;q=0.8", None, "uk"),
        (None, None, "de-DE,de;q=0.9,pl;q=0.5", None, "pl"),
        (None, None, "pt-BR", None, "pt"),
        (None, None, None, None, "en"),
        (None, None, "ka", None, "en"),
        (None, None, "en", "uk", "uk"),  # the volunteer's own language beats the browser's
        (None, "fi", "uk", "uk", "fi"),  # the switcher's choice beats both
        ("sl", "fi", "uk", None, "sl"),
        ("xx", None, "ru", None, "ru"),  # an unknown choice is ignored
    ],
)
def test_the_page_language(
    asked: str | None, cookie: str | None, header: str | None, known: str | None, expected: str
) -> None:
    assert choose_locale(asked, cookie, header, known) == expected


def test_grid_hours_become_windows_and_back() -> None:
    slots = ["tue-17", "tue-18", "tue-19", "thu-08", "sun-22", "xyz-10", "mon-99"]
    windows = forms.windows_from_slots(slots)
    assert windows == [
        {"day": "tue", "start": "17:00", "end": "20:00"},
        {"day": "thu", "start": "08:00", "end": "09:00"},
        {"day": "sun", "start": "22:00", "end": "23:00"},
    ]
    assert forms.slots_from_windows(windows) == {"tue-17", "tue-18", "tue-19", "thu-08", "sun-22"}
    # A window that covers part of an hour shows only the whole hours it covers.
    assert forms.slots_from_windows([{"day": "mon", "start": "09:30", "end": "11:00"}]) == {
        "mon-10"
    }


def test_api_error_paths_land_on_the_form_fields() -> None:
    parsed = forms.volunteer_body(
        {"lang_code_0": ["uk"], "lang_code_2": ["xx"], "lat": ["52.5"], "lon": ["19.7"]},
        "en",
        registering=True,
    )
    assert parsed.body["languages"] == [
        {"code": "uk", "level": "fluent"},
        {"code": "xx", "level": "fluent"},
    ]
    field = forms.form_field("languages.1.code", parsed.fields, forms.VOLUNTEER_FIELDS)
    assert field == "lang_code_2"  # the row on the form, not the position in the list
    assert forms.form_field("location", parsed.fields, forms.VOLUNTEER_FIELDS) == "place"
    assert forms.form_field("beneficiary.phone", {}, forms.REQUEST_FIELDS) == "beneficiary_phone"


def test_a_session_cookie_is_signed_and_expires() -> None:
    secret, other = "s" * 32, "t" * 32
    now = datetime.now(UTC)
    volunteer = uuid.uuid4()
    value = security.session_value(secret, security.VOLUNTEER, volunteer, now)
    session = security.read_session(secret, value, now)
    assert session is not None and session.subject_id == volunteer
    assert session.kind == security.VOLUNTEER
    assert security.read_session(other, value, now) is None
    _, subject, expires, signature = value.split(".")
    assert security.read_session(secret, f"o.{subject}.{expires}.{signature}", now) is None
    later = now + security.SESSION_LIFETIME[security.VOLUNTEER] + timedelta(seconds=1)
    assert security.read_session(secret, value, later) is None
    assert security.read_session(secret, "garbage", now) is None
    assert security.read_session(secret, None, now) is None
