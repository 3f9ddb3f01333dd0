/*
 * bin/magma: a Lua 5.4 host with magma preloaded.
 *
 *   magma SCRIPT.lua [ARGS...]   run a script, as lua5.4 does (arg table, ...)
 *   magma -e CODE                run a chunk of code
 *   magma COMMAND [ARGS...]      run a built-in command (lua/magma/cli.lua)
 *
 * Modelled on lua.c: everything runs under lua_pcall with a traceback handler, and an error
 * exits with status 1. The magma Lua files are found relative to this binary, ahead of the
 * usual search path, so no LUA_PATH needs to be set; the C core is linked in and preloaded.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

#include "lmagma.h"

static const char *progname = "magma";

static void print_usage(FILE *f)
{
    fprintf(f,
            "usage: %s [options] [SCRIPT.lua [ARGS...]]\n"
            "       %s COMMAND [ARGS...]     (see '%s help')\n"
            "options:\n"
            "  -e CODE   run CODE\n"
            "  -l NAME   require library NAME into global NAME\n"
            "  -v        print version information\n"
            "  -h        print this help\n"
            "  --        stop handling options\n",
            progname, progname, progname);
}

static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Call the function below nargs arguments on the stack, protected, with a traceback. */
static int docall(lua_State *L, int nargs, int nres)
{
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    int status = lua_pcall(L, nargs, nres, base);
    lua_remove(L, base);
    return status;
}

static int report(lua_State *L, int status)
{
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        fprintf(stderr, "%s: %s\n", progname, msg ? msg : "(error object is not a string)");
        fflush(stderr);
        lua_pop(L, 1);
    }
    return status;
}

/* The directory holding this executable, or "" when it cannot be found. */
static void exe_dir(char *buf, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    if (n <= 0) {
        buf[0] = '\0';
        return;
    }
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (slash)
        *slash = '\0';
    else
        buf[0] = '\0';
}

/* Put the in-tree (bin/../lua) and installed (bin/../share/lua/5.4) locations of the magma
 * Lua files ahead of package.path, and preload the C core. */
static void setup_paths(lua_State *L)
{
    char dir[PATH_MAX];
    exe_dir(dir, sizeof dir);
    lua_getglobal(L, "package");
    if (dir[0] != '\0') {
        lua_getfield(L, -1, "path");
        lua_pushfstring(L,
                        "%s/../lua/?.lua;%s/../lua/?/init.lua;"
                        "%s/../share/lua/" LUA_VERSION_MAJOR "." LUA_VERSION_MINOR "/?.lua;"
                        "%s/../share/lua/" LUA_VERSION_MAJOR "." LUA_VERSION_MINOR "/?/init.lua;%s",
                        dir, dir, dir, dir, lua_tostring(L, -1));
        lua_setfield(L, -3, "path");
        lua_pop(L, 1);
    }
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_magma_core);
    lua_setfield(L, -2, "magma.core");
    lua_pop(L, 2);
}

/* arg table as lua.c builds it: arg[0] is the script, negative indices the options. */
static void create_arg_table(lua_State *L, char **argv, int argc, int script)
{
    lua_createtable(L, argc - script - 1, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

static int run_chunk(lua_State *L, int status, int nargs)
{
    if (status == LUA_OK) {
        status = docall(L, nargs, 0); /* the chunk is below its nargs arguments */
    } else {
        lua_insert(L, -(nargs + 1)); /* the message goes on top, for report() */
        lua_pop(L, nargs);
    }
    return report(L, status);
}

static int push_script_args(lua_State *L, char **argv, int argc, int first)
{
    luaL_checkstack(L, argc - first + 3, "too many arguments to script");
    for (int i = first; i < argc; i++) lua_pushstring(L, argv[i]);
    return argc - first;
}

static int run_script(lua_State *L, char **argv, int argc, int script)
{
    const char *fname = argv[script];
    if (strcmp(fname, "-") == 0 && strcmp(argv[script - 1], "--") != 0) fname = NULL; /* stdin */
    int status = luaL_loadfile(L, fname);
    int n = push_script_args(L, argv, argc, script + 1);
    return run_chunk(L, status, n);
}

/* magma COMMAND ARGS...: require("magma.cli").main({COMMAND, ARGS...}); exits with what it
 * returns. */
static int run_command(lua_State *L, char **argv, int argc, int first, int *exit_code)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "magma.cli");
    int status = docall(L, 1, 1);
    if (status != LUA_OK) return report(L, status);
    lua_getfield(L, -1, "main");
    lua_remove(L, -2);
    lua_createtable(L, argc - first, 0);
    for (int i = first; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - first + 1);
    }
    status = docall(L, 1, 1);
    if (status != LUA_OK) return report(L, status);
    *exit_code = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 0;
    lua_pop(L, 1);
    return LUA_OK;
}

