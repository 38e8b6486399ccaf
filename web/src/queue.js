// B1: the calls made while booting, replayed in order with the time they were made.
//
// `py` calls Python: start(params, handover, at) -> JsActivity, call(target, name, at,
// ...args) and callAsync(target, name, at, ...args) -> Promise. A queued operation is
// {kind: "start", activity, at} | {kind: "call", activity, name, at, args}
// | {kind: "async", activity, name, at, args, resolve, reject}.

function replayBootQueue(queue, py) {
  const started = [];
  for (const op of queue) {
    const { activity } = op;
    if (activity._failed) {
      if (op.reject) op.reject(activity._failed);
      continue;
    }
    try {
      if (op.kind === "start") {
        activity._attach(py.start(activity._params, activity._handover(), op.at));
        started.push(activity);
      } else if (op.kind === "call") {
        py.call(activity._py, op.name, op.at, ...op.args);
      } else {
        py.callAsync(activity._py, op.name, op.at, ...op.args).then(op.resolve, op.reject);
      }
    } catch (error) {
      if (op.kind === "start") {
        // e.g. UnknownCourseError: only Python knows the config. The page holds an
        // activity that will never run; say so where the page listens.
        console.error(`timeback: activity ${activity._params.id} could not start:`, error);
        activity._fail(error);
      } else {
        console.error(`timeback: replaying ${op.name}() failed:`, error);
      }
    }
  }
  // The bridge feeds the boot log's entries (B2) interleaved with the replayed calls; once
  // they are all in, it follows the document live.
  for (const activity of started) {
    if (activity._failed || !("replayed" in activity._py)) continue;
    try {
      py.call(activity._py, "replayed", undefined);
    } catch (error) {
      console.error("timeback: replayed() failed:", error);
    }
  }
  return started;
}

/** Rejects every queued call: the tracker could not start. */
function failBootQueue(queue, error) {
  for (const op of queue) {
    if (op.kind === "start") op.activity._fail(error);
    else if (op.reject) op.reject(error);
  }
}
