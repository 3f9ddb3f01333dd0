/*
 * lmagma: the Lua binding of the core, module "magma.core".
 *
 * It converts and delegates; no scheduling logic lives here.
 *
 * magma.MetaWorkflowRun (userdata, struct lrun) user values:
 *   1  the document: a table of the top-level keys; doc.workflow_runs is the list of shard
 *      records (Lua tables) in document order, record k+1 being shard k of the core
 *   2  that same list of records (one lookup less on every attribute access)
 *   3  WorkflowRun userdata by shard number + 1, made on first use and kept with the run
 *      (so the same shard always gives the same userdata, and loops that ask for the same
 *      shards round after round allocate nothing)
 *   4  the `runs` proxy (magma.Runs), made on first use
 *   5  the path the run was loaded from (magma.load), the default of run:save()
 * The core keeps identity, statuses and the dependency graph; the records keep every
 * other key. Their `dependencies` are kept equal to the core's at once; their `status`
 * lazily: a status change touches only the core, and sync_statuses() writes the changed
 * ones into their records before anything reads records whole (JSON views, save).
 *
 * magma.WorkflowRun (struct lwfr: the shard number) has two user values: its
 * MetaWorkflowRun, which it keeps alive, and its shard_name string once asked for.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lauxlib.h"
#include "lua.h"

#include "fileio.h"
#include "json.h"
#include "lmagma.h"
#include "mwfr.h"

#define RUN_MT "magma.MetaWorkflowRun"
#define WFR_MT "magma.WorkflowRun"
#define RUNS_MT "magma.Runs"
#define LOCK_MT "magma.Lock"

enum { UV_DOC = 1, UV_RECORDS, UV_CACHE, UV_RUNS, UV_PATH, UV_COUNT = UV_PATH };

typedef struct {
    mwfr *core;        /* NULL once closed */
    int indent;        /* how save() lays out the file: spaces, or -1 for compact */
    int final_newline; /* whether save() ends the file with a newline */
} lrun;

typedef struct {
    uint32_t id;
} lwfr;

/* The keys removed when a shard is reset: the union of what magma, magma_ff and
 * magma_smaht remove. A reset can be given its own list. */
static const char *const default_reset_keys[] = {"jobid", "job_id", "workflow_run", NULL};

/* ---------------------------------------------------------------- helpers */

static mwfr_str tostr(lua_State *L, int idx)
{
    mwfr_str s;
    s.s = lua_tolstring(L, idx, &s.len);
    return s;
}

static void pushstr(lua_State *L, mwfr_str s)
{
    lua_pushlstring(L, s.s, s.len);
}

static int is_null(lua_State *L, int idx)
{
    return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == NULL;
}

static lrun *checkrun(lua_State *L, int idx)
{
    lrun *r = luaL_checkudata(L, idx, RUN_MT);
    if (r->core == NULL) luaL_error(L, "attempt to use a closed MetaWorkflowRun");
    return r;
}

/* The WorkflowRun at idx, its run's core in *core; pushes nothing. */
static uint32_t checkwfr(lua_State *L, int idx, mwfr **core)
{
    lwfr *w = luaL_checkudata(L, idx, WFR_MT);
    lua_getiuservalue(L, idx, 1);
    lrun *r = lua_touserdata(L, -1);
    lua_pop(L, 1); /* the WorkflowRun holds the run: r stays valid */
    if (r == NULL || r->core == NULL) luaL_error(L, "attempt to use a closed MetaWorkflowRun");
    *core = r->core;
    return w->id;
}

static void core_check(lua_State *L, int rc)
{
    switch (rc) {
    case MWFR_OK:
        return;
    case MWFR_ENOMEM:
        luaL_error(L, "not enough memory");
        break;
    case MWFR_ELIMIT:
        luaL_error(L, "run too large: more than 2^31 shards or names");
        break;
    default:
        luaL_error(L, "internal error %d in the run core", rc);
        break;
    }
}

/* Scratch memory owned by a userdata pushed on the stack, so that an error unwinding past
 * it leaks nothing. */
static void *scratch(lua_State *L, size_t size)
{
    return lua_newuserdatauv(L, size ? size : 1, 0);
}

/* Reusable scratch memory: a userdata kept at stack slot `slot`, replaced by a bigger one
 * when more is needed. */
typedef struct {
    int slot;
    size_t cap;
    void *p;
} sbuf;

static void sbuf_init(lua_State *L, sbuf *b)
{
    lua_pushnil(L);
    b->slot = lua_gettop(L);
    b->cap = 0;
    b->p = NULL;
}

static void *sbuf_get(lua_State *L, sbuf *b, size_t size)
{
    if (size > b->cap || b->p == NULL) {
        size_t ncap = size > 2 * b->cap ? size : 2 * b->cap;
        if (ncap < 256) ncap = 256;
        b->p = lua_newuserdatauv(L, ncap, 0);
        lua_replace(L, b->slot);
        b->cap = ncap;
    }
    return b->p;
}

/* 1 when the value at idx is a list: a table with the array metatable, or a plain table
 * whose keys are exactly 1..n. A json object (even {}) is not a list. */
static int is_list(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TTABLE) return 0;
    if (mjson_is_array(L, idx)) return 1;
    if (mjson_is_object(L, idx)) return 0;
    idx = lua_absindex(L, idx);
    lua_Unsigned n = lua_rawlen(L, idx), count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
            (lua_Unsigned)lua_tointeger(L, -1) > n) {
            lua_pop(L, 1);
            return 0;
        }
        count++;
    }
    return count == n;
}

/* Pushes a new empty list (with the array metatable, so that it encodes as []). */
static void new_list(lua_State *L, int narr)
{
    lua_createtable(L, narr, 0);
    mjson_push_array_mt(L);
    lua_setmetatable(L, -2);
}

/* Pushes a deep copy of the value at idx. Tables keep their metatable (shared, so that json
 * arrays and object shapes survive). Documents are trees: a table reached twice is copied
 * twice, and a cycle ends in the nesting limit's error. */
#define MAX_DEPTH 1000
static void deepcopy(lua_State *L, int idx, int depth)
{
    if (lua_type(L, idx) != LUA_TTABLE) {
        lua_pushvalue(L, idx);
        return;
    }
    if (depth > MAX_DEPTH)
        luaL_error(L, "table nested more than %d levels deep (or a cycle)", MAX_DEPTH);
    luaL_checkstack(L, 6, "table nested too deeply");
    idx = lua_absindex(L, idx);
    lua_Unsigned narr = lua_rawlen(L, idx);
    lua_createtable(L, narr > INT32_MAX ? 0 : (int)narr, narr ? 0 : 4);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pushvalue(L, -2);
        deepcopy(L, -2, depth + 1);
        lua_rawset(L, -5);
        lua_pop(L, 1);
    }
    if (lua_getmetatable(L, idx)) lua_setmetatable(L, -2);
}

/* ---------------------------------------------------------------- construction */

