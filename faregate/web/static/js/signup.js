// Creating an account and resetting a forgotten password, on the sign-in screen of the
// passenger app. Riders sign up with a phone number (a Vietnamese one as they write it, or
// with its country code) or an e-mail address, a password and their name in any script; the
// server stores the number in E.164. A reset sends a 6-digit code to that phone or address
// (the outbox), then the code and a new password set it, which ends every session.

import { t } from "./i18n.js";

const MIN_PASSWORD = 10;

export class SignUpPanels {
  /** `page`: the AccountPage (`el`, `api`, `signInWith`, `showSignIn`, `say`). */
  constructor(page) {
    this.page = page;
    this.panels = ["sign-in", "register", "reset"].map((id) => page.el(id));
  }

  start() {
    const page = this.page;
    page.el("show-register").addEventListener("click", () => this.show("register"));
    page.el("show-reset").addEventListener("click", () => this.show("reset"));
    for (const back of page.doc.querySelectorAll("[data-back-to-sign-in]")) {
      back.addEventListener("click", () => page.showSignIn());
    }
    page.el("register-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.register();
    });
    page.el("reset-request-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.requestCode();
    });
    page.el("reset-confirm-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.confirmCode();
    });
  }

  /** Show one of the signed-out panels (sign in, register, reset), hide the others. */
  show(id) {
    for (const panel of this.panels) {
      panel.hidden = panel.id !== id;
    }
    this.error(id, null);
    const first = this.page.el(id).querySelector("input:not([hidden])");
    first?.focus();
  }

  hideAll() {
    for (const panel of this.panels) {
      panel.hidden = true;
    }
  }

  error(id, message) {
    const node = this.page.el(`${id}-error`);
    if (node !== null) {
      node.hidden = message === null;
      node.textContent = message ?? "";
    }
  }

  async register() {
    const page = this.page;
    const displayName = page.el("register-name").value.trim();
    const username = page.el("register-login").value.trim();
    const password = page.el("register-password").value;
    if (!displayName || !username) {
      this.error("register", t("Error: enter your name and your phone number or e-mail."));
      return;
    }
    if (password.length < MIN_PASSWORD) {
      this.error("register", t("Error: a password has at least 10 characters."));
      return;
    }
    try {
      await page.api("POST", "/api/v1/passengers", {
        body: { username, password, display_name: displayName },
      });
    } catch (error) {
      const message = error.status === 409
        ? t("an account with this phone number or e-mail exists; sign in or reset the password")
        : error.message;
      this.error("register", t("Error: {message}.", { message }));
      return;
    }
    page.el("register-password").value = "";
    await page.signInWith(username, password);
  }

  async requestCode() {
    const page = this.page;
    const username = page.el("reset-login").value.trim();
    if (!username) {
      this.error("reset", t("Error: enter your phone number or e-mail."));
      return;
    }
    try {
      await page.api("POST", "/api/v1/passengers/password-reset", { body: { username } });
    } catch (error) {
      this.error("reset", t("Error: {message}.", { message: error.message }));
      return;
    }
    this.error("reset", null);
    page.el("reset-sent").textContent = t(
      "If an account signs in with {login}, a 6-digit code is on its way there (SMS or "
        + "e-mail). It works once, for 10 minutes.",
      { login: username },
    );
    page.el("reset-confirm-form").hidden = false;
    page.el("reset-code").focus();
  }

  async confirmCode() {
    const page = this.page;
    const username = page.el("reset-login").value.trim();
    const code = page.el("reset-code").value.trim();
    const password = page.el("reset-password").value;
    if (password.length < MIN_PASSWORD) {
      this.error("reset", t("Error: a password has at least 10 characters."));
      return;
    }
    try {
      await page.api("POST", "/api/v1/passengers/password-reset/confirm", {
        body: { username, code, password },
      });
    } catch (error) {
      this.error("reset", t("Error: {message}.", { message: error.message }));
      return;
    }
    page.el("reset-code").value = "";
    page.el("reset-password").value = "";
    page.el("reset-confirm-form").hidden = true;
    page.el("username").value = username;
    page.showSignIn();
    page.say(t("Your password is changed and every session of your account has ended. "
      + "Sign in with the new password."));
  }
}
