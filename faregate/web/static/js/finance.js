// The finance page's live settlement run: while a run works (preparing or settling), poll its
// state every two seconds and redraw the progress; when it stops working (prepared, settled,
// failed) reload the page, which then shows the figures for review, the report or the error.

import { LANG, t } from "./i18n.js";

const POLL_MS = 2000;
const count = new Intl.NumberFormat(LANG === "vi" ? "vi-VN" : "en-US");
// The run's states and stages as the page names them (the server's words: finance.html).
const STATES = {
  open: t("Open"), closed: t("Closed"), preparing: t("Preparing"), prepared: t("Prepared"),
  settling: t("Settling"), failed: t("Failed"), settled: t("Settled"),
};

/** Redraw the run's progress from `run` (the JSON of /finance/days/{day}/run). */
export function showRun(section, run) {
  const field = (name) => section.querySelector(`[data-field="${name}"]`);
  const state = field("state");
  if (state) {
    state.textContent = STATES[run.state] ?? run.state;
  }
  const running = field("running");
  if (running) {
    running.textContent = run.running || t("waiting for the runner");
  }
  const bar = field("progress");
  if (bar) {
    bar.max = Math.max(run.total, 1);
    bar.value = run.done;
  }
  const counts = field("counts");
  if (counts) {
    counts.textContent = t("{done} of {total}", {
      done: count.format(run.done), total: count.format(run.total),
    });
  }
  return run.state === "preparing" || run.state === "settling";
}

export function follow(section) {
  const url = section.dataset.runUrl;
  const poll = async () => {
    try {
      const answer = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (answer.ok && !showRun(section, await answer.json())) {
        window.location.reload();
        return;
      }
    } catch (error) {
      // the server away for a moment: look again at the next tick
    }
    window.setTimeout(poll, POLL_MS);
  };
  window.setTimeout(poll, POLL_MS);
}

const section = document.querySelector("#run[data-run-url]");
if (section) {
  follow(section);
}
