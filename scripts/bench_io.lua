-- One measurement of make bench's file section, in a process of its own so that its peak
-- memory is its own. Usage: bin/magma scripts/bench_io.lua MODE FILE [OUT]
--   load-magma   magma.load(FILE)
--   load-cjson   read FILE, cjson.decode
--   save-magma   magma.load(FILE), then run:save(OUT)                  (the save is measured)
--   save-cjson   read FILE, cjson.decode, then cjson.encode + write OUT (the encode+write)
-- Prints: seconds peak_bytes, the peak being the growth of the resident set during the
-- measured part (VmHWM after, less VmRSS before, with the high-water mark reset first).

local magma = require "magma"
local cjson = require "cjson"

local mode, file, out = arg[1], arg[2], arg[3]

local function status_kb(field)
  local f = assert(io.open("/proc/self/status"))
  local text = f:read("a")
  f:close()
  return tonumber(text:match(field .. ":%s+(%d+) kB")) * 1024
end

-- Resets VmHWM to the current RSS (Linux: 5 > /proc/self/clear_refs).
local function reset_peak()
  local f = io.open("/proc/self/clear_refs", "w")
  if f then f:write("5"); f:close() end
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local t = f:read("a")
  f:close()
  return t
end

local function measure(prepare, body)
  local ctx = prepare()
  collectgarbage("collect")
  collectgarbage("collect")
  reset_peak()
  local before = status_kb("VmRSS")
  local t0 = os.clock()
  local keep = body(ctx)
  local t = os.clock() - t0
  local peak = status_kb("VmHWM") - before
  io.write(string.format("%.6f %d\n", t, peak))
  return keep
end

if mode == "load-magma" then
  measure(function() end, function() return assert(magma.load(file)) end)
elseif mode == "load-cjson" then
  measure(function() end, function() return cjson.decode(read(file)) end)
elseif mode == "save-magma" then
  measure(function() return assert(magma.load(file)) end,
    function(run) assert(run:save(out)) end)
elseif mode == "save-cjson" then
  measure(function() return cjson.decode(read(file)) end, function(doc)
    local f = assert(io.open(out, "wb"))
    f:write(cjson.encode(doc))
    f:close()
  end)
else
  io.stderr:write("bench_io: unknown mode ", tostring(mode), "\n")
  os.exit(2)
end
