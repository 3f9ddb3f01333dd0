-- Counting and splitting the text that the specs check (graph, svg, cli, cli_simulate).

-- The number of non-overlapping occurrences of pattern in s (a plain string if plain).
local function count(s, pattern, plain)
  local n, i = 0, 1
  while true do
    local a, b = s:find(pattern, i, plain)
    if not a then return n end
    n, i = n + 1, b + 1
  end
end

-- The newline-terminated lines of s, without their newlines (empty lines kept).
local function lines(s)
  local out = {}
  for l in s:gmatch("([^\n]*)\n") do out[#out + 1] = l end
  return out
end

return { count = count, lines = lines }
