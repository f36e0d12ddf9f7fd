from __future__ import annotations

import pytest

from services.notifier.domain.sms import GSM7_BASIC, GSM7_EXTENSION, encoding, fit, segments

LINK = "https://match.example.org/offers/42/accept?token=1803916800.5f2c"


def test_the_gsm_alphabet_has_127_characters_plus_the_extension_table() -> None:
    assert len(GSM7_BASIC) == 127  # 128 codes, minus the escape to the extension table
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, Seinäjoki! 10:00-12:00 @ £5", "GSM-7"),
        ("Prices in € [brackets] {braces} ~ ^ | \\", "GSM-7"),
        ("Fundão", "UCS-2"),  # ã is not in the GSM alphabet
        ("Cześć", "UCS-2"),
        ("Привіт", "UCS-2"),
        ("Wait…", "UCS-2"),  # the one-character ellipsis
        ("`", "UCS-2"),
        ("", "GSM-7"),
    ],
)
def test_encoding(text: str, expected: str) -> None:
    assert encoding(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        # Extension characters take two septets.
        ("€" * 80, 1),
        ("€" * 80 + "a", 2),
        ("a" * 159 + "[", 2),
        ("a" * 158 + "[", 1),
        # An escape pair is never split: 152 + (2) does not fit a 153-septet part.
        ("a" * 152 + "€" + "a" * 152, 3),
        ("a" * 151 + "€" + "a" * 153, 2),
        # Cyrillic forces UCS-2: 70 in one SMS, 67 per part.
        ("д" * 70, 1),
        ("д" * 71, 2),
        ("д" * 134, 2),
        ("д" * 135, 3),
        # One non-GSM character turns the whole message into UCS-2.
        ("a" * 69 + "ł", 1),
        ("a" * 70 + "ł", 2),
        # An emoji is two UTF-16 code units.
        ("😀" * 35, 1),
        ("😀" * 35 + "a", 2),
        ("a" * 69 + "😀", 2),
    ],
)
def test_segments(text: str, expected: int) -> None:
    assert segments(text) == expected


def test_a_text_that_fits_is_returned_unchanged() -> None:
    text = f"Hi Anna! Can you help?\nYes: {LINK}"
    assert fit(text, LINK) == text
    exactly_two_parts = "a" * (306 - len(LINK) - 1) + " " + LINK
    assert segments(exactly_two_parts) == 2
    assert fit(exactly_two_parts, LINK) == exactly_two_parts


def test_a_long_gsm_text_is_cut_with_three_dots_and_keeps_the_link() -> None:
    words = " ".join(["volunteer"] * 60)
    text = f"{words}\nYes: {LINK}"
    fitted = fit(text, f"Yes: {LINK}")
    assert segments(fitted) == 2
    assert encoding(fitted) == "GSM-7"  # the ellipsis did not force UCS-2
    assert fitted.endswith(f"...\nYes: {LINK}")
    head = fitted.split("...")[0]
    assert head.split(" ")[-1] == "volunteer"  # cut between words
    assert len(fitted) > 250  # and not much shorter than it could be


def test_a_long_cyrillic_text_gets_67_units_per_part() -> None:
    text = "Добрий день! " + "Потрібна допомога з документами. " * 10 + LINK
    fitted = fit(text, LINK)
    assert segments(fitted) == 2
    assert fitted.endswith("… " + LINK)
    assert 120 <= len(fitted) <= 134
    assert fitted.startswith("Добрий день!")


def test_one_segment_budget() -> None:
    fitted = fit("x " * 200, LINK, max_segments=1)
    assert segments(fitted) == 1
    assert fitted.endswith(LINK)


def test_keep_is_appended_when_the_text_does_not_end_with_it() -> None:
    assert fit("Please answer", LINK) == f"Please answer {LINK}"
    long = fit("word " * 100, LINK)
    assert segments(long) <= 2
    assert long.endswith("... " + LINK)


def test_without_keep_the_text_just_ends_with_an_ellipsis() -> None:
    fitted = fit("Дякуємо за допомогу! " * 20, "")
    assert segments(fitted) == 2
    assert fitted.endswith("…")


def test_a_keep_that_cannot_fit_is_returned_whole() -> None:
    huge = "https://example.org/" + "x" * 400
    assert fit("Hello " * 50 + huge, huge) == huge


def test_a_remnant_too_short_to_mean_anything_is_dropped() -> None:
    # "Cześć" forces UCS-2, where only "Cze" would fit next to a long link: keep just the link.
    long_link = "https://match.example.org/offers/" + "a" * 100
    assert fit(f"Cześć Anna! Czy możesz pomóc?\n{long_link}", long_link) == long_link
