/*
 * A stateful lesson: one part per visit. The server keeps the run (runId, step, answers)
 * per user and lesson; each visit starts the tracker with the saved runId, so every
 * heartbeat of every visit belongs to one run. After the last part the page flushes its
 * time with end() and asks the server to complete the run: the server scores the saved
 * answers and calls activity.record() for the signed-in user.
 */
(async () => {
  "use strict";
  const LESSON_ID = "the-lighthouse-keeper";
  const LESSON = { id: LESSON_ID, name: "The Lighthouse Keeper", course: { code: "READ-4" } };
  const route = `demo/api/lessons/${LESSON_ID}`;
  const box = document.querySelector("[data-story]");
  const panel = demo.panel;

  const email = await demo.requireUser();
  demo.header("catalogue", email);
  const [run, story] = await Promise.all([
    demo.api(`${route}/run`),
    fetch(new URL("story.json", location.href)).then((r) => r.json()),
  ]);
  window.lesson = { run };

  if (run.completed) {
    panel.setNote("This run is complete: no activity is running.");
    return showResult(run);
  }

  const activity = timeback.activity.start({
    ...LESSON,
    runId: run.runId, // the saved run: every visit adds its time to the same run
    onFlush: (ms) => panel.flush(ms),
    onError: (error, context) => panel.error(error.message, context),
    onPause: () => panel.setNote("Paused: no active time is counted."),
    onResume: () => panel.setNote("Resumed: a fresh window is open."),
  });
  window.lesson.activity = activity;
  panel.attach(demo.jsSource(activity));
  showPart(run);

  function steps(done, current) {
    return `<div class="steps" aria-hidden="true">${story.parts
      .map((_, i) => `<span class="${i < done ? "done" : i === current ? "current" : ""}"></span>`)
      .join("")}</div>`;
  }

  function visitLine(current) {
    const where = current.visits > 1 ? "welcome back, you continue where you stopped" : "first visit";
    return `<p class="small muted" data-visit="${current.visits}">Visit ${current.visits} · ${where}</p>`;
  }

  function showPart(current) {
    const p = current.step;
    const part = story.parts[p];
    const questions = part.questions
      .map((q, i) => {
        const name = `q-${p}-${i}`;
        const choices = q.choices
          .map(
            (choice, c) => `<label class="choice-row">
              <input type="radio" name="${name}" value="${c}" required> ${demo.escape(choice)}</label>`,
          )
          .join("");
        return `<fieldset class="question"><legend>${demo.escape(q.prompt)}</legend>${choices}</fieldset>`;
      })
      .join("");
    box.innerHTML = `${steps(p, p)}${visitLine(current)}
      <h2>${demo.escape(part.title)}</h2>
      ${part.text.map((t) => `<p>${demo.escape(t)}</p>`).join("")}
      <form data-part novalidate><h3 class="quiz-title">Check your reading</h3>${questions}
        <p class="feedback bad" data-missing role="alert"></p>
        <button class="btn" type="submit">${p + 1 < story.parts.length ? `Save part ${p + 1}` : "Finish the story"}</button>
      </form>`;
    box.querySelector("[data-part]").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = event.currentTarget;
      const answers = { ...current.answers };
      for (let i = 0; i < part.questions.length; i++) {
        const checked = form.querySelector(`input[name="q-${p}-${i}"]:checked`);
        if (!checked) {
          form.querySelector("[data-missing]").textContent = "Answer every question first.";
          return;
        }
        answers[`${p}.${i}`] = Number(checked.value);
      }
      form.querySelector("button").disabled = true;
      const saved = await demo.api(`${route}/run`, { method: "PUT", json: { step: p + 1, answers } });
      window.lesson.run = saved;
      if (saved.step < story.parts.length) await showSaved(saved);
      else await complete();
    });
  }

  async function showSaved(current) {
    // This visit is over: its time stops here, not when the student closes the tab.
    await activity.end().catch((error) => panel.error(error.message, { type: "timeSpent" }));
    panel.setNote(`Visit saved: its time went to run ${current.runId.slice(0, 8)}…; the next visit resumes the same run.`);
    box.innerHTML = `${steps(current.step, -1)}
      <div class="result" data-saved="${current.step}">
        <p class="eyebrow">Part ${current.step} of ${story.parts.length} saved</p>
        <h2>See you next time</h2>
        <p class="muted">The next part opens on your next visit. The time of every visit
          adds up to this story.</p>
        <p><a class="btn" href="${location.pathname}" data-continue>Continue now (new visit)</a>
           <a class="btn btn--ghost" href="../index.html">Back to lessons</a></p>
      </div>`;
  }

  async function complete() {
    box.innerHTML = `<div class="result"><p class="muted">Saving your time, then asking the server to record the completion…</p></div>`;
    try {
      await activity.end(); // flushes the open window; no completion from the browser
      const done = await demo.api(`${route}/complete`, { method: "POST", json: {} });
      window.lesson.run = done;
      showResult(done);
    } catch (error) {
      box.innerHTML = `<div class="alert alert--bad" role="alert">Could not complete: ${demo.escape(error.message)}</div>
        <button class="btn" type="button" data-retry>Try again</button>`;
      box.querySelector("[data-retry]").addEventListener("click", complete);
    }
  }

  function showResult(current) {
    const r = current.result;
    panel.setNote(`The server called activity.record() with run ${current.runId.slice(0, 8)}…, the same runId as every heartbeat.`);
    box.innerHTML = `${steps(story.parts.length, -1)}
      <div class="result" data-result>
        <p class="eyebrow">Story complete</p>
        <div class="result__big">${r.correctQuestions}/${r.totalQuestions}</div>
        <div class="result__facts">
          <span class="badge badge--accent" data-xp="${r.xpCredited}">${r.xpCredited} XP</span>
          <span class="badge">${r.activeMinutes} active min over ${current.visits} visits</span>
          <span class="badge">attempt ${r.attempt}</span>
          <span class="badge ${r.masteredUnits ? "badge--ok" : ""}">${r.masteredUnits ? "Mastered" : "Not mastered yet"}</span>
        </div>
        <p><a class="btn" href="../dashboard.html">See the dashboard</a>
           <button class="btn btn--ghost" type="button" data-restart>Read it again</button></p>
      </div>`;
    box.querySelector("[data-restart]").addEventListener("click", async () => {
      await demo.api(`${route}/run/restart`, { method: "POST", json: {} });
      location.reload();
    });
  }
})();
