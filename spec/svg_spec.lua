-- Specs of magma.svg: Gantt charts (SVG) and the text timeline. Well-formedness and the
-- values of attributes are checked by an independent XML parser, Python's
-- xml.dom.minidom: python3 must be installed, without it this spec fails, it does not skip.

local svg = require "magma.svg"
local xml = require "support.xml"
local count = require("support.text").count

-- Per text, the elements that carry data-shard, {tag =, class =, shard =, ...} (support.xml).
local function parse_xml(...) return xml.parse("data-shard", ...) end

-- Bars (class "bar ...") by data-shard: {[shard] = {outcome, ...}}, and their total.
local function bars_of(elements)
  local by, n = {}, 0
  for _, e in ipairs(elements) do
    local outcome = e.class:match("^bar (%a+)$")
    if e.tag == "rect" and outcome then
      by[e.shard] = by[e.shard] or {}
      table.insert(by[e.shard], outcome)
      n = n + 1
    end
  end
  return by, n
end

-- A small timeline: retries, a failure, one attempt still running at the end.
local function small()
  return {
    title = "small run",
    makespan = 100,
    steps = { "bwa", "merge" },
    shards = {
      { shard = "bwa:0", step = "bwa", attempts = {
        { start = 0, finish = 20, outcome = "failed" },
        { start = 25, finish = 60, outcome = "completed" },
      } },
      { shard = "bwa:1", step = "bwa", attempts = { { start = 0, finish = 50, outcome = "completed" } } },
      { shard = "merge:0", step = "merge", attempts = { { start = 60, finish = 100, outcome = "running" } } },
    },
  }
end

