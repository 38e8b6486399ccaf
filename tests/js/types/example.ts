// A consumer of the npm package as an app would write it: tsc --noEmit must accept every
// line, and must reject each line marked @ts-expect-error (else the check proves nothing).
import { type Activity, loadTimeback, type StartParams, type Timeback } from "lesson-time-tracker";
import { useActivity as useReactActivity } from "lesson-time-tracker/react";
import { useActivity as useVueActivity } from "lesson-time-tracker/vue";

const params: StartParams = {
  id: "fractions-1",
  name: "Fractions",
  course: { subject: "Math", grade: 3 },
  time: { flushIntervalMs: 30000, hiddenTimeoutMs: null, retryDelaysMs: [100, 300] },
  process: false,
  onError: (error, context) => console.warn(context.type, context.runId, error.message),
  onFlush: (ms) => console.log(ms.toFixed(0)),
};

export async function lesson(): Promise<number> {
  const timeback: Timeback = await loadTimeback({ base: "/api/timeback" });
  await timeback.ready;
  const activity: Activity = timeback.activity.start(params);
  activity.pause();
  activity.resume();
  await activity.flushTimeSpent();
  const started: Date = activity.startedAt;
  await activity.end({ xpEarned: 8, totalQuestions: 10, correctQuestions: 8, time: { active: 1 } });
  const current: Activity | null = window.timeback.activity.current;
  return started.getTime() + activity.totalActiveMs + (current ? 1 : 0);
}

export function useReactState() {
  const state = useReactActivity(params, { enabled: true });
  const paused: boolean = state.isPaused;
  return paused ? state.end({ xpEarned: 1 }) : state.activity?.runId;
}

export function useVueState() {
  const { activity, isPaused, end } = useVueActivity(() => params);
  return isPaused.value ? end() : activity.value?.elapsedMs;
}

export function misuse(timeback: Timeback) {
  // @ts-expect-error: a course is a subject with a grade, or a code
  timeback.activity.start({ id: "x", name: "y", course: { subject: "Math" } });
  // @ts-expect-error: xpEarned is required in a completion
  void timeback.activity.start(params).end({ totalQuestions: 1 });
  // @ts-expect-error: current is read-only
  timeback.activity.current = null;
  // @ts-expect-error: flushIntervalMs is a number of ms
  timeback.activity.start({ ...params, time: { flushIntervalMs: "15s" } });
}