/* "workflow_runs[3] (shard "step:0:1")" for error messages, pushed. */
static const char *push_where(lua_State *L, lua_Integer i, int rec)
{
    int t = lua_getfield(L, rec, "name");
    int u = lua_getfield(L, rec, "shard");
    const char *r;
    if (t == LUA_TSTRING && u == LUA_TSTRING)
        r = lua_pushfstring(L, "workflow_runs[%I] (shard \"%s:%s\")", i, lua_tostring(L, -2),
                            lua_tostring(L, -1));
    else
        r = lua_pushfstring(L, "workflow_runs[%I]", i);
    lua_replace(L, -3);
    lua_pop(L, 1);
    return r;
}

static const char *typename_of(lua_State *L, int idx)
{
    if (is_null(L, idx)) return "null";
    if (lua_type(L, idx) == LUA_TTABLE) return is_list(L, idx) ? "list" : "object";
    return luaL_typename(L, idx);
}

static int record_error(lua_State *L, lua_Integer i, int rec, const char *fmt, const char *key,
                        const char *extra)
{
    const char *where = push_where(L, i, rec);
    const char *what = lua_pushfstring(L, fmt, key, extra);
    return luaL_error(L, "JSON validation error: %s: %s", where, what);
}

/* Checks record key `key` is a string; returns it. */
static mwfr_str record_string(lua_State *L, lua_Integer i, int rec, const char *key)
{
    int t = lua_getfield(L, rec, key);
    if (t == LUA_TNIL) record_error(L, i, rec, "missing key \"%s\"%s", key, "");
    if (t != LUA_TSTRING)
        record_error(L, i, rec, "key \"%s\" must be a string, got %s", key, typename_of(L, -1));
    mwfr_str s = tostr(L, -1);
    lua_pop(L, 1); /* the string stays alive in the record */
    return s;
}

/* Checks that the value at idx (a record's dependencies) is absent, null or a list of
 * strings; fills *out (scratch pushed on the stack) and returns the count. On error, the
 * message names the place: `where` when given, else record `rec` (number i) of the list. */
static size_t check_deps(lua_State *L, int idx, sbuf *buf, mwfr_str **out, const char *where,
                         lua_Integer i, int rec)
{
    idx = lua_absindex(L, idx);
    if (lua_isnoneornil(L, idx) || is_null(L, idx)) {
        *out = sbuf_get(L, buf, 0);
        return 0;
    }
    const char *bad = NULL;
    size_t n = 0;
    if (!is_list(L, idx)) {
        bad = lua_pushfstring(L, "key \"dependencies\" must be a list of strings, got %s",
                              typename_of(L, idx));
    } else {
        n = lua_rawlen(L, idx);
        if (n > ((size_t)-1) / sizeof(mwfr_str)) luaL_error(L, "not enough memory");
        *out = sbuf_get(L, buf, n * sizeof(mwfr_str));
        for (size_t k = 0; k < n && bad == NULL; k++) {
            if (lua_rawgeti(L, idx, (lua_Integer)k + 1) == LUA_TSTRING) {
                (*out)[k] = tostr(L, -1); /* still referenced by the list */
                lua_pop(L, 1);
            } else {
                bad = lua_pushfstring(L, "dependencies[%d] must be a string, got %s", (int)k + 1,
                                      typename_of(L, -1));
            }
        }
    }
    if (bad != NULL) {
        if (where == NULL) where = push_where(L, i, rec);
        luaL_error(L, "JSON validation error: %s: %s", where, bad);
    }
    return n;
}

static const char *const required_keys[] = {"meta_workflow", "input", "workflow_runs",
                                            "final_status", NULL};

/* Builds a run from the document table at doc_idx, which the run then owns (the caller
 * copies first when it must not). Pushes the run. Raises on an invalid document. */
static void build_run(lua_State *L, int doc_idx)
{
    doc_idx = lua_absindex(L, doc_idx);
    if (lua_type(L, doc_idx) != LUA_TTABLE || is_list(L, doc_idx))
        luaL_error(L, "JSON validation error: the document must be an object, got %s",
                   typename_of(L, doc_idx));
    for (const char *const *k = required_keys; *k; k++) {
        if (lua_getfield(L, doc_idx, *k) == LUA_TNIL || is_null(L, -1))
            luaL_error(L, "JSON validation error: missing key \"%s\"", *k);
        lua_pop(L, 1);
    }
    lua_getfield(L, doc_idx, "final_status");
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "JSON validation error: key \"final_status\" must be a string, got %s",
                   typename_of(L, -1));
    lua_pop(L, 1);
    lua_getfield(L, doc_idx, "workflow_runs");
    int recs = lua_gettop(L);
    if (!is_list(L, recs))
        luaL_error(L, "JSON validation error: key \"workflow_runs\" must be a list, got %s",
                   typename_of(L, recs));
    lua_Unsigned n = lua_rawlen(L, recs);
    if (n >= MWFR_MISSING_BIT - 1) luaL_error(L, "run too large: %I shards", (lua_Integer)n);

    /* The userdata first, safe to collect (core NULL), then the core. */
    lrun *r = lua_newuserdatauv(L, sizeof *r, UV_COUNT);
    r->core = NULL;
    r->indent = 2;
    r->final_newline = 1;
    int run = lua_gettop(L);
    luaL_setmetatable(L, RUN_MT);
    r->core = mwfr_new((uint32_t)n);
    if (r->core == NULL) luaL_error(L, "not enough memory");
    sbuf buf;
    sbuf_init(L, &buf);

    for (lua_Unsigned i = 1; i <= n; i++) {
        int top = lua_gettop(L);
        /* a record is an object: a json array, or a non-empty list, is not one */
        if (lua_rawgeti(L, recs, (lua_Integer)i) != LUA_TTABLE || mjson_is_array(L, -1) ||
            (lua_rawlen(L, -1) > 0 && is_list(L, -1)))
            luaL_error(L, "JSON validation error: workflow_runs[%I] must be an object, got %s",
                       (lua_Integer)i, typename_of(L, -1));
        int rec = lua_gettop(L);
        mwfr_str name = record_string(L, (lua_Integer)i, rec, "name");
        mwfr_str shard = record_string(L, (lua_Integer)i, rec, "shard");
        mwfr_str status = record_string(L, (lua_Integer)i, rec, "status");
        lua_getfield(L, rec, "dependencies");
        mwfr_str *deps;
        size_t ndeps = check_deps(L, -1, &buf, &deps, NULL, (lua_Integer)i, rec);
        uint32_t code = mwfr_status_code(r->core, status);
        if (code == MWFR_NONE) luaL_error(L, "not enough memory");
        uint32_t id;
        int rc = mwfr_add_shard(r->core, name, shard, code, deps, ndeps, &id);
        if (rc == MWFR_EDUP)
            luaL_error(L, "JSON validation error: %s: duplicate shard_name \"%s:%s\"",
                       push_where(L, (lua_Integer)i, rec), name.s, shard.s);
        core_check(L, rc);
        lua_settop(L, top);
    }
    core_check(L, mwfr_finish(r->core));

    lua_pushvalue(L, doc_idx);
    lua_setiuservalue(L, run, UV_DOC);
    lua_pushvalue(L, recs);
    lua_setiuservalue(L, run, UV_RECORDS);
    lua_createtable(L, (int)n, 0); /* an array part for every shard: no rehash as it fills */
    lua_setiuservalue(L, run, UV_CACHE);
    lua_settop(L, run);
    lua_remove(L, recs);
}

