// The signed-in passenger page: sign in through the passenger API (the bearer token stays in
// this tab's sessionStorage), fetch the phone credential once (kept in sessionStorage too, so a
// reload does not issue a new one and deny this one), then show the live code (passenger.js)
// and the account: balance, top-up, trips, charges, receipts, lost phone, sign out.
// Every request goes to this page's own origin; the code keeps rotating with no network.

import { CredentialError, loadCredential } from "./token.js";
import { LivePass, clockWarning, watchNetwork } from "./passenger.js";

export const TOKEN_KEY = "faregate.token";
export const CREDENTIAL_KEY = "faregate.credential";
const ZONE = "Asia/Ho_Chi_Minh";

/** An API answer that is not 2xx; `message` is the problem's detail, meant for the passenger. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

async function api(method, path, { token = null, body = undefined } = {}) {
  const headers = { Accept: "application/json, application/problem+json" };
  if (token !== null) {
    headers.Authorization = `Bearer ${token}`;
  }
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    throw new ApiError(0, "no connection; your code still works, try this again later");
  }
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    answer = null;
  }
  if (!response.ok) {
    const detail = answer && typeof answer.detail === "string" ? answer.detail : response.statusText;
    throw new ApiError(response.status, detail);
  }
  return answer;
}

export function money(amount) {
  const number = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 }).format(amount.amount);
  return `${number} ${amount.currency}`;
}

const whenFormat = new Intl.DateTimeFormat("en-GB", {
  timeZone: ZONE, day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
});
const dayFormat = new Intl.DateTimeFormat("en-GB", {
  timeZone: "UTC", day: "numeric", month: "short", year: "numeric",
});

export function when(iso) {
  return whenFormat.format(new Date(iso));
}

function day(isoDate) {
  return dayFormat.format(new Date(`${isoDate}T00:00:00Z`));
}

function requestId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const PURPOSES = { top_up: "Top-up", daily_charge: "Day's fares" };
const STATUSES = {
  succeeded: "paid", failed: "declined", recovered: "paid later", pending: "pending", unknown: "checking",
};

export class AccountPage {
  constructor(doc = document, { storage = sessionStorage, now = () => Date.now() } = {}) {
    this.doc = doc;
    this.storage = storage;
    this.now = now;
    this.app = doc.getElementById("account-app");
    this.signIn = doc.getElementById("sign-in");
    this.account = doc.getElementById("account");
    this.passRoot = doc.getElementById("live-pass");
    this.pass = null;
  }

  get token() {
    return this.storage.getItem(TOKEN_KEY);
  }

  el(id) {
    return this.doc.getElementById(id);
  }

  async start() {
    this.el("sign-in-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.submitSignIn();
    });
    this.el("sign-out").addEventListener("click", () => this.signOut());
    this.el("top-up-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.topUp();
    });
    this.el("card-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.saveCard();
    });
    this.el("lost-phone-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.reportLost();
    });
    watchNetwork(this.el("network-status"));
    if (this.token === null) {
      this.showSignIn();
    } else {
      await this.showAccount();
    }
  }

  showSignIn(message = null) {
    this.stopPass();
    this.account.hidden = true;
    this.signIn.hidden = false;
    const error = this.el("sign-in-error");
    error.hidden = message === null;
    error.textContent = message ?? "";
    this.el("username").focus();
  }

  async submitSignIn() {
    const username = this.el("username").value.trim();
    const password = this.el("password").value;
    if (!username || !password) {
      this.showSignIn("Error: enter your username and password.");
      return;
    }
    try {
      const session = await api("POST", "/api/v1/sessions", { body: { username, password } });
      if (session.user.role !== "passenger") {
        this.showSignIn("Error: this page is for passengers; staff use their own pages.");
        return;
      }
      this.storage.setItem(TOKEN_KEY, session.token);
    } catch (error) {
      const message = error.status === 401 ? "wrong username or password" : error.message;
      this.showSignIn(`Error: ${message}.`);
      return;
    }
    this.el("password").value = "";
    await this.showAccount();
  }

  /** An API call with the session's token; a 401 ends the session. */
  async call(method, path, body = undefined) {
    try {
      return await api(method, path, { token: this.token, body });
    } catch (error) {
      if (error.status === 401) {
        this.forget();
        this.showSignIn("Your session has ended: sign in again.");
      }
      throw error;
    }
  }

  forget() {
    this.storage.removeItem(TOKEN_KEY);
    this.storage.removeItem(CREDENTIAL_KEY);
  }

  async signOut() {
    try {
      await api("DELETE", "/api/v1/sessions/current", { token: this.token });
    } catch {
      // Offline or already revoked: forgetting the token here is what matters to this phone.
    }
    this.forget();
    this.showSignIn();
  }

  say(message, alert = false) {
    const flash = this.el("account-message");
    flash.textContent = message;
    flash.classList.toggle("alert", alert);
    flash.setAttribute("role", alert ? "alert" : "status");
    flash.hidden = false;
  }

  async showAccount() {
    this.signIn.hidden = true;
    this.account.hidden = false;
    await this.loadPass();
    await this.refresh();
  }

  /** The credential of this tab, fetched from the server only when it has none yet. */
  async loadPass() {
    let doc = null;
    const kept = this.storage.getItem(CREDENTIAL_KEY);
    if (kept !== null) {
      doc = JSON.parse(kept);
    } else {
      try {
        doc = await this.call("POST", "/api/v1/passenger/credential");
      } catch (error) {
        if (error.status !== 401) {
          this.passError(error.message);
        }
        return;
      }
      this.storage.setItem(CREDENTIAL_KEY, JSON.stringify(doc));
    }
    await this.startPass(doc);
  }

  async startPass(doc) {
    this.stopPass();
    this.passRoot.dataset.state = "loading";
    const { replaced, ...phone } = doc;
    let credential;
    try {
      credential = await loadCredential(phone);
    } catch (error) {
      this.passError(error instanceof CredentialError ? error.message : String(error));
      return;
    }
    this.fillFacts(phone, credential);
    this.pass = new LivePass(this.passRoot, credential, { now: this.now });
    const warning = clockWarning(this.now() - Number(this.app.dataset.serverTimeMs), credential.period);
    const element = this.el("clock-warning");
    element.hidden = warning === null;
    element.textContent = warning ?? "";
    this.pass.start();
  }

  stopPass() {
    if (this.pass !== null) {
      this.pass.stop();
      this.pass = null;
    }
  }

  passError(message) {
    this.passRoot.dataset.state = "error";
    this.el("qr-figure").hidden = true;
    this.el("countdown").hidden = true;
    const status = this.el("pass-status");
    status.setAttribute("role", "alert");
    status.textContent = `Error: your pass cannot be shown (${message}).`;
  }

  fillFacts(doc, credential) {
    const facts = {
      credential_id: grouped(doc.credential_id),
      product: doc.product === "PASS" ? "Pass holder" : "Pay as you go",
      category: doc.category.charAt(0).toUpperCase() + doc.category.slice(1),
      period: String(doc.period),
      payment: credential.fields.postpaid ? "Card, charged once a day" : "Prepaid wallet",
      valid_from: when(doc.valid_from),
      valid_until: when(doc.valid_until),
    };
    for (const node of this.passRoot.querySelectorAll("[data-fact]")) {
      node.textContent = facts[node.dataset.fact] ?? "";
      if (node.tagName === "TIME") {
        node.setAttribute("datetime", doc[node.dataset.fact]);
      }
    }
  }

  async refresh() {
    let results;
    try {
      results = await Promise.all([
        this.call("GET", "/api/v1/passenger/account"),
        this.call("GET", "/api/v1/passenger/trips"),
        this.call("GET", "/api/v1/passenger/charges"),
        this.call("GET", "/api/v1/passenger/receipts"),
      ]);
    } catch (error) {
      if (error.status !== 401) {
        this.say(`Error: your account could not be loaded (${error.message}).`, true);
      }
      return;
    }
    const [account, trips, charges, receipts] = results;
    this.showWallet(account);
    this.showList("trips", trips.trips, (t) => [
      `${t.from_stop_name ?? t.from_stop_id} → ${t.to_stop_name ?? t.to_stop_id ?? "no exit tap"}`,
      `${routeLabel(t)} · ${when(t.started_at)}${tripNote(t)}`,
      money(t.fare),
    ]);
    this.showList("charges", charges.charges, (c) => [
      PURPOSES[c.purpose] ?? c.purpose,
      `${c.service_day ? day(c.service_day) : when(c.created_at)} · ${STATUSES[c.status] ?? c.status}`
        + (c.decline_code ? ` (${c.decline_code})` : ""),
      money(c.amount),
    ]);
    this.showList("receipts", receipts.receipts, (r) => [r.description, when(r.at), money(r.amount)]);
  }

  showWallet(account) {
    const prepaid = account.payment_mode === "prepaid_wallet";
    this.el("balance-label").textContent = prepaid ? "Balance" : "Owed for fares";
    this.el("balance").textContent = money(prepaid ? account.balance : account.owed);
    this.el("standing").textContent = account.standing === "active"
      ? "Good"
      : "Unpaid fares: top up or update your card";
    this.el("card").textContent = account.card_saved
      ? `Saved${account.card_last4 ? ` (ending ${account.card_last4})` : ""}`
      : "None saved";
    this.el("username-shown").textContent = account.username;
    this.el("card-form").hidden = account.card_saved;
    this.el("top-up-form").hidden = !(prepaid && account.card_saved);
  }

  showList(id, items, describe) {
    const section = this.el(id);
    const list = section.querySelector("ul.items");
    list.replaceChildren(
      ...items.map((item) => {
        const [title, detail, amount] = describe(item);
        const li = this.doc.createElement("li");
        const text = this.doc.createElement("div");
        const strong = this.doc.createElement("strong");
        strong.textContent = title;
        const small = this.doc.createElement("span");
        small.className = "detail";
        small.textContent = detail;
        text.append(strong, small);
        const value = this.doc.createElement("span");
        value.className = "amount";
        value.textContent = amount;
        li.append(text, value);
        return li;
      }),
    );
    section.querySelector(".empty").hidden = items.length > 0;
  }

  async topUp() {
    const amount = Number(this.el("top-up-amount").value);
    try {
      const paid = await this.call("POST", "/api/v1/passenger/top-ups", {
        amount, request_id: requestId(),
      });
      if (paid.status === "succeeded") {
        this.say(`Topped up ${money(paid.amount)}.`);
      } else {
        this.say(`Error: the top-up was ${STATUSES[paid.status] ?? paid.status}`
          + (paid.decline_code ? ` (${paid.decline_code}).` : "."), true);
      }
    } catch (error) {
      this.say(`Error: the top-up failed (${error.message}).`, true);
    }
    await this.refresh();
  }

  async saveCard() {
    try {
      await this.call("POST", "/api/v1/passenger/card", {
        payment_method: this.el("payment-method").value,
      });
      this.say("Card saved.");
    } catch (error) {
      this.say(`Error: the card was not saved (${error.message}).`, true);
    }
    await this.refresh();
  }

  async reportLost() {
    if (!this.el("lost-phone-confirm").checked) {
      this.say("Error: tick the box to confirm you lost the phone.", true);
      return;
    }
    let answer;
    try {
      answer = await this.call("POST", "/api/v1/passenger/lost-phone");
    } catch (error) {
      this.say(`Error: the report failed (${error.message}).`, true);
      return;
    }
    this.storage.setItem(CREDENTIAL_KEY, JSON.stringify(answer.credential));
    this.el("lost-phone-confirm").checked = false;
    await this.startPass(answer.credential);
    this.say("Reported. Gates will refuse the lost phone's code; this phone has a new one.");
    await this.refresh();
  }
}

function routeLabel(trip) {
  return `Line ${trip.route_name ?? trip.route_id.toUpperCase()}`;
}

/** A long pass number in groups of four digits, as on a card. */
export function grouped(id) {
  return String(id).replace(/\B(?=(\d{4})+$)/g, " ");
}

function tripNote(trip) {
  if (trip.pass_covered) return " · covered by your pass";
  if (trip.capped) return " · capped";
  if (trip.transfer) return " · transfer";
  if (trip.incomplete) return " · no exit tap";
  return "";
}

export async function bootAccount(doc = document) {
  if (doc.getElementById("account-app") === null) {
    return null;
  }
  const page = new AccountPage(doc);
  await page.start();
  return page;
}
