// The signed-in passenger app: sign in through the passenger API, keep the bearer token and the
// pass on this phone (IndexedDB, store.js: the seed only as a non-extractable Web Crypto key),
// show the live code (passenger.js) and the account: balance, top-up, trips, charges,
// receipts, lost phone, sign out. The service worker (sw.js) keeps the page itself, so with no
// network the app still opens and shows the pass.
//
// The pass lives on one phone. Signing in takes the account's pass only if no phone holds it;
// otherwise the page offers "use my pass on this phone", which moves it (the old phone's code
// stops working). Whenever it is online the page asks what became of its pass (so the old
// phone learns it was moved) and measures the server's clock; codes follow the server's time
// as measured at that last sync, so a phone whose clock is wrong still shows a good code.
// Every request goes to this page's own origin.

import { CredentialError, keepable, loadCredential } from "./token.js";
import { LivePass, watchNetwork } from "./passenger.js";
import { CasesPanel } from "./cases.js";
import { PassesPanel } from "./passes.js";
import { TripsPanel } from "./trips.js";
import { VNPayPanel } from "./vnpay.js";
import { SignUpPanels } from "./signup.js";
import { CLOCK, HELD, NOTICE, PASS, TOKEN, openStore } from "./store.js";
import { day, languageHeaders, money, t, when } from "./i18n.js";

export { money, when };

/** An API answer that is not 2xx; `message` is the problem's detail, meant for the passenger. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

async function api(method, path, { token = null, body = undefined } = {}) {
  const headers = { Accept: "application/json, application/problem+json", ...languageHeaders() };
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
    throw new ApiError(0, t("no connection; your code still works, try this again later"));
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

function requestId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const PASS_STATUSES = { refunded: t("refunded"), cancelled: t("cancelled") };

/**
 * What a charge or receipt paid for, in the page's language, from its parts (`paid_for`: a
 * kind with a day, a product or a method); `names`: each pass product's name by its id.
 */
export function paidFor(what, names) {
  switch (what.kind) {
    case "top_up":
      return what.method === "vnpay" ? t("Wallet top-up by VNPay") : t("Wallet top-up");
    case "fares":
      return t("Fares of {day}", { day: day(what.service_day) });
    case "fares_adjustment":
      return t("Fares of {day}: adjustment (taps that arrived after it was charged)",
        { day: day(what.service_day) });
    case "parking":
      return t("Parking of {day}", { day: day(what.service_day) });
    case "pass": {
      const name = names.get(what.product_id) ?? what.product_id;
      return what.pass_status
        ? t("{name} ({status})", { name, status: PASS_STATUSES[what.pass_status] ?? what.pass_status })
        : name;
    }
    default:
      return what.kind;
  }
}
const STATUSES = {
  succeeded: t("paid"), failed: t("declined"), recovered: t("paid later"), pending: t("pending"),
  unknown: t("checking"),
};

export class AccountPage {
  constructor(doc, store, { now = () => Date.now() } = {}) {
    this.doc = doc;
    this.store = store;
    this.phoneNow = now;
    this.offsetMs = null; // server clock minus this phone's, at the last sync; null: unknown
    this.offlineSaid = false; // the flash says the account waits for the network
    this.token = null;
    this.app = doc.getElementById("account-app");
    this.signIn = doc.getElementById("sign-in");
    this.account = doc.getElementById("account");
    this.elsewhere = doc.getElementById("pass-elsewhere");
    this.signUp = new SignUpPanels(this);
    this.passRoot = doc.getElementById("live-pass");
    this.pass = null;
    this.queue = Promise.resolve(); // syncs run one after another, never side by side
    this.working = 0; // runs of `settling` not yet done
    this.passes = new PassesPanel(this, { money, when }, () => this.refresh());
    this.cases = new CasesPanel(this, { money, when }, () => this.refresh());
    this.trips = new TripsPanel(this, { money, when }, this.cases);
    this.vnpay = new VNPayPanel(this, { money });
  }

  /** The server's time as this phone measured it at the last sync (its own clock if never). */
  now() {
    return this.phoneNow() + (this.offsetMs ?? 0);
  }

  el(id) {
    return this.doc.getElementById(id);
  }

