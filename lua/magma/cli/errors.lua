-- magma.cli.errors: the errors a command reports to its user, as values (not tracebacks).
--
-- A command raises a user error with errors.usage(msg) (bad usage: the command line is
-- wrong) or errors.input(msg) (bad input: a file, a name or a value is wrong); both exit 2.
-- errors.raise(code, msg) for any other exit code. magma.cli catches them and prints
-- "magma COMMAND: msg" on one line; any other error is a bug and gets a traceback.

local errors = {}

local UserError = {}
UserError.__index = UserError
UserError.__tostring = function(e) return e.msg end

-- Raises a user error: exit code `code`, message `msg` (one line, no program prefix).
-- kind: "usage" adds a hint to the command's help when it is printed.
function errors.raise(code, msg, kind)
  error(setmetatable({ exit = code, msg = msg, kind = kind }, UserError), 0)
end

function errors.usage(msg) errors.raise(2, msg, "usage") end

function errors.input(msg) errors.raise(2, msg, "input") end

function errors.is(e) return getmetatable(e) == UserError end

-- Calls f(...) and turns the string error it raises (the library's "shard ...: key ..."
-- messages) into a bad-input error prefixed with `prefix` (usually the file name).
-- Anything else (memory errors, user errors) goes on unchanged.
function errors.guard(prefix, f, ...)
  local res = table.pack(pcall(f, ...))
  if res[1] then return table.unpack(res, 2, res.n) end
  local e = res[2]
  if type(e) == "string" then
    errors.input(prefix and (prefix .. ": " .. e) or e)
  end
  error(e, 0)
end

return errors
