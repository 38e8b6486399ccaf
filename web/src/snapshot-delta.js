// The snapshot as shipped, made whole again.
// - Its file is its non-zero pages only (tracker/build/snapshot_pack.py): 14 of 38 MB to
//   receive, hash and copy.
// - Its delta (tracker/build/snapshot_delta.py): ranges that repeat bytes the page
//   already holds (the runtime's data segments, a side module's data) ship XOR those
//   bytes, mostly zeros (2.3 MB less on the wire). Each range is XORed with its base
//   again and must then match the integrity of the bytes the snapshot was made with; a
//   base that differs anywhere means the normal boot. Bases: "runtime" is the runtime's
//   memory right after its instantiation, copied before any of its code runs (only its
//   data segments are there); "sideModule" is the bytes of the manifest's side module
//   number `sideModule`.

// Each run [at, length] takes the next `length` bytes of the file; `memory` is zeros
// everywhere else.
function unpack(packed, runs, memory) {
  let offset = 0;
  for (const [at, length] of runs) {
    if (at + length > memory.length || offset + length > packed.length) {
      throw new Error(`snapshot run ${at}+${length} does not fit`);
    }
    memory.set(packed.subarray(offset, offset + length), at);
    offset += length;
  }
  if (offset !== packed.length) {
    throw new Error(`snapshot runs cover ${offset} of ${packed.length} bytes`);
  }
}

// The runtime's bytes each "runtime" range needs, copied from a just-instantiated memory.
function runtimeBases(delta, memoryBuffer) {
  const bases = new Map();
  for (const region of delta) {
    if (region.base !== "runtime") continue;
    const end = region.baseOffset + region.length;
    if (end > memoryBuffer.byteLength) throw new Error(`runtime memory ends before ${end}`);
    bases.set(region, new Uint8Array(memoryBuffer, region.baseOffset, region.length).slice());
  }
  return bases;
}

// `runtime`: the map of runtimeBases; `sideModules`: each one's file bytes (ArrayBuffer).
async function undoDelta(snapshot, delta, runtime, sideModules) {
  for (const region of delta) {
    let base = null;
    if (region.base === "runtime") base = runtime?.get(region) ?? null;
    else if (region.base === "sideModule") {
      const file = sideModules[region.sideModule];
      if (file && region.baseOffset + region.length <= file.byteLength) {
        base = new Uint8Array(file, region.baseOffset, region.length);
      }
    }
    if (!base) throw new Error(`snapshot delta: no ${region.base} bytes for ${region.at}`);
    if (region.at + region.length > snapshot.length) {
      throw new Error(`snapshot delta: ${region.at}+${region.length} is past the snapshot`);
    }
    const target = snapshot.subarray(region.at, region.at + region.length);
    xorInto(target, base);
    const name = `snapshot bytes ${region.at}-${region.at + region.length} (restored)`;
    await checkIntegrity(name, target, region.integrity);
  }
}

// A tiny wasm module: xor(a, b, n) does memory[a..a+n] ^= memory[b..b+n], 8 bytes at a
// time (n a multiple of 8), in its own memory of 2 MiB. A JavaScript loop did the same
// over the 4.4 MB of the delta in ~90 ms on a cold load: it ran in the interpreter while
// the wasm's compilation kept the background threads its optimized code waited for;
// this runs as compiled code at once (~1 ms per MiB).
const XOR_WASM = [
  [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
  [0x01, 0x07, 0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00], // type: (i32 a, i32 b, i32 n) -> ()
  [0x03, 0x02, 0x01, 0x00], // one function of that type
  [0x05, 0x03, 0x01, 0x00, 0x20], // one memory of 32 pages (2 MiB)
  [0x07, 0x10, 0x02], // exports: "memory" (memory 0), "xor" (function 0)
  [0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x03, 0x78, 0x6f, 0x72, 0x00, 0x00],
  [0x0a, 0x36, 0x01, 0x34, 0x00], // code: one body of 52 bytes, no locals
  [0x02, 0x40, 0x03, 0x40], // block, loop
  [0x20, 0x02, 0x45, 0x0d, 0x01], // n == 0: leave the block
  [0x20, 0x00, 0x20, 0x00, 0x29, 0x03, 0x00], // a, i64.load a
  [0x20, 0x01, 0x29, 0x03, 0x00, 0x85, 0x37, 0x03, 0x00], // i64.load b, xor, store at a
  [0x20, 0x00, 0x41, 0x08, 0x6a, 0x21, 0x00], // a += 8
  [0x20, 0x01, 0x41, 0x08, 0x6a, 0x21, 0x01], // b += 8
  [0x20, 0x02, 0x41, 0x08, 0x6b, 0x21, 0x02], // n -= 8
  [0x0c, 0x00, 0x0b, 0x0b, 0x0b], // loop again; end loop, block, function
].flat();
const XOR_CHUNK = 1 << 20; // target and base each take half of the module's memory

// target ^= base (same length), a MiB at a time through the module's memory.
function xorInto(target, base) {
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(XOR_WASM)));
  const scratch = new Uint8Array(exports.memory.buffer);
  for (let at = 0; at < target.length; at += XOR_CHUNK) {
    const length = Math.min(XOR_CHUNK, target.length - at);
    const words = length - (length % 8);
    scratch.set(target.subarray(at, at + length), 0);
    scratch.set(base.subarray(at, at + length), XOR_CHUNK);
    exports.xor(0, XOR_CHUNK, words);
    for (let i = words; i < length; i++) scratch[i] ^= scratch[XOR_CHUNK + i];
    target.set(scratch.subarray(0, length), at);
  }
}
