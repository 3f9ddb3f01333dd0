-- Specs of magma.policy (issue 4): what a policy table may hold (check), policy files (load),
-- the retry backoff, and the built-in policies in lua/magma/policies/, which must load and
-- behave on the CGAP trio as their comments say.

local magma = require "magma"
local policy = magma.policy

local SPEC_DIR = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
local FIXTURES = SPEC_DIR .. "fixtures/"
local POLICIES = SPEC_DIR .. "../lua/magma/policies/"
local TRIO = FIXTURES .. "CGAP_WGS_trio.run.json"

local BWA = "workflow_bwa-mem_no_unzip-check"
local HC = "workflow_gatk-HaplotypeCaller"
local COMBINE = "workflow_gatk-CombineGVCFs"
local READGROUPS_00 = "workflow_add-readgroups-check:0:0"
local MERGE_1 = "workflow_merge-bam-check:1"

local function noop() end

local function errmsg(f, ...)
  local ok, e = pcall(f, ...)
  assert(not ok, "expected an error")
  return tostring(e)
end

-- Policy files (support.tmpfiles), removed by cleanup() in the teardown of their block.
local tmp = require "support.tmpfiles"
local function tmpfile(text) return tmp.file(text, ".lua") end
local cleanup = tmp.cleanup

-------------------------------------------------------------------------------------------
describe("magma.policy.check", function()
  -- {what, policy, pieces the message must hold}. Every message starts "policy (table): ".
  local REJECTED = {
    { "a policy that is not a table", 42, { "must be a table" } },
    { "an unknown entry, with a suggestion", { max_runing = 2 },
      { 'unknown entry "max_runing"', 'did you mean "max_running"' } },
    { "an unknown entry far from any known one", { colour = "red" }, { 'unknown entry "colour"' } },
    { "a non-string entry name", { [1] = true }, { 'unknown entry "1"' } },
    { "an unknown trigger rule", { trigger = "any_success" }, { "trigger", '"any_success"' } },
    { "a trigger that is neither a rule nor a table", { trigger = 3 }, { "trigger must be" } },
    { "an unknown rule for a step", { trigger = { a = "sometimes" } }, { 'trigger["a"]', '"sometimes"' } },
    { "a non-string rule for a step", { trigger = { a = 1 } }, { 'trigger["a"]' } },
    { "ready not a function", { ready = true }, { "ready must be a function" } },
    { "launch not a function", { launch = "sbatch" }, { "launch must be a function" } },
    { "poll not a function", { poll = {} }, { "poll must be a function" } },
    { "retry not a table", { retry = 3 }, { "retry must be a table" } },
    { "an unknown retry entry", { retry = { max_attempt = 3 } },
      { 'unknown entry "retry.max_attempt"', 'did you mean "max_attempts"' } },
    { "max_attempts 0", { retry = { max_attempts = 0 } }, { "retry.max_attempts must be" } },
    { "max_attempts not an integer", { retry = { max_attempts = 2.5 } }, { "retry.max_attempts must be" } },
    { "max_attempts a string", { retry = { max_attempts = "3" } }, { "retry.max_attempts must be" } },
    { "max_attempts 0 for a step", { retry = { max_attempts = { a = 0 } } }, { 'retry.max_attempts["a"]' } },
    { "a negative delay", { retry = { delay = -1 } }, { "retry.delay must be" } },
    { "an infinite delay", { retry = { delay = math.huge } }, { "retry.delay must be" } },
    { "a NaN delay", { retry = { delay = 0 / 0 } }, { "retry.delay must be" } },
    { "a factor below 1", { retry = { factor = 0.5 } }, { "retry.factor must be" } },
    { "a NaN factor", { retry = { factor = 0 / 0 } }, { "retry.factor must be" } },
    { "an infinite factor", { retry = { factor = math.huge } }, { "retry.factor must be" } },
    { "a max_delay that is a string", { retry = { max_delay = "1h" } }, { "retry.max_delay must be" } },
    { "a negative max_delay", { retry = { max_delay = -5 } }, { "retry.max_delay must be" } },
    { "retry.when not a function", { retry = { when = true } }, { "retry.when must be" } },
    { "an unknown on_exhausted", { on_exhausted = "halt" }, { "on_exhausted must be" } },
    { "a negative max_running", { max_running = -1 }, { "max_running must be" } },
    { "a fractional max_running", { max_running = 2.5 }, { "max_running must be" } },
    { "a string max_running", { max_running = "4" }, { "max_running must be" } },
    { "max_running_per_step not a table", { max_running_per_step = 4 }, { "max_running_per_step must be" } },
    { "a negative per-step cap", { max_running_per_step = { a = -1 } }, { 'max_running_per_step["a"]' } },
    { "a per-step cap keyed by a number", { max_running_per_step = { 4 } },
      { "max_running_per_step", "step names" } },
    { "priority neither a table nor a function", { priority = "high" }, { "priority must be" } },
    { "a non-number priority for a step", { priority = { a = "high" } }, { 'priority["a"]' } },
    { "a NaN priority for a step", { priority = { a = 0 / 0 } }, { 'priority["a"]' } },
    { "status_map not a table", { status_map = "x" }, { "status_map must be" } },
    { "a non-string status in status_map", { status_map = { DONE = 1 } }, { 'status_map["DONE"]' } },
    { "reset_keys not a list", { reset_keys = "jobid" }, { "reset_keys must be" } },
    { "a non-string reset key", { reset_keys = { "jobid", 3 } }, { "reset_keys[2]" } },
    { "a reset key naming the status", { reset_keys = { "status" } }, { "reset_keys", '"status"' } },
    { "a reset key naming the shard's identity", { reset_keys = { "jobid", "name" } }, { "reset_keys", '"name"' } },
    { "job_key not a string", { job_key = 7 }, { "job_key must be" } },
    { "job_key naming the shard's identity", { job_key = "name" }, { "job_key", '"name"' } },
    { "job_key naming the status", { job_key = "status" }, { "job_key", '"status"' } },
    { "name not a string", { name = 1 }, { "name must be" } },
    { "description not a string", { description = {} }, { "description must be" } },
  }

  for _, row in ipairs(REJECTED) do
    it("rejects " .. row[1], function()
      local msg = errmsg(policy.check, row[2])
      assert.are.equal("policy (table): ", msg:sub(1, 16), msg)
      for _, piece in ipairs(row[3]) do
        assert.truthy(msg:find(piece, 1, true), string.format("%q lacks %q", msg, piece))
      end
    end)
  end

  it("names the source it is given", function()
    local msg = errmsg(policy.check, { max_running = -1 }, "site/policy.lua")
    assert.truthy(msg:find("^policy site/policy%.lua: max_running"), msg)
  end)

  -- {what, policy}: each accepted
  local ACCEPTED = {
    { "an empty policy", {} },
    { "every trigger rule as a string", nil },
    { "a table of rules by step", { trigger = { a = "all_done", b = "one_failed", c = "none_failed" } } },
    { "an empty trigger table", { trigger = {} } },
    { "ready, launch and poll functions", { ready = noop, launch = noop, poll = noop } },
    { "a full retry entry", { retry = { max_attempts = 3, delay = 60, factor = 2, max_delay = 3600, when = noop } } },
    { "an empty retry entry", { retry = {} } },
    { "per-step max_attempts", { retry = { max_attempts = { a = 2, b = 5 } } } },
    { "a fractional delay and factor", { retry = { delay = 0.5, factor = 1.5 } } },
    { "on_exhausted stop", { on_exhausted = "stop" } },
    { "on_exhausted continue", { on_exhausted = "continue" } },
    { "max_running 0", { max_running = 0 } },
    { "per-step caps, one of them 0", { max_running_per_step = { a = 0, b = 4 } } },
    { "a priority table with negative and fractional numbers", { priority = { a = -1, b = 2.5 } } },
    { "a priority function", { priority = noop } },
    { "a status_map", { status_map = { complete = "completed", error = "failed" } } },
    { "reset_keys", { reset_keys = { "job_id", "workflow_run" } } },
    { "an empty reset_keys", { reset_keys = {} } },
    { "job_key job_id (SMaHT)", { job_key = "job_id" } },
    { "a name and a description", { name = "mine", description = "what it does" } },
  }
  for _, row in ipairs(ACCEPTED) do
    it("accepts " .. row[1], function()
      if row[2] == nil then
        for _, rule in ipairs { "all_success", "all_done", "all_failed", "one_success", "one_failed", "none_failed" } do
          assert.are.equal(rule, policy.check({ trigger = rule }).trigger.default)
        end
      else
        assert.is_table(policy.check(row[2]))
      end
    end)
  end

  it("fills in the defaults", function()
    local P = policy.check {}
    assert.are.equal("all_success", P.trigger.default)
    assert.are.same({}, P.trigger.by_step)
    assert.are.equal("continue", P.on_exhausted)
    assert.are.equal("jobid", P.job_key)
    assert.is_nil(P.retry)
    assert.is_nil(P.max_running)
    assert.are.same({}, P.max_running_per_step)
    assert.are.same({ SUCCEEDED = "completed", RUNNING = "running", FAILED = "failed" }, P.status_map)
    assert.are.equal("(table)", P.source)
  end)

  it("fills in the retry defaults: one attempt, no delay, factor 1", function()
    local P = policy.check { retry = {} }
    assert.are.same({ max_attempts = 1, delay = 0, factor = 1 }, P.retry)
  end)

  it("keeps per-step trigger rules apart from the default", function()
    local P = policy.check { trigger = { b = "all_done" } }
    assert.are.equal("all_success", P.trigger.default)
    assert.are.same({ b = "all_done" }, P.trigger.by_step)
  end)

  it("adds status_map entries to the default map, overriding where they overlap", function()
    local P = policy.check { status_map = { complete = "completed", FAILED = "inactive" } }
    assert.are.same({ SUCCEEDED = "completed", RUNNING = "running", FAILED = "inactive",
      complete = "completed" }, P.status_map)
  end)

  it("does not change the table it checks", function()
    local p = { retry = { max_attempts = 2 }, max_running = 3 }
    policy.check(p)
    assert.are.same({ retry = { max_attempts = 2 }, max_running = 3 }, p)
  end)

  it("checked(P) gives back an already checked policy as it is", function()
    local P = policy.check { max_running = 3 }
    assert.are.equal(P, policy.checked(P))
    assert.are.equal(3, policy.checked({ max_running = 3 }).max_running)
  end)

  it("max_attempts: 1 without retry, the number, or the step's entry (1 when unlisted)", function()
    assert.are.equal(1, policy.max_attempts(policy.check {}, "a"))
    assert.are.equal(1, policy.max_attempts(policy.check { retry = {} }, "a"))
    assert.are.equal(4, policy.max_attempts(policy.check { retry = { max_attempts = 4 } }, "a"))
    local P = policy.check { retry = { max_attempts = { a = 3 } } }
    assert.are.equal(3, policy.max_attempts(P, "a"))
    assert.are.equal(1, policy.max_attempts(P, "b"))
  end)
end)

