-- magma: a run-state engine for MetaWorkflowRun documents.
local core = require "magma.core"

local magma = {
  _VERSION = core._VERSION,
  metawflrun = require "magma.metawflrun",
  json = core.json,
  MetaWorkflowRun = core.MetaWorkflowRun,
}

return magma
