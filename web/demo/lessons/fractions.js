/* A five-question quiz that reports to the tracker through the one-tag embed. */
(async () => {
  "use strict";
  const LESSON = {
    id: "fractions-with-like-denominators",
    name: "Fractions with Like Denominators",
    course: { subject: "Math", grade: 3 },
  };
  // [prompt, bars to draw [numerator, denominator][], choices, index of the right one]
  const QUESTIONS = [
    ["1/5 + 2/5 = ?", [[1, 5], [2, 5]], ["3/5", "3/10", "2/5"], 0],
    ["3/8 + 4/8 = ?", [[3, 8], [4, 8]], ["7/16", "7/8", "1/8"], 1],
    ["5/6 − 1/6 = ?", [[5, 6], [1, 6]], ["4/0", "6/6", "4/6"], 2],
    ["2/4 + 2/4 = ?", [[2, 4], [2, 4]], ["1 whole", "4/8", "2/4"], 0],
    ["Which is more: 3/7 or 5/7?", [[3, 7], [5, 7]], ["3/7", "5/7", "They are equal"], 1],
  ];
  // The app's XP rules: 1 XP per focused minute, none below 80 %, mastery at 90 % or more.
  const xpFor = (activeMs, correct, total) =>
    correct / total < 0.8 ? 0 : Math.max(1, Math.round(activeMs / 60000));

  const email = await demo.requireUser();
  demo.header("catalogue", email);
  const panel = demo.panel;

  // Starts at once: while Python boots, timeback.js queues the call with its time.
  const activity = timeback.activity.start({
    ...LESSON,
    onFlush: (ms) => panel.flush(ms),
    onError: (error, context) => panel.error(error.message, context),
    onPause: () => panel.setNote("Paused: no active time is counted."),
    onResume: () => panel.setNote("Resumed: a fresh window is open."),
  });
  window.lesson = { activity }; // for the curious (and the tests)
  panel.attach(demo.jsSource(activity));
  timeback.ready.then(
    () => panel.setNote("Heartbeats every 15 s, on tab hide, on pause and when you leave."),
    (error) => panel.error(error.message, { type: "boot" }),
  );

  const box = document.querySelector("[data-question]");
  const steps = document.querySelector("[data-steps]");
  let index = 0;
  let correct = 0;

  function bar([n, d]) {
    const w = 300, h = 30, cell = w / d;
    let cells = "";
    for (let i = 0; i < d; i++) {
      cells += `<rect x="${i * cell + 1}" y="1" width="${cell - 2}" height="${h - 2}" rx="4"
        fill="${i < n ? "#4338ca" : "#eef0ff"}" stroke="#c7cbe8"/>`;
    }
    return `<svg width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${n} of ${d} parts shaded">${cells}</svg>`;
  }

  function renderSteps() {
    steps.innerHTML = QUESTIONS.map(
      (_, i) => `<span class="${i < index ? "done" : i === index ? "current" : ""}"></span>`,
    ).join("");
  }

  function show() {
    renderSteps();
    const [prompt, bars, choices] = QUESTIONS[index];
    box.innerHTML = `<fieldset class="question">
        <legend>Question ${index + 1} of ${QUESTIONS.length}: ${prompt}</legend>
        <div class="figure figure--column">${bars.map(bar).join("")}</div>
        <div class="choices">${choices
          .map((c, i) => `<button type="button" class="choice" data-choice="${i}">${c}</button>`)
          .join("")}</div>
        <p class="feedback" data-feedback role="status"></p>
      </fieldset>
      <button class="btn" type="button" data-next hidden>${index + 1 < QUESTIONS.length ? "Next question" : "Finish lesson"}</button>`;
    box.querySelectorAll("[data-choice]").forEach((button) =>
      button.addEventListener("click", () => answer(Number(button.dataset.choice))),
    );
    box.querySelector("[data-choice]").focus();
  }

  function answer(choice) {
    const right = QUESTIONS[index][3];
    const ok = choice === right;
    if (ok) correct += 1;
    box.querySelectorAll("[data-choice]").forEach((button, i) => {
      button.disabled = true;
      button.setAttribute("aria-pressed", String(i === choice));
      if (i === right) button.classList.add("is-right");
      else if (i === choice) button.classList.add("is-wrong");
    });
    const feedback = box.querySelector("[data-feedback]");
    feedback.className = `feedback ${ok ? "ok" : "bad"}`;
    feedback.textContent = ok ? "Correct!" : `Not quite: it is ${QUESTIONS[index][2][right]}.`;
    const next = box.querySelector("[data-next]");
    next.hidden = false;
    next.focus();
    next.addEventListener("click", () => {
      index += 1;
      if (index < QUESTIONS.length) show();
      else finish();
    });
  }

  async function finish() {
    index = QUESTIONS.length;
    renderSteps();
    const total = QUESTIONS.length;
    const xpEarned = xpFor(activity.totalActiveMs, correct, total);
    const masteredUnits = correct / total >= 0.9 ? 1 : 0;
    const data = { xpEarned, totalQuestions: total, correctQuestions: correct, masteredUnits };
    box.innerHTML = `<div class="result"><p class="muted">Sending your result…</p></div>`;
    try {
      await activity.end(data);
    } catch (error) {
      box.innerHTML = `<div class="alert alert--bad" role="alert">Could not save the result: ${demo.escape(error.message)}</div>
        <button class="btn" type="button" data-retry>Try again</button>`;
      box.querySelector("[data-retry]").addEventListener("click", finish);
      return;
    }
    box.innerHTML = `<div class="result" data-result>
        <p class="eyebrow">Lesson complete</p>
        <div class="result__big">${correct}/${total}</div>
        <div class="result__facts">
          <span class="badge badge--accent" data-xp="${xpEarned}">${xpEarned} XP</span>
          <span class="badge">${demo.duration(activity.totalActiveMs)} active</span>
          <span class="badge ${masteredUnits ? "badge--ok" : ""}">${masteredUnits ? "Mastered" : "Not mastered yet"}</span>
        </div>
        <p class="muted">Sent with <code>end(${demo.escape(JSON.stringify(data))})</code></p>
        <p><a class="btn" href="../dashboard.html">See the dashboard</a>
           <a class="btn btn--ghost" href="../index.html">More lessons</a></p>
      </div>`;
  }

  show();
})();