-------------------------------------------------------------------------------------------
describe("magma.policy.load", function()
  teardown(cleanup)

  it("loads a file returning a policy, checked, its source the path", function()
    local path = tmpfile("return { name = 'p', max_running = 2, trigger = 'all_done' }\n")
    local P, err = policy.load(path)
    assert.is_nil(err)
    assert.are.equal(path, P.source)
    assert.are.equal(2, P.max_running)
    assert.are.equal("all_done", P.trigger.default)
    assert.are.equal(P, policy.checked(P))
  end)

  -- {what, file text or false for a missing file, pieces of the message}
  local BAD = {
    { "a missing file", false, {} },
    { "a syntax error", "return { max_running = }\n", { ":1:" } },
    { "an error while running", "local x = nil\nreturn x.y\n", { ":2:" } },
    { "a file returning nothing", "local p = {}\n", { "must be a table" } },
    { "an unknown entry", "return { retries = 3 }\n", { 'unknown entry "retries"' } },
    { "a bad value", "return { retry = { delay = -1 } }\n", { "retry.delay" } },
  }
  for _, row in ipairs(BAD) do
    it("gives nil, err naming the file for " .. row[1], function()
      local path
      if row[2] then
        path = tmpfile(row[2])
      else
        path = tmp.path("_missing.lua")
      end
      local P, err = policy.load(path)
      assert.is_nil(P)
      assert.are.equal("string", type(err))
      assert.truthy(err:find("policy", 1, true), err)
      assert.truthy(err:find(path, 1, true), err)
      for _, piece in ipairs(row[3]) do assert.truthy(err:find(piece, 1, true), err) end
    end)
  end
end)

