/*
 * The Lua face of the JSON codec: the table magma.json (see json.h for the representation).
 *
 *   json.decode(text)            -> value | nil, "line L, column C (byte B): ..."
 *   json.encode(v [, {indent=n}]) -> text  | nil, "path: what"
 *   json.null                    the JSON null (lightuserdata NULL, the same as cjson.null)
 *   json.array([t])              gives t (or a new table) the array metatable; returns it
 *   json.object([t])             gives t (or a new table) the empty shape; returns it
 *   json.is_array(v), json.is_object(v)
 */
#include "lauxlib.h"
#include "lua.h"

#include "json.h"

static int l_decode(lua_State *L)
{
    size_t len;
    const char *s;
    if (lua_type(L, 1) != LUA_TSTRING) return luaL_typeerror(L, 1, "string");
    s = lua_tolstring(L, 1, &len);
    if (mjson_decode(L, s, len)) return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

static int l_encode(lua_State *L)
{
    int indent = -1;
    luaL_checkany(L, 1);
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        if (lua_getfield(L, 2, "indent") != LUA_TNIL) {
            int isint = 0;
            lua_Integer n = lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &isint) : 0;
            if (!isint || n < 0 || n > 64)
                return luaL_argerror(L, 2, "indent must be an integer from 0 to 64");
            indent = (int)n;
        }
        lua_pop(L, 1);
    }
    if (mjson_encode(L, 1, indent)) return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

/* The table at argument 1, or a new one when it is absent or nil. */
static void table_arg(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    } else {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_settop(L, 1);
    }
}

static int l_array(lua_State *L)
{
    table_arg(L);
    mjson_push_array_mt(L);
    lua_setmetatable(L, 1);
    return 1;
}

static int l_object(lua_State *L)
{
    table_arg(L);
    mjson_push_empty_shape(L);
    lua_setmetatable(L, 1);
    return 1;
}

static int l_is_array(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_pushboolean(L, mjson_is_array(L, 1));
    return 1;
}

static int l_is_object(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_pushboolean(L, mjson_is_object(L, 1));
    return 1;
}

int mjson_open(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"decode", l_decode}, {"encode", l_encode},     {"array", l_array},
        {"object", l_object}, {"is_array", l_is_array}, {"is_object", l_is_object},
        {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    return 1;
}
