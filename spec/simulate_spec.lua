-- Specs of magma.simulate(run, policy, opts): the real scheduling round driven by a simulated
-- clock. Every expected number below is computed by hand from the durations, caps, retry
-- delays and failures of small documents built here (and of the CGAP trio fixture); the
-- derivation is written next to each case.

local magma = require "magma"
local tick = require "magma.tick"
local json = magma.json

local FIXTURES = (debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./") .. "fixtures/"

-- A run from a compact description ("NAME:SHARD[ STATUS][ <- DEP, ...]"): support.runs.
local build = require("support.runs").build

-- n independent shards "step:0" .. "step:n-1"
local function independent(step, n, desc)
  desc = desc or {}
  for i = 0, n - 1 do desc[#desc + 1] = string.format("%s:%d", step, i) end
  return desc
end

local CHAIN = { "a:0", "b:0 <- a:0", "c:0 <- b:0" }

-- The attempts of one shard in a result's timeline: { {start, finish, outcome}, ... }
local function attempts_of(res, sn)
  for _, sh in ipairs(res.timeline.shards) do
    if sh.shard == sn then
      local out = {}
      for i, a in ipairs(sh.attempts) do out[i] = { a.start, a.finish, a.outcome } end
      return out
    end
  end
  error("no shard " .. sn .. " in the timeline")
end

local function step_of(res, name)
  for _, s in ipairs(res.steps) do if s.step == name then return s end end
  error("no step " .. name .. " in the result")
end

local function path_of(res)
  local out = {}
  for i, p in ipairs(res.critical_path) do out[i] = { p.shard, p.start, p.finish } end
  return out
end

-- Runs fn and returns the error it raised (failing when it raised none).
local function raised(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error")
  return err
end

describe("magma.simulate: hand-computed schedules", function()
  it("a chain of three with durations 1, 2, 3 ends at 6", function()
    local res = magma.simulate(build(CHAIN), { duration = { a = 1, b = 2, c = 3 } })
    assert.are.equal(6, res.makespan)
    assert.are.equal(3, res.launches)
    assert.are.equal(0, res.retries)
    assert.are.equal(0, res.failed_for_good)
    assert.are.equal(6, res.total_shard_time)
    assert.are.equal(1, res.peak_running)
    assert.are.equal(1, res.mean_running)
    assert.are.equal("completed", res.final_status)
    assert.are.same({ { 0, 1, "completed" } }, attempts_of(res, "a:0"))
    assert.are.same({ { 1, 3, "completed" } }, attempts_of(res, "b:0"))
    assert.are.same({ { 3, 6, "completed" } }, attempts_of(res, "c:0"))
    assert.are.same({ { "a:0", 0, 1 }, { "b:0", 1, 3 }, { "c:0", 3, 6 } }, path_of(res))
  end)

  it("ten independent shards of duration 1 with max_running = 3 end at 4", function()
    -- 3 at t=0, 3 at t=1, 3 at t=2, the last one at t=3, in document order
    local res = magma.simulate(build(independent("s", 10)), { max_running = 3 })
    assert.are.equal(4, res.makespan)
    assert.are.equal(10, res.launches)
    assert.are.equal(3, res.peak_running)
    assert.are.equal(10, res.total_shard_time)
    assert.are.equal(2.5, res.mean_running)
    for i = 0, 9 do
      local t = i // 3
      assert.are.same({ { t, t + 1, "completed" } }, attempts_of(res, "s:" .. i))
    end
  end)

  it("a shard failing twice with max_attempts = 3, delay = 5, factor = 1 ends at 13", function()
    -- attempt 1: 0-1 fails; due 1+5 = 6; attempt 2: 6-7 fails; due 12; attempt 3: 12-13
    local res = magma.simulate(build { "a:0" }, {
      retry = { max_attempts = 3, delay = 5, factor = 1 },
      duration = 1,
      fails = function(_, attempt) return attempt <= 2 end,
    })
    assert.are.equal(13, res.makespan)
    assert.are.equal(3, res.launches)
    assert.are.equal(2, res.retries)
    assert.are.equal(0, res.failed_for_good)
    assert.are.equal("completed", res.final_status)
    assert.are.equal(3, res.total_shard_time)
    assert.are.equal(3 / 13, res.mean_running)
    assert.are.same({ { 0, 1, "failed" }, { 6, 7, "failed" }, { 12, 13, "completed" } },
      attempts_of(res, "a:0"))
    local s = step_of(res, "a")
    assert.are.same({ 3, 2, 0, 13 }, { s.launches, s.failures, s.first_start, s.last_finish })
  end)

  it("factor 2 doubles the delay: 5, 10, 20 after failures at 1, 7, 18 ends at 39", function()
    local res = magma.simulate(build { "a:0" }, {
      retry = { max_attempts = 4, delay = 5, factor = 2 },
      fails = function(_, attempt) return attempt <= 3 end,
    })
    assert.are.equal(39, res.makespan)
    assert.are.equal(4, res.launches)
    assert.are.equal(3, res.retries)
    assert.are.same({ { 0, 1, "failed" }, { 6, 7, "failed" }, { 17, 18, "failed" },
      { 38, 39, "completed" } }, attempts_of(res, "a:0"))
  end)

  it("max_delay caps the backoff: delays 5 then min(10, 7) = 7, ends at 15", function()
    local res = magma.simulate(build { "a:0" }, {
      retry = { max_attempts = 3, delay = 5, factor = 2, max_delay = 7 },
      fails = function(_, attempt) return attempt <= 2 end,
    })
    assert.are.equal(15, res.makespan)
    assert.are.same({ { 0, 1, "failed" }, { 6, 7, "failed" }, { 14, 15, "completed" } },
      attempts_of(res, "a:0"))
  end)

  it("delay 0 relaunches at the moment of the failure", function()
    -- attempt 1 takes 10 and fails at 10, attempt 2 starts at 10 and takes 20: ends at 30
    local seen = {}
    local res = magma.simulate(build { "a:0" }, {
      retry = { max_attempts = 2 },
      duration = function(wfr, attempt)
        seen[#seen + 1] = wfr.shard_name .. "#" .. attempt
        return attempt * 10
      end,
      fails = function(_, attempt) return attempt == 1 end,
    })
    assert.are.equal(30, res.makespan)
    assert.are.same({ "a:0#1", "a:0#2" }, seen)
    assert.are.same({ { 0, 10, "failed" }, { 10, 30, "completed" } }, attempts_of(res, "a:0"))
  end)

  it("a per-step cap serialises its step while other steps run at once", function()
    -- a:0..3 one at a time (0-4), b:0..3 all at t=0: peak 1 + 4 = 5, makespan 4
    local res = magma.simulate(build(independent("b", 4, independent("a", 4))),
      { max_running_per_step = { a = 1 } })
    assert.are.equal(4, res.makespan)
    assert.are.equal(5, res.peak_running)
    assert.are.equal(8, res.launches)
    local a, b = step_of(res, "a"), step_of(res, "b")
    assert.are.same({ 4, 4, 0, 4, 4 }, { a.shards, a.launches, a.first_start, a.last_finish, a.busy })
    assert.are.same({ 4, 4, 0, 1, 4 }, { b.shards, b.launches, b.first_start, b.last_finish, b.busy })
    for i = 0, 3 do
      assert.are.same({ { i, i + 1, "completed" } }, attempts_of(res, "a:" .. i))
    end
  end)

  it("a per-step cap and max_running together", function()
    -- max_running 2, a at most 1: t=0 a:0 and b:0; t=1 a:1 and b:1; t=2 a:2; ends at 3
    local res = magma.simulate(build(independent("b", 2, independent("a", 3))),
      { max_running = 2, max_running_per_step = { a = 1 } })
    assert.are.equal(3, res.makespan)
    assert.are.equal(2, res.peak_running)
    assert.are.same({ { 2, 3, "completed" } }, attempts_of(res, "a:2"))
    assert.are.same({ { 1, 2, "completed" } }, attempts_of(res, "b:1"))
  end)

  describe("priorities change the makespan", function()
    -- x (2), y (2), z (4) on two slots. Document order: x, y at 0-2, z at 2-6 -> 6.
    -- z first: z 0-4, x 0-2, y 2-4 -> 4.
    local desc = { "x:0", "y:0", "z:0" }
    local base = { max_running = 2, duration = { x = 2, y = 2, z = 4 } }
    local function with(extra)
      local p = {}
      for k, v in pairs(base) do p[k] = v end
      for k, v in pairs(extra) do p[k] = v end
      return p
    end

    it("without priorities, document order: 6", function()
      local res = magma.simulate(build(desc), with {})
      assert.are.equal(6, res.makespan)
      assert.are.same({ { 2, 6, "completed" } }, attempts_of(res, "z:0"))
    end)

    it("a priority table putting z first: 4", function()
      local res = magma.simulate(build(desc), with { priority = { z = 1 } })
      assert.are.equal(4, res.makespan)
      assert.are.same({ { 0, 4, "completed" } }, attempts_of(res, "z:0"))
      assert.are.same({ { 0, 2, "completed" } }, attempts_of(res, "x:0"))
      assert.are.same({ { 2, 4, "completed" } }, attempts_of(res, "y:0"))
    end)

    it("a priority function putting z first: 4", function()
      local res = magma.simulate(build(desc), with {
        priority = function(wfr) return wfr.name == "z" and 10 or 0 end,
      })
      assert.are.equal(4, res.makespan)
    end)

    it("a priority putting y before x keeps the makespan, swaps their slots", function()
      local res = magma.simulate(build(desc), with { priority = { y = 2, z = 1 } })
      assert.are.equal(4, res.makespan)
      assert.are.same({ { 0, 2, "completed" } }, attempts_of(res, "y:0"))
      assert.are.same({ { 2, 4, "completed" } }, attempts_of(res, "x:0"))
    end)
  end)

  it("durations as a function of the shard: 1, 2, 3 in parallel end at 3", function()
    local res = magma.simulate(build(independent("s", 3)), {
      duration = function(wfr) return tonumber(wfr.shard) + 1 end,
    })
    assert.are.equal(3, res.makespan)
    assert.are.equal(6, res.total_shard_time)
    assert.are.equal(2, res.mean_running)
    assert.are.equal(3, res.peak_running)
    assert.are.same({ { 0, 2, "completed" } }, attempts_of(res, "s:1"))
  end)

  it("a duration table leaves unlisted steps at 1 second", function()
    local res = magma.simulate(build { "a:0", "b:0 <- a:0" }, { duration = { a = 7 } })
    assert.are.equal(8, res.makespan)
  end)

  it("fractional durations add up", function()
    local res = magma.simulate(build(CHAIN), { duration = 0.25 })
    assert.are.equal(0.75, res.makespan)
  end)

  it("durations of 0 end at 0", function()
    local res = magma.simulate(build(CHAIN), { duration = 0 })
    assert.are.equal(0, res.makespan)
    assert.are.equal(3, res.launches)
    assert.are.equal("completed", res.final_status)
    assert.are.equal(0, res.mean_running)
  end)

  describe("fails as probabilities", function()
    it("a table: probability 1 always fails, 0 and unlisted steps never", function()
      -- a: 3 attempts 0-1, 1-2, 2-3 (delay 0), all failed; b and c never fail
      local res = magma.simulate(build { "a:0", "b:0", "c:0" },
        { fails = { a = 1, b = 0 }, retry = { max_attempts = 3 } })
      assert.are.same({ { 0, 1, "failed" }, { 1, 2, "failed" }, { 2, 3, "failed" } },
        attempts_of(res, "a:0"))
      assert.are.same({ { 0, 1, "completed" } }, attempts_of(res, "b:0"))
      assert.are.same({ { 0, 1, "completed" } }, attempts_of(res, "c:0"))
      assert.are.equal(5, res.launches)
      assert.are.equal(2, res.retries)
      assert.are.equal(1, res.failed_for_good)
      assert.are.equal("failed", res.final_status)
      assert.are.equal(3, res.makespan)
      assert.are.same({ 3, 3, 0 }, { step_of(res, "a").failures, step_of(res, "a").launches,
        step_of(res, "a").completed })
    end)

    it("a number: probability 1 fails every shard", function()
      local res = magma.simulate(build(independent("s", 4)), { fails = 1 })
      assert.are.equal(4, res.failed_for_good)
      assert.are.equal("failed", res.final_status)
    end)

    it("a table of 0.5 fails some shards and not others, and the draws follow the seed", function()
      local P = { fails = { s = 0.5 } }
      local res = magma.simulate(build(independent("s", 40)), P, { seed = 7 })
      assert.is_true(res.failed_for_good > 0 and res.failed_for_good < 40)
      assert.are.same(res, magma.simulate(build(independent("s", 40)), P, { seed = 7 }))
    end)
  end)

  describe("failing for good", function()
    it("a shard failing for good blocks its dependents and the simulation ends", function()
      local res = magma.simulate(build(CHAIN), { fails = { a = 1 } })
      assert.are.equal(1, res.makespan)
      assert.are.equal(1, res.launches)
      assert.are.equal(1, res.failed_for_good)
      assert.are.equal("failed", res.final_status)
      assert.are.same({}, attempts_of(res, "b:0"))
      assert.are.same({}, attempts_of(res, "c:0"))
    end)

    it("what does not depend on it goes on (on_exhausted continue)", function()
      -- a fails at 1; b is blocked; d (duration 5) runs 0-5
      local res = magma.simulate(build { "a:0", "b:0 <- a:0", "d:0" },
        { fails = { a = 1 }, duration = { d = 5 } })
      assert.are.equal(5, res.makespan)
      assert.are.equal(2, res.launches)
      assert.are.same({}, attempts_of(res, "b:0"))
      assert.are.same({ { 0, 5, "completed" } }, attempts_of(res, "d:0"))
      assert.are.equal("failed", res.final_status)
    end)

    it("on_exhausted stop launches nothing more once a shard failed for good", function()
      -- one slot: a 0-1 fails for good; d would run 1-2 under continue, never under stop
      local desc = { "a:0", "d:0" }
      local cont = magma.simulate(build(desc), { max_running = 1, fails = { a = 1 } })
      assert.are.equal(2, cont.makespan)
      assert.are.equal(2, cont.launches)
      local stop = magma.simulate(build(desc),
        { max_running = 1, fails = { a = 1 }, on_exhausted = "stop" })
      assert.are.equal(1, stop.makespan)
      assert.are.equal(1, stop.launches)
      assert.are.same({}, attempts_of(stop, "d:0"))
    end)

    it("a dependent with trigger all_done still runs after its dependency failed for good", function()
      local res = magma.simulate(build { "a:0", "b:0 <- a:0" },
        { fails = { a = 1 }, trigger = { b = "all_done" } })
      assert.are.equal(2, res.makespan)
      assert.are.same({ { 1, 2, "completed" } }, attempts_of(res, "b:0"))
    end)

    it("retry.when returning false makes the first failure final", function()
      local res = magma.simulate(build { "a:0" }, {
        fails = 1, retry = { max_attempts = 5, delay = 1, when = function() return false end },
      })
      assert.are.equal(1, res.launches)
      assert.are.equal(0, res.retries)
      assert.are.equal(1, res.failed_for_good)
    end)

    it("max_attempts reached: 2 attempts, then failed for good at 7", function()
      local res = magma.simulate(build { "a:0" },
        { fails = 1, retry = { max_attempts = 2, delay = 5 } })
      assert.are.equal(7, res.makespan)
      assert.are.equal(2, res.launches)
      assert.are.equal(1, res.retries)
      assert.are.equal(1, res.failed_for_good)
    end)

    it("per-step max_attempts: only the listed step retries", function()
      local res = magma.simulate(build { "a:0", "b:0" },
        { fails = 1, retry = { max_attempts = { a = 3 } } })
      assert.are.equal(3, #attempts_of(res, "a:0"))
      assert.are.equal(1, #attempts_of(res, "b:0"))
      assert.are.equal(2, res.failed_for_good)
    end)
  end)

  describe("until_time", function()
    it("stops the clock and leaves the running attempt open", function()
      -- chain 1, 2, 3: c starts at 3 and would end at 6; stopped at 4
      local res = magma.simulate(build(CHAIN), { duration = { a = 1, b = 2, c = 3 } },
        { until_time = 4 })
      assert.are.equal(4, res.makespan)
      assert.are.equal(3, res.launches)
      assert.are.equal("running", res.final_status)
      assert.are.same({ { 3, 4, "running" } }, attempts_of(res, "c:0"))
      assert.are.equal(4, res.total_shard_time)
      assert.are.equal(1, res.mean_running)
      assert.are.same({ "c:0", 3, 4 }, path_of(res)[3])
      assert.are.equal(0, step_of(res, "c").completed)
    end)

    it("leaves several attempts open, and pending shards unlaunched", function()
      -- p (2) and q (10) at 0; r after p at 2 (duration 1) ends at 3; stopped at 5
      local res = magma.simulate(build { "p:0", "q:0", "r:0 <- p:0", "s:0 <- q:0" },
        { duration = { p = 2, q = 10 } }, { until_time = 5 })
      assert.are.equal(5, res.makespan)
      assert.are.same({ { 0, 5, "running" } }, attempts_of(res, "q:0"))
      assert.are.same({ { 2, 3, "completed" } }, attempts_of(res, "r:0"))
      assert.are.same({}, attempts_of(res, "s:0"))
      assert.are.equal(3, res.launches)
      assert.are.equal(2 + 5 + 1, res.total_shard_time)
    end)

    it("a clock stopped after the end changes nothing", function()
      local P = { duration = { a = 1, b = 2, c = 3 } }
      local full = magma.simulate(build(CHAIN), P)
      local late = magma.simulate(build(CHAIN), P, { until_time = 100 })
      assert.are.equal(6, late.makespan)
      assert.are.same(full, late)
    end)

    it("stopped while only a retry is waiting: the makespan is until_time", function()
      -- x fails at 1; its retry is due at 6; the clock stops at 4 with the retry pending
      local res = magma.simulate(build { "x:0" },
        { retry = { max_attempts = 2, delay = 5 }, fails = function(_, a) return a == 1 end },
        { until_time = 4 })
      assert.are.equal(4, res.makespan)
      assert.are.equal(1, res.launches)
      assert.are.equal(0, res.failed_for_good)
    end)

    it("an attempt ending exactly at until_time completes", function()
      local res = magma.simulate(build(CHAIN), { duration = { a = 1, b = 2, c = 3 } },
        { until_time = 6 })
      assert.are.equal(6, res.makespan)
      assert.are.equal("completed", res.final_status)
    end)

    it("until_time 0: launched at 0, nothing finished", function()
      local res = magma.simulate(build(independent("s", 2)), {}, { until_time = 0 })
      assert.are.equal(0, res.makespan)
      assert.are.equal(2, res.launches)
      assert.are.equal("running", res.final_status)
      assert.are.same({ { 0, 0, "running" } }, attempts_of(res, "s:1"))
    end)
  end)

  it("max_running = 0 launches nothing: the simulation ends at 0", function()
    local res = magma.simulate(build(CHAIN), { max_running = 0 })
    assert.are.same({ 0, 0, 0, "pending" }, { res.makespan, res.launches, res.peak_running,
      res.final_status })
  end)

  it("the policy's launch and poll are not called: the clock replaces them", function()
    local res = magma.simulate(build(CHAIN), {
      launch = function() error("launch called") end,
      poll = function() error("poll called") end,
    })
    assert.are.equal(3, res.makespan)
    assert.are.equal("completed", res.final_status)
  end)

  it("on the CGAP trio: the running shard starts at 0 and the sample-0 chain of 8 ends at 8", function()
    -- 20 pending and 1 running shard, all of duration 1. Sample 0's chain: read groups,
    -- merge, MarkDuplicates, sort, BaseRecalibrator, ApplyBQSR, HaplotypeCaller at 0..7,
    -- then CombineGVCFs at 7-8. Samples 1 and 2 are one step ahead, 3 shards run at a time.
    local run = assert(magma.load(FIXTURES .. "CGAP_WGS_trio.run.json"))
    local res = magma.simulate(run, {})
    assert.are.equal(8, res.makespan)
    assert.are.equal(21, res.launches)
    assert.are.equal(21, res.total_shard_time)
    assert.are.equal(3, res.peak_running)
    assert.are.equal("completed", res.final_status)
    assert.are.same({ { 0, 1, "completed" } },
      attempts_of(res, "workflow_add-readgroups-check:2:2"))
    assert.are.same({}, attempts_of(res, "workflow_add-readgroups-check:1:0"))
    assert.are.same({
      { "workflow_add-readgroups-check:0:0", 0, 1 },
      { "workflow_merge-bam-check:0", 1, 2 },
      { "workflow_picard-MarkDuplicates-check:0", 2, 3 },
      { "workflow_sort-bam-check:0", 3, 4 },
      { "workflow_gatk-BaseRecalibrator:0", 4, 5 },
      { "workflow_gatk-ApplyBQSR-check:0", 5, 6 },
      { "workflow_gatk-HaplotypeCaller:0", 6, 7 },
      { "workflow_gatk-CombineGVCFs:0", 7, 8 },
    }, path_of(res))
    assert.are.same({ { 0, 1, "completed" } }, attempts_of(res, "workflow_merge-bam-check:1"))
  end)
end)

describe("magma.simulate: the result", function()
  local P = {
    name = "mixed",
    max_running = 2,
    duration = { a = 2, b = 1, c = 3 },
    fails = function(wfr, attempt) return wfr.shard_name == "b:1" and attempt == 1 end,
    retry = { max_attempts = 2, delay = 1 },
  }
  local DESC = { "a:0", "a:1", "b:0 <- a:0", "b:1 <- a:1", "c:0 <- b:0, b:1" }
  -- two slots: a:0, a:1 0-2; b:0 2-3, b:1 2-3 fails; retry due 4: b:1 4-5; c:0 5-8

  it("has every field, with the values computed by hand", function()
    local res = magma.simulate(build(DESC), P, { seed = 3 })
    assert.are.equal("mixed", res.policy)
    assert.are.equal(3, res.seed)
    assert.are.equal(8, res.makespan)
    assert.are.equal(2 + 2 + 1 + 1 + 1 + 3, res.total_shard_time)
    assert.are.equal(2, res.peak_running)
    assert.are.equal(10 / 8, res.mean_running)
    assert.are.equal(6, res.launches)
    assert.are.equal(1, res.retries)
    assert.are.equal(0, res.failed_for_good)
    assert.are.equal("completed", res.final_status)
    assert.are.equal(5, res.shards)
    assert.are.same({ { 2, 3, "failed" }, { 4, 5, "completed" } }, attempts_of(res, "b:1"))
    -- critical path: c:0 (5-8) <- b:1 (its last attempt 4-5) <- a:1 (0-2)
    assert.are.same({ { "a:1", 0, 2 }, { "b:1", 4, 5 }, { "c:0", 5, 8 } }, path_of(res))
  end)

  it("steps: one entry per step in document order, with shards, launches, failures, busy", function()
    local res = magma.simulate(build(DESC), P)
    local got = {}
    for i, s in ipairs(res.steps) do
      got[i] = { s.step, s.shards, s.launches, s.failures, s.busy, s.first_start, s.last_finish,
        s.completed }
    end
    assert.are.same({
      { "a", 2, 2, 0, 4, 0, 2, 2 },
      { "b", 2, 3, 1, 3, 2, 5, 2 },
      { "c", 1, 1, 0, 3, 5, 8, 1 },
    }, got)
  end)

  it("timeline: every shard in document order, one attempt entry per launch", function()
    local res = magma.simulate(build(DESC), P)
    local tl = res.timeline
    assert.are.equal(8, tl.makespan)
    assert.are.same({ "a", "b", "c" }, tl.steps)
    assert.matches("mixed", tl.title, 1, true)
    local names, n = {}, 0
    for i, sh in ipairs(tl.shards) do
      names[i] = sh.shard
      assert.are.equal(sh.shard:match("^[^:]+"), sh.step)
      n = n + #sh.attempts
    end
    assert.are.same({ "a:0", "a:1", "b:0", "b:1", "c:0" }, names)
    assert.are.equal(res.launches, n)
  end)

  it("a step never launched has no first_start nor last_finish", function()
    local res = magma.simulate(build(CHAIN), { fails = { a = 1 } })
    local c = step_of(res, "c")
    assert.are.same({ 1, 0, 0 }, { c.shards, c.launches, c.busy })
    assert.is_nil(c.first_start)
    assert.is_nil(c.last_finish)
  end)

  it("opts.timeline = false leaves the timeline out, the rest unchanged", function()
    local with = magma.simulate(build(DESC), P)
    local without = magma.simulate(build(DESC), P, { timeline = false })
    assert.is_nil(without.timeline)
    with.timeline = nil
    assert.are.same(with, without)
  end)

  it("the run passed in is not changed", function()
    local run = assert(magma.load(FIXTURES .. "CGAP_WGS_trio.run.json"))
    local before = json.encode(run:to_json())
    local counts = run:counts()
    local res = magma.simulate(run, { fails = 0.3, retry = { max_attempts = 2 } }, { seed = 5 })
    assert.is_true(res.retries > 0) -- the copy was failed, reset and relaunched
    assert.are.equal(before, json.encode(run:to_json()))
    assert.are.same(counts, run:counts())
    assert.are.equal("pending", run.final_status)
    assert.are.equal(2, #run:to_run()) -- read groups 0:0 and merge 1
    assert.are.equal("running", run.runs["workflow_add-readgroups-check:2:2"].status)
  end)

  it("the policy table passed in is not changed", function()
    local p = { max_running = 2, retry = { max_attempts = 2 } }
    magma.simulate(build(CHAIN), p)
    assert.are.same({ max_running = 2, retry = { max_attempts = 2 } }, p)
  end)
end)

describe("magma.simulate: seeds", function()
  local P = { fails = 0.4, retry = { max_attempts = 3, delay = 2, factor = 2 }, max_running = 5,
    duration = function(wfr) return 1 + #wfr.shard end }
  local function sim(seed)
    return magma.simulate(build(independent("s", 30, { "t:0" })), P,
      seed ~= nil and { seed = seed } or nil)
  end

  it("the same seed gives the same result, whole", function()
    assert.are.same(sim(11), sim(11))
    assert.are.same(sim(12345678901), sim(12345678901))
  end)

  it("the default seed is 1", function()
    assert.are.same(sim(1), sim(nil))
  end)

  it("different seeds give different schedules on a run with random failures", function()
    local a, b = sim(1), sim(2)
    assert.are_not.same(a.timeline.shards, b.timeline.shards)
    assert.is_true(a.retries > 0 and b.retries > 0)
  end)

  it("the rng given to fails follows the seed", function()
    local function run(seed)
      local draws = {}
      local res = magma.simulate(build(independent("s", 10)), {
        fails = function(_, _, rng)
          local x = rng()
          draws[#draws + 1] = x
          return x < 0.5
        end,
      }, { seed = seed })
      return draws, res
    end
    local d1, r1 = run(9)
    local d2, r2 = run(9)
    local d3 = run(10)
    assert.are.equal(10, #d1)
    assert.are.same(d1, d2)
    assert.are.same(r1, r2)
    assert.are_not.same(d1, d3)
    for _, x in ipairs(d1) do assert.is_true(x >= 0 and x < 1) end
  end)
end)

describe("magma.simulate: policy errors", function()
  local DESC = { "a:0", "a:1", "b:0 <- a:0" }

  -- The error raised by simulating DESC under p: a tick policy error naming hook and shard.
  local function policy_error(p, hook, shard)
    local err = raised(function() magma.simulate(build(DESC), p) end)
    assert.is_true(tick.is_policy_error(err), "not a policy error: " .. tostring(err))
    assert.are.equal(hook, err.hook)
    assert.are.equal(shard, err.shard)
    local msg = tostring(err)
    assert.matches(string.format('(in %s, shard "%s")', hook, shard), msg, 1, true)
    return msg
  end

  it("in duration", function()
    local msg = policy_error({
      duration = function(wfr) if wfr.shard_name == "a:1" then error("no estimate") end return 1 end,
    }, "duration", "a:1")
    assert.matches("simulate_spec.lua:%d+: no estimate", msg)
  end)

  it("duration returning something other than seconds >= 0", function()
    for _, bad in ipairs { -1, "1", 0 / 0, math.huge } do
      local msg = policy_error({
        duration = function(wfr) return wfr.shard_name == "a:0" and bad or 1 end,
      }, "duration", "a:0")
      assert.matches("duration must return", msg, 1, true)
    end
    policy_error({ duration = function() end }, "duration", "a:0")
  end)

  it("in fails", function()
    local msg = policy_error({
      fails = function(wfr) if wfr.name == "b" then error("fails broke") end return false end,
    }, "fails", "b:0")
    assert.matches("fails broke", msg, 1, true)
  end)

  it("in ready", function()
    local msg = policy_error({
      ready = function(wfr) if wfr.shard_name == "a:1" then error("ready broke") end return true end,
    }, "ready", "a:1")
    assert.matches("ready broke", msg, 1, true)
  end)

  it("in priority", function()
    local msg = policy_error({
      priority = function(wfr) if wfr.name == "b" then error("priority broke") end return 0 end,
    }, "priority", "b:0")
    assert.matches("priority broke", msg, 1, true)
    policy_error({ priority = function() return "high" end }, "priority", "a:0")
  end)

  it("in retry.when", function()
    local msg = policy_error({
      fails = { a = 1 },
      retry = { max_attempts = 2, when = function() error("when broke") end },
    }, "retry.when", "a:0")
    assert.matches("when broke", msg, 1, true)
  end)

  it("an invalid policy is rejected before anything runs, naming the entry", function()
    local err = raised(function() magma.simulate(build(DESC), { max_runing = 2 }) end)
    assert.matches('unknown entry "max_runing"', tostring(err), 1, true)
    err = raised(function() magma.simulate(build(DESC), { duration = { a = -1 } }) end)
    assert.matches('duration["a"]', tostring(err), 1, true)
  end)
end)
