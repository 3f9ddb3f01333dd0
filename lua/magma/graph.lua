-- magma.graph: the shards of a run and their dependencies, as DOT, Mermaid or SVG.
--
--   graph.render(run, format[, opts]) -> string      format: "dot" | "mermaid" | "svg"
--
-- `run` is a MetaWorkflowRun: shards are read with `for sn, wfr in pairs(run.runs)` (document
-- order) and `wfr.name`, `wfr.shard`, `wfr.status`, `wfr.dependencies`. Edges go from a
-- dependency to its dependent. Nodes are coloured by
-- status (pending grey, running blue, completed green, failed red, any other status
-- yellow) and grouped by step. A dependency that names no shard of the run is a dashed
-- node marked "missing".
--
-- The SVG is laid out here, without Graphviz: a node's column is the longest path to it
-- from a root (edges that close a cycle are found first, left out of the layering and
-- drawn dashed), nodes of a step sit together in a column. Above opts.max_nodes shards
-- (default 500) the SVG shows one node per step with its counts per status, and says so.
-- opts.title overrides the SVG's title.

local svg = require "magma.svg"

local graph = {}

local fmt, concat, max, min, floor = string.format, table.concat, math.max, math.min, math.floor
local esc, num = svg.escape, svg.num

graph.STATUSES = { "pending", "running", "completed", "failed", "other" }
graph.COLORS = {
  pending = { fill = "#e0e0e0", stroke = "#757575" },
  running = { fill = "#64b5f6", stroke = "#1565c0" },
  completed = { fill = "#81c784", stroke = "#2e7d32" },
  failed = { fill = "#e57373", stroke = "#c62828" },
  other = { fill = "#fff176", stroke = "#f9a825" },
  missing = { fill = "#ffffff", stroke = "#c62828" },
}

-- The colour class of a status.
function graph.class_of(status)
  if status == "pending" or status == "running" or status == "completed" or status == "failed" then
    return status
  end
  return "other"
end
local class_of = graph.class_of

---------------------------------------------------------------------------------------
-- The model: nodes (shards, then missing dependencies), edges, steps

-- The step a missing dependency would belong to: the longest step name that prefixes it
-- followed by ":".
local function step_for(dep, steps)
  local best
  for _, s in ipairs(steps) do
    if #dep > #s and dep:sub(1, #s + 1) == s .. ":" and (not best or #s > #best) then best = s end
  end
  return best
end

