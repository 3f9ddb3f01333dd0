-- magma.simulate: try a scheduling policy on a run before it runs for real.
--
--   local result = magma.simulate(run, policy, {seed = 1, until_time = nil})
--
-- A discrete-event simulation that drives the real engine with the real policy code: every
-- round is magma.tick's round (retries, readiness, priorities, caps, the policy's `ready`,
-- `priority` and `retry.when`), with the policy's `launch` and `poll` replaced by a
-- simulated clock. Durations come from policy.duration (seconds: a number, a table by step,
-- or a function(wfr, attempt); default 1), failures from policy.fails (a probability, a
-- table of probabilities by step, or a function(wfr, attempt, rng) -> boolean; default
-- never), drawn from a generator seeded with opts.seed. The run given is not changed: the
-- simulation works on a copy.

local core = require "magma.core"
local policy = require "magma.policy"
local tick = require "magma.tick"

local simulate = {}

-- A small seeded generator (splitmix64), independent of math.random's global state, with
-- math.random's interface: rng() in [0, 1), rng(n) in 1..n, rng(m, n) in m..n.
function simulate.rng(seed)
  local s = math.tointeger(seed) or 1
  local function next64()
    s = s + 0x9E3779B97F4A7C15
    local z = s
    z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ~ (z >> 27)) * 0x94D049BB133111EB
    return z ~ (z >> 31)
  end
  return setmetatable({}, {
    __call = function(_, m, n)
      local f = (next64() >> 11) * (1.0 / 9007199254740992.0) -- 53 bits
      if m == nil then return f end
      if n == nil then m, n = 1, m end
      return m + math.floor(f * (n - m + 1))
    end,
  })
end

-- Pending events, by time: a binary min-heap of the distinct times, each with the list of
-- its events in the order they were scheduled. Runs have many equal durations, so many
-- events share a time: they cost O(1) each, and only distinct times pay O(log n).
local function events_new() return { times = {}, n = 0, shard = {}, ok = {} } end

