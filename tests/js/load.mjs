// Loads files of web/src/ as the built embed runs them: classic scripts sharing one scope,
// here a fresh vm context whose globals are the fakes a test hands in (document,
// performance, navigator, ...). `names` are read back from that scope.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";

const SRC = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "web", "src");

export function load(files, names, globals = {}) {
  const context = vm.createContext({ console, queueMicrotask, URL, JSON, Math, ...globals });
  for (const file of files) {
    vm.runInContext(readFileSync(join(SRC, file), "utf8"), context, { filename: file });
  }
  return vm.runInContext(`({${names.join(", ")}})`, context);
}

// An EventTarget whose events carry the timeStamp and fields a test gives them.
export class FakeTarget {
  listeners = new Map();

  addEventListener(type, handler) {
    if (!this.listeners.has(type)) this.listeners.set(type, []);
    this.listeners.get(type).push(handler);
  }

  removeEventListener(type, handler) {
    const list = this.listeners.get(type) || [];
    const index = list.indexOf(handler);
    if (index >= 0) list.splice(index, 1);
  }

  fire(type, fields) {
    for (const handler of [...(this.listeners.get(type) || [])]) handler({ type, ...fields });
  }

  count() {
    return [...this.listeners.values()].reduce((total, list) => total + list.length, 0);
  }
}

// A document and a window for the BootLog; `hide`/`show` change the state and fire.
export function fakePage({ hidden = false } = {}) {
  const document = new FakeTarget();
  document.visibilityState = hidden ? "hidden" : "visible";
  const window = new FakeTarget();
  const page = {
    document,
    window,
    visibility(state, t) {
      document.visibilityState = state;
      document.fire("visibilitychange", { timeStamp: t });
    },
    pagehide(t, persisted) {
      window.fire("pagehide", { timeStamp: t, persisted });
    },
    pageshow(t, persisted) {
      window.fire("pageshow", { timeStamp: t, persisted });
    },
  };
  return page;
}

// Objects made inside the vm have that context's prototypes, which deepStrictEqual tells
// apart from this realm's: compare their JSON-plain copies.
export function plain(value) {
  return JSON.parse(JSON.stringify(value));
}
