// Active time while Python boots, counted as the time engine counts it: active when not
// paused and, with visibilityAware, visible (W3); time in the back/forward cache is in no
// window (P2). Every time is rounded to whole ms first, as Python rounds browser times (T3),
// so a boot window's numbers add up exactly (W2).

/**
 * {active, paused}: whole ms of [from, to] (whole ms), where `paused` is the counted time
 * that was not active (paused or hidden; wire §1 pausedMs).
 *   pauses:  the activity's pause()/resume() calls, [{t, paused}] in call order
 *   log:     {initiallyHidden, entries} of the BootLog
 *   visibilityAware: false makes hidden time active time (H3)
 */
function bootTime({ from, to, pauses, log, visibilityAware }) {
  const events = pauses.map((p) => ({ t: Math.round(p.t), paused: p.paused }));
  for (const entry of log.entries) {
    const t = Math.round(entry.t);
    if (entry.type === VISIBILITY) {
      if (visibilityAware) events.push({ t, hidden: entry.hidden });
    } else if (entry.persisted) {
      events.push({ t, frozen: entry.type === PAGE_HIDE });
    }
  }
  events.sort((a, b) => a.t - b.t); // stable: events of one ms keep their order
  const state = { paused: false, hidden: visibilityAware && log.initiallyHidden, frozen: false };
  let at = from;
  let active = 0;
  let paused = 0;
  const count = (until) => {
    if (until <= at) return;
    if (!state.frozen) {
      if (state.paused || state.hidden) paused += until - at;
      else active += until - at;
    }
    at = until;
  };
  for (const event of events) {
    if (event.t > to) break;
    count(event.t);
    if ("paused" in event) state.paused = event.paused;
    else if ("hidden" in event) state.hidden = event.hidden;
    else state.frozen = event.frozen;
  }
  count(to);
  return { active, paused };
}
