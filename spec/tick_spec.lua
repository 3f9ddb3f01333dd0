-- Specs of magma.tick: one scheduling round of a policy over a run (issue 4). In this order:
-- poll running shards; apply retries to failed shards; pick ready shards by priority within
-- the caps; launch; update_status. Every expectation below is computed by hand from the
-- issue's text, on small documents built here and on the real fixtures in spec/fixtures.

local magma = require "magma"
local tick = require "magma.tick"
local policy = magma.policy
local json = magma.json

local FIXTURES = (debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./") .. "fixtures/"

local READGROUPS_00 = "workflow_add-readgroups-check:0:0"
local MERGE_0 = "workflow_merge-bam-check:0"
local MERGE_1 = "workflow_merge-bam-check:1"

-- A run from a compact description ("NAME:SHARD[ STATUS][ <- DEP, ...]"), extra keys by
-- shard_name: support.runs.
local build = require("support.runs").build
local tmp = require "support.tmpfiles"

local function load_fixture(name)
  local run, err = magma.load(FIXTURES .. name)
  assert(run, err)
  return run
end

local function contains(list, x)
  for _, v in ipairs(list) do if v == x then return true end end
  return false
end

-- {shard =, reason =} list -> {"shard=reason", ...}
local function reasons(list)
  local out = {}
  for i, e in ipairs(list) do out[i] = e.shard .. "=" .. e.reason end
  return out
end

local function field(list, key)
  local out = {}
  for i, e in ipairs(list) do out[i] = e[key] end
  return out
end

local function status_of(run, sn) return run.runs[sn].status end

-- A launcher that records its calls and returns "job-<shard_name>".
local function recorder()
  local calls = {}
  return calls, function(wfr, run)
    calls[#calls + 1] = { shard = wfr.shard_name, run = run, status = wfr.status }
    return "job-" .. wfr.shard_name
  end
end

-- A policy file holding `text`; returns its path (removed in the teardown of its block).
local function policy_file(text) return tmp.file(text, "_policy.lua") end
local cleanup = tmp.cleanup

-------------------------------------------------------------------------------------------
describe("magma.tick: trigger rules", function()
  -- Dependency statuses of a shard "t:0" -> whether t:0 is ready under each rule. MISSING
  -- is a dependency naming a shard that is not in the document (never completed, never
  -- failed, never done); "inactive" stands for any other status (done, neither completed
  -- nor failed).
  local RULES = { "all_success", "all_done", "all_failed", "one_success", "one_failed", "none_failed" }
  local CASES = {
    -- deps                              as  ad     af     os     of     nf
    { {},                                { true, true, true, true, true, true } },
    { { "completed" },                   { true, true, false, true, false, true } },
    { { "completed", "completed" },      { true, true, false, true, false, true } },
    { { "failed" },                      { false, true, true, false, true, false } },
    { { "failed", "failed" },            { false, true, true, false, true, false } },
    { { "completed", "failed" },         { false, true, false, true, true, false } },
    { { "pending" },                     { false, false, false, false, false, false } },
    { { "running" },                     { false, false, false, false, false, false } },
    { { "completed", "running" },        { false, false, false, true, false, false } },
    { { "failed", "pending" },           { false, false, false, false, true, false } },
    { { "completed", "failed", "running" }, { false, false, false, true, true, false } },
    { { "inactive" },                    { false, true, false, false, false, true } },
    { { "MISSING" },                     { false, false, false, false, false, false } },
    { { "completed", "MISSING" },        { false, false, false, true, false, false } },
    { { "failed", "MISSING" },           { false, false, false, false, true, false } },
    { { "completed", "completed", "MISSING" }, { false, false, false, true, false, false } },
  }

  -- The run: one dependency shard per status (d1:0, d2:0, ...; a "pending" one depends on a
  -- running shard so that it is not itself ready), then t:0.
  local function case_run(statuses)
    local desc, deps = { "gate:0 running" }, {}
    for i, st in ipairs(statuses) do
      if st == "MISSING" then
        deps[#deps + 1] = "nowhere:" .. i
      else
        desc[#desc + 1] = string.format("d%d:0 %s <- gate:0", i, st)
        deps[#deps + 1] = "d" .. i .. ":0"
      end
    end
    desc[#desc + 1] = #deps > 0 and ("t:0 <- " .. table.concat(deps, ", ")) or "t:0"
    return build(desc)
  end

  for _, case in ipairs(CASES) do
    local statuses, expected = case[1], case[2]
    for r, rule in ipairs(RULES) do
      local label = #statuses == 0 and "no dependencies" or table.concat(statuses, ", ")
      it(string.format("%s with dependencies {%s}: %s", rule, label,
        expected[r] and "ready" or "not ready"), function()
        local run = case_run(statuses)
        local report = magma.tick(run, { trigger = rule }, magma.new_state(), 0)
        assert.are.equal(expected[r], contains(report.launched, "t:0"))
        assert.are.equal(expected[r] and "running" or "pending", status_of(run, "t:0"))
      end)
    end
  end

  it("all_success is the default rule (magma's to_run)", function()
    local run = build { "a:0 completed", "a:1 failed", "b:0 <- a:0", "b:1 <- a:0, a:1" }
    local report = magma.tick(run, {}, magma.new_state(), 0)
    assert.are.same({ "b:0" }, report.launched)
  end)

  it("a table of rules applies to the steps it names; the others keep all_success", function()
    local run = build {
      "a:0 failed", "b:0 <- a:0", "c:0 <- a:0", "d:0 <- a:0",
    }
    local report = magma.tick(run, { trigger = { c = "all_done", d = "one_failed" } },
      magma.new_state(), 0)
    assert.are.same({ "c:0", "d:0" }, report.launched)
    assert.are.equal("pending", status_of(run, "b:0"))
  end)

  it("a string rule applies to every step", function()
    local run = build { "a:0 failed", "b:0 <- a:0", "c:0 <- a:0" }
    local report = magma.tick(run, { trigger = "all_failed" }, magma.new_state(), 0)
    assert.are.same({ "b:0", "c:0" }, report.launched)
  end)

  it("a rule naming a step the run does not have is a warning, not an error", function()
    local run = build { "a:0" }
    local report = magma.tick(run, { trigger = { nosuchstep = "all_done" } }, magma.new_state(), 0)
    assert.are.same({ "a:0" }, report.launched)
    assert.are.equal(1, #report.warnings)
    assert.truthy(report.warnings[1]:find('"nosuchstep"', 1, true))
  end)

  it("the rules of a later round's policy replace those of the previous policy", function()
    local run = build { "gate:0 running", "a:0 failed <- gate:0", "b:0 <- a:0" }
    local r1 = magma.tick(run, { trigger = "all_done" }, magma.new_state(), 0)
    assert.are.same({ "b:0" }, r1.launched)
    local run2 = build { "gate:0 running", "a:0 failed <- gate:0", "b:0 <- a:0" }
    magma.tick(run2, { trigger = "all_done", max_running = 0 }, magma.new_state(), 0)
    local r2 = magma.tick(run2, { trigger = "all_success" }, magma.new_state(), 1)
    assert.are.same({}, r2.launched)
  end)
end)

-------------------------------------------------------------------------------------------
describe("magma.tick: the ready filter", function()
  it("a shard for which ready returns false is not launched, reason filtered", function()
    local run = build { "a:0", "a:1", "a:2" }
    local report = magma.tick(run, { ready = function(wfr) return wfr.shard ~= "1" end },
      magma.new_state(), 0)
    assert.are.same({ "a:0", "a:2" }, report.launched)
    assert.are.same({ "a:1=filtered" }, reasons(report.not_launched))
    assert.are.equal(1, report.not_launched_count.filtered)
    assert.are.equal("pending", status_of(run, "a:1"))
  end)

  it("ready receives the shard and the run", function()
    local run = build { "a:0" }
    local seen = {}
    magma.tick(run, { ready = function(wfr, r)
      seen[#seen + 1] = { wfr.shard_name, r == run, wfr.status }
      return true
    end }, magma.new_state(), 0)
    assert.are.same({ { "a:0", true, "pending" } }, seen)
  end)

  it("ready is a last filter: it cannot make a shard whose rule fails ready", function()
    local run = build { "gate:0 running", "a:0 <- gate:0" }
    local called = {}
    local report = magma.tick(run, { ready = function(wfr)
      called[#called + 1] = wfr.shard_name
      return true
    end }, magma.new_state(), 0)
    assert.are.same({}, report.launched)
    assert.are.same({}, called)
  end)

  it("a filtered shard takes no slot: the next ready shard is launched in its place", function()
    local run = build { "a:0", "a:1", "a:2" }
    local report = magma.tick(run, { max_running = 1, ready = function(wfr) return wfr.shard ~= "0" end },
      magma.new_state(), 0)
    assert.are.same({ "a:1" }, report.launched)
    assert.are.same({ "a:0=filtered", "a:2=cap" }, reasons(report.not_launched))
  end)

  it("a falsy non-boolean (nil) from ready filters the shard too", function()
    local run = build { "a:0" }
    local report = magma.tick(run, { ready = function() return nil end }, magma.new_state(), 0)
    assert.are.same({}, report.launched)
    assert.are.equal(1, report.not_launched_count.filtered)
  end)
end)

-------------------------------------------------------------------------------------------
describe("magma.tick: retries", function()
  -- A run of one shard launched at t=0, and a policy whose poll reports what `outcome`
  -- holds for it; returns run, policy, state, and a function round(now, outcome).
  local function harness(retry, extra)
    local run = build { "a:0" }
    local state = magma.new_state()
    local outcome
    local p = {
      retry = retry,
      launch = function(wfr) return "job-" .. wfr.shard_name end,
      poll = function() return outcome end,
    }
    for k, v in pairs(extra or {}) do p[k] = v end
    local P = policy.check(p)
    local function round(now, o)
      outcome = o
      return magma.tick(run, P, state, now)
    end
    return run, P, state, round
  end

  it("no retry entry means no retries: a failed shard is exhausted at once", function()
    local run, _, state, round = harness(nil)
    round(0)
    local report = round(10, "FAILED")
    assert.are.same({ "a:0" }, report.exhausted)
    assert.are.same({}, report.retried)
    assert.are.equal("failed", status_of(run, "a:0"))
    assert.is_true(state.exhausted["a:0"])
    assert.are.equal("failed", report.final_status)
  end)

  it("attempt k+1 is due delay * factor^(k-1) after the round that first saw attempt k fail",
    function()
      local run, _, state, round = harness { max_attempts = 5, delay = 60, factor = 2, max_delay = 200 }
      assert.are.same({ "a:0" }, round(0).launched)
      -- {now, poll says, expected: retried (and relaunched) or the due time it waits for}
      local steps = {
        { 10, "FAILED", 70 },    -- attempt 1 seen failed at 10: due 10 + 60
        { 69, nil, 70 },
        { 70, nil, "retried" },  -- attempt 2 launched
        { 100, "FAILED", 220 },  -- due 100 + 120
        { 219, nil, 220 },
        { 220, nil, "retried" }, -- attempt 3
        { 230, "FAILED", 430 },  -- 240 capped by max_delay: 230 + 200
        { 430, nil, "retried" }, -- attempt 4
        { 440, "FAILED", 640 },  -- still capped
        { 640, nil, "retried" }, -- attempt 5
      }
      for i, s in ipairs(steps) do
        local report = round(s[1], s[2])
        if s[3] == "retried" then
          assert.are.same({ "a:0" }, report.retried, "step " .. i)
          assert.are.same({ "a:0" }, report.launched, "step " .. i)
          assert.are.same({}, report.waiting, "step " .. i)
        else
          assert.are.same({ { shard = "a:0", due = s[3] } }, report.waiting, "step " .. i)
          assert.are.equal(s[3], report.next_due, "step " .. i)
          assert.are.same({}, report.launched, "step " .. i)
          assert.are.equal("failed", status_of(run, "a:0"), "step " .. i)
        end
      end
      assert.are.equal(5, state.attempts["a:0"])
      local last = round(650, "FAILED")
      assert.are.same({ "a:0" }, last.exhausted)
      assert.are.same({}, last.retried)
    end)

  it("the due time counts from the round that first saw the failure, not later rounds",
    function()
      local _, _, state, round = harness { max_attempts = 2, delay = 100 }
      round(0)
      round(50, "FAILED")
      assert.are.equal(50, state.failed_at["a:0"])
      local report = round(120)
      assert.are.same({ { shard = "a:0", due = 150 } }, report.waiting)
      assert.are.equal(50, state.failed_at["a:0"])
      assert.are.same({ "a:0" }, round(150).retried)
    end)

  it("a round long after the due time retries at once", function()
    local _, _, _, round = harness { max_attempts = 2, delay = 100 }
    round(0)
    round(1, "FAILED")
    assert.are.same({ "a:0" }, round(1e6).retried)
  end)

  it("with delay 0 a failure seen by poll is retried and relaunched in the same round", function()
    local run, _, state, round = harness { max_attempts = 2 }
    round(0)
    local report = round(1, "FAILED")
    assert.are.same({ { shard = "a:0", from = "running", to = "failed" } }, report.polled)
    assert.are.same({ "a:0" }, report.retried)
    assert.are.same({ "a:0" }, report.launched)
    assert.are.equal("running", status_of(run, "a:0"))
    assert.are.equal(2, state.attempts["a:0"])
  end)

  it("max_attempts counts every attempt: n attempts in all, then exhausted", function()
    local _, _, state, round = harness { max_attempts = 3 }
    round(0)
    assert.are.same({ "a:0" }, round(1, "FAILED").launched)
    assert.are.same({ "a:0" }, round(2, "FAILED").launched)
    local report = round(3, "FAILED")
    assert.are.same({}, report.launched)
    assert.are.same({ "a:0" }, report.exhausted)
    assert.are.equal(3, state.attempts["a:0"])
  end)

  it("an exhausted shard is reported exhausted once, not in every later round", function()
    local _, _, state, round = harness(nil)
    round(0)
    assert.are.same({ "a:0" }, round(1, "FAILED").exhausted)
    assert.are.same({}, round(2).exhausted)
    assert.is_true(state.exhausted["a:0"])
  end)

  it("state.attempts counts the launches of each shard", function()
    local run = build { "a:0", "b:0", "c:0 <- a:0" }
    local state = magma.new_state()
    local _, launch = recorder()
    magma.tick(run, { launch = launch }, state, 0)
    assert.are.same({ ["a:0"] = 1, ["b:0"] = 1 }, state.attempts)
  end)

  it("the state is kept outside the run document: no bookkeeping key in any record", function()
    local run, _, state, round = harness { max_attempts = 3, delay = 10 }
    round(0)
    round(1, "FAILED")
    assert.are.equal(1, state.attempts["a:0"])
    assert.are.equal(1, state.failed_at["a:0"])
    local keys = {}
    for _, rec in ipairs(run:runs_to_json()) do for k in pairs(rec) do keys[k] = true end end
    assert.are.same({ name = true, shard = true, status = true, jobid = true }, keys)
  end)

  it("a shard found failed in the document counts as attempt 1: max_attempts = 2 gives one relaunch",
    function()
      local run = build { "a:0 failed" }
      local state = magma.new_state()
      local P = policy.check { retry = { max_attempts = 2 }, launch = function() return "j" end }
      local r1 = magma.tick(run, P, state, 0)
      assert.are.same({ "a:0" }, r1.launched)
      assert.are.equal(2, state.attempts["a:0"])
      run.runs["a:0"].status = "failed"
      local r2 = magma.tick(run, P, state, 1)
      assert.are.same({ "a:0" }, r2.exhausted)
      assert.are.same({}, r2.launched)
    end)

  it("retry.when decides per failed shard: false means failed for good", function()
    local run = build({ "a:0 failed", "b:0 failed" },
      { ["a:0"] = { reason = "transient" }, ["b:0"] = { reason = "fatal" } })
    local state = magma.new_state()
    local report = magma.tick(run, {
      retry = { max_attempts = 3, when = function(wfr) return wfr.reason == "transient" end },
    }, state, 0)
    assert.are.same({ "a:0" }, report.retried)
    assert.are.same({ "b:0" }, report.exhausted)
    assert.are.equal("running", status_of(run, "a:0"))
    assert.are.equal("failed", status_of(run, "b:0"))
  end)

  it("retry.when receives the failed shard and the run", function()
    local run = build { "a:0 failed" }
    local seen
    magma.tick(run, { retry = { max_attempts = 2, when = function(wfr, r)
      seen = { wfr.shard_name, wfr.status, r == run }
      return true
    end } }, magma.new_state(), 0)
    assert.are.same({ "a:0", "failed", true }, seen)
  end)

  it("retry.when is not consulted once attempts are used up", function()
    local run = build { "a:0 failed" }
    local calls = 0
    local report = magma.tick(run, { retry = { max_attempts = 1, when = function()
      calls = calls + 1
      return true
    end } }, magma.new_state(), 0)
    assert.are.same({ "a:0" }, report.exhausted)
    assert.are.equal(0, calls)
  end)

  it("per-step max_attempts: listed steps retry, the others get one attempt", function()
    local run = build { "a:0 failed", "b:0 failed" }
    local state = magma.new_state()
    local report = magma.tick(run, { retry = { max_attempts = { a = 3 } } }, state, 0)
    assert.are.same({ "a:0" }, report.retried)
    assert.are.same({ "b:0" }, report.exhausted)
  end)

  it("per-step max_attempts is counted per shard", function()
    local run = build { "a:0", "a:1" }
    local state = magma.new_state()
    local outcome = {}
    local P = policy.check {
      retry = { max_attempts = { a = 2 } },
      launch = function() return "j" end,
      poll = function(wfr) return outcome[wfr.shard_name] end,
    }
    magma.tick(run, P, state, 0)
    outcome = { ["a:0"] = "FAILED" }
    assert.are.same({ "a:0" }, magma.tick(run, P, state, 1).retried)
    outcome = { ["a:0"] = "FAILED", ["a:1"] = "FAILED" }
    local report = magma.tick(run, P, state, 2)
    assert.are.same({ "a:1" }, report.retried)
    assert.are.same({ "a:0" }, report.exhausted)
    assert.are.same({ ["a:0"] = 2, ["a:1"] = 2 }, state.attempts)
  end)

  it("waiting shards are all reported with their due times; next_due is the earliest", function()
    local run = build { "a:0 failed", "b:0 failed" }
    local state = magma.new_state()
    state.attempts["b:0"] = 2
    local report = magma.tick(run, { retry = { max_attempts = 5, delay = 10, factor = 3 } }, state, 100)
    assert.are.same({ { shard = "a:0", due = 110 }, { shard = "b:0", due = 130 } }, report.waiting)
    assert.are.equal(110, report.next_due)
  end)

  it("a retry resets the shard: pending, empty output, and the default reset keys removed", function()
    local run = build({ "a:0 failed" }, { ["a:0"] = {
      jobid = "j1", job_id = "j2", workflow_run = "wfr-uuid", note = "kept",
      output = { { argument_name = "x", file = "f" } },
    } })
    magma.tick(run, { retry = { max_attempts = 2 }, max_running = 0 }, magma.new_state(), 0)
    local wfr = run.runs["a:0"]
    assert.are.equal("pending", wfr.status)
    assert.are.same({}, wfr.output)
    assert.is_nil(wfr.jobid)
    assert.is_nil(wfr.job_id)
    assert.is_nil(wfr.workflow_run)
    assert.are.equal("kept", wfr.note)
  end)

  it("reset_keys replaces the keys a retry removes, the job id's key always among them", function()
    local run = build({ "a:0 failed" },
      { ["a:0"] = { jobid = "j1", note = "gone", workflow_run = "kept" } })
    magma.tick(run, { retry = { max_attempts = 2 }, reset_keys = { "note" }, max_running = 0 },
      magma.new_state(), 0)
    local wfr = run.runs["a:0"]
    assert.are.equal("pending", wfr.status)
    assert.is_nil(wfr.jobid)
    assert.is_nil(wfr.note)
    assert.are.equal("kept", wfr.workflow_run)
  end)

  it("a shard reset by hand after it failed for good may run again", function()
    local run = build { "a:0 failed", "b:0 <- a:0" }
    local state = magma.new_state()
    local P = policy.check { on_exhausted = "stop" }
    local r1 = magma.tick(run, P, state, 0)
    assert.is_true(r1.stopped)
    run:reset_shard("a:0")
    local r2 = magma.tick(run, P, state, 1)
    assert.is_false(r2.stopped)
    assert.are.same({ "a:0" }, r2.launched)
    assert.is_nil(state.exhausted["a:0"])
  end)
end)

-------------------------------------------------------------------------------------------
describe("magma.tick: on_exhausted", function()
  local DOC = { "a:0 failed", "b:0", "b:1", "c:0 <- a:0" }

  it("stop: once a shard failed for good nothing launches; ready shards are reported stopped",
    function()
      local run = build(DOC)
      local report = magma.tick(run, { on_exhausted = "stop" }, magma.new_state(), 0)
      assert.is_true(report.stopped)
      assert.are.same({}, report.launched)
      assert.are.same({ "b:0=stopped", "b:1=stopped" }, reasons(report.not_launched))
      assert.are.equal(2, report.not_launched_count.stopped)
      assert.are.equal("pending", status_of(run, "b:0"))
      assert.are.equal("failed", report.final_status)
    end)

  it("stop holds in later rounds too (the state remembers the exhausted shard)", function()
    local run = build(DOC)
    local state = magma.new_state()
    magma.tick(run, { on_exhausted = "stop" }, state, 0)
    local report = magma.tick(run, { on_exhausted = "stop" }, state, 60)
    assert.is_true(report.stopped)
    assert.are.same({}, report.launched)
    assert.are.same({}, report.exhausted)
  end)

  it("stop still polls running shards", function()
    local run = build { "a:0 failed", "r:0 running" }
    local report = magma.tick(run, { on_exhausted = "stop", poll = function() return "SUCCEEDED" end },
      magma.new_state(), 0)
    assert.is_true(report.stopped)
    assert.are.equal("completed", status_of(run, "r:0"))
  end)

  it("stop does not stop while a failed shard still has attempts left", function()
    local run = build(DOC)
    local report = magma.tick(run, { on_exhausted = "stop", retry = { max_attempts = 2, delay = 30 } },
      magma.new_state(), 0)
    assert.is_false(report.stopped)
    assert.are.same({ "b:0", "b:1" }, report.launched)
  end)

  it("continue: what can still run is launched; dependents of the failed shard are blocked",
    function()
      local run = build(DOC)
      local report = magma.tick(run, { on_exhausted = "continue" }, magma.new_state(), 0)
      assert.is_false(report.stopped)
      assert.are.same({ "b:0", "b:1" }, report.launched)
      assert.are.same({ "c:0" }, report.blocked)
      assert.are.same({ "a:0" }, report.exhausted)
    end)

  it("continue is the default", function()
    local run = build(DOC)
    local report = magma.tick(run, {}, magma.new_state(), 0)
    assert.is_false(report.stopped)
    assert.are.same({ "b:0", "b:1" }, report.launched)
  end)
end)

-------------------------------------------------------------------------------------------
describe("magma.tick: blocked shards", function()
  -- e:0 is failed for good in every case (no retries); p:0 pending behind a running gate.
  -- {rule of t, dependencies of t, blocked?}
  local CASES = {
    { "all_success", "e:0", true },
    { "none_failed", "e:0", true },
    { "all_done", "e:0", false },
    { "all_failed", "e:0", false },
    { "one_failed", "e:0", false },
    { "one_success", "e:0", true },
    { "one_success", "e:0, p:0", false },
    { "one_success", "e:0, nowhere:0", true },
    { "all_done", "e:0, nowhere:0", true },
    { "all_failed", "e:0, nowhere:0", true },
    { "all_success", "e:0, p:0", true },
    { "none_failed", "e:0, p:0", true },
    { "all_done", "e:0, p:0", false },
    { "one_failed", "e:0, nowhere:0", false },
  }
  for _, c in ipairs(CASES) do
    it(string.format("%s with dependencies {%s}: %s", c[1], c[2], c[3] and "blocked" or "not blocked"),
      function()
        local run = build { "gate:0 running", "e:0 failed", "p:0 <- gate:0", "t:0 <- " .. c[2] }
        local report = magma.tick(run, { trigger = { t = c[1] } }, magma.new_state(), 0)
        assert.are.equal(c[3], contains(report.blocked, "t:0"))
        assert.is_false(contains(report.blocked, "p:0"))
      end)
  end

  it("grows across rounds of one state as more shards fail for good", function()
    -- a:0 failed at the start; b:0 fails at the second round: each blocks its chain
    local run = build { "a:0 failed", "x:0 <- a:0", "y:0 <- x:0",
      "b:0 running", "z:0 <- b:0" }
    local state = magma.new_state()
    local P = policy.check { poll = function(w) return w.shard_name == "b:0" and "failed" or nil end,
      max_running = 0 }
    local r1 = magma.tick(run, policy.check { max_running = 0 }, state, 0)
    assert.are.same({ "x:0", "y:0" }, r1.blocked)
    local r2 = magma.tick(run, P, state, 1)
    assert.are.same({ "x:0", "y:0", "z:0" }, r2.blocked)
    assert.are.equal(3, r2.blocked_count)
  end)

  it("starts over when a shard failed for good is reset by hand", function()
    local run = build { "a:0 failed", "x:0 <- a:0" }
    local state = magma.new_state()
    local P = policy.check { max_running = 0 }
    assert.are.same({ "x:0" }, magma.tick(run, P, state, 0).blocked)
    run:reset_shard("a:0")
    local report = magma.tick(run, P, state, 1)
    assert.are.same({}, report.blocked)
    assert.are.equal(0, report.blocked_count)
  end)

  it("names at most `limit` blocked shards and counts them all", function()
    local run = build { "a:0 failed", "x:0 <- a:0", "x:1 <- a:0", "x:2 <- a:0" }
    local report = magma.tick(run, { max_running = 0 }, magma.new_state(), 0, { limit = 2 })
    assert.are.same({ "x:0", "x:1" }, report.blocked)
    assert.are.equal(3, report.blocked_count)
  end)

  it("blocking is transitive, listed in document order", function()
    local run = build { "d:0 <- c:0", "a:0 failed", "b:0 <- a:0", "x:0", "c:0 <- b:0" }
    local report = magma.tick(run, { max_running = 0 }, magma.new_state(), 0)
    assert.are.same({ "d:0", "b:0", "c:0" }, report.blocked)
  end)

  -- b:0 is blocked (all_success behind the exhausted a:0); t:0 depends on b:0 (and q:0).
  local TRANSITIVE = {
    { "all_done", "b:0", true },
    { "one_failed", "b:0", true },
    { "all_failed", "b:0", true },
    { "one_success", "b:0", true },
    { "none_failed", "b:0", true },
    { "one_success", "b:0, q:0", false },
    { "one_failed", "b:0, q:0", false },
  }
  for _, c in ipairs(TRANSITIVE) do
    it(string.format("behind a blocked shard, %s with dependencies {%s}: %s", c[1], c[2],
      c[3] and "blocked" or "not blocked"), function()
      local run = build { "gate:0 running", "a:0 failed", "b:0 <- a:0", "q:0 <- gate:0", "t:0 <- " .. c[2] }
      local report = magma.tick(run, { trigger = { t = c[1] } }, magma.new_state(), 0)
      assert.is_true(contains(report.blocked, "b:0"))
      assert.are.equal(c[3], contains(report.blocked, "t:0"))
    end)
  end

  it("a shard behind two exhausted shards is listed once", function()
    local run = build { "a:0 failed", "a:1 failed", "b:0 <- a:0, a:1" }
    local report = magma.tick(run, {}, magma.new_state(), 0)
    assert.are.same({ "b:0" }, report.blocked)
  end)

  it("a failed shard still waiting for a retry blocks nothing", function()
    local run = build { "a:0 failed", "b:0 <- a:0" }
    local report = magma.tick(run, { retry = { max_attempts = 2, delay = 60 } }, magma.new_state(), 0)
    assert.are.same({}, report.blocked)
    assert.are.same({ { shard = "a:0", due = 60 } }, report.waiting)
  end)

  it("only pending shards are blocked: a running dependent is not, nor what is behind it", function()
    local run = build { "a:0 failed", "b:0 running <- a:0", "c:0 <- b:0" }
    local report = magma.tick(run, {}, magma.new_state(), 0)
    assert.are.same({}, report.blocked)
  end)

  it("blocked shards are not reported as not launched", function()
    local run = build { "a:0 failed", "b:0 <- a:0" }
    local report = magma.tick(run, {}, magma.new_state(), 0)
    assert.are.same({ "b:0" }, report.blocked)
    assert.are.same({}, report.not_launched)
    assert.are.same({ cap = 0, step_cap = 0, priority = 0, filtered = 0, stopped = 0 },
      report.not_launched_count)
  end)

  it("a shard that failed for good and was then completed by hand blocks nothing any more", function()
    local run = build { "a:0 failed", "b:0 <- a:0" }
    local state = magma.new_state()
    assert.are.same({ "b:0" }, magma.tick(run, { max_running = 0 }, state, 0).blocked)
    run.runs["a:0"].status = "completed"
    local report = magma.tick(run, {}, state, 1)
    assert.are.same({}, report.blocked)
    assert.are.same({ "b:0" }, report.launched)
  end)

  it("on the CGAP trio, a read-group shard failed for good blocks its sample's chain", function()
    local run = load_fixture("CGAP_WGS_trio.run.json")
    run.runs[READGROUPS_00].status = "failed"
    local report = magma.tick(run, {}, magma.new_state(), 0)
    assert.are.same({ READGROUPS_00 }, report.exhausted)
    assert.are.same({
      MERGE_0, "workflow_picard-MarkDuplicates-check:0", "workflow_sort-bam-check:0",
      "workflow_gatk-BaseRecalibrator:0", "workflow_gatk-ApplyBQSR-check:0",
      "workflow_gatk-HaplotypeCaller:0", "workflow_gatk-CombineGVCFs:0",
    }, report.blocked)
    assert.are.same({ MERGE_1 }, report.launched)
  end)
end)

-------------------------------------------------------------------------------------------
describe("magma.tick: caps, priority and the not-launched report", function()
  it("max_running counts the shards already running", function()
    local run = build { "r:0 running", "r:1 running", "a:0", "a:1", "a:2" }
    local report = magma.tick(run, { max_running = 3 }, magma.new_state(), 0)
    assert.are.same({ "a:0" }, report.launched)
    assert.are.same({ "a:1=cap", "a:2=cap" }, reasons(report.not_launched))
    assert.are.equal(2, report.not_launched_count.cap)
  end)

  it("max_running = 0 launches nothing", function()
    local run = build { "a:0" }
    local report = magma.tick(run, { max_running = 0 }, magma.new_state(), 0)
    assert.are.same({}, report.launched)
    assert.are.same({ "a:0=cap" }, reasons(report.not_launched))
  end)

  it("max_running and max_running_per_step together", function()
    local run = build { "r:0 running", "a:0", "a:1", "a:2", "a:3", "b:0", "b:1", "b:2" }
    local report = magma.tick(run, { max_running = 4, max_running_per_step = { a = 2 } },
      magma.new_state(), 0)
    assert.are.same({ "a:0", "a:1", "b:0" }, report.launched)
    assert.are.same({ "a:2=step_cap", "a:3=step_cap", "b:1=cap", "b:2=cap" }, reasons(report.not_launched))
    assert.are.same({ cap = 2, step_cap = 2, priority = 0, filtered = 0, stopped = 0 },
      report.not_launched_count)
    assert.are.equal(4, run:count("running"))
  end)

  it("max_running_per_step counts the step's shards already running", function()
    local run = build { "a:9 running", "a:0", "a:1", "b:0" }
    local report = magma.tick(run, { max_running_per_step = { a = 2 } }, magma.new_state(), 0)
    assert.are.same({ "a:0", "b:0" }, report.launched)
    assert.are.same({ "a:1=step_cap" }, reasons(report.not_launched))
  end)

  it("a per-step cap of 0 holds its step only", function()
    local run = build { "a:0", "a:1", "b:0", "b:1" }
    local report = magma.tick(run, { max_running_per_step = { a = 0 } }, magma.new_state(), 0)
    assert.are.same({ "b:0", "b:1" }, report.launched)
    assert.are.equal(2, report.not_launched_count.step_cap)
  end)

  it("priority table: higher first, unlisted steps count 0, ties in document order", function()
    local run = build { "c:0", "a:0", "b:0", "c:1", "a:1", "b:1", "d:0" }
    local report = magma.tick(run, { priority = { a = 5, b = 5, d = -1 } }, magma.new_state(), 0)
    assert.are.same({ "a:0", "b:0", "a:1", "b:1", "c:0", "c:1", "d:0" }, report.launched)
  end)

  it("priority function: higher first, ties in document order", function()
    local run = build { "a:0", "a:1", "a:2", "b:2", "b:0", "b:1" }
    local report = magma.tick(run, { priority = function(wfr) return tonumber(wfr.shard) end },
      magma.new_state(), 0)
    assert.are.same({ "a:2", "b:2", "a:1", "b:1", "a:0", "b:0" }, report.launched)
  end)

  it("priority function receives the ready shard", function()
    local run = build { "a:0", "gate:0 running", "b:0 <- gate:0" }
    local seen = {}
    magma.tick(run, { priority = function(wfr)
      seen[#seen + 1] = { wfr.shard_name, wfr.status }
      return 0
    end }, magma.new_state(), 0)
    assert.are.same({ { "a:0", "pending" } }, seen)
  end)

  it("a shard that loses its slot to a higher priority is reported with reason priority", function()
    local run = build { "a:0", "a:1", "b:0", "b:1" }
    local report = magma.tick(run, { max_running = 2, priority = { b = 1 } }, magma.new_state(), 0)
    assert.are.same({ "b:0", "b:1" }, report.launched)
    assert.are.same({ "a:0=priority", "a:1=priority" }, reasons(report.not_launched))
    assert.are.equal(2, report.not_launched_count.priority)
  end)

  it("when the cap is full before the round, the reason is cap even with a priority", function()
    local run = build { "r:0 running", "a:0", "b:0" }
    local report = magma.tick(run, { max_running = 1, priority = { b = 1 } }, magma.new_state(), 0)
    assert.are.same({}, report.launched)
    assert.are.same({ "b:0=cap", "a:0=cap" }, reasons(report.not_launched))
  end)

  it("every reason in one round: priority, step_cap, filtered", function()
    local run = build { "a:0", "a:1", "a:2", "b:0", "b:1", "c:0", "c:1" }
    local report = magma.tick(run, {
      max_running = 3,
      max_running_per_step = { a = 1 },
      priority = { a = 2, b = 1 },
      ready = function(wfr) return wfr.shard_name ~= "b:0" end,
    }, magma.new_state(), 0)
    assert.are.same({ "a:0", "b:1", "c:0" }, report.launched)
    assert.are.same({ "a:1=step_cap", "a:2=step_cap", "b:0=filtered", "c:1=priority" },
      reasons(report.not_launched))
    assert.are.same({ cap = 0, step_cap = 2, priority = 1, filtered = 1, stopped = 0 },
      report.not_launched_count)
  end)

  it("opts.limit bounds the not-launched list; not_launched_count still counts them all", function()
    local desc = {}
    for i = 0, 9 do desc[#desc + 1] = "a:" .. i end
    local run = build(desc)
    local report = magma.tick(run, { max_running = 3 }, magma.new_state(), 0, { limit = 2 })
    assert.are.equal(3, #report.launched)
    assert.are.same({ "a:3=cap", "a:4=cap" }, reasons(report.not_launched))
    assert.are.equal(7, report.not_launched_count.cap)
  end)

  it("opts.limit bounds the stopped list too", function()
    local run = build { "x:0 failed", "a:0", "a:1", "a:2" }
    local report = magma.tick(run, { on_exhausted = "stop" }, magma.new_state(), 0, { limit = 1 })
    assert.are.same({ "a:0=stopped" }, reasons(report.not_launched))
    assert.are.equal(3, report.not_launched_count.stopped)
  end)

  it("stopped shards are listed in priority order", function()
    local run = build { "x:0 failed", "a:0", "b:0" }
    local report = magma.tick(run, { on_exhausted = "stop", priority = { b = 1 } }, magma.new_state(), 0)
    assert.are.same({ "b:0=stopped", "a:0=stopped" }, reasons(report.not_launched))
  end)

  it("a round without anything ready reports nothing not launched", function()
    local run = build { "r:0 running" }
    local report = magma.tick(run, { max_running = 1 }, magma.new_state(), 0)
    assert.are.same({}, report.not_launched)
    assert.are.same({ cap = 0, step_cap = 0, priority = 0, filtered = 0, stopped = 0 },
      report.not_launched_count)
  end)
end)

-------------------------------------------------------------------------------------------
describe("magma.tick: launch", function()
  it("a launched shard becomes running with its job id under jobid (the default job_key)", function()
    local run = build { "a:0", "b:0 <- a:0" }
    local calls, launch = recorder()
    local report = magma.tick(run, { launch = launch }, magma.new_state(), 0)
    assert.are.same({ "a:0" }, report.launched)
    assert.are.equal("running", status_of(run, "a:0"))
    assert.are.equal("job-a:0", run.runs["a:0"].jobid)
    assert.are.equal(1, #calls)
    assert.are.equal(run, calls[1].run)
    assert.are.equal("pending", calls[1].status)
  end)

  it("launch is called in priority order", function()
    local run = build { "a:0", "b:0" }
    local calls, launch = recorder()
    magma.tick(run, { launch = launch, priority = { b = 1 } }, magma.new_state(), 0)
    assert.are.same({ "b:0", "a:0" }, field(calls, "shard"))
  end)

  it("an integer job id is kept as an integer", function()
    local run = build { "a:0" }
    magma.tick(run, { launch = function() return 42 end }, magma.new_state(), 0)
    assert.are.equal(42, run.runs["a:0"].jobid)
    assert.are.equal("integer", math.type(run.runs["a:0"].jobid))
  end)

  it("on the CGAP trio the job id goes under jobid", function()
    local run = load_fixture("CGAP_WGS_trio.run.json")
    local _, launch = recorder()
    local report = magma.tick(run, { launch = launch }, magma.new_state(), 0)
    assert.are.same({ READGROUPS_00, MERGE_1 }, report.launched)
    for _, sn in ipairs(report.launched) do
      assert.are.equal("job-" .. sn, run.runs[sn].jobid)
      assert.is_nil(run.runs[sn].job_id)
    end
    assert.are.equal("running", report.final_status)
  end)

  it("on the SMaHT trio, job_key = job_id puts the job id under job_id", function()
    local run = load_fixture("SMaHT_WGS_trio_scatter_ff.run.json")
    local _, launch = recorder()
    local report = magma.tick(run, { launch = launch, job_key = "job_id" }, magma.new_state(), 0)
    assert.are.same({
      "workflow_bwa-mem_no_unzip-check:0:0", "workflow_bwa-mem_no_unzip-check:1:0",
      "workflow_bwa-mem_no_unzip-check:1:1", "workflow_merge-bam-check:2",
    }, report.launched)
    for _, sn in ipairs(report.launched) do
      assert.are.equal("job-" .. sn, run.runs[sn].job_id)
      assert.is_nil(run.runs[sn].jobid)
    end
    local recs = run:runs_to_json()
    assert.are.equal("job-workflow_bwa-mem_no_unzip-check:0:0", recs[1].job_id)
  end)

  it("on the SMaHT trio a retry removes the old job_id and the relaunch records the new one", function()
    local run = load_fixture("SMaHT_WGS_trio_scatter_ff.run.json")
    local sn = "workflow_bwa-mem_no_unzip-check:0:0"
    local n = 0
    local P = policy.check {
      job_key = "job_id", retry = { max_attempts = 2 }, max_running = 1,
      launch = function() n = n + 1; return "job" .. n end,
      poll = function(wfr) if wfr.shard_name == sn then return "FAILED" end end,
    }
    local state = magma.new_state()
    magma.tick(run, P, state, 0)
    assert.are.equal("job1", run.runs[sn].job_id)
    local report = magma.tick(run, P, state, 1)
    assert.are.same({ sn }, report.retried)
    assert.are.same({ sn }, report.launched)
    assert.are.equal("job2", run.runs[sn].job_id)
  end)

  it("launch returning nil, err: the shard is failed, the attempt counted, the error reported",
    function()
      local run = build { "a:0", "b:0" }
      local state = magma.new_state()
      local report = magma.tick(run, { launch = function(wfr)
        if wfr.shard_name == "a:0" then return nil, "queue full" end
        return "j-b"
      end }, state, 7)
      assert.are.same({ "b:0" }, report.launched)
      assert.are.same({ { shard = "a:0", error = "queue full" } }, report.launch_failed)
      assert.are.equal("failed", status_of(run, "a:0"))
      assert.is_nil(run.runs["a:0"].jobid)
      assert.are.equal(1, state.attempts["a:0"])
      assert.are.equal("failed", report.final_status)
    end)

  it("launch returning nil without a message is reported with a message all the same", function()
    local run = build { "a:0" }
    local report = magma.tick(run, { launch = function() return nil end }, magma.new_state(), 0)
    assert.are.equal(1, #report.launch_failed)
    assert.are.equal("a:0", report.launch_failed[1].shard)
    assert.are.equal("string", type(report.launch_failed[1].error))
    assert.is_true(#report.launch_failed[1].error > 0)
  end)

  it("a failed launch is retried after the delay, counted from the launching round", function()
    local run = build { "a:0" }
    local state = magma.new_state()
    local ok = false
    local P = policy.check {
      retry = { max_attempts = 2, delay = 30 },
      launch = function() if ok then return "j" end return nil, "down" end,
    }
    magma.tick(run, P, state, 100)
    assert.are.same({ { shard = "a:0", due = 130 } }, magma.tick(run, P, state, 129).waiting)
    ok = true
    local report = magma.tick(run, P, state, 130)
    assert.are.same({ "a:0" }, report.retried)
    assert.are.same({ "a:0" }, report.launched)
    assert.are.equal(2, state.attempts["a:0"])
  end)

  it("a failed launch without retries is exhausted in the next round", function()
    local run = build { "a:0", "b:0 <- a:0" }
    local state = magma.new_state()
    local P = policy.check { launch = function() return nil, "no" end }
    magma.tick(run, P, state, 0)
    local report = magma.tick(run, P, state, 1)
    assert.are.same({ "a:0" }, report.exhausted)
    assert.are.same({ "b:0" }, report.blocked)
  end)

  it("launched shards count against the cap within the round", function()
    local run = build { "a:0", "a:1", "a:2" }
    local calls, launch = recorder()
    magma.tick(run, { launch = launch, max_running = 2 }, magma.new_state(), 0)
    assert.are.equal(2, #calls)
  end)
end)

-------------------------------------------------------------------------------------------
describe("magma.tick: poll", function()
  it("poll is asked about every running shard, in document order, with the run", function()
    local run = build { "a:0 running", "b:0", "c:0 running", "d:0 completed" }
    local seen = {}
    magma.tick(run, { poll = function(wfr, r)
      seen[#seen + 1] = { wfr.shard_name, r == run }
    end, max_running = 0 }, magma.new_state(), 0)
    assert.are.same({ { "a:0", true }, { "c:0", true } }, seen)
  end)

  it("shards launched in a round are not polled in that round", function()
    local run = build { "a:0" }
    local polled = 0
    magma.tick(run, { poll = function() polled = polled + 1 end }, magma.new_state(), 0)
    assert.are.equal(0, polled)
  end)

  -- poll's status -> the shard's new status, with the default status_map
  local DEFAULT_MAP = {
    { "SUCCEEDED", "completed" },
    { "FAILED", "failed" },
    { "RUNNING", "running" },
    { "completed", "completed" },
    { "failed", "failed" },
    { "inactive", "inactive" },
  }
  for _, c in ipairs(DEFAULT_MAP) do
    it(string.format("default status_map: poll says %s -> status %s", c[1], c[2]), function()
      local run = build { "a:0 running" }
      local report = magma.tick(run, { poll = function() return c[1] end, max_running = 0 },
        magma.new_state(), 0)
      assert.are.equal(c[2], status_of(run, "a:0"))
      if c[2] == "running" then
        assert.are.same({}, report.polled)
      else
        assert.are.same({ { shard = "a:0", from = "running", to = c[2] } }, report.polled)
      end
    end)
  end

  it("a status_map adds to the default one", function()
    local run = build { "a:0 running", "b:0 running", "c:0 running" }
    local said = { ["a:0"] = "complete", ["b:0"] = "error", ["c:0"] = "SUCCEEDED" }
    magma.tick(run, {
      status_map = { complete = "completed", error = "failed" },
      poll = function(wfr) return said[wfr.shard_name] end,
    }, magma.new_state(), 0)
    assert.are.equal("completed", status_of(run, "a:0"))
    assert.are.equal("failed", status_of(run, "b:0"))
    assert.are.equal("completed", status_of(run, "c:0"))
  end)

  it("a status_map entry can override a default one", function()
    local run = build { "a:0 running" }
    magma.tick(run, { status_map = { FAILED = "inactive" }, poll = function() return "FAILED" end },
      magma.new_state(), 0)
    assert.are.equal("inactive", status_of(run, "a:0"))
  end)

  it("poll returning nil leaves the shard as it is", function()
    local run = build { "a:0 running" }
    local report = magma.tick(run, { poll = function() return nil end }, magma.new_state(), 0)
    assert.are.equal("running", status_of(run, "a:0"))
    assert.are.same({}, report.polled)
  end)

  it("poll's output and fields are recorded on the shard", function()
    local run = build { "a:0 running" }
    local out = { { argument_name = "bam", file = "uuid-bam" } }
    magma.tick(run, { poll = function()
      return "SUCCEEDED", out, { workflow_run = "wfr-uuid-1" }
    end }, magma.new_state(), 0)
    local wfr = run.runs["a:0"]
    assert.are.equal("completed", wfr.status)
    assert.are.same(out, wfr.output)
    assert.are.equal("wfr-uuid-1", wfr.workflow_run)
    local rec = run:runs_to_json()[1]
    assert.are.same(out, rec.output)
    assert.are.equal("wfr-uuid-1", rec.workflow_run)
  end)

  it("a completion seen by poll makes the dependents ready in the same round", function()
    local run = build { "a:0 running", "b:0 <- a:0" }
    local report = magma.tick(run, { poll = function() return "SUCCEEDED" end }, magma.new_state(), 0)
    assert.are.same({ "b:0" }, report.launched)
  end)

  it("update_status comes last: final_status reflects the round's changes", function()
    local run = build { "a:0 running", "b:0 <- a:0" }
    local report = magma.tick(run, { poll = function() return "SUCCEEDED" end, max_running = 0 },
      magma.new_state(), 0)
    assert.are.equal("inactive", report.final_status)
    assert.are.equal("inactive", run.final_status)
    run = build { "a:0 running" }
    report = magma.tick(run, { poll = function() return "SUCCEEDED" end }, magma.new_state(), 0)
    assert.are.equal("completed", report.final_status)
  end)

  it("opts.patch adds the portal patch {final_status, workflow_runs}", function()
    local run = build { "a:0" }
    local report = magma.tick(run, {}, magma.new_state(), 0, { patch = true })
    assert.are.equal("running", report.patch.final_status)
    assert.are.same(run:runs_to_json(), report.patch.workflow_runs)
  end)

  it("on the CGAP trio, the running read-group shard polled completed readies merge-bam:2", function()
    local run = load_fixture("CGAP_WGS_trio.run.json")
    local report = magma.tick(run, { poll = function() return "SUCCEEDED" end }, magma.new_state(), 0)
    assert.are.same({ { shard = "workflow_add-readgroups-check:2:2", from = "running", to = "completed" } },
      report.polled)
    assert.are.same({ READGROUPS_00, MERGE_1, "workflow_merge-bam-check:2" }, report.launched)
  end)
end)

-------------------------------------------------------------------------------------------
describe("magma.tick: a policy raising an error mid-round", function()
  teardown(cleanup)

  -- hook -> a policy file whose hook raises, and a run that reaches it on shard x:0
  local HOOKS = {
    { hook = "launch", doc = { "x:0" }, body = "launch = function(wfr) error('launch broke') end" },
    { hook = "poll", doc = { "x:0 running" }, body = "poll = function(wfr) error('poll broke') end" },
    { hook = "ready", doc = { "x:0" }, body = "ready = function(wfr) error('ready broke') end" },
    { hook = "priority", doc = { "x:0" }, body = "priority = function(wfr) error('priority broke') end" },
    { hook = "retry.when", doc = { "x:0 failed" },
      body = "retry = { max_attempts = 2, when = function(wfr) error('when broke') end }" },
  }

  for _, h in ipairs(HOOKS) do
    it(string.format("an error in %s is a policy error naming the policy file, line, hook and shard",
      h.hook), function()
      local path = policy_file("-- a policy\nreturn {\n  " .. h.body .. ",\n}\n")
      local P = assert(policy.load(path))
      local ok, e = pcall(magma.tick, build(h.doc), P, magma.new_state(), 0)
      assert.is_false(ok)
      assert.is_true(tick.is_policy_error(e))
      local msg = tostring(e)
      assert.truthy(msg:find(path .. ":3:", 1, true), msg)
      assert.truthy(msg:find("broke", 1, true), msg)
      assert.truthy(msg:find("in " .. h.hook, 1, true), msg)
      assert.truthy(msg:find('"x:0"', 1, true), msg)
      assert.are.equal(h.hook, e.hook)
      assert.are.equal("x:0", e.shard)
    end)
  end

  for _, h in ipairs(HOOKS) do
    it(string.format("an error in %s of a policy table names the policy as (table)", h.hook), function()
      local p = assert(load("return {" .. h.body .. "}"))()
      local ok, e = pcall(magma.tick, build(h.doc), p, magma.new_state(), 0)
      assert.is_false(ok)
      assert.is_true(tick.is_policy_error(e))
      local msg = tostring(e)
      assert.truthy(msg:find("policy (table)", 1, true), msg)
      assert.truthy(msg:find("in " .. h.hook, 1, true), msg)
      assert.truthy(msg:find('"x:0"', 1, true), msg)
    end)
  end

  it("an error value that is not a string is a policy error all the same", function()
    local ok, e = pcall(magma.tick, build { "x:0" }, { launch = function() error({ code = 7 }) end },
      magma.new_state(), 0)
    assert.is_false(ok)
    assert.is_true(tick.is_policy_error(e))
    assert.truthy(tostring(e):find("in launch", 1, true))
  end)

  it("an error raised with level 0 from a policy file still names the file", function()
    local path = policy_file("return { launch = function() error('plain', 0) end }\n")
    local ok, e = pcall(magma.tick, build { "x:0" }, assert(policy.load(path)), magma.new_state(), 0)
    assert.is_false(ok)
    assert.truthy(tostring(e):find("policy " .. path, 1, true), tostring(e))
    assert.truthy(tostring(e):find("plain", 1, true))
  end)

  it("the error names the shard the hook was called for, not the first one", function()
    local ok, e = pcall(magma.tick, build { "a:0", "b:0", "c:0" }, { launch = function(wfr)
      if wfr.shard_name == "b:0" then error("b is bad") end
      return "j"
    end }, magma.new_state(), 0)
    assert.is_false(ok)
    assert.are.equal("b:0", e.shard)
    assert.truthy(tostring(e):find('"b:0"', 1, true))
  end)

  -- hook -> a policy returning a bad value from it
  local BAD_VALUES = {
    { "priority", { "x:0" }, { priority = function() return "high" end } },
    { "priority", { "x:0" }, { priority = function() return 0 / 0 end } },
    { "launch", { "x:0" }, { launch = function() return { id = 1 } end } },
    { "launch", { "x:0" }, { launch = function() return 1.5 end } },
    { "poll", { "x:0 running" }, { poll = function() return 3 end } },
    { "poll", { "x:0 running" }, { poll = function() return "SUCCEEDED", nil, "not a table" end } },
    { "poll", { "x:0 running" }, { poll = function() return "SUCCEEDED", nil, { shard = "9" } end } },
    { "poll", { "x:0 running" }, { poll = function() return "SUCCEEDED", nil, { dependencies = 5 } end } },
  }
  for i, c in ipairs(BAD_VALUES) do
    it(string.format("a bad value returned by %s is a policy error naming the hook and shard (%d)",
      c[1], i), function()
      local ok, e = pcall(magma.tick, build(c[2]), c[3], magma.new_state(), 0)
      assert.is_false(ok)
      assert.is_true(tick.is_policy_error(e), tostring(e))
      assert.truthy(tostring(e):find("in " .. c[1], 1, true), tostring(e))
      assert.truthy(tostring(e):find('"x:0"', 1, true), tostring(e))
      assert.truthy(tostring(e):find("policy (table)", 1, true), tostring(e))
    end)
  end

  it("an invalid policy is rejected before anything happens to the run", function()
    local run = build { "a:0" }
    local ok, e = pcall(magma.tick, run, { max_runing = 2 }, magma.new_state(), 0)
    assert.is_false(ok)
    assert.truthy(tostring(e):find('"max_runing"', 1, true))
    assert.are.equal("pending", status_of(run, "a:0"))
  end)

  it("now must be a number", function()
    local ok, e = pcall(magma.tick, build { "a:0" }, {}, magma.new_state(), "noon")
    assert.is_false(ok)
    assert.truthy(tostring(e):find("now must be a number", 1, true))
  end)
end)

-------------------------------------------------------------------------------------------
describe("magma.tick: the state between rounds", function()
  local files = {}
  local function tmp(text)
    local p = os.tmpname()
    files[#files + 1] = p
    if text then
      local f = assert(io.open(p, "w"))
      f:write(text)
      f:close()
    else
      os.remove(p)
    end
    return p
  end
  teardown(function() for _, p in ipairs(files) do os.remove(p) end end)

  it("new_state is empty", function()
    assert.are.same({ version = 1, attempts = {}, failed_at = {}, exhausted = {} }, magma.new_state())
  end)

  it("a missing state file gives a new state", function()
    local st, err = tick.load_state(tmp())
    assert.is_nil(err)
    assert.are.same(magma.new_state(), st)
  end)

  it("encode_state writes empty parts as objects, keys sorted", function()
    local text = tick.encode_state(magma.new_state())
    local doc = json.decode(text)
    for _, k in ipairs { "attempts", "failed_at", "exhausted" } do
      assert.are.same({}, doc[k])
      assert.truthy(text:find('"' .. k .. '": {}', 1, true), text)
    end
    local st = magma.new_state()
    st.attempts["b:0"], st.attempts["a:0"] = 2, 1
    local t2 = tick.encode_state(st)
    assert.truthy(t2:find('"a:0": 1,%s*"b:0": 2'), t2)
  end)

  it("the state of real rounds round-trips through encode_state and load_state", function()
    local run = build { "a:0 failed", "b:0 failed", "c:0 failed", "d:0" }
    local state = magma.new_state()
    state.attempts["a:0"] = 1
    magma.tick(run, { retry = { max_attempts = { a = 3, c = 2 }, delay = 10.5 },
      launch = function() return "j" end }, state, 1000.25)
    assert.are.same({ ["a:0"] = 1000.25, ["c:0"] = 1000.25 }, state.failed_at)
    assert.are.same({ ["b:0"] = true }, state.exhausted)
    local path = tmp(tick.encode_state(state))
    local back, err = tick.load_state(path)
    assert.is_nil(err)
    assert.are.same(state.attempts, back.attempts)
    assert.are.same(state.failed_at, back.failed_at)
    assert.are.same(state.exhausted, back.exhausted)
    assert.are.equal(1, back.version)
    assert.are.equal(tick.encode_state(state), tick.encode_state(back))
  end)

  it("rounds continue from a reloaded state as from the original", function()
    local P = policy.check { retry = { max_attempts = 3, delay = 60 } }
    local run = build { "a:0 failed" }
    local state = magma.new_state()
    magma.tick(run, P, state, 0)
    local back = assert(tick.load_state(tmp(tick.encode_state(state))))
    assert.are.same({ { shard = "a:0", due = 60 } }, magma.tick(run, P, back, 59).waiting)
    assert.are.same({ "a:0" }, magma.tick(run, P, back, 60).retried)
  end)

  -- state file text -> a piece the error must hold
  local BAD = {
    { '{"attempts": 3}', '"attempts"' },
    { '{"failed_at": "soon"}', '"failed_at"' },
    { '{"exhausted": [true]}', 'exhausted' },
    { '{"attempts": {"a:0": "two"}}', 'attempts["a:0"]' },
    { '{"attempts": {"a:0": 1.5}}', 'attempts["a:0"]' },
    { '{"attempts": {"a:0": -3}}', 'attempts["a:0"]' },
    { '{"failed_at": {"a:0": "noon"}}', 'failed_at["a:0"]' },
    { '{"exhausted": {"a:0": 1}}', 'exhausted["a:0"]' },
    { '{"version": 2}', "version" },
    { '"a string"', "object" },
    { '[1, 2]', "object" },
    { '{"attempts": {', "line 1" },
  }
  for _, c in ipairs(BAD) do
    it("a bad state file gives nil, err naming the key: " .. c[1], function()
      local path = tmp(c[1])
      local st, err = tick.load_state(path)
      assert.is_nil(st)
      assert.are.equal("string", type(err))
      assert.truthy(err:find(path, 1, true), err)
      assert.truthy(err:find(c[2], 1, true), err)
    end)
  end

  it("a state path that is a directory gives nil, err naming it", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir " .. dir))
    local ok, st, err = pcall(tick.load_state, dir)
    os.execute("rmdir " .. dir)
    assert.is_true(ok, tostring(st))
    assert.is_nil(st)
    assert.truthy(err:find(dir, 1, true), err)
  end)

  it("tick.check_state rejects a bad state table, naming the key", function()
    assert.has_error(function() tick.check_state({ attempts = 3 }) end,
      'state: key "attempts" must be an object')
  end)

  it("a state table without some parts is completed by the round", function()
    local st = {}
    magma.tick(build { "a:0" }, {}, st, 0)
    assert.are.same({ ["a:0"] = 1 }, st.attempts)
    assert.are.same({}, st.exhausted)
    assert.are.same({}, st.failed_at)
  end)
end)
