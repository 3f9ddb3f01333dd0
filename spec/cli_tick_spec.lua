-- bin/magma tick RUN --policy FILE.lua: one scheduling round per invocation, the policy's
-- bookkeeping kept in a state file between invocations. Policies here stand in for a job
-- system with files: launch appends to a log, poll reads which jobs are done from a file.
local H = require "cli_helper"
local shard_names = require("support.runs").shard_names
local magma = require "magma"
local json = magma.json

local TRIO = "CGAP_WGS_trio.run.json"
local SMAHT = "SMaHT_WGS_trio_scatter_ff.run.json"

local RG00 = "workflow_add-readgroups-check:0:0"
local RG22 = "workflow_add-readgroups-check:2:2" -- running in the CGAP trio
local MERGE0 = "workflow_merge-bam-check:0"
local MERGE1 = "workflow_merge-bam-check:1"
local MERGE2 = "workflow_merge-bam-check:2"

local load, decode, ok_json = H.load, H.decode, H.ok_json

local function lines_of(path)
  local out = {}
  for l in (H.read(path) or ""):gmatch("[^\n]+") do out[#out + 1] = l end
  return out
end

-- The number of the first line of the file at path that holds needle.
local function line_of(path, needle)
  local l = 0
  for line in H.read(path):gmatch("[^\n]*\n") do
    l = l + 1
    if line:find(needle, 1, true) then return l end
  end
  error(needle .. " not in " .. path)
end

local function running_of(path) return shard_names(load(path):running()) end

-- A one-shard run file "work:0" (pending), at dir/one.run.json.
local function one_shard_run(dir)
  local path = dir .. "/one.run.json"
  H.write(path, json.encode({
    meta_workflow = "mwf", input = json.array {}, final_status = "pending",
    workflow_runs = { { name = "work", shard = "0", status = "pending" } },
  }, { indent = 2 }) .. "\n")
  return path
end

-- A policy file in dir from its body (the entries of the returned table). The policy can
-- use LOG (the launch log) and DONE (one job id per line: the jobs that finished) in dir.
local function policy(dir, name, body)
  local path = dir .. "/" .. name
  H.write(path, string.format("local LOG, DONE = %q, %q\n", dir .. "/launch.log",
    dir .. "/done.txt") .. [[
local function log(line)
  local f = assert(io.open(LOG, "a")); f:write(line, "\n"); f:close()
end
local function done(jobid)
  local f = io.open(DONE, "r")
  if not f then return false end
  for l in f:lines() do if l == jobid then f:close(); return true end end
  f:close()
  return false
end
return {
]] .. body .. "\n}\n")
  return path
end

-- launch: "job-<shard_name>", logged; poll: SUCCEEDED once listed in DONE, else RUNNING.
local JOBS = [[
  launch = function(wfr, run, attempt)
    log(wfr.shard_name .. " " .. attempt)
    return "job-" .. wfr.shard_name
  end,
  poll = function(wfr)
    if wfr.jobid and done(wfr.jobid) then return "SUCCEEDED" end
    return "RUNNING"
  end,
]]

describe("magma tick", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  teardown(H.cleanup)

  it("--json: launched names the shards, final_status; the run and the state are saved", function()
    local run = H.copy_fixture(TRIO, dir)
    local pol = policy(dir, "jobs.lua", JOBS)
    local rep = ok_json(H.magma { "tick", run, "--policy", pol, "--now", "100", "--json" })
    assert.are.same({ RG00, MERGE1 }, rep.launched)
    assert.are.equal("running", rep.final_status)
    assert.are.equal(100, rep.now)
    assert.are.same({}, rep.retried)
    assert.are.same({}, rep.launch_failed)
    assert.is_nil(rep.patch)
    -- the running shard was polled (RUNNING: no change)
    assert.are.same({}, rep.polled)
    assert.are.same({ RG00 .. " 1", MERGE1 .. " 1" }, lines_of(dir .. "/launch.log"))
    local r = load(run)
    assert.are.equal("running", r.final_status)
    assert.are.equal("running", r.runs[RG00].status)
    assert.are.equal("job-" .. RG00, r.runs[RG00].jobid)
    assert.are.equal("job-" .. MERGE1, r.runs[MERGE1].jobid)
    local state = decode(H.read(run .. ".state.json"))
    assert.are.same({ [RG00] = 1, [MERGE1] = 1 }, state.attempts)
    assert.are.same({}, state.exhausted)
  end)

  it("the text report names the launched shards and the final status", function()
    local run = H.copy_fixture(TRIO, dir)
    local res = H.magma { "tick", run, "--policy", policy(dir, "jobs.lua", JOBS), "--now", "0" }
    assert.are.equal(0, res.code)
    assert.are.equal("", res.err)
    assert.matches("launched +" .. RG00:gsub("%p", "%%%0") .. ", " .. MERGE1:gsub("%p", "%%%0")
      .. " %(2%)", res.out)
    assert.matches("final_status +running", res.out)
  end)

  it("a policy without launch marks the picked shards running, with no job id", function()
    local run = H.copy_fixture(TRIO, dir)
    local rep = ok_json(H.magma { "tick", run, "--policy", policy(dir, "p.lua", ""), "--json" })
    assert.are.same({ RG00, MERGE1 }, rep.launched)
    local r = load(run)
    assert.are.equal("running", r.runs[MERGE1].status)
    assert.is_nil(r.runs[MERGE1].jobid)
  end)

  it("the state is kept across invocations: launch fails, waits, retries, then is exhausted",
    function()
      local run = one_shard_run(dir)
      local pol = policy(dir, "nocap.lua", [[
  retry = { max_attempts = 2, delay = 10 },
  launch = function(wfr, run, attempt)
    log(wfr.shard_name .. " " .. attempt)
    return nil, "no capacity"
  end,
]])
      local state_path = run .. ".state.json"
      local function tick(now)
        return ok_json(H.magma { "tick", run, "--policy", pol, "--now", tostring(now), "--json" })
      end

      -- t=0: the launch fails; attempt 1 counted, failure seen at 0
      local rep = tick(0)
      assert.are.same({}, rep.launched)
      assert.are.same({ { shard = "work:0", error = "no capacity" } }, rep.launch_failed)
      assert.are.equal("failed", rep.final_status)
      assert.are.equal("failed", load(run).runs["work:0"].status)
      local state = decode(H.read(state_path))
      assert.are.same({ ["work:0"] = 1 }, state.attempts)
      assert.are.same({ ["work:0"] = 0 }, state.failed_at)

      -- t=5: not due yet (0 + 10): waiting, no launch
      rep = tick(5)
      assert.are.same({ { shard = "work:0", due = 10 } }, rep.waiting)
      assert.are.same({}, rep.retried)
      assert.are.same({}, rep.launch_failed)
      assert.are.same({ "work:0 1" }, lines_of(dir .. "/launch.log"))

      -- t=10: due: reset and relaunched (attempt 2), which fails again
      rep = tick(10)
      assert.are.same({ "work:0" }, rep.retried)
      assert.are.same({ { shard = "work:0", error = "no capacity" } }, rep.launch_failed)
      assert.are.same({ "work:0 1", "work:0 2" }, lines_of(dir .. "/launch.log"))
      state = decode(H.read(state_path))
      assert.are.same({ ["work:0"] = 2 }, state.attempts)
      assert.are.same({ ["work:0"] = 10 }, state.failed_at)

      -- t=30: two attempts of two made: failed for good, reported once
      rep = tick(30)
      assert.are.same({ "work:0" }, rep.exhausted)
      assert.are.same({}, rep.retried)
      assert.are.equal("failed", rep.final_status)
      state = decode(H.read(state_path))
      assert.are.same({ ["work:0"] = true }, state.exhausted)

      rep = tick(1000)
      assert.are.same({}, rep.exhausted)
      assert.are.same({}, rep.retried)
      assert.are.same({}, rep.launch_failed)
      assert.are.same({ "work:0 1", "work:0 2" }, lines_of(dir .. "/launch.log"))
    end)

  it("--state FILE keeps the state there, not in RUN.state.json", function()
    local run = one_shard_run(dir)
    local pol = policy(dir, "nocap.lua", [[
  retry = { max_attempts = 2, delay = 10 },
  launch = function() return nil, "no capacity" end,
]])
    local st = dir .. "/elsewhere.json"
    ok_json(H.magma { "tick", run, "--policy", pol, "--state", st, "--now", "0", "--json" })
    assert.is_false(H.exists(run .. ".state.json"))
    assert.are.same({ ["work:0"] = 0 }, decode(H.read(st)).failed_at)
    -- the next round with the same state sees the failure of t=0
    local rep = ok_json(H.magma { "tick", run, "--policy", pol, "--state", st, "--now", "4", "--json" })
    assert.are.same({ { shard = "work:0", due = 10 } }, rep.waiting)
    assert.is_false(H.exists(run .. ".state.json"))
  end)

  it("-o FILE: the state is read beside RUN and written beside FILE", function()
    local run = one_shard_run(dir)
    local out = dir .. "/out.run.json"
    local pol = policy(dir, "nocap2.lua", [[
  retry = { max_attempts = 2, delay = 10 },
  launch = function() return nil, "no capacity" end,
]])
    local before = H.read(run)
    ok_json(H.magma { "tick", run, "--policy", pol, "-o", out, "--now", "0", "--json" })
    assert.are.equal(before, H.read(run))
    assert.is_false(H.exists(run .. ".state.json"))
    assert.are.same({ ["work:0"] = 1 }, decode(H.read(out .. ".state.json")).attempts)
  end)

  it("--dry-run writes nothing; --json then includes the patch", function()
    local run = H.copy_fixture(TRIO, dir)
    local pol = policy(dir, "jobs.lua", JOBS)
    ok_json(H.magma { "tick", run, "--policy", pol, "--now", "0", "--json" })
    H.write(dir .. "/done.txt", "job-" .. RG00 .. "\n")
    os.remove(dir .. "/launch.log")
    local run_before, state_before = H.read(run), H.read(run .. ".state.json")
    local files_before = H.ls(dir)

    local rep = ok_json(H.magma { "tick", run, "--policy", pol, "--now", "5", "--dry-run", "--json" })
    assert.are.same({ { shard = RG00, from = "running", to = "completed" } }, rep.polled)
    assert.are.same({ MERGE0 }, rep.launched)
    assert.are.equal(run_before, H.read(run))
    assert.are.equal(state_before, H.read(run .. ".state.json"))
    -- the launch hook itself ran (it is the policy's business what it does)
    os.remove(dir .. "/launch.log")
    assert.are.same(files_before, H.ls(dir))

    assert.are.equal("running", rep.patch.final_status)
    local recs = {}
    for _, rec in ipairs(rep.patch.workflow_runs) do recs[rec.name .. ":" .. rec.shard] = rec end
    assert.are.equal(31, #rep.patch.workflow_runs)
    assert.are.equal("completed", recs[RG00].status)
    assert.are.equal("running", recs[MERGE0].status)
    assert.are.equal("job-" .. MERGE0, recs[MERGE0].jobid)
    assert.are.equal("pending", recs[MERGE2].status)
  end)

  it("--dry-run on a run without a state file creates none", function()
    local run = H.copy_fixture(TRIO, dir)
    local pol = policy(dir, "p.lua", "")
    local before = H.ls(dir)
    local res = H.magma { "tick", run, "--policy", pol, "--dry-run" }
    assert.are.equal(0, res.code)
    assert.matches("dry run", res.out, 1, true)
    assert.are.same(before, H.ls(dir))
  end)

  describe("a policy raising an error", function()
    -- launch succeeds once, then raises
    local BODY = [[
  launch = function(wfr) n = (n or 0) + 1; if n == 2 then error("scheduler down") end; return "job-" .. n end,
]]

    it("mid-round exits 1 naming file, line, hook and shard; run and state unchanged", function()
      local run = H.copy_fixture(SMAHT, dir)
      -- a first round launches bwa 0:0 and 1:0 and leaves a state file
      local rep = ok_json(H.magma { "tick", run, "--policy", policy(dir, "p.lua", "max_running = 2"),
        "--json" })
      assert.are.equal(2, #rep.launched)
      local pol = policy(dir, "boom.lua", BODY)
      local run_before, state_before = H.read(run), H.read(run .. ".state.json")
      -- ready now: bwa 1:1 (launched), merge-bam 2 (raises)
      local res = H.magma { "tick", run, "--policy", pol, "--now", "1", "--json" }
      assert.are.equal(1, res.code)
      assert.are.equal("", res.out)
      assert.matches(pol .. ":" .. line_of(pol, "scheduler down") .. ": scheduler down", res.err,
        1, true)
      assert.matches('(in launch, shard "' .. MERGE2 .. '")', res.err, 1, true)
      assert.are.equal(run_before, H.read(run))
      assert.are.equal(state_before, H.read(run .. ".state.json"))
    end)

    it("on the second of two launches names that shard; nothing is written", function()
      local run = H.copy_fixture(TRIO, dir)
      local pol = policy(dir, "boom.lua", BODY)
      local before = H.read(run)
      local res = H.magma { "tick", run, "--policy", pol, "--now", "0" }
      assert.are.equal(1, res.code)
      assert.are.equal("", res.out)
      assert.matches("^magma tick: ", res.err)
      assert.matches(pol .. ":" .. line_of(pol, "scheduler down") .. ":", res.err, 1, true)
      assert.matches('(in launch, shard "' .. MERGE1 .. '")', res.err, 1, true)
      assert.are.equal(before, H.read(run))
      assert.is_false(H.exists(run .. ".state.json"))
    end)

    it("in poll names the polled shard; nothing is written", function()
      local run = H.copy_fixture(TRIO, dir)
      local pol = policy(dir, "badpoll.lua", [[
  poll = function(wfr) error("poll failed for " .. wfr.shard_name) end,
]])
      local before = H.read(run)
      local res = H.magma { "tick", run, "--policy", pol }
      assert.are.equal(1, res.code)
      assert.matches(pol .. ":" .. line_of(pol, "poll failed") .. ":", res.err, 1, true)
      assert.matches('(in poll, shard "' .. RG22 .. '")', res.err, 1, true)
      assert.are.equal(before, H.read(run))
      assert.is_false(H.exists(run .. ".state.json"))
    end)
  end)

  describe("bad input exits 2", function()
    it("an unknown policy entry, named", function()
      local run = H.copy_fixture(TRIO, dir)
      local before = H.read(run)
      local res = H.magma { "tick", run, "--policy", policy(dir, "typo.lua", "max_runing = 2") }
      assert.are.equal(2, res.code)
      assert.are.equal("", res.out)
      assert.matches('unknown entry "max_runing"', res.err, 1, true)
      assert.matches("typo.lua", res.err, 1, true)
      assert.are.equal(before, H.read(run))
      assert.is_false(H.exists(run .. ".state.json"))
    end)

    it("a missing --policy", function()
      local run = H.copy_fixture(TRIO, dir)
      local res = H.magma { "tick", run }
      assert.are.equal(2, res.code)
      assert.matches("--policy", res.err, 1, true)
    end)

    it("a missing run, and nothing created beside it", function()
      local pol = policy(dir, "p.lua", "")
      local res = H.magma { "tick", dir .. "/nope.json", "--policy", pol }
      assert.are.equal(2, res.code)
      assert.matches(dir .. "/nope.json: No such file or directory", res.err, 1, true)
      assert.are.same({ "p.lua" }, H.ls(dir))
    end)

    it("a run in a missing directory is named, not its lock file", function()
      local pol = policy(dir, "p.lua", "")
      local res = H.magma { "tick", dir .. "/no/run.json", "--policy", pol }
      assert.are.equal(2, res.code)
      assert.matches("magma tick: " .. dir .. "/no/run.json: No such file or directory\n", res.err,
        1, true)
    end)

    it("a state file that is not a state, named; the run unchanged", function()
      local run = H.copy_fixture(TRIO, dir)
      local before = H.read(run)
      H.write(run .. ".state.json", '{"attempts": {"x": "many"}}')
      local res = H.magma { "tick", run, "--policy", policy(dir, "p.lua", "") }
      assert.are.equal(2, res.code)
      assert.matches(run .. ".state.json", res.err, 1, true)
      assert.are.equal(before, H.read(run))
    end)
  end)

  describe("job ids", function()
    it("on the CGAP trio the job id goes under jobid", function()
      local run = H.copy_fixture(TRIO, dir)
      ok_json(H.magma { "tick", run, "--policy", policy(dir, "jobs.lua", JOBS), "--json" })
      for _, rec in ipairs(load(run):runs_to_json()) do
        local sn = rec.name .. ":" .. rec.shard
        if sn == RG00 or sn == MERGE1 then
          assert.are.equal("job-" .. sn, rec.jobid)
        else
          assert.is_nil(rec.jobid)
        end
        assert.is_nil(rec.job_id)
      end
    end)

    it("on the SMaHT trio, job_key = job_id puts it under job_id", function()
      local run = H.copy_fixture(SMAHT, dir)
      local rep = ok_json(H.magma { "tick", run, "--json", "--policy", policy(dir, "smaht.lua",
        'job_key = "job_id", launch = function(wfr) return "smaht-" .. wfr.shard end') })
      local expected = { "workflow_bwa-mem_no_unzip-check:0:0", "workflow_bwa-mem_no_unzip-check:1:0",
        "workflow_bwa-mem_no_unzip-check:1:1", MERGE2 }
      assert.are.same(expected, rep.launched)
      local r = load(run)
      for _, sn in ipairs(expected) do
        local rec = r.runs[sn]
        assert.are.equal("running", rec.status)
        assert.are.equal("smaht-" .. rec.shard, rec.job_id)
        assert.is_nil(rec.jobid)
      end
      -- the completed shards keep their own job_id
      assert.are.equal("a1b2c3d", r.runs["workflow_bwa-mem_no_unzip-check:2:0"].job_id)
    end)

    it("an integer job id stays an integer in the file", function()
      local run = H.copy_fixture(TRIO, dir)
      ok_json(H.magma { "tick", run, "--json", "--policy",
        policy(dir, "int.lua", "launch = function() return 42 end") })
      assert.matches('"jobid": 42,?\n', H.read(run))
    end)
  end)

  describe("poll and status_map", function()
    it("SUCCEEDED maps to completed; what that readies launches in the same round", function()
      local run = H.copy_fixture(TRIO, dir)
      local rep = ok_json(H.magma { "tick", run, "--json", "--policy",
        policy(dir, "ok.lua", 'poll = function() return "SUCCEEDED" end') })
      assert.are.same({ { shard = RG22, from = "running", to = "completed" } }, rep.polled)
      assert.are.same({ RG00, MERGE1, MERGE2 }, rep.launched)
      assert.are.equal("completed", load(run).runs[RG22].status)
    end)

    it("a status_map of the policy's own words, across invocations", function()
      local run = H.copy_fixture(TRIO, dir)
      local pol = policy(dir, "words.lua", [[
  status_map = { DONE = "completed", BROKEN = "failed", BUSY = "running" },
  launch = function(wfr) return "job-" .. wfr.shard_name end,
  poll = function(wfr)
    if wfr.jobid == "job-]] .. RG00 .. [[" then return "DONE" end
    if wfr.jobid == "job-]] .. MERGE1 .. [[" then return "BROKEN" end
    return "BUSY"
  end,
]])
      local rep = ok_json(H.magma { "tick", run, "--policy", pol, "--now", "0", "--json" })
      assert.are.same({ RG00, MERGE1 }, rep.launched)
      assert.are.same({}, rep.polled) -- RG22 is BUSY, that is running: no change
      rep = ok_json(H.magma { "tick", run, "--policy", pol, "--now", "60", "--json" })
      assert.are.same({
        { shard = RG00, from = "running", to = "completed" },
        { shard = MERGE1, from = "running", to = "failed" },
      }, rep.polled)
      -- no retry entry: merge 1 failed for good; merge 0 is now ready and launches
      assert.are.same({ MERGE1 }, rep.exhausted)
      assert.are.same({ MERGE0 }, rep.launched)
      assert.are.equal("failed", rep.final_status)
      local r = load(run)
      assert.are.equal("completed", r.runs[RG00].status)
      assert.are.equal("failed", r.runs[MERGE1].status)
      assert.are.equal("running", r.runs[MERGE0].status)
    end)
  end)

  it("max_running holds across invocations, counting what the file says is running", function()
    local run = H.copy_fixture(TRIO, dir)
    local pol = policy(dir, "cap.lua", "max_running = 2,\n" .. JOBS)
    local function tick(now)
      return ok_json(H.magma { "tick", run, "--policy", pol, "--now", tostring(now), "--json" })
    end
    -- RG22 runs already: one slot, for read groups 0:0; merge 1 held by the cap
    local rep = tick(0)
    assert.are.same({ RG00 }, rep.launched)
    assert.are.equal(1, rep.not_launched_count.cap)
    assert.are.same({ RG00, RG22 }, running_of(run))
    -- nothing finished: nothing launches
    rep = tick(10)
    assert.are.same({}, rep.launched)
    assert.are.equal(1, rep.not_launched_count.cap)
    assert.are.same({ RG00, RG22 }, running_of(run))
    -- read groups 0:0 done: merge 0 and merge 1 ready, one slot: merge 0 (document order)
    H.write(dir .. "/done.txt", "job-" .. RG00 .. "\n")
    rep = tick(20)
    assert.are.same({ MERGE0 }, rep.launched)
    assert.are.same({ RG22, MERGE0 }, running_of(run))
    assert.are.same({ RG00 .. " 1", MERGE0 .. " 1" }, lines_of(dir .. "/launch.log"))
  end)
end)
