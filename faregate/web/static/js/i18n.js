// The page's words and formats. The server renders the page in its language (<html lang>) and
// puts the translations this script needs in it as JSON (<script id="i18n-messages">, from the
// gettext catalogue faregate/locale/*/LC_MESSAGES/messages.po): `t("English text")` is the
// text in the page's language. `scripts/messages` finds every t("…") here for the catalogue,
// so the argument must be a string literal (or literals joined with +), never a variable.
// Values go in as {name}: t("Topped up {amount}.", { amount }).
//
// Money is written as Vietnamese readers expect in every language (100.000 ₫) and times are
// Hanoi time, with Intl.

export const ZONE = "Asia/Ho_Chi_Minh";

function pageLanguage(doc) {
  const lang = doc?.documentElement?.lang;
  return lang === "en" ? "en" : "vi";
}

function pageMessages(doc) {
  const node = doc?.getElementById?.("i18n-messages");
  if (!node) {
    return {};
  }
  try {
    const parsed = JSON.parse(node.textContent);
    return parsed !== null && typeof parsed === "object" ? parsed : {};
  } catch {
    return {};
  }
}

const DOC = typeof document === "undefined" ? null : document;
export const LANG = pageLanguage(DOC);
const MESSAGES = pageMessages(DOC);
const LOCALE = LANG === "vi" ? "vi-VN" : "en-GB";

/** `message` (the English) in the page's language, with each {name} replaced by values[name]. */
export function t(message, values = {}) {
  const text = Object.hasOwn(MESSAGES, message) ? MESSAGES[message] : message;
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.hasOwn(values, name) ? String(values[name]) : whole,
  );
}

const moneyFormats = new Map();

/** An amount of the API ({amount, currency}, minor units) as `100.000 ₫`. */
export function money(amount) {
  let format = moneyFormats.get(amount.currency);
  if (format === undefined) {
    format = new Intl.NumberFormat("vi-VN", { style: "currency", currency: amount.currency });
    moneyFormats.set(amount.currency, format);
  }
  return format.format(amount.amount);
}

const whenFormat = new Intl.DateTimeFormat(LOCALE, {
  timeZone: ZONE, day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
  hourCycle: "h23",
});
const dayFormat = new Intl.DateTimeFormat(LOCALE, {
  timeZone: "UTC", weekday: "short", day: "numeric", month: "short", year: "numeric",
});

/** An instant (ISO 8601) in Hanoi time, to the minute. */
export function when(iso) {
  return whenFormat.format(new Date(iso));
}

/** A service day (YYYY-MM-DD) as a reader of the page's language writes it. */
export function day(isoDate) {
  return dayFormat.format(new Date(`${isoDate}T00:00:00Z`));
}

/** The headers that ask the API to answer its problems in the page's language. */
export function languageHeaders() {
  return { "Accept-Language": LANG };
}
