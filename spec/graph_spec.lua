-- Specs of magma.graph: a run's shards and dependencies as DOT, Mermaid and SVG. The SVG is
-- checked by an independent XML parser, Python's xml.dom.minidom: python3 must be
-- installed, without it this spec fails, it does not skip.

local magma = require "magma"
local graph = require "magma.graph"
local MWR = require("magma.metawflrun").MetaWorkflowRun
local xml = require "support.xml"
local support_text = require "support.text"
local count, lines_of = support_text.count, support_text.lines

local FIXTURES = (debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./") .. "fixtures/"

local function load(name)
  return assert(magma.load(FIXTURES .. name))
end

-- A run from records {name, shard, status, deps}.
local function run_of(records)
  local runs = {}
  for i, r in ipairs(records) do
    runs[i] = { name = r[1], shard = r[2], status = r[3], dependencies = r[4] }
  end
  return MWR { meta_workflow = "mwf-1", input = {}, final_status = "pending", workflow_runs = runs }
end

-- Per text, the elements that carry a class, {tag =, class =, shard =, dash =} (support.xml).
local function parse_xml(...) return xml.parse("class", ...) end

-- Nodes of a parsed SVG by data-shard: {[shard] = element}; and the elements of a class.
local function nodes_of(elements)
  local by = {}
  for _, e in ipairs(elements) do
    if e.class:match("^node ") and e.shard ~= "" then by[e.shard] = e end
  end
  return by
end

local function with_class(elements, class)
  local list = {}
  for _, e in ipairs(elements) do
    if (" " .. e.class .. " "):find(" " .. class .. " ", 1, true) then list[#list + 1] = e end
  end
  return list
end

local function exactly(elements, class)
  local list = {}
  for _, e in ipairs(elements) do
    if e.class == class then list[#list + 1] = e end
  end
  return list
end

-- Fails instead of hanging: an error after `n` VM instructions.
local function bounded(n, fn)
  local steps = 0
  debug.sethook(function()
    steps = steps + 1
    if steps > n / 1000 then error("did not finish") end
  end, "", 1000)
  local ok, err = pcall(fn)
  debug.sethook()
  assert(ok, err)
  return err
end

local CYCLE = {
  { "a", "0", "completed", { "c:0" } },
  { "b", "0", "failed", { "a:0" } },
  { "c", "0", "running", { "b:0" } },
  { "d", "0", "pending", { "c:0" } },
}

describe("graph.render dot", function()
  local run = load("CGAP_WGS_trio.run.json")
  local dot = graph.render(run, "dot")

  it("is a digraph with every shard as a node, coloured by status", function()
    assert.truthy(dot:match("^digraph magma {\n"))
    assert.truthy(dot:match("}\n$"))
    for sn, wfr in pairs(run.runs) do
      local fill = dot:match('\n +"' .. sn:gsub("%p", "%%%0") .. '" %[label="[^"]*", fillcolor="(#%x+)"')
      assert.are.equal(graph.COLORS[graph.class_of(wfr.status)].fill, fill, sn)
    end
  end)

  it("has an edge from each dependency to its dependent", function()
    local n = 0
    for sn, wfr in pairs(run.runs) do
      for _, dep in ipairs(wfr.dependencies) do
        assert.truthy(dot:find('  "' .. dep .. '" -> "' .. sn .. '";', 1, true), dep .. " -> " .. sn)
        n = n + 1
      end
    end
    assert.are.equal(n, count(dot, " -> ", true))
  end)

  it("has a cluster per step, labelled with the step", function()
    local steps = run:steps()
    assert.are.equal(#steps, count(dot, 'subgraph "cluster_', true))
    for k, step in ipairs(steps) do
      assert.truthy(dot:find(('subgraph "cluster_%d" {\n    label="%s";'):format(k, step), 1, true), step)
    end
  end)

  it("draws a dependency naming no shard as a dashed node marked missing", function()
    local d = graph.render(load("CGAP_WGS_trio_scatter_import_ExtraShard.run.json"), "dot")
    local sn = "workflow_bwa-mem_no_unzip-check:2:3"
    assert.truthy(d:find('"' .. sn .. '" [label="missing\\n2:3", style="rounded,dashed"', 1, true))
    assert.truthy(d:find('"' .. sn .. '" -> "workflow_add-readgroups-check:2:3" [style=dashed', 1, true))
  end)

  it("quotes names with \" and \\ in them", function()
    local d = graph.render(run_of { { 'say "hi"', "0", "pending" }, { "back\\slash", "0", "pending", { 'say "hi":0' } } }, "dot")
    assert.truthy(d:find('  "say \\"hi\\":0" -> "back\\\\slash:0";', 1, true))
  end)
end)

describe("graph.render mermaid", function()
  local run = load("CGAP_WGS_trio.run.json")
  local text = graph.render(run, "mermaid")
  local lines = lines_of(text)

  it("is a flowchart LR with a subgraph per step and a node line per shard", function()
    assert.are.equal("flowchart LR", lines[1])
    local steps = run:steps()
    for k, step in ipairs(steps) do
      assert.truthy(text:find(('\n  subgraph s%d["%s"]\n'):format(k, step), 1, true), step)
    end
    assert.are.equal(#steps, count(text, "\n  end\n", true))
    local i = 0
    for _, wfr in pairs(run.runs) do
      i = i + 1
      assert.truthy(text:find(('\n    n%d["%s"]:::%s\n'):format(i, wfr.shard, graph.class_of(wfr.status)), 1, true),
        wfr.shard_name)
    end
  end)

  it("has an edge line per dependency, between sanitised ids", function()
    local id, i = {}, 0
    for sn in pairs(run.runs) do
      i = i + 1
      id[sn] = "n" .. i
    end
    local n = 0
    for sn, wfr in pairs(run.runs) do
      for _, dep in ipairs(wfr.dependencies) do
        assert.truthy(text:find("\n  " .. id[dep] .. " --> " .. id[sn] .. "\n", 1, true))
        n = n + 1
      end
    end
    assert.are.equal(n, count(text, " --> ", true))
    for _, line in ipairs(lines) do
      local a, b = line:match("^  (%S+) %-%-> (%S+)$")
      if a then assert.truthy(a:match("^n%d+$") and b:match("^n%d+$"), line) end
    end
  end)

  it("defines a class per status", function()
    for _, c in ipairs { "pending", "running", "completed", "failed", "other", "missing" } do
      assert.truthy(text:find("\n  classDef " .. c .. " fill:#%x+,stroke:#%x+"), c)
    end
  end)

  it("draws a missing dependency as a dashed node and link", function()
    local m = graph.render(load("CGAP_WGS_trio_scatter_import_ExtraShard.run.json"), "mermaid")
    assert.truthy(m:find('\n  m1["missing: workflow_bwa-mem_no_unzip-check:2:3"]:::missing\n', 1, true))
    assert.truthy(m:find("\n  m1 -.-> n13\n", 1, true))
    assert.truthy(m:find("classDef missing [^\n]*stroke%-dasharray"))
  end)

  it("writes \" < > & # in labels as entity codes", function()
    local m = graph.render(run_of { { 'a "b" <c> & #d', "0", "other status" } }, "mermaid")
    assert.truthy(m:find('subgraph s1["a #quot;b#quot; #lt;c#gt; #amp; #35;d"]', 1, true))
    assert.truthy(m:find('n1["0"]:::other', 1, true))
  end)
end)

describe("graph.render svg", function()
  it("is well-formed, with a node per shard coloured by status and an edge per dependency", function()
    local run = load("CGAP_WGS_trio.run.json")
    local s = graph.render(run, "svg")
    local elements = parse_xml(s)
    local nodes = nodes_of(elements)
    local edges = 0
    for sn, wfr in pairs(run.runs) do
      assert.are.equal("node " .. graph.class_of(wfr.status), nodes[sn] and nodes[sn].class, sn)
      edges = edges + #wfr.dependencies
    end
    assert.are.equal(edges, #with_class(elements, "edge"))
    assert.are.equal(31, #with_class(elements, "node"))
    for _, c in ipairs { "completed", "running", "pending" } do
      assert.truthy(s:find('<g class="node ' .. c .. '"[^>]*><title>[^<]*</title><rect [^>]*fill="'
        .. graph.COLORS[c].fill .. '"'), c)
    end
    assert.truthy(s:find('viewBox="0 0 ', 1, true) and s:find('font-family="sans-serif"', 1, true))
  end)

  it("puts a node in the column of its longest path from a root", function()
    local s = graph.render(run_of {
      { "a", "0", "completed" }, { "b", "0", "completed", { "a:0" } },
      { "c", "0", "pending", { "a:0", "b:0" } },
    }, "svg")
    local x = {}
    for sn, px in s:gmatch('data%-shard="([^"]+)"><title>[^<]*</title><rect x="([%d.]+)"') do x[sn] = tonumber(px) end
    assert.is_true(x["a:0"] < x["b:0"] and x["b:0"] < x["c:0"])
  end)

  it("draws a missing dependency as a dashed node", function()
    local s = graph.render(load("CGAP_WGS_trio_scatter_import_ExtraShard.run.json"), "svg")
    local elements = parse_xml(s)
    local missing = nodes_of(elements)["workflow_bwa-mem_no_unzip-check:2:3"]
    assert.are.equal("node missing", missing.class)
    assert.is_true(missing.dash)
    assert.are.equal(1, #exactly(elements, "node missing"))
    assert.are.equal(1, #exactly(elements, "edge missing"))
    assert.truthy(s:find("1 missing dependency", 1, true))
  end)

  it("escapes & < > \" in names; the parser reads them back", function()
    local names = { 'a & b', '<c>', 'say "hi"', "it's" }
    local records = {}
    for i, n in ipairs(names) do records[i] = { n, "0", "weird <&> \"status\"", i > 1 and { names[i - 1] .. ":0" } or nil } end
    local s = graph.render(run_of(records), "svg")
    local nodes = nodes_of(parse_xml(s))
    for _, n in ipairs(names) do assert.are.equal("node other", nodes[n .. ":0"] and nodes[n .. ":0"].class, n) end
  end)

  it("collapses a run of more than 500 shards to one node per step, and says so", function()
    local records = {}
    for i = 1, 600 do records[#records + 1] = { "align", tostring(i), i % 3 == 0 and "failed" or "completed" } end
    for i = 1, 300 do records[#records + 1] = { "merge", tostring(i), "pending", { "align:" .. (2 * i - 1), "align:" .. 2 * i } } end
    records[#records + 1] = { "joint", "0", "pending", { "merge:1", "merge:2", "nowhere:7" } }
    local s = graph.render(run_of(records), "svg")
    local elements = parse_xml(s)
    assert.are.equal(3, #exactly(elements, "node step"))
    assert.are.equal(1, #exactly(elements, "node step missing"))
    assert.are.equal(3, #with_class(elements, "edge")) -- align -> merge -> joint, missing -> joint
    assert.truthy(s:find("one node per step", 1, true))
    assert.truthy(s:find("600 shards: 400 completed, 200 failed", 1, true))
    assert.is_true(#s < 20000)
    local full = graph.render(run_of(records), "svg", { max_nodes = 1000 })
    assert.are.equal(901 + 1, #with_class(parse_xml(full), "node"))
  end)

  it("is deterministic", function()
    local run = load("CGAP_WGS_trio_scatter.run.json")
    for _, f in ipairs { "dot", "mermaid", "svg" } do
      assert.are.equal(graph.render(run, f), graph.render(load("CGAP_WGS_trio_scatter.run.json"), f))
    end
  end)
end)

describe("graph.render on a cycle", function()
  it("finishes in every format", function()
    local run = run_of(CYCLE)
    for _, f in ipairs { "dot", "mermaid", "svg" } do
      local s = bounded(1e7, function() return graph.render(run, f) end)
      assert.is_true(#s > 0)
    end
  end)

  it("draws the edge that closes the cycle dashed, and names it", function()
    local s = graph.render(run_of(CYCLE), "svg")
    local elements = parse_xml(s)
    local back = with_class(elements, "back")
    assert.are.equal(1, #back)
    assert.are.equal(4, #with_class(elements, "edge"))
    assert.truthy(s:find("1 edge closing a cycle", 1, true))
  end)

  it("finishes on a self-dependency and on a long chain", function()
    local records = { { "s", "0", "pending", { "s:0" } } }
    for i = 1, 400 do records[#records + 1] = { "chain", tostring(i), "pending", { i > 1 and "chain:" .. (i - 1) or "chain:400" } } end
    local s = bounded(1e8, function() return graph.render(run_of(records), "svg") end)
    parse_xml(s)
    assert.truthy(s:find("2 edges closing a cycle", 1, true))
  end)
end)

describe("graph.render", function()
  it("rejects an unknown format", function()
    local run = run_of(CYCLE)
    assert.has_error(function() graph.render(run, "png") end,
      'graph.render: format must be "dot", "mermaid" or "svg", got "png"')
  end)
end)
