from __future__ import annotations

import copy
import datetime as dt
import html
import re
from pathlib import Path
from typing import Any

import jinja2
import pytest

from services.notifier.domain.messages import (
    LOCALES,
    PARTS,
    TEMPLATES,
    Formatter,
    Rendered,
    render,
    resolve_locale,
)
from services.notifier.domain.sms import segments
from shared.vocabulary import NOTIFICATION_KINDS as KINDS

# A link as long as the registry's (base, match id, expiry and a 40-character signature).
REGISTRY_LINK = (
    "https://match.involvim.eu/offers/0b6f3c52-9a4e-4a8e-8d55-2f1b7c9e4d10/accept"
    "?token=1803916800.3f9a1c0e5b7d2a4c6e8f0a1b3c5d7e9f1a2b3c4d"
)
ACCEPT = "https://match.example.org/o/7f3a/accept?t=1803916800.3f9a1c0e&x=1"
DECLINE = "https://match.example.org/o/7f3a/decline?t=1803916800.b2d4f6a8&x=1"
RESPOND_BY = dt.datetime(2027, 3, 2, 16, 0, tzinfo=dt.UTC)
# As long as the registry's: base, volunteer id, expiry and a 64-character signature.
SIGN_IN = (
    "https://match.example.org/volunteer/enter/0b6f3c52-9a4e-4a8e-8d55-2f1b7c9e4d10"
    "?expires=1803916800&token=3f9a1c0e5b7d2a4c6e8f0a1b3c5d7e9f1a2b3c4d5e6f708192a3b4c5d6e7f809"
)

OFFER_REASONS = [
    {"code": "shared_language", "language": "uk", "level": "native"},
    {"code": "speaks_locale", "language": "ru"},
    {"code": "skills", "skills": ["paperwork", "translation"]},
    {"code": "distance", "km": 3.2},
    {"code": "available", "day": "tue", "date": "2027-03-02", "start": "10:00", "end": "12:00"},
    {"code": "load", "active": 1, "capacity": 3},
]
UNMATCHED_REASONS = [
    {"code": "no_time_overlap", "count": 4},
    {"code": "no_shared_language", "count": 12, "languages": ["uk", "ka"]},
    {"code": "missing_skill", "count": 2, "skills": ["legal_aid"]},
]

SAMPLES: dict[str, dict[str, Any]] = {
    "offer": {
        "volunteer_first_name": "Łucja",
        "organisation_name": "Fundacja Rodzinna „Przystań” w Płocku",
        "skills": ["paperwork", "translation"],
        "languages": ["uk", "ru"],
        "urgency": "high",
        "needed_by": dt.date(2027, 3, 10),
        "remote": True,
        "distance_km": 3.2,
        "reasons": OFFER_REASONS,
        "accept_url": ACCEPT,
        "decline_url": DECLINE,
        "respond_by": RESPOND_BY,
    },
    "offer_withdrawn": {
        "volunteer_first_name": "Тарас",
        "organisation_name": "Miejski Ośrodek Pomocy Społecznej",
        "skills": ["medical_accompaniment"],
        "needed_by": dt.date(2027, 3, 10),
    },
    "match_accepted_organisation": {
        "organisation_name": "Centro Social de Fundão",
        "request_reference": "R-7F3A",
        "beneficiary_display_name": "Олена Коваленко",
        "volunteer_first_name": "Łucja",
        "volunteer_contact": {"email": "lucja@example.org", "phone": "+48601234567"},
        "skills": ["paperwork"],
        "needed_by": dt.date(2027, 3, 10),
        "how_to_meet": "At the library entrance",
    },
    "match_accepted_beneficiary": {
        "beneficiary_display_name": "Олена Коваленко",
        "volunteer_first_name": "Mikko",
        "organisation_name": "Seinäjoen työllisyyspalvelut",
        "skills": ["job_search", "digital_help"],
        "needed_by": dt.date(2027, 3, 10),
    },
    "offer_declined_organisation": {
        "organisation_name": "Zavod Litija",
        "request_reference": "R-7F3A",
        "beneficiary_display_name": "Дмитрий Смирнов",
        "outcome": "declined",
        "next_step": "searching",
    },
    "request_unmatched_organisation": {
        "organisation_name": "Louth Volunteer Centre",
        "request_reference": "R-7F3A",
        "beneficiary_display_name": "Zofia Wójcik",
        "reasons": UNMATCHED_REASONS,
    },
    "sign_in_link": {
        "volunteer_first_name": "Олена",
        "sign_in_url": SIGN_IN,
        "expires_at": RESPOND_BY,
        "welcome": False,
    },
}
OPTIONAL_KEYS = {"match_accepted_organisation": {"how_to_meet"}}
MATRIX = [(locale, kind) for locale in LOCALES for kind in KINDS]


