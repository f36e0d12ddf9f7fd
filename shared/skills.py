"""The supported locales and the skill taxonomy: codes are stable identifiers; labels are per
locale."""

from __future__ import annotations

LOCALES: tuple[str, ...] = ("en", "pl", "uk", "ru", "fi", "pt", "sl")
DEFAULT_LOCALE = "en"
# Babel's data for each locale: British English for the day-month order and the 24-hour clock
# used in the partner cities, and European rather than Brazilian Portuguese.
BABEL_LOCALES: dict[str, str] = {
    "en": "en_GB",
    "pl": "pl",
    "uk": "uk",
    "ru": "ru",
    "fi": "fi",
    "pt": "pt_PT",
    "sl": "sl",
}

SKILL_LABELS: dict[str, dict[str, str]] = {
    "legal_aid": {
        "en": "Legal aid",
        "pl": "Pomoc prawna",
        "uk": "Юридична допомога",
        "ru": "Юридическая помощь",
        "fi": "Oikeusapu",
        "pt": "Apoio jurídico",
        "sl": "Pravna pomoč",
    },
    "translation": {
        "en": "Translation and interpreting",
        "pl": "Tłumaczenie",
        "uk": "Переклад",
        "ru": "Перевод",
        "fi": "Kääntäminen ja tulkkaus",
        "pt": "Tradução e interpretação",
        "sl": "Prevajanje in tolmačenje",
    },
    "job_search": {
        "en": "Job search",
        "pl": "Szukanie pracy",
        "uk": "Пошук роботи",
        "ru": "Поиск работы",
        "fi": "Työnhaku",
        "pt": "Procura de emprego",
        "sl": "Iskanje zaposlitve",
    },
    "housing": {
        "en": "Housing",
        "pl": "Mieszkanie",
        "uk": "Житло",
        "ru": "Жильё",
        "fi": "Asuminen",
        "pt": "Habitação",
        "sl": "Stanovanje",
    },
    "medical_accompaniment": {
        "en": "Accompanying to the doctor",
        "pl": "Towarzyszenie u lekarza",
        "uk": "Супровід до лікаря",
        "ru": "Сопровождение к врачу",
        "fi": "Saattaminen lääkäriin",
        "pt": "Acompanhamento médico",
        "sl": "Spremstvo k zdravniku",
    },
    "language_tutoring": {
        "en": "Language tutoring",
        "pl": "Nauka języka",
        "uk": "Навчання мови",
        "ru": "Обучение языку",
        "fi": "Kielen opetus",
        "pt": "Explicações de língua",
        "sl": "Učenje jezika",
    },
    "childcare": {
        "en": "Childcare",
        "pl": "Opieka nad dziećmi",
        "uk": "Догляд за дітьми",
        "ru": "Присмотр за детьми",
        "fi": "Lastenhoito",
        "pt": "Cuidado de crianças",
        "sl": "Varstvo otrok",
    },
    "paperwork": {
        "en": "Forms and paperwork",
        "pl": "Pomoc w formalnościach",
        "uk": "Допомога з документами",
        "ru": "Помощь с документами",
        "fi": "Lomakkeet ja asiakirjat",
        "pt": "Formulários e documentos",
        "sl": "Obrazci in dokumenti",
    },
    "transport": {
        "en": "Transport",
        "pl": "Transport",
        "uk": "Транспорт",
        "ru": "Транспорт",
        "fi": "Kuljetus",
        "pt": "Transporte",
        "sl": "Prevoz",
    },
    "digital_help": {
        "en": "Help with computers and phones",
        "pl": "Pomoc z komputerem i telefonem",
        "uk": "Допомога з комп'ютером і телефоном",
        "ru": "Помощь с компьютером и телефоном",
        "fi": "Apu tietokoneen ja puhelimen kanssa",
        "pt": "Ajuda com computador e telemóvel",
        "sl": "Pomoč z računalnikom in telefonom",
    },
}

SKILL_CODES: frozenset[str] = frozenset(SKILL_LABELS)
