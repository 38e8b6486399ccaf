// The embed finds everything relative to its own <script> tag, so any prefix works.
import assert from "node:assert/strict";
import { test } from "node:test";
import { load, plain } from "./load.mjs";

const { locateEmbed, uuid4 } = load(["location.js", "uuid.js"], ["locateEmbed", "uuid4"], {
  Uint8Array,
});

const tag = (src, attributes = {}) => ({
  src,
  getAttribute: (name) => attributes[name] ?? null,
});

test("the runtime folder and the options come from the script tag", () => {
  const script = tag("http://127.0.0.1/variants/ok/timeback.js", {
    "data-base": "/api/timeback",
    "data-config": "../timeback.config.json",
  });
  const found = locateEmbed({ currentScript: script }, "http://127.0.0.1/lessons/a.html");
  assert.deepEqual(plain(found), {
    // RUNTIME_DIR is "" until tracker build stamps it: the script's own folder.
    runtimeUrl: "http://127.0.0.1/variants/ok/",
    options: {
      base: "http://127.0.0.1/api/timeback",
      configUrl: "http://127.0.0.1/timeback.config.json",
    },
  });
});

test("without data-* attributes: the default base and no config", () => {
  const doc = { currentScript: null, querySelector: () => tag("http://h/t/timeback.js") };
  assert.deepEqual(plain(locateEmbed(doc, "http://h/page.html").options), {
    base: "http://h/api/timeback",
    configUrl: null,
  });
});

test("uuid4 without crypto.randomUUID (plain http): a version 4 UUID", () => {
  const bytes = (array) => array.fill(0xff);
  const id = uuid4({ getRandomValues: bytes });
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(uuid4({ randomUUID: () => "given" }), "given");
});