def _sample(kind: str, **changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(SAMPLES[kind]), **changes}


def _template_files(locale: str) -> set[str]:
    return {path.name for path in (TEMPLATES / locale).iterdir() if path.is_file()}


# --- completeness ---------------------------------------------------------------------------


def test_english_has_every_part_of_every_kind() -> None:
    expected = {f"{kind}.{part}" for kind in KINDS for part in PARTS}
    assert expected <= _template_files("en")


@pytest.mark.parametrize("locale", LOCALES)
def test_every_locale_has_every_template_english_has(locale: str) -> None:
    missing = _template_files("en") - _template_files(locale)
    assert not missing, f"{locale} lacks {sorted(missing)}"


def test_the_layout_declares_the_page_language() -> None:
    assert '<html lang="{{ html_lang }}">' in (TEMPLATES / "_layout.html").read_text()


@pytest.mark.parametrize(("locale", "kind"), MATRIX)
def test_every_message_renders_in_every_locale(locale: str, kind: str) -> None:
    rendered = render(kind, locale, _sample(kind), "Europe/Warsaw")
    assert rendered.locale == locale
    assert rendered.subject and "\n" not in rendered.subject
    for body in (rendered.subject, rendered.text, rendered.html, rendered.sms):
        assert "{{" not in body and "{%" not in body and "}}" not in body
    assert rendered.text.endswith("\n") and "\n\n\n" not in rendered.text
    assert re.search(rf'<html lang="{locale}(-[A-Z]+)?">', rendered.html)
    assert f"<title>{html.escape(rendered.subject, quote=False)}</title>" in rendered.html
    assert rendered.sms and segments(rendered.sms) <= 2


@pytest.mark.parametrize(("locale", "kind"), [m for m in MATRIX if m[0] != "en"])
def test_translations_are_not_english(locale: str, kind: str) -> None:
    english = render(kind, "en", _sample(kind))
    translated = render(kind, locale, _sample(kind))
    assert translated.subject != english.subject
    assert translated.text != english.text
    assert translated.html != english.html
    assert translated.sms != english.sms
    # No English sentence survived into the translation (a link on a line of its own is no
    # sentence).
    english_lines = {
        line
        for line in english.text.splitlines()
        if len(line) > 20 and not line.startswith("https://")
    }
    assert not english_lines & set(translated.text.splitlines())


@pytest.mark.parametrize(("locale", "kind"), MATRIX)
def test_a_missing_key_is_an_error(locale: str, kind: str) -> None:
    for key in sorted(set(SAMPLES[kind]) - OPTIONAL_KEYS.get(kind, set())):
        context = _sample(kind)
        del context[key]
        with pytest.raises(jinja2.UndefinedError):
            render(kind, locale, context)


def test_how_to_meet_is_optional() -> None:
    context = _sample("match_accepted_organisation")
    del context["how_to_meet"]
    assert "How to meet" not in render("match_accepted_organisation", "en", context).text
    context["how_to_meet"] = None
    assert "How to meet" not in render("match_accepted_organisation", "en", context).text
    shown = render("match_accepted_organisation", "en", _sample("match_accepted_organisation"))
    assert "How to meet: At the library entrance" in shown.text


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown message kind"):
        render("birthday_card", "en", {})


