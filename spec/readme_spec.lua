-- The README's tour is code a newcomer will paste: it must run as printed.
local magma = require "magma"

local function tour_code()
  local f = assert(io.open("README.md"))
  local text = f:read("a")
  f:close()
  return assert(text:match("## A five%-minute tour.-```lua\n(.-)```"), "no tour in README.md")
end

describe("README tour", function()
  it("runs as printed and saves the run it changed", function()
    local out = {}
    local env = setmetatable({ print = function(...)
      local t = table.pack(...)
      for i = 1, t.n do t[i] = tostring(t[i]) end
      out[#out + 1] = table.concat(t, "\t")
    end }, { __index = _G })
    local chunk = assert(load(tour_code(), "=README tour", "t", env))
    os.remove("/tmp/trio.run.json")
    chunk()
    assert.are.equal("31\tpending", out[1])
    assert.are.equal("workflow_add-readgroups-check:0:0\tpending", out[2])
    assert.are.equal("running", out[4])
    local saved = assert(magma.load("/tmp/trio.run.json"))
    local wfr = saved.runs["workflow_add-readgroups-check:0:0"]
    assert.are.equal("completed", wfr.status)
    assert.are.equal("a1b2c3", wfr.jobid)
    assert.are.equal("uuid-1", wfr.output[1].file)
    assert.are.equal("running", saved.final_status)
    os.remove("/tmp/trio.run.json")
  end)
end)
