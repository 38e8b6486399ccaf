// A React lesson that tracks its time with useActivity. Rendered under StrictMode, whose
// double mount must still give one activity (one run).

import { useActivity } from "lesson-time-tracker/react";
import { StrictMode, useState } from "react";
import { createRoot } from "react-dom/client";

const LESSON = { id: "fractions-1", name: "Fractions", course: { subject: "Math", grade: 3 } };

function Lesson() {
  const { activity, isPaused, isEnded, error, end } = useActivity(LESSON);
  window.lesson = { activity, isPaused, isEnded, error: error?.message };
  if (!activity) return <p id="status">starting…</p>;
  return (
    <section>
      <p id="status">{isEnded ? "done" : isPaused ? "paused" : "working"}</p>
      <button
        id="finish"
        type="button"
        disabled={isEnded}
        onClick={() => end({ xpEarned: 3, totalQuestions: 4, correctQuestions: 3 })}
      >
        Finish
      </button>
    </section>
  );
}

function App() {
  const [open, setOpen] = useState(true);
  return (
    <main>
      <button id="toggle" type="button" onClick={() => setOpen(!open)}>
        {open ? "Leave the lesson" : "Back to the lesson"}
      </button>
      {open && <Lesson />}
    </main>
  );
}

createRoot(document.getElementById("root")).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
