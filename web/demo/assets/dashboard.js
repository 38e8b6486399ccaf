/* The dashboard: /demo/api/dashboard for the numbers, /demo/api/events for the live feed. */
(async () => {
  "use strict";
  const email = await demo.requireUser();
  demo.header("dashboard", email);
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const $ = (selector) => document.querySelector(selector);
  const esc = demo.escape;
  const SVG = "http://www.w3.org/2000/svg";

  // ---- charts (inline SVG, no library) -------------------------------------------------
  function niceMax(value) {
    if (value <= 1) return 1;
    const power = 10 ** Math.floor(Math.log10(value));
    for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
    return 10 * power;
  }

  // Drawn at the container's own width, so text stays at its CSS size.
  const widthOf = (selector) => Math.max(280, Math.round($(selector).clientWidth || 480));

  function dayChart(days, W) {
    const H = 220, left = 34, bottom = 28, top = 18;
    const max = niceMax(Math.max(...days.map((d) => d.activeMinutes), 1));
    const slot = (W - left) / days.length;
    const bar = Math.min(44, slot * 0.6);
    const y = (v) => top + (H - top - bottom) * (1 - v / max);
    let out = "";
    for (const t of [0, 0.5, 1]) {
      out += `<line class="grid-line" x1="${left}" x2="${W}" y1="${y(max * t)}" y2="${y(max * t)}"/>
        <text x="${left - 6}" y="${y(max * t) + 4}" text-anchor="end">${demo.minutes(max * t)}</text>`;
    }
    days.forEach((d, i) => {
      const x = left + slot * i + (slot - bar) / 2;
      const h = y(0) - y(d.activeMinutes);
      const day = new Date(`${d.date}T12:00:00Z`);
      const label = i === days.length - 1 ? "Today" : day.toLocaleDateString("en-US", { weekday: "short", timeZone: "UTC" });
      out += `<rect class="bar ${i === days.length - 1 ? "bar--today" : ""}" x="${x}" y="${y(d.activeMinutes)}" width="${bar}" height="${Math.max(h, d.activeMinutes ? 2 : 0)}" rx="5">
          <title>${d.date}: ${d.activeMinutes} active minutes, ${d.xp} XP</title></rect>
        <text x="${x + bar / 2}" y="${H - 8}" text-anchor="middle">${label}</text>
        ${d.activeMinutes ? `<text class="value" x="${x + bar / 2}" y="${y(d.activeMinutes) - 5}" text-anchor="middle">${demo.minutes(d.activeMinutes)}</text>` : ""}`;
    });
    const summary = days.map((d) => `${d.date} ${d.activeMinutes} min`).join(", ");
    return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="Active minutes per day: ${esc(summary)}">${out}</svg>`;
  }

  function activityChart(activities, W) {
    if (!activities.length) return `<p class="empty">No active time yet.</p>`;
    const row = 46, labelW = 0, H = activities.length * row + 6;
    const max = niceMax(Math.max(...activities.map((a) => a.activeMinutes), 1));
    const barW = W - 80;
    let out = "";
    activities.forEach((a, i) => {
      const y0 = i * row;
      const w = Math.max(2, (barW * a.activeMinutes) / max);
      out += `<text x="${labelW}" y="${y0 + 14}" class="value">${esc(a.name)}</text>
        <rect class="bar" x="${labelW}" y="${y0 + 20}" width="${w}" height="14" rx="5"><title>${esc(a.name)}: ${a.activeMinutes} min in ${a.windows} windows</title></rect>
        <text x="${labelW + w + 8}" y="${y0 + 32}">${demo.minutes(a.activeMinutes)} min</text>`;
    });
    const summary = activities.map((a) => `${a.name} ${a.activeMinutes} min`).join(", ");
    return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="Active minutes per activity: ${esc(summary)}">${out}</svg>`;
  }

  // ---- panels -------------------------------------------------------------------------
  function goal(el, value, target, unit) {
    if (!target) return (el.innerHTML = "");
    const pct = Math.min(100, Math.round((100 * value) / target));
    el.innerHTML = `<div class="progress ${pct >= 100 ? "progress--ok" : ""}" role="progressbar" aria-label="Daily goal" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${pct}"><span></span></div>
      <div class="small muted goal-note">${pct}% of the daily goal (${target} ${unit})</div>`;
  }

  function courseName(c) {
    return c.code ? `${c.code} · ${c.subject}${c.grade != null ? ` G${c.grade}` : ""}` : `${c.subject} · Grade ${c.grade}`;
  }

  function progress(courses) {
    return courses
      .map((c) => {
        const pct = c.pctComplete ?? 0;
        const done = c.completed ? `<span class="badge badge--ok">Completed</span>` : "";
        return `<div class="progress-row" data-course="${esc(c.code || `${c.subject} G${c.grade}`)}" data-pct="${pct}">
          <div><strong>${esc(courseName(c))}</strong> ${done}<div class="small muted">${c.masteredUnits} of ${c.totalLessons ?? "?"} lessons mastered · ${c.xp.allTime} XP</div></div>
          <div class="progress ${c.completed ? "progress--ok" : ""}" role="progressbar" aria-label="${esc(courseName(c))} progress" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${pct}"><span></span></div>
          <strong>${pct}%</strong></div>`;
      })
      .join("");
  }

  function gradebook(entries) {
    const rows = entries.filter((g) => g.kind === "activity");
    if (!rows.length) return `<p class="empty">No completions yet.</p>`;
    const when = (iso) => new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });
    return `<table><thead><tr><th>Activity</th><th>Course</th><th class="num">Attempt</th><th class="num">Score</th>
        <th class="num">XP</th><th>Mastered</th><th>Completed</th></tr></thead><tbody>${rows
          .map((g) => {
            const score = g.totalQuestions != null ? `${g.correctQuestions}/${g.totalQuestions} · ${g.score}%` : "–";
            const xp = g.xpClaimed != null && g.xpClaimed !== g.xpCredited ? `${g.xpCredited} <span class="small muted">(claimed ${g.xpClaimed})</span>` : `${g.xpCredited ?? "–"}`;
            const flag = g.xpFlagged ? ` <span class="badge" data-xp-flagged title="more XP than the run's counted minutes">above minutes</span>` : "";
            return `<tr data-activity="${esc(g.activityUrl.split("/").pop())}" data-attempt="${g.attempt}" data-score="${g.score ?? ""}" data-xp="${g.xpCredited ?? ""}">
              <td>${esc(g.name || g.activityUrl)}</td><td>${esc(g.course || "")}</td><td class="num">${g.attempt}</td>
              <td class="num">${score}</td><td class="num">${xp}${flag}</td>
              <td>${g.masteredUnits ? `<span class="badge badge--ok">${g.masteredUnits} unit${g.masteredUnits > 1 ? "s" : ""}</span>` : "–"}</td>
              <td>${when(g.endedAt || g.recordedAt)}</td></tr>`;
          })
          .join("")}</tbody></table>`;
  }

  function charts(data) {
    $('[data-chart="days"]').innerHTML = dayChart(data.days, widthOf('[data-chart="days"]'));
    $('[data-chart="activities"]').innerHTML = activityChart(
      data.activities,
      widthOf('[data-chart="activities"]'),
    );
  }
  let resizing = null;
  addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => window.dashboard && charts(window.dashboard), 150);
  });

  let goals = { xp: 0, minutes: 0 };
  async function refresh() {
    const data = await demo.api(`demo/api/dashboard?tz=${encodeURIComponent(zone)}`);
    // The answer holds the first page of each list; the rest follow their cursors.
    data.gradebook = await demo.allPages(data.gradebook, data.gradebookNextCursor, "demo/api/gradebook", "gradebook");
    data.activities = await demo.allPages(
      data.activities,
      data.activitiesNextCursor,
      "demo/api/activities",
      "activities",
    );
    window.dashboard = data; // for the curious (and the tests)
    $('[data-stat="xp-today"]').textContent = data.xp.today;
    $('[data-stat="xp-all"]').textContent = data.xp.allTime;
    $('[data-stat="minutes-today"]').textContent = demo.minutes(data.activeMinutes.today);
    $('[data-stat="minutes-all"]').textContent = demo.minutes(data.activeMinutes.allTime);
    goals = data.courses.reduce(
      (sum, c) => ({ xp: sum.xp + (c.goals.dailyXp || 0), minutes: sum.minutes + (c.goals.dailyActiveMinutes || 0) }),
      { xp: 0, minutes: 0 },
    );
    goal($('[data-goal="xp"]'), data.xp.today, goals.xp, "XP");
    goal($('[data-goal="minutes"]'), data.activeMinutes.today, goals.minutes, "minutes");
    $("[data-zone]").textContent = `last 7 days · ${data.timeZone}`;
    charts(data);
    $("[data-progress]").innerHTML = progress(data.courses);
    $("[data-gradebook]").innerHTML = gradebook(data.gradebook);
    document.body.dataset.loaded = String(Date.now());
  }

  // ---- live feed --------------------------------------------------------------------
  let last = 0;
  let shown = 0;
  function summary(event) {
    const items = Object.fromEntries(((event.generated && event.generated.items) || []).map((i) => [i.type, i.value]));
    const name = (event.object && event.object.activity && event.object.activity.name) || "";
    if (event.type === "TimeSpentEvent") {
      const parts = [`active ${items.active ?? 0} s`];
      if (items.inactive) parts.push(`inactive ${items.inactive} s`);
      return `${esc(name)} · ${parts.join(" · ")}`;
    }
    if (event.type === "ActivityEvent") {
      const parts = [`${event.action}`];
      if (items.xpEarned != null) parts.push(`${items.xpEarned} XP`);
      if (items.totalQuestions != null) parts.push(`${items.correctQuestions}/${items.totalQuestions}`);
      if (event.generated && event.generated.attempt) parts.push(`attempt ${event.generated.attempt}`);
      return `${esc(name)} · ${parts.join(" · ")}`;
    }
    return esc((event && event.type) || "");
  }
  async function poll() {
    try {
      const data = await demo.api(`demo/api/events?after=${last}&limit=50`);
      $("[data-live]").style.visibility = "visible";
      if (data.events.length) {
        const feed = $("[data-feed]");
        if (!shown) feed.innerHTML = "";
        for (const item of data.events) {
          const event = item.event;
          const tone = item.type === "ActivityEvent" ? "badge--ok" : item.type === "TimeSpentEvent" ? "badge--accent" : "";
          const li = document.createElement("li");
          li.className = "is-new";
          li.dataset.type = item.type;
          li.innerHTML = `<details><summary><span class="badge ${tone}">${esc(item.type)}</span>
              <span class="summary">${summary(event)}</span><span class="t">${new Date(item.eventTime).toLocaleTimeString("en-GB")}</span></summary>
            <pre class="json">${demo.json(event)}</pre></details>`;
          feed.prepend(li);
          shown += 1;
        }
        while (feed.children.length > 100) feed.lastElementChild.remove();
        $("[data-feed-count]").textContent = `${shown} events · polling every 1.5 s`;
        refresh().catch(() => {});
      }
      last = data.last;
    } catch (error) {
      $("[data-feed-count]").textContent = `feed paused: ${error.message}`;
    }
    setTimeout(poll, 1500);
  }

  await refresh();
  poll();
  setInterval(() => refresh().catch(() => {}), 10000);
})();
