-- Randomised comparison of the C implementation with the plain-Lua model (spec/model.lua).
--
-- For each seed: a random document (steps, shards, dependency edges including names of no
-- shard, duplicates, self-dependencies and cycles, statuses including unknown ones, extra
-- keys), then a random sequence of operations; after every operation the C run and the model
-- must agree on to_run, running and update_status, and every few operations on
-- runs_to_json, to_json, counts, the shards' attributes and what validate reports.
--
-- A failure names the seed and the operation. Replay one seed with
--   PROPERTY_SEED=17 busted spec/property_spec.lua
-- (PROPERTY_TRACE=1 also prints every operation of that seed).

-- Globals as locals: busted resolves a spec file's globals through its context chain, which
-- costs more than the comparisons themselves.
local pairs, ipairs, type, tostring, rawget, pcall, error = pairs, ipairs, type, tostring, rawget, pcall, error
local concat, sort = table.concat, table.sort

local model = require "model"
local M = require "magma.metawflrun"
local MWR = M.MetaWorkflowRun
local NULL = model.null
assert(NULL ~= nil, "model.null: no json null found (lua-cjson or magma.core)")

local NSEEDS = 200
local NOPS = 200
local CHECK_EVERY = 10

-- xorshift64: the same numbers on every platform and Lua 5.4 build, unlike math.random.
local function rng(seed)
  local s = (seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) | 1
  local function next_int()
    s = s ~ (s << 13)
    s = s ~ (s >> 7)
    s = s ~ (s << 17)
    return s >> 1 -- logical shift: never negative
  end
  local r = {}
  function r.int(n) return next_int() % n + 1 end         -- 1..n
  function r.chance(p) return next_int() % 1000 < p * 1000 end
  function r.pick(list) return list[r.int(#list)] end
  return r
end

local STEP_NAMES = { "align", "sort", "merge", "call", "call:gatk", "qc", "x:y", "combine" }
local SHARD_LABELS = { "0", "1", "2", "3", "0:0", "0:1", "1:0", "gatk:0", "y:1", "" }
local STATUSES = { "pending", "pending", "pending", "running", "completed", "completed", "completed",
  "failed", "stopped", "queued" }
local GHOSTS = { "ghost:0", "align", "nostep:1", "zz:9", "call:gatk" }
local EXTRA_KEYS = { "jobid", "job_id", "workflow_run", "custom", "output" }
local RESET_KEYS = { "jobid", "job_id", "workflow_run", "custom", "output", "nope" }
-- Keys a reset must refuse to remove (they are the shard's identity, or kept by the core).
local BAD_RESET_KEYS = { "status", "name", "shard", "dependencies" }

local function random_value(r, key)
  local k = r.int(10)
  if key == "output" then
    if k <= 3 then return {} end
    if k == 4 then return NULL end
    return { { argument_name = "out" .. r.int(3), files = "uuid-" .. r.int(100) } }
  end
  if k == 1 then return NULL end
  if k == 2 then return false end
  if k == 3 then return 0 end
  if k == 4 then return "" end
  if k == 5 then return { nested = { r.int(5), "x" } } end
  return key .. "-" .. r.int(1000)
end

local function random_deps(r, names, self)
  local k = r.int(20)
  if k == 1 then return nil end
  if k == 2 then return NULL end
  if k == 3 then return {} end
  local deps = {}
  for i = 1, r.int(4) do
    local c = r.int(20)
    if c == 1 then
      deps[i] = self
    elseif c == 2 then
      deps[i] = r.pick(GHOSTS)
    elseif c == 3 and i > 1 then
      deps[i] = deps[i - 1] -- duplicate
    else
      deps[i] = r.pick(names)
    end
  end
  return deps
end

-- A random document the constructor accepts (shard_names are unique).
local function random_doc(r)
  local big = r.chance(0.1)
  local nsteps = r.int(big and 8 or 5)
  local records, names, seen = {}, {}, {}
  for _ = 1, nsteps do
    local step = r.pick(STEP_NAMES)
    local nshards = r.int(big and 40 or 6)
    for j = 1, nshards do
      local shard = (j <= 3 and r.chance(0.5)) and r.pick(SHARD_LABELS) or tostring(j)
      local sn = step .. ":" .. shard
      if not seen[sn] then
        seen[sn] = true
        names[#names + 1] = sn
        records[#records + 1] = { name = step, shard = shard, status = r.pick(STATUSES) }
      end
    end
  end
  for i, rec in ipairs(records) do
    if r.chance(0.8) then rec.dependencies = random_deps(r, names, names[i]) end
    if r.chance(0.3) then
      for _ = 1, r.int(3) do
        local key = r.pick(EXTRA_KEYS)
        rec[key] = random_value(r, key)
      end
    end
  end
  -- Now and then a deliberate cycle of two.
  if #records >= 2 and r.chance(0.2) then
    local a, b = r.int(#records), r.int(#records)
    records[a].dependencies = { names[b] }
    records[b].dependencies = { names[a], r.pick(names) }
  end
  return {
    meta_workflow = "mwf-" .. r.int(1000),
    input = { { argument_name = "input_files", files = { "f" .. r.int(9) } } },
    final_status = r.pick { "pending", "running", "inactive" },
    title = r.chance(0.5) and "run" or nil,
    workflow_runs = records,
  }, names
end

-- ------------------------------------------------------------------ comparisons

local function show(v, depth)
  depth = depth or 0
  if v == NULL then return "null" end
  if type(v) == "string" then return ("%q"):format(v) end
  if type(v) ~= "table" then return tostring(v) end
  if depth > 3 then return "{...}" end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  sort(keys, function(a, b)
    if type(a) == type(b) and (type(a) == "number" or type(a) == "string") then return a < b end
    return type(a) < type(b)
  end)
  local parts = {}
  for _, k in ipairs(keys) do
    parts[#parts + 1] = (type(k) == "number" and "" or tostring(k) .. "=") .. show(v[k], depth + 1)
  end
  return "{" .. concat(parts, ", ") .. "}"
end

-- nil when equal (metatables ignored), else the path where they differ.
local function diff_keys(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then
    if a == b then return nil end
    return {}
  end
  for k, v in pairs(a) do
    local d = diff_keys(v, rawget(b, k))
    if d then
      d[#d + 1] = k
      return d
    end
  end
  for k in pairs(b) do
    if rawget(a, k) == nil then return { k } end
  end
  return nil
end

local function diff(a, b)
  local keys = diff_keys(a, b)
  if not keys then return nil end
  local path = "$"
  for i = #keys, 1, -1 do path = path .. "." .. tostring(keys[i]) end
  return path
end

local names_of = require("support.runs").shard_names

local function c_problems(run)
  local missing, cycles = {}, {}
  local ok, problems = run:validate()
  for _, p in ipairs(problems) do
    if p.kind == "missing_dependency" then
      missing[#missing + 1] = { shard = p.shard, dependency = p.dependency }
    elseif p.kind == "cycle" then
      cycles[#cycles + 1] = concat(p.shards, " ")
    else
      error("unknown problem kind " .. tostring(p.kind))
    end
  end
  sort(cycles)
  return ok, missing, cycles
end

local function model_cycles(m)
  local out = {}
  for _, c in ipairs(m:cycles()) do out[#out + 1] = concat(c, " ") end
  sort(out)
  return out
end

-- ------------------------------------------------------------------ one seed

local function run_seed(seed, trace)
  local r = rng(seed)
  local doc, names = random_doc(r)
  local run, m = MWR(doc), model.new(doc)
  local steps = m:steps()
  local op_index, op_desc = 0, "construction"

  local function fail(what, c, expected)
    error(("seed %d, op %d (%s): %s\n  C:     %s\n  model: %s\n  replay: PROPERTY_SEED=%d busted %s")
      :format(seed, op_index, op_desc, what, show(c), show(expected), seed, "spec/property_spec.lua"), 0)
  end
  local function same(what, c, expected)
    local d = diff(c, expected)
    if d then fail(what .. " differs at " .. d, c, expected) end
  end

  local function some_shard()
    if r.chance(0.05) then return r.pick(GHOSTS) end
    return r.pick(names)
  end

  -- Both sides must fail, or both succeed.
  local function both(desc, fc, fm)
    op_desc = desc
    if trace then io.stderr:write(("seed %d op %d: %s\n"):format(seed, op_index, desc)) end
    local okc, errc = pcall(fc)
    local okm, errm = pcall(fm)
    if okc ~= okm then
      fail("one side raised an error", okc and "ok" or errc, okm and "ok" or errm)
    end
  end

  local function set_status_op()
    local sn, st = some_shard(), r.pick(STATUSES)
    if r.chance(0.5) then
      both(("update_attribute(%q, 'status', %q)"):format(sn, st),
        function() run:update_attribute(sn, "status", st) end,
        function() m:update_attribute(sn, "status", st) end)
    else
      sn = r.pick(names)
      both(("runs[%q].status = %q"):format(sn, st),
        function() run.runs[sn].status = st end,
        function() m:update_attribute(sn, "status", st) end)
    end
  end

  local function set_deps_op()
    local sn = some_shard()
    local deps = random_deps(r, names, sn)
    if r.chance(0.7) then
      both(("update_attribute(%q, 'dependencies', %s)"):format(sn, show(deps)),
        function() run:update_attribute(sn, "dependencies", model.deepcopy(deps)) end,
        function() m:update_attribute(sn, "dependencies", model.deepcopy(deps)) end)
    else
      sn = r.pick(names)
      both(("runs[%q].dependencies = %s"):format(sn, show(deps)),
        function() run.runs[sn].dependencies = model.deepcopy(deps) end,
        function() m:update_attribute(sn, "dependencies", model.deepcopy(deps)) end)
    end
  end

  local function set_extra_op()
    local sn, key = some_shard(), r.pick(EXTRA_KEYS)
    local v = random_value(r, key)
    both(("update_attribute(%q, %q, %s)"):format(sn, key, show(v)),
      function() run:update_attribute(sn, key, model.deepcopy(v)) end,
      function() m:update_attribute(sn, key, model.deepcopy(v)) end)
  end

  local function identity_op()
    local sn, key = r.pick(names), r.pick { "name", "shard", "shard_name" }
    op_desc = ("update_attribute(%q, %q, 'x') must fail"):format(sn, key)
    if pcall(run.update_attribute, run, sn, key, "x") then fail("no error", "ok", "error") end
  end

  local function random_keys()
    if r.chance(0.7) then return nil end
    local keys = {}
    for i = 1, r.int(3) - 1 do keys[i] = r.pick(RESET_KEYS) end
    if r.chance(0.05) then keys[#keys + 1] = r.pick(BAD_RESET_KEYS) end
    return keys
  end

  local function reset_step_op()
    local name
    local k = r.int(10)
    if k == 1 then name = "nostep" elseif k == 2 then name = "call" else name = r.pick(steps) end
    local keys = random_keys()
    both(("reset_step(%q, %s)"):format(name, show(keys)),
      function() run:reset_step(name, keys) end,
      function() m:reset_step(name, keys) end)
  end

  local function reset_shard_op()
    local sn, keys = some_shard(), random_keys()
    both(("reset_shard(%q, %s)"):format(sn, show(keys)),
      function() run:reset_shard(sn, keys) end,
      function() m:reset_shard(sn, keys) end)
  end

  local function query_op()
    op_desc = "queries"
    same("runs_to_json", run:runs_to_json(), m:runs_to_json())
  end

  local ops = {
    { 30, set_status_op }, { 12, set_deps_op }, { 10, set_extra_op }, { 2, identity_op },
    { 5, reset_step_op }, { 8, reset_shard_op }, { 5, query_op },
  }
  local total = 0
  for _, o in ipairs(ops) do total = total + o[1] end
  local function random_op()
    local k = r.int(total)
    for _, o in ipairs(ops) do
      if k <= o[1] then return o[2] end
      k = k - o[1]
    end
  end

  local function check_often()
    same("to_run", names_of(run:to_run()), m:to_run())
    same("running", names_of(run:running()), m:running())
    same("update_status", run:update_status(), m:update_status())
    same("final_status", run.final_status, m.doc.final_status)
  end

  local function check_all()
    check_often()
    same("runs_to_json", run:runs_to_json(), m:runs_to_json())
    same("to_json", run:to_json(), m:to_json())
    same("workflow_runs", run.workflow_runs, m:runs_to_json())
    same("counts", run:counts(), m:counts())
    same("steps", run:steps(), m:steps())
    local ok, missing, cycles = c_problems(run)
    same("validate: missing dependencies", missing, m:missing_dependencies())
    same("validate: cycles", cycles, model_cycles(m))
    same("validate: ok", ok, #missing == 0 and #cycles == 0)
    local sn = r.pick(names)
    local w, rec = run.runs[sn], m.index[sn]
    same("runs[" .. sn .. "].status", w.status, rec.status)
    local deps = rec.dependencies
    if deps == nil or deps == NULL then deps = {} end
    same("runs[" .. sn .. "].dependencies", w.dependencies, deps)
    local out = rec.output
    if out == nil or out == NULL then out = {} end
    same("runs[" .. sn .. "].output", w.output, out)
    same("runs[" .. sn .. "].jobid", w.jobid, rec.jobid)
  end

  check_all()
  for i = 1, NOPS do
    op_index = i
    random_op()()
    op_desc = op_desc .. ", then the checks"
    if i % CHECK_EVERY == 0 or i == NOPS then check_all() else check_often() end
  end
  return #names
end

-- ------------------------------------------------------------------ the specs

describe("the C run and the model agree on random documents and operations", function()
  local only = tonumber(os.getenv("PROPERTY_SEED") or "")
  local trace = os.getenv("PROPERTY_TRACE") == "1"
  local first, last = 1, NSEEDS
  if only then first, last = only, only end
  for seed = first, last do
    it("seed " .. seed, function()
      assert.is_true(run_seed(seed, trace) > 0)
    end)
  end
end)

describe("the C run and the model agree under heavy dependency churn", function()
  -- Enough dependency changes that the core's id pools are compacted several times.
  it("over 3000 dependency changes on 120 shards", function()
    local r = rng(4242)
    local records, names = {}, {}
    for i = 1, 120 do
      names[i] = "s" .. (i % 7) .. ":" .. i
      records[i] = { name = "s" .. (i % 7), shard = tostring(i), status = r.pick(STATUSES) }
    end
    local doc = { meta_workflow = "m", input = {}, final_status = "pending", workflow_runs = records }
    local run, m = MWR(doc), model.new(doc)
    for op = 1, 3000 do
      local sn = r.pick(names)
      local deps = {}
      for j = 1, r.int(24) do deps[j] = r.chance(0.05) and "ghost:" .. r.int(50) or r.pick(names) end
      run:update_attribute(sn, "dependencies", deps)
      m:update_attribute(sn, "dependencies", deps)
      if op % 3 == 0 then
        local sn2, st = r.pick(names), r.pick(STATUSES)
        run:update_attribute(sn2, "status", st)
        m:update_attribute(sn2, "status", st)
      end
      if op % 50 == 0 then
        assert.same(m:to_run(), names_of(run:to_run()), "op " .. op)
        assert.same(m:runs_to_json(), run:runs_to_json(), "op " .. op)
      end
    end
    local _, missing, cycles = c_problems(run)
    assert.same(m:missing_dependencies(), missing)
    assert.same(model_cycles(m), cycles)
  end)
end)

describe("the C run and the model agree on a large document", function()
  -- Thousands of shards: several levels of the core's ready-set bitmap.
  it("5000 shards, 150 operations", function()
    local r = rng(777)
    local records, names = {}, {}
    for i = 1, 5000 do
      names[i] = "step" .. (i % 13) .. ":" .. i
      records[i] = { name = "step" .. (i % 13), shard = tostring(i), status = r.pick(STATUSES) }
    end
    for i = 1, 5000 do
      local deps = {}
      for j = 1, r.int(3) - 1 do deps[j] = names[r.int(5000)] end
      records[i].dependencies = deps
    end
    local doc = { meta_workflow = "m", input = {}, final_status = "pending", workflow_runs = records }
    local run, m = MWR(doc), model.new(doc)
    for op = 1, 150 do
      local sn = r.pick(names)
      if r.chance(0.8) then
        local st = r.pick(STATUSES)
        run:update_attribute(sn, "status", st)
        m:update_attribute(sn, "status", st)
      else
        run:reset_shard(sn)
        m:reset_shard(sn)
      end
      assert.same(m:to_run(), names_of(run:to_run()), "op " .. op)
      assert.same(m:running(), names_of(run:running()), "op " .. op)
      assert.equal(m:update_status(), run:update_status(), "op " .. op)
    end
    assert.same(m:runs_to_json(), run:runs_to_json())
  end)
end)
