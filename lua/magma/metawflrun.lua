-- magma.metawflrun: magma's MetaWorkflowRun object model (see README, "API").
local core = require "magma.core"

return {
  MetaWorkflowRun = core.MetaWorkflowRun,
}