# --- locales --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("uk", "uk"),
        ("UK", "uk"),
        ("pt-BR", "pt"),
        ("pt_BR", "pt"),
        ("pt-PT", "pt"),
        ("sl-SI", "sl"),
        ("fi_FI", "fi"),
        ("en-IE", "en"),
        ("ka", "en"),
        ("tl-PH", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_resolve_locale(given: str | None, expected: str) -> None:
    assert resolve_locale(given) == expected


def test_an_unsupported_locale_gets_the_english_message() -> None:
    georgian = render("offer", "ka", _sample("offer"))
    assert georgian.locale == "en"
    assert georgian == render("offer", "en", _sample("offer"))
    assert render("offer", "pt-BR", _sample("offer")).locale == "pt"


# --- formatting -----------------------------------------------------------------------------


def test_the_formatting_filters_follow_locale_and_time_zone() -> None:
    finnish = Formatter("fi", "Europe/Helsinki")
    assert finnish.datetime(RESPOND_BY) == "2. maaliskuuta 2027 18.00"
    assert finnish.time(RESPOND_BY) == "18.00"
    assert finnish.date(dt.date(2027, 3, 10), "medium") == "10.3.2027"
    assert finnish.weekday("tue") == "tiistai"
    assert Formatter("en", "Europe/Warsaw").datetime(RESPOND_BY) == "2 March 2027, 17:00"
    assert Formatter("pt", "UTC").date(dt.date(2027, 3, 10)) == "10 de março de 2027"
    polish = Formatter("pl")
    assert polish.weekday("tue") == "wtorek"
    assert polish.level("fluent") == "biegły"
    assert polish.urgency("critical") == "krytyczna"
    assert polish.languages(["uk", "ka"]) == "ukraiński i gruziński"
    assert polish.skills(["legal_aid", "housing"]) == "Pomoc prawna, Mieszkanie"
    assert polish.km(12.25) == "12,2 km"
    ukrainian = Formatter("uk")
    assert ukrainian.weekday("tue") == "вівторок"
    assert ukrainian.language("uk") == "українська"
    assert ukrainian.km(3.25) == "3,2 км"
    assert Formatter("sl").urgency("high") == "visoka"
    # An unknown zone name does not lose the message: it is shown in UTC.
    assert Formatter("en", "Mars/Olympus").time(RESPOND_BY) == "16:00"


# --- the offer ------------------------------------------------------------------------------


def _offer(locale: str, timezone: str = "Europe/Helsinki", **changes: Any) -> Rendered:
    return render("offer", locale, _sample("offer", **changes), timezone)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_offer_has_both_links_in_text_and_html(locale: str) -> None:
    offer = _offer(locale)
    assert ACCEPT in offer.text and DECLINE in offer.text
    # In HTML the "&" of a link is written as "&amp;".
    assert f'href="{html.escape(ACCEPT)}"' in offer.html
    assert f'href="{html.escape(DECLINE)}"' in offer.html


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("en", ["You speak Ukrainian (native).", "Tuesday", "3.2 km", "1 of 3"]),
        ("pl", ["Język ukraiński to Twój język ojczysty.", "wtorek", "3,2 km"]),
        ("uk", ["Українська — ваша рідна мова.", "вівторок", "3,2 км", "Допомога з документами"]),
        ("ru", ["Украинский — ваш родной язык.", "вторник", "3,2 км"]),
        ("fi", ["Ukraina on äidinkielesi.", "tiistai", "klo 10.00–12.00"]),
        ("pt", ["O ucraniano é a sua língua materna.", "terça-feira", "3,2 km"]),
        ("sl", ["Ukrajinščina je vaš materni jezik.", "torek", "3,2 km"]),
    ],
)
def test_the_offer_says_why_in_words(locale: str, words: list[str]) -> None:
    offer = _offer(locale)
    for word in words:
        assert word in offer.text, word
        assert html.escape(word, quote=False) in offer.html, word


@pytest.mark.parametrize(
    ("locale", "timezone", "shown"),
    [
        ("en", "Europe/Helsinki", "2 March 2027, 18:00"),
        ("en", "Europe/Warsaw", "2 March 2027, 17:00"),
        ("en", "UTC", "2 March 2027, 16:00"),
        # Babel keeps the year and its abbreviation together with a narrow no-break space.
        ("uk", "Europe/Helsinki", "2 березня 2027\u202fр., 18:00"),
        ("ru", "Europe/Moscow", "2 марта 2027\u202fг., 19:00"),
        ("pl", "Europe/Warsaw", "2 marca 2027, godz. 17:00"),
        ("fi", "Europe/Helsinki", "2. maaliskuuta 2027 klo 18.00"),
        ("pt", "Europe/Lisbon", "2 de março de 2027, às 16:00"),
        ("sl", "Europe/Ljubljana", "2. marec 2027 ob 17:00"),
    ],
)
def test_the_answer_deadline_is_in_the_recipient_s_time_zone(
    locale: str, timezone: str, shown: str
) -> None:
    offer = _offer(locale, timezone)
    assert shown in offer.text
    assert shown in offer.html


def test_a_deadline_after_midnight_local_time_shows_the_local_date() -> None:
    offer = _offer(
        "en", "Europe/Helsinki", respond_by=dt.datetime(2027, 3, 2, 22, 30, tzinfo=dt.UTC)
    )
    assert "3 March 2027, 00:30" in offer.text


@pytest.mark.parametrize("locale", LOCALES)
def test_the_offer_holds_no_beneficiary_contact_details(locale: str) -> None:
    # Even a careless caller passing them along does not get them into the message.
    context = _sample(
        "offer",
        beneficiary_display_name="Олена Коваленко",
        beneficiary_email="olena@example.org",
        beneficiary_phone="+380501234567",
    )
    offer = render("offer", locale, context, "Europe/Kyiv")
    for body in (offer.subject, offer.text, offer.html, offer.sms):
        assert "Олена" not in body
        assert "@" not in body
        assert not re.search(r"\+\d{6,}", body)


