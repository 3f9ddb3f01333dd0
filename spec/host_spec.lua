-- bin/magma as a Lua host: scripts like lua5.4 runs them, -e, -v, errors with a traceback,
-- modules found without LUA_PATH; and `make install` giving a stock lua5.4 `require "magma"`.
local H = require "cli_helper"

describe("bin/magma as a Lua host", function()
  teardown(H.cleanup)

  local function script(dir, text)
    local path = dir .. "/s.lua"
    H.write(path, text)
    return path
  end

  it("runs a script with its arguments in arg and ...", function()
    local dir = H.tmpdir()
    local s = script(dir, [[
local a, b = ...
print(arg[0]:match("s%.lua$") ~= nil, arg[1], arg[2], #arg, a, b, select("#", ...))]])
    local res = H.magma { s, "x", "y z" }
    assert.are.equal(0, res.code, res.err)
    assert.are.equal("true\tx\ty z\t2\tx\ty z\t2\n", res.out)
  end)

  it("runs -e CODE, and the script after it", function()
    local dir = H.tmpdir()
    local s = script(dir, "print('script', ...)")
    local res = H.magma { "-e", "print(require('magma')._VERSION)", s, "q" }
    assert.are.equal(0, res.code, res.err)
    assert.are.equal("0.1.0\nscript\tq\n", res.out)
  end)

  it("prints its version with -v", function()
    local res = H.magma { "-v" }
    assert.are.equal(0, res.code)
    assert.matches("^magma%-lua 0%.1%.0 %(Lua 5%.4", res.out)
  end)

  it("reports an error with a traceback on stderr and exits 1", function()
    local dir = H.tmpdir()
    local s = script(dir, "local function f() error('boom') end\nf()\n")
    local res = H.magma { s }
    assert.are.equal(1, res.code)
    assert.truthy(res.err:find("s.lua:1: boom", 1, true), res.err)
    assert.truthy(res.err:find("stack traceback:", 1, true), res.err)
  end)

  it("exits with os.exit's code", function()
    local res = H.magma { "-e", "os.exit(7)" }
    assert.are.equal(7, res.code)
  end)

  it("finds the magma modules with no LUA_PATH, and still finds installed ones (cjson)", function()
    local p = assert(io.popen(string.format("env -u LUA_PATH -u LUA_CPATH %s -e %s 2>&1",
      H.q(H.bin), H.q("print(require('magma.policy') ~= nil, require('cjson').encode({1}))"))))
    local out = p:read("a")
    p:close()
    assert.are.equal("true\t[1]\n", out)
  end)

  it("takes a name that is not a path as a command, not as a file of that name", function()
    local dir = H.tmpdir()
    H.write(dir .. "/status", "print('a script')")
    local res = H.magma({ "status" }, { cd = dir })
    assert.are.equal(2, res.code)
    assert.truthy(res.err:find("missing argument RUN", 1, true), res.err)
  end)

  it("rejects an unknown option with exit 2", function()
    local res = H.magma { "-Q" }
    assert.are.equal(2, res.code)
    assert.truthy(res.err:find("unrecognized option '-Q'", 1, true), res.err)
  end)
end)

describe("make install", function()
  it("lets a stock lua5.4 require magma, and the installed bin/magma run alone", function()
    local dest = H.tmpdir()
    local ok = os.execute(string.format("make -s install PREFIX=/usr DESTDIR=%s >/dev/null 2>&1",
      H.q(dest)))
    assert.is_true(ok, "make install failed")
    local share, lib = dest .. "/usr/share/lua/5.4", dest .. "/usr/lib/lua/5.4"
    assert.is_true(H.exists(dest .. "/usr/bin/magma"))
    assert.is_true(H.exists(lib .. "/magma/core.so"))
    assert.is_true(H.exists(share .. "/magma/init.lua"))
    local code = "local m = require 'magma'; local r = assert(m.load('spec/fixtures/"
      .. "CGAP_WGS_trio.run.json')); print(#r, #r:to_run())"
    local p = assert(io.popen(string.format(
      "env -u LUA_PATH -u LUA_CPATH LUA_PATH=%s LUA_CPATH=%s lua5.4 -e %s 2>&1",
      H.q(share .. "/?.lua;" .. share .. "/?/init.lua"), H.q(lib .. "/?.so"), H.q(code))))
    local out = p:read("a")
    p:close()
    assert.are.equal("31\t2\n", out)
    -- the installed host finds its Lua files beside itself (../share/lua/5.4)
    p = assert(io.popen(string.format("env -u LUA_PATH -u LUA_CPATH %s ready %s 2>&1",
      H.q(dest .. "/usr/bin/magma"), H.q("spec/fixtures/CGAP_WGS_trio.run.json"))))
    out = p:read("a")
    p:close()
    assert.are.equal("workflow_add-readgroups-check:0:0\nworkflow_merge-bam-check:1\n", out)
  end)
end)
