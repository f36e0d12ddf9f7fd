"""The front page, the place suggestions behind the place fields, and the static files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from services.registry.entrypoints.dependencies import WebPage
from services.registry.entrypoints.web import places

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).resolve().parents[2] / "static"
static_files = StaticFiles(directory=STATIC)


@router.get("/", response_class=HTMLResponse)
async def home(web: WebPage) -> HTMLResponse:
    return web.page("web/home.html")


@router.get("/places")
async def suggest_places(web: WebPage, q: str = "") -> list[dict[str, Any]]:
    """Places whose name starts with ``q``, for the place field's suggestions (offline data)."""
    locale = web.words().locale
    return [
        {"id": p.id, "label": p.label(locale), "lat": p.lat, "lon": p.lon, "timezone": p.timezone}
        for p in places.suggest(q[:100])
    ]