local function events_push(ev, t, shard, ok)
  local list = ev.shard[t]
  if list == nil then
    list = {}
    ev.shard[t], ev.ok[t] = list, {}
    local h, i = ev.times, ev.n + 1
    ev.n = i
    while i > 1 do -- sift the hole up
      local p = i // 2
      if h[p] <= t then break end
      h[i] = h[p]
      i = p
    end
    h[i] = t
  end
  list[#list + 1] = shard
  ev.ok[t][#list] = ok
end

local function events_next_time(ev)
  return ev.n > 0 and ev.times[1] or math.huge
end

-- Removes the earliest time; returns it with its shards and outcomes.
local function events_pop(ev)
  local h, n = ev.times, ev.n
  local t = h[1]
  local last = h[n]
  h[n] = nil
  n = n - 1
  ev.n = n
  if n > 0 then -- sift the hole down
    local i = 1
    while true do
      local c = 2 * i
      if c > n then break end
      if c < n and h[c + 1] < h[c] then c = c + 1 end
      if last <= h[c] then break end
      h[i] = h[c]
      i = c
    end
    h[i] = last
  end
  local shards, oks = ev.shard[t], ev.ok[t]
  ev.shard[t], ev.ok[t] = nil, nil
  return t, shards, oks
end

-- duration(wfr, attempt) and fails(wfr, attempt, rng) from the policy's entries.
local function duration_fn(P)
  local d = P.duration
  if type(d) == "function" then
    return function(wfr, attempt)
      local v = tick.call(P, "duration", d, wfr, attempt)
      if type(v) ~= "number" or not (v >= 0) or v == math.huge then
        error(tick.policy_error(P, "duration", wfr,
          "duration must return a finite number of seconds >= 0, got " .. tostring(v)), 0)
      end
      return v
    end
  elseif type(d) == "table" then
    return function(wfr) return d[wfr.name] or 1 end
  end
  local v = d or 1
  return function() return v end
end

local function fails_fn(P, rng)
  local f = P.fails
  if type(f) == "function" then
    return function(wfr, attempt) return tick.call(P, "fails", f, wfr, attempt, rng) and true or false end
  elseif type(f) == "table" then
    return function(wfr)
      local p = f[wfr.name] or 0
      return p > 0 and rng() < p
    end
  elseif type(f) == "number" and f > 0 then
    return function() return rng() < f end
  end
  return function() return false end
end

-- simulate(run, policy[, opts]) -> result. opts: seed (default 1), until_time (stop the
-- clock there), timeline (default true: keep every attempt for charts), progress
-- (function(now, finished, total) called every few hundred rounds).
function simulate.run(run, pol, opts)
  opts = opts or {}
  local P = policy.checked(pol)
  local seed = opts.seed or 1
  local until_time = opts.until_time or math.huge
  local keep_timeline = opts.timeline ~= false
  local rng = simulate.rng(seed)
  local duration, fails = duration_fn(P), fails_fn(P, rng)

  -- Work on a copy: the caller's run stays as it is (to_json's tables are fresh already).
  local sim = core.adopt(run:to_json())
  local n = #sim
  local state = tick.new_state()
  local events = events_new()

  -- Per attempt, in flat arrays: shard position, start, finish, outcome.
  local a_shard, a_start, a_finish, a_outcome = {}, {}, {}, {}
  local open = {} -- shard position -> its running attempt's number in the arrays
  local last_finish, last_start = {}, {}
  local running, peak, busy, launches, retries, rounds = 0, 0, 0.0, 0, 0, 0
  local now = 0

  local function start_attempt(i, wfr, attempt)
    local d = duration(wfr, attempt)
    local ok = not fails(wfr, attempt)
    local k = #a_shard + 1
    a_shard[k], a_start[k], a_outcome[k] = i, now, "running"
    open[i] = k
    last_start[i] = now
    events_push(events, now + d, i, ok)
    running = running + 1
    if running > peak then peak = running end
    launches = launches + 1
  end

  -- Shards already running in the document start their (first) attempt at time 0.
  local i0, w0 = sim:next_with_status("running", 1)
  while i0 do
    start_attempt(i0, w0, 1)
    state.attempts[w0.shard_name] = 1
    i0, w0 = sim:next_with_status("running", i0 + 1)
  end

  local function finish_events(ctx)
    while events_next_time(events) <= now do
      local _, shards, oks = events_pop(events)
      for e = 1, #shards do
        local i, ok = shards[e], oks[e]
        local k = open[i]
        a_finish[k] = now
        a_outcome[k] = ok and "completed" or "failed"
        busy = busy + (now - a_start[k])
        open[i] = nil
        last_finish[i] = now
        running = running - 1
        tick.apply_status(ctx, sim:shard_at(i), ok and "completed" or "failed")
      end
    end
  end

  local function launcher(wfr, _, attempt)
    start_attempt(sim:index(wfr.shard_name), wfr, attempt)
    return "sim-" .. launches
  end

  local round_opts = { before_poll = finish_events, launch = launcher, limit = 0 }
  local report
  local cut = false -- stopped by until_time with something still to happen
  while true do
    rounds = rounds + 1
    report = tick.round(sim, P, state, now, round_opts)
    retries = retries + #report.retried
    if opts.progress and rounds % 256 == 0 then
      opts.progress(now, sim:count("completed") + sim:count("failed"), n)
    end
    -- The next moment something can happen: a completion, or a retry falling due.
    local t = events_next_time(events)
    if report.next_due and report.next_due < t then t = report.next_due end
    if t == math.huge then break end
    if t > until_time then
      cut = true
      break
    end
    now = t
  end
  local makespan = cut and until_time or now
  -- Attempts still open at the end (only with until_time) end there, unfinished.
  for i, k in pairs(open) do
    a_finish[k] = makespan
    busy = busy + (makespan - a_start[k])
    last_finish[i] = makespan
  end

  local failed_for_good = 0
  for _ in pairs(state.exhausted) do failed_for_good = failed_for_good + 1 end

  local result = {
    policy = P.name or P.source,
    seed = seed,
    makespan = makespan,
    total_shard_time = busy,
    peak_running = peak,
    mean_running = makespan > 0 and busy / makespan or 0,
    launches = launches,
    retries = retries,
    failed_for_good = failed_for_good,
    final_status = sim:update_status(),
    rounds = rounds,
    shards = n,
  }

  -- Per step: shards, launches, failures, busy time, first start, last finish.
  local steps, by_name = {}, {}
  for _, name in ipairs(sim:steps()) do
    local s = { step = name, shards = 0, launches = 0, failures = 0, busy = 0,
      first_start = nil, last_finish = nil, completed = sim:count("completed", name) }
    steps[#steps + 1] = s
    by_name[name] = s
  end
  local step_of = {}
  for i = 1, n do
    local name = sim:shard_at(i).name
    step_of[i] = by_name[name]
    step_of[i].shards = step_of[i].shards + 1
  end
  for k = 1, #a_shard do
    local s = step_of[a_shard[k]]
    s.launches = s.launches + 1
    if a_outcome[k] == "failed" then s.failures = s.failures + 1 end
    s.busy = s.busy + (a_finish[k] - a_start[k])
    if not s.first_start or a_start[k] < s.first_start then s.first_start = a_start[k] end
    if not s.last_finish or a_finish[k] > s.last_finish then s.last_finish = a_finish[k] end
  end
  result.steps = steps

  -- The critical path: from the shard that finished last, back through the dependency
  -- that finished last before it started (what held it back).
  local path, best = {}, nil
  for i = 1, n do
    if last_finish[i] and (not best or last_finish[i] > last_finish[best]) then best = i end
  end
  local seen = {}
  while best and not seen[best] do
    seen[best] = true
    local wfr = sim:shard_at(best)
    table.insert(path, 1, { shard = wfr.shard_name, start = last_start[best],
      finish = last_finish[best] })
    local prev
    for _, dn in ipairs(wfr.dependencies) do
      local j = sim:index(dn)
      if j and last_finish[j] and last_finish[j] <= (last_start[best] or 0)
        and (not prev or last_finish[j] > last_finish[prev]) then
        prev = j
      end
    end
    best = prev
  end
  result.critical_path = path

  if keep_timeline then
    local shards = {}
    for i = 1, n do
      local wfr = sim:shard_at(i)
      shards[i] = { shard = wfr.shard_name, step = wfr.name, attempts = {} }
    end
    for k = 1, #a_shard do
      local at = shards[a_shard[k]].attempts
      at[#at + 1] = { start = a_start[k], finish = a_finish[k], outcome = a_outcome[k] }
    end
    result.timeline = {
      title = string.format("%s (seed %d)", result.policy, seed),
      makespan = makespan,
      steps = sim:steps(),
      shards = shards,
    }
  end
  return result
end

return simulate
