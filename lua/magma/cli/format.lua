-- magma.cli.format: text for humans.

local format = {}

-- Aligned columns: headers (a list of strings), rows (lists of strings or numbers).
-- Columns whose `right[i]` is true are right-aligned (numbers). Two spaces between
-- columns, no trailing spaces. Returns the text, one line per row after the header.
function format.columns(headers, rows, right)
  local width = {}
  for i, h in ipairs(headers) do width[i] = #h end
  for _, row in ipairs(rows) do
    for i = 1, #headers do
      local n = #tostring(row[i])
      if n > width[i] then width[i] = n end
    end
  end
  local function line(cells)
    local out = {}
    for i = 1, #headers do
      local c = tostring(cells[i])
      local pad = string.rep(" ", width[i] - #c)
      out[i] = right[i] and (pad .. c) or (i < #headers and (c .. pad) or c)
    end
    return table.concat(out, "  ")
  end
  local lines = { line(headers) }
  for _, row in ipairs(rows) do lines[#lines + 1] = line(row) end
  return table.concat(lines, "\n") .. "\n"
end

-- A name in double quotes, as JSON writes it: control characters escaped, so that a
-- message stays on one line whatever the name holds.
function format.quote(s)
  return require("magma").json.encode(tostring(s))
end

-- "1 shard", "2 shards"
function format.plural(n, word, words)
  return string.format("%d %s", n, n == 1 and word or (words or word .. "s"))
end

return format
