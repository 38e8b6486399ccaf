import type { LoadOptions } from "./index";
import type { Activity, CompletionData, StartParams } from "./timeback";

export interface UseActivityOptions {
  /** false: do not start (yet). Default true. */
  enabled?: boolean;
  /** How to load the embed when the page has no timeback.js tag. */
  load?: LoadOptions;
}

export interface ActivityState {
  /** null until the activity started. */
  activity: Activity | null;
  isPaused: boolean;
  isEnded: boolean;
  /** The last error: the embed could not load, or a send failed (see onError). */
  error: Error | null;
  /** Ends the activity, with the completion when `data` is given. */
  end(data?: CompletionData): Promise<void>;
}

/** Runs one activity while the component is mounted; a new id or runId starts a new one. */
export function useActivity(
  params: StartParams | null,
  options?: UseActivityOptions,
): ActivityState;