/* MetaWorkflowRun(data): a run from a deep copy of data. */
static int l_new(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    deepcopy(L, 1, 0);
    build_run(L, -1);
    return 1;
}

/* magma.adopt(data): a run that takes data as it is, without the copy (as magma.load
 * does with what it decodes); data belongs to the run afterwards. */
static int l_adopt(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    build_run(L, 1);
    return 1;
}

/* ---------------------------------------------------------------- shards */

/* Pushes shard id's record table. */
static void push_record(lua_State *L, int run, uint32_t id)
{
    lua_getiuservalue(L, run, UV_RECORDS);
    lua_rawgeti(L, -1, (lua_Integer)id + 1);
    lua_remove(L, -2);
}

/* Pushes the WorkflowRun userdata of shard id, given the run's cache table at `cache`. */
static void push_wfr_cached(lua_State *L, int run, int cache, uint32_t id)
{
    if (lua_rawgeti(L, cache, (lua_Integer)id + 1) == LUA_TUSERDATA) return;
    lua_pop(L, 1);
    lwfr *w = lua_newuserdatauv(L, sizeof *w, 2);
    w->id = id;
    luaL_setmetatable(L, WFR_MT);
    lua_pushvalue(L, run);
    lua_setiuservalue(L, -2, 1);
    lua_pushvalue(L, -1);
    lua_rawseti(L, cache, (lua_Integer)id + 1);
}

/* Pushes the WorkflowRun userdata of shard id. */
static void push_wfr(lua_State *L, int run, uint32_t id)
{
    run = lua_absindex(L, run);
    lua_getiuservalue(L, run, UV_CACHE);
    push_wfr_cached(L, run, lua_gettop(L), id);
    lua_remove(L, -2);
}

static uint32_t lookup_shard(lua_State *L, lrun *r, int idx)
{
    size_t len;
    if (lua_type(L, idx) != LUA_TSTRING) return MWFR_NONE;
    const char *s = lua_tolstring(L, idx, &len);
    return mwfr_lookup(r->core, (mwfr_str){s, len});
}

/* Writes the statuses that changed in the core since the last sync into their records. */
static void sync_statuses(lua_State *L, int run, lrun *r)
{
    run = lua_absindex(L, run);
    if (mwfr_next_changed(r->core, 0) == MWFR_NONE) return;
    lua_getiuservalue(L, run, UV_RECORDS);
    for (uint32_t id = mwfr_next_changed(r->core, 0); id != MWFR_NONE;
         id = mwfr_next_changed(r->core, id + 1)) {
        lua_rawgeti(L, -1, (lua_Integer)id + 1);
        pushstr(L, mwfr_status_str(r->core, mwfr_status(r->core, id)));
        lua_setfield(L, -2, "status");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    mwfr_clear_changed(r->core);
}

/* Sets key k (string at k_idx) of shard id to the value at v_idx: the one place where a
 * shard's attributes change. */
static void set_attribute(lua_State *L, int run, lrun *r, uint32_t id, int k_idx, int v_idx)
{
    run = lua_absindex(L, run);
    k_idx = lua_absindex(L, k_idx);
    v_idx = lua_absindex(L, v_idx);
    if (lua_type(L, k_idx) != LUA_TSTRING)
        luaL_error(L, "attribute name must be a string, got %s", luaL_typename(L, k_idx));
    const char *k = lua_tostring(L, k_idx);
    mwfr_str sn = mwfr_shard_name(r->core, id);
    if (strcmp(k, "status") == 0) { /* the hot path: the core only (see sync_statuses) */
        if (lua_type(L, v_idx) != LUA_TSTRING)
            luaL_error(L, "shard \"%s\": key \"status\" must be a string, got %s", sn.s,
                       typename_of(L, v_idx));
        uint32_t code = mwfr_status_code(r->core, tostr(L, v_idx));
        if (code == MWFR_NONE) luaL_error(L, "not enough memory");
        mwfr_set_status(r->core, id, code);
        return;
    }
    if (strcmp(k, "name") == 0 || strcmp(k, "shard") == 0 || strcmp(k, "shard_name") == 0)
        luaL_error(L, "shard \"%s\": key \"%s\" is the shard's identity and cannot be changed",
                   sn.s, k);
    push_record(L, run, id);
    int rec = lua_gettop(L);
    if (strcmp(k, "dependencies") == 0) {
        const char *where = lua_pushfstring(L, "shard \"%s\"", sn.s);
        sbuf buf;
        sbuf_init(L, &buf);
        mwfr_str *deps;
        size_t n = check_deps(L, v_idx, &buf, &deps, where, 0, 0);
        /* The record keeps a copy, so that changing the caller's list changes nothing. */
        if (lua_isnil(L, v_idx) || is_null(L, v_idx)) {
            lua_pushnil(L);
        } else {
            new_list(L, (int)n);
            for (size_t i = 0; i < n; i++) {
                pushstr(L, deps[i]);
                lua_rawseti(L, -2, (lua_Integer)i + 1);
            }
        }
        core_check(L, mwfr_set_deps(r->core, id, deps, n));
        lua_setfield(L, rec, "dependencies");
    } else {
        lua_pushvalue(L, v_idx);
        lua_setfield(L, rec, k);
    }
    lua_settop(L, rec - 1);
}

static void reset_one(lua_State *L, int run, lrun *r, uint32_t id, int keys_idx)
{
    push_record(L, run, id);
    int rec = lua_gettop(L);
    lua_pushliteral(L, "pending");
    lua_setfield(L, rec, "status");
    mwfr_set_status(r->core, id, MWFR_PENDING);
    new_list(L, 0);
    lua_setfield(L, rec, "output");
    if (keys_idx == 0) {
        for (const char *const *k = default_reset_keys; *k; k++) {
            lua_pushnil(L);
            lua_setfield(L, rec, *k);
        }
    } else {
        lua_Integer n = (lua_Integer)lua_rawlen(L, keys_idx);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, keys_idx, i);
            lua_pushnil(L);
            lua_rawset(L, rec);
        }
    }
    lua_pop(L, 1);
}

