-- magma.cli.options: command-line options, GNU style.
--
--   local opts, args = options.parse(spec, argv)
--
-- spec: a list of option descriptions:
--   { "name", short = "o", aliases = {"other-name"}, arg = "FILE", multi = true,
--     split = ",", number = true, min = 0 }
-- An option without `arg` is a flag (true when given). With `multi`, every occurrence adds
-- to a list (its values split at `split` when set). `number` reads the value as a number
-- (at least `min`). Results go into opts[key], key being the name with "-" turned into "_".
-- "--name VALUE", "--name=VALUE", "-o VALUE", "-oVALUE"; "--" ends the options; "-" is an
-- argument. "-h" and "--help" set opts.help. Options and arguments may be mixed.
-- Errors are usage errors (magma.cli.errors) naming the option.

local errors = require "magma.cli.errors"

local options = {}

local function key_of(name) return (name:gsub("-", "_")) end

local function index(spec)
  local long, short = {}, {}
  for _, o in ipairs(spec) do
    long[o[1]] = o
    for _, a in ipairs(o.aliases or {}) do long[a] = o end
    if o.short then short[o.short] = o end
  end
  long.help = long.help or { "help" }
  short.h = short.h or long.help
  return long, short
end

local function store(opts, o, shown, value)
  local key = key_of(o[1])
  if not o.arg then
    opts[key] = true
    return
  end
  if o.number then
    local n = tonumber(value)
    if n == nil or n ~= n or n == math.huge or (o.min and n < o.min) then
      errors.usage(string.format("option '%s' needs a number%s, got '%s'", shown,
        o.min and (" from " .. o.min) or "", value))
    end
    value = n
  end
  if not o.multi then
    opts[key] = value
    return
  end
  local list = opts[key] or {}
  opts[key] = list
  if o.split and type(value) == "string" then
    for part in (value .. o.split):gmatch("(.-)" .. o.split:gsub("%p", "%%%0")) do
      if part == "" then
        errors.usage(string.format("option '%s': empty name in '%s'", shown, value))
      end
      list[#list + 1] = part
    end
  else
    list[#list + 1] = value
  end
end

-- Parses argv (a list of strings) against spec. Returns opts, args.
function options.parse(spec, argv)
  local long, short = index(spec)
  local opts, args = {}, {}
  local i = 1
  -- The value of option o given as the next argument (it moves i past it).
  local function next_value(o, shown)
    i = i + 1
    local value = argv[i]
    if value == nil then
      errors.usage(string.format("option '%s' needs a value (%s)", shown, o.arg))
    end
    return value
  end
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      for k = i + 1, #argv do args[#args + 1] = argv[k] end
      break
    elseif a:sub(1, 2) == "--" then
      local name, value = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:sub(3)
      local o = long[name]
      if o == nil then errors.usage(string.format("unknown option '--%s'", name)) end
      local shown = "--" .. name
      if not o.arg and value ~= nil then
        errors.usage(string.format("option '%s' takes no value", shown))
      end
      if o.arg and value == nil then value = next_value(o, shown) end
      store(opts, o, shown, value)
    elseif a:sub(1, 1) == "-" and #a > 1 then
      local c = a:sub(2, 2)
      local o = short[c]
      local shown = "-" .. c
      if o == nil then errors.usage(string.format("unknown option '%s'", shown)) end
      local value
      if o.arg then
        value = #a > 2 and a:sub(3) or next_value(o, shown)
      elseif #a > 2 then
        errors.usage(string.format("option '%s' takes no value (in '%s')", shown, a))
      end
      store(opts, o, shown, value)
    else
      args[#args + 1] = a
    end
    i = i + 1
  end
  for _, o in ipairs(spec) do
    local key = key_of(o[1])
    if opts[key] == nil and o.default ~= nil then opts[key] = o.default end
  end
  return opts, args
end

-- The options part of a help text: one aligned line per option.
function options.describe(spec)
  local rows, width = {}, 0
  for _, o in ipairs(spec) do
    local names = {}
    if o.short then names[#names + 1] = "-" .. o.short end
    names[#names + 1] = "--" .. o[1]
    local left = table.concat(names, ", ") .. (o.arg and (" " .. o.arg) or "")
    rows[#rows + 1] = { left, o.help or "" }
    if #left > width then width = #left end
  end
  rows[#rows + 1] = { "-h, --help", "show this help" }
  if width < 10 then width = 10 end
  local out = {}
  for _, r in ipairs(rows) do
    out[#out + 1] = string.format("  %-" .. width .. "s  %s", r[1], r[2])
  end
  return table.concat(out, "\n")
end

return options
