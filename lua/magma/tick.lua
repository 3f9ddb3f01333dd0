-- magma.tick: one scheduling round of a policy over a run.
--
--   local report = magma.tick(run, policy, state, now[, opts])
--
-- In this order: poll the running shards; apply retries to failed ones (reset when attempts
-- remain and the delay has passed); pick ready shards by priority within the caps; launch
-- them; update_status. The round costs O(changes + launched) when the policy has no
-- priority function and no per-step caps: ready shards are walked lazily in the core.
--
-- `state` is the policy's bookkeeping between rounds (attempts made, when failures were
-- first seen, shards failed for good). It lives outside the run document: the portal
-- schemas forbid extra keys in shard records. tick.new_state() makes an empty one.

local policy = require "magma.policy"

local tick = {}

local json = require "magma.json"

local STATE_KEYS = { "attempts", "failed_at", "exhausted" }
local MAGMA_STATUS = { pending = true, running = true, completed = true, failed = true }

function tick.new_state()
  return { version = 1, attempts = {}, failed_at = {}, exhausted = {} }
end

-- check_state(state[, source]) -> state with missing parts added, or raises naming the key.
function tick.check_state(state, source)
  source = source or "state"
  if type(state) ~= "table" or json.is_array(state) or (next(state) ~= nil and rawlen(state) > 0) then
    error(string.format("%s: must be an object", source), 0)
  end
  if state.version ~= nil and state.version ~= 1 then
    error(string.format("%s: unsupported version %s", source, tostring(state.version)), 0)
  end
  state.version = 1
  for _, k in ipairs(STATE_KEYS) do
    local t = state[k]
    if t == nil then
      state[k] = {}
    elseif type(t) ~= "table" then
      error(string.format('%s: key "%s" must be an object', source, k), 0)
    else
      for sn, v in pairs(t) do
        local ok = type(sn) == "string" and
          (k == "exhausted" and v == true or k == "attempts" and math.type(v) == "integer" and v >= 0
            or k == "failed_at" and type(v) == "number" and v == v)
        if not ok then
          error(string.format('%s: %s["%s"] has a bad value (%s)', source, k, tostring(sn),
            tostring(v)), 0)
        end
      end
    end
  end
  return state
end

-- load_state(path) -> state (a new one when the file does not exist), or nil, err.
function tick.load_state(path)
  local f, err, code = io.open(path, "rb")
  if not f then
    if code == 2 then return tick.new_state() end -- ENOENT: no round has run yet
    return nil, err
  end
  local text, rerr = f:read("a")
  f:close()
  if text == nil then return nil, path .. ": " .. tostring(rerr) end
  local state, derr = json.decode(text)
  if state == nil then return nil, path .. ": " .. derr end
  local ok, cerr = pcall(tick.check_state, state, path)
  if not ok then return nil, cerr end
  return state
end

-- The state as a JSON text: objects even when empty, keys sorted.
function tick.encode_state(state)
  local out = json.object { version = state.version or 1 }
  for _, k in ipairs(STATE_KEYS) do
    local t = json.object {}
    for sn, v in pairs(state[k] or {}) do t[sn] = v end
    out[k] = t
  end
  return json.encode(out, { indent = 2 })
end

-- A policy error: raised when user code fails; the message names the hook and the shard.
local PolicyError = {}
PolicyError.__index = PolicyError
PolicyError.__tostring = function(e) return e.msg end
tick.PolicyError = PolicyError

function tick.is_policy_error(e)
  return getmetatable(e) == PolicyError
end

local function policy_error(P, hook, wfr, err)
  local msg = type(err) == "string" and err or tostring(err)
  if tick.is_policy_error(err) then return err end
  local where = wfr and string.format(' (in %s, shard "%s")', hook, wfr.shard_name)
    or string.format(" (in %s)", hook)
  -- Errors raised by the policy's own code carry its "file:line:" already.
  if not msg:find(P.source, 1, true) then msg = "policy " .. P.source .. ": " .. msg end
  return setmetatable({ msg = msg .. where, hook = hook, shard = wfr and wfr.shard_name }, PolicyError)
end

tick.policy_error = policy_error

-- Calls policy hook `fn`; an error in it becomes a PolicyError naming hook and shard.
local function call(P, hook, fn, wfr, ...)
  local res = table.pack(pcall(fn, wfr, ...))
  if not res[1] then error(policy_error(P, hook, wfr, res[2]), 0) end
  return table.unpack(res, 2, res.n)
end
tick.call = call

