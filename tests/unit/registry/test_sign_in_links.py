"""Sign-in links: a signed, expiring link that opens one volunteer's profile."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from services.registry import domain

SECRET = "secret-0123456789abcdef"
VOLUNTEER = uuid.UUID("0b6f3c52-9a4e-4a8e-8d55-2f1b7c9e4d10")
EXPIRES = datetime(2027, 3, 2, 16, 0, tzinfo=UTC)
BEFORE = EXPIRES - timedelta(minutes=5)


def test_a_token_opens_the_profile_it_was_made_for_until_it_expires() -> None:
    token = domain.sign_in_token(SECRET, VOLUNTEER, EXPIRES)
    assert domain.sign_in_token_is_valid(SECRET, token, VOLUNTEER, EXPIRES, BEFORE)
    assert domain.sign_in_token_is_valid(SECRET, token, VOLUNTEER, EXPIRES, EXPIRES)
    later = EXPIRES + timedelta(seconds=1)
    assert not domain.sign_in_token_is_valid(SECRET, token, VOLUNTEER, EXPIRES, later)


def test_a_token_opens_no_other_profile_and_needs_the_secret() -> None:
    token = domain.sign_in_token(SECRET, VOLUNTEER, EXPIRES)
    assert not domain.sign_in_token_is_valid(SECRET, token, uuid.uuid4(), EXPIRES, BEFORE)
    assert not domain.sign_in_token_is_valid(
        "another-secret-0123456789", token, VOLUNTEER, EXPIRES, BEFORE
    )


def test_a_later_expiry_or_a_tampered_token_is_refused() -> None:
    token = domain.sign_in_token(SECRET, VOLUNTEER, EXPIRES)
    extended = EXPIRES + timedelta(days=30)
    assert not domain.sign_in_token_is_valid(SECRET, token, VOLUNTEER, extended, BEFORE)
    flipped = token[:-1] + ("0" if token[-1] != "0" else "1")
    for tampered in (flipped, token[:-1], token + "0", token.upper(), "", "ł" * len(token)):
        assert not domain.sign_in_token_is_valid(SECRET, tampered, VOLUNTEER, EXPIRES, BEFORE)


def test_an_offer_token_never_opens_a_profile() -> None:
    # Even an offer whose id is the volunteer's id, signed with the same secret.
    for action in (domain.ACCEPT, domain.DECLINE):
        offer_token = domain.sign_link(SECRET, VOLUNTEER, action, EXPIRES)
        signature = offer_token.partition(".")[2]
        short = domain.short_code(SECRET, VOLUNTEER, action, EXPIRES)
        for candidate in (offer_token, signature, short):
            assert not domain.sign_in_token_is_valid(SECRET, candidate, VOLUNTEER, EXPIRES, BEFORE)
    # Nor the reverse.
    token = domain.sign_in_token(SECRET, VOLUNTEER, EXPIRES)
    for action in (domain.ACCEPT, domain.DECLINE):
        assert not domain.link_is_valid(SECRET, token, VOLUNTEER, action, BEFORE)
        expires = int(EXPIRES.timestamp())
        assert not domain.link_is_valid(SECRET, f"{expires}.{token}", VOLUNTEER, action, BEFORE)


def test_the_url_round_trips_through_the_page_s_check() -> None:
    # A fraction of a second is dropped: the link carries whole Unix seconds.
    expires_at = EXPIRES + timedelta(microseconds=250_000)
    url = domain.sign_in_url("https://match.example.org/", SECRET, VOLUNTEER, expires_at)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        f"https://match.example.org/volunteer/enter/{VOLUNTEER}"
    )
    query = parse_qs(parts.query)
    assert set(query) == {"expires", "token"}
    expires = int(query["expires"][0])
    assert expires == int(EXPIRES.timestamp())
    [token] = query["token"]
    page_expires_at = datetime.fromtimestamp(expires, UTC)
    assert domain.sign_in_token_is_valid(SECRET, token, VOLUNTEER, page_expires_at, BEFORE)
    assert not domain.sign_in_token_is_valid(
        SECRET, token, VOLUNTEER, page_expires_at, EXPIRES + timedelta(seconds=1)
    )
    assert token == domain.sign_in_token(SECRET, VOLUNTEER, expires_at)