-- n shards over the given steps, attempts from a fixed generator.
local function synthetic(n, steps)
  steps = steps or { "align", "merge" }
  local seed, shards = 7, {}
  local function rnd()
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed / 2147483648
  end
  for i = 1, n do
    local step = steps[(i - 1) % #steps + 1]
    local s = rnd() * 1000
    local attempts = {}
    if i % 7 == 0 then
      attempts[1] = { start = s, finish = s + 30, outcome = "failed" }
      s = s + 40
    end
    attempts[#attempts + 1] = { start = s, finish = s + 100 + rnd() * 200, outcome = i % 11 == 0 and "running" or "completed" }
    shards[i] = { shard = step .. ":" .. i, step = step, attempts = attempts }
  end
  return { title = n .. " shards", makespan = 1400, steps = steps, shards = shards }
end

describe("svg.gantt", function()
  it("is well-formed XML with a viewBox, a size and a sans-serif font", function()
    local s = svg.gantt(small())
    parse_xml(s)
    assert.truthy(s:find('<svg xmlns="http://www.w3.org/2000/svg" width="%d+" height="%d+" viewBox="0 0 %d+ %d+"'))
    assert.truthy(s:find('font-family="sans-serif"', 1, true))
  end)

  it("draws one bar per attempt, with the shard in data-shard", function()
    local tl = synthetic(120)
    local by, n = bars_of(parse_xml(svg.gantt(tl)))
    local total = 0
    for _, sh in ipairs(tl.shards) do
      assert.are.equal(#sh.attempts, #(by[sh.shard] or {}), sh.shard)
      for k, a in ipairs(sh.attempts) do assert.are.equal(a.outcome, by[sh.shard][k]) end
      total = total + #sh.attempts
    end
    assert.are.equal(total, n)
  end)

  it("colours bars by outcome: completed green, failed red, running grey", function()
    local s = svg.gantt(small())
    local function rgb(hex) return tonumber(hex:sub(2, 3), 16), tonumber(hex:sub(4, 5), 16), tonumber(hex:sub(6, 7), 16) end
    local seen = {}
    for outcome, fill in s:gmatch('<rect class="bar (%a+)"[^>]- fill="(#%x+)"') do
      assert.are.equal(svg.COLORS[outcome], fill)
      seen[outcome] = true
    end
    assert.are.same({ completed = true, failed = true, running = true }, seen)
    local r, g, b = rgb(svg.COLORS.completed)
    assert.is_true(g > r and g > b)
    r, g, b = rgb(svg.COLORS.failed)
    assert.is_true(r > g and r > b)
    r, g, b = rgb(svg.COLORS.running)
    assert.is_true(r == g and g == b)
  end)

  it("escapes & < > \" in names and titles; the parser reads the names back", function()
    local names = { 'a&b:0', '<tag>:1', 'say "hi":2', "it's & <all> \"x\":3" }
    local tl = { title = 'A & <B> "C"', makespan = 10, shards = {} }
    for i, n in ipairs(names) do
      tl.shards[i] = { shard = n, step = n:match("^(.*):"), attempts = { { start = i, finish = i + 2, outcome = "completed" } } }
    end
    for _, lanes in ipairs { "shard", "step" } do
      local s = svg.gantt(tl, { lanes = lanes })
      local by = bars_of(parse_xml(s))
      for _, n in ipairs(names) do assert.are.equal(1, #(by[n] or {}), n) end
      assert.falsy(s:find('A & <B>', 1, true))
      assert.truthy(s:find('A &amp; &lt;B&gt; &quot;C&quot;', 1, true))
    end
  end)

  it("keeps the XML valid for control characters and bytes that are not UTF-8", function()
    local tl = { title = "bad\1\255title", makespan = 5,
      shards = { { shard = "x\0y\2\200:0", step = "x", attempts = { { start = 0, finish = 1, outcome = "failed" } } } } }
    local by = bars_of(parse_xml(svg.gantt(tl)))
    assert.are.same({ "failed" }, by["x?y??:0"])
  end)

  it("is deterministic: the same timeline gives the same bytes", function()
    local a = svg.gantt(synthetic(300))
    assert.are.equal(a, svg.gantt(synthetic(300)))
    assert.are.equal(svg.gantt(small(), { lanes = "step" }), svg.gantt(small(), { lanes = "step" }))
  end)

  it("truncates long lane labels with an ellipsis and keeps the full name in a <title>", function()
    local long = string.rep("workflow_very_long_step_name_", 4) .. ":17"
    local tl = { makespan = 10, shards = { { shard = long, step = "s", attempts = { { start = 0, finish = 5, outcome = "completed" } } } } }
    local s = svg.gantt(tl)
    parse_xml(s)
    local label = s:match('<text class="lane"[^>]*><title>([^<]*)</title>([^<]*)</text>')
    assert.are.equal(long, label)
    local shown = select(2, s:match('<text class="lane"[^>]*><title>([^<]*)</title>([^<]*)</text>'))
    assert.truthy(shown:find("…", 1, true))
    assert.truthy(shown:find(":17$")) -- cut in the middle: the shard number stays
    assert.is_true(utf8.len(shown) < utf8.len(long))
  end)

  it("labels the time axis with nice values, in seconds, minutes or hours", function()
    local labels = function(span)
      local t = {}
      for _, tick in ipairs(svg.ticks(span, 8)) do t[#t + 1] = tick.label end
      return table.concat(t, ",")
    end
    assert.are.equal("0 s,15 s,30 s,45 s,60 s,75 s,90 s", labels(100))
    assert.are.equal("0 s,0.5 s,1 s,1.5 s,2 s", labels(2.2))
    assert.are.equal("0 min,15 min,30 min,45 min,60 min,75 min,90 min,105 min,120 min", labels(7200))
    assert.are.equal("0 h,12 h,24 h,36 h,48 h,60 h,72 h", labels(3 * 86400))
    local s = svg.gantt(small())
    assert.truthy(s:find(">45 s</text>", 1, true))
  end)

  it("draws an attempt without finish up to the makespan", function()
    local tl = small()
    tl.shards[3].attempts[1].finish = nil
    assert.are.equal(svg.gantt(small()), svg.gantt(tl))
  end)

  it("draws an empty timeline", function()
    local s = svg.gantt({ title = "nothing", makespan = 0, shards = {} })
    parse_xml(s)
    assert.truthy(s:find("no shards", 1, true))
  end)

  it("has a title and a legend", function()
    local s = svg.gantt(small())
    assert.truthy(s:find('<text class="title"[^>]*>small run</text>'))
    for _, o in ipairs { "completed", "failed", "running" } do
      assert.truthy(s:find('<rect class="legend ' .. o .. '"', 1, true), o)
    end
  end)

  it("uses shard lanes up to 150 shards and step lanes above, unless told", function()
    local function lanes(s) return count(s, '<text class="lane"') end
    assert.are.equal(150, lanes(svg.gantt(synthetic(150))))
    assert.are.equal(2, lanes(svg.gantt(synthetic(151))))
    assert.are.equal(151, lanes(svg.gantt(synthetic(151), { lanes = "shard" })))
    assert.are.equal(2, lanes(svg.gantt(synthetic(10), { lanes = "step" })))
    assert.has_error(function() svg.gantt(small(), { lanes = "bogus" }) end)
  end)

  it("packs the attempts of a small step into sub-rows: still one bar per attempt", function()
    local by, n = bars_of(parse_xml(svg.gantt(small(), { lanes = "step" })))
    assert.are.equal(4, n)
    assert.are.same({ "failed", "completed" }, by["bwa:0"])
  end)

  it("draws a big step as its concurrency profile, one path per outcome", function()
    local s = svg.gantt(synthetic(2000))
    parse_xml(s)
    assert.are.equal(0, count(s, 'class="bar '))
    for _, step in ipairs { "align", "merge" } do
      for _, o in ipairs { "completed", "failed", "running" } do
        assert.truthy(s:find('<path class="profile ' .. o .. '" data-step="' .. step .. '"', 1, true), step .. " " .. o)
      end
    end
    assert.truthy(s:find("1000 shards, up to ~", 1, true))
  end)

  it("stays small for 1M shards in step lanes, its size set by the steps, not the shards", function()
    -- 1M shards, built fast: shard records are shared (the chart never compares them).
    local function shared(n)
      local pool = synthetic(997, { "align", "merge-readgroups", "call" }).shards
      local shards = {}
      for i = 1, n do shards[i] = pool[(i - 1) % #pool + 1] end
      return { title = n .. " shards", makespan = 1400, steps = { "align", "merge-readgroups", "call" }, shards = shards }
    end
    local t0 = os.clock()
    local big = svg.gantt(shared(1000000))
    local elapsed = os.clock() - t0
    local small_one = svg.gantt(shared(20000))
    parse_xml(big)
    assert.is_true(#big < 200 * 1024, "1M shards: " .. #big .. " bytes")
    assert.is_true(#big < 1.5 * #small_one, ("20k: %d bytes, 1M: %d bytes"):format(#small_one, #big))
    assert.is_true(elapsed < 8, "1M shards took " .. elapsed .. " s")
  end)
end)

describe("svg.gantt_pair", function()
  it("stacks two charts, each with its title, in one well-formed SVG", function()
    local a, b = small(), synthetic(20)
    a.title, b.title = "policy A & co", "policy <B>"
    local s = svg.gantt_pair(a, b)
    local _, n = bars_of(parse_xml(s))
    assert.are.equal(4 + 20 + 2, n) -- 20 shards, 2 of them with a failed attempt first
    assert.truthy(s:find(">policy A &amp; co</text>", 1, true))
    assert.truthy(s:find(">policy &lt;B&gt;</text>", 1, true))
    assert.are.equal(2, count(s, '<g class="chart">'))
    assert.are.equal(1, count(s, "<svg "))
  end)

  it("puts both charts on one time scale: the shorter run's end is marked", function()
    local a, b = small(), small()
    b.makespan = 200
    local s = svg.gantt_pair(a, b)
    assert.are.equal(1, count(s, '<line class="end"'))
    assert.are.equal(s, svg.gantt_pair(a, b))
  end)

  it("chooses step lanes for both when either is big", function()
    local s = svg.gantt_pair(small(), synthetic(400))
    assert.are.equal(2 + 2, count(s, '<text class="lane"'))
  end)
end)

describe("svg.text_timeline", function()
  it("draws a line per shard, a bar per attempt, an axis and a legend", function()
    local text = svg.text_timeline(small(), 60)
    assert.are.equal(table.concat({
      "small run",
      "makespan 1m40s, 3 shards",
      "bwa:0   |xxxxxxxxxx  ==================                    |",
      "bwa:1   |=========================                         |",
      "merge:0 |                              --------------------|",
      "        +---------------+--------------+--------------+----+",
      "        0 s             30 s           60 s           90 s",
      "= completed  x failed  - running at the end  (1 column = 2 s)",
    }, "\n") .. "\n", text)
  end)

  it("makes every shard line `width` characters long and truncates long names", function()
    local tl = synthetic(5)
    tl.shards[1].shard = string.rep("n", 80) .. ":1"
    local text = svg.text_timeline(tl, 72)
    local lines = {}
    for line in text:gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
    assert.are.equal(5 + 5, #lines)
    for i = 3, 7 do assert.are.equal(72, utf8.len(lines[i]), lines[i]) end
    assert.truthy(lines[3]:find("…", 1, true))
  end)

  it("keeps a failure visible where a retry starts in the same column", function()
    local tl = { makespan = 100, shards = { { shard = "s:0", attempts = {
      { start = 0, finish = 1, outcome = "failed" }, { start = 1, finish = 100, outcome = "completed" } } } } }
    local line = svg.text_timeline(tl, 40):match("s:0 +|([^|]*)|")
    assert.are.equal("x", line:sub(1, 1))
    assert.are.equal(string.rep("=", #line - 1), line:sub(2))
  end)
end)
