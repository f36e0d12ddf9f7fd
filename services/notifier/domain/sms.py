"""SMS length: GSM-7 or UCS-2 encoding, segment counting, and shortening to a segment budget.

A message that fits the GSM 03.38 alphabet is sent in 7-bit septets: 160 in a single SMS,
153 per part once it has to be split (the rest of each part is the concatenation header).
Any other character forces UCS-2 for the whole message: 70 UTF-16 code units in one SMS,
67 per part. Characters of the GSM extension table (``€ [ ] { } ~ ^ | \\`` and form feed)
take two septets, an escape and the character. Providers do not split an escape pair or a
UTF-16 surrogate pair across two parts, and neither does the counting here.
"""

from __future__ import annotations

from typing import Literal

# GSM 03.38 default alphabet, without the escape (0x1B) that introduces the extension table.
GSM7_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION: frozenset[str] = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

ELLIPSIS_GSM7 = "..."  # "…" is not in the GSM alphabet and would force UCS-2
ELLIPSIS_UCS2 = "…"
# Dropped from the end of a shortened text, so that the ellipsis does not follow a comma.
_DANGLING = " \t\r\n,;:.-–—(/"
# A shorter remnant ("Cze...") says nothing; the kept part alone reads better.
MIN_REMNANT = 12


def encoding(text: str) -> Literal["GSM-7", "UCS-2"]:
    """The encoding a provider picks for ``text``: GSM-7 if every character has a septet code."""
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text):
        return "GSM-7"
    return "UCS-2"


def _units(text: str) -> list[int]:
    """The size of each character in the encoding of ``text`` (septets or UTF-16 code units)."""
    if encoding(text) == "GSM-7":
        return [2 if char in GSM7_EXTENSION else 1 for char in text]
    return [2 if ord(char) > 0xFFFF else 1 for char in text]


def segments(text: str) -> int:
    """How many SMS parts ``text`` is sent as (an empty message still takes one)."""
    units = _units(text)
    single, part = (
        (GSM7_SINGLE, GSM7_PART) if encoding(text) == "GSM-7" else (UCS2_SINGLE, UCS2_PART)
    )
    if sum(units) <= single:
        return 1
    # Fill parts greedily; a two-unit character never straddles a part boundary.
    count, used = 1, 0
    for size in units:
        if used + size > part:
            count, used = count + 1, 0
        used += size
    return count


def fit(text: str, keep: str, max_segments: int = 2) -> str:
    """``text`` shortened to at most ``max_segments`` parts, with ``keep`` intact at its end.

    ``text`` is the whole message and normally already ends with ``keep`` (a link, or a short
    line holding one); if it does not, ``keep`` is appended after a space. A message that fits
    is returned unchanged. Otherwise the words before ``keep`` are cut, preferably at a space,
    and an ellipsis marks the cut; if fewer than ``MIN_REMNANT`` characters would be left of
    them, only ``keep`` is returned. If even ``keep`` alone is too long, ``keep`` is returned
    too: a link is useless when cut.
    """
    if keep and not text.endswith(keep):
        text = f"{text.rstrip()} {keep}" if text.strip() else keep
    if segments(text) <= max_segments:
        return text
    body = text[: len(text) - len(keep)]
    head = body.rstrip()
    separator = (body[len(head) :] or " ") if keep else ""

    def shortened(length: int) -> str:
        cut = head[:length].rstrip(_DANGLING)
        if not cut:
            return keep
        ellipsis = ELLIPSIS_GSM7 if encoding(cut + keep) == "GSM-7" else ELLIPSIS_UCS2
        return f"{cut}{ellipsis}{separator}{keep}"

    def fits(length: int) -> bool:
        return segments(shortened(length)) <= max_segments

    # The longest prefix that fits (a longer prefix never takes fewer parts).
    low, high = 0, len(head)
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    # Prefer ending at a word boundary when that loses little.
    space = head.rfind(" ", 0, low + 1)
    if space > low * 2 // 3 and fits(space):
        low = space
    if keep and len(head[:low].rstrip(_DANGLING)) < MIN_REMNANT:
        return keep
    return shortened(low)
