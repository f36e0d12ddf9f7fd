"""The small confirmation pages behind the accept and decline links.

GET only shows the question, so a mail client that previews a link decides nothing; the
volunteer's POST decides. Pages speak the volunteer's language.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from babel.dates import format_date
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.registry import domain, lifecycle
from services.registry.errors import NotFound, Unauthorised
from services.registry.orm import Match, SupportRequest, Volunteer
from shared.skills import SKILL_LABELS

templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape()
)
router = APIRouter(include_in_schema=False)

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "accept_title": "Accept this request for help?",
        "decline_title": "Decline this request for help?",
        "accept_question": "Please confirm that you can help. The organisation will then get your first name and contact details.",
        "decline_question": "Please confirm that you cannot help this time. We will ask someone else.",
        "what": "Help with",
        "when": "Needed by",
        "accept_button": "Yes, I will help",
        "decline_button": "No, not this time",
        "accepted": "Thank you! The organisation will contact you soon.",
        "declined": "Thank you for letting us know. We will ask another volunteer.",
        "invalid": "This link is not valid.",
    },
    "pl": {
        "accept_title": "Przyjąć tę prośbę o pomoc?",
        "decline_title": "Odrzucić tę prośbę o pomoc?",
        "accept_question": "Potwierdź, że możesz pomóc. Organizacja otrzyma wtedy Twoje imię i dane kontaktowe.",
        "decline_question": "Potwierdź, że tym razem nie możesz pomóc. Zapytamy kogoś innego.",
        "what": "Pomoc w zakresie",
        "when": "Potrzebne do",
        "accept_button": "Tak, pomogę",
        "decline_button": "Nie, nie tym razem",
        "accepted": "Dziękujemy! Organizacja wkrótce się z Tobą skontaktuje.",
        "declined": "Dziękujemy za informację. Zapytamy innego wolontariusza.",
        "invalid": "Ten link jest nieprawidłowy.",
    },
    "uk": {
        "accept_title": "Прийняти цей запит про допомогу?",
        "decline_title": "Відхилити цей запит про допомогу?",
        "accept_question": "Підтвердіть, що можете допомогти. Тоді організація отримає ваше ім'я та контакти.",
        "decline_question": "Підтвердіть, що цього разу не можете допомогти. Ми запитаємо когось іншого.",
        "what": "Допомога з",
        "when": "Потрібно до",
        "accept_button": "Так, я допоможу",
        "decline_button": "Ні, не цього разу",
        "accepted": "Дякуємо! Організація незабаром зв'яжеться з вами.",
        "declined": "Дякуємо, що повідомили. Ми запитаємо іншого волонтера.",
        "invalid": "Це посилання недійсне.",
    },
    "ru": {
        "accept_title": "Принять этот запрос о помощи?",
        "decline_title": "Отклонить этот запрос о помощи?",
        "accept_question": "Подтвердите, что можете помочь. Тогда организация получит ваше имя и контакты.",
        "decline_question": "Подтвердите, что в этот раз не можете помочь. Мы спросим кого-нибудь другого.",
        "what": "Помощь с",
        "when": "Нужно до",
        "accept_button": "Да, я помогу",
        "decline_button": "Нет, не в этот раз",
        "accepted": "Спасибо! Организация скоро свяжется с вами.",
        "declined": "Спасибо, что сообщили. Мы спросим другого волонтёра.",
        "invalid": "Эта ссылка недействительна.",
    },
    "fi": {
        "accept_title": "Otatko tämän avunpyynnön vastaan?",
        "decline_title": "Kieltäydytkö tästä avunpyynnöstä?",
        "accept_question": "Vahvista, että voit auttaa. Järjestö saa silloin etunimesi ja yhteystietosi.",
        "decline_question": "Vahvista, ettet voi auttaa tällä kertaa. Kysymme joltakulta toiselta.",
        "what": "Apua asiassa",
        "when": "Tarvitaan viimeistään",
        "accept_button": "Kyllä, autan",
        "decline_button": "En tällä kertaa",
        "accepted": "Kiitos! Järjestö ottaa sinuun pian yhteyttä.",
        "declined": "Kiitos tiedosta. Kysymme toiselta vapaaehtoiselta.",
        "invalid": "Tämä linkki ei ole voimassa.",
    },
    "pt": {
        "accept_title": "Aceitar este pedido de ajuda?",
        "decline_title": "Recusar este pedido de ajuda?",
        "accept_question": "Confirme que pode ajudar. A organização receberá então o seu nome próprio e contactos.",
        "decline_question": "Confirme que desta vez não pode ajudar. Vamos pedir a outra pessoa.",
        "what": "Ajuda com",
        "when": "Necessário até",
        "accept_button": "Sim, vou ajudar",
        "decline_button": "Não, desta vez não",
        "accepted": "Obrigado! A organização vai contactá-lo em breve.",
        "declined": "Obrigado por nos avisar. Vamos pedir a outro voluntário.",
        "invalid": "Esta ligação não é válida.",
    },
    "sl": {
        "accept_title": "Ali sprejmete to prošnjo za pomoč?",
        "decline_title": "Ali zavrnete to prošnjo za pomoč?",
        "accept_question": "Potrdite, da lahko pomagate. Organizacija bo nato prejela vaše ime in kontaktne podatke.",
        "decline_question": "Potrdite, da tokrat ne morete pomagati. Vprašali bomo nekoga drugega.",
        "what": "Pomoč pri",
        "when": "Potrebno do",
        "accept_button": "Da, pomagal bom",
        "decline_button": "Ne, tokrat ne",
        "accepted": "Hvala! Organizacija vas bo kmalu kontaktirala.",
        "declined": "Hvala za obvestilo. Vprašali bomo drugega prostovoljca.",
        "invalid": "Ta povezava ni veljavna.",
    },
}


def _locale(volunteer: Volunteer | None) -> str:
    locale = volunteer.locale if volunteer else "en"
    return locale if locale in PHRASES else "en"


def _render(
    locale: str,
    action: str,
    *,
    request: SupportRequest | None = None,
    token: str = "",
    message: str | None = None,
    failed: bool = False,
) -> str:
    phrases = PHRASES[locale]
    t = {
        "title": phrases[f"{action}_title"],
        "question": phrases[f"{action}_question"],
        "button": phrases[f"{action}_button"],
        "what": phrases["what"],
        "when": phrases["when"],
    }
    skills = ""
    needed_by = ""
    if request is not None:
        skills = ", ".join(
            SKILL_LABELS[s].get(locale, SKILL_LABELS[s]["en"]) for s in request.skills
        )
        needed_by = format_date(request.needed_by, "long", locale=locale)
    return templates.get_template("offer.html").render(
        locale=locale,
        t=t,
        action=action,
        skills=skills,
        needed_by=needed_by,
        token=token,
        message=message,
        failed=failed,
    )


async def _offer(
    request: Request, match_id: uuid.UUID
) -> tuple[Match | None, SupportRequest | None, Volunteer | None]:
    async with request.app.state.session_factory() as session:
        match = await session.get(Match, match_id)
        if match is None:
            return None, None, None
        return (
            match,
            await session.get(SupportRequest, match.request_id),
            await session.get(Volunteer, match.volunteer_id),
        )


def _check_action(action: str) -> None:
    if action not in (domain.ACCEPT, domain.DECLINE):
        raise NotFound("no such page")


@router.get("/offers/{match_id}/{action}", response_class=HTMLResponse)
async def confirm_page(
    match_id: uuid.UUID, action: str, request: Request, token: Annotated[str, Query()] = ""
) -> HTMLResponse:
    _check_action(action)
    match, support_request, volunteer = await _offer(request, match_id)
    locale = _locale(volunteer)
    secret = request.app.state.settings.link_secret
    if match is None or not domain.link_is_valid(
        secret, token, match_id, action, datetime.now(UTC)
    ):
        return HTMLResponse(
            _render(locale, action, message=PHRASES[locale]["invalid"], failed=True), 404
        )
    return HTMLResponse(_render(locale, action, request=support_request, token=token))


@router.get("/o/{code}", response_class=HTMLResponse)
async def short_link(code: str, request: Request) -> HTMLResponse:
    """The short link from an SMS: the same confirmation page as the long one."""
    named = domain.read_short_code(code)
    match, support_request, volunteer = (
        await _offer(request, named[0]) if named else (None, None, None)
    )
    locale = _locale(volunteer)
    secret = request.app.state.settings.link_secret
    now = datetime.now(UTC)
    if (
        named is None
        or match is None
        or not domain.short_code_is_valid(secret, code, match.id, named[1], match.respond_by, now)
    ):
        return HTMLResponse(
            _render(locale, "accept", message=PHRASES[locale]["invalid"], failed=True), 404
        )
    action = named[1]
    token = domain.sign_link(secret, match.id, action, match.respond_by)
    page = _render(locale, action, request=support_request, token=token)
    # The form posts to the offer's long address, which checks the full token.
    page = page.replace('action=""', f'action="/offers/{match.id}/{action}"')
    return HTMLResponse(page)


@router.post("/offers/{match_id}/{action}", response_class=HTMLResponse)
async def decide(
    match_id: uuid.UUID, action: str, request: Request, token: Annotated[str, Form()] = ""
) -> HTMLResponse:
    _check_action(action)
    _, _, volunteer = await _offer(request, match_id)
    locale = _locale(volunteer)
    try:
        await lifecycle.respond(
            request.app.state.uow_factory(),
            match_id,
            action,
            link_secret=request.app.state.settings.link_secret,
            link_token=token,
        )
    except (NotFound, Unauthorised):
        return HTMLResponse(
            _render(locale, action, message=PHRASES[locale]["invalid"], failed=True), 404
        )
    except domain.InvalidTransition as exc:
        # The reason is shown as the API states it: rare, and it says what happened.
        return HTMLResponse(_render(locale, action, message=str(exc), failed=True), 409)
    done = PHRASES[locale]["accepted" if action == domain.ACCEPT else "declined"]
    return HTMLResponse(_render(locale, action, message=done))
