-- magma.policy: what a scheduling policy is. A policy is a table of optional entries
-- (usually a file returning one); check() verifies every entry and fills in the defaults,
-- so that the round (magma.tick) never has to guess. An unknown entry is an error that
-- names it: a typo must not silently switch off a cap.

local policy = {}

local RULES = {
  all_success = true, all_done = true, all_failed = true,
  one_success = true, one_failed = true, none_failed = true,
}

-- entry -> what it must be (for messages) and a checker
local ENTRIES = {
  name = "a string",
  description = "a string",
  trigger = "a rule name, or a table of rule names by step",
  ready = "a function(wfr, run) -> boolean",
  retry = "a table {max_attempts, delay, factor, max_delay, when}",
  on_exhausted = '"stop" or "continue"',
  max_running = "a non-negative integer",
  max_running_per_step = "a table of non-negative integers by step",
  priority = "a table of numbers by step, or a function(wfr) -> number",
  launch = "a function(wfr, run) -> jobid | nil, err",
  poll = "a function(wfr, run) -> status[, output[, fields]]",
  status_map = "a table of magma statuses by reported status",
  reset_keys = "a list of key names",
  job_key = "a string",
  -- read by magma.simulate only
  duration = "a number, a table of numbers by step, or a function(wfr, attempt) -> seconds",
  fails = "a probability, a table of probabilities by step, or a function(wfr, attempt, rng)"
    .. " -> boolean",
}

local RETRY_ENTRIES = {
  max_attempts = "a positive integer, or a table of positive integers by step",
  delay = "a non-negative number of seconds",
  factor = "a number >= 1",
  max_delay = "a non-negative number of seconds",
  when = "a function(wfr, run) -> boolean",
}

-- Without max_delay a backoff is still capped here (about 31 years): no overflow at any k.
policy.BACKOFF_LIMIT = 1e9

-- magma's CheckStatus maps the job system's words to magma's statuses.
policy.DEFAULT_STATUS_MAP = { SUCCEEDED = "completed", RUNNING = "running", FAILED = "failed" }

-- Levenshtein distance, for "did you mean" in messages about typos.
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

local function suggest(word, known)
  local best, best_d
  for k in pairs(known) do
    local d = distance(word, k)
    if d <= 3 and (not best_d or d < best_d or (d == best_d and k < best)) then
      best, best_d = k, d
    end
  end
  return best and string.format(' (did you mean "%s"?)', best) or ""
end

local function fail(source, fmt, ...)
  error(string.format("policy %s: " .. fmt, source, ...), 0)
end

local function is_count(v)
  return math.type(v) == "integer" and v >= 0
end

local function check_by_step(source, entry, t, ok, what)
  if type(t) ~= "table" then fail(source, "%s must be %s", entry, what) end
  for step, v in pairs(t) do
    if type(step) ~= "string" then fail(source, "%s: keys must be step names", entry) end
    if not ok(v) then fail(source, '%s["%s"] must be %s', entry, step, what) end
  end
end

local function check_retry(source, r)
  if type(r) ~= "table" then fail(source, "retry must be %s", ENTRIES.retry) end
  for k in pairs(r) do
    if not RETRY_ENTRIES[k] then
      fail(source, 'unknown entry "retry.%s"%s', tostring(k), suggest(tostring(k), RETRY_ENTRIES))
    end
  end
  local out = { delay = 0, factor = 1, max_attempts = 1 }
  local ma = r.max_attempts
  if ma ~= nil then
    local function ok(v) return math.type(v) == "integer" and v >= 1 end
    if type(ma) == "table" then
      check_by_step(source, "retry.max_attempts", ma, ok, "a positive integer")
    elseif not ok(ma) then
      fail(source, "retry.max_attempts must be %s", RETRY_ENTRIES.max_attempts)
    end
    out.max_attempts = ma
  end
  for _, k in ipairs { "delay", "max_delay" } do
    local v = r[k]
    if v ~= nil then
      if type(v) ~= "number" or v < 0 or v ~= v or v == math.huge then
        fail(source, "retry.%s must be %s", k, RETRY_ENTRIES[k])
      end
      out[k] = v
    end
  end
  if r.factor ~= nil then
    if type(r.factor) ~= "number" or not (r.factor >= 1) or r.factor == math.huge then
      fail(source, "retry.factor must be %s", RETRY_ENTRIES.factor)
    end
    out.factor = r.factor
  end
  if r.when ~= nil then
    if type(r.when) ~= "function" then fail(source, "retry.when must be %s", RETRY_ENTRIES.when) end
    out.when = r.when
  end
  return out
