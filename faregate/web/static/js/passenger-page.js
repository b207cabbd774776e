// Entry point of the passenger page (a file, not an inline script, so the page's
// Content-Security-Policy can forbid inline scripts).
import { boot } from "./passenger.js";

boot();
