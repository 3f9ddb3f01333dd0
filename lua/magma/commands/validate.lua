-- magma validate RUN...: dangling dependencies, cycles, unknown statuses, wrong types.

local magma = require "magma"
local errors = require "magma.cli.errors"
local format = require "magma.cli.format"
local runfile = require "magma.cli.runfile"

local json = magma.json

local is_known = { pending = true, running = true, completed = true, failed = true }

local function is_list(v)
  if type(v) ~= "table" then return false end
  if json.is_array(v) then return true end
  if json.is_object(v) then return false end
  return next(v) == nil or #v > 0 -- a plain table: a sequence (or empty)
end

local function kind_of(v)
  if v == json.null then return "null" end
  if type(v) == "table" then return is_list(v) and "list" or "object" end
  return type(v)
end

-- The problems of a loaded run, as {level = "error"|"warning", msg = "..."}, in order:
-- document-level types, then per shard (document order), then cycles.
local function problems_of(r)
  local out = {}
  local function add(level, msg) out[#out + 1] = { level = level, msg = msg } end
  if type(r.meta_workflow) ~= "string" then
    add("error", string.format('key "meta_workflow" must be a string, got %s',
      kind_of(r.meta_workflow)))
  end
  if not is_list(r.input) then
    add("error", string.format('key "input" must be a list, got %s', kind_of(r.input)))
  end
  local _, found = r:validate()
  local missing = {}
  for _, p in ipairs(found) do
    if p.kind == "missing_dependency" then
      local l = missing[p.shard] or {}
      missing[p.shard] = l
      l[#l + 1] = p.message
    end
  end
  for sn, w in pairs(r.runs) do
    if not is_known[w.status] then
      add("warning", string.format("shard %s: unknown status %s (not pending, running, " ..
        "completed or failed)", format.quote(sn), format.quote(w.status)))
    end
    local o = w.output
    if not is_list(o) then
      add("error", string.format('shard %s: key "output" must be a list, got %s', format.quote(sn),
        kind_of(o)))
    end
    for _, m in ipairs(missing[sn] or {}) do add("error", m) end
  end
  for _, p in ipairs(found) do
    if p.kind ~= "missing_dependency" then add("error", p.message) end
  end
  return out
end

local function run(opts, args)
  local code = 0
  for _, path in ipairs(args) do
    local ok, r = pcall(runfile.open, path)
    if not ok then
      if not errors.is(r) then error(r, 0) end
      io.stdout:flush()
      io.stderr:write("magma validate: ", r.msg, "\n")
      code = 2
    else
      local problems = problems_of(r)
      local nwarn = 0
      for _, p in ipairs(problems) do
        if p.level == "warning" then nwarn = nwarn + 1 end
        io.stdout:write(path, ": ", p.level == "warning" and "warning: " or "", p.msg, "\n")
      end
      if #problems == 0 then
        if not opts.quiet then
          io.stdout:write(string.format("%s: ok (%s)\n", path, format.plural(#r, "shard")))
        end
      else
        io.stdout:write(string.format("%s: %s (%s)\n", path,
          format.plural(#problems, "problem"), format.plural(nwarn, "warning")))
        if code == 0 then code = 1 end
      end
    end
  end
  return code
end

return {
  name = "validate",
  summary = "check runs: dangling dependencies, cycles, unknown statuses, types",
  synopsis = { "RUN... [--quiet]" },
  args = { "RUN..." },
  options = {
    { "quiet", short = "q", help = "print nothing for a run without problems" },
  },
  description = [[
Checks each RUN and prints one line per problem, naming the file and the shard:
a dependency that is not a shard of the run, a cycle of dependencies, a status that
is none of pending, running, completed, failed (a warning, still counted), and keys
of the wrong type (meta_workflow not a string, input or a shard's output not a list).
Then a summary line per file. A file that does not load (missing, invalid JSON, not a
MetaWorkflowRun) is bad input: one error line on stderr.]],
  exit_status = "0 no problem, 1 problems found, 2 bad usage or a file that does not load",
  run = run,
}
