-- magma reset RUN --step NAME... | --shard NAME... [--status S] [--downstream]:
-- magma's RunUpdate.reset_steps / reset_shards, magma_ff's reset_status, then update_status.

local errors = require "magma.cli.errors"
local format = require "magma.cli.format"
local runfile = require "magma.cli.runfile"

-- shard_name -> list of the shards that name it in their dependencies.
local function dependents_index(r)
  local rev = {}
  for sn, w in pairs(r.runs) do
    for _, d in ipairs(w.dependencies) do
      local l = rev[d]
      if l == nil then
        l = {}
        rev[d] = l
      end
      l[#l + 1] = sn
    end
  end
  return rev
end

-- The shard_names to reset, as a set, from the options; errors name unknown steps/shards.
local function select_shards(r, path, opts)
  local chosen = {}
  local steps, shards = opts.step or {}, opts.shard or {}
  runfile.check_steps(r, path, steps)
  for _, s in ipairs(shards) do
    if r.runs[s] == nil then
      errors.input(string.format("%s: unknown shard %s", path, format.quote(s)))
    end
  end
  local want_step = {}
  for _, s in ipairs(steps) do want_step[s] = true end
  local want_status
  if opts.status then
    want_status = {}
    for _, s in ipairs(opts.status) do want_status[s] = true end
  end
  local any_name = #steps > 0 or #shards > 0
  for _, s in ipairs(shards) do chosen[s] = true end
  for sn, w in pairs(r.runs) do
    if want_step[w.name] or not any_name then chosen[sn] = true end
  end
  if want_status then
    for sn in pairs(chosen) do
      if not want_status[r.runs[sn].status] then chosen[sn] = nil end
    end
  end
  if opts.downstream then
    local rev = dependents_index(r)
    local queue = {}
    for sn in pairs(chosen) do queue[#queue + 1] = sn end
    local i = 1
    while queue[i] do
      for _, d in ipairs(rev[queue[i]] or {}) do
        if not chosen[d] then
          chosen[d] = true
          queue[#queue + 1] = d
        end
      end
      i = i + 1
    end
  end
  return chosen
end

local function run(opts, args)
  local path = args[1]
  if not opts.step and not opts.shard and not opts.status then
    errors.usage("nothing to reset: give --step, --shard or --status")
  end
  local n, r = runfile.change(path, opts, function(r)
    local chosen = select_shards(r, path, opts)
    local count = 0
    for sn in pairs(r.runs) do -- document order
      if chosen[sn] then
        r:reset_shard(sn)
        count = count + 1
      end
    end
    return count
  end)
  if not opts.dry_run then
    io.stdout:write(string.format("%s: reset %s; final_status %s\n", opts.output or path,
      format.plural(n, "shard"), r.final_status))
  end
  return 0
end

return {
  name = "reset",
  summary = "reset steps or shards to pending (reset_steps, reset_shards, reset_status)",
  synopsis = {
    "RUN --step NAME... [--status S...] [--downstream] [-o FILE] [--dry-run] [--wait SECONDS]",
    "RUN --shard NAME... [--status S...] [--downstream] [...]",
    "RUN --status S... [--downstream] [...]",
  },
  args = { "RUN" },
  options = runfile.change_options {
    { "step", aliases = { "steps" }, arg = "NAME", multi = true, split = ",",
      help = "reset every shard of step NAME (repeat, or NAME,NAME)" },
    { "shard", aliases = { "shards" }, arg = "NAME", multi = true, split = ",",
      help = "reset shard NAME (its shard_name; repeat, or NAME,NAME)" },
    { "status", arg = "S", multi = true, split = ",",
      help = "only the shards whose status is S (repeat, or S,S)" },
    { "downstream",
      help = "also every shard that depends on them, directly or not" },
  },
  description = [[
Resets shards as magma does (status "pending", output [], jobid, job_id and
workflow_run removed), then recomputes final_status and saves RUN.
--step: every shard of the step (magma's reset_steps); --shard: one shard
(reset_shards). --status S restricts them to the shards whose status is S (magma_ff's
reset_status); --status alone takes every shard of the run with that status (as
magma_ff's reset_failed does for "failed"). --downstream adds every shard that
depends on a reset one, transitively, whatever its status.
An unknown step or shard name is an error (magma would ignore it).]],
  run = run,
}
