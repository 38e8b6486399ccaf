// useActivity: a React hook that runs one tracked activity for the life of a component.
// The activity starts when the component mounts and, if the lesson did not end it, ends with
// its time only (no completion) when the component unmounts.
import { useCallback, useEffect, useRef, useState } from "react";
import { loadTimeback } from "./index.js";

function withTimeback(load, use) {
  // Already on the page: start in the same task as the mount, so startedAt is the mount (B1).
  if (typeof window !== "undefined" && window.timeback) {
    use(window.timeback);
    return Promise.resolve();
  }
  return loadTimeback(load).then(use);
}

export function useActivity(params, options = {}) {
  const { enabled = true, load } = options;
  const [state, setState] = useState({
    activity: null,
    isPaused: false,
    isEnded: false,
    error: null,
  });
  const latest = useRef(params);
  latest.current = params;
  const loadOptions = useRef(load); // read when the activity starts, not a reason to restart
  const slot = useRef({ activity: null, key: null, teardown: null, cancelled: false });
  // A new id or runId is a new activity; other changes (callbacks, names) are not.
  const key = params ? `${params.id}\u0000${params.runId ?? ""}` : null;

  useEffect(() => {
    if (!enabled || key === null) return undefined;
    const current = slot.current;
    if (current.teardown !== null && current.key === key) {
      // StrictMode mounts, unmounts and mounts again at once: keep the first activity
      // rather than ending it and starting a second run of the same lesson.
      clearTimeout(current.teardown);
      current.teardown = null;
    } else {
      current.cancelled = false;
      current.key = key;
      withTimeback(loadOptions.current, (timeback) => {
        if (current.cancelled) return;
        const p = latest.current;
        const activity = timeback.activity.start({
          ...p,
          onPause: () => {
            setState((s) => ({ ...s, isPaused: true }));
            latest.current.onPause?.();
          },
          onResume: () => {
            setState((s) => ({ ...s, isPaused: false }));
            latest.current.onResume?.();
          },
          onFlush: (ms) => latest.current.onFlush?.(ms),
          onError: (error, context) => {
            setState((s) => ({ ...s, error }));
            if (latest.current.onError) latest.current.onError(error, context);
            else console.warn(`timeback: ${context.type} failed:`, error.message);
          },
        });
        current.activity = activity;
        setState({ activity, isPaused: activity.isPaused, isEnded: false, error: null });
      }).catch((error) => {
        if (!current.cancelled) setState((s) => ({ ...s, error }));
      });
    }
    return () => {
      // Deferred by one task so that a StrictMode remount can take the activity back.
      current.teardown = setTimeout(() => {
        current.teardown = null;
        current.cancelled = true;
        const activity = current.activity;
        current.activity = null;
        current.key = null;
        if (activity && !activity.isEnded) {
          activity.end().catch((error) => console.warn("timeback: end() failed:", error.message));
        }
      }, 0);
    };
  }, [enabled, key]);

  const end = useCallback(async (data) => {
    const activity = slot.current.activity;
    if (!activity) throw new Error("useActivity: the activity has not started");
    await activity.end(data);
    setState((s) => ({ ...s, isEnded: true }));
  }, []);

  return { ...state, end };
}
