-- Two processes updating one run file at the same time lose no update: each bin/magma set
-- holds RUN.lock from its load to its save.
local H = require "cli_helper"
local magma = require "magma"
local genrun = require "genrun"

local N = 50

describe("concurrent bin/magma set on one run", function()
  teardown(H.cleanup)

  it("keeps every update of two writers working on different shards", function()
    local dir = H.tmpdir()
    local path = dir .. "/run.json"
    local doc = genrun.generate { shards = 2 * N, steps = 2, array = magma.json.array }
    H.write(path, assert(magma.json.encode(doc, { indent = 2 })) .. "\n")
    local function loop(step, tag)
      return string.format(
        "(for i in $(seq 0 %d); do %s set --wait 60 %s workflow_step-%s-check:$i " ..
        "status=running jobid=%s$i >/dev/null || echo \"%s $i failed\"; done)",
        N - 1, H.q(H.bin), H.q(path), step, tag, tag)
    end
    local script = loop("01", "A") .. " & " .. loop("02", "B") .. " & wait"
    local p = assert(io.popen("sh -c " .. H.q(script) .. " 2>&1"))
    local out = p:read("a")
    p:close()
    assert.are.equal("", out)
    local r = assert(magma.load(path))
    for i = 0, N - 1 do
      for step, tag in pairs { ["01"] = "A", ["02"] = "B" } do
        local w = r.runs["workflow_step-" .. step .. "-check:" .. i]
        assert.are.equal("running", w.status)
        assert.are.equal(tag .. i, w.jobid)
      end
    end
    assert.are.equal("running", r.final_status)
    assert.are.same({ "run.json", "run.json.lock" }, H.ls(dir)) -- no temp file left
  end)
end)
