// "Report a problem" on a trip, and the rider's reports with finance's outcome. Each trip of
// the trips list gets a button that opens a short form (what went wrong, a note); the report
// goes to POST /api/v1/passenger/cases and the reports list says where each stands.

import { t } from "./i18n.js";

const KINDS = {
  missed_tap_out: t("I tapped out but was charged as if I had not"),
  double_charge: t("I was charged twice"),
  other: t("Something else"),
};

export class CasesPanel {
  /** `page`: the AccountPage (`call`, `say`, `el`, `doc`); `format`: `{ money, when }`. */
  constructor(page, format, changed) {
    this.page = page;
    this.format = format;
    this.changed = changed;
    this.section = page.el("cases");
  }

  /** A trip's "Report a problem" button and its form, appended to the trip's item. */
  reportControl(trip) {
    const doc = this.page.doc;
    const details = doc.createElement("details");
    details.className = "report";
    const summary = doc.createElement("summary");
    summary.textContent = t("Report a problem");
    const form = doc.createElement("form");
    form.className = "form";
    const kind = doc.createElement("select");
    kind.setAttribute("aria-label", t("What went wrong"));
    for (const [value, label] of Object.entries(KINDS)) {
      const option = doc.createElement("option");
      option.value = value;
      option.textContent = label;
      kind.append(option);
    }
    const note = doc.createElement("textarea");
    note.maxLength = 500;
    note.rows = 2;
    note.setAttribute("aria-label", t("Anything finance should know (optional)"));
    const send = doc.createElement("button");
    send.type = "submit";
    send.textContent = t("Send report");
    form.append(kind, note, send);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await this.page.call("POST", "/api/v1/passenger/cases", {
          service_day: trip.service_day, started_at: trip.started_at, route_id: trip.route_id,
          kind: kind.value, note: note.value,
        });
        details.open = false;
        this.page.say(t("Reported: finance will look at this trip; the outcome shows under Your reports."));
      } catch (error) {
        if (error.status !== 401) {
          this.page.say(t("Error: the report was not sent ({reason}).", { reason: error.message }), true);
        }
      }
      await this.changed();
    });
    details.append(summary, form);
    return details;
  }

  show(document) {
    const doc = this.page.doc;
    const { money, when } = this.format;
    const list = this.section.querySelector("ul.items");
    list.replaceChildren(...document.cases.map((c) => {
      const li = doc.createElement("li");
      li.dataset.status = c.status;
      const text = doc.createElement("div");
      const strong = doc.createElement("strong");
      strong.textContent = `${KINDS[c.kind] ?? c.kind}`;
      const detail = doc.createElement("span");
      detail.className = "detail";
      let outcome = t("Open: finance will look at it");
      if (c.status === "refunded") {
        const refunded = money({ amount: c.refunded, currency: c.currency });
        outcome = t("Refunded {amount}: {reason}", { amount: refunded, reason: c.reason });
      } else if (c.status === "declined") {
        outcome = t("Declined: {reason}", { reason: c.reason });
      }
      detail.textContent = t("Trip of {when} (line {route}) · {outcome}", {
        when: when(c.started_at), route: c.route_id.toUpperCase(), outcome,
      });
      text.append(strong, detail);
      const value = doc.createElement("span");
      value.className = "amount";
      value.textContent = money({ amount: c.fare, currency: c.currency });
      li.append(text, value);
      return li;
    }));
    this.section.hidden = document.cases.length === 0;
  }
}
