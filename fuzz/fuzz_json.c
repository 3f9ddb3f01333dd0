/*
 * libFuzzer target for the JSON codec (make fuzz): any input is decoded; no input may crash,
 * read out of bounds or leak. When it decodes, the value must encode (compact and indented),
 * that text must decode again, and encoding that value must give the same bytes:
 * encode(decode(encode(x))) == encode(x). A rejected input must give a positioned message.
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

static lua_State *L;

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_json: %s: %s\n", what, detail ? detail : "");
    abort();
}

/* With a decoded value at the top: checks the round trip with this indent. */
static void round_trip(int indent)
{
    size_t n1, n2;
    const char *t1, *t2;
    int top = lua_gettop(L);
    if (!mjson_encode(L, top, indent)) fail("a decoded value does not encode", lua_tostring(L, -1));
    t1 = lua_tolstring(L, -1, &n1);
    if (!mjson_decode(L, t1, n1)) fail("encoded text does not decode", lua_tostring(L, -1));
    if (!mjson_encode(L, -1, indent))
        fail("a re-decoded value does not encode", lua_tostring(L, -1));
    t2 = lua_tolstring(L, -1, &n2);
    if (n1 != n2 || memcmp(t1, t2, n1) != 0) fail("encode(decode(encode(x))) != encode(x)", t1);
    lua_settop(L, top);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned runs;
    if (L == NULL) {
        L = luaL_newstate();
        if (L == NULL) abort();
    }
    if (mjson_decode(L, (const char *)data, size)) {
        round_trip(-1);
        round_trip(2);
    } else {
        const char *msg = lua_tostring(L, -1);
        if (msg == NULL || strncmp(msg, "line ", 5) != 0) fail("bad error message", msg);
    }
    lua_settop(L, 0);
    if (++runs % 4096 == 0) lua_gc(L, LUA_GCCOLLECT); /* shapes are weak: memory stays flat */
    return 0;
}
