// A runId made in the page, so that JS and Python agree on it from the call to start().
function uuid4(cryptoApi) {
  if (typeof cryptoApi.randomUUID === "function") return cryptoApi.randomUUID();
  // crypto.randomUUID exists only in secure contexts; a lesson page may be plain http.
  const b = cryptoApi.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
