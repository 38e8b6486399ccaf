// The snapshot's delta undone (tracker/build/snapshot_delta.py): ranges of the snapshot
// file that repeat bytes the page already holds (the runtime's data segments, a side
// module's data) ship XOR those bytes, mostly zeros (2.3 MB less on the wire). Each range
// is XORed with its base again and must then match the integrity of the bytes the
// snapshot was made with; a base that differs anywhere means the normal boot.
//
// Bases: "runtime" is the runtime's memory right after its instantiation, copied before
// any of its code runs (only its data segments are there); "sideModule" is the bytes of
// the manifest's side module number `sideModule`.

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

// target ^= base, a word at a time where both are 4-byte aligned (a 3.8 MB range: ~2 ms).
function xorInto(target, base) {
  let done = 0;
  if (target.byteOffset % 4 === 0 && base.byteOffset % 4 === 0) {
    const words = target.length >>> 2;
    const left = new Uint32Array(target.buffer, target.byteOffset, words);
    const right = new Uint32Array(base.buffer, base.byteOffset, words);
    for (let i = 0; i < words; i++) left[i] ^= right[i];
    done = words * 4;
  }
  for (let i = done; i < target.length; i++) target[i] ^= base[i];
}
