-- bin/magma killed (SIGKILL) at any moment while it saves a large run: the run file is
-- always whole, either the old content or the new one. The content is written to an
-- unnamed file (O_TMPFILE) named only once whole, so a kill can leave at most a whole copy
-- of the new content (.run.json.tmp.PID, killed between naming and renaming), never a part.
local H = require "cli_helper"
local magma = require "magma"
local genrun = require "genrun"

local ITERATIONS = 30
local SN = "workflow_step-01-check:0"

local function now()
  local p = assert(io.popen("date +%s.%N"))
  local t = tonumber(p:read("l"))
  p:close()
  return t
end

describe("bin/magma killed while saving", function()
  teardown(H.cleanup)

  it("leaves the old or the new file, whole; only temp files may be left over", function()
    local dir = H.tmpdir()
    local path = dir .. "/run.json"
    local doc = genrun.generate { shards = 20000, steps = 50, array = magma.json.array }
    local old = assert(magma.json.encode(doc, { indent = 2 })) .. "\n"
    -- the new content, and how long a whole run of the command takes
    H.write(path, old)
    local t0 = now()
    local res = H.magma { "set", path, SN, "status=running" }
    local took = now() - t0
    assert.are.equal(0, res.code, res.err)
    local new = H.read(path)
    assert.are_not.equal(old, new)

    local seen = { old = 0, new = 0 }
    local stale = {}
    math.randomseed(os.time())
    for i = 1, ITERATIONS do
      H.write(path, old)
      -- kill times spread from 0 to twice the command's whole run, jittered; the last one
      -- comes late enough for the command to have finished
      local delay = took * 2 * (i - math.random()) / ITERATIONS
      if i == ITERATIONS then delay = took * 5 end
      local script = string.format(
        "%s set --wait 10 %s %s status=running >/dev/null 2>&1 & pid=$!; sleep %.4f; " ..
        "kill -9 $pid 2>/dev/null; wait $pid", H.q(H.bin), H.q(path), SN, delay)
      os.execute("sh -c " .. H.q(script) .. " 2>/dev/null")
      local text = H.read(path)
      assert.is_true(text == old or text == new, "iteration " .. i .. ": torn run file")
      seen[text == old and "old" or "new"] = seen[text == old and "old" or "new"] + 1
      assert(magma.load(path))
      for _, name in ipairs(H.ls(dir)) do
        if name ~= "run.json" and name ~= "run.json.lock" then
          assert.matches("^%.run%.json%.tmp%.%w+$", name)
          if not stale[name] then
            stale[name] = true
            assert.are.equal(new, H.read(dir .. "/" .. name), name .. " is not the whole new run")
          end
        end
      end
    end
    assert.is_true(seen.old > 0, "no kill landed before the rename")
    assert.is_true(seen.new > 0, "no run finished")
    -- a left-over needs a kill in the microseconds between naming and renaming
    local n = 0
    for _ in pairs(stale) do n = n + 1 end
    assert.is_true(n <= ITERATIONS)
    if os.getenv("CRASH_REPORT") then -- CRASH_REPORT=1 busted spec/crash_spec.lua
      print(string.format("\nold %d, new %d, stale temp files %d", seen.old, seen.new, n))
    end
  end)
end)
