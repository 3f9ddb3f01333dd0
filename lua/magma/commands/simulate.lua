-- magma simulate RUN --policy FILE: try a policy on a run with simulated durations and
-- failures; makespan, concurrency, retries, the critical path, a per-step table, and a
-- Gantt chart as SVG. --vs FILE2 compares two policies on the same run and seed.

local magma = require "magma"
local errors = require "magma.cli.errors"
local format = require "magma.cli.format"
local runfile = require "magma.cli.runfile"
local svg = require "magma.svg"
local tick = require "magma.tick"

local json = magma.json

local TEXT_TIMELINE_MAX = 40 -- shards: above this, no text timeline in the terminal

local function num(x)
  if x == nil then return "-" end
  if type(x) ~= "number" then return tostring(x) end
  if math.type(x) == "integer" then return tostring(x) end
  if x == math.floor(x) and math.abs(x) < 1e15 then return string.format("%d", x) end
  return string.format("%.4g", x)
end

-- A time for people ("10h30m"); "-" when there is none.
local function dur(x)
  if x == nil then return "-" end
  return svg.duration(x)
end

local function stderr_is_terminal()
  return os.execute("test -t 2") == true
end

-- Runs the simulation, turning policy errors into exit 1 and showing progress on a terminal.
local function simulate(run, P, opts, progress)
  local sopts = { seed = opts.seed or 1, until_time = opts["until"] }
  if progress then
    sopts.progress = function(now, finished, total)
      io.stderr:write(string.format("\r%s: t=%s, %d/%d shards finished   ",
        P.name or P.source, num(now), finished, total))
    end
  end
  local ok, res = pcall(magma.simulate, run, P, sopts)
  if progress then io.stderr:write("\r\27[K") end
  if not ok then
    if tick.is_policy_error(res) then errors.raise(1, tostring(res), "policy") end
    error(res, 0)
  end
  return res
end

local SUMMARY = {
  { "makespan", "makespan", dur },
  { "total_shard_time", "total shard time", dur },
  { "peak_running", "peak running" },
  { "mean_running", "mean running" },
  { "launches", "launches" },
  { "retries", "retries" },
  { "failed_for_good", "failed for good" },
  { "final_status", "final_status" },
}

local function print_summary(results)
  local headers = { "" }
  for i, r in ipairs(results) do headers[i + 1] = r.policy end
  local rows = {}
  for i, s in ipairs(SUMMARY) do
    local row = { s[2] }
    for j, r in ipairs(results) do row[j + 1] = (s[3] or num)(r[s[1]]) end
    rows[i] = row
  end
  io.stdout:write(format.columns(headers, rows, { false, true, true }))
end

local function print_details(res)
  local w = io.stdout
  w:write(string.format("\n%s: per step\n", res.policy))
  local rows = {}
  for i, s in ipairs(res.steps) do
    rows[i] = { s.step, s.shards, s.launches, s.failures, dur(s.busy), dur(s.first_start),
      dur(s.last_finish) }
  end
  w:write(format.columns({ "step", "shards", "launches", "failures", "busy", "first start",
    "last finish" }, rows, { false, true, true, true, true, true, true }))
  local path = {}
  for i, p in ipairs(res.critical_path) do
    path[i] = string.format("%s [%s-%s]", p.shard, dur(p.start), dur(p.finish))
  end
  w:write(string.format("critical path (%d shards): %s\n", #path, table.concat(path, " -> ")))
end

local function result_json(res)
  local out = {}
  for k, v in pairs(res) do
    if k ~= "timeline" then out[k] = v end
  end
  local steps = json.array {}
  for i, s in ipairs(res.steps) do steps[i] = s end
  out.steps = steps
  local path = json.array {}
  for i, p in ipairs(res.critical_path) do path[i] = p end
  out.critical_path = path
  return out
end

local function run(opts, args)
  local path = args[1]
  if not opts.policy then errors.usage("--policy FILE is required") end
  if opts.seed and math.type(opts.seed) ~= "integer" then
    errors.usage("--seed must be an integer")
  end
  local policies = { runfile.policy(opts.policy) }
  if opts.vs then policies[2] = runfile.policy(opts.vs) end
  local r = runfile.open(path)
  local progress = not opts.json and stderr_is_terminal()

  local results = {}
  for i, P in ipairs(policies) do results[i] = simulate(r, P, opts, progress) end
  if #results == 2 and results[1].policy == results[2].policy then
    results[1].policy, results[2].policy = opts.policy, opts.vs
  end

  if opts.svg then
    local text
    if #results == 1 then
      text = svg.gantt(results[1].timeline)
    else
      text = svg.gantt_pair(results[1].timeline, results[2].timeline,
        { title1 = results[1].timeline.title, title2 = results[2].timeline.title })
    end
    local ok, err = magma.write_file(opts.svg, text)
    if not ok then errors.input(err) end
  end

  if opts.json then
    local out = #results == 1 and result_json(results[1])
      or { policies = json.array { result_json(results[1]), result_json(results[2]) } }
    io.stdout:write(json.encode(out, { indent = 2 }), "\n")
    return 0
  end

  io.stdout:write(string.format("%s: %d shards, seed %d%s\n", path, #r, opts.seed or 1,
    opts["until"] and (", until t=" .. dur(opts["until"])) or ""))
  print_summary(results)
  for _, res in ipairs(results) do
    print_details(res)
    if #r <= TEXT_TIMELINE_MAX then
      io.stdout:write("\n", svg.text_timeline(res.timeline, 100))
    end
  end
  if opts.svg then io.stdout:write(string.format("\nGantt chart written to %s\n", opts.svg)) end
  return 0
end

return {
  name = "simulate",
  summary = "try a policy on a run with simulated durations and failures",
  synopsis = { "RUN --policy FILE [--seed N] [--until T] [--svg FILE] [--json] [--vs FILE2]" },
  args = { "RUN" },
  options = {
    { "policy", short = "p", arg = "FILE", help = "the policy: a Lua file returning a table (required)" },
    { "seed", arg = "N", number = true, help = "seed of the random failures (default 1)" },
    { "until", arg = "T", number = true, min = 0, help = "stop the clock at T seconds" },
    { "svg", arg = "FILE", help = "write a Gantt chart (SVG) there" },
    { "json", help = "print the results as JSON" },
    { "vs", arg = "FILE2", help = "a second policy, compared on the same run and seed" },
  },
  exit_status = "0 success, 1 the policy raised an error, 2 bad usage or bad input",
  description = [[
Simulates RUN under the policy: the real scheduling round (magma.tick's: retries,
readiness rules, priorities, caps, the policy's ready/priority/retry.when) with launch and
poll replaced by a simulated clock. Durations come from the policy's `duration` (seconds:
a number, a table by step, or function(wfr, attempt); default 1), failures from its `fails`
(a probability, a table of probabilities by step, or function(wfr, attempt, rng); default
never), drawn from a generator seeded with --seed: the same seed gives the same result.
The simulation ends when nothing more can happen, or at --until. RUN is only read.
Prints makespan, total shard time, peak and mean concurrency, launches, retries, shards
failed for good, final_status, a per-step table and the critical path; a text timeline
for runs of at most 40 shards; --svg writes a Gantt chart: one bar per attempt, in a lane
per shard up to 150 shards; bigger runs get a lane per step, where a step of many shards
is drawn as its concurrency profile.]],
  run = run,
}
