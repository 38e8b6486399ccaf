// A Vue lesson that tracks its time with useActivity. The page has no timeback.js tag:
// the composable loads the embed itself (the `load` option).

import { useActivity } from "lesson-time-tracker/vue";
import { createApp, defineComponent, h } from "vue";

const LESSON = { id: "story-1", name: "A Story", course: { code: "READ-1" } };
const LOAD = {
  src: "/timeback/timeback.js",
  base: "/api/timeback",
  config: "/timeback.config.json",
};

const Lesson = defineComponent({
  setup() {
    const { activity, isEnded, end } = useActivity(LESSON, { load: LOAD });
    window.lesson = { activity, isEnded, end };
    return () =>
      h("section", [
        h(
          "p",
          { id: "status" },
          activity.value ? (isEnded.value ? "done" : "working") : "starting…",
        ),
        h(
          "button",
          { id: "finish", type: "button", onClick: () => end({ xpEarned: 2 }) },
          "Finish",
        ),
      ]);
  },
});

window.app = createApp(Lesson);
window.app.mount("#root");
