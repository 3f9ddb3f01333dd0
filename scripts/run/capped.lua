-- make run, second policy: at most 2 shards at once (a small account), the variant caller
-- first, and up to 3 attempts per shard with a capped exponential backoff.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
return {
  name = "capped + retries",
  duration = dofile(dir .. "cgap-durations.lua"),
  fails = 0.1,
  max_running = 2,
  priority = { ["workflow_gatk-HaplotypeCaller"] = 10 },
  retry = { max_attempts = 3, delay = 600, factor = 2, max_delay = 3600 },
}
