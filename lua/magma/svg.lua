-- magma.svg: Gantt charts of a run's timeline, as SVG or as text for a terminal.
--
-- Pure Lua 5.4, no dependencies. A timeline is what magma.simulate gives:
--
--   { title = "...", makespan = seconds,
--     steps = { "step", ... },                       -- document order (optional)
--     shards = { { shard = "step:0", step = "step",   -- document order
--                  attempts = { { start = s, finish = f,
--                                 outcome = "completed" | "failed" | "running" }, ... } },
--                ... } }
--
-- An attempt without `finish` runs until the makespan; an unknown outcome is drawn as
-- "running". Output is deterministic: the same timeline gives the same bytes.
--
--   svg.gantt(timeline[, opts])          -> string (an SVG document)
--   svg.gantt_pair(t1, t2[, opts])       -> string (two charts stacked, one time scale)
--   svg.text_timeline(timeline[, width]) -> string (one line per shard, for small runs)
--
-- opts: lanes = "shard" | "step" (default "step" above 150 shards), width (px, 1000),
-- label_width (px; default: fits the longest shard name, 120 to 320, or 200 for step
-- lanes), title (overrides timeline.title; title1 and title2 for gantt_pair).
--
-- Shard lanes draw one <rect class="bar OUTCOME" data-shard="..."> per attempt. Step lanes
-- pack the attempts of a small step into at most 8 sub-rows (same rects); a step with more
-- shards than that is drawn as its concurrency profile: how many of its shards run at each
-- time, stacked by outcome, one <path class="profile OUTCOME"> per outcome. The size of a
-- step-lane chart grows with the number of steps, not of shards.

local svg = {}

local fmt, concat, floor, ceil = string.format, table.concat, math.floor, math.ceil
local max, min = math.max, math.min

svg.COLORS = { completed = "#43a047", failed = "#e53935", running = "#9e9e9e" }
svg.OUTCOMES = { "completed", "failed", "running" }
local OUTCOME_CHAR = { completed = "=", failed = "x", running = "-" }

local SHARD_LANES_MAX = 150 -- default lanes: "step" above this many shards
local PACK_ATTEMPTS_MAX = 200 -- step lanes: a step with more attempts is a profile
local PACK_ROWS_MAX = 8 -- step lanes: ... or one needing more sub-rows than this

---------------------------------------------------------------------------------------
-- Text helpers (used by magma.graph too)