end

local Checked = {}

-- checked(p) -> p when it is already a checked policy, else check(p).
function policy.checked(p)
  if getmetatable(p) == Checked then return p end
  return policy.check(p)
end

-- Keys a policy cannot name in reset_keys or job_key: the shard's identity, its status and
-- its dependencies belong to the engine.
local RESERVED = { name = true, shard = true, shard_name = true, status = true, dependencies = true }
policy.DEFAULT_RESET_KEYS = { "jobid", "job_id", "workflow_run" }

-- check(p[, source]) -> the policy with every entry checked and defaults filled in.
-- Raises "policy SOURCE: ..." naming the entry on any problem.
function policy.check(p, source)
  if getmetatable(p) == Checked then return p end
  source = source or "(table)"
  if type(p) ~= "table" then fail(source, "must be a table, got %s", type(p)) end
  for k in pairs(p) do
    if type(k) ~= "string" or not ENTRIES[k] then
      fail(source, 'unknown entry "%s"%s', tostring(k),
        type(k) == "string" and suggest(k, ENTRIES) or "")
    end
  end
  local P = { source = source, name = p.name, description = p.description }
  for _, k in ipairs { "name", "description", "job_key" } do
    if p[k] ~= nil and type(p[k]) ~= "string" then fail(source, "%s must be %s", k, ENTRIES[k]) end
  end

  P.trigger = { default = "all_success", by_step = {} }
  if type(p.trigger) == "string" then
    if not RULES[p.trigger] then
      fail(source, 'trigger: unknown rule "%s"%s', p.trigger, suggest(p.trigger, RULES))
    end
    P.trigger.default = p.trigger
  elseif type(p.trigger) == "table" then
    for step, rule in pairs(p.trigger) do
      if type(step) ~= "string" or type(rule) ~= "string" or not RULES[rule] then
        fail(source, 'trigger["%s"]: unknown rule "%s"%s', tostring(step), tostring(rule),
          type(rule) == "string" and suggest(rule, RULES) or "")
      end
      P.trigger.by_step[step] = rule
    end
  elseif p.trigger ~= nil then
    fail(source, "trigger must be %s", ENTRIES.trigger)
  end

  for _, k in ipairs { "ready", "launch", "poll" } do
    if p[k] ~= nil and type(p[k]) ~= "function" then fail(source, "%s must be %s", k, ENTRIES[k]) end
    P[k] = p[k]
  end

  P.retry = p.retry ~= nil and check_retry(source, p.retry) or nil

  P.on_exhausted = p.on_exhausted or "continue"
  if P.on_exhausted ~= "stop" and P.on_exhausted ~= "continue" then
    fail(source, "on_exhausted must be %s", ENTRIES.on_exhausted)
  end

  if p.max_running ~= nil and not is_count(p.max_running) then
    fail(source, "max_running must be %s", ENTRIES.max_running)
  end
  P.max_running = p.max_running
  P.max_running_per_step = {}
  if p.max_running_per_step ~= nil then
    check_by_step(source, "max_running_per_step", p.max_running_per_step, is_count,
      "a non-negative integer")
    P.max_running_per_step = p.max_running_per_step
  end

  if type(p.priority) == "table" then
    check_by_step(source, "priority", p.priority,
      function(v) return type(v) == "number" and v == v end, "a number")
  elseif p.priority ~= nil and type(p.priority) ~= "function" then
    fail(source, "priority must be %s", ENTRIES.priority)
  end
  P.priority = p.priority

  P.status_map = {}
  for k, v in pairs(policy.DEFAULT_STATUS_MAP) do P.status_map[k] = v end
  if p.status_map ~= nil then
    check_by_step(source, "status_map", p.status_map,
      function(v) return type(v) == "string" end, "a status (string)")
    for k, v in pairs(p.status_map) do P.status_map[k] = v end
  end

  if p.reset_keys ~= nil then
    if type(p.reset_keys) ~= "table" then fail(source, "reset_keys must be %s", ENTRIES.reset_keys) end
    for i, k in ipairs(p.reset_keys) do
      if type(k) ~= "string" then fail(source, "reset_keys[%d] must be a string", i) end
      if RESERVED[k] then fail(source, 'reset_keys[%d]: a reset cannot remove key "%s"', i, k) end
    end
  end
  P.reset_keys = p.reset_keys
  P.job_key = p.job_key or "jobid"
  if RESERVED[P.job_key] then
    fail(source, 'job_key: "%s" belongs to the engine; name another key', P.job_key)
  end
  -- What a retry removes: reset_keys (or magma's list), and always the job id's key.
  local keys, seen = {}, {}
  for _, k in ipairs(P.reset_keys or policy.DEFAULT_RESET_KEYS) do
    if not seen[k] then keys[#keys + 1], seen[k] = k, true end
  end
  if not seen[P.job_key] then keys[#keys + 1] = P.job_key end
  P.effective_reset_keys = keys

  local function seconds(x) return type(x) == "number" and x >= 0 and x < math.huge end
  local function probability(x) return type(x) == "number" and x >= 0 and x <= 1 end
  for k, ok in pairs { duration = seconds, fails = probability } do
    local v = p[k]
    if type(v) == "table" then
      check_by_step(source, k, v, ok, k == "fails" and "a probability (0 to 1)"
        or "a number of seconds >= 0")
    elseif v ~= nil and type(v) ~= "function" and not ok(v) then
      fail(source, "%s must be %s", k, ENTRIES[k])
    end
    P[k] = v
  end
  return setmetatable(P, Checked)
end

-- load(path) -> checked policy, or nil, err. The file is Lua returning a policy table.
function policy.load(path)
  local chunk, err = loadfile(path, "t")
  if not chunk then
    -- "cannot open FILE: reason" or "FILE:LINE: syntax error": name the file first
    local reason = err:match("^cannot open [^:]*: (.*)$")
    return nil, "policy " .. (reason and (path .. ": cannot open: " .. reason) or err)
  end
  local ok, p = pcall(chunk)
  if not ok then return nil, "policy " .. path .. ": " .. tostring(p) end
  local ok2, P = pcall(policy.check, p, path)
  if not ok2 then return nil, P end
  return P
end

-- The delay before attempt k+1 of a shard whose attempt k failed: delay * factor^(k-1),
-- capped by max_delay (and by BACKOFF_LIMIT); computed in logarithms once it could
-- overflow, so any k works.
function policy.backoff(retry, k)
  local d, f = retry.delay, retry.factor
  local cap = math.min(retry.max_delay or policy.BACKOFF_LIMIT, policy.BACKOFF_LIMIT)
  if d <= 0 or cap <= 0 then return 0 end
  local e = math.max(k - 1, 0)
  if f == 1 or e == 0 then return math.min(d, cap) end
  if e * math.log(f) >= math.log(cap / d) then return cap end
  return d * f ^ e
end

-- The maximum attempts for a shard of step `step` (1: no retries).
function policy.max_attempts(P, step)
  local r = P.retry
  if not r then return 1 end
  local ma = r.max_attempts
  if type(ma) == "table" then return ma[step] or 1 end
  return ma
end

return policy
