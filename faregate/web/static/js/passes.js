// The rider's passes on the signed-in page: the passes held (named, with their end, and a
// button to renew for the next period), the catalogue on sale with prices and validity, and
// the name and end of the current pass on the pass card. Renewing a pass buys the same product
// from the day the held one ends: asked twice, it is the same pass, charged once (the server
// keys a pass by account, product and first day).

import { t } from "./i18n.js";

const KIND = { day: t("Day pass"), month: t("Monthly pass") };

export class PassesPanel {
  /**
   * `page`: the AccountPage (its `call`, `say`, `el`, `doc`); `format`: `{ money, when }`;
   * `changed`: called after a purchase so the wallet and receipts are read again.
   */
  constructor(page, format, changed) {
    this.page = page;
    this.format = format;
    this.changed = changed;
    this.section = page.el("passes");
  }

  /** The passes on sale and held; answers the held ones covering now (named on the card). */
  show(document) {
    const { money, when } = this.format;
    const held = document.passes.filter((p) => p.status === "active");
    const current = held.filter((p) => p.current);
    const ahead = new Set(held.filter((p) => !p.current).map((p) => p.product_id));
    this.list("ul.held", held, (p) => ({
      title: p.name,
      detail: p.current
        ? t("Valid until {end}", { end: when(p.valid_until) })
        : t("Starts {start}, until {end}", { start: when(p.valid_from), end: when(p.valid_until) }),
      amount: money(p.price),
      // A pass whose next period is bought already is not offered again.
      action: p.current && !ahead.has(p.product_id)
        ? { label: p.kind === "day" ? t("Renew for the next day") : t("Renew for the next month"),
            run: () => this.buy("/api/v1/passenger/passes/renewals", { pass_id: p.pass_id }, p.name) }
        : null,
    }));
    this.section.querySelector(".empty").hidden = held.length > 0;
    const owned = new Set(current.map((p) => p.product_id));
    this.list("ul.catalogue", document.catalogue.filter((c) => !owned.has(c.product_id)), (c) => ({
      title: c.name,
      detail: t("{kind} · valid until {end}", { kind: KIND[c.kind] ?? c.kind, end: when(c.valid_until) }),
      amount: money(c.price),
      action: { label: t("Buy"), run: () => this.buy("/api/v1/passenger/passes", { product_id: c.product_id }, c.name) },
    }));
    this.showOnCard(current);
    return current;
  }

  /**
   * The pass card names the pass(es) covering now and when each ends; the product the
   * credential printed at issue (pay as you go) gives way to them, as fares follow the passes
   * held, not the credential.
   */
  showOnCard(current) {
    const line = this.page.el("pass-held");
    if (current.length > 0) {
      const names = current.map((p) => p.name).join(" + ");
      for (const node of this.page.passRoot.querySelectorAll("[data-fact=product]")) {
        node.textContent = names;
      }
    }
    line.textContent = current
      .map((p) => t("{name}, valid until {end}", { name: p.name, end: this.format.when(p.valid_until) }))
      .join(" · ");
    line.hidden = current.length === 0;
  }

  list(selector, items, describe) {
    const doc = this.page.doc;
    this.section.querySelector(selector).replaceChildren(
      ...items.map((item) => {
        const { title, detail, amount, action } = describe(item);
        const li = doc.createElement("li");
        const text = doc.createElement("div");
        const strong = doc.createElement("strong");
        strong.textContent = title;
        const small = doc.createElement("span");
        small.className = "detail";
        small.textContent = detail;
        text.append(strong, small);
        const side = doc.createElement("div");
        side.className = "side";
        const value = doc.createElement("span");
        value.className = "amount";
        value.textContent = amount;
        side.append(value);
        if (action !== null) {
          const button = doc.createElement("button");
          button.type = "button";
          button.textContent = action.label;
          button.addEventListener("click", action.run);
          side.append(button);
        }
        li.append(text, side);
        return li;
      }),
    );
  }

  async buy(path, body, name) {
    try {
      const sold = await this.page.call("POST", path, body);
      this.page.say(t("{name}: paid {price}, valid until {end}.", {
        name, price: this.format.money(sold.price), end: this.format.when(sold.valid_until),
      }));
    } catch (error) {
      if (error.status !== 401) {
        this.page.say(t("Error: the pass was not bought ({reason}).", { reason: error.message }), true);
      }
    }
    await this.changed();
  }
}
