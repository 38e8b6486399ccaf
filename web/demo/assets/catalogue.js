/* The catalogue: the courses of timeback.config.json with the lessons of lessons.json. */
(async () => {
  "use strict";
  const email = await demo.requireUser();
  demo.header("catalogue", email);
  document.querySelector("[data-greeting]").textContent = `Welcome, ${email.split("@")[0]}`;

  const [config, { lessons }, board, { runs }] = await Promise.all([
    fetch(demo.url("timeback.config.json"), { credentials: "same-origin" }).then((r) => r.json()),
    fetch(demo.url("lessons.json"), { credentials: "same-origin" }).then((r) => r.json()),
    demo.api(`demo/api/dashboard?tz=${encodeURIComponent(zone())}`).catch(() => null),
    demo.api("demo/api/runs").catch(() => ({ runs: {} })),
  ]);

  function zone() {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  }
  const matches = (course, selector) =>
    "code" in selector
      ? course.courseCode === selector.code
      : course.subject === selector.subject && course.grade === selector.grade;
  const gradeName = (grade) =>
    grade === 0 ? "Kindergarten" : grade === -1 ? "Pre-K" : grade === 13 ? "AP" : `Grade ${grade}`;
  const title = (course) =>
    [course.subject, course.grade != null ? gradeName(course.grade) : null].filter(Boolean).join(" · ");
  const progressOf = (course) =>
    board &&
    board.courses.find((c) =>
      course.courseCode ? c.code === course.courseCode : c.subject === course.subject && c.grade === course.grade,
    );
  const KIND = {
    JavaScript: ["badge--accent", "JavaScript · one-tag embed"],
    Python: ["badge--ok", "Python · PyScript"],
    Stateful: ["badge--warn", "Stateful · resumed runId"],
  };

  function best(lesson) {
    if (!board) return null;
    const done = board.gradebook.filter(
      (g) => g.kind === "activity" && g.activityUrl && g.activityUrl.endsWith(`/${lesson.id}`),
    );
    if (!done.length) return null;
    return done.reduce((a, b) => ((b.score ?? 0) > (a.score ?? 0) ? b : a));
  }
  function minutesOn(lesson) {
    if (!board) return 0;
    const row = board.activities.find((a) => a.activityUrl.endsWith(`/${lesson.id}`));
    return row ? row.activeMinutes : 0;
  }

  const html = config.courses
    .map((course) => {
      const list = lessons.filter((lesson) => matches(course, lesson.course));
      if (!list.length) return "";
      const progress = progressOf(course);
      const pct = progress && progress.pctComplete != null ? progress.pctComplete : 0;
      const selector = course.courseCode ? `{ code: "${course.courseCode}" }` : `{ subject: "${course.subject}", grade: ${course.grade} }`;
      const cards = list
        .map((lesson) => {
          const [tone, label] = KIND[lesson.kind] || ["", lesson.kind];
          const grade = best(lesson);
          const run = runs[lesson.id];
          const status =
            run && !run.completed && run.step > 0
              ? `<span class="badge" data-run-step="${run.step}">Part ${run.step + 1} of ${run.parts} next</span>`
              : grade
                ? `<span class="badge badge--ok">Done · ${grade.score != null ? Math.round(grade.score) + "%" : "completed"}</span>`
                : "";
          const spent = minutesOn(lesson);
          return `<article class="card lesson-card" data-lesson="${demo.escape(lesson.id)}">
              <div class="badges"><span class="badge ${tone}">${label}</span>${status}</div>
              <h3><a href="${demo.url(lesson.href)}">${demo.escape(lesson.name)}</a></h3>
              <p>${demo.escape(lesson.summary)}</p>
              <div class="lesson-card__meta"><span>≈ ${lesson.minutes} min</span><span aria-hidden="true">·</span>
                <span>${spent ? `${demo.minutes(spent)} active min so far` : "not started"}</span></div>
            </article>`;
        })
        .join("");
      return `<section class="course" aria-labelledby="course-${demo.escape(course.courseCode || course.subject + course.grade)}">
          <div class="course__head">
            <div><h2 id="course-${demo.escape(course.courseCode || course.subject + course.grade)}">${demo.escape(title(course))}</h2>
              <div class="small muted">Course ${demo.escape(course.courseCode || `${course.subject} G${course.grade}`)} · selector <code>${demo.escape(selector)}</code></div></div>
            <div class="course__progress"><div class="progress" role="progressbar" aria-label="Course progress" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${pct}"><span></span></div><strong>${pct}%</strong></div>
          </div>
          <div class="grid grid--cards">${cards}</div>
        </section>`;
    })
    .join("");
  document.querySelector("[data-courses]").innerHTML = html || `<p class="empty">No lessons match the courses of timeback.config.json.</p>`;
})();
