-- magma.json: the lossless, strict, order-keeping JSON codec (src/json.c, src/ljson.c).
local json = require("magma.json")

local null = json.null

-- Structural equality that tells integers from floats, -0.0 from 0.0, and json.null from nil.
local function same(a, b)
    if type(a) ~= type(b) then return false end
    if type(a) == "number" then
        if math.type(a) ~= math.type(b) then return false end
        if a ~= a then return b ~= b end
        return a == b and 1 / a == 1 / b
    end
    if type(a) ~= "table" then return a == b end
    if json.is_array(a) ~= json.is_array(b) then return false end
    for k, v in pairs(a) do
        if not same(v, b[k]) then return false end
    end
    for k in pairs(b) do
        if a[k] == nil then return false end
    end
    return true
end

local function keys_of(t)
    local mt = getmetatable(t)
    local ks = {}
    for i = 1, #mt do ks[i] = mt[i] end
    return ks
end

local function decode_ok(text)
    local v, err = json.decode(text)
    assert(err == nil, err)
    return v
end

describe("magma.json.decode", function()
    describe("numbers", function()
        local rows = {
            { "0", 0, "integer" },
            { "-0", 0, "integer" },
            { "42", 42, "integer" },
            { "-17", -17, "integer" },
            { "9223372036854775807", math.maxinteger, "integer" },
            { "-9223372036854775808", math.mininteger, "integer" },
            { "9223372036854775808", 9223372036854775808.0, "float" },
            { "-9223372036854775809", -9223372036854775809.0, "float" },
            { "123456789012345678901234567890", 1.2345678901234568e+29, "float" },
            { "1.0", 1.0, "float" },
            { "-0.0", -0.0, "float" },
            { "0.1", 0.1, "float" },
            { "0.30000000000000004", 0.1 + 0.2, "float" },
            { "1.2345678901234567e+16", 1.2345678901234568e+16, "float" }, -- not a double: rounds to ...68
            { "1234567890123456.8", 1234567890123456.8, "float" },
            { "1e2", 100.0, "float" },
            { "1E2", 100.0, "float" },
            { "1e+2", 100.0, "float" },
            { "1.5e-07", 1.5e-07, "float" },
            { "2.2250738585072014e-308", 2.2250738585072014e-308, "float" },
            { "5e-324", 5e-324, "float" },
            { "1e-400", 0.0, "float" },
            { "1.7976931348623157e308", 1.7976931348623157e308, "float" },
            { "0.1000000000000000055511151231257827", 0.1, "float" },
            { "3.141592653589793238462643383279", math.pi, "float" },
        }
        for _, row in ipairs(rows) do
            it("reads " .. row[1] .. " as the " .. row[3] .. " " .. string.format("%.17g", row[2]), function()
                local v = decode_ok(row[1])
                assert.are.equal(row[3], math.type(v))
                assert.is_true(same(row[2], v))
            end)
        end

        it("keeps 1 and 1.0 apart", function()
            local v = decode_ok("[1, 1.0, 1e0]")
            assert.are.same({ "integer", "float", "float" },
                { math.type(v[1]), math.type(v[2]), math.type(v[3]) })
        end)

        it("keeps the sign of -0.0", function()
            assert.are.equal(-math.huge, 1 / decode_ok("-0.0"))
            assert.are.equal(math.huge, 1 / decode_ok("0.0"))
        end)

        it("does not depend on a ',' decimal point locale", function()
            -- The host never calls setlocale, but a program embedding magma may. A de_DE
            -- locale (',' as decimal point) is compiled into a temporary LOCPATH with
            -- localedef, and a bin/magma process switches LC_NUMERIC to it first.
            local dir = os.tmpname()
            os.remove(dir)
            assert(os.execute("mkdir -p " .. dir))
            assert(os.execute(string.format(
                "localedef -i de_DE -f UTF-8 %s/de_DE.UTF-8 >/dev/null 2>&1", dir)),
                "localedef could not build de_DE.UTF-8 (Debian package: locales)")
            local code = [[
                assert(os.setlocale("de_DE.UTF-8", "numeric"), "no de_DE locale")
                assert(string.format("%.1f", 0.5) == "0,5", "the locale is not in effect")
                local json = require "magma.json"
                local v = assert(json.decode("[0.5, 1.25e1, -0.0]"))
                io.write(v[1], " ", v[2], " ", json.encode(v))]]
            local bin = os.getenv("MAGMA_BIN") or "bin/magma"
            local p = assert(io.popen(string.format("LOCPATH=%s %s -e %q 2>&1", dir, bin, code)))
            local out = p:read("a")
            p:close()
            os.execute("rm -rf " .. dir)
            -- (io.write of a float uses the locale: "0,5"; the codec must not)
            assert.are.equal("0,5 12,5 [0.5,12.5,-0.0]", out)
        end)
    end)

    describe("strings", function()
        local rows = {
            { [["plain"]], "plain" },
            { [[""]], "" },
            { [["\"\\\/\b\f\n\r\t"]], "\"\\/\b\f\n\r\t" },
            { [["\u0041\u00e9\u20AC"]], "Aé€" },
            { [["\ud83d\ude00"]], "😀" },
            { [["\uD834\uDD1E"]], "𝄞" },
            { [["a\u0000b"]], "a\0b" },
            { '"é€😀 raw UTF-8"', "é€😀 raw UTF-8" },
            { '"\127"', "\127" },
            { [["\uffff\u0800\u07ff\u0080\u007f"]], "\u{ffff}\u{800}\u{7ff}\u{80}\u{7f}" },
            { '"' .. string.rep("x", 100000) .. '\\n"', string.rep("x", 100000) .. "\n" },
        }
        for i, row in ipairs(rows) do
            it("decodes string #" .. i .. " " .. row[1]:sub(1, 40), function()
                assert.are.equal(row[2], decode_ok(row[1]))
            end)
        end
    end)

    describe("arrays", function()
        it("gives arrays the shared array metatable, [] included", function()
            local a, b = decode_ok("[]"), decode_ok("[1,[2]]")
            assert.is_true(json.is_array(a))
            assert.are.equal(getmetatable(a), getmetatable(b))
            assert.are.equal(getmetatable(a), getmetatable(b[2]))
            assert.are.equal("magma.json.array", getmetatable(a).__name)
            assert.is_false(json.is_object(a))
        end)

        it("stores null elements as json.null, so the length is exact", function()
            local a = decode_ok("[null, 1, null]")
            assert.are.equal(3, #a)
            assert.are.equal(null, a[1])
            assert.are.equal(null, a[3])
        end)

        it("json.null is cjson.null", function()
            local ok, cjson = pcall(require, "cjson")
            if not ok then return pending("lua-cjson is not installed") end
            assert.are.equal(cjson.null, json.null)
        end)

        it("decodes nested values", function()
            local v = decode_ok('[[[]], {"a": [true, false, null]}, "s", 1.5]')
            assert.is_true(same(v, json.array({ json.array({ json.array() }),
                { a = json.array({ true, false, null }) }, "s", 1.5 })))
        end)
    end)

    describe("objects", function()
        it("keeps the key order in the shape metatable", function()
            local o = decode_ok('{"zeta": 1, "alpha": 2, "mid": 3}')
            assert.are.same({ "zeta", "alpha", "mid" }, keys_of(o))
            assert.are.equal("magma.json.object", getmetatable(o).__name)
            assert.is_true(json.is_object(o))
            assert.is_false(json.is_array(o))
        end)

        it("shares one shape among objects with the same key sequence", function()
            local parts = {}
            for i = 1, 2000 do parts[i] = string.format('{"a":%d,"b":2,"c":3,"d":4,"e":5,"f":6}', i) end
            local v = decode_ok("[" .. table.concat(parts, ",") .. "]")
            local mt = getmetatable(v[1])
            for i = 2, #v do assert(getmetatable(v[i]) == mt) end
            assert.are.equal(mt, getmetatable(decode_ok('{"a":0,"b":0,"c":0,"d":0,"e":0,"f":0}')))
            assert.are_not.equal(mt, getmetatable(decode_ok('{"a":0,"b":0,"c":0,"d":0,"f":0,"e":0}')))
            assert.are_not.equal(mt, getmetatable(decode_ok('{"a":0,"b":0,"c":0,"d":0,"e":0}')))
        end)

        it("keeps shapes across a garbage collection while they are in use", function()
            local a = decode_ok('{"gc1": 1, "gc2": 2}')
            collectgarbage()
            collectgarbage()
            assert.are.equal(getmetatable(a), getmetatable(decode_ok('{"gc1": 3, "gc2": 4}')))
        end)

        it("does not keep unused shapes alive", function()
            local weak = setmetatable({}, { __mode = "k" })
            do
                local o = decode_ok('{"only_once_' .. tostring(weak):sub(-8) .. '": 1}')
                weak[getmetatable(o)] = true
            end
            collectgarbage()
            collectgarbage()
            assert.is_nil(next(weak))
        end)

        it("decodes {} to an object with the empty shape", function()
            local o = decode_ok("{}")
            assert.is_true(json.is_object(o))
            assert.are.equal(0, #getmetatable(o))
            assert.are.equal(getmetatable(json.object()), getmetatable(o))
        end)

        it("stores null values as json.null and keeps the key", function()
            local o = decode_ok('{"a": null, "b": 1}')
            assert.are.equal(null, o.a)
            assert.are.same({ "a", "b" }, keys_of(o))
        end)

        it("gives objects of more than 128 keys a shape of their own", function()
            local parts = {}
            for i = 300, 1, -1 do parts[#parts + 1] = string.format('"k%d": %d', i, i) end
            local text = "{" .. table.concat(parts, ",") .. "}"
            local o = decode_ok(text)
            local ks = keys_of(o)
            assert.are.equal(300, #ks)
            assert.are.equal("k300", ks[1])
            assert.are.equal("k1", ks[300])
            assert.are.equal(text:gsub(" ", ""), json.encode(o))
        end)

        it("decodes arrays and objects of every size around the internal thresholds", function()
            for _, n in ipairs({ 1, 2, 63, 64, 65, 127, 128, 129, 130, 1000 }) do
                local items, members = {}, {}
                for i = 1, n do
                    items[i] = tostring(i)
                    members[i] = string.format('"k%d":%d', n - i, i)
                end
                local a = decode_ok("[" .. table.concat(items, ",") .. "]")
                assert.are.equal(n, #a)
                for i = 1, n do assert(a[i] == i) end
                local text = "{" .. table.concat(members, ",") .. "}"
                local o = decode_ok(text)
                assert.are.equal(n, #getmetatable(o))
                assert.are.equal(text, json.encode(o))
                for _, dup in ipairs({ 1, n }) do -- the first key again, after n members
                    local bad = "{" .. table.concat(members, ",") .. string.format(',"k%d":0}', n - dup)
                    local v, err = json.decode(bad)
                    assert.is_nil(v)
                    assert.matches('duplicate key "k' .. (n - dup) .. '"', err)
                    assert.matches("%(byte " .. #text .. "%)", err)
                end
            end
        end)

        it("accepts keys with escapes, unicode and NUL", function()
            local o = decode_ok('{"a\\u0000b": 1, "é": 2, "\\n": 3}')
            assert.are.equal(1, o["a\0b"])
            assert.are.equal(2, o["é"])
            assert.are.equal(3, o["\n"])
        end)
    end)

    describe("whitespace", function()
        it("accepts the four JSON whitespace characters around values", function()
            assert.are.equal(1, #decode_ok(" \t\r\n[ \t\r\n1 \t\r\n] \t\r\n"))
        end)
    end)

    describe("rejects", function()
        -- { input, expected error (a plain substring) }
        local rows = {
            { "", "line 1, column 1 (byte 0): empty input" },
            { "   ", "line 1, column 4 (byte 3): expected a value, got only whitespace" },
            { "\239\187\191[]", "line 1, column 1 (byte 0): a byte order mark (BOM) is not allowed" },
            { "NaN", "line 1, column 1 (byte 0): expected a value (NaN and Infinity are not JSON), got 'N'" },
            { "Infinity", "line 1, column 1 (byte 0): expected a value (NaN and Infinity are not JSON)" },
            { "-Infinity", "line 1, column 2 (byte 1): expected a digit after '-', got 'I'" },
            { "[1, nan]", "line 1, column 5 (byte 4): invalid literal" },
            { "01", "line 1, column 2 (byte 1): leading zeros are not allowed" },
            { "-01", "line 1, column 3 (byte 2): leading zeros are not allowed" },
            { "00", "line 1, column 2 (byte 1): leading zeros are not allowed" },
            { "1.", "line 1, column 3 (byte 2): expected a digit after the decimal point, got end of input" },
            { "1.e5", "line 1, column 3 (byte 2): expected a digit after the decimal point, got 'e'" },
            { ".5", "line 1, column 1 (byte 0): expected a value, got '.'" },
            { "+1", "line 1, column 1 (byte 0): expected a value, got '+'" },
            { "-", "line 1, column 2 (byte 1): expected a digit after '-', got end of input" },
            { "1e", "line 1, column 3 (byte 2): expected a digit in the exponent" },
            { "1e+", "line 1, column 4 (byte 3): expected a digit in the exponent" },
            { "0x10", "line 1, column 2 (byte 1): unexpected data after the value, got 'x'" },
            { "1e400", "line 1, column 1 (byte 0): number too large for a double" },
            { "-1e400", "line 1, column 1 (byte 0): number too large for a double" },
            { "[1] [2]", "line 1, column 5 (byte 4): unexpected data after the value, got '['" },
            { "{} x", "line 1, column 4 (byte 3): unexpected data after the value, got 'x'" },
            { "1 2", "line 1, column 3 (byte 2): unexpected data after the value, got '2'" },
            { "[1,]", "line 1, column 4 (byte 3): expected a value, got ']'" },
            { "[,1]", "line 1, column 2 (byte 1): expected a value, got ','" },
            { "[1 2]", "line 1, column 4 (byte 3): expected ',' or ']' after an array element, got '2'" },
            { '{"a":1,}', "line 1, column 8 (byte 7): expected a string key, got '}'" },
            { '{"a" 1}', "line 1, column 6 (byte 5): expected ':' after an object key, got '1'" },
            { "{1:2}", "line 1, column 2 (byte 1): expected a string key or '}', got '1'" },
            { "{'a':1}", "line 1, column 2 (byte 1): expected a string key or '}', got '''" },
            { '{"a":1 "b":2}', "line 1, column 8 (byte 7): expected ',' or '}' after an object member, got '\"'" },
            { '{"a":1,"a":2}', 'line 1, column 8 (byte 7): duplicate key "a"' },
            { '{"a":1,"b":{"a":1,"a":2}}', 'line 1, column 19 (byte 18): duplicate key "a"' },
            { '{"\\u0061":1,"a":2}', 'line 1, column 13 (byte 12): duplicate key "a"' },
            { '{"a":null,"a":null}', 'line 1, column 11 (byte 10): duplicate key "a"' },
            { "[", "line 1, column 2 (byte 1): expected a value, got end of input" },
            { "[1", "line 1, column 3 (byte 2): unterminated array" },
            { "{", "line 1, column 2 (byte 1): unterminated object" },
            { '{"a"', "line 1, column 5 (byte 4): expected ':' after an object key, got end of input" },
            { '{"a":', "line 1, column 6 (byte 5): expected a value, got end of input" },
            { '{"a":1', "line 1, column 7 (byte 6): unterminated object" },
            { '"abc', "line 1, column 5 (byte 4): unterminated string" },
            { '"ab\\', "line 1, column 5 (byte 4): unterminated string" },
            { '"ab\\"', "line 1, column 6 (byte 5): unterminated string" },
            { "tru", "line 1, column 1 (byte 0): invalid literal (expected true, false or null)" },
            { "True", "line 1, column 1 (byte 0): expected a value, got 'T'" },
            { "nul", "line 1, column 1 (byte 0): invalid literal" },
            { "truex", "line 1, column 5 (byte 4): unexpected data after the value, got 'x'" },
            { '"\\x"', "line 1, column 2 (byte 1): invalid escape in string" },
            { '"\\\'"', "line 1, column 2 (byte 1): invalid escape in string" },
            { '"\\u12"', "line 1, column 2 (byte 1): invalid \\u escape (expected 4 hex digits)" },
            { '"\\u12G4"', "line 1, column 2 (byte 1): invalid \\u escape (expected 4 hex digits)" },
            { '"\\ud800"', "line 1, column 2 (byte 1): high surrogate \\u escape not followed by a low surrogate" },
            { '"\\ud800x"', "line 1, column 2 (byte 1): high surrogate \\u escape not followed by a low surrogate" },
            { '"\\ud800\\u0041"', "line 1, column 2 (byte 1): high surrogate \\u escape not followed by a low surrogate" },
            { '"\\ud800\\ud800"', "line 1, column 2 (byte 1): high surrogate \\u escape not followed by a low surrogate" },
            { '"x\\udc00"', "line 1, column 3 (byte 2): lone low surrogate \\u escape" },
            { '"\\ude00\\ud83d"', "line 1, column 2 (byte 1): lone low surrogate" },
            { '"a\tb"', "line 1, column 3 (byte 2): control character in string (escape it)" },
            { '"a\nb"', "line 1, column 3 (byte 2): control character in string" },
            { '"a\0b"', "line 1, column 3 (byte 2): control character in string" },
            { '"\\n\31"', "line 1, column 4 (byte 3): control character in string" },
            { '"\128"', "line 1, column 2 (byte 1): invalid UTF-8 in string" },
            { '"\191"', "line 1, column 2 (byte 1): invalid UTF-8 in string" },
            { '"\192\128"', "line 1, column 2 (byte 1): invalid UTF-8 in string" },          -- overlong NUL
            { '"\193\191"', "line 1, column 2 (byte 1): invalid UTF-8 in string" },          -- overlong
            { '"\224\159\191"', "line 1, column 2 (byte 1): invalid UTF-8 in string" },      -- overlong 3-byte
            { '"\240\143\191\191"', "line 1, column 2 (byte 1): invalid UTF-8 in string" },  -- overlong 4-byte
            { '"\237\160\128"', "line 1, column 2 (byte 1): invalid UTF-8 in string" },      -- U+D800 in UTF-8
            { '"\237\191\191"', "line 1, column 2 (byte 1): invalid UTF-8 in string" },      -- U+DFFF in UTF-8
            { '"\244\144\128\128"', "line 1, column 2 (byte 1): invalid UTF-8 in string" },  -- U+110000
            { '"\245\128\128\128"', "line 1, column 2 (byte 1): invalid UTF-8 in string" },
            { '"\255"', "line 1, column 2 (byte 1): invalid UTF-8 in string" },
            { '"\195"', "line 1, column 2 (byte 1): invalid UTF-8 in string" },              -- truncated
            { '"\226\130"', "line 1, column 2 (byte 1): invalid UTF-8 in string" },          -- truncated
            { '"\226\130x"', "line 1, column 2 (byte 1): invalid UTF-8 in string" },
            { '"\\n\255"', "line 1, column 4 (byte 3): invalid UTF-8 in string" },           -- after an escape
            { '{"\255":1}', "line 1, column 3 (byte 2): invalid UTF-8 in string" },         -- in a key
            { "\255", "line 1, column 1 (byte 0): expected a value, got byte 0xFF" },
            { "[\0]", "line 1, column 2 (byte 1): expected a value, got byte 0x00" },
            { "[1]\0", "line 1, column 4 (byte 3): unexpected data after the value, got byte 0x00" },
            { "/* c */ 1", "line 1, column 1 (byte 0): expected a value, got '/'" },
            { "[1,\n 2,\n x]", "line 3, column 2 (byte 9): expected a value, got 'x'" },
            { '{"é": "ü", x}', "line 1, column 12 (byte 13): expected a string key, got 'x'" },
            { "[1,\r\n2 3]", "line 2, column 3 (byte 7): expected ',' or ']' after an array element" },
        }
        for _, row in ipairs(rows) do
            it(string.format("%q: %s", row[1], row[2]:match("%): (.*)$") or row[2]), function()
                local v, err = json.decode(row[1])
                assert.is_nil(v)
                assert.is_string(err)
                assert.is_truthy(err:find(row[2], 1, true),
                    string.format("expected %q in %q", row[2], err))
            end)
        end

        it("nesting deeper than 1000, without a stack overflow", function()
            local ok = string.rep("[", 1000) .. string.rep("]", 1000)
            assert.is_table(decode_ok(ok))
            local v, err = json.decode(string.rep("[", 1001) .. string.rep("]", 1001))
            assert.is_nil(v)
            assert.are.equal("line 1, column 1001 (byte 1000): nesting deeper than 1000", err)
            v, err = json.decode(string.rep('{"a":', 1001) .. "1" .. string.rep("}", 1001))
            assert.is_nil(v)
            assert.are.equal("line 1, column 5001 (byte 5000): nesting deeper than 1000", err)
            v, err = json.decode(string.rep("[", 1000000))
            assert.is_nil(v)
            assert.matches("nesting deeper than 1000", err)
        end)

        it("a non-string argument, with an argument error", function()
            assert.has_error(function() json.decode(12) end)
            assert.has_error(function() json.decode() end)
            assert.has_error(function() json.decode({}) end)
        end)
    end)
end)

describe("magma.json.encode", function()
    local function enc(v, opts)
        local text, err = json.encode(v, opts)
        assert(err == nil, err)
        return text
    end

    describe("scalars", function()
        local rows = {
            { 0, "0" },
            { -0, "0" },
            { 42, "42" },
            { math.maxinteger, "9223372036854775807" },
            { math.mininteger, "-9223372036854775808" },
            { 0.0, "0.0" },
            { -0.0, "-0.0" },
            { 1.0, "1.0" },
            { -1.0, "-1.0" },
            { 100.0, "100.0" },
            { 0.1, "0.1" },
            { 0.1 + 0.2, "0.30000000000000004" },
            { 1 / 3, "0.3333333333333333" },
            { 2 / 3, "0.6666666666666666" },
            { 1e15, "1000000000000000.0" },
            { 9999999999999998.0, "9999999999999998.0" },
            { 1e16, "1e+16" },
            { 1.2345678901234568e+16, "1.2345678901234568e+16" },
            { 1234567890123456.8, "1234567890123456.8" },
            { 1.2345678901234568e-05, "1.2345678901234568e-05" },
            { 123456789012345678.0, "1.2345678901234568e+17" },
            { 1e22, "1e+22" },
            { 1e100, "1e+100" },
            { 0.0001, "0.0001" },
            { 0.00001, "1e-05" },
            { 1.5e-07, "1.5e-07" },
            { 123.456, "123.456" },
            { -2.5e-300, "-2.5e-300" },
            { 5e-324, "5e-324" },
            { 2.2250738585072014e-308, "2.2250738585072014e-308" },
            { 1.7976931348623157e308, "1.7976931348623157e+308" },
            { math.pi, "3.141592653589793" },
            { 2 ^ 63, "9.223372036854776e+18" },
            { true, "true" },
            { false, "false" },
            { null, "null" },
            { "", '""' },
            { "plain", '"plain"' },
            { "\"\\/", [["\"\\/"]] },
            { "\b\f\n\r\t", [["\b\f\n\r\t"]] },
            { "\0\1\31", [["\u0000\u0001\u001f"]] },
            { "a\127b", [["a\u007fb"]] }, -- as Python's json.dumps (ensure_ascii) writes DEL
            { "é€😀", '"é€😀"' },
        }
        for _, row in ipairs(rows) do
            it(string.format("writes %s %s as %s", math.type(row[1]) or type(row[1]), tostring(row[1]), row[2]), function()
                assert.are.equal(row[2], enc(row[1]))
            end)
        end

        it("writes floats that read back to the same double", function()
            math.randomseed(7)
            for _ = 1, 20000 do
                local x = string.unpack("<d", string.pack("<i8", math.random(math.mininteger, math.maxinteger)))
                if x == x and x ~= math.huge and x ~= -math.huge then
                    local text = enc(x)
                    local back = json.decode(text)
                    assert(math.type(back) == "float" and back == x and 1 / back == 1 / x, text)
                    assert(text:find("[.e]"), text)
                end
            end
        end)
    end)

    describe("arrays and objects", function()
        it("writes [] and {} as they were read", function()
            assert.are.equal("[]", enc(json.decode("[]")))
            assert.are.equal("{}", enc(json.decode("{}")))
            assert.are.equal('{"a":[],"b":{},"c":[[],{}]}', enc(json.decode('{"a":[],"b":{},"c":[[],{}]}')))
        end)

        it("writes null elements and members", function()
            assert.are.equal('[null,1,null]', enc(json.decode("[null,1,null]")))
            assert.are.equal('{"a":null}', enc(json.decode('{"a":null}')))
        end)

        it("keeps the key order of a decoded object", function()
            local text = '{"zeta":1,"alpha":{"y":1,"x":2},"mid":[{"b":1,"a":2}]}'
            assert.are.equal(text, enc(json.decode(text)))
        end)

        it("writes keys added later after the shape keys, sorted", function()
            local o = json.decode('{"z":1,"b":2}')
            o.y = 3
            o.a = 4
            o.c = 5
            assert.are.equal('{"z":1,"b":2,"a":4,"c":5,"y":3}', enc(o))
        end)

        it("leaves out shape keys that were removed, keeping the others in order", function()
            local o = json.decode('{"z":1,"b":2,"x":3}')
            o.b = nil
            o.a = 0
            assert.are.equal('{"z":1,"x":3,"a":0}', enc(o))
        end)

        it("writes a plain table with string keys sorted byte-wise", function()
            assert.are.equal('{"A":3,"B":2,"a":1,"b\\u0000":5,"é":4}',
                enc({ a = 1, B = 2, A = 3, ["é"] = 4, ["b\0"] = 5 }))
        end)

        it("writes a plain sequence as an array and an empty plain table as {}", function()
            assert.are.equal("[1,2,3]", enc({ 1, 2, 3 }))
            assert.are.equal("{}", enc({}))
        end)

        it("ignores the metatables of other classes", function()
            local Class = { __index = {}, __name = "MyClass" }
            assert.are.equal('{"a":1}', enc(setmetatable({ a = 1 }, Class)))
            assert.are.equal("[1,2]", enc(setmetatable({ 1, 2 }, Class)))
        end)

        it("writes an array-marked table from 1 to its length", function()
            assert.are.equal("[1,2]", enc(json.array({ 1, 2 })))
            assert.are.equal("[]", enc(json.array({})))
        end)

        it("writes json.object() tables with sorted keys", function()
            assert.are.equal('{"a":2,"b":1}', enc(json.object({ b = 1, a = 2 })))
            assert.are.equal("{}", enc(json.object()))
        end)

        it("writes tables decoded by lua-cjson (cjson.null included)", function()
            local ok, cjson = pcall(require, "cjson")
            if not ok then return pending("lua-cjson is not installed") end
            -- (lua-cjson 2.1.0 reads every number as a float)
            assert.are.equal('{"a":[1.0,null],"b":"x"}', enc(cjson.decode('{"b":"x","a":[1,null]}')))
        end)

        it("gives the same bytes for the same value, every time", function()
            local v = json.decode('{"b":1,"a":[1.5,{"y":null,"x":"é"}]}')
            v.d, v.c = 1, 2
            local t = { k = { z = 1, y = 2, x = 3, w = 4, v = 5, u = 6, t = 7, s = 8 } }
            for _ = 1, 5 do
                assert.are.equal(enc(v), enc(v))
                assert.are.equal(enc(t), enc(t))
                assert.are.equal(enc(v, { indent = 2 }), enc(v, { indent = 2 }))
            end
        end)
    end)

    describe("indent", function()
        it("writes Python's json.dumps(indent=2) layout", function()
            local v = json.decode('{"a":[1,{"b":null,"c":[]},{}],"d":"x","e":{"f":1.5}}')
            assert.are.equal(table.concat({
                "{",
                '  "a": [',
                "    1,",
                "    {",
                '      "b": null,',
                '      "c": []',
                "    },",
                "    {}",
                "  ],",
                '  "d": "x",',
                '  "e": {',
                '    "f": 1.5',
                "  }",
                "}",
            }, "\n"), enc(v, { indent = 2 }))
        end)

        it("writes indent = 4 and indent = 0", function()
            local v = json.decode('[1,[2]]')
            assert.are.equal("[\n    1,\n    [\n        2\n    ]\n]", enc(v, { indent = 4 }))
            assert.are.equal("[\n1,\n[\n2\n]\n]", enc(v, { indent = 0 }))
        end)

        it("writes no space at all without indent", function()
            local text = enc(json.decode('{ "a" : [ 1 , 2 ] , "b" : { "c" : "d e" } }'))
            assert.are.equal('{"a":[1,2],"b":{"c":"d e"}}', text)
        end)

        it("rejects a bad indent with an argument error", function()
            assert.has_error(function() json.encode({}, { indent = -1 }) end)
            assert.has_error(function() json.encode({}, { indent = 1.5 }) end)
            assert.has_error(function() json.encode({}, { indent = "2" }) end)
            assert.has_error(function() json.encode({}, 2) end)
        end)
    end)

    describe("errors", function()
        local function f() end
        local cyc = {}
        cyc.self = cyc
        local deep = {}
        local d = deep
        for _ = 1, 1000 do
            d[1] = {}
            d = d[1]
        end
        local rows = {
            { f, "cannot encode a function" },
            { { workflow_runs = { {}, {}, { output = f } } }, "workflow_runs[3].output: cannot encode a function" },
            { { a = { ["b c"] = { 1, coroutine.create(f) } } }, 'a["b c"][2]: cannot encode a thread' },
            { io.stdout, "cannot encode a userdata" },
            { 0 / 0, "cannot encode NaN" },
            { { x = 1 / 0 }, "x: cannot encode inf" },
            { { x = { -1 / 0 } }, "x[1]: cannot encode -inf" },
            { "\255", "string is not valid UTF-8" },
            { { "ok", "\237\160\128" }, "[2]: string is not valid UTF-8" },
            { { ["\192\128"] = 1 }, "key is not valid UTF-8" },
            { cyc, "self.self.self.self.self.self.self.self.self.self.self.self...(1000 levels): nesting deeper than 1000 (a cycle?)" },
            { deep, "nesting deeper than 1000" },
            { { 1, 2, x = 3 }, "table with both integer and string keys" },
            { { [1] = 1, [3] = 3 }, "table with integer keys that are not a sequence 1..n" },
            { { [0] = 1 }, "table with a non-positive or fractional number key" },
            { { [1.5] = 1 }, "table with a non-positive or fractional number key" },
            { { [true] = 1 }, "table with a boolean key" },
            { json.array({ 1, null, 3, x = 1 }), nil },
            { { a = json.object({ [1] = 1 }) }, "a: object with a non-string key" },
            { { a = setmetatable({ 1 }, getmetatable(json.decode('{"x":1}'))) }, "a: object with a non-string key" },
            { { nested = { { 1, 2 }, { 3, function() end } } }, "nested[2][2]: cannot encode a function" },
        }
        for i, row in ipairs(rows) do
            it(string.format("#%d %s", i, row[2] or "(no error)"), function()
                local text, err = json.encode(row[1])
                if row[2] == nil then
                    assert.is_string(text)
                    return
                end
                assert.is_nil(text)
                assert.is_string(err)
                assert.is_truthy(err:find(row[2], 1, true), string.format("expected %q in %q", row[2], err))
            end)
        end

        it("accepts nesting of exactly 1000", function()
            local v = json.decode(string.rep("[", 1000) .. string.rep("]", 1000))
            assert.are.equal(2000, #enc(v))
        end)

        it("rejects a hole in an array-marked table", function()
            local a = json.array({ 1, 2, 3 })
            a[2] = nil
            local text, err = json.encode({ list = a })
            if #a == 3 then
                assert.is_nil(text)
                assert.are.equal("list[2]: nil in an array (a hole; use json.null)", err)
            else
                assert.are.equal('{"list":[1]}', text)
            end
        end)

        it("requires a value", function()
            assert.has_error(function() json.encode() end)
        end)
    end)

    describe("round trip", function()
        it("decode(encode(v)) is v and encode(decode(t)) is t", function()
            local text = '{"i":[0,-1,9223372036854775807,-9223372036854775808],"f":[1.0,-0.0,0.1,1e+16,1.5e-07,'
                .. '1.2345678901234568e+16,5e-324],"s":["","\\"\\\\\\b\\f\\n\\r\\t\\u0000\\u001f","é😀"],'
                .. '"n":[null,{"x":null}],"e":[[],{}],"b":[true,false]}'
            local v = decode_ok(text)
            assert.are.equal(text, enc(v))
            assert.is_true(same(v, decode_ok(enc(v))))
            assert.is_true(same(v, decode_ok(enc(v, { indent = 2 }))))
        end)

        it("re-encodes the fixtures' values to the same value", function()
            for _, name in ipairs({ "CGAP_WGS_trio", "CGAP_WGS_trio_scatter", "SMaHT_WGS_trio_scatter_ff",
                "CGAP_WGS_trio_scatter_import_ExtraShard" }) do
                local f = assert(io.open("spec/fixtures/" .. name .. ".run.json", "rb"))
                local v = decode_ok(f:read("a"))
                f:close()
                assert.is_true(same(v, decode_ok(enc(v))))
                assert.are.equal(enc(v), enc(decode_ok(enc(v, { indent = 2 }))))
            end
        end)
    end)
end)

describe("magma.json helpers", function()
    it("json.array(t) sets the array metatable and returns t", function()
        local t = { 1, 2 }
        assert.are.equal(t, json.array(t))
        assert.is_true(json.is_array(t))
        assert.is_true(json.is_array(json.array()))
        assert.has_error(function() json.array(1) end)
    end)

    it("json.object(t) sets the empty shape and returns t", function()
        local t = { a = 1 }
        assert.are.equal(t, json.object(t))
        assert.is_true(json.is_object(t))
        assert.is_true(json.is_object(json.object()))
        assert.has_error(function() json.object("x") end)
    end)

    it("is_array and is_object answer false for other values", function()
        for _, v in ipairs({ {}, 1, "s", true, null, setmetatable({}, { __name = "x" }) }) do
            assert.is_false(json.is_array(v))
            assert.is_false(json.is_object(v))
        end
    end)

    it("exposes a small API", function()
        local names = {}
        for k in pairs(json) do names[#names + 1] = k end
        table.sort(names)
        assert.are.same({ "array", "decode", "encode", "is_array", "is_object", "null", "object" }, names)
    end)
end)
