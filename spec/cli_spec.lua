-- bin/magma's commands on the real fixtures: outputs, exit codes and resulting files.
local H = require "cli_helper"
local magma = require "magma"
local json = magma.json

local TRIO = "CGAP_WGS_trio.run.json"
local SCATTER = "CGAP_WGS_trio_scatter.run.json"
local EXTRA = "CGAP_WGS_trio_scatter_import_ExtraShard.run.json"
local SMAHT = "SMaHT_WGS_trio_scatter_ff.run.json"

local load, ok = H.load, H.ok
local lines = require("support.text").lines

-- shard_name -> record (runs_to_json form) of the run in path
local function records(path)
  local out = {}
  for _, rec in ipairs(load(path):runs_to_json()) do out[rec.name .. ":" .. rec.shard] = rec end
  return out
end

-- magma's test/test_utils.py expectations (runs_to_json records).
local completed = {
  ["workflow_bwa-mem_no_unzip-check:2:0"] = { name = "workflow_bwa-mem_no_unzip-check",
    output = { { argument_name = "raw_bam", file = "uuid-raw_bam-2:0" } },
    status = "completed", shard = "2:0", jobid = "a1b2c3d" },
  ["workflow_bwa-mem_no_unzip-check:2:1"] = { name = "workflow_bwa-mem_no_unzip-check",
    output = { { argument_name = "raw_bam", file = "uuid-raw_bam-2:1" } },
    status = "completed", shard = "2:1", jobid = "e1f2g3h" },
  ["workflow_bwa-mem_no_unzip-check:2:2"] = { name = "workflow_bwa-mem_no_unzip-check",
    output = { { argument_name = "raw_bam", file = "uuid-raw_bam-2:2" } },
    status = "completed", shard = "2:2", jobid = "AAAAAAa" },
  ["workflow_add-readgroups-check:2:0"] = { name = "workflow_add-readgroups-check",
    output = { { argument_name = "bam_w_readgroups", file = "uuid-bam_w_readgroups-2:0" } },
    status = "completed", dependencies = { "workflow_bwa-mem_no_unzip-check:2:0" }, shard = "2:0" },
  ["workflow_add-readgroups-check:2:1"] = { name = "workflow_add-readgroups-check",
    output = { { argument_name = "bam_w_readgroups", file = "uuid-bam_w_readgroups-2:1" } },
    status = "completed", dependencies = { "workflow_bwa-mem_no_unzip-check:2:1" }, shard = "2:1" },
  ["workflow_add-readgroups-check:2:2"] = { name = "workflow_add-readgroups-check",
    output = { { argument_name = "bam_w_readgroups", file = "uuid-bam_w_readgroups-2:2" } },
    status = "completed", dependencies = { "workflow_bwa-mem_no_unzip-check:2:2" }, shard = "2:2" },
}
local function pending_of(sn)
  local c = completed[sn]
  return { name = c.name, status = "pending", shard = c.shard, dependencies = c.dependencies }
end

