// Issue 8: the snapshot made whole again: its file's runs put back in place
// (tracker/build/snapshot_pack.py) and its delta ranges XOR their base again, each checked
// against the integrity of the bytes the snapshot was made with (snapshot_delta.py).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { load } from "./load.mjs";

const { runtimeBases, undoDelta, unpack, xorInto } = load(
  ["snapshot-delta.js", "runtime.js"],
  ["runtimeBases", "undoDelta", "unpack", "xorInto"],
  { crypto: globalThis.crypto, btoa, WebAssembly },
);

const integrity = (bytes) => `sha256-${createHash("sha256").update(bytes).digest("base64")}`;

// A snapshot with two delta ranges: bytes 16-36 based on the runtime's memory at 8, bytes
// 40-53 on a side module's file at offset 3 (any bytes will do as bases).
function example() {
  const made = new Uint8Array(64).map((_, i) => (i * 7 + 1) & 0xff);
  const memory = new Uint8Array(32).map((_, i) => (i * 7 + 1 + 16 - 8) & 0xff);
  memory[8 + 2] ^= 0x55; // a byte the runtime changed after instantiation: the delta keeps it
  const side = new Uint8Array(40).map((_, i) => (i * 7 + 1 + 40 - 3) & 0xff);
  const delta = [
    {
      at: 16,
      length: 20,
      base: "runtime",
      baseOffset: 8,
      integrity: integrity(made.subarray(16, 36)),
    },
    {
      at: 40,
      length: 13,
      base: "sideModule",
      sideModule: 0,
      baseOffset: 3,
      integrity: integrity(made.subarray(40, 53)),
    },
  ];
  const shipped = made.slice();
  xorInto(shipped.subarray(16, 36), memory.subarray(8, 28));
  xorInto(shipped.subarray(40, 53), side.subarray(3, 16));
  return { made, memory, side, delta, shipped };
}

test("xorInto: words, a ragged tail and more than one chunk alike", () => {
  const target = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  xorInto(target, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 0]));
  assert.deepEqual([...target], [0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 11]);
  const odd = new Uint8Array(9).fill(0xf0).subarray(1); // not aligned
  xorInto(odd, new Uint8Array(8).fill(0x0f));
  assert.deepEqual([...odd], Array(8).fill(0xff));
  const size = (1 << 20) * 2 + 13; // two whole chunks and a short third one
  const big = new Uint8Array(size).map((_, i) => i * 31);
  const base = new Uint8Array(size).map((_, i) => i * 17 + 5);
  const expected = big.map((value, i) => value ^ base[i]);
  xorInto(big, base);
  assert.ok(big.every((value, i) => value === expected[i]));
});

test("undoDelta gives back the bytes the snapshot was made with", async () => {
  const { made, memory, side, delta, shipped } = example();
  const bases = runtimeBases(delta, memory.buffer);
  memory.fill(0); // the runtime's code runs after instantiation: the copy is what counts
  await undoDelta(shipped, delta, bases, [side.buffer]);
  assert.deepEqual([...shipped], [...made]);
});

test("a base that differs in one byte is refused by the restored range's integrity", async () => {
  const { memory, side, delta, shipped } = example();
  side[3 + 5] ^= 1;
  await assert.rejects(
    undoDelta(shipped, delta, runtimeBases(delta, memory.buffer), [side.buffer]),
    /snapshot bytes 40-53 \(restored\): integrity check failed/,
  );
});

test("a missing base or a range past the file is an error, not a guess", async () => {
  const { memory, delta, shipped } = example();
  await assert.rejects(
    undoDelta(shipped, delta, runtimeBases(delta, memory.buffer), []),
    /no sideModule bytes for 40/,
  );
  await assert.rejects(undoDelta(shipped, delta, null, []), /no runtime bytes for 16/);
  const past = [{ ...delta[0], at: 60 }];
  await assert.rejects(
    undoDelta(shipped, past, runtimeBases(past, memory.buffer), []),
    /60\+20 is past the snapshot/,
  );
  assert.throws(
    () => runtimeBases([{ ...delta[0], baseOffset: 30 }], memory.buffer),
    /ends before 50/,
  );
});

test("unpack puts each run's bytes where it goes and leaves the rest zero", () => {
  const memory = new Uint8Array(12);
  unpack(
    new Uint8Array([1, 2, 3, 4, 5]),
    [
      [1, 2],
      [8, 3],
    ],
    memory,
  );
  assert.deepEqual([...memory], [0, 1, 2, 0, 0, 0, 0, 0, 3, 4, 5, 0]);
  assert.throws(() => unpack(new Uint8Array(5), [[1, 2]], new Uint8Array(12)), /cover 2 of 5/);
  assert.throws(() => unpack(new Uint8Array(5), [[10, 5]], new Uint8Array(12)), /does not fit/);
});
