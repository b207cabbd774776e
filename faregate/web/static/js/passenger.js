// The passenger page's live pass: reads the credential the server embedded in the page once,
// then redraws the QR code at every period boundary and counts down to the next one. Time comes
// from `now` (Date.now by default), so tests can drive the clock; nothing here uses the network.

import { CredentialError, drawQr, loadCredential, stepAt, tokenAt } from "./token.js";
import { t } from "./i18n.js";

export class LivePass {
  /**
   * @param {HTMLElement} root the pass section; holds #qr, #countdown-*, #pass-status
   * @param {object} credential what loadCredential returned
   * @param {{now?: () => number}} options
   */
  constructor(root, credential, { now = () => Date.now() } = {}) {
    this.root = root;
    this.credential = credential;
    this.now = now;
    this.qr = root.querySelector("#qr");
    this.figure = root.querySelector("#qr-figure");
    this.seconds = root.querySelector("#countdown-seconds");
    this.bar = root.querySelector("#countdown-bar");
    this.countdown = root.querySelector("#countdown");
    this.status = root.querySelector("#pass-status");
    this.shownStep = null;
    this.timer = null;
    this.latest = 0; // ticks overlap only while a code is being computed; the newest one wins
  }

  start() {
    this.tick();
  }

  stop() {
    clearTimeout(this.timer);
  }

  async tick() {
    const ms = this.now();
    // Wake at the next whole second: periods are whole seconds, so a boundary is never missed.
    this.timer = setTimeout(() => this.tick(), 1000 - (ms % 1000));
    const ticket = ++this.latest;
    const { fields, period } = this.credential;
    if (ms < fields.validFromMs || ms >= fields.validUntilMs) {
      this.showInvalid(ms < fields.validFromMs ? "not-yet-valid" : "expired");
      return;
    }
    const step = stepAt(ms, period);
    if (step !== this.shownStep) {
      const live = await tokenAt(this.credential, ms);
      if (ticket !== this.latest) {
        return;
      }
      drawQr(this.qr, live.token);
      this.qr.dataset.step = String(live.step);
      this.shownStep = live.step;
      this.setState("live", t("Show this code to the gate's reader."));
    }
    const remaining = Math.ceil(((step + 1) * period * 1000 - ms) / 1000);
    this.seconds.textContent = String(remaining);
    this.bar.max = period;
    this.bar.value = remaining;
  }

  showInvalid(state) {
    this.shownStep = null;
    delete this.qr.dataset.step;
    this.setState(
      state,
      state === "expired"
        ? t("This pass has expired: gates will refuse it.")
        : t("This pass is not valid yet: see when it starts below."),
    );
  }

  setState(state, message) {
    if (this.root.dataset.state === state) {
      return;
    }
    this.root.dataset.state = state;
    const live = state === "live";
    this.figure.hidden = !live;
    this.countdown.hidden = !live;
    this.status.textContent = message;
  }
}

/** Keep the network note in step with the browser's idea of being online. */
export function watchNetwork(element, target = window) {
  const show = () => {
    element.textContent = navigator.onLine
      ? t("Online. The code is made on this phone, so it also works without a connection.")
      : t("Offline. Your code still works: it is made on this phone.");
  };
  target.addEventListener("online", show);
  target.addEventListener("offline", show);
  show();
}

/**
 * The warning for a phone clock `skewMs` off the server's (positive: ahead), or null when the
 * gates would still take its codes (their window allows about one period either way).
 */
export function clockWarning(skewMs, periodSeconds) {
  if (!Number.isFinite(skewMs) || Math.abs(skewMs) < periodSeconds * 1000) {
    return null;
  }
  const seconds = Math.round(Math.abs(skewMs) / 1000);
  const amount = seconds < 120 ? `${seconds} s` : `${Math.round(seconds / 60)} min`;
  return skewMs > 0
    ? t("This phone's clock is {amount} ahead of the network's time, so gates may refuse the "
      + "code. Set the clock to automatic.", { amount })
    : t("This phone's clock is {amount} behind the network's time, so gates may refuse the "
      + "code. Set the clock to automatic.", { amount });
}

/** Start the page: the credential is the JSON in <script id="credential">, if the server put one. */
export async function boot(doc = document) {
  const root = doc.getElementById("live-pass");
  const source = doc.getElementById("credential");
  if (root === null || source === null) {
    return null;
  }
  watchNetwork(doc.getElementById("network-status"));
  try {
    const pass = new LivePass(root, await loadCredential(JSON.parse(source.textContent)));
    const warning = clockWarning(
      pass.now() - Number(root.dataset.serverTimeMs),
      pass.credential.period,
    );
    if (warning !== null) {
      const element = root.querySelector("#clock-warning");
      element.textContent = warning;
      element.hidden = false;
    }
    pass.start();
    return pass;
  } catch (error) {
    const message = error instanceof CredentialError || error instanceof SyntaxError
      ? error.message
      : String(error);
    root.dataset.state = "error";
    root.querySelector("#qr-figure").hidden = true;
    root.querySelector("#countdown").hidden = true;
    const status = root.querySelector("#pass-status");
    status.setAttribute("role", "alert");
    status.textContent = t("Error: this pass cannot be shown ({message}).", { message });
    return null;
  }
}