-- Valid UTF-8 for XML 1.0: invalid bytes and control characters become "?".
function svg.clean(s)
  s = tostring(s == nil and "" or s)
  s = s:gsub("[%z\1-\8\11\12\14-\31\127]", "?")
  if utf8.len(s) then return (s:gsub("\239\191[\190\191]", "?")) end
  local out, i = {}, 1
  while i <= #s do
    local ok, pos = utf8.len(s, i)
    if ok then
      out[#out + 1] = s:sub(i)
      break
    end
    out[#out + 1] = s:sub(i, pos - 1)
    out[#out + 1] = "?"
    i = pos + 1
  end
  return (concat(out):gsub("\239\191[\190\191]", "?"))
end

local ESC = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }

-- Text for XML content and attribute values.
function svg.escape(s)
  return (svg.clean(s):gsub("[&<>\"']", ESC))
end
local esc = svg.escape

-- s cut to n characters (UTF-8) with an ellipsis where it was cut: at the end, or in the
-- middle when `middle` is true (shard names differ at their end); and whether it was cut.
function svg.truncate(s, n, middle)
  s = svg.clean(s)
  local len = utf8.len(s)
  if len <= n then return s, false end
  if n < 1 then return "", true end
  if not middle or n < 5 then return s:sub(1, utf8.offset(s, n) - 1) .. "…", true end
  local tail = (n - 1) // 2
  local head = n - 1 - tail
  return s:sub(1, utf8.offset(s, head + 1) - 1) .. "…" .. s:sub(utf8.offset(s, len - tail + 1)), true
end

-- A number for coordinates: one decimal at most, no "-0", 0 for NaN and infinities.
function svg.num(x)
  if x ~= x or x == math.huge or x == -math.huge then return "0" end
  local s = fmt("%.1f", x)
  if s:sub(-2) == ".0" then s = s:sub(1, -3) end
  if s == "-0" then s = "0" end
  return s
end
local num = svg.num

-- A duration in seconds, for people: "45 s", "12m05s", "3h20m", "2d04h".
function svg.duration(s)
  if s ~= s or s == math.huge then return tostring(s) end
  if s < 60 then return fmt("%.3g s", s) end
  if s < 3600 then return fmt("%dm%02ds", floor(s / 60), floor(s % 60)) end
  if s < 86400 then return fmt("%dh%02dm", floor(s / 3600), floor(s % 3600 / 60)) end
  return fmt("%dd%02dh", floor(s / 86400), floor(s % 86400 / 3600))
end

local function plural(n, word)
  return fmt("%d %s%s", n, word, n == 1 and "" or "s")
end

---------------------------------------------------------------------------------------
-- Time axis

local TIME_STEPS = { 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
  21600, 43200, 86400, 172800, 432000, 604800 }

-- Tick spacing for [0, span] with at most `target` intervals, and its unit.
local function tick_step(span, target)
  local raw = span / target
  local step
  if raw <= 1 then
    local p = 10 ^ floor(math.log(raw, 10))
    for _, m in ipairs { 1, 2, 5, 10 } do
      if m * p >= raw then step = m * p break end
    end
  else
    for _, c in ipairs(TIME_STEPS) do
      if c >= raw then step = c break end
    end
    if not step then -- beyond a week: 1-2-5 multiples of days
      local d = raw / 86400
      local p = 10 ^ floor(math.log(d, 10))
      for _, m in ipairs { 1, 2, 5, 10 } do
        if m * p >= d then step = m * p * 86400 break end
      end
    end
  end
  local unit, name
  if step < 60 then unit, name = 1, "s"
  elseif step < 3600 then unit, name = 60, "min"
  elseif step < 86400 then unit, name = 3600, "h"
  else unit, name = 86400, "d" end
  return step, unit, name
end

-- The ticks of [0, span]: a list of {t = seconds, label = "30 s"}.
function svg.ticks(span, target)
  if not (span > 0) then span = 1 end
  local step, unit, name = tick_step(span, target or 8)
  local ticks = {}
  for i = 0, floor(span / step + 1e-9) do
    local t = i * step
    local v = fmt("%.6g", t / unit)
    ticks[#ticks + 1] = { t = t, label = v .. " " .. name }
  end
  return ticks
end

---------------------------------------------------------------------------------------
-- Timeline access

local function outcome_of(a)
  local o = a.outcome
  if o == "completed" or o == "failed" then return o end
  return "running"
end

local function finite(x)
  return x ~= nil and x == x and x ~= math.huge and x ~= -math.huge
end

local function finish_of(a, span)
  local f = tonumber(a.finish)
  if finite(f) then return f end
  return span
end

local function step_of(sh)
  if sh.step ~= nil then return sh.step end
  return tostring(sh.shard):match("^(.*):[^:]*$") or tostring(sh.shard)
end

-- One pass over a timeline: span (the makespan, or the last finish or start if later),
-- counts, and the steps in order (timeline.steps, then any step only the shards name),
-- with info[step] = {shards =, attempts =}.
local function scan(tl)
  local span = tonumber(tl.makespan)
  if not (finite(span) and span > 0) then span = 0 end
  local steps, info = {}, {}
  for _, s in ipairs(tl.steps or {}) do
    if not info[s] then
      steps[#steps + 1] = s
      info[s] = { shards = 0, attempts = 0 }
    end
  end
  local shards = tl.shards or {}
  local nattempts, nfailed = 0, 0
  for i = 1, #shards do
    local sh = shards[i]
    local step = sh.step
    if step == nil then step = step_of(sh) end
    local st = info[step]
    if not st then
      steps[#steps + 1] = step
      st = { shards = 0, attempts = 0 }
      info[step] = st
    end
    local attempts = sh.attempts or {}
    local na = #attempts
    st.shards = st.shards + 1
    st.attempts = st.attempts + na
    nattempts = nattempts + na
    for k = 1, na do
      local a = attempts[k]
      local f = tonumber(a.finish) or tonumber(a.start) or 0
      if f > span and f < math.huge then span = f end
      if a.outcome == "failed" then nfailed = nfailed + 1 end
    end
  end
  return { span = span, nshards = #shards, nattempts = nattempts, nfailed = nfailed, steps = steps, info = info }
end

---------------------------------------------------------------------------------------
-- The SVG Gantt chart

local LANE_H = 16 -- shard lane
local BAR_H = 11
local SUB_H = 7 -- step lane sub-row
local PROFILE_H = 44 -- step lane profile
local HEAD_H = 74 -- title, legend, axis labels
local CHAR_W = 6.5 -- average glyph width at 11px, to truncate labels

local function header(out, w, h)
  out[#out + 1] = '<?xml version="1.0" encoding="UTF-8"?>\n'
  out[#out + 1] = fmt('<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" '
    .. 'viewBox="0 0 %s %s" font-family="sans-serif" font-size="11">\n', num(w), num(h), num(w), num(h))
  out[#out + 1] = fmt('<rect class="background" x="0" y="0" width="%s" height="%s" fill="#ffffff"/>\n',
    num(w), num(h))
end

local function legend(out, x, y, items)
  for _, it in ipairs(items) do
    out[#out + 1] = fmt('<rect class="legend %s" x="%s" y="%s" width="12" height="10" fill="%s"/>'
      .. '<text x="%s" y="%s">%s</text>\n', it[1], num(x), num(y - 9), it[2], num(x + 16), num(y), esc(it[3]))
    x = x + 24 + #it[3] * CHAR_W
  end
end

-- Sorts the attempts of a step into sub-rows; nil when it needs more than PACK_ROWS_MAX.
local function pack(list, span)
  table.sort(list, function(a, b)
    if a.start ~= b.start then return a.start < b.start end
    return a.k < b.k
  end)
  local ends = {}
  for _, e in ipairs(list) do
    local row
    for r = 1, #ends do
      if ends[r] <= e.start then row = r break end
    end
    if not row then
      if #ends == PACK_ROWS_MAX then return nil end
      row = #ends + 1
    end
    ends[row] = max(e.finish, e.start + span * 1e-3)
    e.row = row
  end
  return #ends
end

-- Mean number of running attempts per bin, by outcome, over `bins` bins of [0, scale].
local function profile_new(bins)
  local p = { bins = bins }
  for _, o in ipairs(svg.OUTCOMES) do
    local d, part = {}, {}
    for b = 0, bins do d[b], part[b] = 0, 0 end
    p[o] = { d = d, part = part }
  end
  return p
end

local function profile_add(p, o, u, v)
  local bins = p.bins
  if u < 0 then u = 0 end
  if v > bins then v = bins end
  if not (v > u) then return end -- also NaN
  local acc = p[o]
  local bs, be = floor(u), floor(v)
  if bs == be then
    acc.part[bs] = acc.part[bs] + (v - u)
  else
    acc.part[bs] = acc.part[bs] + (bs + 1 - u)
    if be < bins then acc.part[be] = acc.part[be] + (v - be) end
    acc.d[bs + 1] = acc.d[bs + 1] + 1
    acc.d[be] = acc.d[be] - 1
  end
end

-- Per outcome, the list of values bins 0..bins-1; and the peak of their sum.
local function profile_values(p)
  local vals, peak = {}, 0
  for _, o in ipairs(svg.OUTCOMES) do
    local acc, v, run = p[o], {}, 0
    for b = 0, p.bins - 1 do
      run = run + acc.d[b]
      v[b] = run + acc.part[b]
    end
    vals[o] = v
  end
  for b = 0, p.bins - 1 do
    local s = vals.completed[b] + vals.failed[b] + vals.running[b]
    if s > peak then peak = s end
  end
  return vals, peak
end

-- The area between two step functions (lower, upper) over the bins, as a path.
local function area_path(x0, bw, base, ys, lo, hi, bins)
  local d, last = { "M", num(x0), " ", num(base - lo[0] * ys) }, nil
  last = num(base - hi[0] * ys)
  d[#d + 1] = "V" .. last
  for b = 1, bins - 1 do
    local y = num(base - hi[b] * ys)
    if y ~= last then
      d[#d + 1] = "H" .. num(x0 + b * bw) .. "V" .. y
      last = y
    end
  end
  d[#d + 1] = "H" .. num(x0 + bins * bw)
  last = num(base - lo[bins - 1] * ys)
  d[#d + 1] = "V" .. last
  for b = bins - 2, 0, -1 do
    local y = num(base - lo[b] * ys)
    if y ~= last then
      d[#d + 1] = "H" .. num(x0 + (b + 1) * bw) .. "V" .. y
      last = y
    end
  end
  d[#d + 1] = "H" .. num(x0) .. "Z"
  return concat(d)
end

local function bar(out, sh, k, a, o, x, y, w, h, span)
  local s, f = tonumber(a.start) or 0, finish_of(a, span)
  out[#out + 1] = fmt('<rect class="bar %s" data-shard="%s" x="%s" y="%s" width="%s" height="%s" fill="%s">'
    .. '<title>%s attempt %d: %s, %s to %s (%s)</title></rect>\n',
    o, esc(sh.shard), num(x), num(y), num(w), num(h), svg.COLORS[o],
    esc(sh.shard), k, o, svg.duration(s), svg.duration(f), svg.duration(f - s))
end

local function lane_label(out, x, y, name, chars, sub)
  local shown, cut = svg.truncate(name, chars, true)
  out[#out + 1] = fmt('<text class="lane" x="%s" y="%s" text-anchor="end">%s%s</text>\n',
    num(x), num(y), cut and ("<title>" .. esc(name) .. "</title>") or "", esc(shown))
  if sub then
    out[#out + 1] = fmt('<text class="lane-info" x="%s" y="%s" text-anchor="end" font-size="9" fill="#666666">%s</text>\n',
      num(x), num(y + 11), esc(sub))
  end
end

-- The lanes of a chart: a list of {name =, height =, draw = function(out, y)}.
local function shard_lanes(tl, geo)
  local lanes = {}
  for _, sh in ipairs(tl.shards or {}) do
    lanes[#lanes + 1] = {
      height = LANE_H,
      draw = function(out, y)
        lane_label(out, geo.x0 - 8, y + 11.5, tostring(sh.shard), geo.chars)
        for k, a in ipairs(sh.attempts or {}) do
          local s = tonumber(a.start) or 0
          local x = geo.x0 + s * geo.sx
          local w = max(0.5, (finish_of(a, geo.span) - s) * geo.sx)
          bar(out, sh, k, a, outcome_of(a), x, y + (LANE_H - BAR_H) / 2, w, BAR_H, geo.span)
        end
      end,
    }
  end
  return lanes
end

local function step_lanes(tl, geo)
  local steps = geo.sum.steps
  local info = {}
  for _, s in ipairs(steps) do
    local si = geo.sum.info[s]
    info[s] = { shards = si.shards, attempts = si.attempts }
  end
  -- Small steps: their attempts, to pack. Big ones: a profile.
  for _, sh in ipairs(tl.shards or {}) do
    local st = info[step_of(sh)]
    if st.attempts <= PACK_ATTEMPTS_MAX then
      st.list = st.list or {}
      for k, a in ipairs(sh.attempts or {}) do
        local s = tonumber(a.start) or 0
        st.list[#st.list + 1] = { sh = sh, k = k, a = a, start = s, finish = finish_of(a, geo.span),
          o = outcome_of(a) }
      end
    else
      local p = st.profile
      if not p then
        p = profile_new(geo.bins)
        st.profile = p
      end
      local bw, span = geo.scale / geo.bins, geo.span
      local attempts = sh.attempts or {}
      for k = 1, #attempts do
        local a = attempts[k]
        local s = tonumber(a.start) or 0
        profile_add(p, outcome_of(a), s / bw, finish_of(a, span) / bw)
      end
    end
  end
  for _, s in ipairs(steps) do
    local st = info[s]
    if st.list and not pack(st.list, geo.scale) then
      st.profile = profile_new(geo.bins)
      local bw = geo.scale / geo.bins
      for _, e in ipairs(st.list) do profile_add(st.profile, e.o, e.start / bw, e.finish / bw) end
      st.list = nil
    end
  end

  local lanes = {}
  for _, s in ipairs(steps) do
    local st = info[s]
    local sub = plural(st.shards, "shard")
    if st.profile then
      local vals, peak = profile_values(st.profile)
      lanes[#lanes + 1] = {
        height = PROFILE_H,
        draw = function(out, y)
          local most = peak >= 10 and fmt("%.0f", peak) or num(peak)
          lane_label(out, geo.x0 - 8, y + 16, tostring(s), geo.chars, sub .. ", up to ~" .. most .. " running")
          if peak <= 0 then return end
          local base, ys = y + PROFILE_H - 3, (PROFILE_H - 8) / peak
          local bw, bins = geo.plot_w / geo.bins, geo.bins
          local zero, lo = {}, nil
          for b = 0, bins - 1 do zero[b] = 0 end
          lo = zero
          for _, o in ipairs(svg.OUTCOMES) do
            local hi, any = {}, false
            for b = 0, bins - 1 do
              hi[b] = lo[b] + vals[o][b]
              if vals[o][b] > 0 then any = true end
            end
            if any then
              out[#out + 1] = fmt('<path class="profile %s" data-step="%s" fill="%s" d="%s"><title>%s: %s attempts '
                .. '(mean running per %s)</title></path>\n', o, esc(s), svg.COLORS[o],
                area_path(geo.x0, bw, base, ys, lo, hi, bins), esc(s), o, svg.duration(geo.scale / bins))
            end
            lo = hi
          end
        end,
      }
    else
      local rows = 1
      for _, e in ipairs(st.list or {}) do rows = max(rows, e.row) end
      local h = max(LANE_H, rows * SUB_H + 6)
      lanes[#lanes + 1] = {
        height = max(h, 28),
        draw = function(out, y)
          lane_label(out, geo.x0 - 8, y + 12, tostring(s), geo.chars, sub)
          for _, e in ipairs(st.list or {}) do
            local x = geo.x0 + e.start * geo.sx
            local w = max(0.5, (e.finish - e.start) * geo.sx)
            bar(out, e.sh, e.k, e.a, e.o, x, y + 3 + (e.row - 1) * SUB_H, w, SUB_H - 1, geo.span)
          end
        end,
      }
    end
  end
  return lanes
end

local function lanes_mode(opts, ...)
  if opts.lanes == "shard" or opts.lanes == "step" then return opts.lanes end
  if opts.lanes ~= nil then
    error(fmt('svg: opts.lanes must be "shard" or "step", got %s', tostring(opts.lanes)), 3)
  end
  for _, tl in ipairs { ... } do
    if #(tl.shards or {}) > SHARD_LANES_MAX then return "step" end
  end
  return "shard"
end

-- Appends one chart at y0 to out; returns its height. scale: seconds across the plot.
local function chart(out, tl, sum, opts, y0, scale, mode)
  local width = opts.width or 1000
  local label_w = opts.label_width or opts._label_width
  local x0 = label_w + 10
  local plot_w = width - x0 - 30
  local span = sum.span
  local geo = {
    sum = sum, x0 = x0, plot_w = plot_w, span = span, scale = scale, sx = plot_w / scale,
    bins = max(1, floor(plot_w)), chars = max(4, floor(label_w / CHAR_W)),
  }
  local title = opts.title or tl.title or "Timeline"
  out[#out + 1] = fmt('<g class="chart">\n<text class="title" x="10" y="%s" font-size="15" font-weight="bold">%s</text>\n',
    num(y0 + 20), esc(title))
  local nshards, nattempts, nfailed = sum.nshards, sum.nattempts, sum.nfailed
  out[#out + 1] = fmt('<text class="summary" x="10" y="%s" fill="#444444">makespan %s, %s, %s, %d failed%s</text>\n',
    num(y0 + 37), esc(svg.duration(span)), plural(nshards, "shard"), plural(nattempts, "attempt"), nfailed,
    mode == "step" and ", one lane per step" or "")
  legend(out, x0, y0 + 54, {
    { "completed", svg.COLORS.completed, "completed" },
    { "failed", svg.COLORS.failed, "failed" },
    { "running", svg.COLORS.running, "running at the end" },
  })

  local lanes = mode == "step" and step_lanes(tl, geo) or shard_lanes(tl, geo)
  local top = y0 + HEAD_H
  local h = 0
  for _, l in ipairs(lanes) do h = h + l.height end
  if #lanes == 0 then
    out[#out + 1] = fmt('<text x="%s" y="%s" fill="#666666">no shards</text>\n', num(x0), num(top + 12))
    h = 16
  end
  local bottom = top + h

  -- Axis: grid lines, labels on top (and below a tall chart).
  local ticks = svg.ticks(scale, max(2, floor(plot_w / 90)))
  for _, t in ipairs(ticks) do
    local x = num(x0 + t.t * geo.sx)
    out[#out + 1] = fmt('<line class="tick" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#dddddd"/>'
      .. '<text class="tick" x="%s" y="%s" text-anchor="middle" fill="#444444">%s</text>\n',
      x, num(top - 4), x, num(bottom), x, num(top - 7), esc(t.label))
    if h > 400 then
      out[#out + 1] = fmt('<text class="tick" x="%s" y="%s" text-anchor="middle" fill="#444444">%s</text>\n',
        x, num(bottom + 13), esc(t.label))
    end
  end
  local y = top
  for i, l in ipairs(lanes) do
    if i % 2 == 0 then
      out[#out + 1] = fmt('<rect class="lane-bg" x="%s" y="%s" width="%s" height="%s" fill="#000000" fill-opacity="0.04"/>\n',
        num(10), num(y), num(x0 + plot_w - 10), num(l.height))
    end
    l.draw(out, y)
    y = y + l.height
  end
  if span < scale then -- the end of a shorter run, on a shared scale
    local x = num(x0 + span * geo.sx)
    out[#out + 1] = fmt('<line class="end" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#444444" stroke-dasharray="3 3"/>\n',
      x, num(top), x, num(bottom))
  end
  out[#out + 1] = fmt('<line class="axis" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#888888"/>\n</g>\n',
    num(x0), num(top), num(x0 + plot_w), num(top))
  return HEAD_H + h + (h > 400 and 22 or 10)
end

-- The default width of the lane labels: the longest shard name in shard lanes.
local function label_width(mode, ...)
  if mode == "step" then return 200 end
  local chars = 0
  for _, tl in ipairs { ... } do
    for _, sh in ipairs(tl.shards or {}) do
      local n = utf8.len(svg.clean(sh.shard))
      if n > chars then chars = n end
    end
  end
  return min(320, max(120, ceil(chars * CHAR_W + 14)))
end

local function check_timeline(tl, fn, n)
  if type(tl) ~= "table" then
    error(fmt("svg.%s: argument #%d must be a timeline table, got %s", fn, n, type(tl)), 3)
  end
end

function svg.gantt(tl, opts)
  check_timeline(tl, "gantt", 1)
  opts = opts or {}
  local mode = lanes_mode(opts, tl)
  local o = setmetatable({ _label_width = label_width(mode, tl) }, { __index = opts })
  local sum = scan(tl)
  local scale = sum.span > 0 and sum.span or 1
  local body = {}
  local h = chart(body, tl, sum, o, 0, scale, mode)
  local out = {}
  header(out, opts.width or 1000, h)
  out[#out + 1] = concat(body)
  out[#out + 1] = "</svg>\n"
  return concat(out)
end

-- Two charts, the first above the second, on one time scale so that lengths compare.
function svg.gantt_pair(t1, t2, opts)
  check_timeline(t1, "gantt_pair", 1)
  check_timeline(t2, "gantt_pair", 2)
  opts = opts or {}
  local mode = lanes_mode(opts, t1, t2)
  local sum1, sum2 = scan(t1), scan(t2)
  local scale = max(sum1.span, sum2.span)
  if not (scale > 0) then scale = 1 end
  local o1, o2 = {}, {}
  for k, v in pairs(opts) do o1[k], o2[k] = v, v end
  o1.title, o2.title = opts.title1, opts.title2
  o1._label_width = label_width(mode, t1, t2)
  o2._label_width = o1._label_width
  local body = {}
  local h1 = chart(body, t1, sum1, o1, 0, scale, mode)
  body[#body + 1] = fmt('<line class="separator" x1="10" y1="%s" x2="%s" y2="%s" stroke="#bbbbbb"/>\n',
    num(h1 + 8), num((opts.width or 1000) - 10), num(h1 + 8))
  local h2 = chart(body, t2, sum2, o2, h1 + 16, scale, mode)
  local out = {}
  header(out, opts.width or 1000, h1 + 16 + h2)
  out[#out + 1] = concat(body)
  out[#out + 1] = "</svg>\n"
  return concat(out)
end

---------------------------------------------------------------------------------------
-- The text timeline

local function pad(s, n)
  return s .. string.rep(" ", n - utf8.len(s))
end

-- One line per shard: a bar per attempt ('=' completed, 'x' failed, '-' running at the
-- end), a time axis with ticks and labels, a legend. `width` (default 80) is the length of
-- every line, in characters.
function svg.text_timeline(tl, width)
  check_timeline(tl, "text_timeline", 1)
  width = max(30, floor(tonumber(width) or 80))
  local shards = tl.shards or {}
  local span = scan(tl).span
  local scale = span > 0 and span or 1
  local lw = 4
  for _, sh in ipairs(shards) do lw = max(lw, utf8.len(svg.clean(sh.shard)) or 0) end
  lw = min(lw, floor(width * 0.35))
  local C = width - lw - 3
  local cw = scale / C
  local lines = {}
  lines[1] = svg.clean(tl.title or "Timeline")
  lines[2] = fmt("makespan %s, %s", svg.duration(span), plural(#shards, "shard"))
  for _, sh in ipairs(shards) do
    local cols = {}
    for j = 1, C do cols[j] = " " end
    for _, a in ipairs(sh.attempts or {}) do
      local s, f = tonumber(a.start) or 0, finish_of(a, span)
      local first = min(C, max(1, floor(s / cw) + 1))
      local last = min(C, max(first, ceil(f / cw)))
      local ch = OUTCOME_CHAR[outcome_of(a)]
      for j = first, last do
        if cols[j] ~= "x" then cols[j] = ch end
      end
    end
    lines[#lines + 1] = pad((svg.truncate(sh.shard, lw, true)), lw) .. " |" .. concat(cols) .. "|"
  end
  -- Axis: '+' in the column where a tick falls, labels from there.
  local ticks = svg.ticks(scale, max(1, floor(C / 12)))
  local axis, labels = {}, {}
  for j = 1, C do axis[j] = "-" end
  for j = 1, width do labels[j] = " " end
  local free = 1 -- first free position in labels
  for _, t in ipairs(ticks) do
    local j = min(C, floor(t.t / cw + 1e-9) + 1)
    local at = lw + 2 + j
    if t.t == 0 then at = lw + 2 else axis[j] = "+" end
    if at + #t.label - 1 > width then at = width - #t.label + 1 end
    if at >= free then
      for c = 1, #t.label do labels[at + c - 1] = t.label:sub(c, c) end
      free = at + #t.label + 1
    end
  end
  lines[#lines + 1] = string.rep(" ", lw) .. " +" .. concat(axis) .. "+"
  lines[#lines + 1] = (concat(labels):gsub("%s+$", ""))
  lines[#lines + 1] = fmt("= completed  x failed  - running at the end  (1 column = %s)", svg.duration(cw))
  return concat(lines, "\n") .. "\n"
end

return svg
