// The passenger's live token, computed in the browser exactly as docs/TOKEN-SPEC.md says:
//   token = "FG1" + base45(signed credential) + TOTP(seed, floor(t / period))
// with RFC 6238 HMAC-SHA1, 8 digits, T0 = 0, through Web Crypto (a secure context:
// HTTPS, or http://localhost). Nothing here touches the network, so once the credential
// document is loaded the code keeps rotating offline.

import qrcode from "../vendor/qrcode-generator/qrcode.mjs";

export const CREDENTIAL_FORMAT = "faregate-credential/1";
export const PREFIX = "FG1";
export const DIGITS = 8;
export const CREDENTIAL_LENGTH = 29;
export const SIGNED_LENGTH = CREDENTIAL_LENGTH + 64;
export const TOKEN_LENGTH = 151;
// TOKEN-SPEC §3: every token fits QR version 6 at error correction M in alphanumeric mode.
export const MAX_QR_VERSION = 6;
export const QUIET_ZONE = 4;

const BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const CATEGORIES = ["adult", "child", "student", "senior", "disabled", "priority", "staff"];
const FLAG_BITS = { postpaid: 1, test: 2 };
const MODULUS = 10 ** DIGITS;

/** A credential document the page cannot use; `message` is one line meant for the passenger. */
export class CredentialError extends Error {
  constructor(message) {
    super(message);
    this.name = "CredentialError";
  }
}

/** RFC 9285 base45 of a byte array. */
export function base45Encode(bytes) {
  let out = "";
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    let n = bytes[i] * 256 + bytes[i + 1];
    const c = n % 45;
    n = (n - c) / 45;
    const d = n % 45;
    const e = (n - d) / 45;
    out += BASE45[c] + BASE45[d] + BASE45[e];
  }
  if (bytes.length % 2 === 1) {
    const n = bytes[bytes.length - 1];
    out += BASE45[n % 45] + BASE45[Math.floor(n / 45)];
  }
  return out;
}

/** RFC 4648 base32 (padding optional) to bytes; CredentialError on anything else. */
export function base32Decode(text) {
  const clean = text.replace(/=+$/, "");
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const index = BASE32.indexOf(ch);
    if (index < 0) {
      throw new CredentialError("the pass's seed is not base32");
    }
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return new Uint8Array(out);
}

function base64Decode(text) {
  let binary;
  try {
    binary = atob(text);
  } catch {
    throw new CredentialError("the pass's signed credential is not base64");
  }
  return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
}

/** The fields of the 29 credential bytes (TOKEN-SPEC §1); the signed bytes are what count. */
export function credentialFields(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, CREDENTIAL_LENGTH);
  const productBytes = bytes.subarray(11, 19);
  const end = productBytes.indexOf(0);
  const product = String.fromCharCode(...(end < 0 ? productBytes : productBytes.subarray(0, end)));
  const flags = view.getUint8(28);
  return {
    version: view.getUint8(0),
    issuerKid: view.getUint8(1),
    livenessKid: view.getUint8(2),
    credentialId: view.getBigUint64(3).toString(),
    product,
    category: CATEGORIES[view.getUint8(19)] ?? null,
    validFromMs: view.getUint32(20) * 60000,
    validUntilMs: view.getUint32(24) * 60000,
    postpaid: (flags & FLAG_BITS.postpaid) !== 0,
    test: (flags & FLAG_BITS.test) !== 0,
  };
}

/**
 * Check a phone credential document (`faregate-credential/1`, TOKEN-SPEC §7) and prepare it:
 * the static token part is built once, the HMAC key is imported once.
 */
