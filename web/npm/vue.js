// useActivity: a Vue 3 composable that runs one tracked activity for the life of a
// component: started on mount, ended with its time only (no completion) on unmount unless
// the lesson ended it.
import { onBeforeUnmount, onMounted, ref, shallowRef, toValue } from "vue";
import { loadTimeback } from "./index.js";

export function useActivity(params, options = {}) {
  const activity = shallowRef(null);
  const isPaused = ref(false);
  const isEnded = ref(false);
  const error = shallowRef(null);
  let unmounted = false;

  function begin(timeback) {
    if (unmounted) return;
    const p = toValue(params); // a plain object, a ref or a getter
    activity.value = timeback.activity.start({
      ...p,
      onPause: () => {
        isPaused.value = true;
        p.onPause?.();
      },
      onResume: () => {
        isPaused.value = false;
        p.onResume?.();
      },
      onError: (err, context) => {
        error.value = err;
        if (p.onError) p.onError(err, context);
        else console.warn(`timeback: ${context.type} failed:`, err.message);
      },
    });
    isPaused.value = activity.value.isPaused;
  }

  onMounted(() => {
    if (window.timeback)
      begin(window.timeback); // same task as the mount (B1)
    else
      loadTimeback(options.load).then(begin, (err) => {
        error.value = err;
      });
  });

  onBeforeUnmount(() => {
    unmounted = true;
    const current = activity.value;
    if (current && !current.isEnded) {
      current.end().catch((err) => console.warn("timeback: end() failed:", err.message));
    }
  });

  async function end(data) {
    if (!activity.value) throw new Error("useActivity: the activity has not started");
    await activity.value.end(data);
    isEnded.value = true;
  }

  return { activity, isPaused, isEnded, error, end };
}