def test_where_follows_distance_and_remote() -> None:
    both = _offer("en")
    assert "Where: in person, about 3.2 km from you, or remotely" in both.text
    remote = _offer("en", distance_km=None)
    assert "Where: remotely, by phone or online" in remote.text
    in_person = _offer("en", remote=False, distance_km=12.25)
    assert "Where: in person, about 12.2 km from you\n" in in_person.text


def test_a_critical_offer_says_so_in_the_subject() -> None:
    assert _offer("en", urgency="critical").subject.startswith("Urgent: ")
    assert _offer("uk", urgency="critical").subject.startswith("Терміново: ")
    assert not _offer("en").subject.startswith("Urgent")


def test_a_missing_first_name_still_greets() -> None:
    offer = _offer("en", volunteer_first_name="")
    assert offer.text.startswith("Hello,\n")
    assert offer.sms.startswith("Hi! ")


# --- escaping -------------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"


@pytest.mark.parametrize(("locale", "kind"), MATRIX)
def test_html_escapes_names_and_text_keeps_them(locale: str, kind: str) -> None:
    context = _sample(kind)
    for key in ("organisation_name", "volunteer_first_name", "beneficiary_display_name"):
        if key in context:
            context[key] = f"Ann {SCRIPT}"
    if kind == "match_accepted_organisation":
        context["how_to_meet"] = SCRIPT
    rendered = render(kind, locale, context)
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert SCRIPT in rendered.text


# --- organisation and beneficiary messages --------------------------------------------------


def test_the_organisation_sees_only_the_contact_details_shared() -> None:
    kind = "match_accepted_organisation"
    both = render(kind, "en", _sample(kind))
    assert "Email: lucja@example.org" in both.text and "Phone: +48601234567" in both.text
    assert 'href="mailto:lucja@example.org"' in both.html
    email_only = render(kind, "en", _sample(kind, volunteer_contact={"email": "l@example.org"}))
    assert "l@example.org" in email_only.text and "Phone" not in email_only.text
    nothing = render(kind, "pl", _sample(kind, volunteer_contact={}))
    assert "Dane kontaktowe: nie zostały udostępnione" in nothing.text
    assert "E-mail" not in nothing.text


def test_declined_and_expired_offers_read_differently() -> None:
    kind = "offer_declined_organisation"
    declined = render(kind, "en", _sample(kind))
    expired = render(kind, "en", _sample(kind, outcome="expired"))
    assert "cannot help this time" in declined.text
    assert "did not answer in time" in expired.text
    assert declined.subject != expired.subject
    assert "looking for the next suitable volunteer" in declined.text
    other = render(kind, "en", _sample(kind, next_step="waiting"))
    assert "looking for the next" not in other.text


@pytest.mark.parametrize(
    ("locale", "still_open"),
    [
        ("en", "The request stays open."),
        ("pl", "Zgłoszenie pozostaje otwarte."),
        ("uk", "Запит залишається відкритим."),
        ("ru", "Запрос остаётся открытым."),
        ("fi", "Pyyntö pysyy avoinna."),
        ("pt", "O pedido continua aberto."),
        ("sl", "Prošnja ostaja odprta."),
    ],
)
def test_an_unmatched_request_explains_why_and_stays_open(locale: str, still_open: str) -> None:
    kind = "request_unmatched_organisation"
    rendered = render(kind, locale, _sample(kind))
    assert still_open in rendered.text
    reasons = [line for line in rendered.text.splitlines() if line.startswith("- ")]
    assert len(reasons) == len(UNMATCHED_REASONS)
    unknown = render(kind, locale, _sample(kind, reasons=[{"code": "solar_flare"}]))
    assert len([line for line in unknown.text.splitlines() if line.startswith("- ")]) == 1
    if locale == "en":
        assert "- Volunteers do not speak Ukrainian or Georgian (12 people)." in rendered.text
        assert "- Another reason was taken into account." in unknown.text


# --- SMS ------------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("link", [ACCEPT, REGISTRY_LINK])
def test_every_offer_sms_fits_two_parts_and_ends_with_the_accept_link(
    locale: str, link: str
) -> None:
    offer = _offer(locale, accept_url=link)
    assert segments(offer.sms) <= 2
    assert offer.sms.endswith(link)
    assert DECLINE not in offer.sms


