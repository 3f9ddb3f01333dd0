/*
 * libFuzzer target for the MetaWorkflowRun constructor on fuzzed documents (make fuzz).
 * Each input is decoded with magma.json; a value that decodes goes to MetaWorkflowRun()
 * (which must either build a run or raise a "JSON validation error" / nesting message);
 * a run that builds is put through every method: readiness, validation, status changes,
 * resets, the JSON views, and a save round trip through the encoder. No input may crash,
 * read out of bounds, leak or break the core's invariants (to_run == the ready walk).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

#include "json.h"
#include "lmagma.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *L;

/* The exercise, in Lua: it runs protected; an error other than a validation error aborts. */
static const char *const exercise =
    "local core, doc = ...\n"
    "if type(doc) ~= 'table' then return end\n"
    "local ok, run = pcall(core.MetaWorkflowRun, doc)\n"
    "if not ok then\n"
    "  if type(run) ~= 'string' or not (run:find('JSON validation error', 1, true)\n"
    "     or run:find('nested', 1, true)) then error('constructor: ' .. tostring(run)) end\n"
    "  return\n"
    "end\n"
    "local ready = run:to_run()\n"
    "assert(#ready == run:ready_count())\n"
    "local k = 0\n"
    "local i, w = run:next_ready(1)\n"
    "while i do k = k + 1; assert(ready[k] == w); i, w = run:next_ready(i + 1) end\n"
    "assert(k == #ready)\n"
    "run:running(); run:validate(); run:counts(); run:steps()\n"
    "for _, rule in ipairs { 'all_done', 'one_success', 'none_failed', 'all_success' } do\n"
    "  run:set_trigger(rule); run:to_run()\n"
    "end\n"
    "local statuses = { 'running', 'completed', 'failed', 'pending', 'odd' }\n"
    "local n = 0\n"
    "for sn, wfr in pairs(run.runs) do\n"
    "  n = n + 1\n"
    "  wfr.status = statuses[n % #statuses + 1]\n"
    "  run:dependents(sn); run:dep_counts(sn)\n"
    "  if n % 3 == 0 then run:update_attribute(sn, 'dependencies', { sn }) end\n"
    "  if n > 64 then break end\n"
    "end\n"
    "run:update_status(); run:validate()\n"
    "for _, step in ipairs(run:steps()) do run:reset_step(step) end\n"
    "local json = core.json\n"
    "assert(json.encode(run:to_json()))\n"
    "run:runs_to_json()\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned runs;
    if (L == NULL) {
        L = luaL_newstate();
        if (L == NULL) abort();
        luaL_openlibs(L);
        luaL_requiref(L, "magma.core", luaopen_magma_core, 0);
        lua_pop(L, 1);
    }
    if (mjson_decode(L, (const char *)data, size)) {
        int doc = lua_gettop(L);
        if (luaL_loadbuffer(L, exercise, strlen(exercise), "=exercise") != LUA_OK) abort();
        luaL_requiref(L, "magma.core", luaopen_magma_core, 0);
        lua_pushvalue(L, doc);
        if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
            fprintf(stderr, "fuzz_run: %s\n", lua_tostring(L, -1));
            abort();
        }
    }
    lua_settop(L, 0);
    if (++runs % 1024 == 0) lua_gc(L, LUA_GCCOLLECT);
    return 0;
}
