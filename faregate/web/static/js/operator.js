// The operator page's live lots: one EventSource on the occupancy stream; each `occupancy`
// event redraws that lot's row. The browser reconnects by itself after a dropped stream, and
// the server starts every stream with the latest figure of each lot.

import { t, ZONE } from "./i18n.js";

const clock = new Intl.DateTimeFormat("en-GB", {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  timeZone: ZONE,
});

/** Redraw the row of `lot` (a decoded event); rows of lots not on the page are left alone. */
export function showOccupancy(table, lot) {
  const row = [...table.querySelectorAll("tr[data-lot-id]")].find(
    (r) => r.dataset.lotId === lot.lot_id,
  );
  if (row === undefined) {
    return false;
  }
  const field = (name) => row.querySelector(`[data-field="${name}"]`);
  field("occupied").textContent = String(lot.occupied);
  field("capacity").textContent = String(lot.capacity);
  field("free").textContent = String(lot.free);
  field("percent").textContent = `${lot.percent}%`;
  const meter = field("meter");
  meter.max = lot.capacity;
  meter.value = lot.occupied;
  const updated = field("updated");
  updated.dateTime = lot.updated_at;
  updated.textContent = clock.format(new Date(lot.updated_at));
  return true;
}

export function follow(section) {
  const status = section.querySelector("#live-status");
  const events = new EventSource(section.dataset.eventsUrl);
  events.addEventListener("open", () => {
    status.textContent = t("Live updates: on.");
  });
  events.addEventListener("error", () => {
    status.textContent = t("Live updates: reconnecting…");
  });
  events.addEventListener("occupancy", (event) => {
    showOccupancy(section, JSON.parse(event.data));
  });
  return events;
}

const lots = document.getElementById("lots");
if (lots !== null) {
  follow(lots);
}
