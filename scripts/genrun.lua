-- Generates MetaWorkflowRun documents for benchmarks and tests.
--
--   local genrun = require "genrun"          (LUA_PATH with scripts/?.lua)
--   local doc = genrun.generate{shards = 20000, steps = 50, seed = 1}
--
-- The shape of a scattered pipeline: `steps` steps of shards/steps shards each; shard j of
-- step s depends on shards j and j+1 (mod width) of step s-1, like a scatter step reading
-- two neighbouring slices. Every record has an output list and the keys real CGAP records
-- have, so that documents weigh what real ones do.
--
-- As a command: lua5.4 scripts/genrun.lua SHARDS STEPS > run.json (needs magma.json).

local genrun = {}

local function step_name(s)
  return string.format("workflow_step-%02d-check", s)
end

function genrun.generate(opts)
  local nshards = opts.shards or 20000
  local nsteps = opts.steps or 50
  local width = nshards // nsteps
  assert(width >= 1, "need at least one shard per step")
  local array = opts.array or function(t) return t end
  local runs = array {}
  for s = 1, nsteps do
    local name = step_name(s)
    for j = 0, width - 1 do
      local rec = {
        name = name,
        status = "pending",
        shard = tostring(j),
      }
      if s > 1 then
        local prev = step_name(s - 1)
        rec.dependencies = array {
          prev .. ":" .. j,
          prev .. ":" .. ((j + 1) % width),
        }
        if width == 1 then rec.dependencies[2] = nil end
      end
      rec.output = array {}
      runs[#runs + 1] = rec
    end
  end
  return {
    meta_workflow = "b6a9e2e1-3f4c-4a8e-9f0e-000000000001",
    input = array {
      { argument_name = "input_fastqs", argument_type = "file", files = array {} },
    },
    final_status = "pending",
    workflow_runs = runs,
  }
end

if arg and arg[0] and arg[0]:match("genrun%.lua$") then
  local json = require "magma.json"
  local doc = genrun.generate {
    shards = tonumber(arg[1]) or 20000,
    steps = tonumber(arg[2]) or 50,
    array = json.array,
  }
  io.write(assert(json.encode(doc, { indent = 2 })), "\n")
end

return genrun