/* The optional list of keys a reset removes, at idx: its index, or 0 for the default. */
static int opt_reset_keys(lua_State *L, int idx)
{
    if (lua_isnoneornil(L, idx)) return 0;
    luaL_argexpected(L, lua_type(L, idx) == LUA_TTABLE, idx, "list of keys");
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    static const char *const kept[] = {"name",   "shard",        "shard_name",
                                       "status", "dependencies", NULL};
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_rawgeti(L, idx, i) != LUA_TSTRING)
            luaL_argerror(L, idx, "reset keys must be strings");
        for (const char *const *k = kept; *k; k++)
            if (strcmp(lua_tostring(L, -1), *k) == 0)
                luaL_argerror(L, idx, lua_pushfstring(L, "a reset cannot remove key \"%s\"", *k));
        lua_pop(L, 1);
    }
    return idx;
}

/* ---------------------------------------------------------------- MetaWorkflowRun methods */

static int m_to_run(lua_State *L)
{
    lrun *r = checkrun(L, 1);
    lua_settop(L, 1);
    lua_getiuservalue(L, 1, UV_CACHE);
    lua_createtable(L, (int)mwfr_nready(r->core), 0);
    lua_Integer k = 0;
    for (uint32_t id = mwfr_next_ready(r->core, 0); id != MWFR_NONE;
         id = mwfr_next_ready(r->core, id + 1)) {
        push_wfr_cached(L, 1, 2, id);
        lua_rawseti(L, 3, ++k);
    }
    return 1;
}

static int m_running(lua_State *L)
{
    lrun *r = checkrun(L, 1);
    lua_settop(L, 1);
    lua_getiuservalue(L, 1, UV_CACHE);
    lua_createtable(L, (int)mwfr_count_status(r->core, MWFR_RUNNING), 0);
    lua_Integer k = 0;
    for (uint32_t id = mwfr_next_with_status(r->core, MWFR_RUNNING, 0); id != MWFR_NONE;
         id = mwfr_next_with_status(r->core, MWFR_RUNNING, id + 1)) {
        push_wfr_cached(L, 1, 2, id);
        lua_rawseti(L, 3, ++k);
    }
    return 1;
}

static int m_update_attribute(lua_State *L)
{
    lrun *r = checkrun(L, 1);
    luaL_checktype(L, 2, LUA_TSTRING);
    luaL_checktype(L, 3, LUA_TSTRING);
    lua_settop(L, 4);
    uint32_t id = lookup_shard(L, r, 2);
    if (id == MWFR_NONE)
        return luaL_error(L, "update_attribute: unknown shard_name \"%s\"", lua_tostring(L, 2));
    set_attribute(L, 1, r, id, 3, 4);
    return 0;
}

/* Pushes a fresh copy of shard id's record for runs_to_json: null values and empty output
 * and dependencies left out, as magma does. */
static void push_record_json(lua_State *L, int run, uint32_t id)
{
    push_record(L, run, id);
    int rec = lua_gettop(L);
    lua_createtable(L, 0, 8);
    int out = rec + 1;
    lua_pushnil(L);
    while (lua_next(L, rec)) {
        int drop = is_null(L, -1);
        if (!drop && lua_type(L, -1) == LUA_TTABLE && lua_type(L, -2) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -2);
            if ((strcmp(k, "output") == 0 || strcmp(k, "dependencies") == 0)) {
                lua_pushnil(L);
                drop = lua_next(L, -2) == 0;
                if (!drop) lua_pop(L, 2);
            }
        }
        if (!drop) {
            lua_pushvalue(L, -2);
            deepcopy(L, -2, 1);
            lua_rawset(L, out);
        }
        lua_pop(L, 1);
    }
    if (lua_getmetatable(L, rec)) lua_setmetatable(L, out);
    lua_remove(L, rec);
}

static void push_runs_json(lua_State *L, int run, lrun *r)
{
    sync_statuses(L, run, r);
    uint32_t n = mwfr_count(r->core);
    new_list(L, (int)n);
    for (uint32_t id = 0; id < n; id++) {
        push_record_json(L, run, id);
        lua_rawseti(L, -2, (lua_Integer)id + 1);
    }
}

static int m_runs_to_json(lua_State *L)
{
    lrun *r = checkrun(L, 1);
    push_runs_json(L, 1, r);
    return 1;
}

static int m_to_json(lua_State *L)
{
    lrun *r = checkrun(L, 1);
    sync_statuses(L, 1, r);
    lua_getiuservalue(L, 1, UV_DOC);
    int doc = lua_gettop(L);
    lua_createtable(L, 0, 8);
    int out = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, doc)) {
        if (lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), "workflow_runs") == 0) {
            lua_pushvalue(L, -2);
            push_runs_json(L, 1, r);
        } else {
            lua_pushvalue(L, -2);
            deepcopy(L, -2, 1);
        }
        lua_rawset(L, out);
        lua_pop(L, 1);
    }
    if (lua_getmetatable(L, doc)) lua_setmetatable(L, out);
    return 1;
}

static int m_reset_step(lua_State *L)
{
    lrun *r = checkrun(L, 1);
    size_t len;
    const char *name = luaL_checklstring(L, 2, &len);
    int keys = opt_reset_keys(L, 3);
    uint32_t step = mwfr_step_lookup(r->core, (mwfr_str){name, len});
    if (step == MWFR_NONE) return 0; /* magma: unknown names are a no-op */
    uint32_t count;
    const uint32_t *ids = mwfr_step_shards(r->core, step, &count);
    for (uint32_t i = 0; i < count; i++) reset_one(L, 1, r, ids[i], keys);
    return 0;
}

static int m_reset_shard(lua_State *L)
{
    lrun *r = checkrun(L, 1);
    luaL_checkstring(L, 2);
    int keys = opt_reset_keys(L, 3);
    uint32_t id = lookup_shard(L, r, 2);
    if (id != MWFR_NONE) reset_one(L, 1, r, id, keys);
    return 0;
}

static int m_update_status(lua_State *L)
{
    lrun *r = checkrun(L, 1);
    lua_getiuservalue(L, 1, UV_DOC);
    lua_pushstring(L, mwfr_final_str(mwfr_final_status(r->core)));
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "final_status");
    return 1;
}

