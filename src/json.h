/*
 * Lossless, order-keeping JSON <-> Lua values (see DESIGN.md, "JSON").
 *
 * Representation in Lua:
 *   null     -> json null: lightuserdata NULL (the same value as cjson.null)
 *   integers -> Lua integers (64-bit; an integer literal out of range decodes as a float)
 *   floats   -> Lua floats ("1.0" stays a float, "1" an integer)
 *   arrays   -> tables whose metatable is the shared array metatable (registry
 *               MJSON_ARRAY_MT, __name = "magma.json.array")
 *   objects  -> tables whose metatable is a shared "shape": one per distinct key sequence,
 *               interned; shape[1..n] are the keys in document order, __name is
 *               "magma.json.object". Keys not in the shape are encoded after the shape's
 *               keys, in sorted order.
 *   A table without one of these metatables is encoded as an array when it is a non-empty
 *   sequence, else as an object with sorted keys.
 */
#ifndef MAGMA_JSON_H
#define MAGMA_JSON_H

#include <stddef.h>

#include "lua.h"

#define MJSON_ARRAY_MT "magma.json.array"
#define MJSON_OBJECT_NAME "magma.json.object"

/* Deepest nesting of arrays and objects that decode and encode accept. */
#define MJSON_MAX_DEPTH 1000
#define MJSON_MAX_DEPTH_STR "1000"

/* Pushes the value decoded from s[0..len) and returns 1; or pushes an error message
 * ("line L, column C (byte B): ...") and returns 0. Raises only on memory errors.
 * L and C are 1-based, C counts UTF-8 characters (bytes that are not continuation bytes);
 * B is the 0-based byte offset of the fault in s. */
int mjson_decode(lua_State *L, const char *s, size_t len);

/* Encodes the value at idx. indent < 0: compact; else pretty with that many spaces.
 * Pushes the text and returns 1, or pushes an error message and returns 0: "PATH: what",
 * PATH as in workflow_runs[3].output (1-based indices), absent for the value itself.
 * Raises only on memory errors. */
int mjson_encode(lua_State *L, int idx, int indent);

/* Encodes the value at idx as mjson_encode does, followed by suffix, into a buffer that a
 * userdata pushed on the stack owns (marked to be closed: freed when the calling function
 * returns, or an error unwinds). On success *text and *len give the text, valid while that
 * userdata stays on the stack, and 1 is returned; else an error message is pushed above it
 * and 0 returned. For writing large texts without copying them into a Lua string. */
int mjson_encode_buffer(lua_State *L, int idx, int indent, const char *suffix, const char **text,
                        size_t *len);

/* Pushes the shared array metatable (creating it on first use). */
void mjson_push_array_mt(lua_State *L);

/* Pushes the shape of objects without keys: every key of such an object encodes sorted. */
void mjson_push_empty_shape(lua_State *L);

/* Writes into out (at least 32 bytes) the shortest text that reads back as the finite x,
 * laid out as Python's repr (1.0, 1e+16, 1.5e-07, -0.0); returns its length. */
size_t mjson_format_double(char *out, double x);

/* 1 when the value at idx is a table carrying the array metatable or an object shape. */
int mjson_is_array(lua_State *L, int idx);
int mjson_is_object(lua_State *L, int idx);

/* Pushes the table "magma.json": decode, encode, null, array, object, ... */
int mjson_open(lua_State *L);

#endif
