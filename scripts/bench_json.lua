-- Quick timing of magma.json against lua-cjson on a generated run document.
--   LUA_PATH='lua/?.lua;;' LUA_CPATH='build/?.so;;' lua5.4 scripts/bench_json.lua [SHARDS [REPS]]
-- Prints the best of REPS (5) for decode and encode, and the Lua heap held by the decoded value.
local json = require "magma.json"
local cjson = require "cjson"

local nshards = tonumber(arg[1]) or 100000
local REPS = tonumber(arg[2]) or 5
local statuses = { "completed", "running", "pending", "failed" }
local runs = {}
for i = 1, nshards do
    local step = "workflow_step-" .. (i % 40)
    local r = { name = step, status = statuses[i % 4 + 1], shard = tostring(i // 40) .. ":" .. i % 7 }
    if i % 3 == 0 then r.dependencies = { "workflow_step-" .. (i % 17) .. ":" .. i % 5, "workflow_other:" .. i } end
    if i % 4 == 1 then
        r.output = { { argument_name = "raw_bam", files = "uuid-raw_bam-" .. i .. "-0000-1111-2222" } }
        r.jobid = string.format("%012x", i * 7919)
        r.cost = i * 0.013
    end
    runs[i] = r
end
local doc = { meta_workflow = "UUID", final_status = "running", workflow_runs = runs,
    input = { { argument_name = "sample_name", argument_type = "parameter", value = "A\"VALUE\n" } } }
local text = assert(json.encode(doc, { indent = 2 }))
local compact = assert(json.encode(doc))
print(string.format("document: %d shards, %.1f MB indented, %.1f MB compact", nshards, #text / 1e6,
    #compact / 1e6))

local function best(f)
    local t = math.huge
    for _ = 1, REPS do
        collectgarbage() collectgarbage()
        local c = os.clock()
        f()
        t = math.min(t, os.clock() - c)
    end
    return t
end

local function heap_of(decode)
    collectgarbage() collectgarbage()
    local before = collectgarbage("count")
    local v = decode(text)
    collectgarbage() collectgarbage()
    local kb = collectgarbage("count") - before
    return kb / 1024, v
end

local mj_mb, mv = heap_of(json.decode)
local cj_mb, cv = heap_of(cjson.decode)
local t_md = best(function() return json.decode(text) end)
local t_cd = best(function() return cjson.decode(text) end)
local t_me = best(function() return json.encode(mv) end)
local t_ce = best(function() return cjson.encode(cv) end)
local t_mi = best(function() return json.encode(mv, { indent = 2 }) end)
print(string.format("decode   magma %.3fs  cjson %.3fs  ratio %.2f", t_md, t_cd, t_md / t_cd))
print(string.format("encode   magma %.3fs  cjson %.3fs  ratio %.2f (indent=2: %.3fs)", t_me, t_ce,
    t_me / t_ce, t_mi))
print(string.format("heap     magma %.1f MB  cjson %.1f MB  ratio %.2f", mj_mb, cj_mb, mj_mb / cj_mb))
assert(json.encode(mv, { indent = 2 }) == text, "round trip changed the text")