-- The context of one round: run, checked policy, state, clock, report.
local function new_report(now)
  return {
    now = now,
    polled = {},        -- {shard =, from =, to =}
    retried = {},       -- shard names reset for a new attempt
    waiting = {},       -- {shard =, due =}: failed, the next attempt not due yet
    exhausted = {},     -- shard names that failed for good this round
    launched = {},      -- shard names
    launch_failed = {}, -- {shard =, error =}
    not_launched = {},  -- {shard =, reason =}, the first `limit` of them
    not_launched_count = { cap = 0, step_cap = 0, priority = 0, filtered = 0, stopped = 0 },
    blocked = {},       -- pending shards that can never run (a dependency failed for good),
                        -- the first `limit` of them; blocked_count counts them all
    stopped = false,
    warnings = {},
  }
end

-- Sets the trigger rules of the policy on the run, once per run and policy (it costs
-- O(shards)). A step the run does not have is a warning, not an error: one policy may
-- serve several pipelines.
local applied = setmetatable({}, { __mode = "k" })

function tick.apply_triggers(run, P, report)
  if applied[run] == P then return end
  run:set_trigger(P.trigger.default)
  local steps = {}
  for _, step in ipairs(run:steps()) do steps[step] = true end
  for step, rule in pairs(P.trigger.by_step) do
    if steps[step] then
      run:set_trigger(rule, step)
    elseif report then
      report.warnings[#report.warnings + 1] =
        string.format('policy %s: trigger names step "%s", which this run does not have',
          P.source, step)
    end
  end
  applied[run] = P
end

-- Records a status change of a shard, from a poll or a simulated completion.
function tick.apply_status(ctx, wfr, status, output, fields)
  local P = ctx.P
  if type(status) ~= "string" then
    error(policy_error(P, "poll", wfr, "poll returned a status that is not a string: "
      .. tostring(status)), 0)
  end
  local mapped = P.status_map[status]
  if mapped == nil then
    -- Other statuses are allowed (magma has "inactive", portals "stopped"...), but a word
    -- the job system uses for a running job would leave the shard unpolled: say so.
    if not MAGMA_STATUS[status] then
      ctx.report.warnings[#ctx.report.warnings + 1] = string.format(
        'shard "%s": poll returned "%s", which status_map does not map; it is now the'
          .. " shard's status", wfr.shard_name, status)
    end
    mapped = status
  end
  local from = wfr.status
  if mapped ~= from then
    wfr.status = mapped
    ctx.report.polled[#ctx.report.polled + 1] = { shard = wfr.shard_name, from = from, to = mapped }
  end
  local function set(k, v)
    local ok, err = pcall(function() wfr[k] = v end)
    if not ok then error(policy_error(P, "poll", wfr, err), 0) end
  end
  if output ~= nil then set("output", output) end
  if fields ~= nil then
    if type(fields) ~= "table" then
      error(policy_error(P, "poll", wfr, "poll's third result must be a table of keys"), 0)
    end
    for k, v in pairs(fields) do set(k, v) end
  end
end

-- 1. Poll: ask the policy for the status of every running shard.
function tick.poll(ctx)
  local P, run = ctx.P, ctx.run
  if not P.poll then return end
  for _, wfr in ipairs(run:running()) do
    local status, output, fields = call(P, "poll", P.poll, wfr, run)
    if status ~= nil then tick.apply_status(ctx, wfr, status, output, fields) end
  end
end

-- Forgets bookkeeping of shards that are no longer failed (completed since, or reset by
-- hand): a shard failed for good that someone reset may run again.
local function forget_stale(ctx)
  local run, state = ctx.run, ctx.state
  for _, k in ipairs { "failed_at", "exhausted" } do
    for sn in pairs(state[k]) do
      local wfr = run.runs[sn]
      if not wfr or wfr.status ~= "failed" then
        state[k][sn] = nil
        if k == "exhausted" then ctx.exhausted_removed = true end
      end
    end
  end
end

-- 2. Retries: failed shards with attempts left are reset once their delay has passed.
function tick.retry(ctx)
  local P, run, state, now, report = ctx.P, ctx.run, ctx.state, ctx.now, ctx.report
  forget_stale(ctx)
  local i, wfr = run:next_with_status("failed", 1)
  while i do
    local sn = wfr.shard_name
    if not state.exhausted[sn] then
      local attempts = state.attempts[sn] or 1
      state.failed_at[sn] = state.failed_at[sn] or now
      local retry = P.retry
      if attempts < policy.max_attempts(P, wfr.name)
        and (not retry.when or call(P, "retry.when", retry.when, wfr, run)) then
        local due = state.failed_at[sn] + policy.backoff(retry, attempts)
        if now >= due then
          run:reset_shard(sn, P.effective_reset_keys)
          state.attempts[sn] = attempts -- (a failure found in the document counts as one)
          state.failed_at[sn] = nil
          report.retried[#report.retried + 1] = sn
        else
          report.waiting[#report.waiting + 1] = { shard = sn, due = due }
          ctx.next_due = math.min(ctx.next_due or math.huge, due)
        end
      else
        state.exhausted[sn] = true
        state.failed_at[sn] = nil
        report.exhausted[#report.exhausted + 1] = sn
      end
    end
    i, wfr = run:next_with_status("failed", i + 1)
  end
end

-- Whether a pending shard with trigger `rule` can still become ready, given for each
-- dependency whether it can never complete (`nc`) and can never be done (`nd`).
local function rule_blocked(rule, deps, never_completes, never_done)
  local any_nc, all_nc, any_nd, all_nd = false, true, false, true
  for _, d in ipairs(deps) do
    local nc, nd = never_completes(d), never_done(d)
    any_nc, all_nc = any_nc or nc, all_nc and nc
    any_nd, all_nd = any_nd or nd, all_nd and nd
  end
  if #deps == 0 then return false end
  if rule == "all_success" or rule == "none_failed" then return any_nc end
  if rule == "all_done" or rule == "all_failed" then return any_nd end
  if rule == "one_success" then return all_nc end
  return all_nd -- one_failed
end

-- 3a. Blocked shards: pending shards that can never run because a dependency failed for
-- good (or is itself blocked), walked from the exhausted shards through their dependents.
-- Kept between rounds of the same run and state: a round walks only from the shards that
-- failed for good in it, so a simulation does not walk the whole blocked region every
-- round. A shard leaving the exhausted set (reset by hand) makes the next round start over.
local blocked_cache = setmetatable({}, { __mode = "k" })

function tick.blocked(ctx)
  local run, state = ctx.run, ctx.state
  local c = blocked_cache[state]
  local seeds
  if c == nil or c.run ~= run or ctx.exhausted_removed then
    c = { run = run, set = {}, count = 0 }
    blocked_cache[state] = c
    seeds = {}
    for sn in pairs(state.exhausted) do seeds[#seeds + 1] = sn end
    table.sort(seeds)
  else
    seeds = ctx.report.exhausted -- the shards that failed for good in this round
  end
  local blocked = c.set
  local function never_completes(d)
    local w = run.runs[d]
    return w == nil or state.exhausted[d] or blocked[d] or false
  end
  local function never_done(d)
    return run.runs[d] == nil or blocked[d] or false
  end
  local queue = table.move(seeds, 1, #seeds, 1, {})
  local head = 1
  while head <= #queue do
    local sn = queue[head]
    head = head + 1
    for _, dep in ipairs(run:dependents(sn)) do
      local dn = dep.shard_name
      if not blocked[dn] and dep.status == "pending"
        and rule_blocked(run:trigger(dn), dep.dependencies, never_completes, never_done) then
        blocked[dn] = true
        c.count = c.count + 1
        queue[#queue + 1] = dn
      end
    end
  end
  return c
end

-- The first `limit` blocked shards still pending, in document order (O(blocked): only for
-- reports that name them).
local function blocked_list(run, set, limit)
  local list = {}
  for sn in pairs(set) do
    local w = run.runs[sn]
    if w and w.status == "pending" then list[#list + 1] = { sn, run:index(sn) } end
  end
  table.sort(list, function(a, b) return a[2] < b[2] end)
  local out = {}
  for i = 1, math.min(limit, #list) do out[i] = list[i][1] end
  return out, #list
end

-- Ready shards in the order the policy wants them: an iterator giving wfr, or nil.
local function ordered_ready(ctx)
  local P, run = ctx.P, ctx.run
  local prio = P.priority
  if prio == nil then
    local i = 0
    return function()
      local j, wfr = run:next_ready(i + 1)
      if not j then return nil end
      i = j
      return wfr
    end
  end
  local list = {}
  local i, wfr = run:next_ready(1)
  while i do
    local p
    if type(prio) == "table" then
      p = prio[wfr.name] or 0
    else
      p = call(P, "priority", prio, wfr)
      if type(p) ~= "number" or p ~= p then
        error(policy_error(P, "priority", wfr, "priority must return a number, got "
          .. tostring(p)), 0)
      end
    end
    list[#list + 1] = { wfr = wfr, p = p, i = i }
    i, wfr = run:next_ready(i + 1)
  end
  table.sort(list, function(a, b)
    if a.p ~= b.p then return a.p > b.p end
    return a.i < b.i
  end)
  local k = 0
  return function()
    k = k + 1
    return list[k] and list[k].wfr
  end
end

-- 3b. Pick: the ready shards to launch this round, within the caps.
function tick.pick(ctx)
  local P, run, report = ctx.P, ctx.run, ctx.report
  local limit = ctx.limit
  local counts = report.not_launched_count
  local function skip(wfr, reason)
    counts[reason] = counts[reason] + 1
    if #report.not_launched < limit then
      report.not_launched[#report.not_launched + 1] = { shard = wfr.shard_name, reason = reason }
    end
  end

  local ready_total = run:ready_count()
  local picked = {}
  if report.stopped then
    -- nothing launches: name the first `limit` ready shards, count the rest
    local next_wfr = ordered_ready(ctx)
    for _ = 1, math.min(limit, ready_total) do skip(next_wfr(), "stopped") end
    counts.stopped = ready_total
    return picked
  end

  local running = run:count("running")
  local cap = P.max_running or math.huge
  local full_at_start = running >= cap
  local step_cap = P.max_running_per_step
  local step_running = {}
  local examined = 0
  local next_wfr = ordered_ready(ctx)
  for wfr in next_wfr do
    examined = examined + 1
    if running >= cap then
      local reason = (full_at_start or P.priority == nil) and "cap" or "priority"
      skip(wfr, reason)
      if #report.not_launched >= limit then
        -- Everything left is held by the same cap: count it without walking it.
        counts[reason] = counts[reason] + (ready_total - examined)
        break
      end
    else
      local step = wfr.name
      local scap = step_cap[step]
      local srun = step_running[step]
      if scap and not srun then
        srun = run:count("running", step)
        step_running[step] = srun
      end
      if scap and srun >= scap then
        skip(wfr, "step_cap")
      elseif P.ready and not call(P, "ready", P.ready, wfr, run) then
        skip(wfr, "filtered")
      else
        picked[#picked + 1] = wfr
        running = running + 1
        if scap then step_running[step] = srun + 1 end
      end
    end
  end
  return picked
end

-- 4. Launch the picked shards: each becomes running, with its job id under job_key. A
-- launch that returns nil, err counts as a failed attempt.
function tick.launch(ctx, picked, launcher)
  local P, run, state, report = ctx.P, ctx.run, ctx.state, ctx.report
  launcher = launcher or P.launch
  for _, wfr in ipairs(picked) do
    local sn = wfr.shard_name
    local attempt = (state.attempts[sn] or 0) + 1
    local jobid, err
    if launcher then
      jobid, err = call(P, "launch", launcher, wfr, run, attempt)
      if jobid == nil or jobid == false then
        wfr.status = "failed"
        state.attempts[sn] = attempt
        state.failed_at[sn] = ctx.now
        report.launch_failed[#report.launch_failed + 1] = {
          shard = sn, error = tostring(err or "launch returned nil"),
        }
        goto continue
      end
      if type(jobid) ~= "string" and math.type(jobid) ~= "integer" then
        error(policy_error(P, "launch", wfr, "launch must return a job id (string or integer),"
          .. " got " .. type(jobid)), 0)
      end
      wfr[P.job_key] = jobid
    end
    wfr.status = "running"
    state.attempts[sn] = attempt
    report.launched[#report.launched + 1] = sn
    ::continue::
  end
end

-- The whole round. opts: limit (how many not-launched shards the report names, default
-- 100), patch (add report.patch = {final_status, workflow_runs}: O(shards)).
function tick.round(run, P, state, now, opts)
  opts = opts or {}
  P = policy.checked(P)
  -- (check_state walks every entry: the caller checks a state once, when it loads it)
  state = state or tick.new_state()
  if type(state) ~= "table" then error("tick: state must be a table", 2) end
  for _, k in ipairs(STATE_KEYS) do
    if state[k] == nil then
      state[k] = {}
    elseif type(state[k]) ~= "table" then
      error(string.format('tick: state key "%s" must be a table (see tick.check_state)', k), 2)
    end
  end
  if type(now) ~= "number" then error("tick: now must be a number of seconds", 2) end
  local ctx = {
    run = run, P = P, state = state, now = now,
    report = new_report(now), limit = opts.limit or 100,
  }
  local report = ctx.report
  tick.apply_triggers(run, P, report)
  if opts.before_poll then opts.before_poll(ctx) else tick.poll(ctx) end
  if P.retry or next(state.exhausted) or run:count("failed") > 0 then tick.retry(ctx) end
  local blocked = tick.blocked(ctx)
  if ctx.limit > 0 then
    report.blocked, report.blocked_count = blocked_list(run, blocked.set, ctx.limit)
  else
    report.blocked_count = blocked.count
  end
  report.stopped = P.on_exhausted == "stop" and next(state.exhausted) ~= nil
  local picked = tick.pick(ctx)
  tick.launch(ctx, picked, opts.launch)
  report.final_status = run:update_status()
  report.next_due = ctx.next_due
  if opts.patch then
    report.patch = { final_status = report.final_status, workflow_runs = run:runs_to_json() }
  end
  return report, ctx
end

return tick
