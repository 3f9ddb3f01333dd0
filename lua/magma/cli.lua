-- magma.cli: the built-in commands of bin/magma.
--
--   cli.main({COMMAND, ARGS...}) -> exit code
--
-- bin/magma COMMAND ARGS... calls main() and exits with what it returns.
--
-- Dispatch, options, help and exit codes; each command lives in lua/magma/commands/.
-- Exit codes: 0 success, 1 a check found problems, 2 bad usage or bad input. Errors go to
-- stderr as "magma COMMAND: message", the message naming the file (and line:column, shard,
-- key where they apply). User errors are values (magma.cli.errors), never tracebacks; any
-- other error is a bug: it is printed with its traceback and the exit code is 1.

local errors = require "magma.cli.errors"
local options = require "magma.cli.options"

local cli = {}

-- The commands, in the order help lists them.
cli.commands = { "status", "ready", "set", "reset", "validate", "import", "tick", "simulate",
  "graph" }

local known = {}
for _, name in ipairs(cli.commands) do known[name] = true end

local function command(name)
  return require("magma.commands." .. name)
end

-- "usage: magma NAME SYNOPSIS" lines of a command.
local function synopsis(cmd)
  local lines = {}
  for i, s in ipairs(cmd.synopsis) do
    lines[#lines + 1] = (i == 1 and "usage: " or "       ") .. "magma " .. cmd.name .. " " .. s
  end
  return table.concat(lines, "\n")
end

function cli.help(name)
  local cmd = command(name)
  local parts = {
    synopsis(cmd), "", cmd.description, "",
    "options:", options.describe(cmd.options), "",
    "exit status: " .. (cmd.exit_status or
      "0 success, 2 bad usage or bad input (missing or invalid file, unknown name)"),
  }
  return table.concat(parts, "\n") .. "\n"
end

function cli.usage()
  local rows, width = {}, 0
  for _, name in ipairs(cli.commands) do
    local cmd = command(name)
    rows[#rows + 1] = { name, cmd.summary }
    if #name > width then width = #name end
  end
  local lines = {
    "usage: magma COMMAND [ARGS...]    run a command on MetaWorkflowRun files",
    "       magma SCRIPT.lua [ARGS...] run a Lua script with magma available",
    "",
    "commands:",
  }
  for _, r in ipairs(rows) do
    lines[#lines + 1] = string.format("  %-" .. width .. "s  %s", r[1], r[2])
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "'magma help COMMAND' or 'magma COMMAND --help' tells more about one."
  lines[#lines + 1] = "exit status: 0 success, 1 a check found problems, 2 bad usage or bad input"
  return table.concat(lines, "\n") .. "\n"
end

-- Checks the positional arguments against cmd.args: names, the last one may end in "..."
-- (one or more).
local function check_args(cmd, args)
  local spec = cmd.args
  for i, name in ipairs(spec) do
    if args[i] == nil then errors.usage("missing argument " .. name) end
  end
  local last = spec[#spec]
  if #args > #spec and not (last and last:sub(-3) == "...") then
    errors.usage(string.format("unexpected argument '%s'", args[#spec + 1]))
  end
end

local function run(cmd, argv)
  local opts, args = options.parse(cmd.options, argv)
  if opts.help then
    io.stdout:write(cli.help(cmd.name))
    return 0
  end
  check_args(cmd, args)
  return cmd.run(opts, args) or 0
end

local function handler(e)
  if errors.is(e) then return e end
  return debug.traceback(tostring(e), 2)
end

local function say(prefix, msg)
  io.stdout:flush()
  io.stderr:write(prefix, ": ", msg, "\n")
end

function cli.main(argv)
  local name = argv[1]
  if name == nil then
    io.stderr:write(cli.usage())
    return 2
  end
  if name == "help" or name == "--help" or name == "-h" then
    local topic = argv[2]
    if topic == nil then
      io.stdout:write(cli.usage())
      return 0
    end
    if not known[topic] or argv[3] ~= nil then
      say("magma help", known[topic] and string.format("unexpected argument '%s'", argv[3])
        or string.format("unknown command '%s' (commands: %s)", topic,
          table.concat(cli.commands, ", ")))
      return 2
    end
    io.stdout:write(cli.help(topic))
    return 0
  end
  if not known[name] then
    say("magma", string.format("unknown command '%s'", name))
    io.stderr:write(cli.usage())
    return 2
  end
  local cmd = command(name)
  local rest = table.move(argv, 2, #argv, 1, {})
  local ok, res = xpcall(run, handler, cmd, rest)
  if ok then return math.tointeger(res) or 0 end
  io.stdout:flush()
  if errors.is(res) then
    say("magma " .. name, res.msg)
    if res.kind == "usage" then
      io.stderr:write(synopsis(cmd), "\n", "('magma help ", name, "' for more)\n")
    end
    return res.exit
  end
  say("magma " .. name, "internal error (please report it): " .. res)
  return 1
end

return cli
