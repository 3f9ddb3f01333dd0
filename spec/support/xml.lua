-- SVG checked by an independent XML parser, Python's xml.dom.minidom (svg, graph and
-- cli_simulate specs): python3 must be installed, without it these specs fail, they do not skip.
--
--   local xml = require "support.xml"
--   local a, b = xml.parse("class", text_a, text_b)  -- per text, the elements carrying class
--   local out = xml.python(SCRIPT, { path })          -- a script's stdout; fails on a non-zero exit

local function q(s)
  return "'" .. tostring(s):gsub("'", [['\'']]) .. "'"
end

-- The interpreter behind python3 (a pyenv shim costs a shell per call).
local interpreter
local function python3()
  if not interpreter then
    local p = assert(io.popen("python3 -c 'import sys; print(sys.executable)' 2>&1"))
    local out = p:read("a")
    local ok, _, code = p:close()
    assert(ok, "python3 is needed by this spec: exit " .. tostring(code) .. "\n" .. out)
    interpreter = out:match("^([^\n]+)")
  end
  return interpreter
end

-- Runs script (Python source) with args; returns its output (stdout and stderr).
local function python(script, args)
  local file = os.tmpname()
  local f = assert(io.open(file, "wb"))
  f:write(script)
  f:close()
  local parts = { q(python3()), q(file) }
  for _, a in ipairs(args) do parts[#parts + 1] = q(a) end
  local p = assert(io.popen(table.concat(parts, " ") .. " 2>&1"))
  local out = p:read("a")
  local ok, _, code = p:close()
  os.remove(file)
  assert(ok, "python3 could not parse " .. table.concat(args, " ") .. ": exit " .. tostring(code) .. "\n" .. out)
  return out
end

-- Per document: each element that carries the attribute argv[1], as
-- tag, class (hex), data-shard (hex), 1 if it or a child rect has stroke-dasharray.
local ELEMENTS = [[
import sys, xml.dom.minidom
attr = sys.argv[1]
for path in sys.argv[2:]:
    doc = xml.dom.minidom.parse(path)
    print("--")
    for e in doc.getElementsByTagName("*"):
        if e.hasAttribute(attr):
            rect = [c for c in e.childNodes if c.nodeType == 1 and c.tagName == "rect"]
            dash = e.hasAttribute("stroke-dasharray") or any(r.hasAttribute("stroke-dasharray") for r in rect)
            print(e.tagName, e.getAttribute("class").encode("utf-8").hex(),
                  e.getAttribute("data-shard").encode("utf-8").hex(), int(dash))
]]

local function unhex(h)
  return (h:gsub("%x%x", function(b) return string.char(tonumber(b, 16)) end))
end

-- Parses each text; returns, per text, the list of elements that carry the attribute attr,
-- each {tag =, class =, shard =, dash = has stroke-dasharray} as the parser read them.
local function parse(attr, ...)
  local texts, args = { ... }, { attr }
  for i, text in ipairs(texts) do
    args[i + 1] = os.tmpname()
    local f = assert(io.open(args[i + 1], "wb"))
    f:write(text)
    f:close()
  end
  local ok, out = pcall(python, ELEMENTS, args)
  for i = 2, #args do os.remove(args[i]) end
  if not ok then error(out, 0) end
  local docs = {}
  for line in out:gmatch("([^\n]*)\n") do
    if line == "--" then
      docs[#docs + 1] = {}
    else
      local tag, class, shard, dash = line:match("^(%S+) (%x*) (%x*) ([01])$")
      table.insert(docs[#docs], { tag = tag, class = unhex(class), shard = unhex(shard), dash = dash == "1" })
    end
  end
  assert(#docs == #texts, "python3 read " .. #docs .. " of " .. #texts .. " documents")
  return table.unpack(docs)
end

return { python = python, parse = parse }
