// The page's lifecycle while Python boots (B2): every visibilitychange, pagehide and
// pageshow from the embed's first line, each at its event's timeStamp (T2). The estimate,
// the boot-window beacon (B3) and the hand-over to Python read it.

const VISIBILITY = "visibility";
const PAGE_HIDE = "pagehide";
const PAGE_SHOW = "pageshow";

class BootLog {
  #listeners = [];

  constructor(doc, win) {
    this.initiallyHidden = doc.visibilityState === "hidden";
    // {type: "visibility", t, hidden} | {type: "pagehide" | "pageshow", t, persisted}
    this.entries = [];
    // Called inside the pagehide task with the entry: a beacon must leave from there (P1).
    this.onPageHide = null;
    // Called inside the pageshow task when the page comes back from the back/forward cache.
    this.onPageRestored = null;
    this.#listen(doc, "visibilitychange", (event) => {
      this.entries.push({
        type: VISIBILITY,
        t: event.timeStamp,
        hidden: doc.visibilityState === "hidden",
      });
    });
    this.#listen(win, "pagehide", (event) => {
      const entry = { type: PAGE_HIDE, t: event.timeStamp, persisted: Boolean(event.persisted) };
      this.entries.push(entry);
      if (this.onPageHide) this.onPageHide(entry);
    });
    this.#listen(win, "pageshow", (event) => {
      const entry = { type: PAGE_SHOW, t: event.timeStamp, persisted: Boolean(event.persisted) };
      this.entries.push(entry);
      // A first load fires pageshow too; only a restore opens a new window (P2).
      if (entry.persisted && this.onPageRestored) this.onPageRestored(entry);
    });
  }

  /** Python listens from now on: the log's work is done. */
  stop() {
    for (const [target, type, handler] of this.#listeners.splice(0)) {
      target.removeEventListener(type, handler);
    }
    this.onPageHide = null;
    this.onPageRestored = null;
  }

  /** What Python needs to take over without a gap or an overlap (bridge.py BootLog). */
  toJSON() {
    return { initiallyHidden: this.initiallyHidden, entries: this.entries.slice() };
  }

  #listen(target, type, handler) {
    target.addEventListener(type, handler);
    this.#listeners.push([target, type, handler]);
  }
}