/* validate() -> true | false, problems. */
static int m_validate(lua_State *L)
{
    lrun *r = checkrun(L, 1);
    mwfr *m = r->core;
    lua_newtable(L);
    int problems = lua_gettop(L);
    lua_Integer np = 0;
    uint32_t n = mwfr_count(m);
    for (uint32_t id = 0; id < n; id++) {
        uint32_t nd;
        const uint32_t *deps = mwfr_deps(m, id, &nd);
        for (uint32_t k = 0; k < nd; k++) {
            if (!(deps[k] & MWFR_MISSING_BIT)) continue;
            mwfr_str sn = mwfr_shard_name(m, id), dn = mwfr_dep_name(m, deps[k]);
            lua_createtable(L, 0, 4);
            lua_pushliteral(L, "missing_dependency");
            lua_setfield(L, -2, "kind");
            pushstr(L, sn);
            lua_setfield(L, -2, "shard");
            pushstr(L, dn);
            lua_setfield(L, -2, "dependency");
            lua_pushfstring(L, "shard \"%s\": dependency \"%s\" is not a shard of this run", sn.s,
                            dn.s);
            lua_setfield(L, -2, "message");
            lua_rawseti(L, problems, ++np);
        }
    }
    /* The core's arrays are copied into a scratch userdata (allocated first: members and
     * starts need at most 2n+1 entries) and freed before anything else can raise. */
    uint32_t *buf = scratch(L, (2 * (size_t)n + 1) * sizeof *buf);
    uint32_t *members, *starts, ncycles;
    core_check(L, mwfr_cycles(m, &members, &starts, &ncycles));
    size_t total = starts[ncycles];
    memcpy(buf, members, total * sizeof *buf);
    memcpy(buf + total, starts, (ncycles + 1) * sizeof *buf);
    free(members);
    free(starts);
    for (uint32_t c = 0; c < ncycles; c++) {
        uint32_t from = buf[total + c], to = buf[total + c + 1];
        lua_createtable(L, 0, 3);
        lua_pushliteral(L, "cycle");
        lua_setfield(L, -2, "kind");
        lua_createtable(L, (int)(to - from), 0);
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        luaL_addstring(&b, "cycle between shards: ");
        for (uint32_t k = from; k < to; k++) {
            mwfr_str sn = mwfr_shard_name(m, buf[k]);
            if (k > from) luaL_addstring(&b, ", ");
            luaL_addlstring(&b, sn.s, sn.len);
        }
        luaL_pushresult(&b);
        for (uint32_t k = from; k < to; k++) {
            pushstr(L, mwfr_shard_name(m, buf[k]));
            lua_rawseti(L, -3, (lua_Integer)(k - from) + 1);
        }
        lua_setfield(L, -3, "message");
        lua_setfield(L, -2, "shards");
        lua_rawseti(L, problems, ++np);
    }
    lua_settop(L, problems);
    lua_pushboolean(L, np == 0);
    lua_insert(L, -2);
    return 2;
}

/* counts() -> {pending = n, running = n, completed = n, failed = n, <other> = n} */
static int m_counts(lua_State *L)
{
    lrun *r = checkrun(L, 1);
    lua_createtable(L, 0, 5);
    for (uint32_t c = 0; c < MWFR_NKNOWN; c++) {
        lua_pushinteger(L, mwfr_count_status(r->core, c));
        lua_setfield(L, -2, mwfr_status_str(r->core, c).s);
    }
    if (mwfr_count_status(r->core, MWFR_NKNOWN) > 0) {
        /* Other statuses are counted by name: one pass over the shards. */
        uint32_t n = mwfr_count(r->core);
        for (uint32_t id = 0; id < n; id++) {
            uint32_t code = mwfr_status(r->core, id);
            if (code < MWFR_NKNOWN) continue;
            pushstr(L, mwfr_status_str(r->core, code));
            lua_pushvalue(L, -1);
            lua_Integer v = lua_rawget(L, -3) == LUA_TNUMBER ? lua_tointeger(L, -1) : 0;
            lua_pop(L, 1);
            lua_pushinteger(L, v + 1);
            lua_rawset(L, -3);
        }
    }
    return 1;
}

/* steps() -> the distinct step names, in order of first appearance. */
static int m_steps(lua_State *L)
{
    lrun *r = checkrun(L, 1);
    uint32_t n = mwfr_nsteps(r->core);
    lua_createtable(L, (int)n, 0);
    for (uint32_t s = 0; s < n; s++) {
        pushstr(L, mwfr_step_name(r->core, s));
        lua_rawseti(L, -2, (lua_Integer)s + 1);
    }
    return 1;
}

/* ---------------------------------------------------------------- engine methods
 * Beyond magma's API: what policies need to stay O(changes) per round. Shard positions
 * are 1-based document order (the i-th record of workflow_runs). */

static const char *const rule_names[] = {"all_success", "all_done",    "all_failed", "one_success",
                                         "one_failed",  "none_failed", NULL};

/* The shard named by the string at idx, or raises naming it. */
static uint32_t check_shard(lua_State *L, lrun *r, int idx)
{
    luaL_checkstring(L, idx);
    uint32_t id = lookup_shard(L, r, idx);
    if (id == MWFR_NONE) luaL_error(L, "unknown shard_name \"%s\"", lua_tostring(L, idx));
    return id;
}

/* The step named by the string at idx, or raises naming it. */
static uint32_t check_step(lua_State *L, lrun *r, int idx)
{
    size_t len;
    const char *name = luaL_checklstring(L, idx, &len);
    uint32_t step = mwfr_step_lookup(r->core, (mwfr_str){name, len});
    if (step == MWFR_NONE) luaL_error(L, "unknown step \"%s\"", name);
    return step;
}

/* Status code of the string at idx (MWFR_NONE only when out of memory). */
static uint32_t status_of_arg(lua_State *L, lrun *r, int idx)
{
    mwfr_str st;
    st.s = luaL_checklstring(L, idx, &st.len);
    return mwfr_status_code(r->core, st);
}

/* run:set_trigger(rule[, step]): the trigger rule of every shard of step (or of the run). */
static int m_set_trigger(lua_State *L)
{
    lrun *r = checkrun(L, 1);
    mwfr_rule rule = (mwfr_rule)luaL_checkoption(L, 2, NULL, rule_names);
    if (lua_isnoneornil(L, 3)) {
        uint32_t n = mwfr_count(r->core);
        for (uint32_t id = 0; id < n; id++) mwfr_set_rule(r->core, id, rule);
    } else {
        uint32_t count;
        const uint32_t *ids = mwfr_step_shards(r->core, check_step(L, r, 3), &count);
        for (uint32_t i = 0; i < count; i++) mwfr_set_rule(r->core, ids[i], rule);
    }
    return 0;
}

/* run:trigger(shard_name) -> the shard's rule name. */
static int m_trigger(lua_State *L)
{
    lrun *r = checkrun(L, 1);
    lua_pushstring(L, rule_names[mwfr_get_rule(r->core, check_shard(L, r, 2))]);
    return 1;
}

/* run:next_ready([i]) -> i, wfr: the first ready shard at position >= i (default 1), or
 * nil. Walks the ready set in document order at O(log n) a step. */
static int m_next_ready(lua_State *L)
{
    lrun *r = checkrun(L, 1);
    lua_Integer i = luaL_optinteger(L, 2, 1);
    uint32_t id = i < 1 ? 0 : i > (lua_Integer)MWFR_NONE ? MWFR_NONE : (uint32_t)(i - 1);
    id = mwfr_next_ready(r->core, id);
    if (id == MWFR_NONE) return 0;
    lua_pushinteger(L, (lua_Integer)id + 1);
    push_wfr(L, 1, id);
    return 2;
}

/* run:next_with_status(status[, i]) -> i, wfr: as next_ready, for shards with one of the
 * four known statuses. */
