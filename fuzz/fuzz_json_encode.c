/*
 * libFuzzer target for the JSON encoder (make fuzz): the input is a little program that
 * builds Lua values (any string bytes, any float bits, tables with any keys, holes, json.null,
 * the array metatable, object shapes with extra keys, cycles, functions) and encodes the
 * last one. No program may crash or leak; when encode succeeds, its text must decode, and
 * encoding that value must give the same bytes. When it fails, the message must say why.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_VALUES 64

static lua_State *L;

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_json_encode: %s: %s\n", what, detail ? detail : "");
    abort();
}

static int nop(lua_State *l)
{
    (void)l;
    return 0;
}

/* Takes n bytes from the program (zeros past its end). */
static void take(const uint8_t **p, const uint8_t *end, void *out, size_t n)
{
    size_t k = (size_t)(end - *p) < n ? (size_t)(end - *p) : n;
    memset(out, 0, n);
    memcpy(out, *p, k);
    *p += k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned runs;
    const uint8_t *p = data, *end = data + size;
    int indent, base;
    if (L == NULL) {
        L = luaL_newstate();
        if (L == NULL) abort();
        lua_checkstack(L, MAX_VALUES + 32);
    }
    if (size == 0) return 0;
    indent = (int)(*p++ % 4) - 1; /* -1 (compact), 0, 1, 2 */
    base = lua_gettop(L);
    lua_pushnil(L); /* the value encoded when the program pushes nothing */
    while (p < end) {
        uint8_t op = *p++;
        int top = lua_gettop(L), full = top - base >= MAX_VALUES;
        switch (op % 14) {
        case 0: {
            int64_t v;
            take(&p, end, &v, sizeof v);
            if (!full) lua_pushinteger(L, (lua_Integer)v);
            break;
        }
        case 1: {
            double v;
            take(&p, end, &v, sizeof v);
            if (!full) lua_pushnumber(L, v);
            break;
        }
        case 2: {
            uint8_t n = 0;
            take(&p, end, &n, 1);
            n %= 24;
            if (n > end - p) n = (uint8_t)(end - p);
            if (!full) lua_pushlstring(L, (const char *)p, n);
            p += n;
            break;
        }
        case 3:
            if (!full) lua_pushboolean(L, op & 16);
            break;
        case 4:
            if (!full) lua_pushlightuserdata(L, NULL);
            break;
        case 5: /* a plain table */
            if (!full) lua_newtable(L);
            break;
        case 6: /* the array metatable on the table below the top */
            if (lua_type(L, -1) == LUA_TTABLE) {
                mjson_push_array_mt(L);
                lua_setmetatable(L, -2);
            }
            break;
        case 7: /* the empty shape */
            if (lua_type(L, -1) == LUA_TTABLE) {
                mjson_push_empty_shape(L);
                lua_setmetatable(L, -2);
            }
            break;
        case 8: /* t[#t + 1] = v: pops v, t at -2 */
            if (top - base >= 2 && lua_type(L, -2) == LUA_TTABLE) {
                lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
            }
            break;
        case 9: /* t[k] = v: pops k and v, t at -3 */
            if (top - base >= 3 && lua_type(L, -3) == LUA_TTABLE && !lua_isnil(L, -2) &&
                !(lua_type(L, -2) == LUA_TNUMBER && lua_tonumber(L, -2) != lua_tonumber(L, -2))) {
                lua_rawset(L, -3);
            }
            break;
        case 10: /* a hole: t[i] = nil */
            if (lua_type(L, -1) == LUA_TTABLE) {
                uint8_t i = 0;
                take(&p, end, &i, 1);
                lua_pushnil(L);
                lua_rawseti(L, -2, i % 8 + 1);
            }
            break;
        case 11: /* a decoded object (its shape) or array, to add to */
            if (!full) {
                static const char *const docs[] = {"{\"b\":1,\"a\":2}", "{\"x\":null}", "[1,2]",
                                                   "{}", "{\"a\":{\"b\":[]}}"};
                const char *d = docs[(op >> 4) % 5];
                if (!mjson_decode(L, d, strlen(d))) fail("fixed document", lua_tostring(L, -1));
            }
            break;
        case 12: /* a cycle: t[k] = t */
            if (lua_type(L, -1) == LUA_TTABLE) {
                lua_pushliteral(L, "self");
                lua_pushvalue(L, -2);
                lua_rawset(L, -3);
            }
            break;
        default:
            if (!full) lua_pushcfunction(L, nop);
            break;
        }
    }
    if (mjson_encode(L, -1, indent)) {
        size_t n1, n2;
        const char *t1 = lua_tolstring(L, -1, &n1), *t2;
        if (!mjson_decode(L, t1, n1)) fail("encoded text does not decode", lua_tostring(L, -1));
        if (!mjson_encode(L, -1, indent)) fail("decoded text does not encode", lua_tostring(L, -1));
        t2 = lua_tolstring(L, -1, &n2);
        if (n1 != n2 || memcmp(t1, t2, n1) != 0) fail("encode(decode(t)) != t", t1);
    } else {
        const char *msg = lua_tostring(L, -1);
        if (msg == NULL || msg[0] == '\0') fail("empty error message", msg);
    }
    lua_settop(L, base);
    if (++runs % 4096 == 0) lua_gc(L, LUA_GCCOLLECT);
    return 0;
}
