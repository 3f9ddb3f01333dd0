-- magma.json checked against an independent parser: Python's json module (python3 must be
-- installed: without it this spec fails, it does not skip).
--
-- A seeded generator writes random JSON documents (nesting, unicode and escapes in strings
-- and keys, integers near the int64 limits, floats in every notation, random whitespace),
-- and random mutations of them. Python reads each one and prints a typed dump; the same dump
-- is computed in Lua from magma.json.decode, and the two must agree, on acceptance too.
-- Python is made as strict as magma.json (no NaN/Infinity, no duplicate keys, no lone
-- surrogates, no numbers beyond a double), so the two accept exactly the same texts.
-- Then: our encodings read back in Python to the same dump, and json.dumps(indent=2) output
-- re-encoded by us with indent = 2 is byte-identical (ASCII documents, and the fixtures).
local json = require("magma.json")

local SEED = tonumber(os.getenv("MJSON_CROSSCHECK_SEED")) or 20240611
local N_DOCS, N_MUTANTS, N_ASCII = 400, 600, 250

local PY = [==[
import json, math, sys

INT64 = (-2**63, 2**63 - 1)

class Obj(list):
    pass

def no_constant(name):
    raise ValueError("constant " + name)

def pairs_hook(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key")
    return Obj(pairs)

def hexs(s):
    return s.encode("utf-8").hex()  # raises on a lone surrogate

def typed(v, depth=0):
    if depth > 1000:
        raise ValueError("too deep")
    if v is None:
        return ["null"]
    if v is True or v is False:
        return ["bool", v]
    if isinstance(v, int):
        if INT64[0] <= v <= INT64[1]:
            return ["int", str(v)]
        return ["float", format(float(v), ".17g")]  # documented: beyond int64 reads as a float
    if isinstance(v, float):
        if math.isinf(v) or math.isnan(v):
            raise ValueError("not finite")
        return ["float", format(v, ".17g")]
    if isinstance(v, str):
        return ["str", hexs(v)]
    if isinstance(v, Obj):
        return ["object", [[hexs(k), typed(x, depth + 1)] for k, x in v]]
    return ["array", [typed(x, depth + 1) for x in v]]

def read_docs(path):
    data = open(path, "rb").read()
    docs, i = [], 0
    while i < len(data):
        j = data.index(b"\n", i)
        n = int(data[i:j])
        docs.append(data[j + 1:j + 1 + n])
        i = j + 1 + n
    return docs

mode, src, dst = sys.argv[1], sys.argv[2], sys.argv[3]
out = open(dst, "wb")
for doc in read_docs(src):
    if mode == "typed":
        try:
            v = json.loads(doc.decode("utf-8"), parse_constant=no_constant,
                           object_pairs_hook=pairs_hook)
            line = "OK " + json.dumps(typed(v), separators=(",", ":"))
        except (ValueError, UnicodeError, RecursionError, OverflowError) as e:
            line = "ERR " + type(e).__name__
        out.write(line.encode("ascii") + b"\n")
    else:  # "indent": json.dumps(indent=2) of the document, as json.dump writes files
        text = json.dumps(json.loads(doc.decode("utf-8")), indent=2).encode("ascii")
        out.write(b"%d\n" % len(text) + text)
out.close()
]==]

local H = require "cli_helper"
local write_file = H.write
local function read_file(path) return assert(H.read(path)) end

local tmp_files = {}
local function tmpname()
    local name = os.tmpname()
    tmp_files[#tmp_files + 1] = name
    return name
end

local py_script
-- Runs the Python script over the texts; returns its output (lines, or texts for "indent").
local function python(mode, texts)
    local input, output = tmpname(), tmpname()
    local parts = {}
    for i, t in ipairs(texts) do parts[i] = #t .. "\n" .. t end
    write_file(input, table.concat(parts))
    local cmd = string.format("python3 %s %s %s %s 2>&1", py_script, mode, input, output)
    local p = assert(io.popen(cmd))
    local msg = p:read("a")
    local ok, _, code = p:close()
    assert(ok, "python3 failed (is it installed?): exit " .. tostring(code) .. "\n" .. msg)
    local data = read_file(output)
    if mode == "typed" then
        local lines = {}
        for line in data:gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
        assert(#lines == #texts, "python3 answered " .. #lines .. " of " .. #texts .. " documents")
        return lines
    end
    local out, i = {}, 1
    while i <= #data do
        local j = data:find("\n", i, true)
        local n = tonumber(data:sub(i, j - 1))
        out[#out + 1] = data:sub(j + 1, j + n)
        i = j + 1 + n
    end
    assert(#out == #texts)
    return out
end

-- The typed dump, as Python's json.dumps(typed(v), separators=(",", ":")) writes it.
local function hex(s)
    return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local function typed(v)
    if v == json.null then return '["null"]' end
    local tv = type(v)
    if tv == "boolean" then return '["bool",' .. tostring(v) .. "]" end
    if tv == "number" then
        if math.type(v) == "integer" then return '["int","' .. string.format("%d", v) .. '"]' end
        return '["float","' .. string.format("%.17g", v) .. '"]'
    end
    if tv == "string" then return '["str","' .. hex(v) .. '"]' end
    assert(tv == "table", "unexpected " .. tv)
    local parts = {}
    if json.is_array(v) then
        for i = 1, #v do parts[i] = typed(v[i]) end
        local n = 0
        for _ in pairs(v) do n = n + 1 end
        assert(n == #v, "array with keys beyond its length")
        return '["array",[' .. table.concat(parts, ",") .. "]]"
    end
    assert(json.is_object(v), "a table that is neither array nor object")
    local shape = getmetatable(v)
    for i = 1, #shape do
        local k = shape[i]
        assert(v[k] ~= nil, "shape key missing from its object")
        parts[i] = '["' .. hex(k) .. '",' .. typed(v[k]) .. "]"
    end
    local n = 0
    for _ in pairs(v) do n = n + 1 end
    assert(n == #shape, "object with keys outside its shape")
    return '["object",[' .. table.concat(parts, ",") .. "]]"
end

-- Generator --------------------------------------------------------------------------------

local R = math.random

local function pick(t) return t[R(#t)] end

local function utf8_char(cp) return utf8.char(cp) end

-- A random code point of the given class, never a surrogate.
local function random_cp(ascii)
    local r = R(10)
    if ascii or r <= 5 then return R(0, 127) end
    if r <= 7 then return R(0x80, 0x7FF) end
    if r <= 9 then
        local cp = R(0x800, 0xFFFF)
        if cp >= 0xD800 and cp <= 0xDFFF then cp = cp - 0x800 end
        return cp
    end
    return R(0x10000, 0x10FFFF)
end

-- A random string value (the decoded form).
local function random_string(ascii)
    local n = pick({ 0, 1, 2, 3, 5, 8, 13, 30 })
    local cps = {}
    for i = 1, n do
        local cp = random_cp(ascii)
        if R(4) == 1 then cp = pick({ 34, 92, 47, 8, 12, 10, 13, 9, 0, 31, 127 }) end
        cps[i] = utf8_char(cp)
    end
    return table.concat(cps)
end

-- The JSON text of string s, escaping at random where JSON allows a choice.
local function string_text(s)
    local out = { '"' }
    for _, cp in utf8.codes(s) do
        local c
        if cp == 34 then c = '\\"'
        elseif cp == 92 then c = "\\\\"
        elseif cp < 0x20 then
            local short = ({ [8] = "\\b", [12] = "\\f", [10] = "\\n", [13] = "\\r", [9] = "\\t" })[cp]
            c = (short and R(2) == 1) and short or string.format(R(2) == 1 and "\\u%04x" or "\\u%04X", cp)
        elseif R(6) == 1 then
            if cp == 47 and R(2) == 1 then c = "\\/"
            elseif cp < 0x10000 then c = string.format(R(2) == 1 and "\\u%04x" or "\\u%04X", cp)
            else
                local v = cp - 0x10000
                c = string.format("\\u%04x\\u%04X", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF))
            end
        else
            c = utf8_char(cp)
        end
        out[#out + 1] = c
    end
    out[#out + 1] = '"'
    return table.concat(out)
end

local function random_int_text(in_int64)
    local r = R(8)
    if r == 1 then return tostring(math.maxinteger - R(0, 3)) end
    if r == 2 then return tostring(math.mininteger + R(0, 3)) end
    if r == 3 then return tostring(R(math.mininteger, math.maxinteger)) end
    if r == 4 then return pick({ "0", "-0", "1", "-1" }) end
    if r == 5 and not in_int64 then
        return pick({ "9223372036854775808", "-9223372036854775809", "18446744073709551616",
            "123456789012345678901234567890", "-99999999999999999999" })
    end
    return tostring(R(-100000, 100000))
end

local function random_float_text(ascii)
    local r = R(10)
    local x
    if r <= 3 then
        repeat
            x = string.unpack("<d", string.pack("<i8", R(math.mininteger, math.maxinteger)))
        until x == x and x ~= math.huge and x ~= -math.huge
    elseif r <= 6 then
        x = (R() - 0.5) * 10 ^ R(-30, 30)
    elseif r == 7 then
        return pick({ "0.0", "-0.0", "1.0", "1e0", "1E+2", "1e-2", "0.1", "0.30000000000000004",
            "1.7976931348623157e308", "2.2250738585072014e-308", "5e-324", "4.9e-324", "1e-400",
            "0.1000000000000000055511151231257827", "123456789.123456789e-5", "100e-2",
            "9007199254740993.0", "1.5e-07", "1e16", "12345678901234567890.5", "1e22", "1e23" })
    else
        x = R(-10 ^ 6, 10 ^ 6) / 10 ^ R(0, 9)
    end
    local fmt = pick({ "%.17g", "%.15g", "%.16e", "%.3e", "%.10f", "%.1f", "%.20g" })
    local s = string.format(fmt, x)
    if R(3) == 1 then s = s:gsub("e", "E") end
    s = s:gsub("e%+", pick({ "e+", "e" })):gsub("E%+", pick({ "E+", "E" }))
    -- "%.20g" may write an integer beyond int64, which Python then writes back as an integer
    if ascii and not s:find("[.eE]") then s = s .. ".0" end
    return s
end

local function ws()
    local r = R(8)
    if r <= 4 then return "" end
    if r <= 6 then return " " end
    if r == 7 then return "\n  " end
    return pick({ "\t", "\r\n", " \n\t " })
end

local function random_value_text(depth, ascii)
    local r = R(depth > 5 and 6 or 10)
    if r == 1 then return pick({ "null", "true", "false" }) end
    if r == 2 then return random_int_text(ascii) end
    if r == 3 then return random_float_text(ascii) end
    if r <= 6 then return string_text(random_string(ascii)) end
    local n = pick({ 0, 1, 2, 3, 4, 6 })
    local parts = {}
    if r <= 8 then
        for i = 1, n do parts[i] = ws() .. random_value_text(depth + 1, ascii) .. ws() end
        return "[" .. (n == 0 and ws() or table.concat(parts, ",")) .. "]"
    end
    local seen = {}
    for _ = 1, n do
        local k = R(3) == 1 and pick({ "name", "status", "shard", "output", "id" }) or random_string(ascii)
        if not seen[k] then
            seen[k] = true
            parts[#parts + 1] = ws() .. string_text(k) .. ws() .. ":" .. ws() .. random_value_text(depth + 1, ascii) .. ws()
        end
    end
    return "{" .. (#parts == 0 and ws() or table.concat(parts, ",")) .. "}"
end

local MUTATION_BYTES = { '"', "\\", "{", "}", "[", "]", ",", ":", "0", "-", ".", "e", "1", " ", "\n", "u",
    "n", "t", "f", "\0", "\1", "\31", "\127", "\255", "\195", "\237", "\160", "\128", "\240", "d" }

local function mutate(text)
    for _ = 1, R(3) do
        local i = R(math.max(#text, 1))
        local r = R(4)
        if r == 1 then
            text = text:sub(1, i - 1) .. text:sub(i + 1)
        elseif r == 2 then
            text = text:sub(1, i - 1) .. pick(MUTATION_BYTES) .. text:sub(i + 1)
        elseif r == 3 then
            text = text:sub(1, i) .. pick(MUTATION_BYTES) .. text:sub(i + 1)
        else
            local j = math.min(#text, i + R(0, 8))
            text = text:sub(1, j) .. text:sub(i, j) .. text:sub(j + 1)
        end
    end
    return text
end

-- Our side of the typed dump: "OK <dump>" or "ERR <message>".
local function ours(text)
    local v, err = json.decode(text)
    if v == nil and err then return "ERR " .. err end
    return "OK " .. typed(v)
end

local function describe_doc(i, text)
    return string.format("seed %d, document %d: %q", SEED, i, #text > 600 and text:sub(1, 600) .. "..." or text)
end

describe("magma.json cross-checked with Python's json", function()
    local docs, mutants, ascii_docs = {}, {}, {}

    setup(function()
        py_script = tmpname()
        write_file(py_script, PY)
        math.randomseed(SEED)
        for i = 1, N_DOCS do docs[i] = ws() .. random_value_text(0, false) .. ws() end
        for i = 1, N_MUTANTS do mutants[i] = mutate(docs[R(#docs)]) end
        for i = 1, N_ASCII do ascii_docs[i] = random_value_text(0, true) end
    end)

    teardown(function()
        for _, name in ipairs(tmp_files) do os.remove(name) end
    end)

    it("python3 is there (this spec fails without it)", function()
        local p = assert(io.popen("python3 -c 'import json, sys; print(sys.version_info[0])' 2>&1"))
        local out = p:read("a")
        p:close()
        assert.are.equal("3\n", out)
    end)

    it("decodes " .. N_DOCS .. " random documents to the values Python reads", function()
        local py = python("typed", docs)
        for i, text in ipairs(docs) do
            local mine = ours(text)
            if mine ~= py[i] then
                error(describe_doc(i, text) .. "\nmagma:  " .. mine .. "\npython: " .. py[i])
            end
        end
    end)

    it("accepts and rejects " .. N_MUTANTS .. " mutated documents exactly as strict Python does", function()
        local py = python("typed", mutants)
        local rejected = 0
        for i, text in ipairs(mutants) do
            local mine = ours(text)
            local same = mine == py[i] or (mine:sub(1, 4) == "ERR " and py[i]:sub(1, 4) == "ERR ")
            if not same then
                error(describe_doc(i, text) .. "\nmagma:  " .. mine .. "\npython: " .. py[i])
            end
            if mine:sub(1, 4) == "ERR " then
                rejected = rejected + 1
                assert(mine:match("^ERR line %d+, column %d+ %(byte %d+%): "), mine)
            end
        end
        -- the mutations must exercise both sides
        assert(rejected > N_MUTANTS / 4 and rejected < N_MUTANTS, "rejected " .. rejected)
    end)

    it("writes text that Python reads back to the same values (compact and indented)", function()
        local texts, expected = {}, {}
        for _, text in ipairs(docs) do
            local v, err = json.decode(text)
            assert(err == nil, err)
            local dump = "OK " .. typed(v)
            texts[#texts + 1] = assert(json.encode(v))
            expected[#texts] = dump
            texts[#texts + 1] = assert(json.encode(v, { indent = 2 }))
            expected[#texts] = dump
        end
        local py = python("typed", texts)
        for i, text in ipairs(texts) do
            if py[i] ~= expected[i] then
                error(describe_doc(i, text) .. "\nexpected: " .. expected[i] .. "\npython:   " .. py[i])
            end
        end
    end)

    it("re-encodes json.dumps(indent=2) output of " .. N_ASCII .. " ASCII documents byte for byte", function()
        local py = python("indent", ascii_docs)
        for i, text in ipairs(py) do
            local v, err = json.decode(text)
            assert(v ~= nil or not err, describe_doc(i, text) .. ": " .. tostring(err))
            local again = assert(json.encode(v, { indent = 2 }))
            if again ~= text then
                error(describe_doc(i, ascii_docs[i]) .. "\npython: " .. text .. "\nmagma:  " .. again)
            end
        end
    end)

    it("re-encodes the fixtures, re-dumped by Python with indent=2, byte for byte", function()
        local names = { "CGAP_WGS_trio", "CGAP_WGS_trio_scatter", "SMaHT_WGS_trio_scatter_ff",
            "CGAP_WGS_trio_scatter_import_ExtraShard" }
        local texts = {}
        for i, name in ipairs(names) do texts[i] = read_file("spec/fixtures/" .. name .. ".run.json") end
        local py = python("indent", texts)
        for i, text in ipairs(py) do
            local v = assert(json.decode(text))
            assert.are.equal(text, assert(json.encode(v, { indent = 2 })), names[i])
        end
    end)
end)
