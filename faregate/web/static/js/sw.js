// The passenger app's service worker: it keeps the app shell (the page and the files it loads)
// so that opening, reloading or reopening the app with no network still shows the pass, whose
// code the page computes on the phone (the credential is in IndexedDB, not here).
//
// Served at /sw.js (scope "/") by faregate.web.app_shell, which puts `self.FAREGATE_SHELL` in
// front of this file: the shell's paths and a version that changes with any of them, so a new
// deployment installs a new worker and drops the old cache.
//
// - The page ("/"): network first, within NETWORK_WAIT_MS (a train between stations has a
//   connection that answers slowly or never), else the kept copy. The page comes in the
//   rider's language (faregate.i18n): the copy last fetched answers "/", and each language's
//   own copy answers its switch ("/?lang=en"), so the switch works offline too once each
//   language has been seen.
// - The shell's other files: the kept copy first (they change only with the version).
// - Everything else (the API above all) is left to the network: the worker never answers an
//   API request, so no account data or credential is ever cached here.

const { version, shell } = self.FAREGATE_SHELL;
const PREFIX = "faregate-shell-";
const CACHE = `${PREFIX}${version}`;
const PAGE = "/";
const NETWORK_WAIT_MS = 4000;

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll(shell.map((path) => new Request(path, { cache: "reload" })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(PREFIX) && name !== CACHE) {
          await caches.delete(name);
        }
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") {
    return;
  }
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) {
    return;
  }
  if (request.mode === "navigate" && url.pathname === PAGE) {
    event.respondWith(page(request));
  } else if (shell.includes(url.pathname)) {
    event.respondWith(kept(request));
  }
});

async function page(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetchWithin(request, NETWORK_WAIT_MS);
    if (response.ok) {
      await cache.put(PAGE, response.clone());
      const lang = response.headers.get("Content-Language");
      if (lang) {
        await cache.put(languagePage(lang), response.clone());
      }
      return response;
    }
    return (await keptPage(cache, request)) ?? response;
  } catch {
    return (await keptPage(cache, request)) ?? Response.error();
  }
}

function languagePage(lang) {
  return `${PAGE}?lang=${encodeURIComponent(lang)}`;
}

async function keptPage(cache, request) {
  const lang = new URL(request.url).searchParams.get("lang");
  const own = lang === null ? undefined : await cache.match(languagePage(lang));
  return own ?? (await cache.match(PAGE));
}

async function kept(request) {
  const cache = await caches.open(CACHE);
  const found = await cache.match(request, { ignoreSearch: true });
  if (found !== undefined) {
    return found;
  }
  const response = await fetch(request);
  if (response.ok) {
    await cache.put(request, response.clone());
  }
  return response;
}

async function fetchWithin(request, ms) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ms);
  try {
    // A navigation's own Request cannot take options: fetch its URL instead.
    return await fetch(request.url, { signal: abort.signal, cache: "no-store" });
  } finally {
    clearTimeout(timer);
  }
}
