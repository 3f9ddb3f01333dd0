/* The Lua binding of magma-lua: the C module "magma.core". */
#ifndef MAGMA_LMAGMA_H
#define MAGMA_LMAGMA_H

#include "lua.h"

#define MAGMA_VERSION "0.1.0"

/* Opens "magma.core": returns its table (MetaWorkflowRun, json, load, _VERSION, ...). */
int luaopen_magma_core(lua_State *L);

#endif
