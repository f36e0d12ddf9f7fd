// Small enhancements; every page works without them.
"use strict";

// Place suggestions: offline GeoNames data served by /places as the person types.
function enhancePlaces() {
  const input = document.getElementById("place_query");
  if (!input) return;
  const list = document.getElementById("place-suggestions");
  const placeId = document.getElementById("place_id");
  const lat = document.getElementById("lat");
  const lon = document.getElementById("lon");
  let found = [];
  let timer = null;
  input.addEventListener("input", () => {
    const chosen = found.find((p) => p.label === input.value);
    if (chosen) {
      placeId.value = chosen.id;
      lat.value = ""; lon.value = "";
      return;
    }
    placeId.value = ""; lat.value = ""; lon.value = "";
    clearTimeout(timer);
    timer = setTimeout(async () => {
      if (input.value.trim().length < 2) return;
      const lang = document.documentElement.lang;
      const response = await fetch(`${input.dataset.places}?q=${encodeURIComponent(input.value)}`, { headers: { "Accept-Language": lang } });
      if (!response.ok) return;
      found = await response.json();
      list.replaceChildren(...found.map((p) => { const o = document.createElement("option"); o.value = p.label; return o; }));
    }, 150);
  });
  const locate = document.querySelector("[data-locate]");
  const status = document.querySelector("[data-locate-status]");
  if (locate && navigator.geolocation) {
    locate.hidden = false;
    locate.addEventListener("click", () => {
      navigator.geolocation.getCurrentPosition((position) => {
        lat.value = position.coords.latitude.toFixed(5);
        lon.value = position.coords.longitude.toFixed(5);
        placeId.value = "";
        input.value = `${lat.value}, ${lon.value}`;
        status.textContent = "✓";
      }, () => { status.textContent = "✗"; });
    });
  }
}

// Availability grid: press and drag over the boxes to tick (or untick) several hours at once.
function enhanceGrid() {
  const grid = document.querySelector(".grid table");
  if (!grid) return;
  let painting = null;
  let first = null;
  grid.addEventListener("pointerdown", (event) => {
    const box = event.target.closest("td")?.querySelector("input");
    if (!box) return;
    painting = !box.checked;
    first = box;
  });
  grid.addEventListener("pointerover", (event) => {
    if (painting === null) return;
    const box = event.target.closest("td")?.querySelector("input");
    if (!box || box === first) return;
    // Dragging away from the first box: it gets no click of its own, so set it here.
    first.checked = painting;
    box.checked = painting;
  });
  document.addEventListener("pointerup", () => { painting = null; });
}

// After a refused form, take keyboard and screen-reader users to the summary of what to fix.
function focusErrors() {
  const summary = document.getElementById("error-summary");
  if (summary) summary.focus();
}

document.addEventListener("DOMContentLoaded", () => { enhancePlaces(); enhanceGrid(); focusErrors(); });
