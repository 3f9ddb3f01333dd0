-- make run: the main job on a bundled example. A real CGAP WGS trio run document: its
-- status summary, the shards ready to launch, and one scheduling round as magma's
-- run_metawfr does it (launch what is ready, then update_status).
--
-- Usage: bin/magma scripts/example.lua [RUN.json]

local magma = require "magma"

local path = arg[1] or "spec/fixtures/CGAP_WGS_trio.run.json"
local run, err = magma.load(path)
if not run then
  io.stderr:write("example: ", err, "\n")
  os.exit(2)
end

local function summary(title)
  local c = run:counts()
  print(string.format("%-28s final_status %-9s pending %2d  running %2d  completed %2d  failed %2d",
    title, run.final_status, c.pending, c.running, c.completed, c.failed))
end

print(string.format("%s: %d shards in %d steps", path, #run, #run:steps()))
summary("as loaded:")
run:update_status()
summary("after update_status():")

print("\nready to run (to_run):")
local ready = run:to_run()
for _, wfr in ipairs(ready) do
  print(string.format("  %-45s deps %s", wfr.shard_name, table.concat(wfr.dependencies, ", ")))
end

print("\nrunning:")
for _, wfr in ipairs(run:running()) do
  print("  " .. wfr.shard_name .. (wfr.jobid and ("  jobid " .. wfr.jobid) or ""))
end

-- One round of magma's loop: launch every ready shard (here: pretend, with a job id).
for i, wfr in ipairs(ready) do
  run:update_attribute(wfr.shard_name, "status", "running")
  run:update_attribute(wfr.shard_name, "jobid", string.format("job%04d", i))
end
run:update_status()
print("\nafter launching them:")
summary("")

local ok, problems = run:validate()
print("\nvalidate(): " .. (ok and "no problems" or (#problems .. " problem(s)")))
for _, p in ipairs(problems or {}) do print("  " .. p.message) end