  /**
   * Run `work` with the app marked `aria-busy` until every such run has ended: the account
   * fills in and the pass card grows as its answers arrive, moving the code on the screen, so
   * screen readers (and the tests that read the code off a screenshot) wait for it to settle.
   */
  async settling(work) {
    this.working += 1;
    this.app.setAttribute("aria-busy", "true");
    try {
      return await work();
    } finally {
      this.working -= 1;
      if (this.working === 0) {
        this.app.removeAttribute("aria-busy");
      }
    }
  }

  async start() {
    this.signUp.start();
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
    this.el("move-pass").addEventListener("click", () => this.movePass());
    this.el("report-lost-sign-in").addEventListener("click", () => this.reportLostWithPassword());
    watchNetwork(this.el("network-status"));
    const view = this.doc.defaultView;
    view?.addEventListener("online", () => this.online());
    this.doc.addEventListener("visibilitychange", () => {
      if (this.doc.visibilityState === "visible") {
        this.online();
      }
    });
    await this.settling(() => this.open());
  }

  /** The pass this phone keeps (with no network too), then the account if signed in. */
  async open() {
    const clock = await this.store.get(CLOCK);
    this.offsetMs = clock === null ? null : clock.offsetMs;
    this.token = await this.store.get(TOKEN);
    // The pass first, from this phone alone: it must show with no network at all.
    const kept = await this.store.get(PASS);
    if (kept !== null) {
      await this.showPass(kept);
    }
    const notice = await this.store.get(NOTICE);
    if (notice !== null) {
      this.showElsewhere(notice);
    }
    if (this.token === null) {
      this.showSignIn();
      return;
    }
    await this.showAccount();
  }

  /** Back online (or back in front): check the pass, then the account. */
  async online() {
    if (this.token !== null && navigator.onLine) {
      await this.settling(async () => {
        await this.sync();
        await this.refresh();
      });
    }
  }

  showSignIn(message = null) {
    this.account.hidden = true;
    this.signUp.show("sign-in");
    const error = this.el("sign-in-error");
    error.hidden = message === null;
    error.textContent = message ?? "";
    this.el("username").focus();
  }

  /** The API, without this page's token (sign-up, password reset). */
  api(method, path, options = {}) {
    return api(method, path, options);
  }

  async submitSignIn() {
    const username = this.el("username").value.trim();
    const password = this.el("password").value;
    if (!username || !password) {
      this.showSignIn(t("Error: enter your phone number or e-mail and your password."));
      return;
    }
    await this.signInWith(username, password);
  }

  async signInWith(username, password) {
    try {
      const session = await api("POST", "/api/v1/sessions", { body: { username, password } });
      if (session.user.role !== "passenger") {
        this.showSignIn(t("Error: this page is for passengers; staff use their own pages."));
        return;
      }
      this.token = session.token;
      await this.store.set(TOKEN, session.token);
    } catch (error) {
      const message = error.status === 401 ? t("wrong username or password") : error.message;
      this.showSignIn(t("Error: {message}.", { message }));
      return;
    }
    this.el("password").value = "";
    await this.showAccount();
  }

  /** An API call with the session's token; a 401 ends the session (the pass stays shown). */
  async call(method, path, body = undefined) {
    try {
      return await api(method, path, { token: this.token, body });
    } catch (error) {
      if (error.status === 401) {
        this.token = null;
        await this.store.delete(TOKEN);
        this.showSignIn(t("Your session has ended: sign in again."));
      }
      throw error;
    }
  }

  async signOut() {
    try {
      await api("DELETE", "/api/v1/sessions/current", { token: this.token });
    } catch {
      // Offline or already revoked: forgetting the token here is what matters to this phone.
    }
    await this.forgetAll();
    this.showSignIn();
  }

  /** Nothing of the account stays on this phone: token, pass, clock, notices. */
  async forgetAll() {
    this.token = null;
    this.stopPass();
    this.passRoot.hidden = true;
    this.elsewhere.hidden = true;
    await this.store.clear();
  }

  say(message, alert = false) {
    this.offlineSaid = false;
    const flash = this.el("account-message");
    flash.textContent = message;
    flash.classList.toggle("alert", alert);
    flash.setAttribute("role", alert ? "alert" : "status");
    flash.hidden = false;
  }