describe("magma CLI", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  teardown(H.cleanup)

  describe("help", function()
    it("magma help lists every command, exit 0", function()
      local res = ok(H.magma { "help" })
      for _, c in ipairs { "status", "ready", "set", "reset", "validate", "import" } do
        assert.matches("\n  " .. c .. " ", res.out, 1, true)
      end
    end)

    it("help COMMAND, COMMAND --help and COMMAND -h print the same usage", function()
      for _, c in ipairs { "status", "ready", "set", "reset", "validate", "import" } do
        local a = ok(H.magma { "help", c })
        assert.matches("usage: magma " .. c .. " ", a.out, 1, true)
        assert.matches("options:", a.out, 1, true)
        assert.matches("exit status:", a.out, 1, true)
        assert.are.equal(a.out, ok(H.magma { c, "--help" }).out)
        assert.are.equal(a.out, ok(H.magma { c, "-h" }).out)
      end
    end)

    it("--help wins over missing arguments", function()
      assert.matches("usage: magma set", ok(H.magma { "set", "--help" }).out, 1, true)
    end)

    it("the changing commands document -o, --dry-run and --wait", function()
      for _, c in ipairs { "set", "reset", "import" } do
        local out = ok(H.magma { "help", c }).out
        assert.matches("-o, --output FILE", out, 1, true)
        assert.matches("--dry-run", out, 1, true)
        assert.matches("--wait SECONDS", out, 1, true)
      end
    end)
  end)

  describe("status", function()
    it("prints the final status update_status computes, the counts and an aligned step table",
      function()
        local path = H.copy_fixture(TRIO, dir)
        local before = H.read(path)
        local res = ok(H.magma { "status", path })
        local l = lines(res.out)
        assert.are.equal(path .. ": final_status running (the file says pending), 31 shards, 9 steps",
          l[1])
        assert.are.equal("counts: pending 20, running 1, completed 10, failed 0", l[2])
        assert.are.equal("", l[3])
        assert.matches("^step +shards +pending +running +completed +failed +other$", l[4])
        local r = load(path)
        local steps = r:steps()
        assert.are.equal(4 + #steps, #l)
        for i, name in ipairs(steps) do
          local row = l[4 + i]
          assert.are.equal(#l[4], #row) -- aligned: right-aligned numbers end together
          local n, p, ru, c, f, o = row:match("^" .. name:gsub("%p", "%%%0") ..
            " +(%d+) +(%d+) +(%d+) +(%d+) +(%d+) +(%d+)$")
          assert.is_not_nil(n, row)
          local want = { 0, 0, 0, 0, 0, 0 }
          local idx = { pending = 2, running = 3, completed = 4, failed = 5 }
          for _, w in pairs(r.runs) do
            if w.name == name then
              want[1] = want[1] + 1
              local k = idx[w.status] or 6
              want[k] = want[k] + 1
            end
          end
          assert.are.same(want, { tonumber(n), tonumber(p), tonumber(ru), tonumber(c),
            tonumber(f), tonumber(o) })
        end
        assert.are.equal(before, H.read(path)) -- only read
      end)

    it("--json gives final_status, counts and the steps list", function()
      local path = H.copy_fixture(SCATTER, dir)
      local doc = json.decode(ok(H.magma { "status", "--json", path }).out)
      local r = load(path)
      assert.are.equal("pending", doc.recorded_final_status)
      assert.are.equal(r:update_status(), doc.final_status)
      assert.are.equal("inactive", doc.final_status)
      assert.are.same(r:counts(), doc.counts)
      assert.is_true(json.is_array(doc.steps))
      assert.are.equal(#r:steps(), #doc.steps)
      local total = 0
      for i, s in ipairs(doc.steps) do
        assert.are.equal(r:steps()[i], s.name)
        assert.are.equal(s.shards, s.pending + s.running + s.completed + s.failed + s.other)
        total = total + s.shards
      end
      assert.are.equal(#r, total)
    end)

    it("counts statuses that are not the four known ones as other, by name in counts", function()
      local path = H.copy_fixture(TRIO, dir)
      ok(H.magma { "set", path, "workflow_merge-bam-check:1", "status=aborted" })
      local res = ok(H.magma { "status", path })
      assert.matches('counts: pending 19, running 1, completed 10, failed 0, "aborted" 1', res.out,
        1, true)
      assert.matches("workflow_merge%-bam%-check +3 +2 +0 +0 +0 +1\n", res.out)
      local doc = json.decode(ok(H.magma { "status", "--json", path }).out)
      assert.are.equal(1, doc.counts.aborted)
    end)

    it("does not mention the recorded status when it is the computed one", function()
      local path = H.copy_fixture(TRIO, dir)
      ok(H.magma { "set", path, "workflow_merge-bam-check:1", "status=pending" })
      assert.matches("^[^\n]*: final_status running, 31 shards",
        ok(H.magma { "status", path }).out)
    end)
  end)

  describe("ready", function()
    it("prints to_run's shard names, one per line, and --json a list", function()
      local path = H.copy_fixture(TRIO, dir)
      local want = {}
      for i, w in ipairs(load(path):to_run()) do want[i] = w.shard_name end
      assert.is_true(#want > 0)
      assert.are.same(want, lines(ok(H.magma { "ready", path }).out))
      local list = json.decode(ok(H.magma { "ready", path, "--json" }).out)
      assert.is_true(json.is_array(list))
      assert.are.same(want, list)
    end)

    it("prints nothing (and [] with --json) when nothing is ready", function()
      local path = H.copy_fixture(TRIO, dir)
      local want = lines(ok(H.magma { "ready", path }).out)
      for _, sn in ipairs(want) do ok(H.magma { "set", path, sn, "status=running" }) end
      assert.are.equal("", ok(H.magma { "ready", path }).out)
      assert.are.equal("[]\n", ok(H.magma { "ready", "--json", path }).out)
    end)
  end)

  describe("set", function()
    local SN = "workflow_merge-bam-check:1"

    it("sets several keys, reads VALUE as JSON or else a string, updates final_status", function()
      local path = H.copy_fixture(TRIO, dir)
      local before = records(path)
      local res = ok(H.magma { "set", path, SN, "status=failed", "jobid=abc d",
        'output=[{"file": "x", "n": 1.0}]', "n=3", "flag=true", 's="3"', "nul=null", "empty=" })
      assert.matches(SN, res.out, 1, true)
      local r = load(path)
      local w = r.runs[SN]
      assert.are.equal("failed", w.status)
      assert.are.equal("abc d", w.jobid)
      assert.are.equal("x", w.output[1].file)
      assert.are.equal(math.type(1.0), math.type(w.output[1].n))
      assert.are.equal(3, w.n)
      assert.are.equal("integer", math.type(w.n))
      assert.are.equal(true, w.flag)
      assert.are.equal("3", w.s)
      assert.are.equal(json.null, w.nul)
      assert.are.equal("", w.empty)
      assert.are.equal("failed", r.final_status)
      -- every other record is as it was
      local after = records(path)
      for sn, rec in pairs(before) do
        if sn ~= SN then assert.are.same(rec, after[sn]) end
      end
    end)

    it("applies the KEY=VALUE in order (the last one wins)", function()
      local path = H.copy_fixture(TRIO, dir)
      ok(H.magma { "set", path, SN, "status=running", "status=completed" })
      assert.are.equal("completed", load(path).runs[SN].status)
    end)

    it("changes dependencies and readiness follows", function()
      local path = H.copy_fixture(TRIO, dir)
      assert.is_nil(lines(ok(H.magma { "ready", path }).out)[3])
      local pend = "workflow_merge-bam-check:2"
      ok(H.magma { "set", path, pend, 'dependencies=["workflow_bwa-mem_no_unzip-check:0:0"]' })
      assert.are.same({ "workflow_bwa-mem_no_unzip-check:0:0" }, load(path).runs[pend].dependencies)
      assert.matches(pend .. "\n", ok(H.magma { "ready", path }).out, 1, true)
    end)

    it("a rewrite changes only what changed: setting the old value back gives the same bytes",
      function()
        local path = H.copy_fixture(TRIO, dir)
        ok(H.magma { "set", path, SN, "status=pending" }) -- normalises final_status only
        local normal = H.read(path)
        ok(H.magma { "set", path, SN, "status=running" })
        assert.are_not.equal(normal, H.read(path))
        ok(H.magma { "set", path, SN, "status=pending" })
        assert.are.equal(normal, H.read(path))
      end)

    it("-o FILE writes the result there and leaves RUN alone", function()
      local path = H.copy_fixture(TRIO, dir)
      local before = H.read(path)
      local out = dir .. "/out.json"
      local res = ok(H.magma { "set", path, SN, "status=running", "-o", out })
      assert.matches(out, res.out, 1, true)
      assert.are.equal(before, H.read(path))
      assert.are.equal("running", load(out).runs[SN].status)
      ok(H.magma { "set", path, SN, "status=completed", "--output=" .. out })
      assert.are.equal("completed", load(out).runs[SN].status)
    end)

    it("--dry-run prints the patch magma sends and writes nothing", function()
      local path = H.copy_fixture(TRIO, dir)
      local before = H.read(path)
      local res = ok(H.magma { "set", "--dry-run", path, SN, "status=failed", "jobid=j1" })
      assert.are.equal(before, H.read(path))
      assert.is_false(H.exists(path .. ".lock"))
      local patch = json.decode(res.out)
      local r = load(path)
      r:update_attribute(SN, "status", "failed")
      r:update_attribute(SN, "jobid", "j1")
      assert.are.same({ final_status = r:update_status(), workflow_runs = r:runs_to_json() }, patch)
      assert.are.equal("failed", patch.final_status)
      assert.matches('^{\n  "final_status": "failed",\n  "workflow_runs": %[\n    {\n', res.out)
      assert.are.equal(res.out, ok(H.magma { "set", "-n", path, SN, "status=failed",
        "jobid=j1" }).out)
    end)

    it("takes --wait SECONDS and holds RUN.lock while it works", function()
      local path = H.copy_fixture(TRIO, dir)
      ok(H.magma { "set", "--wait", "0.5", path, SN, "status=running" })
      ok(H.magma { "set", "--wait=0", path, SN, "status=pending" })
      assert.is_true(H.exists(path .. ".lock"))
      local lock = assert(magma.lock(path, 0)) -- released at exit
      lock:unlock()
    end)

    it("works in the current directory on a bare file name", function()
      H.copy_fixture(TRIO, dir, "run.json")
      ok(H.magma({ "set", "run.json", SN, "status=running" }, { cd = dir }))
      assert.are.equal("running", load(dir .. "/run.json").runs[SN].status)
      assert.are.same({ "run.json", "run.json.lock" }, H.ls(dir))
    end)
  end)

  describe("reset", function()
    it("--step: magma's reset_steps (test_runupdate_reset_steps)", function()
      local path = H.copy_fixture(SCATTER, dir)
      local before = records(path)
      for sn, rec in pairs(completed) do assert.are.same(rec, before[sn]) end
      local res = ok(H.magma { "reset", path, "--step", "workflow_bwa-mem_no_unzip-check",
        "--step", "workflow_add-readgroups-check" })
      assert.matches("reset 12 shards; final_status pending", res.out, 1, true)
      local after = records(path)
      for sn in pairs(completed) do assert.are.same(pending_of(sn), after[sn]) end
      assert.are.equal("pending", load(path).final_status)
    end)

    it("--shard: magma's reset_shards (test_runupdate_reset_shards), NAME,NAME lists", function()
      local path = H.copy_fixture(SCATTER, dir)
      ok(H.magma { "reset", path, "--shard", "workflow_bwa-mem_no_unzip-check:2:1," ..
        "workflow_add-readgroups-check:2:0", "--shards=workflow_add-readgroups-check:2:2" })
      local after = records(path)
      for sn, rec in pairs(completed) do
        if sn == "workflow_bwa-mem_no_unzip-check:2:1" or sn == "workflow_add-readgroups-check:2:0"
            or sn == "workflow_add-readgroups-check:2:2" then
          assert.are.same(pending_of(sn), after[sn])
        else
          assert.are.same(rec, after[sn])
        end
      end
    end)

    it("removes SMaHT's job_id too", function()
      local path = H.copy_fixture(SMAHT, dir)
      local r = load(path)
      local sn
      for name, w in pairs(r.runs) do if w.job_id ~= nil then sn = name break end end
      assert.is_not_nil(sn)
      ok(H.magma { "reset", path, "--shard", sn })
      local w = load(path).runs[sn]
      assert.is_nil(w.job_id)
      assert.are.equal("pending", w.status)
      assert.are.same({}, w.output)
    end)

    it("--status S alone resets every shard with that status (reset_failed)", function()
      local path = H.copy_fixture(TRIO, dir)
      ok(H.magma { "set", path, "workflow_add-readgroups-check:1:0", "status=failed" })
      ok(H.magma { "set", path, "workflow_bwa-mem_no_unzip-check:0:0", "status=failed" })
      local before = records(path)
      local res = ok(H.magma { "reset", path, "--status", "failed" })
      assert.matches("reset 2 shards; final_status running", res.out, 1, true)
      local after = records(path)
      for sn, rec in pairs(before) do
        if rec.status == "failed" then
          assert.are.equal("pending", after[sn].status)
          assert.is_nil(after[sn].output)
        else
          assert.are.same(rec, after[sn])
        end
      end
    end)

    it("--step with --status: magma_ff's reset_status", function()
      local path = H.copy_fixture(TRIO, dir)
      local step = "workflow_add-readgroups-check"
      local before = records(path)
      ok(H.magma { "reset", path, "--step", step, "--status", "completed,running" })
      local after = records(path)
      local n = 0
      for sn, rec in pairs(before) do
        if rec.name == step and (rec.status == "completed" or rec.status == "running") then
          assert.are.equal("pending", after[sn].status)
          n = n + 1
        else
          assert.are.same(rec, after[sn])
        end
      end
      assert.are.equal(5, n)
    end)

    it("--shard with --status leaves the shard alone when its status differs", function()
      local path = H.copy_fixture(TRIO, dir)
      local before = H.read(path)
      local res = ok(H.magma { "reset", path, "--shard", "workflow_bwa-mem_no_unzip-check:0:0",
        "--status", "failed", "-o", dir .. "/o.json" })
      assert.matches("reset 0 shards", res.out, 1, true)
      assert.are.equal("completed", load(dir .. "/o.json").runs["workflow_bwa-mem_no_unzip-check:0:0"].status)
      assert.are.equal(before, H.read(path))
    end)

    it("--downstream also resets every shard depending on them, transitively", function()
      local path = H.copy_fixture(TRIO, dir)
      local r = load(path)
      local root = "workflow_bwa-mem_no_unzip-check:0:0"
      -- the expected set, walking dependencies forward until nothing changes
      local want = { [root] = true }
      repeat
        local grew = false
        for sn, w in pairs(r.runs) do
          if not want[sn] then
            for _, d in ipairs(w.dependencies) do
              if want[d] then
                want[sn], grew = true, true
                break
              end
            end
          end
        end
      until not grew
      local n = 0
      for _ in pairs(want) do n = n + 1 end
      assert.is_true(n > 5)
      local before = records(path)
      local res = ok(H.magma { "reset", path, "--shard", root, "--downstream" })
      assert.matches("reset " .. n .. " shards", res.out, 1, true)
      local after = records(path)
      for sn, rec in pairs(before) do
        if want[sn] then
          assert.are.equal("pending", after[sn].status)
          assert.is_nil(after[sn].output)
          assert.is_nil(after[sn].jobid)
        else
          assert.are.same(rec, after[sn])
        end
      end
    end)

    it("--dry-run prints magma's reset patch and writes nothing", function()
      local path = H.copy_fixture(SCATTER, dir)
      local before = H.read(path)
      local res = ok(H.magma { "reset", path, "--step", "workflow_bwa-mem_no_unzip-check",
        "--dry-run" })
      assert.are.equal(before, H.read(path))
      local r = load(path)
      r:reset_step("workflow_bwa-mem_no_unzip-check")
      assert.are.same({ final_status = r:update_status(), workflow_runs = r:runs_to_json() },
        json.decode(res.out))
    end)
  end)

  describe("validate", function()
    it("says ok and exits 0 on the clean fixtures", function()
      for _, f in ipairs { TRIO, SCATTER, SMAHT } do
        local path = H.copy_fixture(f, dir)
        local res = ok(H.magma { "validate", path })
        assert.are.equal(path .. ": ok (31 shards)\n", res.out)
        assert.are.equal("", ok(H.magma { "validate", "-q", path }).out)
      end
    end)

    it("reports a dependency on a missing shard, naming file and shard; exit 1", function()
      local path = H.copy_fixture(EXTRA, dir)
      local res = H.magma { "validate", path }
      assert.are.equal(1, res.code)
      assert.are.equal(path .. ': shard "workflow_add-readgroups-check:2:3": dependency ' ..
        '"workflow_bwa-mem_no_unzip-check:2:3" is not a shard of this run\n' ..
        path .. ": 1 problem (0 warnings)\n", res.out)
    end)

    it("reports cycles, unknown statuses (warnings) and wrong types; exit 1", function()
      local path = dir .. "/bad.json"
      H.write(path, [[{"meta_workflow": 7, "input": {}, "final_status": "pending",
        "workflow_runs": [
          {"name": "a", "shard": "0", "status": "pending", "dependencies": ["b:0"]},
          {"name": "b", "shard": "0", "status": "pending", "dependencies": ["a:0"]},
          {"name": "c", "shard": "0", "status": "aborted", "output": "x"}]}
]])
      local res = H.magma { "validate", path }
      assert.are.equal(1, res.code)
      assert.are.equal("", res.err)
      local l = lines(res.out)
      assert.are.same({
        path .. ': key "meta_workflow" must be a string, got number',
        path .. ': key "input" must be a list, got object',
        path .. ': warning: shard "c:0": unknown status "aborted" (not pending, running, ' ..
          'completed or failed)',
        path .. ': shard "c:0": key "output" must be a list, got string',
        path .. ": cycle between shards: a:0, b:0",
        path .. ": 5 problems (1 warning)",
      }, l)
    end)

    it("an unknown status alone is still a problem", function()
      local path = H.copy_fixture(TRIO, dir)
      ok(H.magma { "set", path, "workflow_merge-bam-check:1", "status=aborted" })
      assert.are.equal(1, H.magma { "validate", path }.code)
    end)

    it("checks several files; a file that does not load makes it exit 2", function()
      local a = H.copy_fixture(TRIO, dir)
      local b = H.copy_fixture(EXTRA, dir)
      local res = H.magma { "validate", a, b }
      assert.are.equal(1, res.code)
      assert.matches(a .. ": ok", res.out, 1, true)
      assert.matches(b .. ": 1 problem", res.out, 1, true)
      local c = dir .. "/broken.json"
      H.write(c, "{\n  \"a\": tru\n}\n")
      res = H.magma { "validate", a, c, b }
      assert.are.equal(2, res.code)
      assert.matches(a .. ": ok", res.out, 1, true)
      assert.matches(b .. ": 1 problem", res.out, 1, true)
      assert.are.equal("magma validate: " .. c .. ": line 2, column 8 (byte 9): ", res.err:sub(1,
        #("magma validate: " .. c .. ": line 2, column 8 (byte 9): ")))
    end)
  end)

  describe("import", function()
    it("is magma's import_steps (test_runupdate_import_step)", function()
      local path = H.copy_fixture(EXTRA, dir)
      local other = H.copy_fixture(SCATTER, dir)
      local other_before = H.read(other)
      local before = records(path)
      for sn in pairs(completed) do assert.are.same(pending_of(sn), before[sn]) end
      local res = ok(H.magma { "import", path, "--from", other, "--steps",
        "workflow_add-readgroups-check" })
      assert.matches("imported 12 shards and the input from " .. other, res.out, 1, true)
      local r = load(path)
      assert.are.same(json.decode([=[
        [{"argument_name": "sample_name", "argument_type": "parameter", "value": "AVALUE"},
         {"argument_name": "fastq_R1", "argument_type": "file",
          "files": [["A1"], ["C1", "D1"], ["B1", "E1", "F1"]]},
         {"argument_name": "fastq_R2", "argument_type": "file",
          "files": [["A2"], ["C2", "D2"], ["B2", "E2", "F2"]]}]
      ]=]), r.input)
      assert.are.equal("UUID_NEW", r.meta_workflow)
      local after = records(path)
      for sn, rec in pairs(completed) do assert.are.same(rec, after[sn]) end
      for i = 0, 2 do
        assert.are.same({ name = "FOO", status = "pending", shard = tostring(i),
          dependencies = { "workflow_picard-MarkDuplicates-check:" .. i } }, after["FOO:" .. i])
      end
      -- a shard OTHER does not have is left as it was
      assert.are.same(before["workflow_add-readgroups-check:2:3"],
        after["workflow_add-readgroups-check:2:3"])
      assert.are.equal(r:update_status(), r.final_status)
      assert.are.equal(other_before, H.read(other))
    end)

    it("keeps the record's key order, so the diff shows only the imported keys", function()
      local path = H.copy_fixture(EXTRA, dir)
      local other = H.copy_fixture(SCATTER, dir)
      ok(H.magma { "import", path, "--from", other, "--steps", "workflow_bwa-mem_no_unzip-check" })
      local text = H.read(path)
      assert.matches('"name": "workflow_bwa%-mem_no_unzip%-check",\n%s*"status": "completed",\n' ..
        '%s*"shard": "2:0",\n%s*"jobid": "a1b2c3d",\n%s*"output": %[', text)
    end)

    it("--no-input keeps RUN's input", function()
      local path = H.copy_fixture(EXTRA, dir)
      local other = H.copy_fixture(SCATTER, dir)
      local res = ok(H.magma { "import", path, "--from", other, "--steps",
        "workflow_add-readgroups-check", "--no-input" })
      assert.matches("imported 12 shards from", res.out, 1, true)
      assert.are.same({}, load(path).input)
      assert.are.same(completed["workflow_add-readgroups-check:2:1"],
        records(path)["workflow_add-readgroups-check:2:1"])
    end)

    it("several steps, -o and --dry-run", function()
      local path = H.copy_fixture(EXTRA, dir)
      local other = H.copy_fixture(SCATTER, dir)
      local before = H.read(path)
      local out = dir .. "/new.json"
      ok(H.magma { "import", path, "--from", other, "--steps",
        "workflow_bwa-mem_no_unzip-check,workflow_merge-bam-check", "-o", out })
      assert.are.equal(before, H.read(path))
      local want = load(out)
      local res = ok(H.magma { "import", path, "--from", other, "--step",
        "workflow_bwa-mem_no_unzip-check", "--step", "workflow_merge-bam-check", "--dry-run" })
      assert.are.equal(before, H.read(path))
      assert.are.same({ final_status = want.final_status, input = want.input,
        workflow_runs = want:runs_to_json() }, json.decode(res.out))
    end)
  end)

  describe("errors", function()
    it("an unexpected Lua error is an internal error: traceback, exit 1", function()
      local cli = require "magma.cli"
      local name = "magma.commands.status"
      local saved = package.loaded[name]
      package.loaded[name] = { name = "status", args = { "RUN" }, options = {}, synopsis = { "" },
        run = function() local t = nil; return t.x end }
      local buf = {}
      local real = io.stderr
      io.stderr = { write = function(_, ...) for _, s in ipairs { ... } do buf[#buf + 1] = s end end }
      local ok_, code = pcall(cli.main, { "status", "x" })
      io.stderr = real
      package.loaded[name] = saved
      assert.is_true(ok_, code)
      assert.are.equal(1, code)
      local text = table.concat(buf)
      assert.matches("^magma status: internal error", text)
      assert.matches("stack traceback:", text, 1, true)
    end)
  end)
end)