-------------------------------------------------------------------------------------------
describe("magma.policy.backoff", function()
  local function retry(t) return policy.check({ retry = t }).retry end

  -- {retry entry, k (the attempt that failed), delay before attempt k+1}
  local CASES = {
    { { delay = 60, factor = 2, max_delay = 3600 }, 1, 60 },
    { { delay = 60, factor = 2, max_delay = 3600 }, 2, 120 },
    { { delay = 60, factor = 2, max_delay = 3600 }, 3, 240 },
    { { delay = 60, factor = 2, max_delay = 3600 }, 6, 1920 },
    { { delay = 60, factor = 2, max_delay = 3600 }, 7, 3600 },
    { { delay = 60, factor = 2, max_delay = 3600 }, 1000, 3600 },
    { { delay = 60, factor = 2, max_delay = 3600 }, math.maxinteger, 3600 },
    { { delay = 10, factor = 1.5 }, 3, 22.5 },
    { { delay = 60 }, 1, 60 },
    { { delay = 60 }, 1000, 60 },
    { { delay = 100, max_delay = 30 }, 1, 30 },
    { { delay = 0, factor = 2 }, 1000, 0 },
    { { delay = 5, factor = 10, max_delay = 0 }, 3, 0 },
    { { delay = 1, factor = 1e300, max_delay = 7 }, 2, 7 },
    { { delay = 1e-3, factor = 1.0001, max_delay = 1 }, 2, 1e-3 * 1.0001 },
  }
  for _, c in ipairs(CASES) do
    local desc = {}
    for _, k in ipairs { "delay", "factor", "max_delay" } do
      if c[1][k] then desc[#desc + 1] = k .. "=" .. tostring(c[1][k]) end
    end
    it(string.format("{%s}: after attempt %d fails, the next is due in %s s", table.concat(desc, ", "),
      c[2], tostring(c[3])), function()
      assert.are.equal(c[3], policy.backoff(retry(c[1]), c[2]))
    end)
  end

  it("at attempt 1000 the backoff is finite and exactly max_delay", function()
    local d = policy.backoff(retry { delay = 60, factor = 2, max_delay = 3600 }, 1000)
    assert.is_true(d == d and d < math.huge)
    assert.are.equal(3600, d)
  end)

  it("at attempt 1000 without max_delay the backoff is finite: BACKOFF_LIMIT", function()
    local d = policy.backoff(retry { delay = 60, factor = 2 }, 1000)
    assert.is_true(d == d and d < math.huge)
    assert.are.equal(policy.BACKOFF_LIMIT, d)
  end)

  it("never decreases with k and never exceeds max_delay", function()
    local r = retry { delay = 3, factor = 1.7, max_delay = 5000 }
    local prev = 0
    for k = 1, 1200 do
      local d = policy.backoff(r, k)
      assert.is_true(d >= prev and d <= 5000, "k = " .. k)
      prev = d
    end
    assert.are.equal(5000, prev)
  end)
end)

-------------------------------------------------------------------------------------------
describe("built-in policies", function()
  local function load_builtin(name)
    local P, err = policy.load(POLICIES .. name .. ".lua")
    assert(P, err)
    return P
  end

  -- The CGAP trio as a document; every shard pending when `fresh`, then extra shards
  -- (no dependencies) appended: {step, first shard number, last}.
  local function trio(fresh, extra)
    local f = assert(io.open(TRIO, "rb"))
    local data = assert(magma.json.decode(f:read("a")))
    f:close()
    local runs = data.workflow_runs
    if fresh then
      for _, rec in ipairs(runs) do
        rec.status, rec.output = "pending", nil
      end
    end
    for _, e in ipairs(extra or {}) do
      for i = e[2], e[3] do
        runs[#runs + 1] = { name = e[1], shard = e[4] and (e[4] .. i) or tostring(i), status = "pending" }
      end
    end
    return magma.MetaWorkflowRun(data)
  end

  local function names(step, from, to, prefix)
    local out = {}
    for i = from, to do out[#out + 1] = step .. ":" .. (prefix or "") .. i end
    return out
  end

  local function concat(...)
    local out = {}
    for _, t in ipairs { ... } do for _, v in ipairs(t) do out[#out + 1] = v end end
    return out
  end

  local function reasons(report)
    local out = {}
    for _, e in ipairs(report.not_launched) do out[e.reason] = (out[e.reason] or 0) + 1 end
    return out
  end

  for _, name in ipairs { "magma", "per_step", "retry" } do
    it(name .. ".lua loads, with its name and a description", function()
      local P = load_builtin(name)
      assert.are.equal(name, P.name)
      assert.are.equal("string", type(P.description))
      assert.is_true(#P.description > 0)
    end)
  end

  describe("magma", function()
    it("launches what magma's to_run gives, in document order", function()
      local run = assert(magma.load(TRIO))
      local expected = {}
      for i, w in ipairs(run:to_run()) do expected[i] = w.shard_name end
      assert.are.same({ READGROUPS_00, MERGE_1 }, expected)
      local report = magma.tick(run, load_builtin("magma"), magma.new_state(), 0)
      assert.are.same(expected, report.launched)
      assert.are.equal("running", report.final_status)
    end)

    it("does not retry: a failed shard stays failed and the run's final_status says failed", function()
      local run = assert(magma.load(TRIO))
      local P, state = load_builtin("magma"), magma.new_state()
      magma.tick(run, P, state, 0)
      run.runs[MERGE_1].status = "failed"
      local report = magma.tick(run, P, state, 3600)
      assert.are.same({ MERGE_1 }, report.exhausted)
      assert.are.same({}, report.retried)
      assert.are.equal("failed", run.runs[MERGE_1].status)
      assert.are.equal("failed", report.final_status)
      assert.are.same({ "workflow_picard-MarkDuplicates-check:1", "workflow_sort-bam-check:1",
        "workflow_gatk-BaseRecalibrator:1", "workflow_gatk-ApplyBQSR-check:1",
        "workflow_gatk-HaplotypeCaller:1", "workflow_gatk-CombineGVCFs:0" }, report.blocked)
    end)

    it("runs at most 16 shards at once", function()
      local run = trio(true, { { BWA, 0, 13, "3:" } })
      assert.are.equal(20, run:ready_count())
      local report = magma.tick(run, load_builtin("magma"), magma.new_state(), 0)
      assert.are.equal(16, #report.launched)
      assert.are.equal(4, report.not_launched_count.cap)
      assert.are.equal(16, run:count("running"))
    end)
  end)

  describe("per_step", function()
    it("caps the alignment step at 8", function()
      local run = trio(true, { { BWA, 0, 5, "3:" } })
      local report = magma.tick(run, load_builtin("per_step"), magma.new_state(), 0)
      assert.are.equal(8, #report.launched)
      assert.are.equal(8, run:count("running", BWA))
      assert.are.same({ step_cap = 4 }, reasons(report))
    end)

    it("caps HaplotypeCaller at 4, all under a global 24, the steps nearest the end first",
      function()
        -- ready: 6 bwa (the trio's), 15 CombineGVCFs (30), 12 HaplotypeCaller (20), 4 bwa
        local run = trio(true, { { COMBINE, 1, 15 }, { HC, 3, 14 }, { BWA, 0, 3, "3:" } })
        local report = magma.tick(run, load_builtin("per_step"), magma.new_state(), 0)
        local bwa = concat(names(BWA, 0, 0, "0:"), names(BWA, 0, 1, "1:"), names(BWA, 0, 1, "2:"))
        assert.are.same(concat(names(COMBINE, 1, 15), names(HC, 3, 6), bwa), report.launched)
        assert.are.equal(24, run:count("running"))
        assert.are.same({ step_cap = 8, priority = 5 }, reasons(report))
        assert.are.equal(8, report.not_launched_count.step_cap)
        assert.are.equal(5, report.not_launched_count.priority)
      end)

    it("retries once, 300 s after the failure was seen", function()
      local run = assert(magma.load(TRIO))
      local P, state = load_builtin("per_step"), magma.new_state()
      magma.tick(run, P, state, 0)
      run.runs[READGROUPS_00].status = "failed"
      assert.are.same({ { shard = READGROUPS_00, due = 310 } }, magma.tick(run, P, state, 10).waiting)
      assert.are.same({ READGROUPS_00 }, magma.tick(run, P, state, 310).launched)
      run.runs[READGROUPS_00].status = "failed"
      assert.are.same({ READGROUPS_00 }, magma.tick(run, P, state, 320).exhausted)
    end)
  end)

  describe("retry", function()
    it("gives 3 attempts 60 s then 120 s apart, then blocks only what depends on the shard",
      function()
        local run = assert(magma.load(TRIO))
        local P, state = load_builtin("retry"), magma.new_state()
        assert.are.same({ READGROUPS_00, MERGE_1 }, magma.tick(run, P, state, 0).launched)
        run.runs[READGROUPS_00].status = "failed"
        assert.are.same({ { shard = READGROUPS_00, due = 160 } }, magma.tick(run, P, state, 100).waiting)
        assert.are.same({ READGROUPS_00 }, magma.tick(run, P, state, 160).launched)
        run.runs[READGROUPS_00].status = "failed"
        assert.are.same({ { shard = READGROUPS_00, due = 320 } }, magma.tick(run, P, state, 200).waiting)
        assert.are.same({ READGROUPS_00 }, magma.tick(run, P, state, 320).launched)
        assert.are.equal(3, state.attempts[READGROUPS_00])
        run.runs[READGROUPS_00].status = "failed"
        run.runs[MERGE_1].status = "completed"
        local report = magma.tick(run, P, state, 400)
        assert.are.same({ READGROUPS_00 }, report.exhausted)
        assert.is_false(report.stopped)
        assert.are.same({ "workflow_picard-MarkDuplicates-check:1" }, report.launched)
        assert.are.same({ "workflow_merge-bam-check:0", "workflow_picard-MarkDuplicates-check:0",
          "workflow_sort-bam-check:0", "workflow_gatk-BaseRecalibrator:0",
          "workflow_gatk-ApplyBQSR-check:0", "workflow_gatk-HaplotypeCaller:0",
          "workflow_gatk-CombineGVCFs:0" }, report.blocked)
      end)

    it("caps the delay at one hour", function()
      local P = load_builtin("retry")
      assert.are.equal(3600, policy.backoff(P.retry, 1000))
      assert.are.equal(120, policy.backoff(P.retry, 2))
    end)

    it("runs at most 32 shards at once", function()
      local run = trio(true, { { BWA, 0, 29, "3:" } })
      assert.are.equal(36, run:ready_count())
      local report = magma.tick(run, load_builtin("retry"), magma.new_state(), 0)
      assert.are.equal(32, #report.launched)
      assert.are.equal(4, report.not_launched_count.cap)
    end)
  end)
end)