export async function loadCredential(doc) {
  if (doc === null || typeof doc !== "object" || doc.format !== CREDENTIAL_FORMAT) {
    throw new CredentialError(`not a pass (expected format ${CREDENTIAL_FORMAT})`);
  }
  const kept = isKey(doc.key);
  if (typeof doc.credential !== "string" || (typeof doc.seed !== "string" && !kept)) {
    throw new CredentialError("the pass lacks its signed credential or its seed");
  }
  const signed = base64Decode(doc.credential);
  if (signed.length !== SIGNED_LENGTH) {
    throw new CredentialError(`the signed credential is ${signed.length} bytes, not ${SIGNED_LENGTH}`);
  }
  const fields = credentialFields(signed);
  if (fields.version !== 1 || fields.category === null || fields.validUntilMs <= fields.validFromMs) {
    throw new CredentialError("the pass holds a malformed credential");
  }
  const seed = kept ? null : base32Decode(doc.seed);
  if (seed !== null && seed.length === 0) {
    throw new CredentialError("the pass has an empty seed");
  }
  if (!Number.isInteger(doc.period) || doc.period < 1) {
    throw new CredentialError("the pass has a bad code period");
  }
  if (doc.digits !== undefined && doc.digits !== DIGITS) {
    throw new CredentialError(`the pass asks for ${doc.digits}-digit codes; gates read ${DIGITS}`);
  }
  if (!globalThis.crypto?.subtle) {
    throw new CredentialError("this browser cannot compute codes here (open the page over HTTPS)");
  }
  const key = kept ? doc.key : await importSeed(seed);
  return { fields, period: doc.period, key, staticPart: PREFIX + base45Encode(signed) };
}

function isKey(value) {
  return globalThis.CryptoKey !== undefined && value instanceof CryptoKey;
}

/**
 * The credential document as this phone keeps it (IndexedDB): everything but the seed, which
 * becomes a non-extractable HMAC key (`key`), so no script can read the seed back out. Checked
 * first: a document loadCredential refuses is never kept.
 */
export async function keepable(doc) {
  const loaded = await loadCredential(doc);
  const { seed, ...rest } = doc;
  return { ...rest, key: loaded.key };
}

/** The seed as a Web Crypto HMAC-SHA1 key. */
export function importSeed(seed) {
  return crypto.subtle.importKey("raw", seed, { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
}

/** RFC 4226 HOTP of `step` (a non-negative integer below 2^53): exactly 8 decimal digits. */
export async function hotp(key, step) {
  const counter = new DataView(new ArrayBuffer(8));
  counter.setUint32(0, Math.floor(step / 2 ** 32));
  counter.setUint32(4, step >>> 0);
  const digest = new Uint8Array(await crypto.subtle.sign("HMAC", key, counter.buffer));
  const offset = digest[19] & 0x0f;
  const value =
    ((digest[offset] & 0x7f) << 24) |
    (digest[offset + 1] << 16) |
    (digest[offset + 2] << 8) |
    digest[offset + 3];
  return String(value % MODULUS).padStart(DIGITS, "0");
}

/** RFC 6238 time step of Unix time `ms` (milliseconds) with T0 = 0. */
export function stepAt(ms, period) {
  return Math.floor(ms / 1000 / period);
}

/** The token a loaded credential shows at Unix time `ms`, with its step and when it changes. */
export async function tokenAt(credential, ms) {
  const step = stepAt(ms, credential.period);
  const code = await hotp(credential.key, step);
  return {
    token: credential.staticPart + code,
    code,
    step,
    changesAtMs: (step + 1) * credential.period * 1000,
  };
}

/** The QR code of `text` at error correction M, alphanumeric mode, smallest version. */
export function qrMatrix(text) {
  const code = qrcode(0, "M");
  code.addData(text, "Alphanumeric");
  code.make();
  const size = code.getModuleCount();
  const version = (size - 17) / 4;
  if (version > MAX_QR_VERSION) {
    throw new CredentialError(`the code needs QR version ${version}; gates read up to ${MAX_QR_VERSION}`);
  }
  return { size, version, isDark: (row, col) => code.isDark(row, col) };
}

/** SVG path data drawing the dark modules of `matrix`, one unit per module. */
export function qrPath(matrix) {
  const parts = [];
  for (let row = 0; row < matrix.size; row += 1) {
    for (let col = 0; col < matrix.size; col += 1) {
      if (matrix.isDark(row, col)) {
        parts.push(`M${col} ${row}h1v1h-1z`);
      }
    }
  }
  return parts.join("");
}

/** Draw `text` as a QR code into an <svg> element holding a <path> (with its quiet zone). */
export function drawQr(svg, text) {
  const matrix = qrMatrix(text);
  const side = matrix.size + 2 * QUIET_ZONE;
  svg.setAttribute("viewBox", `${-QUIET_ZONE} ${-QUIET_ZONE} ${side} ${side}`);
  svg.querySelector("path").setAttribute("d", qrPath(matrix));
  svg.dataset.version = String(matrix.version);
  return matrix;
}
