export * from "./timeback";

import type { Timeback } from "./timeback";

export interface LoadOptions {
  /** URL of timeback.js. Default "/timeback/timeback.js". */
  src?: string;
  /** Where the routes live (the tag's data-base). Default "/api/timeback". */
  base?: string;
  /** URL of timeback.config.json (the tag's data-config). */
  config?: string;
}

/** Adds the embed tag once and resolves with `window.timeback`. */
export function loadTimeback(options?: LoadOptions): Promise<Timeback>;