  async showAccount() {
    this.signUp.hideAll();
    this.account.hidden = false;
    await this.settling(async () => {
      await this.sync();
      await this.vnpay.finishReturn();
      await this.refresh();
    });
  }

  sync() {
    this.queue = this.queue.then(() => this.syncOnce()).catch(() => {});
    return this.queue;
  }

  /**
   * With the network: ask what became of this phone's pass (and measure the server's clock);
   * a pass moved or lost is dropped and the rider told; a phone with no pass takes the
   * account's if no other phone holds it, else it offers to move it here.
   */
  async syncOnce() {
    if (this.token === null) {
      return;
    }
    const kept = await this.store.get(PASS);
    if (kept !== null) {
      let status;
      try {
        status = await this.checkStatus(kept.credential_id);
      } catch (error) {
        if (error.status !== 404) {
          return; // offline, or signed out: keep showing what this phone has
        }
        status = null; // not this account's pass (another rider signed in here)
      }
      if (status !== null && status.status === "live") {
        this.elsewhere.hidden = true;
        return;
      }
      await this.dropPass(status);
    }
    if ((await this.store.get(NOTICE)) !== null) {
      return; // moved or lost: the notice offers to move the pass back here
    }
    let doc;
    try {
      doc = await this.call("POST", "/api/v1/passenger/credential");
    } catch (error) {
      if (error.status === 409) {
        this.showElsewhere(null);
      } else if (error.status !== 401) {
        this.passError(error.message);
      }
      return;
    }
    await this.takePass(doc);
  }

  /** The server's word on a credential; its `server_time` sets the clock offset. */
  async checkStatus(credentialId) {
    const sent = this.phoneNow();
    const status = await this.call("GET", `/api/v1/passenger/credentials/${credentialId}`);
    const back = this.phoneNow();
    const server = Date.parse(status.server_time);
    if (Number.isFinite(server)) {
      // The answer was written about halfway through the round trip.
      this.offsetMs = server - (sent + back) / 2;
      await this.store.set(CLOCK, { offsetMs: this.offsetMs, measuredAt: back });
      this.showClockNote();
    }
    return status;
  }

  /** Keep a credential document the server just issued to this phone, and show it. */
  async takePass(doc) {
    let kept;
    try {
      kept = await keepable(doc);
    } catch (error) {
      this.passError(error instanceof CredentialError ? error.message : String(error));
      return;
    }
    await this.store.set(PASS, kept);
    await this.store.delete(NOTICE);
    this.elsewhere.hidden = true;
    try {
      await this.checkStatus(kept.credential_id);
    } catch {
      // No clock yet: the page says so, and the next sync measures it.
    }
    await this.showPass(kept);
  }

  /** Stop showing the pass and forget it; a move or a loss is kept as a notice. */
  async dropPass(status) {
    this.stopPass();
    this.passRoot.hidden = true;
    await this.store.delete(PASS);
    await this.store.delete(HELD);
    if (status !== null && (status.status === "moved" || status.status === "lost")) {
      const notice = { status: status.status, at: status.changed_at };
      await this.store.set(NOTICE, notice);
      this.showElsewhere(notice);
    }
  }

  showElsewhere(notice) {
    let detail = t("You are signed in here, but your pass stays on the phone that holds it.");
    if (notice !== null && notice.status === "moved") {
      detail = t("Your pass was moved to another phone on {when}: "
        + "this phone's code no longer works at the gates.", { when: when(notice.at) });
    } else if (notice !== null && notice.status === "lost") {
      detail = t("This phone was reported lost on {when}: its code no longer works.",
        { when: when(notice.at) });
    }
    this.el("pass-elsewhere-detail").textContent = detail;
    this.elsewhere.hidden = false;
  }

  movePass() {
    return this.settling(() => this.movePassHere());
  }

  async movePassHere() {
    let answer;
    try {
      answer = await this.call("POST", "/api/v1/passenger/credential/move");
    } catch (error) {
      if (error.status !== 401) {
        this.say(t("Error: the pass was not moved ({message}).", { message: error.message }), true);
      }
      return;
    }
    await this.takePass(answer.credential);
    this.say(
      t("Your pass is on this phone now; the other phone's code no longer works at the gates. "
        + "You can move it {left} more times today.", { left: answer.moves_left_today }),
    );
    await this.refresh();
  }

