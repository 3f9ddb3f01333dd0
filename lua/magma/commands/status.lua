-- magma status RUN: final status, counts per status, and a table of the steps.

local magma = require "magma"
local format = require "magma.cli.format"
local runfile = require "magma.cli.runfile"

local json = magma.json

local KNOWN = { "pending", "running", "completed", "failed" }
local is_known = { pending = true, running = true, completed = true, failed = true }

-- An object that encodes with its keys in the order given (a shape from the codec).
local function shaped(keys)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = format.quote(k) .. ":0" end
  local mt = getmetatable(json.decode("{" .. table.concat(parts, ",") .. "}"))
  return function(t) return setmetatable(t, mt) end
end

local step_object = shaped { "name", "shards", "pending", "running", "completed", "failed",
  "other" }
local counts_object = shaped(KNOWN) -- other statuses follow, sorted
local status_object = shaped { "final_status", "recorded_final_status", "counts", "steps" }

-- Per step, in order of first appearance: {name, shards, pending, ..., other}.
local function step_counts(run)
  local by_name, list = {}, {}
  for _, name in ipairs(run:steps()) do
    local s = { name = name, shards = 0, pending = 0, running = 0, completed = 0, failed = 0,
      other = 0 }
    by_name[name] = s
    list[#list + 1] = s
  end
  for _, w in pairs(run.runs) do
    local s = by_name[w.name]
    local st = w.status
    s.shards = s.shards + 1
    if is_known[st] then s[st] = s[st] + 1 else s.other = s.other + 1 end
  end
  return list
end

-- "completed 10, running 1, pending 20, failed 0, aborted 2": known statuses first.
local function counts_line(counts)
  local parts = {}
  for _, st in ipairs(KNOWN) do parts[#parts + 1] = st .. " " .. counts[st] end
  local others = {}
  for st in pairs(counts) do if not is_known[st] then others[#others + 1] = st end end
  table.sort(others)
  for _, st in ipairs(others) do
    parts[#parts + 1] = string.format("%s %d", format.quote(st), counts[st])
  end
  return table.concat(parts, ", ")
end

local function run(opts, args)
  local path = args[1]
  local r = runfile.open(path)
  local recorded = r.final_status
  local final = r:update_status()
  local counts = r:counts()
  local steps = step_counts(r)
  if opts.json then
    local out = {}
    for i, s in ipairs(steps) do out[i] = step_object(s) end
    local doc = status_object {
      final_status = final,
      recorded_final_status = recorded,
      counts = counts_object(counts),
      steps = json.array(out),
    }
    io.stdout:write(json.encode(doc, { indent = 2 }), "\n")
    return 0
  end
  local note = recorded ~= final and string.format(" (the file says %s)", recorded) or ""
  io.stdout:write(string.format("%s: final_status %s%s, %s, %s\n", path, final, note,
    format.plural(#r, "shard"), format.plural(#steps, "step")))
  io.stdout:write("counts: ", counts_line(counts), "\n\n")
  local rows = {}
  for i, s in ipairs(steps) do
    rows[i] = { s.name, s.shards, s.pending, s.running, s.completed, s.failed, s.other }
  end
  io.stdout:write(format.columns(
    { "step", "shards", "pending", "running", "completed", "failed", "other" }, rows,
    { false, true, true, true, true, true, true }))
  return 0
end

return {
  name = "status",
  summary = "final status, counts per status and a table of the steps",
  synopsis = { "RUN [--json]" },
  args = { "RUN" },
  options = {
    { "json", help = "print an object: final_status, counts, steps" },
  },
  description = [[
Shows the state of the run in RUN: its final status as update_status() computes it
(and the one the file records, when they differ), how many shards have each status,
and one line per step (in document order) with its shards per status. "other" counts
statuses that are none of pending, running, completed, failed.
With --json: {"final_status", "recorded_final_status", "counts": {status: n},
"steps": [{"name", "shards", "pending", "running", "completed", "failed", "other"}]}.
RUN is only read.]],
  run = run,
}
