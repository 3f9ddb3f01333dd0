-- magma ready RUN: the shards ready to run (magma's to_run), one per line.

local magma = require "magma"
local runfile = require "magma.cli.runfile"

local function run(opts, args)
  local r = runfile.open(args[1])
  local names = {}
  for i, w in ipairs(r:to_run()) do names[i] = w.shard_name end
  if opts.json then
    io.stdout:write(magma.json.encode(magma.json.array(names), { indent = 2 }), "\n")
  elseif #names > 0 then
    io.stdout:write(table.concat(names, "\n"), "\n")
  end
  return 0
end

return {
  name = "ready",
  summary = "the shards ready to run (pending, every dependency completed)",
  synopsis = { "RUN [--json]" },
  args = { "RUN" },
  options = {
    { "json", help = "print a JSON list of shard names" },
  },
  description = [[
Prints the shard_name of every shard that magma's to_run() gives: pending, and every
dependency completed; one per line, in document order (nothing when none is ready).
With --json: a JSON list. RUN is only read.]],
  run = run,
}
