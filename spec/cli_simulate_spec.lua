-- bin/magma simulate and bin/magma graph on the real fixtures: JSON and text output, the
-- SVG charts (parsed by python3's xml.dom.minidom: python3 is required, its absence fails),
-- exit codes and messages. Expected numbers on the CGAP trio are computed by hand (see
-- spec/simulate_spec.lua): 20 pending + 1 running shard of 1 s, sample 0 eight steps deep.
local H = require "cli_helper"
local xml = require "support.xml"
local text_count = require("support.text").count
local magma = require "magma"
local json = magma.json

local TRIO = "CGAP_WGS_trio.run.json"
local EXTRA = "CGAP_WGS_trio_scatter_import_ExtraShard.run.json"

local load, ok, ok_json = H.load, H.ok, H.ok_json

-- Occurrences of a plain string.
local function count(s, needle) return text_count(s, needle, true) end

-- Parses an SVG file with python3's xml.dom.minidom. Returns
-- { root = tag, ns = xmlns, charts = { {title =, bars = {shard -> count}, outcomes = {...}} },
--   bars = {shard -> count} (all charts), nodes = {shard -> class} (graph nodes) }.
local PARSE = [[
import json, sys, xml.dom.minidom as minidom
doc = minidom.parse(sys.argv[1])
root = doc.documentElement
def classes(e): return e.getAttribute("class").split()
def text(e): return "".join(n.data for n in e.childNodes if n.nodeType == n.TEXT_NODE)
def bars(e):
    out, outcomes = {}, {}
    for r in e.getElementsByTagName("rect"):
        c = classes(r)
        if "bar" in c and r.hasAttribute("data-shard"):
            s = r.getAttribute("data-shard")
            out[s] = out.get(s, 0) + 1
            for o in c:
                if o != "bar": outcomes[o] = outcomes.get(o, 0) + 1
    return out, outcomes
charts = []
for g in root.getElementsByTagName("g"):
    if "chart" in classes(g):
        title = [text(t) for t in g.getElementsByTagName("text") if "title" in classes(t)]
        b, o = bars(g)
        charts.append({"title": title[0] if title else None, "bars": b, "outcomes": o})
nodes = {}
for g in root.getElementsByTagName("g"):
    if "node" in classes(g) and g.hasAttribute("data-shard"):
        nodes[g.getAttribute("data-shard")] = [c for c in classes(g) if c != "node"][0]
allbars, _ = bars(root)
print(json.dumps({"root": root.tagName, "ns": root.getAttribute("xmlns"), "charts": charts,
                  "bars": allbars, "nodes": nodes}))
]]

local function parse_svg(path)
  local v = H.decode(xml.python(PARSE, { path }))
  assert.are.equal("svg", v.root)
  assert.are.equal("http://www.w3.org/2000/svg", v.ns)
  return v
end

local function sum(t)
  local n = 0
  for _, v in pairs(t) do n = n + v end
  return n
end

-- shard -> number of attempts, from a library simulation's timeline (shards with none left out)
local function attempts_by_shard(res)
  local out = {}
  for _, sh in ipairs(res.timeline.shards) do
    if #sh.attempts > 0 then out[sh.shard] = #sh.attempts end
  end
  return out
end

-- shard -> step, for a run file
local function step_by_shard(path)
  local out = {}
  for _, rec in ipairs(load(path):runs_to_json()) do out[rec.name .. ":" .. rec.shard] = rec.name end
  return out
end

describe("magma simulate", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  teardown(H.cleanup)

  local function policy(name, text)
    local path = dir .. "/" .. name
    H.write(path, text)
    return path
  end

  -- Two slots, retries, random failures: a schedule that depends on the seed.
  local FLAKY = [[
return {
  name = "flaky",
  max_running = 2,
  fails = { ["workflow_gatk-HaplotypeCaller"] = 0.5, ["workflow_sort-bam-check"] = 0.3 },
  retry = { max_attempts = 3, delay = 5, factor = 2 },
}
]]
  local WIDE = 'return { name = "wide", max_running = 8 }\n'

  describe("--json", function()
    it("one object with the results computed by hand on the CGAP trio", function()
      local run = H.copy_fixture(TRIO, dir)
      local before = H.read(run)
      local res = ok_json(H.magma { "simulate", run, "--policy", policy("wide.lua", WIDE), "--json" })
      assert.are.equal(8, res.makespan)
      assert.are.equal(21, res.launches)
      assert.are.equal(0, res.retries)
      assert.are.equal(3, res.peak_running)
      assert.are.equal("completed", res.final_status)
      assert.are.equal(21, res.total_shard_time)
      assert.are.equal(21 / 8, res.mean_running)
      assert.are.equal(0, res.failed_for_good)
      assert.are.equal("wide", res.policy)
      assert.are.equal(1, res.seed)
      assert.are.equal(8, #res.critical_path)
      assert.are.equal("workflow_gatk-CombineGVCFs:0", res.critical_path[8].shard)
      assert.are.equal(9, #res.steps)
      assert.is_nil(res.timeline)
      assert.are.equal(before, H.read(run))
    end)

    it("is what magma.simulate gives for the same policy file and seed", function()
      local run = H.copy_fixture(TRIO, dir)
      local pol = policy("flaky.lua", FLAKY)
      local res = ok_json(H.magma { "simulate", run, "--policy", pol, "--seed", "4", "--json" })
      local lib = magma.simulate(load(run), assert(magma.policy.load(pol)), { seed = 4 })
      for _, k in ipairs { "makespan", "launches", "retries", "peak_running", "final_status",
        "failed_for_good", "total_shard_time", "mean_running", "seed" } do
        assert.are.equal(lib[k], res[k], k)
      end
      for i, s in ipairs(lib.steps) do
        assert.are.equal(s.step, res.steps[i].step)
        assert.are.equal(s.launches, res.steps[i].launches)
        assert.are.equal(s.failures, res.steps[i].failures)
      end
    end)

    it("the same seed gives the same stdout; another seed another schedule", function()
      local run = H.copy_fixture(TRIO, dir)
      local pol = policy("flaky.lua", FLAKY)
      local a = ok(H.magma { "simulate", run, "--policy", pol, "--seed", "7", "--json" }).out
      local b = ok(H.magma { "simulate", run, "--policy", pol, "--seed", "7", "--json" }).out
      assert.are.equal(a, b)
      local t1 = ok(H.magma { "simulate", run, "--policy", pol, "--seed", "7" }).out
      local t2 = ok(H.magma { "simulate", run, "--policy", pol, "--seed", "7" }).out
      assert.are.equal(t1, t2)
      -- over a few seeds the schedules are not all the same
      local seen, distinct = {}, 0
      for seed = 1, 4 do
        local r = ok_json(H.magma { "simulate", run, "--policy", pol, "--seed", tostring(seed), "--json" })
        r.seed = nil
        local key = json.encode(r)
        if not seen[key] then distinct = distinct + 1 end
        seen[key] = true
      end
      assert.is_true(distinct > 1)
    end)

    it("--seed defaults to 1", function()
      local run = H.copy_fixture(TRIO, dir)
      local pol = policy("flaky.lua", FLAKY)
      assert.are.equal(ok(H.magma { "simulate", run, "--policy", pol, "--seed", "1", "--json" }).out,
        ok(H.magma { "simulate", run, "--policy", pol, "--json" }).out)
    end)

    it("--vs: {\"policies\": [A, B]}, in the order given", function()
      local run = H.copy_fixture(TRIO, dir)
      local out = ok_json(H.magma { "simulate", run, "--policy", policy("wide.lua", WIDE),
        "--vs", policy("one.lua", 'return { name = "one", max_running = 1 }'), "--json" })
      assert.are.equal(2, #out.policies)
      local a, b = out.policies[1], out.policies[2]
      assert.are.equal("wide", a.policy)
      assert.are.equal("one", b.policy)
      assert.are.equal(8, a.makespan)
      -- one slot: 21 shards of 1 s one after the other
      assert.are.equal(21, b.makespan)
      assert.are.equal(1, b.peak_running)
      for _, r in ipairs(out.policies) do
        assert.are.equal(21, r.launches)
        assert.are.equal(0, r.retries)
        assert.are.equal("completed", r.final_status)
      end
    end)

    it("--until stops the clock: makespan T, final_status running", function()
      local run = H.copy_fixture(TRIO, dir)
      local res = ok_json(H.magma { "simulate", run, "--policy", policy("wide.lua", WIDE),
        "--until", "2.5", "--json" })
      -- launched at 0, 1, 2 (3 each), those of 2 still running at 2.5
      assert.are.equal(2.5, res.makespan)
      assert.are.equal(9, res.launches)
      assert.are.equal("running", res.final_status)
      assert.are.equal(6 + 1.5, res.total_shard_time)
    end)

    it("the built-in policies run on the CGAP trio", function()
      local run = H.copy_fixture(TRIO, dir)
      for _, name in ipairs { "magma", "per_step", "retry" } do
        local res = ok_json(H.magma { "simulate", run, "--policy",
          "lua/magma/policies/" .. name .. ".lua", "--json" })
        assert.are.equal(name, res.policy)
        assert.are.equal(8, res.makespan)
        assert.are.equal("completed", res.final_status)
      end
    end)
  end)

  describe("text output", function()
    it("names the run, the seed and the policy, with the summary rows", function()
      local run = H.copy_fixture(TRIO, dir)
      local res = ok(H.magma { "simulate", run, "--policy", policy("wide.lua", WIDE), "--seed", "3" })
      assert.matches(run .. ": 31 shards, seed 3", res.out, 1, true)
      for _, row in ipairs { "makespan", "total shard time", "peak running", "mean running",
        "launches", "retries", "failed for good", "final_status", "critical path" } do
        assert.matches("\n" .. row, res.out, 1, true)
      end
      assert.matches("\nlaunches +21\n", res.out)
      assert.matches("\nfinal_status +completed\n", res.out)
      assert.matches("wide: per step", res.out, 1, true)
    end)

    it("--vs names both policies", function()
      local run = H.copy_fixture(TRIO, dir)
      local res = ok(H.magma { "simulate", run, "--policy", policy("flaky.lua", FLAKY),
        "--vs", policy("wide.lua", WIDE) })
      assert.matches("\n +flaky +wide\n", res.out)
      assert.matches("flaky: per step", res.out, 1, true)
      assert.matches("wide: per step", res.out, 1, true)
    end)

    it("--vs with two policies of the same name tells them apart by file", function()
      local run = H.copy_fixture(TRIO, dir)
      local p1 = policy("a.lua", 'return { name = "same", max_running = 1 }')
      local p2 = policy("b.lua", 'return { name = "same", max_running = 2 }')
      local out = ok_json(H.magma { "simulate", run, "--policy", p1, "--vs", p2, "--json" })
      assert.are.equal(p1, out.policies[1].policy)
      assert.are.equal(p2, out.policies[2].policy)
    end)
  end)

  describe("--svg", function()
    it("writes a well-formed SVG with one bar per attempt", function()
      local run = H.copy_fixture(TRIO, dir)
      local pol = policy("flaky.lua", FLAKY)
      local svg = dir .. "/chart.svg"
      local res = ok_json(H.magma { "simulate", run, "--policy", pol, "--seed", "2", "--svg", svg,
        "--json" })
      assert.is_true(res.retries > 0)
      local doc = parse_svg(svg)
      assert.are.equal(1, #doc.charts)
      assert.are.equal("flaky (seed 2)", doc.charts[1].title)
      -- as many bars as launches, per step as many as the step's launches
      assert.are.equal(res.launches, sum(doc.bars))
      local steps = step_by_shard(run)
      local per_step = {}
      for sn, n in pairs(doc.bars) do
        assert.is_not_nil(steps[sn], sn)
        per_step[steps[sn]] = (per_step[steps[sn]] or 0) + n
      end
      for _, s in ipairs(res.steps) do
        assert.are.equal(s.launches, per_step[s.step] or 0, s.step)
      end
      -- per shard, as many bars as the shard's attempts in the timeline of the same simulation
      local lib = magma.simulate(load(run), assert(magma.policy.load(pol)), { seed = 2 })
      assert.are.same(attempts_by_shard(lib), doc.bars)
      -- failed attempts are drawn as failed bars
      local failures = 0
      for _, s in ipairs(res.steps) do failures = failures + s.failures end
      assert.are.equal(failures, doc.charts[1].outcomes.failed or 0)
    end)

    it("the same seed writes the same bytes", function()
      local run = H.copy_fixture(TRIO, dir)
      local pol = policy("flaky.lua", FLAKY)
      ok(H.magma { "simulate", run, "--policy", pol, "--seed", "5", "--svg", dir .. "/a.svg" })
      ok(H.magma { "simulate", run, "--policy", pol, "--seed", "5", "--svg", dir .. "/b.svg" })
      assert.are.equal(H.read(dir .. "/a.svg"), H.read(dir .. "/b.svg"))
    end)

    it("the text output says where the chart went", function()
      local run = H.copy_fixture(TRIO, dir)
      local svg = dir .. "/c.svg"
      local res = ok(H.magma { "simulate", run, "--policy", policy("wide.lua", WIDE), "--svg", svg })
      assert.matches("Gantt chart written to " .. svg, res.out, 1, true)
      parse_svg(svg)
    end)

    it("--vs writes both charts in one SVG, both titles present", function()
      local run = H.copy_fixture(TRIO, dir)
      local svg = dir .. "/pair.svg"
      local out = ok_json(H.magma { "simulate", run, "--policy", policy("flaky.lua", FLAKY),
        "--vs", policy("wide.lua", WIDE), "--seed", "3", "--svg", svg, "--json" })
      local doc = parse_svg(svg)
      assert.are.equal(2, #doc.charts)
      assert.are.equal("flaky (seed 3)", doc.charts[1].title)
      assert.are.equal("wide (seed 3)", doc.charts[2].title)
      assert.are.equal(out.policies[1].launches, sum(doc.charts[1].bars))
      assert.are.equal(out.policies[2].launches, sum(doc.charts[2].bars))
    end)

    it("--until draws the attempts still open as running bars", function()
      local run = H.copy_fixture(TRIO, dir)
      local svg = dir .. "/until.svg"
      ok(H.magma { "simulate", run, "--policy", policy("wide.lua", WIDE), "--until", "2.5",
        "--svg", svg })
      local doc = parse_svg(svg)
      assert.are.equal(9, sum(doc.bars))
      assert.are.equal(3, doc.charts[1].outcomes.running)
      assert.are.equal(6, doc.charts[1].outcomes.completed)
    end)

    it("an unwritable --svg path exits 2 naming it", function()
      local run = H.copy_fixture(TRIO, dir)
      local res = H.magma { "simulate", run, "--policy", policy("wide.lua", WIDE),
        "--svg", dir .. "/no/such/dir/x.svg" }
      assert.are.equal(2, res.code)
      assert.matches(dir .. "/no/such/dir/x.svg", res.err, 1, true)
    end)
  end)

  describe("bad input exits 2 with a message, writing nothing", function()
    local function bad(args, expected)
      local res = H.magma(args)
      assert.are.equal(2, res.code)
      assert.are.equal("", res.out)
      assert.matches("^magma simulate: ", res.err)
      assert.matches(expected, res.err, 1, true)
      return res
    end

    it("a missing --policy", function()
      local run = H.copy_fixture(TRIO, dir)
      bad({ "simulate", run, "--svg", dir .. "/x.svg" }, "--policy FILE is required")
      assert.is_false(H.exists(dir .. "/x.svg"))
    end)

    it("a policy file with an unknown entry, named, with a suggestion", function()
      local run = H.copy_fixture(TRIO, dir)
      local pol = policy("typo.lua", "return { max_runing = 3 }")
      bad({ "simulate", run, "--policy", pol, "--svg", dir .. "/x.svg" },
        'policy ' .. pol .. ': unknown entry "max_runing" (did you mean "max_running"?)')
      assert.is_false(H.exists(dir .. "/x.svg"))
    end)

    it("an unknown entry in the --vs policy", function()
      local run = H.copy_fixture(TRIO, dir)
      local pol = policy("typo.lua", "return { retry = { max_attemps = 3 } }")
      bad({ "simulate", run, "--policy", policy("wide.lua", WIDE), "--vs", pol },
        'unknown entry "retry.max_attemps"')
    end)

    it("a syntax error in the policy, with its line", function()
      local run = H.copy_fixture(TRIO, dir)
      local pol = policy("syntax.lua", "return {\n  max_running = = 2,\n}\n")
      bad({ "simulate", run, "--policy", pol }, pol .. ":2:")
    end)

    it("a policy file that does not exist", function()
      local run = H.copy_fixture(TRIO, dir)
      bad({ "simulate", run, "--policy", dir .. "/none.lua" }, dir .. "/none.lua")
    end)

    it("a missing run", function()
      bad({ "simulate", dir .. "/none.run.json", "--policy", policy("wide.lua", WIDE) },
        dir .. "/none.run.json: No such file or directory")
      assert.are.same({ "wide.lua" }, H.ls(dir))
    end)

    it("a seed that is not an integer, a negative --until", function()
      local run = H.copy_fixture(TRIO, dir)
      local pol = policy("wide.lua", WIDE)
      bad({ "simulate", run, "--policy", pol, "--seed", "1.5" }, "--seed")
      bad({ "simulate", run, "--policy", pol, "--until", "-1" }, "--until")
    end)
  end)

  describe("a policy raising an error", function()
    local BODY = table.concat({
      "return {",
      "  name = \"broken\",",
      "  duration = function(wfr)",
      "    if wfr.name == \"workflow_merge-bam-check\" then error(\"no estimate\") end",
      "    return 1",
      "  end,",
      "}",
    }, "\n") .. "\n"

    it("exits 1 naming file:line and the shard; no chart written", function()
      local run = H.copy_fixture(TRIO, dir)
      local before = H.read(run)
      local pol = policy("broken.lua", BODY)
      local svg = dir .. "/x.svg"
      local res = H.magma { "simulate", run, "--policy", pol, "--svg", svg, "--json" }
      assert.are.equal(1, res.code)
      assert.are.equal("", res.out)
      -- merge-bam 1 is ready at t=0, the first merge to launch
      assert.matches("^magma simulate: ", res.err)
      assert.matches(pol .. ":4: no estimate", res.err, 1, true)
      assert.matches('(in duration, shard "workflow_merge-bam-check:1")', res.err, 1, true)
      assert.is_false(H.exists(svg))
      assert.are.equal(before, H.read(run))
    end)

    it("in the --vs policy, the same", function()
      local run = H.copy_fixture(TRIO, dir)
      local pol = policy("broken.lua", BODY)
      local res = H.magma { "simulate", run, "--policy", policy("wide.lua", WIDE), "--vs", pol }
      assert.are.equal(1, res.code)
      assert.matches(pol .. ":4:", res.err, 1, true)
      assert.matches('shard "workflow_merge-bam-check:1"', res.err, 1, true)
    end)
  end)
end)

describe("magma graph", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  teardown(H.cleanup)

  -- every (dependency, shard) pair of the run at path
  local function edges(path)
    local out = {}
    for _, rec in ipairs(load(path):runs_to_json()) do
      for _, d in ipairs(rec.dependencies or {}) do
        out[#out + 1] = { d, rec.name .. ":" .. rec.shard }
      end
    end
    return out
  end

  it("dot (the default): every shard_name and every dependency edge", function()
    local run = H.copy_fixture(TRIO, dir)
    local out = ok(H.magma { "graph", run }).out
    assert.are.equal(out, ok(H.magma { "graph", run, "--format", "dot" }).out)
    assert.matches("^digraph ", out)
    assert.matches("}\n$", out)
    for sn in pairs(step_by_shard(run)) do
      assert.matches('"' .. sn .. '" [', out, 1, true)
    end
    local e = edges(run)
    assert.are.equal(33, #e)
    assert.are.equal(#e, count(out, " -> "))
    for _, pair in ipairs(e) do
      assert.matches('"' .. pair[1] .. '" -> "' .. pair[2] .. '"', out, 1, true)
    end
  end)

  it("mermaid: starts with flowchart, one subgraph per step, one arrow per dependency", function()
    local run = H.copy_fixture(TRIO, dir)
    local out = ok(H.magma { "graph", run, "--format", "mermaid" }).out
    assert.matches("^flowchart", out)
    for _, step in ipairs(load(run):steps()) do
      assert.matches('["' .. step .. '"]', out, 1, true)
    end
    assert.are.equal(33, count(out, " --> "))
  end)

  it("svg: parses, one node per shard, classed by status", function()
    local run = H.copy_fixture(TRIO, dir)
    local svg = dir .. "/g.svg"
    local res = ok(H.magma { "graph", run, "--format", "svg", "-o", svg })
    assert.are.equal("", res.out)
    local doc = parse_svg(svg)
    local expected = {}
    for _, rec in ipairs(load(run):runs_to_json()) do
      expected[rec.name .. ":" .. rec.shard] = rec.status
    end
    assert.are.same(expected, doc.nodes)
  end)

  it("-o FILE writes what stdout would show", function()
    local run = H.copy_fixture(TRIO, dir)
    for _, f in ipairs { "dot", "mermaid", "svg" } do
      local out = ok(H.magma { "graph", run, "-f", f }).out
      local file = dir .. "/out." .. f
      assert.are.equal("", ok(H.magma { "graph", run, "-f", f, "-o", file }).out)
      assert.are.equal(out, H.read(file))
    end
  end)

  it("a dependency naming no shard is drawn as a missing node", function()
    local run = H.copy_fixture(EXTRA, dir)
    local r = load(run)
    local ok_, problems = r:validate()
    assert.is_false(ok_)
    local missing = problems[1].dependency
    local dot = ok(H.magma { "graph", run }).out
    assert.matches('"' .. missing .. '" [label="missing', dot, 1, true)
    local svg = dir .. "/g.svg"
    ok(H.magma { "graph", run, "-f", "svg", "-o", svg })
    parse_svg(svg)
  end)

  it("the run is only read", function()
    local run = H.copy_fixture(TRIO, dir)
    local before = H.read(run)
    ok(H.magma { "graph", run, "-f", "svg" })
    assert.are.equal(before, H.read(run))
    assert.are.same({ TRIO }, H.ls(dir))
  end)

  it("a bad --format exits 2 naming it, and writes nothing", function()
    local run = H.copy_fixture(TRIO, dir)
    local res = H.magma { "graph", run, "--format", "png", "-o", dir .. "/g.png" }
    assert.are.equal(2, res.code)
    assert.are.equal("", res.out)
    assert.matches("--format must be dot, mermaid or svg, got 'png'", res.err, 1, true)
    assert.is_false(H.exists(dir .. "/g.png"))
  end)

  it("a missing run exits 2 naming it", function()
    local res = H.magma { "graph", dir .. "/none.json" }
    assert.are.equal(2, res.code)
    assert.matches(dir .. "/none.json: No such file or directory", res.err, 1, true)
  end)
end)
