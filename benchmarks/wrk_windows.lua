-- wrk script of benchmarks/server.py: every request is a new, valid window (or completion).
--   wrk -t T -c C -d S -s benchmarks/wrk_windows.lua URL -- ROUTE CLIENTS BASE_EPOCH_S TAG T
-- ROUTE is heartbeat or submit; CLIENTS the connection count (the simulated students);
-- BASE_EPOCH_S the first window's start (a day ago: inside the server's window policy);
-- TAG 8 hex digits that make this cell's users and run ids its own; T wrk's thread count again
-- (each thread is a Lua state of its own: setup()'s count is not seen by init()).
-- A duplicate would be answered without the work a new window needs, so windows never repeat:
-- request i of a thread starts 1 s after request i-1 and goes under user i mod (its share of
-- the connections); windows of one user never overlap (counted time stays their sum).
-- done() prints one JSON line that benchmarks/server.py reads.

local next_thread_id = 0

function setup(thread)
  thread:set("thread_id", next_thread_id)
  next_thread_id = next_thread_id + 1
end

local route, users, base_s, tag
local counter = 0

function init(args)
  route = args[1]
  local clients = tonumber(args[2])
  base_s = tonumber(args[3])
  tag = args[4]
  -- Each thread owns a disjoint slice of the users (threads never share a user's timeline).
  users = math.max(1, math.floor(clients / tonumber(args[5])))
  wrk.method = "POST"
  wrk.path = "/activity/" .. route
end

local function iso(epoch_s)
  return os.date("!%Y-%m-%dT%H:%M:%S", epoch_s) .. ".000Z"
end

local function run_id(kind, user)
  -- A UUID in form only: unique per (tag, thread, kind, user); the server does not ask for v4.
  return string.format("%s-%04x-4%03x-8000-%012x", tag, thread_id, kind, user)
end

function request()
  local user = counter % users
  local n = counter
  counter = counter + 1
  local email = string.format("bench-%s-%d-%d@example.com", tag, thread_id, user)
  local headers = { ["Content-Type"] = "application/json", ["x-user"] = email }
  local body
  if route == "heartbeat" then
    local started = base_s + n
    body = string.format(
      '{"id":"fractions-with-like-denominators","name":"Fractions","runId":"%s",'
        .. '"course":{"subject":"Math","grade":3},"startedAt":"%s","endedAt":"%s",'
        .. '"elapsedMs":1000,"pausedMs":0}',
      run_id(1, user), iso(started), iso(started + 1))
  else
    -- Every completion is a new run: a repeated one would be the idempotent answer.
    body = string.format(
      '{"id":"fractions-with-like-denominators","name":"Fractions","runId":"%s",'
        .. '"course":{"code":"MATH-3"},"endedAt":"%s",'
        .. '"metrics":{"xpEarned":0,"totalQuestions":1,"correctQuestions":1}}',
      string.format("%s-%04x-4%03x-8000-%012x", tag, thread_id, 2, n), iso(base_s + n))
  end
  return wrk.format(nil, nil, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"non_2xx":%d,'
      .. '"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
