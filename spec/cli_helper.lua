-- Helpers for the specs that spawn bin/magma (cli, cli_badinput, cli_simulate, cli_tick,
-- concurrency, crash).
--
--   local H = require "cli_helper"
--   local dir = H.tmpdir()                       -- a fresh directory, removed by H.cleanup()
--   local path = H.copy_fixture("CGAP_WGS_trio.run.json", dir)
--   local r = H.magma{"status", path}            -- {code =, out =, err =}
--   local v = H.ok_json(H.magma{"status", path, "--json"})  -- exit 0, no stderr, decoded

package.path = "scripts/?.lua;" .. package.path -- genrun

local H = {}

H.bin = os.getenv("MAGMA_BIN") or "bin/magma"
-- The specs also run commands from other directories: absolute paths for the binary, and
-- for the in-tree Lua files (a host outside bin/, as build/asan/bin/magma, finds them
-- only through LUA_PATH).
local cwd
do
  local p = assert(io.popen("pwd"))
  cwd = p:read("l")
  p:close()
end
if H.bin:sub(1, 1) ~= "/" then H.bin = cwd .. "/" .. H.bin end
local abs_lua_path = "LUA_PATH=" .. "'" .. cwd .. "/lua/?.lua;" .. cwd .. "/lua/?/init.lua;;' "
H.fixtures = "spec/fixtures"

function H.q(s)
  return "'" .. tostring(s):gsub("'", [['\'']]) .. "'"
end

function H.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

function H.write(path, text)
  local f = assert(io.open(path, "wb"))
  assert(f:write(text))
  assert(f:close())
end

function H.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local dirs = {}

function H.tmpdir()
  local p = os.tmpname()
  os.remove(p)
  assert(os.execute("mkdir -p " .. H.q(p)))
  dirs[#dirs + 1] = p
  return p
end

function H.cleanup()
  for _, d in ipairs(dirs) do os.execute("rm -rf " .. H.q(d)) end
  dirs = {}
end

function H.copy_fixture(name, dir, as)
  local dest = dir .. "/" .. (as or name)
  H.write(dest, assert(H.read(H.fixtures .. "/" .. name)))
  return dest
end

-- Runs bin/magma with the arguments (a list); stdin from /dev/null. Returns
-- {code = exit code, out = stdout, err = stderr}.
function H.magma(args, opts)
  local parts = { H.q(H.bin) }
  for _, a in ipairs(args) do parts[#parts + 1] = H.q(a) end
  local errfile = os.tmpname()
  local cmd = table.concat(parts, " ") .. " </dev/null 2>" .. H.q(errfile)
  if opts and opts.cd then cmd = "cd " .. H.q(opts.cd) .. " && " .. abs_lua_path .. cmd end
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  local _, how, code = p:close()
  local err = H.read(errfile) or ""
  os.remove(errfile)
  if how == "signal" then code = 128 + code end
  return { code = code, out = out, err = err }
end

-- The run in the file at path, through the library (required here, not by every user).
function H.load(path)
  local r, err = require("magma").load(path)
  assert(r, err)
  return r
end

function H.decode(text)
  local v, err = require("magma").json.decode(text)
  assert(v ~= nil, err)
  return v
end

-- res (from H.magma) after asserting a clean exit: code 0, nothing on stderr. (busted's
-- assert is a global of the spec files only: a required module takes it from luassert.)
function H.ok(res)
  local luassert = require "luassert"
  luassert.are.equal("", res.err)
  luassert.are.equal(0, res.code)
  return res
end

function H.ok_json(res) return H.decode(H.ok(res).out) end

-- The names in dir (ls -A), sorted.
function H.ls(dir)
  local p = assert(io.popen("ls -A " .. H.q(dir)))
  local names = {}
  for line in p:lines() do names[#names + 1] = line end
  p:close()
  table.sort(names)
  return names
end

return H
