-- MetaWorkflowRun documents for the specs (tick, simulate, cli_tick, metawflrun, property).
--
--   local runs = require "support.runs"
--   local run = runs.build { "a:0", "b:0 <- a:0", "c:0 failed" }
--   runs.shard_names(run:to_run())                   -- { "a:0" }

-- A run from a compact description, one string per shard, in document order:
--   "NAME:SHARD[ STATUS][ <- DEP, DEP ...]"   (STATUS defaults to pending)
-- extra: shard_name -> table of more keys for that record.
local function build(desc, extra)
  local runs = {}
  for _, line in ipairs(desc) do
    local head, deps = line:match("^(.-)%s*<%-%s*(.*)$")
    head = head or line
    local sn, status = head:match("^(%S+)%s*(%S*)$")
    local name, shard = sn:match("^([^:]+):(.+)$")
    assert(name, "bad shard description: " .. line)
    local rec = { name = name, shard = shard, status = status ~= "" and status or "pending" }
    if deps then
      rec.dependencies = {}
      for d in deps:gmatch("[^,%s]+") do rec.dependencies[#rec.dependencies + 1] = d end
    end
    for k, v in pairs(extra and extra[sn] or {}) do rec[k] = v end
    runs[#runs + 1] = rec
  end
  return require("magma").MetaWorkflowRun {
    meta_workflow = "mwf-uuid", input = {}, final_status = "pending", workflow_runs = runs,
  }
end

-- The shard_name of each workflow run in a list, in order.
local function shard_names(list)
  local out = {}
  for i, w in ipairs(list) do out[i] = w.shard_name end
  return out
end

return { build = build, shard_names = shard_names }
