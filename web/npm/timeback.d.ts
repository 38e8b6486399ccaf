/**
 * Types of the tracker's browser API: `window.timeback`, made by the one-tag embed
 * (`<script src="/timeback/timeback.js">`) and by `loadTimeback()` of this package.
 * The names and rules are those of docs/api.md; the rule codes (W1, B1, …) are those of
 * docs/time-model.md.
 */

/** A course of `timeback.config.json`, chosen by subject and grade or by its code. */
export type CourseSelector =
  | { subject: string; grade: number; code?: never }
  | { code: string; subject?: never; grade?: never };

/** The `time` options of `start()`; every one is optional and has the documented default. */
export interface TimeOptions {
  /** Window length between automatic flushes, whole ms ≥ 100 (W5). Default 15000. */
  flushIntervalMs?: number;
  /** Hidden time is paused time (W3). Default true. */
  visibilityAware?: boolean;
  /** Flush at once when the tab becomes hidden (W5). Default true. */
  flushOnVisibilityHidden?: boolean;
  /** On `pagehide`, send the open window by beacon (P1). Default true. */
  flushOnPageHide?: boolean;
  /** Hidden this long, the activity pauses (H1, H2); null or Infinity: never. Default 600000. */
  hiddenTimeoutMs?: number | null;
  /** Immediate retries of a failed send, 0–20 (R1). Default 0. */
  retryAttempts?: number;
  /** Wait before retry i; the last value repeats (R1). Default [100, 300, 1000]. */
  retryDelaysMs?: readonly number[];
}

/** What `onError` is told about the failed request. */
export interface ErrorContext {
  /** A heartbeat (never fatal, R2) or the completion of `end(data)`. */
  type: "timeSpent" | "completion";
  activityId: string;
  runId: string;
}

export interface StartParams {
  /** The activity's slug: stable and URL-safe, 1–200 characters. */
  id: string;
  /** Display name, 1–500 characters. */
  name: string;
  course: CourseSelector;
  /** A UUID; pass a stored one again to resume a run across page loads. Default: a new one. */
  runId?: string;
  /** `false`: no heartbeats, no listeners, no timers (H3). `true`/`null`: the defaults. */
  time?: TimeOptions | boolean | null;
  /** Sent with the completion; `false` asks the server not to process it. Default true. */
  process?: boolean;
  onError?: (error: Error, context: ErrorContext) => void;
  onPause?: () => void;
  onResume?: () => void;
  /** A heartbeat was acknowledged; the argument is the window's active ms. */
  onFlush?: (elapsedMs: number) => void;
}

/** The completion sent by `end(data)`. */
export interface CompletionData {
  /** XP for this activity, ≥ 0; 1 XP is one focused minute. */
  xpEarned: number;
  /** Whole number ≥ 0; only together with `correctQuestions`. */
  totalQuestions?: number;
  /** Whole number ≥ 0, at most `totalQuestions`; only together with it. */
  correctQuestions?: number;
  /** Lessons newly mastered in this activity (an increment). */
  masteredUnits?: number;
  /** Course progress 0–100, passed on unchanged. */
  pctComplete?: number;
  /** Replaces the tracked time with these totals in ms; the open window is dropped. */
  time?: { active?: number; inactive?: number };
}

/** The object `start()` returns. */
export interface Activity {
  readonly id: string;
  readonly runId: string;
  /** When `start()` was called (B1: the call, even during boot). */
  readonly startedAt: Date;
  readonly isPaused: boolean;
  /** True once an `end()` succeeded. */
  readonly isEnded: boolean;
  /** Active ms of the open window; back to 0 after each flush (W7). */
  readonly elapsedMs: number;
  /** Active ms of every flushed window plus the open one (W7). */
  readonly totalActiveMs: number;
  pause(): void;
  resume(): void;
  /** Sends the open window now (W6: sends are serialized); never rejects. */
  flushTimeSpent(): Promise<void>;
  /** Flushes, then sends the completion when `data` is given; rejects if that fails (R2). */
  end(data?: CompletionData): Promise<void>;
  toJSON(): {
    id: string;
    runId: string;
    startedAt: Date;
    isPaused: boolean;
    isEnded: boolean;
    totalActiveMs: number;
    elapsedMs: number;
  };
}

export interface ActivityApi {
  /** Throws `ActivityAlreadyRunningError` while another activity runs. */
  start(params: StartParams): Activity;
  /** The running activity, or null. */
  readonly current: Activity | null;
}

export interface Timeback {
  /** Resolves once Python runs and the calls queued meanwhile were replayed (B1). */
  readonly ready: Promise<void>;
  /**
   * Runs `fn` now. Before a `defer`/`async` tag has run, the stub snippet's `run` queues it
   * with its time, and `start()` inside it takes that time (docs/api.md, "Loading it").
   */
  run(fn: () => void): void;
  readonly activity: ActivityApi;
}

declare global {
  interface Window {
    timeback: Timeback;
  }
  // A classic script tag makes `timeback` a global of the page.
  var timeback: Timeback;
}
