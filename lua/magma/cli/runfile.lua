-- magma.cli.runfile: run files as the commands use them.
--
--   runfile.open(path)                  -> run (read only: no lock)
--   runfile.change(path, opts, change)  -> what change returned, the run
--
-- change() is "load under lock, change, save or print the patch": it takes
-- magma.lock(path, opts.wait), loads the run, calls change(run), then update_status(),
-- and either saves (in place, or to opts.output) or, with opts.dry_run, prints the patch
-- magma's portal functions send ({"final_status": ..., "workflow_runs": runs_to_json()},
-- plus the keys of change's second result) and writes nothing. The lock is held from the
-- load to the end of the save. Failures are user errors (exit 2) naming the file.

local magma = require "magma"
local errors = require "magma.cli.errors"
local format = require "magma.cli.format"

local json = magma.json

local runfile = {}

-- Raises the user error for a file that cannot be read, in magma.load's words
-- ("path: No such file or directory", "path: is a directory"), before anything (a lock
-- file) is created beside a path that is not a readable file.
function runfile.check_readable(path)
  local f, err = io.open(path, "rb")
  if f then
    local ok, rerr = f:read(0)
    f:close()
    if ok ~= nil or rerr == nil then return end -- readable (or empty: load will say so)
    err = path .. ": " .. rerr
  end
  local run, lerr = magma.load(path)
  if run == nil then err = lerr end
  errors.input(err)
end

-- Raises a user error naming the file and the first of `steps` that run r does not have.
function runfile.check_steps(r, path, steps)
  local known = {}
  for _, s in ipairs(r:steps()) do known[s] = true end
  for _, s in ipairs(steps) do
    if not known[s] then
      errors.input(string.format("%s: unknown step %s", path, format.quote(s)))
    end
  end
end

-- A policy file, checked (magma.policy.load), or a user error naming the file and entry.
function runfile.policy(path)
  local P, err = magma.policy.load(path)
  if P == nil then errors.input(err) end
  return P
end

function runfile.open(path)
  local run, err = magma.load(path)
  if run == nil then errors.input(err) end
  return run
end

-- The options of every command that changes a run, after the command's own.
function runfile.change_options(own)
  local spec = {}
  for _, o in ipairs(own or {}) do spec[#spec + 1] = o end
  spec[#spec + 1] = { "output", short = "o", arg = "FILE",
    help = "save the result to FILE instead of changing RUN" }
  spec[#spec + 1] = { "dry-run", short = "n",
    help = "print the patch (final_status, workflow_runs) and write nothing" }
  spec[#spec + 1] = { "wait", arg = "SECONDS", number = true, min = 0, default = 10,
    help = "wait that long for another magma holding RUN (default 10)" }
  return spec
end

-- The patch of a changed run, as magma's RunUpdate functions give it to the portal.
function runfile.patch(run, extra)
  local p = { final_status = run.final_status, workflow_runs = run:runs_to_json() }
  for k, v in pairs(extra or {}) do p[k] = v end
  return p
end

function runfile.print_patch(run, extra, out)
  local text, err = json.encode(runfile.patch(run, extra), { indent = 2 })
  if text == nil then errors.input("cannot encode the patch: " .. err) end
  out = out or io.stdout
  out:write(text, "\n")
end

-- magma.lock(path, wait) or a user error (exit 2) saying who holds it.
function runfile.lock(path, wait)
  local lock, err = magma.lock(path, wait or 10)
  if lock == nil then errors.input(err) end
  return lock
end

-- opts: wait (seconds to wait for the lock), output (save there instead), dry_run.
function runfile.change(path, opts, change)
  runfile.check_readable(path)
  local lock <close> = not opts.dry_run and runfile.lock(path, opts.wait) or nil
  local run = runfile.open(path)
  local result, extra = change(run)
  run:update_status()
  if opts.dry_run then
    runfile.print_patch(run, extra)
  else
    local ok, err = run:save(opts.output or path)
    if not ok then errors.input(err) end
  end
  return result, run
end

return runfile