static int m_next_with_status(lua_State *L)
{
    lrun *r = checkrun(L, 1);
    static const char *const known[] = {"pending", "running", "completed", "failed", NULL};
    uint32_t code = (uint32_t)luaL_checkoption(L, 2, NULL, known);
    lua_Integer i = luaL_optinteger(L, 3, 1);
    uint32_t id = i < 1 ? 0 : i > (lua_Integer)MWFR_NONE ? MWFR_NONE : (uint32_t)(i - 1);
    id = mwfr_next_with_status(r->core, code, id);
    if (id == MWFR_NONE) return 0;
    lua_pushinteger(L, (lua_Integer)id + 1);
    push_wfr(L, 1, id);
    return 2;
}

/* run:count(status[, step]) -> shards with that status (in that step). O(1). */
static int m_count(lua_State *L)
{
    lrun *r = checkrun(L, 1);
    uint32_t code = status_of_arg(L, r, 2);
    if (code == MWFR_NONE) return luaL_error(L, "not enough memory");
    lua_Integer n = 0;
    if (lua_isnoneornil(L, 3)) {
        if (code < MWFR_NKNOWN)
            n = mwfr_count_status(r->core, code);
        else {
            for (uint32_t id = 0, total = mwfr_count(r->core); id < total; id++)
                n += mwfr_status(r->core, id) == code;
        }
    } else {
        uint32_t step = check_step(L, r, 3);
        if (code < MWFR_NKNOWN)
            n = mwfr_step_count(r->core, step, code);
        else {
            uint32_t count;
            const uint32_t *ids = mwfr_step_shards(r->core, step, &count);
            for (uint32_t i = 0; i < count; i++) n += mwfr_status(r->core, ids[i]) == code;
        }
    }
    lua_pushinteger(L, n);
    return 1;
}

/* run:ready_count() -> how many shards to_run() would give. O(1). */
static int m_ready_count(lua_State *L)
{
    lrun *r = checkrun(L, 1);
    lua_pushinteger(L, mwfr_nready(r->core));
    return 1;
}

/* run:index(shard_name) -> the shard's position in document order, or nil. */
static int m_index_of(lua_State *L)
{
    lrun *r = checkrun(L, 1);
    luaL_checkstring(L, 2);
    uint32_t id = lookup_shard(L, r, 2);
    if (id == MWFR_NONE) return 0;
    lua_pushinteger(L, (lua_Integer)id + 1);
    return 1;
}

/* run:shard_at(i) -> the WorkflowRun at position i, or nil. */
static int m_shard_at(lua_State *L)
{
    lrun *r = checkrun(L, 1);
    lua_Integer i = luaL_checkinteger(L, 2);
    if (i < 1 || i > (lua_Integer)mwfr_count(r->core)) return 0;
    push_wfr(L, 1, (uint32_t)(i - 1));
    return 1;
}

/* run:dependents(shard_name) -> list of the WorkflowRuns that depend on it directly. */
static int m_dependents(lua_State *L)
{
    lrun *r = checkrun(L, 1);
    uint32_t n;
    const uint32_t *ids = mwfr_dependents(r->core, check_shard(L, r, 2), &n);
    /* A shard listing the same dependency twice appears once (a set of the positions seen
     * in a scratch table; the core's array stays valid: nothing here changes the graph). */
    lua_createtable(L, (int)n, 0);
    lua_createtable(L, 0, (int)n);
    lua_Integer k = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (lua_rawgeti(L, -1, (lua_Integer)ids[i] + 1) != LUA_TNIL) {
            lua_pop(L, 1);
            continue;
        }
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
        lua_rawseti(L, -2, (lua_Integer)ids[i] + 1);
        push_wfr(L, 1, ids[i]);
        lua_rawseti(L, -3, ++k);
    }
    lua_pop(L, 1);
    return 1;
}

/* run:dep_counts(shard_name) -> completed, failed, done, total: the shard's dependencies
 * by status (done: neither pending nor running; a missing dependency is never done). */
static int m_dep_counts(lua_State *L)
{
    lrun *r = checkrun(L, 1);
    uint32_t id = check_shard(L, r, 2), c, f, d, n;
    mwfr_dep_counts(r->core, id, &c, &f, &d);
    mwfr_deps(r->core, id, &n);
    lua_pushinteger(L, c);
    lua_pushinteger(L, f);
    lua_pushinteger(L, d);
    lua_pushinteger(L, n);
    return 4;
}

static int m_gc(lua_State *L)
{
    lrun *r = luaL_checkudata(L, 1, RUN_MT);
    mwfr_free(r->core);
    r->core = NULL;
    return 0;
}

static int m_tostring(lua_State *L)
{
    lrun *r = luaL_checkudata(L, 1, RUN_MT);
    if (r->core == NULL) {
        lua_pushliteral(L, "MetaWorkflowRun (closed)");
        return 1;
    }
    lua_getiuservalue(L, 1, UV_DOC);
    lua_getfield(L, -1, "final_status");
    lua_pushfstring(L, "MetaWorkflowRun (%d shards, final_status %s): %p", (int)mwfr_count(r->core),
                    lua_tostring(L, -1), lua_topointer(L, 1));
    return 1;
}

static int m_len(lua_State *L)
{
    lrun *r = checkrun(L, 1);
    lua_pushinteger(L, mwfr_count(r->core));
    return 1;
}

static void push_runs_proxy(lua_State *L, int run);