/* A script is named by a path (with a '/'), a ".lua" file name or "-" (stdin); anything
 * else is a command, so that a file called "status" in the current directory cannot
 * capture "magma status": run it as ./status. */
static int looks_like_script(const char *s)
{
    size_t n = strlen(s);
    return strchr(s, '/') != NULL || strcmp(s, "-") == 0 ||
           (n > 4 && strcmp(s + n - 4, ".lua") == 0);
}

struct pmain_args {
    int argc;
    char **argv;
    int exit_code;
};

static int pmain(lua_State *L)
{
    struct pmain_args *a = lua_touserdata(L, 1);
    int argc = a->argc;
    char **argv = a->argv;
    luaL_checkversion(L);
    luaL_openlibs(L);
    setup_paths(L);
    lua_gc(L, LUA_GCRESTART);
    lua_gc(L, LUA_GCGEN, 0, 0);

    int i = 1;
    int ran_code = 0;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        const char *o = argv[i];
        if (strcmp(o, "--") == 0) {
            i++;
            break;
        } else if (strcmp(o, "-v") == 0 || strcmp(o, "--version") == 0) {
            printf("magma-lua %s (%s)\n", MAGMA_VERSION, LUA_RELEASE);
            ran_code = 1;
        } else if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
            print_usage(stdout);
            return 0;
        } else if (strcmp(o, "-e") == 0 || strcmp(o, "-l") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: '%s' needs an argument\n", progname, o);
                print_usage(stderr);
                a->exit_code = 2;
                return 0;
            }
            const char *val = argv[++i];
            create_arg_table(L, argv, argc, i);
            int status;
            if (o[1] == 'e') {
                status = luaL_loadbuffer(L, val, strlen(val), "=(command line)");
                status = run_chunk(L, status, 0);
            } else {
                lua_getglobal(L, "require");
                lua_pushstring(L, val);
                status = report(L, docall(L, 1, 1));
                if (status == LUA_OK) lua_setglobal(L, val);
            }
            if (status != LUA_OK) {
                a->exit_code = 1;
                return 0;
            }
            ran_code = 1;
        } else {
            fprintf(stderr, "%s: unrecognized option '%s'\n", progname, o);
            print_usage(stderr);
            a->exit_code = 2;
            return 0;
        }
    }
    if (i >= argc) {
        if (!ran_code) {
            print_usage(stderr);
            a->exit_code = 2;
        }
        return 0;
    }
    create_arg_table(L, argv, argc, i);
    int status;
    if (strcmp(argv[i - 1], "--") == 0 || looks_like_script(argv[i])) {
        status = run_script(L, argv, argc, i);
    } else {
        status = run_command(L, argv, argc, i, &a->exit_code);
    }
    if (status != LUA_OK) a->exit_code = 1;
    return 0;
}

int main(int argc, char **argv)
{
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        fprintf(stderr, "%s: cannot create state: not enough memory\n", progname);
        return EXIT_FAILURE;
    }
    struct pmain_args a = {argc, argv, 0};
    lua_gc(L, LUA_GCSTOP);
    lua_pushcfunction(L, pmain);
    lua_pushlightuserdata(L, &a);
    int status = lua_pcall(L, 1, 0, 0);
    report(L, status);
    lua_close(L);
    if (status != LUA_OK) return EXIT_FAILURE;
    return a.exit_code;
}
