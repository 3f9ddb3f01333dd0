-- spec/model.lua: a plain-Lua reference model of magma's MetaWorkflowRun semantics, as
-- magma-lua keeps them (DESIGN.md, "The Lua API" and "Where magma's behaviour is not kept").
--
-- It is meant to be obviously correct, not fast: plain tables, and every query a scan over
-- all shards as in magma's Python (metawflrun.py). A shard_name -> record index is the
-- only help, as magma's `runs` dict. The specs compare the C implementation with it, and
-- the benchmark uses it as the baseline.
--
--   local model = require "model"
--   local m = model.new(doc)          -- doc: a table shaped like MetaWorkflowRun[json]
--   m:to_run()       -> { shard_name, ... } pending, every dependency completed
--   m:running()      -> { shard_name, ... }
--   m:update_attribute(shard_name, key, value)
--   m:reset_step(name [, keys]), m:reset_shard(shard_name [, keys])
--   m:update_status() -> final_status
--   m:status_of(shard_name), m:runs_to_json(), m:to_json(), m:counts(), m:steps(),
--   m:missing_dependencies() -> { {shard = ..., dependency = ...}, ... }
--   m:cycles()       -> { {shard_name, ...}, ... } (slow: for the specs)
--
-- The model does not validate documents: give it documents the C constructor accepts.

local pairs, ipairs, type, next, error, tostring, setmetatable = pairs, ipairs, type, next, error,
  tostring, setmetatable
local remove = table.remove

local model = {}

-- The json null: a NULL light userdata, the same value for lua-cjson and magma.json.
local function find_null()
  for _, mod in ipairs { "cjson", "magma.core" } do
    local ok, m = pcall(require, mod)
    if ok and type(m) == "table" then
      if m.null ~= nil then return m.null end
      if type(m.json) == "table" and m.json.null ~= nil then return m.json.null end
    end
  end
  return nil
end
model.null = find_null()

local function is_null(v)
  return v ~= nil and v == model.null
end

local function deepcopy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[deepcopy(k)] = deepcopy(x) end
  return t
end
model.deepcopy = deepcopy

local DEFAULT_RESET_KEYS = { "jobid", "job_id", "workflow_run" }
model.DEFAULT_RESET_KEYS = DEFAULT_RESET_KEYS

local Model = {}
Model.__index = Model

function model.new(doc)
  local self = setmetatable({}, Model)
  self.doc = deepcopy(doc)
  self.records = self.doc.workflow_runs -- list, document order
  self.index = {}                       -- shard_name -> record
  for _, rec in ipairs(self.records) do
    self.index[rec.name .. ":" .. rec.shard] = rec
  end
  return self
end

local function shard_name(rec)
  return rec.name .. ":" .. rec.shard
end

local function deps_of(rec)
  local d = rec.dependencies
  if d == nil or is_null(d) then return {} end
  return d
end

function Model:status_of(sn)
  local rec = self.index[sn]
  return rec and rec.status
end