def test_a_long_ukrainian_offer_is_shortened_with_the_link_intact() -> None:
    offer = _offer(
        "uk",
        "Europe/Kyiv",
        volunteer_first_name="Олександра",
        organisation_name="Благодійний фонд допомоги родинам «Пристань» у місті Плоцьк",
        skills=["paperwork", "medical_accompaniment", "translation", "housing"],
    )
    assert segments(offer.sms) == 2
    assert offer.sms.startswith("Добрий день, Олександра!")
    assert offer.sms.endswith(f"…\nТак, допоможу: {ACCEPT}")


def test_a_short_offer_sms_is_not_cut() -> None:
    context = _sample(
        "offer",
        volunteer_first_name="Anna",
        organisation_name="MOPS Plock",
        skills=["transport"],
        accept_url="https://x.eu/a",
    )
    offer = render("offer", "en", context, "Europe/Warsaw")
    assert offer.sms == (
        "Hi Anna! Can you help? Transport, needed by 10 Mar 2027. A request from MOPS Plock. "
        "Please answer by 17:00, 2 Mar 2027.\nYes, I can help: https://x.eu/a"
    )
    assert segments(offer.sms) == 1


def test_every_template_file_is_a_known_part_of_a_known_kind() -> None:
    known = {f"{kind}.{part}" for kind in KINDS for part in PARTS}
    for locale in LOCALES:
        assert _template_files(locale) <= known, locale
    assert {path.name for path in Path(TEMPLATES).iterdir() if path.is_file()} == {"_layout.html"}


# --- sign-in link ---------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("welcome", [False, True])
def test_the_sign_in_email_holds_the_link_and_the_sms_does_not(locale: str, welcome: bool) -> None:
    rendered = render("sign_in_link", locale, _sample("sign_in_link", welcome=welcome))
    assert rendered.text.splitlines()[3] == SIGN_IN  # on a line of its own: easy to click
    assert f'href="{html.escape(SIGN_IN)}"' in rendered.html
    assert "Олена" in rendered.text and "Олена" in rendered.html
    # Should an SMS ever be sent, it only points to the mailbox.
    assert "http" not in rendered.sms and segments(rendered.sms) <= 2


@pytest.mark.parametrize("locale", LOCALES)
def test_a_welcome_reads_differently_from_a_requested_link(locale: str) -> None:
    requested = render("sign_in_link", locale, _sample("sign_in_link"))
    welcome = render("sign_in_link", locale, _sample("sign_in_link", welcome=True))
    assert requested.subject != welcome.subject
    assert requested.text.splitlines()[2] != welcome.text.splitlines()[2]
    assert requested.text.splitlines()[-3] != welcome.text.splitlines()[-3]


@pytest.mark.parametrize(
    ("locale", "timezone", "valid_until"),
    [
        ("en", "Europe/Dublin", "The link is valid until 2 March 2027, 16:00."),
        ("pl", "Europe/Warsaw", "Link jest ważny do 2 marca 2027, godz. 17:00."),
        ("uk", "Europe/Kyiv", "Посилання дійсне до 2 березня 2027\u202fр., 18:00."),
        ("ru", "Europe/Moscow", "Ссылка действительна до 2 марта 2027\u202fг., 19:00."),
        ("fi", "Europe/Helsinki", "Linkki on voimassa 2. maaliskuuta 2027 klo 18.00 asti."),
        ("pt", "Europe/Lisbon", "A ligação é válida até 2 de março de 2027, às 16:00."),
        ("sl", "Europe/Ljubljana", "Rok veljavnosti povezave: 2. marec 2027 ob 17:00."),
    ],
)
def test_the_sign_in_link_says_until_when_in_the_volunteer_s_time_zone(
    locale: str, timezone: str, valid_until: str
) -> None:
    rendered = render("sign_in_link", locale, _sample("sign_in_link"), timezone)
    assert valid_until in rendered.text.splitlines()


def test_the_english_sign_in_email_reads_well() -> None:
    requested = render("sign_in_link", "en", _sample("sign_in_link", volunteer_first_name="Ann"))
    assert requested.subject == "Your link to your INVOLVIM Match profile"
    assert requested.text == (
        "Hello Ann,\n\nHere is your link to your INVOLVIM Match profile:\n"
        f"{SIGN_IN}\n\nThe link is valid until 2 March 2027, 16:00.\n\n"
        "If you did not ask for this link, you can ignore this email.\n\nINVOLVIM Match\n"
    )
    welcome = render("sign_in_link", "en", _sample("sign_in_link", welcome=True))
    assert welcome.text.splitlines()[2].startswith("Thank you for signing up")
    assert "If you did not sign up, you can ignore this email." in welcome.text
