-- magma graph RUN [--format dot|mermaid|svg]: the shards and their dependencies, coloured
-- by status.

local errors = require "magma.cli.errors"
local graph = require "magma.graph"
local runfile = require "magma.cli.runfile"
local magma = require "magma"

local FORMATS = { dot = true, mermaid = true, svg = true }

local function run(opts, args)
  local fmt = opts.format or "dot"
  if not FORMATS[fmt] then
    errors.usage(string.format("--format must be dot, mermaid or svg, got '%s'", fmt))
  end
  local r = runfile.open(args[1])
  local text = graph.render(r, fmt)
  if opts.output then
    local ok, err = magma.write_file(opts.output, text)
    if not ok then errors.input(err) end
  else
    io.stdout:write(text)
  end
  return 0
end

return {
  name = "graph",
  summary = "the shards and their dependencies as DOT, Mermaid or SVG",
  synopsis = { "RUN [--format dot|mermaid|svg] [-o FILE]" },
  args = { "RUN" },
  options = {
    { "format", short = "f", arg = "FORMAT", help = "dot (default), mermaid or svg" },
    { "output", short = "o", arg = "FILE", help = "write there instead of standard output" },
  },
  description = [[
Draws RUN's shards and their dependencies, grouped by step and coloured by status
(pending grey, running blue, completed green, failed red, other statuses yellow); a
dependency naming no shard of the run is a dashed "missing" node. DOT is for Graphviz,
Mermaid for Markdown renderers; the SVG is laid out by magma itself (no Graphviz needed),
one node per step with counts beyond 500 shards. RUN is only read.]],
  run = run,
}