local function collect(run)
  if type(run) ~= "table" and type(run) ~= "userdata" then
    error(fmt("graph.render: argument #1 must be a MetaWorkflowRun, got %s", type(run)), 3)
  end
  local nodes, index, steps, step_index = {}, {}, {}, {}
  for sn, wfr in pairs(run.runs) do
    local step = wfr.name
    if step == nil then step = tostring(sn):match("^(.*):[^:]*$") or tostring(sn) end
    step = tostring(step)
    if not step_index[step] then
      steps[#steps + 1] = step
      step_index[step] = #steps
    end
    local shard = wfr.shard
    if shard == nil or shard == "" then shard = sn end
    local status = wfr.status
    local n = {
      i = #nodes + 1, sn = tostring(sn), step = step, label = tostring(shard),
      status = status == nil and "unknown" or tostring(status),
      deps = wfr.dependencies or {},
    }
    n.class = class_of(n.status)
    nodes[n.i] = n
    index[n.sn] = n.i
  end
  local nshards = #nodes
  local edges, missing = {}, 0
  for i = 1, nshards do
    local seen = {}
    for _, dep in ipairs(nodes[i].deps) do
      dep = tostring(dep)
      if not seen[dep] then
        seen[dep] = true
        local j = index[dep]
        if not j then
          local step = step_for(dep, steps)
          j = #nodes + 1
          nodes[j] = {
            i = j, sn = dep, missing = true, class = "missing", status = "missing",
            step = step, label = step and dep:sub(#step + 2) or dep, deps = {},
          }
          index[dep] = j
          missing = missing + 1
        end
        edges[#edges + 1] = { from = j, to = i }
      end
    end
  end
  return { nodes = nodes, nshards = nshards, edges = edges, steps = steps, step_index = step_index,
    missing = missing }
end

---------------------------------------------------------------------------------------
-- DOT

-- A DOT quoted string.
local function dq(s)
  s = svg.clean(s):gsub('[\\"]', "\\%0"):gsub("\n", "\\n")
  return '"' .. s .. '"'
end

local function render_dot(g)
  local out = {
    "digraph magma {",
    "  rankdir=LR;",
    '  node [shape=box, style="rounded,filled", fontname="sans-serif", fontsize=10];',
    '  edge [color="#666666", arrowsize=0.7];',
  }
  local by_step = {}
  for _, n in ipairs(g.nodes) do
    local key = n.step or ""
    by_step[key] = by_step[key] or {}
    local list = by_step[key]
    list[#list + 1] = n
  end
  local function node_line(n, indent)
    local c = graph.COLORS[n.class]
    if n.missing then
      return fmt('%s%s [label=%s, style="rounded,dashed", color="%s", fillcolor="%s", tooltip=%s];',
        indent, dq(n.sn), dq("missing\n" .. n.label), c.stroke, c.fill, dq(n.sn .. ": missing"))
    end
    return fmt('%s%s [label=%s, fillcolor="%s", color="%s", tooltip=%s];', indent, dq(n.sn), dq(n.label),
      c.fill, c.stroke, dq(n.sn .. ": " .. n.status))
  end
  for k, step in ipairs(g.steps) do
    out[#out + 1] = fmt('  subgraph "cluster_%d" {', k)
    out[#out + 1] = fmt('    label=%s; style="rounded"; color="#9e9e9e"; fontname="sans-serif"; fontsize=11;', dq(step))
    for _, n in ipairs(by_step[step]) do out[#out + 1] = node_line(n, "    ") end
    out[#out + 1] = "  }"
  end
  for _, n in ipairs(by_step[""] or {}) do out[#out + 1] = node_line(n, "  ") end
  for _, e in ipairs(g.edges) do
    local a, b = g.nodes[e.from], g.nodes[e.to]
    out[#out + 1] = fmt("  %s -> %s%s;", dq(a.sn), dq(b.sn), a.missing and ' [style=dashed, color="#c62828"]' or "")
  end
  out[#out + 1] = "}"
  return concat(out, "\n") .. "\n"
end

---------------------------------------------------------------------------------------
-- Mermaid

-- A Mermaid quoted label: entity codes for what Mermaid would read as syntax or HTML.
local MERMAID_ESC = { ["#"] = "#35;", ['"'] = "#quot;", ["<"] = "#lt;", [">"] = "#gt;", ["&"] = "#amp;" }
local function mq(s)
  s = svg.clean(s):gsub("[#\"<>&]", MERMAID_ESC):gsub("[\r\n\t]", " ")
  return '"' .. s .. '"'
end

local function render_mermaid(g)
  local out = { "flowchart LR" }
  local id = {}
  for _, n in ipairs(g.nodes) do id[n.i] = (n.missing and "m" .. (n.i - g.nshards) or "n" .. n.i) end
  local by_step = {}
  for _, n in ipairs(g.nodes) do
    if n.step and not n.missing then
      by_step[n.step] = by_step[n.step] or {}
      local list = by_step[n.step]
      list[#list + 1] = n
    end
  end
  for k, step in ipairs(g.steps) do
    out[#out + 1] = fmt("  subgraph s%d[%s]", k, mq(step))
    out[#out + 1] = "    direction TB"
    for _, n in ipairs(by_step[step]) do
      out[#out + 1] = fmt("    %s[%s]:::%s", id[n.i], mq(n.label), n.class)
    end
    out[#out + 1] = "  end"
  end
  for i = g.nshards + 1, #g.nodes do
    local n = g.nodes[i]
    out[#out + 1] = fmt("  %s[%s]:::missing", id[i], mq("missing: " .. n.sn))
  end
  for _, e in ipairs(g.edges) do
    out[#out + 1] = fmt("  %s %s %s", id[e.from], g.nodes[e.from].missing and "-.->" or "-->", id[e.to])
  end
  for _, c in ipairs(graph.STATUSES) do
    local col = graph.COLORS[c]
    out[#out + 1] = fmt("  classDef %s fill:%s,stroke:%s,color:#000000", c, col.fill, col.stroke)
  end
  out[#out + 1] = fmt("  classDef missing fill:%s,stroke:%s,stroke-dasharray:5 5,color:#000000",
    graph.COLORS.missing.fill, graph.COLORS.missing.stroke)
  return concat(out, "\n") .. "\n"
end

---------------------------------------------------------------------------------------
-- Layered layout

-- Edges that close a cycle (depth-first search in document order, no recursion): a set of
-- edge numbers.
local function back_edges(nn, edges)
  local succ = {}
  for i = 1, nn do succ[i] = {} end
  for k, e in ipairs(edges) do
    local s = succ[e.from]
    s[#s + 1] = k
  end
  local state, back = {}, {} -- state: nil unseen, 1 on the stack, 2 done
  for root = 1, nn do
    if not state[root] then
      local stack, pos = { root }, { 0 }
      state[root] = 1
      while #stack > 0 do
        local top = #stack
        local v = stack[top]
        local p = pos[top] + 1
        local ks = succ[v]
        if p > #ks then
          state[v] = 2
          stack[top], pos[top] = nil, nil
        else
          pos[top] = p
          local k = ks[p]
          local w = edges[k].to
          if state[w] == 1 then
            back[k] = true
          elseif not state[w] then
            state[w] = 1
            stack[top + 1], pos[top + 1] = w, 0
          end
        end
      end
    end
  end
  return back
end

-- Layer of each node: the longest path from a root over the edges not in `back`.
local function layers(nn, edges, back)
  local indeg, succ, layer = {}, {}, {}
  for i = 1, nn do indeg[i], succ[i], layer[i] = 0, {}, 0 end
  for k, e in ipairs(edges) do
    if not back[k] then
      indeg[e.to] = indeg[e.to] + 1
      local s = succ[e.from]
      s[#s + 1] = e.to
    end
  end
  local queue, head = {}, 1
  for i = 1, nn do
    if indeg[i] == 0 then queue[#queue + 1] = i end
  end
  while head <= #queue do
    local v = queue[head]
    head = head + 1
    for _, w in ipairs(succ[v]) do
      if layer[v] + 1 > layer[w] then layer[w] = layer[v] + 1 end
      indeg[w] = indeg[w] - 1
      if indeg[w] == 0 then queue[#queue + 1] = w end
    end
  end
  return layer
end

-- Columns: per layer, the nodes ordered by group (step), then by the mean position of
-- their predecessors, then document order. Returns cols[layer] = list of node numbers and
-- pos[node] = rank in its column.
local function columns(nodes, edges, layer, group_rank)
  local nl = 0
  for i = 1, #nodes do nl = max(nl, layer[i]) end
  local cols = {}
  for l = 0, nl do cols[l] = {} end
  for i = 1, #nodes do
    local c = cols[layer[i]]
    c[#c + 1] = i
  end
  local preds = {}
  for i = 1, #nodes do preds[i] = {} end
  for _, e in ipairs(edges) do
    local p = preds[e.to]
    p[#p + 1] = e.from
  end
  local pos = {}
  for l = 0, nl do
    local key = {}
    for _, i in ipairs(cols[l]) do
      local sum, n = 0, 0
      for _, p in ipairs(preds[i]) do
        if pos[p] then sum, n = sum + pos[p], n + 1 end
      end
      key[i] = n > 0 and sum / n or -1
    end
    table.sort(cols[l], function(a, b)
      local ga, gb = group_rank(a), group_rank(b)
      if ga ~= gb then return ga < gb end
      if key[a] ~= key[b] then return key[a] < key[b] end
      return a < b
    end)
    for r, i in ipairs(cols[l]) do pos[i] = r end
  end
  return cols, nl
end

---------------------------------------------------------------------------------------
-- SVG

local NODE_W, NODE_H, GAP_X, GAP_Y, GROUP_HEAD, GROUP_GAP = 150, 22, 70, 6, 18, 12
local TOP = 92

local function svg_header(out, w, h)
  out[#out + 1] = '<?xml version="1.0" encoding="UTF-8"?>\n'
  out[#out + 1] = fmt('<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" '
    .. 'font-family="sans-serif" font-size="11">\n', num(w), num(h), num(w), num(h))
  out[#out + 1] = '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
    .. 'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#666666"/></marker>'
    .. '<marker id="arrow-red" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
    .. 'orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#c62828"/></marker></defs>\n'
  out[#out + 1] = fmt('<rect class="background" x="0" y="0" width="%s" height="%s" fill="#ffffff"/>\n', num(w), num(h))
end

local function svg_legend(out, x, y)
  for _, c in ipairs(graph.STATUSES) do
    local col = graph.COLORS[c]
    local label = c == "other" and "other status" or c
    out[#out + 1] = fmt('<rect class="legend %s" x="%s" y="%s" width="14" height="11" rx="2" fill="%s" stroke="%s"/>'
      .. '<text x="%s" y="%s">%s</text>\n', c, num(x), num(y - 9), col.fill, col.stroke, num(x + 18), num(y), label)
    x = x + 30 + #label * 6.2
  end
  out[#out + 1] = fmt('<rect class="legend missing" x="%s" y="%s" width="14" height="11" rx="2" fill="#ffffff" '
    .. 'stroke="#c62828" stroke-dasharray="3 2"/><text x="%s" y="%s">missing dependency</text>\n',
    num(x), num(y - 9), num(x + 18), num(y))
  x = x + 150
  out[#out + 1] = fmt('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#c62828" stroke-dasharray="4 3"/>'
    .. '<text x="%s" y="%s">edge closing a cycle</text>\n', num(x), num(y - 4), num(x + 22), num(y - 4),
    num(x + 28), num(y))
end

local function edge_path(out, a, b, is_back, is_missing)
  local x1, y1 = a.x + a.w, a.y + a.h / 2
  local x2, y2 = b.x, b.y + b.h / 2
  local d
  if is_back then -- leaves the right of a, loops over, enters the left of b
    local ytop = min(a.y, b.y) - 44
    d = fmt("M%s,%s C%s,%s %s,%s %s,%s", num(x1), num(y1), num(x1 + 40), num(ytop), num(x2 - 40), num(ytop),
      num(x2), num(y2))
  else
    local dx = max(20, (x2 - x1) / 2)
    d = fmt("M%s,%s C%s,%s %s,%s %s,%s", num(x1), num(y1), num(x1 + dx), num(y1), num(x2 - dx), num(y2),
      num(x2), num(y2))
  end
  local red = is_back or is_missing
  out[#out + 1] = fmt('<path class="edge%s" d="%s" fill="none" stroke="%s" stroke-width="1"%s marker-end="url(#%s)"/>\n',
    is_back and " back" or (is_missing and " missing" or ""), d, red and "#c62828" or "#888888",
    red and ' stroke-dasharray="4 3"' or "", red and "arrow-red" or "arrow")
end

-- Lays out and draws items: list of {w, h, group, draw = function(out, item)}; edges:
-- list of {from, to, missing}.
local function draw_layered(out, items, edges, groups, top)
  local nn = #items
  local back = back_edges(nn, edges)
  if next(back) then top = top + 30 end -- room for the loops of back edges
  local layer = layers(nn, edges, back)
  -- A missing dependency sits in the column before its first dependent.
  local first = {}
  for _, e in ipairs(edges) do
    if items[e.from].pull then
      local l = layer[e.to] - 1
      if not first[e.from] or l < first[e.from] then first[e.from] = l end
    end
  end
  for i, l in pairs(first) do layer[i] = max(0, l) end
  local cols, nl = columns(items, edges, layer, function(i) return items[i].group_rank or 0 end)
  local width, height = 0, 0
  local x = 20
  local boxes = {}
  for l = 0, nl do
    local colw = 0
    for _, i in ipairs(cols[l]) do colw = max(colw, items[i].w) end
    local y, first, cur = top, true, nil
    for _, i in ipairs(cols[l]) do
      local it = items[i]
      local g = it.group
      if groups and (first or g ~= cur) then
        if not first then y = y + GROUP_GAP end
        first = false
        boxes[#boxes + 1] = { name = g, x = x - 6, y = y, w = colw + 12, top = y }
        y = y + GROUP_HEAD
        cur = g
      end
      it.x, it.y = x, y
      y = y + it.h + GAP_Y
      if groups then boxes[#boxes].h = y - boxes[#boxes].top + 2 end
    end
    height = max(height, y)
    x = x + colw + GAP_X
    width = max(width, x - GAP_X + 20)
  end
  for _, b in ipairs(boxes) do
    local label = b.name and svg.truncate(b.name, floor((b.w - 10) / 6.2), true) or "(missing)"
    out[#out + 1] = fmt('<g class="step"><title>%s</title><rect x="%s" y="%s" width="%s" height="%s" rx="6" '
      .. 'fill="#f5f5f5" stroke="#bdbdbd"/><text x="%s" y="%s" font-size="10" fill="#424242">%s</text></g>\n',
      esc(b.name or "missing dependencies"), num(b.x), num(b.y), num(b.w), num(b.h), num(b.x + 6), num(b.y + 13),
      esc(label))
  end
  for k, e in ipairs(edges) do
    edge_path(out, items[e.from], items[e.to], back[k], e.missing)
  end
  for _, it in ipairs(items) do it.draw(out, it) end
  local nback = 0
  for _ in pairs(back) do nback = nback + 1 end
  return width, height, nback
end

local function shard_items(g)
  local items = {}
  for _, n in ipairs(g.nodes) do
    local col = graph.COLORS[n.class]
    items[#items + 1] = {
      w = NODE_W, h = NODE_H, group = n.step, pull = n.missing,
      group_rank = n.step and g.step_index[n.step] or #g.steps + 1,
      draw = function(out, it)
        local label = svg.truncate(n.missing and ("missing " .. n.label) or n.label, 21, true)
        out[#out + 1] = fmt('<g class="node %s" data-shard="%s"><title>%s: %s</title><rect x="%s" y="%s" width="%s" '
          .. 'height="%s" rx="4" fill="%s" stroke="%s"%s/><text x="%s" y="%s" text-anchor="middle">%s</text></g>\n',
          n.class, esc(n.sn), esc(n.sn), esc(n.status), num(it.x), num(it.y), num(it.w), num(it.h), col.fill, col.stroke,
          n.missing and ' stroke-dasharray="4 3"' or "", num(it.x + it.w / 2), num(it.y + 15), esc(label))
      end,
    }
  end
  local edges = {}
  for _, e in ipairs(g.edges) do
    edges[#edges + 1] = { from = e.from, to = e.to, missing = g.nodes[e.from].missing }
  end
  return items, edges
end

-- One node per step, with its counts per status; missing dependencies as one node per
-- step they would belong to.
local function step_items(g)
  local items, idx, counts = {}, {}, {}
  local function item_of(n)
    local key = (n.missing and "\0missing\0" or "") .. (n.step or "")
    if idx[key] then return idx[key] end
    local it = { key = key, step = n.step, missing = n.missing, pull = n.missing, counts = {}, total = 0 }
    items[#items + 1] = it
    idx[key] = #items
    counts[#items] = it
    return #items
  end
  local node_item = {}
  for _, n in ipairs(g.nodes) do
    local k = item_of(n)
    node_item[n.i] = k
    local it = items[k]
    it.total = it.total + 1
    it.counts[n.class] = (it.counts[n.class] or 0) + 1
  end
  local edges, seen = {}, {}
  for _, e in ipairs(g.edges) do
    local a, b = node_item[e.from], node_item[e.to]
    if a ~= b then
      local key = a * (#items + 1) + b
      if not seen[key] then
        seen[key] = #edges + 1
        edges[#edges + 1] = { from = a, to = b, missing = items[a].missing, n = 0 }
      end
      local ed = edges[seen[key]]
      ed.n = ed.n + 1
    end
  end
  for _, it in ipairs(items) do
    it.w, it.h = 240, 60
    it.group_rank = (not it.missing and g.step_index[it.step]) or #g.steps + 1
    it.draw = function(out, t)
      local name = it.missing and ("missing: " .. (it.step or "?")) or it.step or ""
      local col = it.missing and graph.COLORS.missing or { fill = "#fafafa", stroke = "#757575" }
      local parts = {}
      for _, c in ipairs(graph.STATUSES) do
        if it.counts[c] then parts[#parts + 1] = fmt("%d %s", it.counts[c], c) end
      end
      local what = it.missing and fmt("%d missing dependenc%s", it.total, it.total == 1 and "y" or "ies")
        or fmt("%d shard%s: %s", it.total, it.total == 1 and "" or "s", concat(parts, ", "))
      out[#out + 1] = fmt('<g class="node step%s"><title>%s: %s</title><rect x="%s" y="%s" width="%s" height="%s" '
        .. 'rx="5" fill="%s" stroke="%s"%s/><text x="%s" y="%s" font-weight="bold">%s</text>',
        it.missing and " missing" or "", esc(name), esc(what), num(t.x), num(t.y), num(t.w), num(t.h), col.fill,
        col.stroke, it.missing and ' stroke-dasharray="4 3"' or "", num(t.x + 6), num(t.y + 14),
        esc((svg.truncate(name, 34, true))))
      if it.missing then
        out[#out + 1] = fmt('<text x="%s" y="%s" font-size="10">%s</text></g>\n', num(t.x + 6), num(t.y + 30), esc(what))
        return
      end
      -- The counts on two lines at most, then a bar of the shares per status.
      local lines, cur = {}, fmt("%d shard%s: ", it.total, it.total == 1 and "" or "s")
      for k, p in ipairs(parts) do
        local piece = p .. (k < #parts and ", " or "")
        if #cur + #piece > 44 and #lines == 0 then
          lines[1], cur = cur, ""
        end
        cur = cur .. piece
      end
      lines[#lines + 1] = cur
      for k, line in ipairs(lines) do
        out[#out + 1] = fmt('<text x="%s" y="%s" font-size="10">%s</text>', num(t.x + 6), num(t.y + 15 + 12 * k),
          esc((svg.truncate(line, 46))))
      end
      local bx, bw = t.x + 6, t.w - 12
      for _, c in ipairs(graph.STATUSES) do
        local n = it.counts[c]
        if n then
          local w = bw * n / it.total
          out[#out + 1] = fmt('<rect class="share %s" x="%s" y="%s" width="%s" height="8" fill="%s"/>', c, num(bx),
            num(t.y + 46), num(w), graph.COLORS[c].fill)
          bx = bx + w
        end
      end
      out[#out + 1] = "</g>\n"
    end
  end
  return items, edges
end

local function render_svg(g, opts)
  local limit = opts.max_nodes or 500
  local collapsed = g.nshards > limit
  local items, edges
  if collapsed then
    items, edges = step_items(g)
  else
    items, edges = shard_items(g)
  end
  local body = {}
  local width, height, nback = draw_layered(body, items, edges, not collapsed, TOP)
  width = max(width, 820)
  height = height + 16
  local out = {}
  svg_header(out, width, height)
  local counts = {}
  for _, n in ipairs(g.nodes) do
    if not n.missing then counts[n.class] = (counts[n.class] or 0) + 1 end
  end
  local parts = {}
  for _, c in ipairs(graph.STATUSES) do
    if counts[c] then parts[#parts + 1] = fmt("%d %s", counts[c], c) end
  end
  out[#out + 1] = fmt('<text class="title" x="20" y="24" font-size="15" font-weight="bold">%s</text>\n',
    esc(opts.title or fmt("%d shards in %d steps", g.nshards, #g.steps)))
  out[#out + 1] = fmt('<text class="caption" x="20" y="42" fill="#444444">%s%s%s%s</text>\n',
    esc(concat(parts, ", ")),
    g.missing > 0 and fmt("; %d missing dependenc%s", g.missing, g.missing == 1 and "y" or "ies") or "",
    nback > 0 and fmt("; %d edge%s closing a cycle", nback, nback == 1 and "" or "s") or "",
    collapsed and fmt("; more than %d shards: one node per step, with its counts per status", limit) or "")
  svg_legend(out, 20, 66)
  out[#out + 1] = concat(body)
  out[#out + 1] = "</svg>\n"
  return concat(out)
end

---------------------------------------------------------------------------------------

function graph.render(run, format, opts)
  opts = opts or {}
  if format ~= "dot" and format ~= "mermaid" and format ~= "svg" then
    error(fmt('graph.render: format must be "dot", "mermaid" or "svg", got %s',
      type(format) == "string" and fmt("%q", format) or tostring(format)), 2)
  end
  local g = collect(run)
  if format == "dot" then return render_dot(g) end
  if format == "mermaid" then return render_mermaid(g) end
  return render_svg(g, opts)
end

return graph
