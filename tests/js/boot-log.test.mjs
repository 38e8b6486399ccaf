// B2/T2: the embed logs the page's lifecycle from its first line, at the events' timeStamps.
import assert from "node:assert/strict";
import { test } from "node:test";
import { fakePage, load, plain } from "./load.mjs";

const { BootLog } = load(["boot-log.js"], ["BootLog"]);

test("visibility, pagehide and pageshow are logged with their timeStamp and state", () => {
  const page = fakePage();
  const log = new BootLog(page.document, page.window);
  assert.equal(log.initiallyHidden, false);
  page.visibility("hidden", 120.4);
  page.pagehide(130.5, true);
  page.pageshow(900, true);
  page.visibility("visible", 901);
  assert.deepEqual(plain(log.toJSON()), {
    initiallyHidden: false,
    entries: [
      { type: "visibility", t: 120.4, hidden: true },
      { type: "pagehide", t: 130.5, persisted: true },
      { type: "pageshow", t: 900, persisted: true },
      { type: "visibility", t: 901, hidden: false },
    ],
  });
});

test("a page hidden before the script ran starts hidden", () => {
  const page = fakePage({ hidden: true });
  assert.equal(new BootLog(page.document, page.window).initiallyHidden, true);
});

test("P1: the pagehide hook runs inside the pagehide event, with its entry", () => {
  const page = fakePage();
  const log = new BootLog(page.document, page.window);
  const seen = [];
  log.onPageHide = (entry) => seen.push(["hide", entry, log.entries.length]);
  log.onPageRestored = (entry) => seen.push(["restored", entry]);
  page.pageshow(5, false); // P2: the first load's pageshow is no restore
  page.pagehide(300, false);
  page.pageshow(400, true);
  assert.deepEqual(plain(seen), [
    ["hide", { type: "pagehide", t: 300, persisted: false }, 2],
    ["restored", { type: "pageshow", t: 400, persisted: true }],
  ]);
});

test("stop() removes every listener and hook: Python listens from then on", () => {
  const page = fakePage();
  const log = new BootLog(page.document, page.window);
  log.onPageHide = () => assert.fail("stopped");
  assert.equal(page.document.count() + page.window.count(), 3);
  log.stop();
  assert.equal(page.document.count() + page.window.count(), 0);
  page.pagehide(10, false);
  assert.deepEqual(plain(log.entries), []);
});

test("toJSON hands over a copy: later entries do not change what Python got", () => {
  const page = fakePage();
  const log = new BootLog(page.document, page.window);
  const handed = log.toJSON();
  page.visibility("hidden", 1);
  assert.deepEqual(plain(handed.entries), []);
});
