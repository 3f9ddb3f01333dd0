-- Temporary files for the specs (policy, tick), removed together by cleanup().
--
--   local tmp = require "support.tmpfiles"
--   local path = tmp.file("return {}\n", ".lua")    -- written; a fresh name ending ".lua"
--   local missing = tmp.path("_missing.lua")         -- a fresh name, nothing written
--   teardown(tmp.cleanup)

local files = {}

-- A fresh path ending in suffix; it and the os.tmpname() it comes from go at cleanup().
local function path(suffix)
  local base = os.tmpname()
  files[#files + 1] = base
  files[#files + 1] = base .. suffix
  return base .. suffix
end

local function file(text, suffix)
  local p = path(suffix)
  local f = assert(io.open(p, "w"))
  f:write(text)
  f:close()
  return p
end

local function cleanup()
  for _, p in ipairs(files) do os.remove(p) end
  files = {}
end

return { path = path, file = file, cleanup = cleanup }
