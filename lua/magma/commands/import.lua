-- magma import RUN --from OTHER --steps A,B: magma's RunUpdate.import_steps.

local magma = require "magma"
local errors = require "magma.cli.errors"
local format = require "magma.cli.format"
local runfile = require "magma.cli.runfile"

local json = magma.json

local identity = { name = true, shard = true, shard_name = true }

-- The document in path as decoded (every key of every record, in file order), and its
-- records by shard_name. Called after magma.load accepted the file.
local function raw_document(path)
  local f, err = io.open(path, "rb")
  if f == nil then errors.input(err) end
  local text = f:read("a")
  f:close()
  local doc, derr = json.decode(text)
  if doc == nil then errors.input(path .. ": " .. derr) end
  local by_name = {}
  for _, rec in ipairs(doc.workflow_runs) do by_name[rec.name .. ":" .. rec.shard] = rec end
  return doc, by_name
end

-- Makes shard sn's record in r equal to `to` (from OTHER), `from` being its record now.
-- Keys keep their place in the record, so a diff of the file shows only what changed.
local function replace(r, path, sn, from, to)
  for k in pairs(from) do
    if to[k] == nil and not identity[k] then
      errors.guard(path, r.update_attribute, r, sn, k, nil)
    end
  end
  for k, v in pairs(to) do
    if not identity[k] then errors.guard(path, r.update_attribute, r, sn, k, v) end
  end
end

-- magma's walk: the shards of each step, then (transitively) their dependencies, each
-- taking its record from OTHER; a shard missing in OTHER is skipped, and so are its
-- dependencies (through it). Returns the number of shards imported.
local function import_steps(r, path, steps, other_by_name, own_by_name)
  runfile.check_steps(r, path, steps)
  local done, count = {}, 0
  for _, step in ipairs(steps) do
    local queue = {}
    for sn, w in pairs(r.runs) do
      if w.name == step then queue[#queue + 1] = sn end
    end
    local i = 1
    while queue[i] do
      local sn = queue[i]
      i = i + 1
      local w, to = r.runs[sn], other_by_name[sn]
      if not done[sn] and w ~= nil and to ~= nil then
        done[sn] = true
        local deps = w.dependencies -- this run's, before the record is replaced
        replace(r, path, sn, own_by_name[sn], to)
        count = count + 1
        for _, d in ipairs(deps) do queue[#queue + 1] = d end
      end
    end
  end
  return count
end

local function run(opts, args)
  local path = args[1]
  if opts.from == nil then errors.usage("missing option --from OTHER") end
  if opts.steps == nil then errors.usage("missing option --steps A,B") end
  runfile.open(opts.from) -- OTHER must be a valid run
  local other, other_by_name = raw_document(opts.from)
  local n, r = runfile.change(path, opts, function(r)
    local _, own_by_name = raw_document(path)
    local count = import_steps(r, path, opts.steps, other_by_name, own_by_name)
    if opts.no_input then return count end
    r.input = other.input
    return count, { input = other.input }
  end)
  if not opts.dry_run then
    io.stdout:write(string.format("%s: imported %s%s from %s; final_status %s\n",
      opts.output or path, format.plural(n, "shard"), opts.no_input and "" or " and the input",
      opts.from, r.final_status))
  end
  return 0
end

return {
  name = "import",
  summary = "take steps (and their dependencies) from another run (import_steps)",
  synopsis = { "RUN --from OTHER --steps A,B [--no-input] [-o FILE] [--dry-run] [--wait SECONDS]" },
  args = { "RUN" },
  options = runfile.change_options {
    { "from", arg = "OTHER", help = "the run to import from (only read)" },
    { "steps", aliases = { "step" }, arg = "A,B", multi = true, split = ",",
      help = "the steps to import (repeat, or A,B)" },
    { "no-input", help = "keep RUN's input (magma's import_input=False)" },
  },
  description = [[
magma's RunUpdate.import_steps: the shards of the given steps and, transitively, the
shards they depend on (RUN's dependencies) take their whole record from OTHER, matched
by shard_name; a shard that OTHER does not have is skipped (and its dependencies are
not followed through it), as magma does. RUN's input is replaced by OTHER's unless
--no-input. Then final_status is recomputed and RUN saved. Records keep RUN's key
order (keys that only OTHER has follow, sorted). With --dry-run the patch printed
has "input" too. An unknown step name is an error.]],
  run = run,
}
