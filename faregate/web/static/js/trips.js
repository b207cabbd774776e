// The rider's trips on the signed-in page, by service day (GET /api/v1/passenger/trips): each
// day's total, how far its fares went toward each cap ("27,000 VND of 30,000 VND today on
// Metro 2A"), each ride said for what it was (a pass, a transfer, a capped ride, a bus ride
// that needs no tap-off, a journey missing a tap and why it cost what it did), and older days
// a page at a time.

import { LANG, ZONE, day, t } from "./i18n.js";

const CUTOFF_HOURS = 4; // a service day runs 04:00 to 04:00 Hanoi time

const monthName = new Intl.DateTimeFormat(LANG === "vi" ? "vi-VN" : "en-GB", {
  timeZone: "UTC", month: "long",
});
const isoDay = new Intl.DateTimeFormat("en-CA", { timeZone: ZONE });

function utcDate(isoDate) {
  return new Date(`${isoDate}T00:00:00Z`);
}

/** Today's service day in Hanoi, as `YYYY-MM-DD`. */
function serviceDay(nowMs) {
  return isoDay.format(new Date(nowMs - CUTOFF_HOURS * 3600 * 1000));
}

function stop(name, id) {
  return name ?? id ?? "?";
}

/** What the ride was, in words: [title, what happened]. */
function describeRide(trip) {
  const from = stop(trip.from_stop_name, trip.from_stop_id);
  const to = stop(trip.to_stop_name, trip.to_stop_id);
  switch (trip.ride) {
    case "tap_on_only":
      return [t("Bus {route} from {from}", { route: trip.route_name ?? trip.route_id, from }),
        t("bus ride: tap on only, no tap-off needed")];
    case "no_entry":
      return [t("Exit at {to}", { to }),
        t("no entry tap on this journey: charged the longest fare of the line")];
    case "no_exit":
      return [t("Entry at {from}", { from }),
        t("no exit tap on this journey: charged the longest fare of the line")];
    case "over_time":
      return [`${from} → ${to}`,
        t("longer than the time a journey may take: charged the longest fare of the line")];
    default:
      return [`${from} → ${to}`, null];
  }
}

function notes(trip) {
  const found = [];
  const pass = trip.pass_name ?? t("pass");
  if (trip.pass_covered) found.push(t("covered by your {pass}", { pass }));
  if (trip.capped) found.push(t("capped: the cap was reached"));
  if (trip.transfer) found.push(t("transfer"));
  return found;
}

export class TripsPanel {
  /**
   * `page`: the AccountPage (`call`, `say`, `el`, `doc`, `now`); `format`: `{ money, when }`;
   * `cases`: the CasesPanel giving each trip its "Report a problem".
   */
  constructor(page, format, cases) {
    this.page = page;
    this.format = format;
    this.cases = cases;
    this.section = page.el("trips");
    this.days = this.section.querySelector(".days");
    this.older = page.el("older-trips");
    this.nextBefore = null;
    this.older.addEventListener("click", () => this.loadOlder());
  }

  /** The newest page (on every refresh of the account). */
  show(page) {
    this.days.replaceChildren();
    this.append(page);
  }

  append(page) {
    this.days.append(...page.days.map((tripDay) => this.dayBlock(tripDay)));
    this.nextBefore = page.next_before;
    this.older.hidden = page.next_before === null;
    this.section.querySelector(".empty").hidden = this.days.childElementCount > 0;
  }

  async loadOlder() {
    if (this.nextBefore === null) {
      return;
    }
    try {
      this.append(await this.page.call("GET", `/api/v1/passenger/trips?before=${this.nextBefore}`));
    } catch (error) {
      if (error.status !== 401) {
        this.page.say(t("Error: older trips could not be loaded ({reason}).", { reason: error.message }), true);
      }
    }
  }

  dayBlock(tripDay) {
    const doc = this.page.doc;
    const { money } = this.format;
    const block = doc.createElement("article");
    block.className = "trip-day";
    block.dataset.day = tripDay.service_day;
    const heading = doc.createElement("h3");
    const title = doc.createElement("span");
    title.textContent = day(tripDay.service_day);
    const total = doc.createElement("span");
    total.className = "amount";
    total.textContent = money(tripDay.total);
    heading.append(title, total);
    block.append(heading);
    const today = tripDay.service_day === serviceDay(this.page.now());
    for (const cap of tripDay.caps) {
      block.append(this.capLine(cap, tripDay.service_day, today));
    }
    const list = doc.createElement("ul");
    list.className = "items";
    list.append(...tripDay.trips.map((trip) => this.tripItem(trip)));
    block.append(list);
    return block;
  }

  capLine(cap, isoDate, today) {
    const doc = this.page.doc;
    const { money } = this.format;
    const line = doc.createElement("div");
    line.className = "cap";
    const values = {
      spent: money(cap.spent), cap: money(cap.cap), network: cap.network_name ?? "",
      month: monthName.format(utcDate(isoDate)),
    };
    let text;
    if (cap.period === "day") {
      text = today
        ? t("{spent} of {cap} today on {network}", values)
        : t("{spent} of {cap} that day on {network}", values);
    } else {
      text = t("{spent} of {cap} in {month} on {network}", values);
    }
    const label = doc.createElement("span");
    label.textContent = cap.reached ? t("{text}: cap reached, further rides free", { text }) : text;
    const bar = doc.createElement("progress");
    bar.max = cap.cap.amount;
    bar.value = Math.min(cap.spent.amount, cap.cap.amount);
    bar.setAttribute("aria-label", label.textContent);
    line.append(label, bar);
    return line;
  }

  tripItem(trip) {
    const doc = this.page.doc;
    const { money, when } = this.format;
    const [title, happened] = describeRide(trip);
    const li = doc.createElement("li");
    li.dataset.ride = trip.ride;
    const text = doc.createElement("div");
    const strong = doc.createElement("strong");
    strong.textContent = title;
    const detail = doc.createElement("span");
    detail.className = "detail";
    const line = t("Line {route}", { route: trip.route_name ?? trip.route_id });
    const route = trip.ride === "tap_on_only" ? "" : line + " · ";
    detail.textContent = [`${route}${when(trip.started_at)}`, happened, ...notes(trip)]
      .filter((part) => part)
      .join(" · ");
    text.append(strong, detail, this.cases.reportControl(trip));
    const value = doc.createElement("span");
    value.className = "amount";
    value.textContent = money(trip.fare);
    li.append(text, value);
    return li;
  }
}
