-- magma tick RUN --policy FILE.lua: one scheduling round of a policy over a run file, for
-- cron-style use. The run and the policy's state file are changed together, under the
-- run's lock; a policy error changes neither.

local magma = require "magma"
local errors = require "magma.cli.errors"
local runfile = require "magma.cli.runfile"
local tick = require "magma.tick"

local json = magma.json

-- Where the state is read from, and where it is written: beside the run, or beside the
-- output file when the result goes elsewhere (-o), so that each run file has its own.
local function state_paths(opts, path)
  if opts.state then return opts.state, opts.state end
  return path .. ".state.json", (opts.output or path) .. ".state.json"
end

local function num(x)
  if math.type(x) == "integer" then return tostring(x) end
  return string.format("%.15g", x)
end

-- Up to `limit` (10) names of the list, and how many there are (`total`, default #list).
local function names(list, limit, total)
  limit = limit or 10
  total = total or #list
  local out = {}
  for i = 1, math.min(#list, limit) do
    local v = list[i]
    out[i] = type(v) == "table" and (v.shard or tostring(v)) or v
  end
  local text = table.concat(out, ", ")
  if total > limit then
    text = text .. string.format(", ... (%d in all)", total)
  elseif total > 1 then
    text = text .. string.format(" (%d)", total)
  end
  return text
end

-- The report for people: one line per kind of change, empty kinds left out.
local function print_report(path, P, report, dry_run)
  local w = io.stdout
  w:write(string.format("%s: tick at %s, policy %s%s\n", path, num(report.now),
    P.name or P.source, dry_run and " (dry run: nothing written)" or ""))
  local function row(label, text)
    if text and text ~= "" then w:write(string.format("  %-14s %s\n", label, text)) end
  end
  local polled = {}
  for i, p in ipairs(report.polled) do polled[i] = string.format("%s %s->%s", p.shard, p.from, p.to) end
  row("polled", names(polled))
  row("retried", names(report.retried))
  local waiting = {}
  for i, x in ipairs(report.waiting) do
    waiting[i] = string.format("%s (due %s)", x.shard, num(x.due))
  end
  row("waiting", names(waiting))
  row("failed (final)", names(report.exhausted))
  local lf = {}
  for i, x in ipairs(report.launch_failed) do lf[i] = string.format("%s (%s)", x.shard, x.error) end
  row("launch failed", names(lf))
  row("launched", names(report.launched))
  local held = {}
  for _, reason in ipairs { "cap", "step_cap", "priority", "filtered", "stopped" } do
    local c = report.not_launched_count[reason]
    if c > 0 then held[#held + 1] = string.format("%s %d", reason, c) end
  end
  row("not launched", table.concat(held, ", "))
  row("blocked", names(report.blocked, 10, report.blocked_count))
  if report.stopped then row("stopped", "a shard failed for good and on_exhausted is \"stop\"") end
  for _, warning in ipairs(report.warnings) do row("warning", warning) end
  row("final_status", report.final_status)
end

-- The report as JSON: lists stay lists when empty, keys in a fixed order.
local function report_json(report, with_patch)
  local A, O = json.array, json.object
  local function list_of(t, keys)
    local out = A {}
    for i, x in ipairs(t) do
      if keys then
        local o = O {}
        for _, k in ipairs(keys) do o[k] = x[k] end
        out[i] = o
      else
        out[i] = x
      end
    end
    return out
  end
  local counts = O {}
  for k, v in pairs(report.not_launched_count) do counts[k] = v end
  local out = {
    now = report.now,
    final_status = report.final_status,
    launched = list_of(report.launched),
    polled = list_of(report.polled, { "shard", "from", "to" }),
    retried = list_of(report.retried),
    waiting = list_of(report.waiting, { "shard", "due" }),
    exhausted = list_of(report.exhausted),
    launch_failed = list_of(report.launch_failed, { "shard", "error" }),
    not_launched = list_of(report.not_launched, { "shard", "reason" }),
    not_launched_count = counts,
    blocked = list_of(report.blocked),
    blocked_count = report.blocked_count,
    stopped = report.stopped,
    warnings = list_of(report.warnings),
  }
  if with_patch then out.patch = report.patch end
  return json.encode(out, { indent = 2 })
end

local function run(opts, args)
  local path = args[1]
  if not opts.policy then errors.usage("--policy FILE is required") end
  local P = runfile.policy(opts.policy)
  local spath, spath_out = state_paths(opts, path)
  local now = opts.now or os.time()

  runfile.check_readable(path) -- before the lock file is made beside it
  local lock <close> = not opts.dry_run and runfile.lock(path, opts.wait) or nil
  local r = runfile.open(path)
  local state, serr = tick.load_state(spath)
  if state == nil then errors.input(serr) end

  local ok, report = pcall(tick.round, r, P, state, now, { patch = opts.dry_run or opts.json })
  if not ok then
    if tick.is_policy_error(report) then errors.raise(1, tostring(report), "policy") end
    error(report, 0)
  end

  if not opts.dry_run then
    -- The state first: should the run's save fail or be cut short, the next round sees
    -- attempts counted for launches the run does not show (fewer retries, never more).
    local text = assert(tick.encode_state(state))
    local wok, werr = magma.write_file(spath_out, text .. "\n")
    if not wok then errors.input(werr) end
    local sok, err = r:save(opts.output or path)
    if not sok then errors.input(err) end
  end
  if opts.json then
    io.stdout:write(report_json(report, opts.dry_run), "\n")
  else
    print_report(opts.output or path, P, report, opts.dry_run)
  end
  return 0
end

local own = {
  { "policy", short = "p", arg = "FILE", help = "the policy: a Lua file returning a table (required)" },
  { "state", arg = "FILE", help = "the policy's state file (default: RUN.state.json)" },
  { "now", arg = "SECONDS", number = true, help = "the clock of this round (default: now)" },
  { "json", help = "print the report as JSON" },
}

return {
  name = "tick",
  summary = "one scheduling round of a policy over a run (for cron)",
  synopsis = { "RUN --policy FILE.lua [--state FILE] [--now SECONDS] [--dry-run] [--json]" },
  args = { "RUN" },
  options = runfile.change_options(own),
  exit_status = "0 success, 1 the policy raised an error (nothing written), 2 bad usage or"
    .. " bad input",
  description = [[
Runs one round of the policy over RUN, as magma.tick does: poll the running shards (the
policy's poll), retry failed shards whose delay has passed, pick ready shards by priority
within the caps, launch them (the policy's launch), update final_status. Then saves RUN and
the policy's state (attempts made, when failures were seen, shards failed for good: kept
outside the run, whose portal schema forbids extra keys) in RUN.state.json (with -o FILE:
read from RUN.state.json, written to FILE.state.json) or --state FILE,
both atomically and under RUN's lock. Prints what changed, and why ready shards were not
launched (cap, step_cap, priority, filtered, stopped) and which shards are blocked.
An error in the policy's code names the policy file, line, hook and shard; nothing is
written then. See lua/magma/policies/ for built-in policies.]],
  run = run,
}