static int m_index(lua_State *L)
{
    lrun *r = checkrun(L, 1);
    /* methods first (upvalue 1) */
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
    lua_pop(L, 1);
    if (lua_type(L, 2) == LUA_TSTRING) {
        const char *k = lua_tostring(L, 2);
        if (strcmp(k, "runs") == 0) {
            push_runs_proxy(L, 1);
            return 1;
        }
        if (strcmp(k, "workflow_runs") == 0) {
            push_runs_json(L, 1, r);
            return 1;
        }
    }
    lua_getiuservalue(L, 1, UV_DOC);
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

static int m_newindex(lua_State *L)
{
    checkrun(L, 1);
    const char *k = luaL_checkstring(L, 2);
    if (strcmp(k, "runs") == 0 || strcmp(k, "workflow_runs") == 0)
        return luaL_error(L,
                          "MetaWorkflowRun: \"%s\" is read-only (change shards with "
                          "update_attribute)",
                          k);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
        return luaL_error(L, "MetaWorkflowRun: \"%s\" is a method and cannot be set", k);
    for (const char *const *rk = required_keys; *rk; rk++)
        if (strcmp(k, *rk) == 0 && (lua_isnil(L, 3) || is_null(L, 3)))
            return luaL_error(L, "MetaWorkflowRun: required key \"%s\" cannot be removed", k);
    if (strcmp(k, "final_status") == 0 && lua_type(L, 3) != LUA_TSTRING)
        return luaL_error(L, "MetaWorkflowRun: \"final_status\" must be a string, got %s",
                          typename_of(L, 3));
    lua_getiuservalue(L, 1, UV_DOC);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_rawset(L, -3);
    return 0;
}

/* ---------------------------------------------------------------- the runs proxy */

static int runs_check(lua_State *L)
{
    luaL_checkudata(L, 1, RUNS_MT);
    lua_getiuservalue(L, 1, 1);
    checkrun(L, -1);
    return lua_gettop(L);
}

static int runs_index(lua_State *L)
{
    int run = runs_check(L);
    lrun *r = lua_touserdata(L, run);
    uint32_t id = lookup_shard(L, r, 2);
    if (id == MWFR_NONE) return 0;
    push_wfr(L, run, id);
    return 1;
}

static int runs_newindex(lua_State *L)
{
    luaL_checkudata(L, 1, RUNS_MT);
    return luaL_error(L, "MetaWorkflowRun: runs is read-only (change shards with "
                         "update_attribute)");
}

static int runs_len(lua_State *L)
{
    int run = runs_check(L);
    lrun *r = lua_touserdata(L, run);
    lua_pushinteger(L, mwfr_count(r->core));
    return 1;
}

/* next(proxy, shard_name) in document order. */
static int runs_next(lua_State *L)
{
    int run = runs_check(L);
    lrun *r = lua_touserdata(L, run);
    uint32_t id = 0;
    if (!lua_isnil(L, 2)) {
        id = lookup_shard(L, r, 2);
        if (id == MWFR_NONE) return luaL_error(L, "invalid key to 'next' over runs");
        id++;
    }
    if (id >= mwfr_count(r->core)) return 0;
    pushstr(L, mwfr_shard_name(r->core, id));
    push_wfr(L, run, id);
    return 2;
}

static int runs_pairs(lua_State *L)
{
    luaL_checkudata(L, 1, RUNS_MT);
    lua_pushcfunction(L, runs_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static int runs_tostring(lua_State *L)
{
    luaL_checkudata(L, 1, RUNS_MT);
    lua_pushfstring(L, "MetaWorkflowRun runs: %p", lua_topointer(L, 1));
    return 1;
}

static void push_runs_proxy(lua_State *L, int run)
{
    run = lua_absindex(L, run);
    if (lua_getiuservalue(L, run, UV_RUNS) == LUA_TUSERDATA) return;
    lua_pop(L, 1);
    lua_newuserdatauv(L, 1, 1);
    luaL_setmetatable(L, RUNS_MT);
    lua_pushvalue(L, run);
    lua_setiuservalue(L, -2, 1);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, run, UV_RUNS);
}

/* ---------------------------------------------------------------- WorkflowRun */

static int w_index(lua_State *L)
{
    mwfr *m;
    uint32_t id = checkwfr(L, 1, &m);
    if (lua_type(L, 2) != LUA_TSTRING) return 0;
    const char *k = lua_tostring(L, 2);
    if (strcmp(k, "shard_name") == 0) {
        /* Made once per WorkflowRun and kept in its second user value: loops that ask for
         * it again do not hash the name again. */
        if (lua_getiuservalue(L, 1, 2) != LUA_TSTRING) {
            lua_pop(L, 1);
            pushstr(L, mwfr_shard_name(m, id));
            lua_pushvalue(L, -1);
            lua_setiuservalue(L, 1, 2);
        }
    } else if (strcmp(k, "name") == 0 || strcmp(k, "shard") == 0) {
        lua_getiuservalue(L, 1, 1); /* the record holds them as strings already */
        push_record(L, -1, id);
        lua_getfield(L, -1, k);
    } else if (strcmp(k, "status") == 0)
        pushstr(L, mwfr_status_str(m, mwfr_status(m, id)));
    else if (strcmp(k, "dependencies") == 0) {
        /* A fresh list: the graph changes only through update_attribute. */
        uint32_t n;
        const uint32_t *deps = mwfr_deps(m, id, &n);
        new_list(L, (int)n);
        for (uint32_t i = 0; i < n; i++) {
            pushstr(L, mwfr_dep_name(m, deps[i]));
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
    } else {
        lua_getiuservalue(L, 1, 1);
        push_record(L, -1, id);
        lua_pushvalue(L, 2);
        int t = lua_rawget(L, -2);
        if (strcmp(k, "output") == 0 && (t == LUA_TNIL || is_null(L, -1))) new_list(L, 0);
    }
    return 1;
}

static int w_newindex(lua_State *L)
{
    mwfr *m;
    uint32_t id = checkwfr(L, 1, &m);
    lua_getiuservalue(L, 1, 1);
    int run = lua_gettop(L);
    set_attribute(L, run, lua_touserdata(L, run), id, 2, 3);
    return 0;
}

static int w_tostring(lua_State *L)
{
    mwfr *m;
    uint32_t id = checkwfr(L, 1, &m);
    lua_pushfstring(L, "WorkflowRun %s (%s)", mwfr_shard_name(m, id).s,
                    mwfr_status_str(m, mwfr_status(m, id)).s);
    return 1;
}

/* ---------------------------------------------------------------- files */

/* Pushes nil and "path: message" and returns 2: the way functions that touch files fail. */
static int file_fail(lua_State *L, const char *path, const char *msg)
{
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, msg);
    return 2;
}

/* The layout of a JSON text: the indentation of its first indented line (-1: none). */
static int detect_indent(const char *s, size_t len)
{
    const char *nl = memchr(s, '\n', len);
    if (nl == NULL) return -1;
    int n = 0;
    for (const char *p = nl + 1; p < s + len && *p == ' ' && n < 16; p++) n++;
    return n > 0 ? n : 2;
}

static int build_protected(lua_State *L)
{
    build_run(L, 1);
    return 1;
}

/* magma.load(path) -> run | nil, err. The decoded document becomes the run's own (no
 * copy); save() writes it back laid out as the file was. */
static int l_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct stat st;
    if (stat(path, &st) != 0) return file_fail(L, path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return file_fail(L, path, "is a directory");
    /* The buffer is a userdata, so nothing leaks if decoding raises; the file is opened
     * only after it exists, and closed before anything else can raise. */
    size_t size = (size_t)st.st_size;
    char *buf = lua_newuserdatauv(L, size ? size : 1, 0);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return file_fail(L, path, strerror(errno));
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    int err = errno;
    close(fd);
    if (got < size) return file_fail(L, path, got ? "file shrank while being read" : strerror(err));
    if (!mjson_decode(L, buf, size)) return file_fail(L, path, lua_tostring(L, -1));
    lua_pushcfunction(L, build_protected);
    lua_insert(L, -2);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        if (lua_type(L, -1) != LUA_TSTRING) lua_error(L); /* memory errors go on */
        return file_fail(L, path, lua_tostring(L, -1));
    }
    lrun *r = lua_touserdata(L, -1);
    r->indent = detect_indent(buf, size);
    r->final_newline = size > 0 && buf[size - 1] == '\n';
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, UV_PATH);
    return 1;
}