  async showPass(kept) {
    this.stopPass();
    this.passRoot.hidden = false;
    this.passRoot.dataset.state = "loading";
    let credential;
    try {
      credential = await loadCredential(kept);
    } catch (error) {
      this.passError(error instanceof CredentialError ? error.message : String(error));
      return;
    }
    this.fillFacts(kept, credential);
    // The passes held at the last sync, so that offline the card names what the rider bought
    // rather than the credential's own product ("Pay as you go").
    const held = (await this.store.get(HELD)) ?? [];
    this.passes.showOnCard(held.filter((p) => Date.parse(p.valid_until) > this.now()));
    this.pass = new LivePass(this.passRoot, credential, { now: () => this.now() });
    this.showClockNote();
    this.pass.start();
  }

  /** Said only when the server's clock has never been measured on this phone. */
  showClockNote() {
    const element = this.el("clock-warning");
    element.hidden = this.offsetMs !== null;
    element.textContent = this.offsetMs === null
      ? t("This phone has not yet checked its clock with Faregate, so the code follows the "
        + "phone's own clock and a gate may refuse it. Connect to the internet once, or set the "
        + "clock to automatic.")
      : "";
  }

  stopPass() {
    if (this.pass !== null) {
      this.pass.stop();
      this.pass = null;
    }
  }

  passError(message) {
    this.passRoot.hidden = false;
    this.passRoot.dataset.state = "error";
    this.el("qr-figure").hidden = true;
    this.el("countdown").hidden = true;
    const status = this.el("pass-status");
    status.setAttribute("role", "alert");
    status.textContent = t("Error: your pass cannot be shown ({message}).", { message });
  }

  fillFacts(doc, credential) {
    const facts = {
      // From the signed bytes (a BigInt's digits), not a JSON number: ids reach 2**63.
      credential_id: grouped(credential.fields.credentialId),
      product: doc.product === "PASS" ? t("Pass holder") : t("Pay as you go"),
      category: CATEGORIES[doc.category] ?? doc.category,
      period: String(doc.period),
      payment: credential.fields.postpaid ? t("Card, charged once a day") : t("Prepaid wallet"),
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

  refresh() {
    return this.settling(() => this.refreshOnce());
  }

  async refreshOnce() {
    if (this.token === null) {
      return;
    }
    let results;
    try {
      results = await Promise.all([
        this.call("GET", "/api/v1/passenger/account"),
        this.call("GET", "/api/v1/passenger/trips"),
        this.call("GET", "/api/v1/passenger/charges"),
        this.call("GET", "/api/v1/passenger/receipts"),
        this.call("GET", "/api/v1/passenger/passes"),
        this.call("GET", "/api/v1/passenger/cases"),
      ]);
    } catch (error) {
      if (error.status === 0) {
        this.say(t("Offline: your pass works without a connection; your account shows when "
          + "this phone is back online."));
        this.offlineSaid = true;
      } else if (error.status !== 401) {
        this.say(t("Error: your account could not be loaded ({message}).",
          { message: error.message }), true);
      }
      return;
    }
    const [account, trips, charges, receipts, passes, cases] = results;
    if (this.offlineSaid) {
      // Back online: the account is shown again, so the offline notice no longer holds.
      this.el("account-message").hidden = true;
      this.offlineSaid = false;
    }
    this.cases.show(cases);
    this.showWallet(account);
    this.vnpay.show(account);
    const current = this.passes.show(passes);
    await this.store.set(HELD, current.map((p) => ({ name: p.name, valid_until: p.valid_until })));
    this.trips.show(trips);
    // Pass products by id, named in the page's language, for the passes charges paid for.
    const names = new Map([...passes.catalogue, ...passes.passes].map((p) => [p.product_id, p.name]));
    this.showList("charges", charges.charges, (c) => [
      paidFor(c.paid_for, names),
      `${c.service_day ? day(c.service_day) : when(c.created_at)} · ${STATUSES[c.status] ?? c.status}`
        + (c.decline_code ? ` (${c.decline_code})` : ""),
      money(c.amount),
    ]);
    this.showList("receipts", receipts.receipts, (r) => [
      paidFor(r.paid_for, names), when(r.at), money(r.amount),
    ]);
  }

  showWallet(account) {
    const prepaid = account.payment_mode === "prepaid_wallet";
    this.el("balance-label").textContent = prepaid ? t("Balance") : t("Owed for fares");
    this.el("balance").textContent = money(prepaid ? account.balance : account.owed);
    this.el("standing").textContent = account.standing === "active"
      ? t("Good")
      : t("Unpaid fares: top up or update your card");
    if (!account.card_saved) {
      this.el("card").textContent = t("None saved");
    } else if (account.card_last4) {
      this.el("card").textContent = t("Saved (ending {last4})", { last4: account.card_last4 });
    } else {
      this.el("card").textContent = t("Saved");
    }
    // The name as the rider wrote it, and under it what they sign in with (a phone number
    // does not break across lines inside brackets on a narrow screen).
    const shown = this.el("username-shown");
    shown.textContent = account.display_name ?? account.username;
    if (account.display_name) {
      const login = this.doc.createElement("span");
      login.className = "detail";
      login.textContent = account.username;
      shown.append(" ", login);
    }
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
        this.say(t("Topped up {amount}.", { amount: money(paid.amount) }));
      } else {
        const status = STATUSES[paid.status] ?? paid.status;
        const shown = paid.decline_code ? `${status} (${paid.decline_code})` : status;
        this.say(t("Error: the top-up was {status}.", { status: shown }), true);
      }
    } catch (error) {
      this.say(t("Error: the top-up failed ({message}).", { message: error.message }), true);
    }
    await this.refresh();
  }

