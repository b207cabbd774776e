// Topping up the wallet through VNPay on the signed-in page: the form asks the server for a
// signed payment URL and sends the rider there; VNPay sends the rider back to this page with
// its signed result in the query, which the page hands to the server (it checks the signature
// and credits the wallet once, whether VNPay's IPN came first or not), says the outcome, and
// takes off the address bar.

import { t } from "./i18n.js";

const OUTCOME = {
  paid: t("VNPay top-up of {amount} was paid: your wallet is topped up."),
  failed: t("VNPay top-up of {amount} was not paid (cancelled or declined at VNPay): nothing was taken."),
  pending: t("VNPay top-up of {amount} is waiting for VNPay's answer: your wallet shows it once VNPay confirms."),
};

export class VNPayPanel {
  /** `page`: the AccountPage (`call`, `say`, `el`, `doc`); `format`: `{ money }`. */
  constructor(page, format) {
    this.page = page;
    this.format = format;
    this.form = page.el("vnpay-form");
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.start();
    });
  }

  show(account) {
    this.form.hidden = account.payment_mode !== "prepaid_wallet";
  }

  async start() {
    const amount = Number(this.page.el("vnpay-amount").value);
    let started;
    try {
      started = await this.page.call("POST", "/api/v1/passenger/vnpay/top-ups", { amount });
    } catch (error) {
      if (error.status !== 401) {
        this.page.say(t("Error: the VNPay top-up could not start ({reason}).", { reason: error.message }), true);
      }
      return;
    }
    this.page.doc.defaultView.location.assign(started.pay_url);
  }

  /** Back from VNPay (its result in this page's query): settle it, say how it went. */
  async finishReturn() {
    const view = this.page.doc.defaultView;
    const query = view.location.search;
    if (!new URLSearchParams(query).has("vnp_TxnRef")) {
      return;
    }
    view.history.replaceState(null, "", view.location.pathname);
    try {
      const order = await this.page.call("GET", `/api/v1/passenger/vnpay/return${query}`);
      const amount = this.format.money({ amount: order.amount, currency: order.currency });
      const said = OUTCOME[order.status] ?? OUTCOME.pending;
      this.page.say(said.replace("{amount}", amount), order.status === "failed");
    } catch (error) {
      if (error.status !== 401) {
        this.page.say(t("Error: VNPay's answer was refused ({reason}).", { reason: error.message }), true);
      }
    }
  }
}