function Model:to_run()
  local out = {}
  for _, rec in ipairs(self.records) do
    if rec.status == "pending" then
      local ready = true
      for _, dep in ipairs(deps_of(rec)) do
        local d = self.index[dep]
        if d == nil or d.status ~= "completed" then
          ready = false
          break
        end
      end
      if ready then out[#out + 1] = shard_name(rec) end
    end
  end
  return out
end

function Model:running()
  local out = {}
  for _, rec in ipairs(self.records) do
    if rec.status == "running" then out[#out + 1] = shard_name(rec) end
  end
  return out
end

function Model:update_attribute(sn, key, value)
  local rec = self.index[sn]
  if rec == nil then error(("update_attribute: unknown shard_name %q"):format(tostring(sn)), 2) end
  if key == "name" or key == "shard" or key == "shard_name" then
    error(("shard %q: key %q is the shard's identity and cannot be changed"):format(sn, key), 2)
  end
  if key == "status" and type(value) ~= "string" then
    error(("shard %q: key \"status\" must be a string"):format(sn), 2)
  end
  if key == "dependencies" and is_null(value) then value = nil end
  rec[key] = deepcopy(value)
end

-- A reset may not remove these: the shard's identity, and what the run keeps beside the
-- record (status, dependencies). Asking is an error, and nothing is reset.
local KEPT = { name = true, shard = true, shard_name = true, status = true, dependencies = true }

local function check_reset_keys(keys)
  for _, k in ipairs(keys or {}) do
    if type(k) ~= "string" then error("reset keys must be strings", 3) end
    if KEPT[k] then error(("reset cannot remove key %q"):format(k), 3) end
  end
end

local function reset(rec, keys)
  rec.status = "pending"
  rec.output = {}
  for _, k in ipairs(keys or DEFAULT_RESET_KEYS) do rec[k] = nil end
end

function Model:reset_step(name, keys)
  check_reset_keys(keys)
  for _, rec in ipairs(self.records) do
    if rec.name == name then reset(rec, keys) end
  end
end

function Model:reset_shard(sn, keys)
  check_reset_keys(keys)
  local rec = self.index[sn]
  if rec then reset(rec, keys) end
end

function Model:update_status()
  local failed, running, completed = false, false, 0
  for _, rec in ipairs(self.records) do
    if rec.status == "failed" then
      failed = true
    elseif rec.status == "running" then
      running = true
    elseif rec.status == "completed" then
      completed = completed + 1
    end
  end
  local final
  if failed then
    final = "failed"
  elseif running then
    final = "running"
  elseif completed == #self.records then
    final = "completed"
  elseif completed > 0 then
    final = "inactive"
  else
    final = "pending"
  end
  self.doc.final_status = final
  return final
end

-- A record as runs_to_json gives it: null values and empty output/dependencies left out.
local function record_json(rec)
  local out = {}
  for k, v in pairs(rec) do
    local drop = is_null(v)
    if (k == "output" or k == "dependencies") and type(v) == "table" and next(v) == nil then
      drop = true
    end
    if not drop then out[k] = deepcopy(v) end
  end
  return out
end

function Model:runs_to_json()
  local out = {}
  for i, rec in ipairs(self.records) do out[i] = record_json(rec) end
  return out
end

function Model:to_json()
  local out = {}
  for k, v in pairs(self.doc) do
    if k ~= "workflow_runs" then out[k] = deepcopy(v) end
  end
  out.workflow_runs = self:runs_to_json()
  return out
end

function Model:counts()
  local c = { pending = 0, running = 0, completed = 0, failed = 0 }
  for _, rec in ipairs(self.records) do c[rec.status] = (c[rec.status] or 0) + 1 end
  return c
end

function Model:steps()
  local out, seen = {}, {}
  for _, rec in ipairs(self.records) do
    if not seen[rec.name] then
      seen[rec.name] = true
      out[#out + 1] = rec.name
    end
  end
  return out
end

function Model:missing_dependencies()
  local out = {}
  for _, rec in ipairs(self.records) do
    for _, dep in ipairs(deps_of(rec)) do
      if self.index[dep] == nil then
        out[#out + 1] = { shard = shard_name(rec), dependency = dep }
      end
    end
  end
  return out
end

-- Cycles: each a list of shard_names in document order; a shard depending on itself is a
-- cycle of one. Two shards are in the same cycle when each reaches the other through
-- dependencies. Plain reachability from every shard: O(shards x edges), for the specs only.
function Model:cycles()
  local function reach(from)
    local seen, stack = {}, { from }
    while #stack > 0 do
      local rec = self.index[remove(stack)]
      for _, dep in ipairs(deps_of(rec)) do
        if self.index[dep] and not seen[dep] then
          seen[dep] = true
          stack[#stack + 1] = dep
        end
      end
    end
    return seen
  end
  local reaches = {}
  for _, rec in ipairs(self.records) do
    local sn = shard_name(rec)
    reaches[sn] = reach(sn)
  end
  local out, placed = {}, {}
  for _, rec in ipairs(self.records) do
    local sn = shard_name(rec)
    if not placed[sn] and reaches[sn][sn] then
      local cycle = {}
      for _, other in ipairs(self.records) do
        local on = shard_name(other)
        if on == sn or (reaches[sn][on] and reaches[on][sn]) then
          cycle[#cycle + 1] = on
          placed[on] = true
        end
      end
      out[#out + 1] = cycle
    end
  end
  return out
end

return model