  async saveCard() {
    try {
      await this.call("POST", "/api/v1/passenger/card", {
        payment_method: this.el("payment-method").value,
      });
      this.say(t("Card saved."));
    } catch (error) {
      this.say(t("Error: the card was not saved ({message}).", { message: error.message }), true);
    }
    await this.refresh();
  }

  /**
   * A lost phone reported from the sign-in form (no session on this device): sign in with the
   * password (throttled as every sign-in is), report with that token, which ends it too.
   */
  async reportLostWithPassword() {
    const username = this.el("username").value.trim();
    const password = this.el("password").value;
    if (!username || !password) {
      this.showSignIn(t("Error: enter your phone number or e-mail and your password to report "
        + "a lost phone."));
      return;
    }
    try {
      const session = await api("POST", "/api/v1/sessions", { body: { username, password } });
      await api("POST", "/api/v1/passenger/lost-phone", { token: session.token });
    } catch (error) {
      const message = error.status === 401 ? t("wrong username or password") : error.message;
      this.showSignIn(t("Error: the report failed ({message}).", { message }));
      return;
    }
    this.el("password").value = "";
    await this.forgetAll();
    this.say(
      t("Reported. The lost phone's pass no longer works and every session of your account "
        + "has ended. Sign in to get your pass on this phone."),
    );
    this.showSignIn();
  }

  async reportLost() {
    if (!this.el("lost-phone-confirm").checked) {
      this.say(t("Error: tick the box to confirm you lost the phone."), true);
      return;
    }
    try {
      await this.call("POST", "/api/v1/passenger/lost-phone");
    } catch (error) {
      this.say(t("Error: the report failed ({message}).", { message: error.message }), true);
      return;
    }
    this.el("lost-phone-confirm").checked = false;
    await this.forgetAll();
    this.say(
      t("Reported. The lost phone's pass no longer works and every session of your account "
        + "has ended, this one too. Sign in on your new phone to get your pass there."),
    );
    this.showSignIn();
  }
}

const CATEGORIES = {
  adult: t("Adult"), child: t("Child"), student: t("Student"), senior: t("Senior"),
  disabled: t("Disabled"), priority: t("Priority"), staff: t("Staff"),
};

/** A long pass number in groups of four digits, as on a card. */
export function grouped(id) {
  return String(id).replace(/\B(?=(\d{4})+$)/g, " ");
}

export async function bootAccount(doc = document) {
  if (doc.getElementById("account-app") === null) {
    return null;
  }
  const page = new AccountPage(doc, await openStore());
  await page.start();
  return page;
}
