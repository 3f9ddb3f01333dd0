-- Specs of magma.metawflrun: MetaWorkflowRun and WorkflowRun as DESIGN.md ("The Lua API",
-- "Where magma's behaviour is not kept") describes them, checked against the documents in
-- spec/fixtures and against the plain-Lua model in spec/model.lua.

local cjson = require "cjson"
local model = require "model"
local M = require "magma.metawflrun"
local MWR = M.MetaWorkflowRun

local NULL = cjson.null

local FIXTURES = (debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./") .. "fixtures/"

local function read_fixture(name)
  local f = assert(io.open(FIXTURES .. name, "rb"))
  local text = f:read("a")
  f:close()
  return cjson.decode(text)
end

-- A shard record.
local function rec(name, shard, status, deps, extra)
  local r = { name = name, shard = shard, status = status, dependencies = deps }
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end

-- A document around the given records.
local function doc(runs, extra)
  local d = {
    meta_workflow = "mwf-uuid-1",
    input = { { argument_name = "input_files", argument_type = "file", files = { { file = "f-1" } } } },
    final_status = "pending",
    workflow_runs = runs or {},
  }
  for k, v in pairs(extra or {}) do d[k] = v end
  return d
end

-- The small run most specs use:
--   a:0 completed (output, jobid)   a:1 pending
--   b:0 pending <- a:0              b:1 pending <- a:0, a:1
--   c:0 running <- b:0
local function sample()
  return doc({
    rec("a", "0", "completed", nil, { output = { { argument_name = "out", files = "f-a0" } }, jobid = "j-a0" }),
    rec("a", "1", "pending"),
    rec("b", "0", "pending", { "a:0" }),
    rec("b", "1", "pending", { "a:0", "a:1" }),
    rec("c", "0", "running", { "b:0" }),
  }, { title = "sample run", uuid = "run-uuid-1" })
end

local shard_names = require("support.runs").shard_names

local function ready(run) return shard_names(run:to_run()) end

-- pcall(f, ...) must fail; returns the message.
local function fails(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  assert.is_string(err)
  return err
end

local function has(s, fragment)
  assert.is_truthy(s:find(fragment, 1, true), ("%q not found in %q"):format(fragment, s))
end

local function validation_error(d, ...)
  local err = fails(MWR, d)
  assert.is_truthy(err:find("^JSON validation error"), "does not start with 'JSON validation error': " .. err)
  for _, fragment in ipairs { ... } do has(err, fragment) end
  return err
end

local METHODS = { "to_run", "running", "update_attribute", "runs_to_json", "to_json", "reset_step",
  "reset_shard", "update_status", "validate", "counts", "steps" }

describe("magma.metawflrun", function()
  it("is also reachable as require('magma').metawflrun", function()
    assert.equal(MWR, require("magma").metawflrun.MetaWorkflowRun)
  end)

  describe("MetaWorkflowRun(data)", function()
    it("builds a run from a table shaped like MetaWorkflowRun[json]", function()
      local run = MWR(sample())
      assert.equal("userdata", type(run))
      assert.equal(5, #run)
      assert.equal("mwf-uuid-1", run.meta_workflow)
    end)

    it("copies data deeply: changing data afterwards changes nothing", function()
      local d = sample()
      local run = MWR(d)
      local before = run:to_json()
      d.meta_workflow = "other"
      d.title = "changed"
      d.input[1].files[1].file = "f-2"
      d.workflow_runs[2].status = "completed"
      d.workflow_runs[1].output[1].files = "changed"
      d.workflow_runs[3].dependencies[1] = "a:1"
      d.workflow_runs[4].jobid = "j-new"
      table.remove(d.workflow_runs)
      assert.same(before, run:to_json())
      assert.equal("pending", run.runs["a:1"].status)
      assert.same({ "a:0" }, run.runs["b:0"].dependencies)
      assert.same({ "a:1", "b:0" }, ready(run))
    end)

    it("leaves data unchanged", function()
      local d = sample()
      local copy = model.deepcopy(d)
      local run = MWR(d)
      run:update_attribute("a:1", "status", "completed")
      run.title = "changed"
      run:reset_shard("a:0")
      assert.same(copy, d)
    end)

    it("accepts a document without shards", function()
      local run = MWR(doc {})
      assert.equal(0, #run)
      assert.same({}, run:to_run())
      assert.same({}, run:runs_to_json())
    end)

    it("accepts a dependency on a shard listed later in the document", function()
      local run = MWR(doc { rec("b", "0", "pending", { "a:0" }), rec("a", "0", "completed") })
      assert.same({ "b:0" }, ready(run))
      assert.is_true((run:validate()))
    end)

    it("accepts a dependency on a shard that is not in the document", function()
      local run = MWR(doc { rec("b", "0", "pending", { "zz:9" }) })
      assert.same({ "zz:9" }, run.runs["b:0"].dependencies)
    end)

    it("accepts statuses other than the four known ones", function()
      local run = MWR(doc { rec("a", "0", "stopped"), rec("a", "1", "pending", { "a:0" }) })
      assert.equal("stopped", run.runs["a:0"].status)
      assert.same({}, run:to_run())
    end)

    it("accepts tables decoded by lua-cjson, null values included", function()
      local d = cjson.decode([[{
        "meta_workflow": "m", "input": [], "final_status": "pending", "extra": null,
        "workflow_runs": [
          {"name": "a", "shard": "0", "status": "completed", "jobid": null, "output": null,
           "dependencies": null},
          {"name": "b", "shard": "0", "status": "pending", "dependencies": ["a:0"],
           "output": [], "workflow_run": null}
        ]}]])
      local run = MWR(d)
      assert.same({ "b:0" }, ready(run))
      assert.same({}, run.runs["a:0"].output)
      assert.same({}, run.runs["a:0"].dependencies)
      assert.same({
        { name = "a", shard = "0", status = "completed" },
        { name = "b", shard = "0", status = "pending", dependencies = { "a:0" } },
      }, run:runs_to_json())
    end)

    it("accepts a document whose records all come from lua-cjson with empty arrays", function()
      local run = MWR(cjson.decode(
        '{"meta_workflow":"m","input":[],"final_status":"pending","workflow_runs":[' ..
        '{"name":"a","shard":"0","status":"pending","dependencies":[],"output":[]}]}'))
      assert.same({ "a:0" }, ready(run))
    end)

    it("rejects an argument that is not a table", function()
      local err = fails(MWR, "doc")
      assert.is_truthy(err:find("bad argument #1", 1, true), err)
      has(err, "table expected, got string")
    end)
  end)

  describe("validation errors", function()
    -- { what, document, fragments the message must hold }
    local function with_runs(runs) return doc(runs) end
    local cases = {}
    for _, key in ipairs { "meta_workflow", "input", "workflow_runs", "final_status" } do
      local d = sample()
      d[key] = nil
      cases[#cases + 1] = { "a missing " .. key, d, { 'missing key "' .. key .. '"' } }
      local n = sample()
      n[key] = NULL
      cases[#cases + 1] = { "a null " .. key, n, { 'missing key "' .. key .. '"' } }
    end
    local more = {
      { "final_status not a string", doc({}, { final_status = 1 }),
        { 'key "final_status" must be a string, got number' } },
      { "workflow_runs an object", doc({ x = rec("a", "0", "pending") }),
        { 'key "workflow_runs" must be a list, got object' } },
      { "workflow_runs a string", doc("a:0"),
        { 'key "workflow_runs" must be a list, got string' } },
      { "a record that is a string", with_runs { rec("a", "0", "pending"), "b:0" },
        { "workflow_runs[2] must be an object, got string" } },
      { "a record that is a list", with_runs { { "a", "0", "pending" } },
        { "workflow_runs[1] must be an object, got list" } },
      { "a record lacking name", with_runs { rec("a", "0", "pending"), { shard = "0", status = "pending" } },
        { "workflow_runs[2]", 'missing key "name"' } },
      { "a record lacking shard", with_runs { rec("a", "0", "pending"), { name = "b", status = "pending" } },
        { "workflow_runs[2]", 'missing key "shard"' } },
      { "a record lacking status", with_runs { rec("a", "0", "pending"), { name = "a", shard = "1" } },
        { 'workflow_runs[2] (shard "a:1")', 'missing key "status"' } },
      { "a name that is not a string", with_runs { rec("a", "0", "pending"), rec(7, "0", "pending") },
        { "workflow_runs[2]", 'key "name" must be a string, got number' } },
      { "a shard that is not a string", with_runs { rec("a", "0", "pending"), rec("a", 1, "pending") },
        { "workflow_runs[2]", 'key "shard" must be a string, got number' } },
      { "a status that is a number", with_runs { rec("a", "0", "pending"), rec("a", "1", 3) },
        { 'workflow_runs[2] (shard "a:1")', 'key "status" must be a string, got number' } },
      { "a status that is null", with_runs { rec("a", "0", NULL) },
        { 'workflow_runs[1] (shard "a:0")', 'key "status" must be a string, got null' } },
      { "a status that is a table", with_runs { rec("a", "0", { "pending" }) },
        { 'workflow_runs[1] (shard "a:0")', 'key "status" must be a string' } },
      { "dependencies that are a string", with_runs { rec("a", "0", "pending"), rec("b", "0", "pending", "a:0") },
        { 'workflow_runs[2] (shard "b:0")', 'key "dependencies" must be a list of strings, got string' } },
      { "dependencies that are an object", with_runs { rec("b", "0", "pending", { first = "a:0" }) },
        { 'workflow_runs[1] (shard "b:0")', 'key "dependencies" must be a list of strings, got object' } },
      { "dependencies holding a non-string", with_runs { rec("a", "0", "pending"), rec("b", "0", "pending", { "a:0", 5 }) },
        { 'workflow_runs[2] (shard "b:0")', "dependencies[2] must be a string, got number" } },
      { "dependencies holding a table", with_runs { rec("b", "0", "pending", { { "a:0" } }) },
        { 'workflow_runs[1] (shard "b:0")', "dependencies[1] must be a string" } },
      { "a duplicate shard_name", with_runs { rec("a", "0", "pending"), rec("b", "0", "pending"), rec("a", "0", "completed") },
        { 'workflow_runs[3] (shard "a:0")', 'duplicate shard_name "a:0"' } },
      { "a duplicate shard_name made of different name and shard",
        with_runs { rec("a:b", "c", "pending"), rec("a", "b:c", "pending") },
        { 'workflow_runs[2] (shard "a:b:c")', 'duplicate shard_name "a:b:c"' } },
      { "a duplicate of a shard named as a dependency before both",
        with_runs { rec("b", "0", "pending", { "a:0" }), rec("a", "0", "pending"), rec("a", "0", "pending") },
        { 'workflow_runs[3] (shard "a:0")', 'duplicate shard_name "a:0"' } },
    }
    for _, c in ipairs(more) do cases[#cases + 1] = c end

    for _, c in ipairs(cases) do
      it("rejects " .. c[1], function()
        validation_error(c[2], table.unpack(c[3]))
      end)
    end

    it("reports an empty record as lacking name, not as a list", function()
      -- lua-cjson decodes `{}` to an empty table, which is also an empty list.
      local d = cjson.decode('{"meta_workflow":"m","input":[],"final_status":"pending","workflow_runs":[{}]}')
      validation_error(d, "workflow_runs[1]", 'missing key "name"')
    end)
  end)

  describe("defaults", function()
    local cases = {
      { "absent", nil },
      { "null", NULL },
      { "an empty list", {} },
    }
    for _, c in ipairs(cases) do
      it("reads output as an empty list when it is " .. c[1], function()
        local run = MWR(doc { rec("a", "0", "pending", nil, { output = c[2] }) })
        assert.same({}, run.runs["a:0"].output)
      end)
      it("reads dependencies as an empty list when they are " .. c[1], function()
        local run = MWR(doc { rec("a", "0", "pending", c[2]) })
        assert.same({}, run.runs["a:0"].dependencies)
        assert.same({ "a:0" }, ready(run))
      end)
    end
  end)

  describe("attributes", function()
    local run
    before_each(function() run = MWR(sample()) end)

    it("gives meta_workflow", function()
      assert.equal("mwf-uuid-1", run.meta_workflow)
    end)

    it("gives input", function()
      assert.same(sample().input, run.input)
    end)

    it("gives final_status", function()
      assert.equal("pending", run.final_status)
    end)

    it("gives every other top-level key of the document", function()
      assert.equal("sample run", run.title)
      assert.equal("run-uuid-1", run.uuid)
    end)

    it("gives nil for a key the document does not have", function()
      assert.is_nil(run.no_such_key)
      assert.is_nil(run[1])
    end)

    it("gives workflow_runs as runs_to_json() gives them", function()
      assert.same(run:runs_to_json(), run.workflow_runs)
    end)

    it("gives a fresh workflow_runs on every read", function()
      local w = run.workflow_runs
      w[2].status = "completed"
      assert.equal("pending", run.workflow_runs[2].status)
      assert.is_false(rawequal(w, run.workflow_runs))
    end)

    it("gives runs, which # counts", function()
      assert.equal(5, #run.runs)
    end)

    it("gives the same runs object on every read", function()
      assert.equal(run.runs, run.runs)
    end)

    it("gives runs indexed by shard_name", function()
      local w = run.runs["b:1"]
      assert.equal("userdata", type(w))
      assert.equal("b:1", w.shard_name)
    end)

    it("gives the same WorkflowRun for the same shard (runs[x] == runs[x])", function()
      assert.is_true(run.runs["a:1"] == run.runs["a:1"])
      assert.is_true(rawequal(run.runs["a:1"], run.runs["a:1"]))
      assert.is_false(run.runs["a:1"] == run.runs["a:0"])
    end)

    it("keeps the same WorkflowRun through a garbage collection while it is held", function()
      local w = run.runs["a:1"]
      collectgarbage("collect")
      collectgarbage("collect")
      assert.is_true(rawequal(w, run.runs["a:1"]))
    end)

    it("gives nil in runs for an unknown shard_name", function()
      assert.is_nil(run.runs["zz:0"])
      assert.is_nil(run.runs["a"])
      assert.is_nil(run.runs[1])
    end)

    it("walks runs with pairs in document order", function()
      local keys, same = {}, true
      for sn, w in pairs(run.runs) do
        keys[#keys + 1] = sn
        same = same and rawequal(w, run.runs[sn])
      end
      assert.same({ "a:0", "a:1", "b:0", "b:1", "c:0" }, keys)
      assert.is_true(same)
    end)

    it("gives # of the run as its number of shards", function()
      assert.equal(5, #run)
    end)
  end)

  describe("setting attributes", function()
    local run
    before_each(function() run = MWR(sample()) end)

    it("sets a top-level key", function()
      run.title = "renamed"
      assert.equal("renamed", run.title)
      assert.equal("renamed", run:to_json().title)
    end)

    it("adds a new top-level key", function()
      run.common_fields = { project = "p" }
      assert.same({ project = "p" }, run.common_fields)
      assert.same({ project = "p" }, run:to_json().common_fields)
    end)

    it("removes an optional top-level key set to nil", function()
      run.title = nil
      assert.is_nil(run.title)
      assert.is_nil(run:to_json().title)
    end)

    it("sets meta_workflow and input", function()
      run.meta_workflow = "mwf-2"
      run.input = {}
      assert.equal("mwf-2", run.meta_workflow)
      assert.same({}, run:to_json().input)
    end)

    it("sets final_status to a string", function()
      run.final_status = "stopped"
      assert.equal("stopped", run.final_status)
      assert.equal("stopped", run:to_json().final_status)
    end)

    it("refuses a final_status that is not a string", function()
      has(fails(function() run.final_status = 3 end), '"final_status" must be a string')
      assert.equal("pending", run.final_status)
    end)

    for _, key in ipairs { "meta_workflow", "input", "workflow_runs", "final_status" } do
      it("refuses to remove the required key " .. key, function()
        local err = fails(function() run[key] = nil end)
        has(err, '"' .. key .. '"')
        local err2 = fails(function() run[key] = NULL end)
        has(err2, '"' .. key .. '"')
      end)
    end

    it("keeps runs read-only", function()
      has(fails(function() run.runs = {} end), '"runs" is read-only')
      assert.equal(5, #run.runs)
    end)

    it("keeps workflow_runs read-only", function()
      has(fails(function() run.workflow_runs = {} end), '"workflow_runs" is read-only')
      assert.equal(5, #run.workflow_runs)
    end)

    it("keeps the entries of runs read-only", function()
      has(fails(function() run.runs["a:1"] = false end), "read-only")
      has(fails(function() run.runs["new:0"] = run.runs["a:1"] end), "read-only")
      assert.equal(5, #run.runs)
      assert.is_nil(run.runs["new:0"])
    end)

    for _, name in ipairs(METHODS) do
      it("refuses to overwrite the method " .. name, function()
        local m = run[name]
        has(fails(function() run[name] = function() end end), '"' .. name .. '" is a method')
        assert.equal(m, run[name])
        assert.equal("function", type(run[name]))
      end)
    end
  end)

  describe("WorkflowRun", function()
    local run
    before_each(function() run = MWR(sample()) end)

    it("gives name, shard and shard_name", function()
      local w = run.runs["b:1"]
      assert.equal("b", w.name)
      assert.equal("1", w.shard)
      assert.equal("b:1", w.shard_name)
    end)

    it("gives shard_name for a step name and a shard holding ':'", function()
      local r = MWR(doc { rec("step:x", "0:1", "pending") })
      local w = r.runs["step:x:0:1"]
      assert.equal("step:x", w.name)
      assert.equal("0:1", w.shard)
    end)

    it("gives status", function()
      assert.equal("completed", run.runs["a:0"].status)
      assert.equal("running", run.runs["c:0"].status)
    end)

    it("gives output", function()
      assert.same({ { argument_name = "out", files = "f-a0" } }, run.runs["a:0"].output)
    end)

    it("gives dependencies", function()
      assert.same({ "a:0", "a:1" }, run.runs["b:1"].dependencies)
    end)

    it("gives dependencies as a fresh list: changing it changes nothing", function()
      local w = run.runs["b:0"]
      local deps = w.dependencies
      deps[1] = "a:1"
      assert.same({ "a:0" }, w.dependencies)
      assert.same({ "a:1", "b:0" }, ready(run))
    end)

    it("gives every other key of the record", function()
      local r = MWR(doc { rec("a", "0", "completed", nil,
        { jobid = "j-1", job_id = "j-2", workflow_run = "wfr-uuid", custom = { k = 1 }, flag = false }) })
      local w = r.runs["a:0"]
      assert.equal("j-1", w.jobid)
      assert.equal("j-2", w.job_id)
      assert.equal("wfr-uuid", w.workflow_run)
      assert.same({ k = 1 }, w.custom)
      assert.equal(false, w.flag)
    end)

    it("gives nil for a key the record does not have", function()
      assert.is_nil(run.runs["a:1"].jobid)
      assert.is_nil(run.runs["a:1"][1])
    end)

    it("sets status with wfr.status = value, the same as update_attribute", function()
      local r1, r2 = MWR(sample()), MWR(sample())
      r1.runs["a:1"].status = "completed"
      r2:update_attribute("a:1", "status", "completed")
      assert.equal("completed", r1.runs["a:1"].status)
      assert.same(ready(r2), ready(r1))
      assert.same({ "b:0", "b:1" }, ready(r1))
      assert.same(r2:runs_to_json(), r1:runs_to_json())
      assert.same(r2:counts(), r1:counts())
    end)

    it("sets any other key", function()
      local w = run.runs["a:1"]
      w.jobid = "j-9"
      assert.equal("j-9", w.jobid)
      assert.equal("j-9", run:runs_to_json()[2].jobid)
    end)

    it("sets dependencies, and readiness follows", function()
      local w = run.runs["b:1"]
      w.dependencies = { "a:0" }
      assert.same({ "a:0" }, w.dependencies)
      assert.same({ "a:1", "b:0", "b:1" }, ready(run))
    end)

    for _, key in ipairs { "name", "shard", "shard_name" } do
      it("refuses to set the identity key " .. key, function()
        local w = run.runs["a:1"]
        local err = fails(function() w[key] = "x" end)
        has(err, 'shard "a:1"')
        has(err, 'key "' .. key .. '"')
        assert.equal("a:1", w.shard_name)
        assert.is_true(rawequal(w, run.runs["a:1"]))
      end)
    end

    it("refuses a status that is not a string", function()
      local w = run.runs["a:1"]
      has(fails(function() w.status = 1 end), 'key "status" must be a string')
      has(fails(function() w.status = nil end), 'key "status" must be a string')
      assert.equal("pending", w.status)
    end)

    it("converts to a string naming the shard and its status", function()
      assert.equal("WorkflowRun b:0 (pending)", tostring(run.runs["b:0"]))
    end)

    it("stays usable after its MetaWorkflowRun variable is gone", function()
      local w
      do
        local r = MWR(sample())
        w = r.runs["a:1"]
      end
      collectgarbage("collect")
      collectgarbage("collect")
      assert.equal("a:1", w.shard_name)
      assert.equal("pending", w.status)
      w.status = "completed"
      assert.equal("completed", w.status)
      assert.same({}, w.output)
    end)

    it("is not a MetaWorkflowRun", function()
      local w = run.runs["a:1"]
      for _, name in ipairs(METHODS) do assert.is_nil(w[name]) end
    end)
  end)

  describe("to_run", function()
    it("returns pending shards whose dependencies completed, in document order", function()
      assert.same({ "a:1", "b:0" }, ready(MWR(sample())))
    end)

    it("returns WorkflowRun objects, the same as runs[x]", function()
      local run = MWR(sample())
      local list = run:to_run()
      for _, w in ipairs(list) do assert.is_true(rawequal(w, run.runs[w.shard_name])) end
    end)

    it("returns a shard without dependencies when it is pending", function()
      assert.same({ "a:0" }, ready(MWR(doc { rec("a", "0", "pending") })))
    end)

    local blocking = { "pending", "running", "failed", "stopped", "Completed", "" }
    for _, st in ipairs(blocking) do
      it(("does not return a shard with a dependency whose status is %q"):format(st), function()
        local run = MWR(doc { rec("a", "0", st), rec("b", "0", "pending", { "a:0" }) })
        for _, sn in ipairs(ready(run)) do assert.are_not.equal("b:0", sn) end
      end)
    end

    for _, st in ipairs { "running", "completed", "failed", "stopped" } do
      it(("does not return a shard whose status is %q"):format(st), function()
        assert.same({}, ready(MWR(doc { rec("a", "0", st) })))
      end)
    end

    it("needs every dependency completed, not just one", function()
      local run = MWR(doc { rec("a", "0", "completed"), rec("a", "1", "running"),
        rec("b", "0", "pending", { "a:0", "a:1" }) })
      assert.same({}, ready(run))
    end)

    it("counts a dependency listed twice once it completes", function()
      local run = MWR(doc { rec("a", "0", "pending"), rec("b", "0", "pending", { "a:0", "a:0" }) })
      assert.same({ "a:0" }, ready(run))
      run:update_attribute("a:0", "status", "completed")
      assert.same({ "b:0" }, ready(run))
    end)

    it("never returns a shard depending on a shard not in the document", function()
      local run = MWR(doc { rec("a", "0", "completed"), rec("b", "0", "pending", { "a:0", "zz:1" }) })
      assert.same({}, ready(run))
    end)

    it("never returns a shard depending on itself", function()
      assert.same({}, ready(MWR(doc { rec("a", "0", "pending", { "a:0" }) })))
    end)

    it("never returns shards in a cycle", function()
      local run = MWR(doc { rec("a", "0", "pending", { "b:0" }), rec("b", "0", "pending", { "a:0" }) })
      assert.same({}, ready(run))
    end)

    it("follows status changes at once", function()
      local run = MWR(sample())
      run:update_attribute("b:0", "status", "running")
      assert.same({ "a:1" }, ready(run))
      run:update_attribute("b:0", "status", "completed")
      run:update_attribute("c:0", "status", "completed")
      run:update_attribute("a:1", "status", "completed")
      assert.same({ "b:1" }, ready(run))
      run:update_attribute("a:0", "status", "failed")
      assert.same({}, ready(run))
      run:update_attribute("a:0", "status", "completed")
      assert.same({ "b:1" }, ready(run))
    end)

    it("returns an empty list for a run without shards", function()
      assert.same({}, MWR(doc {}):to_run())
    end)
  end)

  describe("running", function()
    it("returns the running shards in document order", function()
      local run = MWR(doc { rec("a", "0", "running"), rec("a", "1", "pending"), rec("a", "2", "running"),
        rec("a", "3", "Running") })
      assert.same({ "a:0", "a:2" }, shard_names(run:running()))
    end)

    it("returns WorkflowRun objects, the same as runs[x]", function()
      local run = MWR(sample())
      local list = run:running()
      assert.equal(1, #list)
      assert.is_true(rawequal(list[1], run.runs["c:0"]))
    end)

    it("follows status changes", function()
      local run = MWR(sample())
      run.runs["a:1"].status = "running"
      run.runs["c:0"].status = "failed"
      assert.same({ "a:1" }, shard_names(run:running()))
    end)

    it("returns an empty list when nothing runs", function()
      assert.same({}, MWR(doc { rec("a", "0", "pending") }):running())
    end)
  end)

  describe("update_attribute", function()
    local run
    before_each(function() run = MWR(sample()) end)

    it("sets the status of a shard", function()
      run:update_attribute("a:1", "status", "running")
      assert.equal("running", run.runs["a:1"].status)
      assert.equal("running", run:runs_to_json()[2].status)
    end)

    it("raises an error for an unknown shard_name", function()
      has(fails(run.update_attribute, run, "zz:0", "status", "completed"), 'unknown shard_name "zz:0"')
    end)

    it("raises an error for a shard_name that is only a dependency", function()
      local r = MWR(doc { rec("b", "0", "pending", { "zz:0" }) })
      has(fails(r.update_attribute, r, "zz:0", "status", "completed"), 'unknown shard_name "zz:0"')
      assert.same({}, ready(r))
    end)

    it("sets any other key", function()
      run:update_attribute("a:1", "jobid", "j-1")
      run:update_attribute("a:1", "output", { { argument_name = "o", files = "f" } })
      assert.equal("j-1", run.runs["a:1"].jobid)
      assert.same({ { argument_name = "o", files = "f" } }, run.runs["a:1"].output)
      local rec2 = run:runs_to_json()[2]
      assert.equal("j-1", rec2.jobid)
      assert.same({ { argument_name = "o", files = "f" } }, rec2.output)
    end)

    it("removes a key set to nil", function()
      run:update_attribute("a:0", "jobid", nil)
      assert.is_nil(run.runs["a:0"].jobid)
      assert.is_nil(run:runs_to_json()[1].jobid)
    end)

    it("changes dependencies, and readiness follows at once", function()
      run:update_attribute("b:1", "dependencies", { "a:0" })
      assert.same({ "a:1", "b:0", "b:1" }, ready(run))
      run:update_attribute("a:1", "dependencies", { "c:0" })
      assert.same({ "b:0", "b:1" }, ready(run))
      run:update_attribute("c:0", "status", "completed")
      assert.same({ "a:1", "b:0", "b:1" }, ready(run))
    end)

    it("shows changed dependencies in the WorkflowRun and in runs_to_json", function()
      run:update_attribute("b:0", "dependencies", { "a:1", "zz:0" })
      assert.same({ "a:1", "zz:0" }, run.runs["b:0"].dependencies)
      assert.same({ "a:1", "zz:0" }, run:runs_to_json()[3].dependencies)
    end)

    it("makes a shard ready when its dependencies are set to an empty list or nil", function()
      run:update_attribute("b:1", "dependencies", {})
      run:update_attribute("c:0", "status", "pending")
      run:update_attribute("c:0", "dependencies", nil)
      assert.same({ "a:1", "b:0", "b:1", "c:0" }, ready(run))
      assert.same({}, run.runs["c:0"].dependencies)
      assert.is_nil(run:runs_to_json()[5].dependencies)
    end)

    it("copies the dependencies it is given", function()
      local deps = { "a:1" }
      run:update_attribute("b:0", "dependencies", deps)
      deps[1] = "a:0"
      assert.same({ "a:1" }, run.runs["b:0"].dependencies)
      assert.same({ "a:1" }, ready(run))
    end)

    it("refuses dependencies that are not a list of strings, changing nothing", function()
      for _, bad in ipairs { "a:1", { "a:1", 2 }, { x = "a:1" }, 5 } do
        local err = fails(run.update_attribute, run, "b:0", "dependencies", bad)
        has(err, 'shard "b:0"')
        has(err, "dependencies")
      end
      assert.same({ "a:0" }, run.runs["b:0"].dependencies)
      assert.same({ "a:1", "b:0" }, ready(run))
    end)

    it("refuses an attribute name that is not a string", function()
      assert.is_false((pcall(run.update_attribute, run, "a:1", {}, "x")))
    end)

    it("refuses a shard_name that is not a string", function()
      local err = fails(run.update_attribute, run, {}, "status", "completed")
      has(err, "bad argument #2")
    end)
  end)

  describe("runs_to_json", function()
    it("returns the records in document order, without shard_name", function()
      local d = sample()
      local run = MWR(d)
      assert.same(d.workflow_runs, run:runs_to_json())
      for _, r in ipairs(run:runs_to_json()) do assert.is_nil(r.shard_name) end
    end)

    it("gives the same records as the model", function()
      local run, m = MWR(sample()), model.new(sample())
      assert.same(m:runs_to_json(), run:runs_to_json())
    end)

    it("leaves out null values", function()
      local run = MWR(doc { rec("a", "0", "pending", nil, { jobid = NULL, custom = NULL }) })
      assert.same({ { name = "a", shard = "0", status = "pending" } }, run:runs_to_json())
    end)

    it("leaves out empty output and dependencies", function()
      local run = MWR(doc { rec("a", "0", "pending", {}, { output = {} }) })
      assert.same({ { name = "a", shard = "0", status = "pending" } }, run:runs_to_json())
    end)

    it("keeps non-empty output and dependencies", function()
      local run = MWR(doc { rec("a", "0", "completed", nil, { output = { "o" } }), rec("b", "0", "pending", { "a:0" }) })
      local out = run:runs_to_json()
      assert.same({ "o" }, out[1].output)
      assert.same({ "a:0" }, out[2].dependencies)
    end)

    it("reflects changes made through the run", function()
      local run = MWR(sample())
      run:update_attribute("a:1", "status", "completed")
      run.runs["a:1"].jobid = "j"
      assert.same(rec("a", "1", "completed", nil, { jobid = "j" }), run:runs_to_json()[2])
    end)

    it("encodes with lua-cjson and decodes back to the same records", function()
      local run = MWR(sample())
      assert.same(run:runs_to_json(), cjson.decode(cjson.encode(run:runs_to_json())))
    end)
  end)

  describe("to_json", function()
    it("returns every top-level key, with workflow_runs as runs_to_json() gives them", function()
      local d = sample()
      local run = MWR(d)
      local j = run:to_json()
      assert.same(d, j)
      assert.same(run:runs_to_json(), j.workflow_runs)
    end)

    it("gives the same document as the model", function()
      local run, m = MWR(sample()), model.new(sample())
      run:update_attribute("a:1", "status", "completed")
      m:update_attribute("a:1", "status", "completed")
      assert.same(m:to_json(), run:to_json())
    end)

    it("returns fresh tables every time", function()
      local run = MWR(sample())
      local j = run:to_json()
      j.input[1].files[1].file = "changed"
      j.title = "changed"
      j.workflow_runs[1].output[1].files = "changed"
      assert.same(sample(), run:to_json())
      assert.is_false(rawequal(run:to_json(), run:to_json()))
    end)

    it("encodes with lua-cjson", function()
      local run = MWR(sample())
      assert.same(run:to_json(), cjson.decode(cjson.encode(run:to_json())))
    end)
  end)

  describe("reset_step", function()
    local function resettable()
      return doc {
        rec("a", "0", "completed", nil, { output = { "o0" }, jobid = "j0", job_id = "k0", workflow_run = "w0", custom = "c0" }),
        rec("a", "1", "failed", nil, { output = { "o1" }, jobid = "j1" }),
        rec("b", "0", "completed", { "a:0" }, { output = { "o2" }, jobid = "j2" }),
      }
    end

    it("resets every shard whose name equals step_name", function()
      local run = MWR(resettable())
      run:reset_step("a")
      for _, sn in ipairs { "a:0", "a:1" } do
        local w = run.runs[sn]
        assert.equal("pending", w.status)
        assert.same({}, w.output)
        assert.is_nil(w.jobid)
        assert.is_nil(w.job_id)
        assert.is_nil(w.workflow_run)
      end
    end)

    it("keeps the other keys of a reset shard", function()
      local run = MWR(resettable())
      run:reset_step("a")
      assert.equal("c0", run.runs["a:0"].custom)
      assert.same({ { name = "a", shard = "0", status = "pending", custom = "c0" },
        { name = "a", shard = "1", status = "pending" } },
        { run:runs_to_json()[1], run:runs_to_json()[2] })
    end)

    it("keeps the dependencies of a reset shard", function()
      local run = MWR(resettable())
      run:reset_step("b")
      assert.same({ "a:0" }, run.runs["b:0"].dependencies)
      assert.same({ "b:0" }, ready(run))
    end)

    it("leaves the shards of other steps alone", function()
      local run = MWR(resettable())
      run:reset_step("a")
      local w = run.runs["b:0"]
      assert.equal("completed", w.status)
      assert.equal("j2", w.jobid)
      assert.same({ "o2" }, w.output)
    end)

    it("updates readiness", function()
      local run = MWR(resettable())
      run:reset_step("a")
      assert.same({ "a:0", "a:1" }, ready(run))
      assert.same({ pending = 2, running = 0, completed = 1, failed = 0 }, run:counts())
    end)

    it("resets a step whose name holds ':'", function()
      local run = MWR(doc { rec("align:bwa", "0", "completed"), rec("align:bwa", "1", "failed"), rec("align", "x", "completed") })
      run:reset_step("align:bwa")
      assert.equal("pending", run.runs["align:bwa:0"].status)
      assert.equal("pending", run.runs["align:bwa:1"].status)
      assert.equal("completed", run.runs["align:x"].status)
    end)

    it("does nothing for an unknown step name", function()
      local run = MWR(resettable())
      run:reset_step("zz")
      run:reset_step("a:0")
      assert.same(resettable().workflow_runs, run:runs_to_json())
    end)

    it("removes the keys it is given instead of the default ones", function()
      local run = MWR(resettable())
      run:reset_step("a", { "custom", "job_id" })
      local w = run.runs["a:0"]
      assert.equal("pending", w.status)
      assert.same({}, w.output)
      assert.equal("j0", w.jobid)
      assert.equal("w0", w.workflow_run)
      assert.is_nil(w.job_id)
      assert.is_nil(w.custom)
    end)

    it("refuses to remove status, changing nothing", function()
      local run = MWR(resettable())
      has(fails(run.reset_step, run, "a", { "status" }), "status")
      assert.same(resettable().workflow_runs, run:runs_to_json())
    end)
  end)

  describe("reset_shard", function()
    local function resettable()
      return doc {
        rec("a", "0", "completed", nil, { output = { "o0" }, jobid = "j0", job_id = "k0", workflow_run = "w0" }),
        rec("a", "1", "completed", nil, { output = { "o1" }, jobid = "j1" }),
        rec("b", "0", "pending", { "a:0" }),
      }
    end

    it("resets only the named shard", function()
      local run = MWR(resettable())
      run:reset_shard("a:0")
      assert.same(rec("a", "0", "pending"), run:runs_to_json()[1])
      assert.same(resettable().workflow_runs[2], run:runs_to_json()[2])
      assert.same({}, run.runs["a:0"].output)
    end)

    it("updates readiness of the dependents", function()
      local run = MWR(resettable())
      assert.same({ "b:0" }, ready(run))
      run:reset_shard("a:0")
      assert.same({ "a:0" }, ready(run))
    end)

    it("does nothing for an unknown shard_name", function()
      local run = MWR(resettable())
      run:reset_shard("zz:0")
      run:reset_shard("a")
      assert.same(resettable().workflow_runs, run:runs_to_json())
    end)

    it("removes the keys it is given instead of the default ones", function()
      local run = MWR(resettable())
      run:reset_shard("a:0", { "workflow_run" })
      local w = run.runs["a:0"]
      assert.equal("pending", w.status)
      assert.same({}, w.output)
      assert.equal("j0", w.jobid)
      assert.equal("k0", w.job_id)
      assert.is_nil(w.workflow_run)
    end)

    it("removes nothing but status and output with an empty key list", function()
      local run = MWR(resettable())
      run:reset_shard("a:1", {})
      assert.same(rec("a", "1", "pending", nil, { jobid = "j1" }), run:runs_to_json()[2])
    end)

    -- Removing these would leave the record without a key the core still has (a record
    -- without name or status in runs_to_json, or dependencies that still gate readiness).
    for _, key in ipairs { "status", "name", "shard", "dependencies" } do
      it("refuses to remove the key " .. key .. ", changing nothing", function()
        local run = MWR(resettable())
        local err = fails(run.reset_shard, run, "b:0", { "jobid", key })
        has(err, key)
        assert.same(resettable().workflow_runs, run:runs_to_json())
        assert.same({ "b:0" }, ready(run))
      end)
    end

    it("refuses keys that are not a list of strings", function()
      local run = MWR(resettable())
      has(fails(run.reset_shard, run, "a:0", "jobid"), "bad argument #3")
      has(fails(run.reset_shard, run, "a:0", { 1 }), "bad argument #3")
      assert.equal("completed", run.runs["a:0"].status)
    end)
  end)

  describe("update_status", function()
    local cases = {
      { {}, "completed" },
      { { "pending", "pending" }, "pending" },
      { { "completed", "completed" }, "completed" },
      { { "completed", "pending" }, "inactive" },
      { { "pending", "completed", "stopped" }, "inactive" },
      { { "stopped" }, "pending" },
      { { "pending", "running", "completed" }, "running" },
      { { "running", "failed", "completed" }, "failed" },
      { { "failed" }, "failed" },
      { { "stopped", "running" }, "running" },
    }
    for _, c in ipairs(cases) do
      it(("gives %s for shards %s"):format(c[2], #c[1] > 0 and table.concat(c[1], ", ") or "(none)"), function()
        local runs = {}
        for i, st in ipairs(c[1]) do runs[i] = rec("s", tostring(i), st) end
        local run = MWR(doc(runs))
        assert.equal(c[2], run:update_status())
        assert.equal(c[2], run.final_status)
        assert.equal(c[2], run:to_json().final_status)
        assert.equal(c[2], model.new(doc(runs)):update_status())
      end)
    end

    it("follows status changes", function()
      local run = MWR(sample())
      assert.equal("running", run:update_status())
      run.runs["b:1"].status = "failed"
      assert.equal("failed", run:update_status())
      run:reset_shard("b:1")
      run.runs["c:0"].status = "completed"
      assert.equal("inactive", run:update_status())
      for sn in pairs(run.runs) do run:update_attribute(sn, "status", "completed") end
      assert.equal("completed", run:update_status())
    end)
  end)

  describe("validate", function()
    local function by_kind(problems, kind)
      local out = {}
      for _, p in ipairs(problems) do if p.kind == kind then out[#out + 1] = p end end
      return out
    end

    it("returns true and no problems for a sound run", function()
      local ok, problems = MWR(sample()):validate()
      assert.is_true(ok)
      assert.same({}, problems)
    end)

    it("reports a dependency on a shard not in the document", function()
      local ok, problems = MWR(doc { rec("a", "0", "pending"), rec("b", "0", "pending", { "a:0", "zz:1" }) }):validate()
      assert.is_false(ok)
      assert.equal(1, #problems)
      local p = problems[1]
      assert.equal("missing_dependency", p.kind)
      assert.equal("b:0", p.shard)
      assert.equal("zz:1", p.dependency)
      has(p.message, "b:0")
      has(p.message, "zz:1")
    end)

    it("reports a cycle with its shards in document order", function()
      local run = MWR(doc { rec("x", "0", "pending"), rec("c", "0", "pending", { "a:0" }), rec("a", "0", "pending", { "b:0" }),
        rec("b", "0", "pending", { "c:0", "x:0" }), rec("d", "0", "pending", { "a:0" }) })
      local ok, problems = run:validate()
      assert.is_false(ok)
      assert.equal(1, #problems)
      assert.equal("cycle", problems[1].kind)
      assert.same({ "c:0", "a:0", "b:0" }, problems[1].shards)
      has(problems[1].message, "c:0")
    end)

    it("reports a shard depending on itself as a cycle", function()
      local ok, problems = MWR(doc { rec("a", "0", "pending", { "a:0" }) }):validate()
      assert.is_false(ok)
      assert.same({ "a:0" }, by_kind(problems, "cycle")[1].shards)
    end)

    it("reports every cycle and every missing dependency", function()
      local run = MWR(doc { rec("a", "0", "pending", { "b:0" }), rec("b", "0", "pending", { "a:0", "m:1" }),
        rec("c", "0", "pending", { "c:0", "m:2" }) })
      local ok, problems = run:validate()
      assert.is_false(ok)
      local missing = {}
      for _, p in ipairs(by_kind(problems, "missing_dependency")) do missing[#missing + 1] = p.shard .. " -> " .. p.dependency end
      assert.same({ "b:0 -> m:1", "c:0 -> m:2" }, missing)
      local cycles = {}
      for _, p in ipairs(by_kind(problems, "cycle")) do cycles[#cycles + 1] = table.concat(p.shards, ",") end
      table.sort(cycles)
      assert.same({ "a:0,b:0", "c:0" }, cycles)
      assert.equal(4, #problems)
    end)

    it("sees dependencies changed by update_attribute", function()
      local run = MWR(sample())
      run:update_attribute("a:0", "dependencies", { "c:0" })
      local ok, problems = run:validate()
      assert.is_false(ok)
      assert.same({ "a:0", "b:0", "c:0" }, by_kind(problems, "cycle")[1].shards)
      run:update_attribute("a:0", "dependencies", { "nope:0" })
      ok, problems = run:validate()
      assert.is_false(ok)
      assert.same({ { kind = "missing_dependency", shard = "a:0", dependency = "nope:0",
        message = problems[1].message } }, problems)
    end)
  end)

  describe("counts", function()
    it("counts the shards of each known status, zeros included", function()
      assert.same({ pending = 3, running = 1, completed = 1, failed = 0 }, MWR(sample()):counts())
    end)

    it("counts other statuses by name", function()
      local run = MWR(doc { rec("a", "0", "stopped"), rec("a", "1", "stopped"), rec("a", "2", "queued") })
      assert.same({ pending = 0, running = 0, completed = 0, failed = 0, stopped = 2, queued = 1 }, run:counts())
    end)

    it("follows status changes", function()
      local run = MWR(sample())
      run.runs["a:1"].status = "stopped"
      run.runs["c:0"].status = "failed"
      assert.same({ pending = 2, running = 0, completed = 1, failed = 1, stopped = 1 }, run:counts())
      run.runs["a:1"].status = "pending"
      assert.same({ pending = 3, running = 0, completed = 1, failed = 1 }, run:counts())
    end)
  end)

  describe("steps", function()
    it("lists the distinct step names in order of first appearance", function()
      local run = MWR(doc { rec("b", "0", "pending"), rec("a", "0", "pending"), rec("b", "1", "pending"), rec("c:d", "0", "pending") })
      assert.same({ "b", "a", "c:d" }, run:steps())
    end)

    it("lists nothing for a run without shards", function()
      assert.same({}, MWR(doc {}):steps())
    end)
  end)

  describe("tostring", function()
    it("names the number of shards and the final status", function()
      local s = tostring(MWR(sample()))
      assert.is_truthy(s:find("^MetaWorkflowRun %(5 shards, final_status pending%)"), s)
    end)
  end)

  describe("close", function()
    it("frees the run at the end of a <close> block; later use is an error", function()
      local w, r2
      do
        local r <close> = MWR(sample())
        w, r2 = r.runs["a:1"], r
      end
      has(fails(function() return w.status end), "closed")
      has(fails(function() return r2:to_run() end), "closed")
      has(fails(function() return #r2 end), "closed")
      assert.equal("MetaWorkflowRun (closed)", tostring(r2))
    end)
  end)

  describe("a method called on the wrong value", function()
    local run
    before_each(function() run = MWR(sample()) end)

    for _, name in ipairs(METHODS) do
      it("raises bad argument #1 for " .. name, function()
        local f = run[name]
        local pattern = "bad argument #1 .*%(magma%.MetaWorkflowRun expected, got "
        local e1 = fails(f, run.runs["a:0"], "a:0", "status", "completed")
        assert.is_truthy(e1:find(pattern .. "magma%.WorkflowRun%)"), e1)
        local e2 = fails(f, {}, "a:0", "status", "completed")
        assert.is_truthy(e2:find(pattern .. "table%)"), e2)
        local e3 = fails(f, run.runs, "a:0", "status", "completed")
        assert.is_truthy(e3:find(pattern .. "magma%.Runs%)"), e3)
      end)
    end

    it("names the method in the message when called with method syntax", function()
      local w = run.runs["a:0"]
      local fake = setmetatable({}, { __index = function(_, k) return run[k] end })
      local err = fails(function() return fake:to_run() end)
      -- Lua words bad argument #1 of a method call as "bad self".
      assert.is_truthy(err:find("calling 'to_run' on bad self %(magma%.MetaWorkflowRun expected, got table%)"), err)
      assert.equal("pending", run.runs["a:1"].status)
      assert.equal("a:0", w.shard_name)
    end)
  end)

  describe("where magma's behaviour is not kept", function()
    it("reset_step resets the shards whose name equals step_name, ':' included", function()
      local run = MWR(doc { rec("call:gatk", "0", "completed"), rec("call", "gatk:1", "completed") })
      run:reset_step("call:gatk")
      assert.equal("pending", run.runs["call:gatk:0"].status)
      assert.equal("completed", run.runs["call:gatk:1"].status)
    end)

    it("reset_step does not reset a step by the part of its name before ':'", function()
      local run = MWR(doc { rec("call:gatk", "0", "completed") })
      run:reset_step("call")
      assert.equal("completed", run.runs["call:gatk:0"].status)
    end)

    it("name, shard and shard_name cannot be set (they are the shard's identity)", function()
      local run = MWR(sample())
      for _, key in ipairs { "name", "shard", "shard_name" } do
        has(fails(run.update_attribute, run, "a:1", key, "x"), "identity")
      end
      assert.same(sample().workflow_runs, run:runs_to_json())
      assert.is_nil(run.runs["x:1"])
    end)

    it("dependencies may be changed with update_attribute; readiness follows at once", function()
      local run = MWR(sample())
      run:update_attribute("c:0", "status", "pending")
      assert.same({ "a:1", "b:0" }, ready(run))
      run:update_attribute("c:0", "dependencies", { "a:0" })
      assert.same({ "a:1", "b:0", "c:0" }, ready(run))
    end)

    it("status must be a string", function()
      local run = MWR(sample())
      for _, bad in ipairs { NULL, 1, true, {} } do
        has(fails(run.update_attribute, run, "a:1", "status", bad), 'key "status" must be a string')
      end
      assert.equal("pending", run.runs["a:1"].status)
      validation_error(doc { rec("a", "0", NULL) }, 'key "status" must be a string')
    end)

    it("runs_to_json and to_json return fresh tables: changing them changes nothing", function()
      local run = MWR(sample())
      local recs = run:runs_to_json()
      recs[1].status = "failed"
      recs[1].output[1].files = "changed"
      recs[3].dependencies[1] = "a:1"
      local j = run:to_json()
      j.workflow_runs[2].status = "completed"
      j.input[1].argument_name = "changed"
      assert.same(sample(), run:to_json())
      assert.same({ "a:1", "b:0" }, ready(run))
    end)

    it("runs_to_json keeps false, 0 and \"\"", function()
      local run = MWR(doc { rec("a", "0", "pending", nil, { flag = false, retries = 0, note = "" }) })
      local r = run:runs_to_json()[1]
      assert.equal(false, r.flag)
      assert.equal(0, r.retries)
      assert.equal("", r.note)
    end)

    it("final_status changes only when update_status is called", function()
      local run = MWR(sample())
      run:update_attribute("a:1", "status", "failed")
      run:reset_step("a")
      run.runs["c:0"].status = "completed"
      assert.equal("pending", run.final_status)
      assert.equal("pending", run:to_json().final_status)
      assert.equal("inactive", run:update_status())
      assert.equal("inactive", run.final_status)
    end)

    it("a dependency on a shard not in the document is never completed; nothing crashes", function()
      local run = MWR(doc { rec("a", "0", "completed"), rec("b", "0", "pending", { "zz:0" }), rec("c", "0", "pending", { "b:0" }) })
      assert.same({}, ready(run))
      assert.equal("inactive", run:update_status())
      run:reset_shard("zz:0")
      run:reset_step("zz")
      local ok, problems = run:validate()
      assert.is_false(ok)
      assert.equal("zz:0", problems[1].dependency)
      assert.equal(3, #run:runs_to_json())
    end)
  end)

  describe("the documents in spec/fixtures", function()
    local fixtures = {
      { file = "CGAP_WGS_trio.run.json", n = 31,
        counts = { pending = 20, running = 1, completed = 10, failed = 0 },
        to_run = { "workflow_add-readgroups-check:0:0", "workflow_merge-bam-check:1" },
        running = { "workflow_add-readgroups-check:2:2" }, final = "running", rounds = 7, last = "running" },
      { file = "CGAP_WGS_trio_scatter.run.json", n = 31,
        counts = { pending = 25, running = 0, completed = 6, failed = 0 },
        to_run = { "workflow_bwa-mem_no_unzip-check:0:0", "workflow_bwa-mem_no_unzip-check:1:0",
          "workflow_bwa-mem_no_unzip-check:1:1", "workflow_merge-bam-check:2" },
        running = {}, final = "inactive", rounds = 9, last = "completed" },
      { file = "SMaHT_WGS_trio_scatter_ff.run.json", n = 31,
        counts = { pending = 25, running = 0, completed = 6, failed = 0 },
        to_run = { "workflow_bwa-mem_no_unzip-check:0:0", "workflow_bwa-mem_no_unzip-check:1:0",
          "workflow_bwa-mem_no_unzip-check:1:1", "workflow_merge-bam-check:2" },
        running = {}, final = "inactive", rounds = 9, last = "completed" },
      { file = "CGAP_WGS_trio_scatter_import_ExtraShard.run.json", n = 22,
        counts = { pending = 22, running = 0, completed = 0, failed = 0 },
        running = {}, final = "pending" },
    }

    for _, fx in ipairs(fixtures) do
      describe(fx.file, function()
        local d
        before_each(function() d = read_fixture(fx.file) end)

        it("loads, with the expected counts", function()
          local run = MWR(d)
          assert.equal(fx.n, #run)
          assert.same(fx.counts, run:counts())
          assert.same(model.new(d):counts(), run:counts())
        end)

        it("gives to_run as the model does" .. (fx.to_run and " (and as magma does)" or ""), function()
          local run, m = MWR(d), model.new(d)
          assert.same(m:to_run(), ready(run))
          if fx.to_run then assert.same(fx.to_run, ready(run)) end
          assert.is_true(#ready(run) > 0)
        end)

        it("gives running and update_status as magma does", function()
          local run = MWR(d)
          assert.same(fx.running, shard_names(run:running()))
          assert.equal(fx.final, run:update_status())
        end)

        it("gives runs_to_json as the model does", function()
          assert.same(model.new(d):runs_to_json(), MWR(d):runs_to_json())
        end)

        it("gives to_json as the model does", function()
          assert.same(model.new(d):to_json(), MWR(d):to_json())
        end)

        it("gives the same as the model while every ready shard is completed, round after round", function()
          local run, m = MWR(d), model.new(d)
          local rounds = 0
          while true do
            local r = ready(run)
            assert.same(m:to_run(), r)
            if #r == 0 then break end
            rounds = rounds + 1
            for _, sn in ipairs(r) do
              run:update_attribute(sn, "status", "completed")
              m:update_attribute(sn, "status", "completed")
            end
            assert.equal(m:update_status(), run:update_status())
          end
          assert.same(m:runs_to_json(), run:runs_to_json())
          if fx.rounds then
            assert.equal(fx.rounds, rounds)
            assert.equal(fx.last, run:update_status())
          end
        end)

        it("resets every step as the model does", function()
          local run, m = MWR(d), model.new(d)
          for _, step in ipairs(run:steps()) do
            run:reset_step(step)
            m:reset_step(step)
            assert.same(m:to_run(), ready(run))
          end
          assert.same(m:runs_to_json(), run:runs_to_json())
          assert.same(m:steps(), run:steps())
        end)
      end)
    end

    it("ExtraShard: validate reports the missing dependency", function()
      local run = MWR(read_fixture "CGAP_WGS_trio_scatter_import_ExtraShard.run.json")
      local ok, problems = run:validate()
      assert.is_false(ok)
      assert.equal(1, #problems)
      assert.equal("missing_dependency", problems[1].kind)
      assert.equal("workflow_add-readgroups-check:2:3", problems[1].shard)
      assert.equal("workflow_bwa-mem_no_unzip-check:2:3", problems[1].dependency)
    end)

    it("ExtraShard: the shard with the missing dependency never becomes ready; nothing crashes", function()
      local run = MWR(read_fixture "CGAP_WGS_trio_scatter_import_ExtraShard.run.json")
      for _ = 1, 50 do
        local r = run:to_run()
        if #r == 0 then break end
        for _, w in ipairs(r) do w.status = "completed" end
      end
      assert.equal("pending", run.runs["workflow_add-readgroups-check:2:3"].status)
      assert.equal("inactive", run:update_status())
      assert.same({}, run:to_run())
    end)

    it("the other fixtures validate", function()
      for _, f in ipairs { "CGAP_WGS_trio.run.json", "CGAP_WGS_trio_scatter.run.json", "SMaHT_WGS_trio_scatter_ff.run.json" } do
        local ok, problems = MWR(read_fixture(f)):validate()
        assert.is_true(ok, f)
        assert.same({}, problems)
      end
    end)
  end)
end)

describe("magma.adopt", function()
  local magma = require "magma"
  local function doc()
    return { meta_workflow = "m", input = {}, final_status = "pending",
      workflow_runs = { { name = "a", shard = "0", status = "pending" },
        { name = "b", shard = "0", status = "pending", dependencies = { "a:0" } } } }
  end

  it("builds the same run as the constructor, from the table itself", function()
    local d = doc()
    local run = magma.adopt(d)
    assert.are.same(magma.MetaWorkflowRun(doc()):to_json(), run:to_json())
    run:update_attribute("a:0", "jobid", "j1")
    assert.are.equal("j1", d.workflow_runs[1].jobid)
  end)

  it("validates as the constructor does", function()
    local d = doc()
    d.workflow_runs[2].status = 3
    local ok, err = pcall(magma.adopt, d)
    assert.is_false(ok)
    assert.matches('JSON validation error: workflow_runs%[2%] %(shard "b:0"%)', err)
  end)
end)
