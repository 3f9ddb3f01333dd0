-- Run files: magma.load, run:save, magma.lock, magma.write_file.
local magma = require "magma"

local TRIO = "spec/fixtures/CGAP_WGS_trio.run.json"

local H = require "cli_helper"
local tmpdir, write = H.tmpdir, H.write

local function read(path) return assert(H.read(path)) end

local function python(script, ...)
  local file = os.tmpname()
  local f = assert(io.open(file, "w"))
  f:write(script)
  f:close()
  local args = {}
  for i, a in ipairs { ... } do args[i] = string.format("'%s'", a) end
  local p = assert(io.popen(string.format("python3 %s %s 2>&1", file, table.concat(args, " "))))
  local out = p:read("a")
  local ok = p:close()
  os.remove(file)
  assert(ok, "python3 failed (is it installed?): " .. out)
  return out
end

describe("magma.load", function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(H.cleanup)

  it("gives a run from a .run.json file", function()
    local run = assert(magma.load(TRIO))
    assert.are.equal(31, #run)
    assert.are.equal("UUID", run.meta_workflow)
  end)

  local bad = {
    { "a missing file", nil, "No such file or directory" },
    { "invalid JSON, with its line and column", '{\n  "a": [1, 2,]\n}',
      "line 2, column 14 (byte 15)" },
    { "trailing data", '{"a": 1} x', "line 1, column 10" },
    { "an invalid document, naming the shard and key",
      '{"meta_workflow": "m", "input": [], "final_status": "pending", "workflow_runs": '
        .. '[{"name": "a", "shard": "0", "status": 1}]}',
      'JSON validation error: workflow_runs[1] (shard "a:0"): key "status" must be a string' },
    { "a document that is not an object", "[1, 2]", "the document must be an object" },
    { "an empty file", "", "line 1, column 1" },
  }
  for _, case in ipairs(bad) do
    it("returns nil and a message naming the file for " .. case[1], function()
      local path = dir .. "/run.json"
      if case[2] then write(path, case[2]) end
      local run, err = magma.load(path)
      assert.is_nil(run)
      assert.are.equal(path .. ": ", err:sub(1, #path + 2))
      assert.truthy(err:find(case[3], 1, true), err)
    end)
  end

  it("returns nil and a message for a directory", function()
    local run, err = magma.load(dir)
    assert.is_nil(run)
    assert.are.equal(dir .. ": is a directory", err)
  end)
end)

describe("run:save", function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(H.cleanup)

  it("saving a loaded, unchanged run twice gives identical bytes", function()
    local run = assert(magma.load(TRIO))
    assert.is_true(run:save(dir .. "/a.json"))
    assert.is_true(run:save(dir .. "/b.json"))
    assert.are.equal(read(dir .. "/a.json"), read(dir .. "/b.json"))
    local again = assert(magma.load(dir .. "/a.json"))
    assert.is_true(again:save(dir .. "/c.json"))
    assert.are.equal(read(dir .. "/a.json"), read(dir .. "/c.json"))
  end)

  it("keeps a file written by Python's json.dump(indent=2) byte for byte", function()
    local path = dir .. "/py.json"
    -- key order, integers vs floats, big integers, empty arrays and objects, null
    python([[
import json, sys
doc = json.load(open(sys.argv[1]))
doc["zeta"] = {"n": 12345678901234567, "f": 1.0, "g": 0.1, "e": [], "o": {}, "z": None}
doc["alpha"] = [1, 1.5, -0.0, 1e300, 2**63 - 1, -2**63]
json.dump(doc, open(sys.argv[2], "w"), indent=2)
]], TRIO, path)
    local run = assert(magma.load(path))
    assert.is_true(run:save(dir .. "/out.json"))
    assert.are.equal(read(path), read(dir .. "/out.json"))
  end)

  it("writes only what changed: a diff after a change shows that change", function()
    local path = dir .. "/py.json"
    python("import json, sys; json.dump(json.load(open(sys.argv[1])), open(sys.argv[2], 'w'), indent=2)",
      TRIO, path)
    local before = read(path)
    local run = assert(magma.load(path))
    run:update_attribute("workflow_merge-bam-check:0", "status", "running")
    assert.is_true(run:save())
    local after = read(path)
    local a, b = {}, {}
    for l in before:gmatch("[^\n]*") do a[#a + 1] = l end
    for l in after:gmatch("[^\n]*") do b[#b + 1] = l end
    assert.are.equal(#a, #b)
    local changed = {}
    for i = 1, #a do
      if a[i] ~= b[i] then changed[#changed + 1] = b[i] end
    end
    assert.are.same({ '      "status": "running",' }, changed)
  end)

  it("saves to the file it was loaded from by default", function()
    local path = dir .. "/run.json"
    write(path, read(TRIO))
    local run = assert(magma.load(path))
    run:update_status()
    assert.is_true(run:save())
    assert.are.equal("running", assert(magma.load(path)).final_status)
  end)

  it("needs a path for a run built from a table", function()
    local run = magma.MetaWorkflowRun { meta_workflow = "m", input = {}, final_status = "pending",
      workflow_runs = {} }
    assert.has_error(function() run:save() end)
    assert.is_true(run:save(dir .. "/t.json"))
  end)

  it("lays the file out as it was: compact stays compact, the final newline is kept", function()
    local path = dir .. "/c.json"
    write(path, '{"meta_workflow":"m","input":[],"final_status":"pending","workflow_runs":[]}')
    local run = assert(magma.load(path))
    assert.is_true(run:save())
    assert.are.equal('{"meta_workflow":"m","input":[],"final_status":"pending","workflow_runs":[]}',
      read(path))
    write(path, '{\n    "meta_workflow": "m",\n    "input": [],\n    "final_status": "pending",\n'
      .. '    "workflow_runs": []\n}\n')
    run = assert(magma.load(path))
    assert.is_true(run:save(dir .. "/d.json"))
    assert.are.equal(read(path), read(dir .. "/d.json"))
  end)

  it("takes {indent = n}", function()
    local run = assert(magma.load(TRIO))
    assert.is_true(run:save(dir .. "/i.json", { indent = -1 }))
    assert.is_nil(read(dir .. "/i.json"):find("\n  ", 1, true))
    assert.has_error(function() run:save(dir .. "/i.json", { indent = 99 }) end)
  end)

  it("leaves the original whole when the document cannot be encoded", function()
    local path = dir .. "/run.json"
    write(path, read(TRIO))
    local before = read(path)
    local run = assert(magma.load(path))
    run:update_attribute("workflow_merge-bam-check:0", "note", function() end)
    local ok, err = run:save()
    assert.is_nil(ok)
    assert.truthy(err:find(path, 1, true))
    assert.truthy(err:find("workflow_runs[13].note", 1, true), err)
    assert.are.equal(before, read(path))
    assert.are.same({ "run.json" }, (function()
      local p = io.popen("ls -A " .. dir)
      local t = {}
      for l in p:lines() do t[#t + 1] = l end
      p:close()
      return t
    end)())
  end)

  it("returns nil and a message for a folder that does not exist", function()
    local run = assert(magma.load(TRIO))
    local ok, err = run:save(dir .. "/missing/run.json")
    assert.is_nil(ok)
    assert.truthy(err:find(dir .. "/missing/run.json: ", 1, true), err)
  end)

  it("keeps the file's mode", function()
    local path = dir .. "/run.json"
    write(path, read(TRIO))
    assert(os.execute("chmod 640 " .. path))
    assert.is_true(assert(magma.load(path)):save())
    local p = io.popen("stat -c %a " .. path)
    local mode = p:read("l")
    p:close()
    assert.are.equal("640", mode)
  end)
end)

describe("magma.write_file", function()
  it("replaces a file atomically, or says why not", function()
    local dir = tmpdir()
    assert.is_true(magma.write_file(dir .. "/x", "one"))
    assert.is_true(magma.write_file(dir .. "/x", "two"))
    assert.are.equal("two", read(dir .. "/x"))
    local ok, err = magma.write_file(dir .. "/no/x", "three")
    assert.is_nil(ok)
    assert.truthy(err:find(dir .. "/no/x: ", 1, true))
    H.cleanup()
  end)
end)

describe("magma.lock", function()
  it("is exclusive until released, and says who holds it", function()
    local dir = tmpdir()
    local path = dir .. "/run.json"
    local a = assert(magma.lock(path, 0))
    local b, err = magma.lock(path, 0.05)
    assert.is_nil(b)
    assert.truthy(err:find("locked by another process", 1, true))
    assert.truthy(err:find(path, 1, true))
    a:unlock()
    a:unlock() -- twice is harmless
    do
      local c <close> = assert(magma.lock(path, 0))
    end
    assert(magma.lock(path, 0)):unlock() -- <close> released it
    H.cleanup()
  end)
end)
