-- magma: a run-state engine for MetaWorkflowRun documents (see README.md, "API").
local core = require "magma.core"

local magma = {
  _VERSION = core._VERSION,
  -- magma's object model: magma.metawflrun.MetaWorkflowRun(data)
  metawflrun = require "magma.metawflrun",
  MetaWorkflowRun = core.MetaWorkflowRun,
  -- magma.adopt(data): the same without the copy (data belongs to the run afterwards)
  adopt = core.adopt,
  -- lossless, order-keeping JSON
  json = core.json,
  -- run files: magma.load(path) -> run | nil, err; run:save([path]) -> true | nil, err
  load = core.load,
  -- magma.lock(path[, wait_seconds]) -> lock | nil, err (flock on path .. ".lock")
  lock = core.lock,
  -- magma.write_file(path, text) -> true | nil, err: atomic replacement, as run:save
  write_file = core.write_file,
  -- scheduling policies: magma.policy.check(t) / load(path); magma.tick(run, policy, state, now)
  policy = require "magma.policy",
}

local tick = require "magma.tick"
magma.tick = tick.round
magma.new_state = tick.new_state
magma.simulate = require("magma.simulate").run

return magma
