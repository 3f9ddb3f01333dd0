-- make bench: the benchmarks, each printing its figures and the ratio against a baseline
-- measured in the same run. Usage: bin/magma scripts/bench.lua [--quick]
--
-- Figures are CPU seconds (os.clock), best of several runs for the fast side.

package.path = "scripts/?.lua;spec/?.lua;" .. package.path
local magma = require "magma"
local genrun = require "genrun"
local model = require "model"

local quick = arg and arg[1] == "--quick"

local function best_of(n, f)
  local best, result = math.huge, nil
  for _ = 1, n do
    collectgarbage("collect")
    local t0 = os.clock()
    result = f()
    local t = os.clock() - t0
    if t < best then best = t end
  end
  return best, result
end

local function fmt_s(t)
  if t < 1 then return string.format("%8.1f ms", t * 1000) end
  return string.format("%8.2f s ", t)
end

local function line(label, t, extra)
  print(string.format("  %-34s %s%s", label, fmt_s(t), extra and ("   " .. extra) or ""))
end

-- The drive of issue "Foundation": to_run, take at most `cap` of them, mark them running,
-- mark the running ones completed, update_status; until the run is completed.
local function drive_c(run, cap)
  local rounds = 0
  repeat
    rounds = rounds + 1
    local ready = run:to_run()
    for i = 1, math.min(cap, #ready) do
      run:update_attribute(ready[i].shard_name, "status", "running")
    end
    for _, wfr in ipairs(run:running()) do
      wfr.status = "completed"
    end
  until run:update_status() == "completed"
  return rounds
end

local function drive_model(m, cap)
  local rounds = 0
  repeat
    rounds = rounds + 1
    local ready = m:to_run()
    for i = 1, math.min(cap, #ready) do
      m:update_attribute(ready[i], "status", "running")
    end
    for _, name in ipairs(m:running()) do
      m:update_attribute(name, "status", "completed")
    end
  until m:update_status() == "completed"
  return rounds
end

print("magma-lua benchmarks (" .. magma._VERSION .. ", " .. _VERSION .. ")")
print()

do
  local shards, steps, cap = 20000, 50, 16
  print(string.format("Foundation: drive %d shards / %d steps to completion, <= %d launches a round",
    shards, steps, cap))
  local doc = genrun.generate { shards = shards, steps = steps }
  local t_c, rounds = best_of(quick and 1 or 3, function()
    return drive_c(magma.MetaWorkflowRun(doc), cap)
  end)
  local t_build = best_of(quick and 1 or 3, function() return magma.MetaWorkflowRun(doc) end)
  local t_m, mrounds = best_of(1, function() return drive_model(model.new(doc), cap) end)
  assert(rounds == mrounds, "the C drive and the model drive disagree on the rounds")
  line("C core (build + drive)", t_c, rounds .. " rounds")
  line("  of which building the run", t_build)
  line("pure-Lua model (same drive)", t_m)
  print(string.format("  %-34s %8.0fx", "ratio model / C core", t_m / t_c))
  print(string.format("  %-34s %8.0fx   (goal: >= 300x; Python figure measured outside this run)",
    "ratio magma's Python (~8 s) / C", 8 / t_c))
  print()
end

do
  local shards, steps = quick and 100000 or 1000000, 50
  print(string.format("Scale: %d shards / %d steps, built from a Lua table, then driven with"
    .. " no launch cap", shards, steps))
  local doc = genrun.generate { shards = shards, steps = steps }
  collectgarbage("collect")
  local t0 = os.clock()
  local run = magma.MetaWorkflowRun(doc)
  local t_build = os.clock() - t0
  doc = nil -- luacheck: ignore
  t0 = os.clock()
  local rounds = drive_c(run, math.huge)
  local t_drive = os.clock() - t0
  line("build the run (deep copy + index)", t_build)
  line("drive to completion", t_drive, rounds .. " rounds")
  print(string.format("  %-34s %8.0f MiB", "Lua heap after the drive", collectgarbage("count") / 1024))
  print()
end
