-- magma set RUN SHARD KEY=VALUE...: magma's update_attribute, then update_status.

local magma = require "magma"
local errors = require "magma.cli.errors"
local format = require "magma.cli.format"
local runfile = require "magma.cli.runfile"

local json = magma.json

-- "KEY=VALUE" -> key, value: VALUE as JSON when it parses, else the plain string.
local function parse_assignment(text)
  local key, raw = text:match("^([^=]*)=(.*)$")
  if key == nil then
    errors.usage(string.format("expected KEY=VALUE, got '%s' (no '=')", text))
  end
  if key == "" then errors.usage(string.format("expected KEY=VALUE, got '%s' (no KEY)", text)) end
  local value = json.decode(raw)
  if value == nil then value = raw end
  return key, value
end

local function run(opts, args)
  local path, shard = args[1], args[2]
  local changes = {}
  for i = 3, #args do
    local key, value = parse_assignment(args[i])
    changes[#changes + 1] = { key = key, value = value }
  end
  local _, r = runfile.change(path, opts, function(r)
    if r.runs[shard] == nil then
      errors.input(string.format("%s: unknown shard %s", path, format.quote(shard)))
    end
    for _, c in ipairs(changes) do
      errors.guard(path, r.update_attribute, r, shard, c.key, c.value)
    end
  end)
  if not opts.dry_run then
    local keys = {}
    for i, c in ipairs(changes) do keys[i] = c.key end
    io.stdout:write(string.format("%s: shard %s: set %s; final_status %s\n",
      opts.output or path, format.quote(shard), table.concat(keys, ", "), r.final_status))
  end
  return 0
end

return {
  name = "set",
  summary = "change keys of one shard (update_attribute), then the final status",
  synopsis = { "RUN SHARD KEY=VALUE... [-o FILE] [--dry-run] [--wait SECONDS]" },
  args = { "RUN", "SHARD", "KEY=VALUE..." },
  options = runfile.change_options(),
  description = [[
Sets KEY to VALUE in the record of shard SHARD (its shard_name, "name:shard") with
magma's update_attribute, for each KEY=VALUE in order, then recomputes final_status
(update_status) and saves RUN. VALUE is read as JSON when it parses (3, true, null,
["a:0"], {"x": 1}, "\"quoted\""), else taken as the plain string: status=completed
sets the string "completed", jobid=123 the number 123 (jobid='"123"' the string).
A status must be a string; dependencies a list of shard names (readiness follows);
name, shard and shard_name are the shard's identity and cannot be set.
Nothing is saved unless every KEY=VALUE applies. RUN is locked (RUN.lock) from the
load to the save, so concurrent magma commands on RUN do not lose updates.]],
  run = run,
}
