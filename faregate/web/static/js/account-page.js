// Entry point of the signed-in passenger app (a file, not an inline script, so the page's
// Content-Security-Policy can forbid inline scripts). The service worker keeps the app shell
// for opening the app with no network; a browser without one still works while online.
import { bootAccount } from "./account.js";

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
}
bootAccount();
