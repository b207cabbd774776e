// Entry point of the signed-in passenger page (a file, not an inline script, so the page's
// Content-Security-Policy can forbid inline scripts).
import { bootAccount } from "./account.js";

bootAccount();
