// What the passenger app keeps on this phone, in IndexedDB (it outlives the tab, a reload and
// a restart, unlike sessionStorage): the bearer token, the pass (the credential document
// without its seed, plus the seed as a non-extractable Web Crypto key: a CryptoKey is stored
// as itself, so the raw seed is never written anywhere), the server's clock offset measured
// at the last sync, what the server last said about this phone's pass, and the passes the
// rider held at the last sync (name and end) for the card to name them offline.

const DB_NAME = "faregate";
const DB_VERSION = 1;
const STORE = "kv";

export const TOKEN = "token";
export const PASS = "pass";
export const CLOCK = "clock";
export const NOTICE = "notice";
export const HELD = "held";

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** A small key-value store over one IndexedDB object store. */
export class AppStore {
  constructor(db) {
    this.db = db;
  }

  static async open(name = DB_NAME) {
    const opening = indexedDB.open(name, DB_VERSION);
    opening.onupgradeneeded = () => {
      if (!opening.result.objectStoreNames.contains(STORE)) {
        opening.result.createObjectStore(STORE);
      }
    };
    return new AppStore(await request(opening));
  }

  async run(mode, action) {
    const tx = this.db.transaction(STORE, mode);
    const result = await request(action(tx.objectStore(STORE)));
    await new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
    return result;
  }

  async get(key) {
    const value = await this.run("readonly", (store) => store.get(key));
    return value === undefined ? null : value;
  }

  set(key, value) {
    return this.run("readwrite", (store) => store.put(value, key));
  }

  delete(key) {
    return this.run("readwrite", (store) => store.delete(key));
  }

  clear() {
    return this.run("readwrite", (store) => store.clear());
  }
}

/** A store in memory, for a browser without IndexedDB (private modes of some browsers). */
export class MemoryStore {
  constructor() {
    this.values = new Map();
  }

  async get(key) {
    return this.values.has(key) ? this.values.get(key) : null;
  }

  async set(key, value) {
    this.values.set(key, value);
  }

  async delete(key) {
    this.values.delete(key);
  }

  async clear() {
    this.values.clear();
  }
}

/** The phone's store: IndexedDB when the browser has it, else memory (lost on reload). */
export async function openStore() {
  try {
    return await AppStore.open();
  } catch {
    return new MemoryStore();
  }
}