/* run:save([path[, {indent = n}]]) -> true | nil, err. Atomic: the file is replaced only
 * once the whole new content is written and synced. */
static int m_save(lua_State *L)
{
    lrun *r = checkrun(L, 1);
    lua_settop(L, 3); /* path and options may be absent: give them their slots */
    int indent = r->indent;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        if (lua_getfield(L, 3, "indent") != LUA_TNIL) {
            lua_Integer n = luaL_checkinteger(L, -1);
            luaL_argcheck(L, n >= -1 && n <= 16, 3, "indent must be -1 (compact) to 16");
            indent = (int)n;
        }
        lua_pop(L, 1);
    }
    if (lua_isnoneornil(L, 2)) {
        lua_getiuservalue(L, 1, UV_PATH);
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_argerror(L, 2, "path expected (this run was not loaded from a file)");
        lua_replace(L, 2);
    }
    const char *path = luaL_checkstring(L, 2);
    sync_statuses(L, 1, r);
    lua_getiuservalue(L, 1, UV_DOC);
    /* Written straight from the encoder's buffer: no Lua string of the whole text. */
    const char *text;
    size_t len;
    if (!mjson_encode_buffer(L, -1, indent, r->final_newline ? "\n" : "", &text, &len))
        return file_fail(L, path, lua_tostring(L, -1));
    char err[512];
    if (mfile_write_atomic(path, text, len, err, sizeof err) != 0) return file_fail(L, path, err);
    lua_pushboolean(L, 1);
    return 1;
}

/* magma.write_file(path, text) -> true | nil, err: replaces path atomically, as save does
 * (for files kept beside a run, such as a policy's state). */
static int l_write_file(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    size_t len;
    const char *text = luaL_checklstring(L, 2, &len);
    char err[512];
    if (mfile_write_atomic(path, text, len, err, sizeof err) != 0) return file_fail(L, path, err);
    lua_pushboolean(L, 1);
    return 1;
}

/* magma.lock(path[, wait_seconds]) -> lock | nil, err: an exclusive advisory lock on
 * path .. ".lock", held until lock:unlock(), its collection or the end of its scope. */
typedef struct {
    int fd;
} llock;

static int l_lock(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    double wait = luaL_optnumber(L, 2, 0);
    llock *k = lua_newuserdatauv(L, sizeof *k, 0);
    k->fd = -1;
    luaL_setmetatable(L, LOCK_MT);
    const char *lockpath = lua_pushfstring(L, "%s.lock", path);
    int rc = mfile_lock(lockpath, wait, &k->fd);
    if (rc == EWOULDBLOCK) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: locked by another process (waited %f s; see %s)", path, wait,
                        lockpath);
        return 2;
    }
    if (rc != 0) return file_fail(L, lockpath, strerror(rc));
    lua_pop(L, 1);
    return 1;
}

static int lock_unlock(lua_State *L)
{
    llock *k = luaL_checkudata(L, 1, LOCK_MT);
    if (k->fd >= 0) close(k->fd); /* closing the descriptor releases the flock */
    k->fd = -1;
    return 0;
}

static int lock_tostring(lua_State *L)
{
    llock *k = luaL_checkudata(L, 1, LOCK_MT);
    lua_pushfstring(L, "magma.Lock (%s): %p", k->fd >= 0 ? "held" : "released",
                    lua_topointer(L, 1));
    return 1;
}

static const luaL_Reg lock_meta[] = {{"unlock", lock_unlock},
                                     {"__gc", lock_unlock},
                                     {"__close", lock_unlock},
                                     {"__tostring", lock_tostring},
                                     {NULL, NULL}};

/* ---------------------------------------------------------------- module */

static const luaL_Reg run_methods[] = {{"to_run", m_to_run},
                                       {"running", m_running},
                                       {"update_attribute", m_update_attribute},
                                       {"runs_to_json", m_runs_to_json},
                                       {"to_json", m_to_json},
                                       {"reset_step", m_reset_step},
                                       {"reset_shard", m_reset_shard},
                                       {"update_status", m_update_status},
                                       {"validate", m_validate},
                                       {"counts", m_counts},
                                       {"steps", m_steps},
                                       {"save", m_save},
                                       {"set_trigger", m_set_trigger},
                                       {"trigger", m_trigger},
                                       {"next_ready", m_next_ready},
                                       {"next_with_status", m_next_with_status},
                                       {"count", m_count},
                                       {"ready_count", m_ready_count},
                                       {"index", m_index_of},
                                       {"shard_at", m_shard_at},
                                       {"dependents", m_dependents},
                                       {"dep_counts", m_dep_counts},
                                       {NULL, NULL}};

static const luaL_Reg run_meta[] = {
    {"__gc", m_gc}, {"__close", m_gc}, {"__tostring", m_tostring}, {"__len", m_len}, {NULL, NULL}};

static const luaL_Reg wfr_meta[] = {
    {"__index", w_index}, {"__newindex", w_newindex}, {"__tostring", w_tostring}, {NULL, NULL}};

static const luaL_Reg runs_meta[] = {{"__index", runs_index},       {"__newindex", runs_newindex},
                                     {"__len", runs_len},           {"__pairs", runs_pairs},
                                     {"__tostring", runs_tostring}, {NULL, NULL}};

static void createmeta(lua_State *L)
{
    /* __index and __newindex share the methods table as their upvalue. */
    luaL_newmetatable(L, RUN_MT);
    luaL_setfuncs(L, run_meta, 0);
    luaL_newlib(L, run_methods);
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, m_index, 1);
    lua_setfield(L, -3, "__index");
    lua_pushcclosure(L, m_newindex, 1);
    lua_setfield(L, -2, "__newindex");
    lua_pop(L, 1);

    luaL_newmetatable(L, WFR_MT);
    luaL_setfuncs(L, wfr_meta, 0);
    lua_pop(L, 1);
    luaL_newmetatable(L, RUNS_MT);
    luaL_setfuncs(L, runs_meta, 0);
    lua_pop(L, 1);
    luaL_newmetatable(L, LOCK_MT);
    luaL_setfuncs(L, lock_meta, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

int luaopen_magma_core(lua_State *L)
{
    luaL_checkversion(L);
    createmeta(L);
    lua_newtable(L);
    lua_pushcfunction(L, l_new);
    lua_setfield(L, -2, "MetaWorkflowRun");
    lua_pushcfunction(L, l_adopt);
    lua_setfield(L, -2, "adopt");
    lua_pushcfunction(L, l_load);
    lua_setfield(L, -2, "load");
    lua_pushcfunction(L, l_lock);
    lua_setfield(L, -2, "lock");
    lua_pushcfunction(L, l_write_file);
    lua_setfield(L, -2, "write_file");
    mjson_open(L);
    lua_setfield(L, -2, "json");
    lua_pushliteral(L, MAGMA_VERSION);
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
