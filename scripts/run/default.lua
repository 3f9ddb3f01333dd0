-- make run, first policy: magma's behaviour (launch whatever is ready, no retries), with
-- the CGAP step durations and a 10% chance that an attempt fails (spot instances).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
return {
  name = "magma default",
  duration = dofile(dir .. "cgap-durations.lua"),
  fails = 0.1,
}
