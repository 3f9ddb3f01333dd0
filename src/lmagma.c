/* stub: replaced by the binding */
#include "lauxlib.h"
#include "lua.h"

#include "json.h"
#include "lmagma.h"

int luaopen_magma_core(lua_State *L)
{
    lua_newtable(L);
    mjson_open(L);
    lua_setfield(L, -2, "json");
    lua_pushliteral(L, MAGMA_VERSION);
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
