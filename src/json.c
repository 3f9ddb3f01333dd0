/*
 * The lossless JSON codec of magma.json: a single-pass parser that builds Lua values directly
 * on the Lua stack, and an encoder that writes straight into a growable C buffer.
 * Representation and error format: see json.h; design notes: DESIGN.md, "JSON".
 *
 * Object shapes are interned through a trie of Lua tables (registry SHAPE_ROOT): a node maps
 * a key to the child node for "the same keys plus this one", node[1] is the shape of the key
 * sequence ending there, node[2] the last key. The trie does not keep what nobody uses: a
 * node's values are weak, a child keeps its parent alive (ephemeron SHAPE_PARENT) and a shape
 * keeps its node alive (ephemeron SHAPE_NODE), so a path lives as long as a shape on it is in
 * use. Objects of more than TRIE_MAX_KEYS keys get a shape of their own (not interned).
 */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lauxlib.h"
#include "lua.h"

#include "json.h"

#define SHAPE_ROOT "magma.json.shapes"
#define SHAPE_PARENT "magma.json.shape_parent"
#define SHAPE_NODE "magma.json.shape_node"
#define SHAPE_SET "magma.json.shape_set"
#define WEAK_V "magma.json.weak_v"
#define WEAK_K "magma.json.weak_k"
#define BUFFER_MT "magma.json.buffer"

#define TRIE_MAX_KEYS 128

/* Byte classes shared by the decoder and the encoder: 0 plain ASCII, 1 '"' '\\' or a control
 * character, 2 the first byte of a multi-byte UTF-8 sequence (or an invalid byte), 3 DEL:
 * plain for the decoder, written \u007f as Python's json.dumps (ensure_ascii) does. */
static const unsigned char byte_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2};

/* The first byte at or after s that is not plain ASCII (byte_class 0), or end: eight bytes
 * at a time while no byte of a word is below 0x20, '"', '\\' or 0x7F and above. */
static inline const unsigned char *skip_plain(const unsigned char *s, const unsigned char *end)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    while (end - s >= 8) {
        uint64_t v, t;
        memcpy(&v, s, 8);
        t = ((((v - ones * 0x20) | ((v ^ (ones * '"')) - ones) | ((v ^ (ones * '\\')) - ones) |
               ((v ^ (ones * 0x7F)) - ones)) &
              ~v) |
             v) &
            high;
        if (t) break;
        s += 8;
    }
    while (s < end && byte_class[*s] == 0) s++;
    return s;
}

/* Length of the valid UTF-8 sequence at s (s[0] >= 0x80), or 0 when it is invalid: an
 * overlong form, a surrogate, a code point above U+10FFFF, or a truncated sequence. */
static size_t utf8_len(const unsigned char *s, const unsigned char *end)
{
    unsigned c = s[0];
    size_t left = (size_t)(end - s);
    if (c < 0xC2) return 0;
    if (c < 0xE0) return left >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        if (left < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80) return 0;
        return 3;
    }
    if (c < 0xF5) {
        unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        if (left < 4 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

/* Pushes registry[key], creating it as a table (with metatable registry[mt] when mt is not
 * NULL) on first use. */
static void push_registry_table(lua_State *L, const char *key, const char *mt)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, key) == LUA_TTABLE) return;
    lua_pop(L, 1);
    lua_newtable(L);
    if (mt != NULL) {
        push_registry_table(L, mt, NULL);
        lua_setmetatable(L, -2);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, key);
}

/* The metatables of the weak tables: registry[WEAK_V] = {__mode = "v"}, [WEAK_K] "k". */
static void init_weak_mts(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, WEAK_K) == LUA_TTABLE) {
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setfield(L, LUA_REGISTRYINDEX, WEAK_V);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setfield(L, LUA_REGISTRYINDEX, WEAK_K);
}

void mjson_push_array_mt(lua_State *L)
{
    luaL_newmetatable(L, MJSON_ARRAY_MT); /* which sets __name = "magma.json.array" */
}

static void push_shape_root(lua_State *L)
{
    init_weak_mts(L);
    push_registry_table(L, SHAPE_ROOT, WEAK_V);
}

/* With the trie node at the top of the stack and the n keys leading to it, pushes the node's
 * shape, creating and registering it when needed. */
static void push_node_shape(lua_State *L, lua_Integer n)
{
    int node = lua_gettop(L), shape, parents;
    if (lua_rawgeti(L, node, 1) == LUA_TTABLE) return;
    lua_pop(L, 1);
    luaL_checkstack(L, 4, NULL);
    lua_createtable(L, n > INT32_MAX ? 0 : (int)n, 1);
    shape = lua_gettop(L);
    lua_pushliteral(L, MJSON_OBJECT_NAME);
    lua_setfield(L, shape, "__name");
    push_registry_table(L, SHAPE_PARENT, WEAK_K);
    parents = lua_gettop(L);
    lua_pushvalue(L, node);
    for (lua_Integer i = n; i >= 1; i--) { /* walk up from the node: keys in reverse order */
        lua_rawgeti(L, -1, 2);
        lua_rawseti(L, shape, i);
        lua_rawget(L, parents); /* replaces the node by its parent */
    }
    lua_pop(L, 2);
    lua_pushvalue(L, shape);
    lua_rawseti(L, node, 1);
    push_registry_table(L, SHAPE_NODE, WEAK_K);
    lua_pushvalue(L, shape);
    lua_pushvalue(L, node);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

void mjson_push_empty_shape(lua_State *L)
{
    push_shape_root(L);
    push_node_shape(L, 0);
    lua_remove(L, -2);
}

/* The metatable of the value at idx when it is a table that has one; pushes nothing else. */
static int get_mt_name(lua_State *L, int idx, const char *name, size_t len)
{
    int r = 0;
    if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx)) return 0;
    lua_pushliteral(L, "__name");
    if (lua_rawget(L, -2) == LUA_TSTRING) {
        size_t l;
        const char *s = lua_tolstring(L, -1, &l);
        r = l == len && memcmp(s, name, len) == 0;
    }
    lua_pop(L, 2);
    return r;
}

int mjson_is_array(lua_State *L, int idx)
{
    int r = 0;
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx)) return 0;
    mjson_push_array_mt(L);
    r = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return r;
}

int mjson_is_object(lua_State *L, int idx)
{
    return get_mt_name(L, lua_absindex(L, idx), MJSON_OBJECT_NAME, sizeof(MJSON_OBJECT_NAME) - 1);
}

/* ------------------------------------------------------------------------------------------
 * Decoder
 */

typedef struct Parser {
    lua_State *L;
    const char *start, *cur, *end;
    const char *err_pos; /* where the fault is */
    const char *err_msg;
    int err_got;       /* append ", got <what is at err_pos>" */
    char err_buf[160]; /* err_msg when it needs formatting */
    char *buf;         /* scratch for strings with escapes (a userdata at slot_buf) */
    size_t buf_cap;
    int depth;
    int slot_buf, slot_amt, slot_root, slot_parent;
} Parser;

static int fail(Parser *p, const char *pos, const char *msg, int got)
{
    p->err_pos = pos;
    p->err_msg = msg;
    p->err_got = got;
    return 0;
}

static void grow_buf(Parser *p, size_t used, size_t need)
{
    size_t cap = p->buf_cap * 2;
    char *nb;
    if (cap < need) cap = need;
    if (cap < 256) cap = 256;
    nb = lua_newuserdatauv(p->L, cap, 0);
    if (used > 0) memcpy(nb, p->buf, used);
    lua_replace(p->L, p->slot_buf);
    p->buf = nb;
    p->buf_cap = cap;
}

static inline const char *skip_ws(const char *s, const char *end)
{
    while (s < end && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')) s++;
    return s;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = (unsigned char)s[i];
        if (c >= '0' && c <= '9')
            c -= '0';
        else if (c >= 'a' && c <= 'f')
            c -= 'a' - 10;
        else if (c >= 'A' && c <= 'F')
            c -= 'A' - 10;
        else
            return 0;
        v = v * 16 + c;
    }
    *out = v;
    return 1;
}

/* Parses the string whose opening quote is at p->cur and pushes it. */
static int parse_string(Parser *p)
{
    const unsigned char *s = (const unsigned char *)p->cur + 1, *q = s;
    const unsigned char *end = (const unsigned char *)p->end;
    size_t n;
    char *w;
    /* Fast path: no escape, push straight from the input. */
    for (;;) {
        q = skip_plain(q, end);
        if (q >= end) return fail(p, p->end, "unterminated string", 0);
        if (*q == '"') {
            lua_pushlstring(p->L, (const char *)s, (size_t)(q - s));
            p->cur = (const char *)q + 1;
            return 1;
        }
        if (*q == '\\') break;
        if (*q < 0x20)
            return fail(p, (const char *)q, "control character in string (escape it)", 0);
        if (*q == 0x7F) {
            q++;
            continue;
        }
        if ((n = utf8_len(q, end)) == 0)
            return fail(p, (const char *)q, "invalid UTF-8 in string", 0);
        q += n;
    }
    /* Slow path: copy into the scratch buffer (the decoded text is never longer). */
    n = (size_t)(q - s);
    if (p->buf_cap < n + 64) grow_buf(p, 0, n + 64);
    memcpy(p->buf, s, n);
    w = p->buf + n;
    for (;;) {
        size_t used = (size_t)(w - p->buf);
        const unsigned char *run = q;
        unsigned c;
        q = skip_plain(q, end);
        if (q >= end) return fail(p, p->end, "unterminated string", 0);
        if (p->buf_cap - used < (size_t)(q - run) + 8) {
            grow_buf(p, used, used + (size_t)(q - run) + 8);
            w = p->buf + used;
        }
        memcpy(w, run, (size_t)(q - run));
        w += q - run;
        c = *q;
        if (c == '"') break;
        if (c == '\\') {
            const char *esc = (const char *)q;
            if (q + 1 >= end) return fail(p, p->end, "unterminated string", 0);
            switch (q[1]) {
            case '"':
                *w++ = '"';
                break;
            case '\\':
                *w++ = '\\';
                break;
            case '/':
                *w++ = '/';
                break;
            case 'b':
                *w++ = '\b';
                break;
            case 'f':
                *w++ = '\f';
                break;
            case 'n':
                *w++ = '\n';
                break;
            case 'r':
                *w++ = '\r';
                break;
            case 't':
                *w++ = '\t';
                break;
            case 'u': {
                unsigned cp, lo;
                if (end - q < 6 || !hex4((const char *)q + 2, &cp))
                    return fail(p, esc, "invalid \\u escape (expected 4 hex digits)", 0);
                q += 4;
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return fail(p, esc, "lone low surrogate \\u escape", 0);
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (end - q < 8 || q[2] != '\\' || q[3] != 'u' ||
                        !hex4((const char *)q + 4, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                        return fail(p, esc,
                                    "high surrogate \\u escape not followed by a low surrogate "
                                    "\\u escape",
                                    0);
                    q += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (cp < 0x80) {
                    *w++ = (char)cp;
                } else if (cp < 0x800) {
                    *w++ = (char)(0xC0 | (cp >> 6));
                    *w++ = (char)(0x80 | (cp & 0x3F));
                } else if (cp < 0x10000) {
                    *w++ = (char)(0xE0 | (cp >> 12));
                    *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                    *w++ = (char)(0x80 | (cp & 0x3F));
                } else {
                    *w++ = (char)(0xF0 | (cp >> 18));
                    *w++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                    *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                    *w++ = (char)(0x80 | (cp & 0x3F));
                }
                break;
            }
            default:
                return fail(p, esc, "invalid escape in string", 0);
            }
            q += 2;
        } else if (c < 0x20) {
            return fail(p, (const char *)q, "control character in string (escape it)", 0);
        } else if (c == 0x7F) {
            *w++ = (char)c;
            q++;
        } else {
            size_t k = utf8_len(q, end);
            if (k == 0) return fail(p, (const char *)q, "invalid UTF-8 in string", 0);
            memcpy(w, q, k);
            w += k;
            q += k;
        }
    }
    lua_pushlstring(p->L, p->buf, (size_t)(w - p->buf));
    p->cur = (const char *)q + 1;
    return 1;
}

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* strtod on a NUL-terminated copy of [s, e), with the '.' of JSON turned into the decimal
 * point of the current C locale. */
static double slow_strtod(Parser *p, const char *s, const char *e)
{
    char local[64], *b = local, dp = localeconv()->decimal_point[0];
    size_t n = (size_t)(e - s);
    if (n + 1 > sizeof local) {
        if (p->buf_cap < n + 1) grow_buf(p, 0, n + 1);
        b = p->buf;
    }
    memcpy(b, s, n);
    b[n] = '\0';
    if (dp != '.' && dp != '\0') {
        char *d = memchr(b, '.', n);
        if (d != NULL) *d = dp;
    }
    return strtod(b, NULL);
}

static int parse_number(Parser *p)
{
    const char *s = p->cur, *q = s, *end = p->end, *int_start, *int_end;
    int neg = 0, is_float = 0;
    uint64_t mant = 0;
    int mant_digits = 0, frac_digits = 0, exact = 1;
    long exp10 = 0;
    if (*q == '-') {
        neg = 1;
        q++;
    }
    int_start = q;
    if (q >= end || (unsigned)(*q - '0') > 9)
        return fail(p, q, neg ? "expected a digit after '-'" : "expected a value", 1);
    if (*q == '0') {
        q++;
        if (q < end && (unsigned)(*q - '0') <= 9)
            return fail(p, q, "leading zeros are not allowed in numbers", 0);
    } else {
        while (q < end && (unsigned)(*q - '0') <= 9) q++;
    }
    int_end = q;
    if (q < end && *q == '.') {
        q++;
        if (q >= end || (unsigned)(*q - '0') > 9)
            return fail(p, q, "expected a digit after the decimal point", 1);
        while (q < end && (unsigned)(*q - '0') <= 9) q++;
        is_float = 1;
        frac_digits = (int)(q - int_end - 1 > 1000000 ? 1000000 : q - int_end - 1);
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        int eneg = 0;
        q++;
        if (q < end && (*q == '+' || *q == '-')) eneg = *q++ == '-';
        if (q >= end || (unsigned)(*q - '0') > 9)
            return fail(p, q, "expected a digit in the exponent", 1);
        while (q < end && (unsigned)(*q - '0') <= 9) {
            if (exp10 < 100000000) exp10 = exp10 * 10 + (*q - '0');
            q++;
        }
        if (eneg) exp10 = -exp10;
        is_float = 1;
    }
    p->cur = q;
    if (!is_float) {
        /* An integer literal: exact when it fits in int64 (both limits included). */
        uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        const char *d;
        for (d = int_start; d < int_end; d++) {
            unsigned dg = (unsigned)(*d - '0');
            if (v > (lim - dg) / 10) break;
            v = v * 10 + dg;
        }
        if (d == int_end) {
            lua_pushinteger(p->L, neg ? (lua_Integer)(0 - v) : (lua_Integer)v);
            return 1;
        }
    } else {
        /* Fast path (exact): a mantissa of at most 2^53 scaled by an exact power of ten. */
        const char *d;
        for (d = int_start; d < q && *d != 'e' && *d != 'E'; d++) {
            if (*d == '.') continue;
            if (mant_digits == 0 && *d == '0') continue;
            if (++mant_digits > 19) {
                exact = 0;
                break;
            }
            mant = mant * 10 + (uint64_t)(*d - '0');
        }
        exp10 -= frac_digits;
        if (exact && mant <= ((uint64_t)1 << 53) && exp10 >= -22 && exp10 <= 22) {
            double v = (double)mant;
            v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
            lua_pushnumber(p->L, neg ? -v : v);
            return 1;
        }
    }
    {
        double v = slow_strtod(p, s, q);
        if (!isfinite(v)) return fail(p, s, "number too large for a double", 0);
        lua_pushnumber(p->L, v);
    }
    return 1;
}

static int parse_value(Parser *p);

/* A container's members wait on the Lua stack until it ends, so that its table is made at its
 * exact size (no rehash while it fills, no slack); past PENDING_MAX members, the table is
 * made and filled as members come. */
#define PENDING_MAX 64

static int parse_array(Parser *p)
{
    lua_State *L = p->L;
    lua_Integer n = 0;
    int arr;
    if (p->depth >= MJSON_MAX_DEPTH)
        return fail(p, p->cur, "nesting deeper than " MJSON_MAX_DEPTH_STR, 0);
    luaL_checkstack(L, PENDING_MAX + 8, "JSON nesting");
    p->depth++;
    lua_pushnil(L); /* the slot of the table */
    arr = lua_gettop(L);
    p->cur = skip_ws(p->cur + 1, p->end);
    if (p->cur < p->end && *p->cur == ']') {
        p->cur++;
    } else {
        for (;;) {
            if (!parse_value(p)) return 0;
            if (++n >= PENDING_MAX) {
                if (n == PENDING_MAX) {
                    lua_createtable(L, PENDING_MAX * 2, 0);
                    lua_replace(L, arr);
                    for (lua_Integer i = n; i >= 1; i--) lua_rawseti(L, arr, i);
                } else {
                    lua_rawseti(L, arr, n);
                }
            }
            p->cur = skip_ws(p->cur, p->end);
            if (p->cur >= p->end) return fail(p, p->cur, "unterminated array", 0);
            if (*p->cur == ',') {
                p->cur = skip_ws(p->cur + 1, p->end);
                continue;
            }
            if (*p->cur == ']') break;
            return fail(p, p->cur, "expected ',' or ']' after an array element", 1);
        }
        p->cur++;
    }
    if (n < PENDING_MAX) {
        lua_createtable(L, (int)n, 0);
        lua_replace(L, arr);
        for (lua_Integer i = n; i >= 1; i--) lua_rawseti(L, arr, i);
    }
    lua_pushvalue(L, p->slot_amt);
    lua_setmetatable(L, arr);
    p->depth--;
    return 1;
}

/* 1 when the key at the top of the stack is already a key of the object being parsed, whose
 * table slot is obj: its n members are still on the stack (obj + 2, + 4, ...) or already in
 * the table. */
static int key_seen(lua_State *L, int obj, lua_Integer n)
{
    int r;
    if (n < PENDING_MAX) {
        for (int i = 0; i < (int)n; i++)
            if (lua_rawequal(L, -1, obj + 2 + 2 * i)) return 1;
        return 0;
    }
    lua_pushvalue(L, -1);
    r = lua_rawget(L, obj) != LUA_TNIL;
    lua_pop(L, 1);
    return r;
}

static int fail_duplicate(Parser *p, const char *pos)
{
    size_t len, i, o = 0;
    const char *k = lua_tolstring(p->L, -1, &len);
    char shown[48];
    for (i = 0; i < len && o + 4 < sizeof shown; i++)
        shown[o++] = (unsigned char)k[i] < 0x20 ? '?' : k[i];
    if (i < len) {
        memcpy(shown + o, "...", 3);
        o += 3;
    }
    shown[o] = '\0';
    snprintf(p->err_buf, sizeof p->err_buf, "duplicate key \"%s\"", shown);
    return fail(p, pos, p->err_buf, 0);
}

/* Builds a shape of its own (not interned) for an object of more than TRIE_MAX_KEYS keys,
 * from the trie node at the top of the stack, which it replaces. */
static void node_to_own_shape(Parser *p, lua_Integer n)
{
    lua_State *L = p->L;
    int node = lua_gettop(L), shape;
    luaL_checkstack(L, 3, NULL);
    lua_createtable(L, (int)n * 2, 1);
    shape = lua_gettop(L);
    lua_pushliteral(L, MJSON_OBJECT_NAME);
    lua_setfield(L, shape, "__name");
    lua_pushvalue(L, node);
    for (lua_Integer i = n; i >= 1; i--) {
        lua_rawgeti(L, -1, 2);
        lua_rawseti(L, shape, i);
        lua_rawget(L, p->slot_parent);
    }
    lua_pop(L, 1);
    lua_replace(L, node);
}

static int parse_object(Parser *p)
{
    lua_State *L = p->L;
    lua_Integer n = 0;
    int obj, node;
    if (p->depth >= MJSON_MAX_DEPTH)
        return fail(p, p->cur, "nesting deeper than " MJSON_MAX_DEPTH_STR, 0);
    luaL_checkstack(L, 2 * PENDING_MAX + 12, "JSON nesting");
    p->depth++;
    lua_pushnil(L); /* the slot of the table */
    obj = lua_gettop(L);
    lua_pushvalue(L, p->slot_root); /* the trie node of the keys so far */
    node = obj + 1;
    p->cur = skip_ws(p->cur + 1, p->end);
    if (p->cur < p->end && *p->cur == '}') {
        p->cur++;
    } else {
        for (;;) {
            const char *key_pos = p->cur;
            if (p->cur >= p->end) return fail(p, p->cur, "unterminated object", 0);
            if (*p->cur != '"')
                return fail(p, p->cur, n ? "expected a string key" : "expected a string key or '}'",
                            1);
            if (!parse_string(p)) return 0;
            if (n < TRIE_MAX_KEYS) {
                lua_pushvalue(L, -1);
                if (lua_rawget(L, node) != LUA_TTABLE) {
                    /* a new key sequence: check it once for a duplicate, and add it */
                    lua_pop(L, 1);
                    if (key_seen(L, obj, n)) return fail_duplicate(p, key_pos);
                    lua_createtable(L, 2, 0);
                    lua_getfield(L, LUA_REGISTRYINDEX, WEAK_V);
                    lua_setmetatable(L, -2);
                    lua_pushvalue(L, -2);
                    lua_rawseti(L, -2, 2);
                    lua_pushvalue(L, -1); /* parents[child] = node */
                    lua_pushvalue(L, node);
                    lua_rawset(L, p->slot_parent);
                    lua_pushvalue(L, -2); /* node[key] = child */
                    lua_pushvalue(L, -2);
                    lua_rawset(L, node);
                }
                lua_replace(L, node);
            } else {
                if (n == TRIE_MAX_KEYS) {
                    lua_pushvalue(L, node);
                    node_to_own_shape(p, n);
                    lua_replace(L, node);
                }
                if (key_seen(L, obj, n)) return fail_duplicate(p, key_pos);
                lua_pushvalue(L, -1);
                lua_rawseti(L, node, n + 1);
            }
            p->cur = skip_ws(p->cur, p->end);
            if (p->cur >= p->end || *p->cur != ':')
                return fail(p, p->cur, "expected ':' after an object key", 1);
            p->cur = skip_ws(p->cur + 1, p->end);
            if (!parse_value(p)) return 0;
            if (++n >= PENDING_MAX) {
                if (n == PENDING_MAX) {
                    lua_createtable(L, 0, PENDING_MAX * 2);
                    lua_replace(L, obj);
                    for (lua_Integer i = 0; i < n; i++) lua_rawset(L, obj);
                } else {
                    lua_rawset(L, obj);
                }
            }
            p->cur = skip_ws(p->cur, p->end);
            if (p->cur >= p->end) return fail(p, p->cur, "unterminated object", 0);
            if (*p->cur == ',') {
                p->cur = skip_ws(p->cur + 1, p->end);
                continue;
            }
            if (*p->cur == '}') break;
            return fail(p, p->cur, "expected ',' or '}' after an object member", 1);
        }
        p->cur++;
    }
    if (n < PENDING_MAX) {
        lua_createtable(L, 0, (int)n);
        lua_replace(L, obj);
        for (lua_Integer i = 0; i < n; i++) lua_rawset(L, obj);
    }
    if (n <= TRIE_MAX_KEYS) {
        push_node_shape(L, n);
        lua_setmetatable(L, obj);
    } else {
        lua_setmetatable(L, obj);
        lua_pushnil(L);
    }
    lua_pop(L, 1); /* the node */
    p->depth--;
    return 1;
}

static int parse_literal(Parser *p, const char *lit, size_t len)
{
    if ((size_t)(p->end - p->cur) < len || memcmp(p->cur, lit, len) != 0)
        return fail(p, p->cur, "invalid literal (expected true, false or null)", 0);
    p->cur += len;
    return 1;
}

static int parse_value(Parser *p)
{
    if (p->cur >= p->end) return fail(p, p->cur, "expected a value", 1);
    switch (*p->cur) {
    case '"':
        return parse_string(p);
    case '{':
        return parse_object(p);
    case '[':
        return parse_array(p);
    case 't':
        if (!parse_literal(p, "true", 4)) return 0;
        lua_pushboolean(p->L, 1);
        return 1;
    case 'f':
        if (!parse_literal(p, "false", 5)) return 0;
        lua_pushboolean(p->L, 0);
        return 1;
    case 'n':
        if (!parse_literal(p, "null", 4)) return 0;
        lua_pushlightuserdata(p->L, NULL);
        return 1;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        return parse_number(p);
    case 'N':
    case 'I':
        return fail(p, p->cur, "expected a value (NaN and Infinity are not JSON)", 1);
    default:
        return fail(p, p->cur, "expected a value", 1);
    }
}

static void describe_byte(char *out, size_t size, const char *pos, const char *end)
{
    unsigned char c;
    if (pos >= end) {
        snprintf(out, size, "end of input");
        return;
    }
    c = (unsigned char)*pos;
    if (c >= 0x20 && c < 0x7F)
        snprintf(out, size, "'%c'", c);
    else
        snprintf(out, size, "byte 0x%02X", c);
}

static void push_error(Parser *p)
{
    const char *s;
    lua_Integer line = 1, col = 1;
    char got[32] = "";
    for (s = p->start; s < p->err_pos; s++) {
        if (*s == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)*s & 0xC0) != 0x80) {
            col++;
        }
    }
    if (p->err_got) describe_byte(got, sizeof got, p->err_pos, p->end);
    lua_pushfstring(p->L, "line %I, column %I (byte %I): %s%s%s", line, col,
                    (lua_Integer)(p->err_pos - p->start), p->err_msg, p->err_got ? ", got " : "",
                    got);
}

int mjson_decode(lua_State *L, const char *s, size_t len)
{
    Parser *p;
    int base = lua_gettop(L), ok;
    luaL_checkstack(L, 12, NULL);
    p = lua_newuserdatauv(L, sizeof *p, 0);
    memset(p, 0, sizeof *p);
    p->L = L;
    p->start = p->cur = s;
    p->end = s + len;
    lua_pushnil(L);
    p->slot_buf = lua_gettop(L);
    mjson_push_array_mt(L);
    p->slot_amt = lua_gettop(L);
    push_shape_root(L);
    p->slot_root = lua_gettop(L);
    push_registry_table(L, SHAPE_PARENT, WEAK_K);
    p->slot_parent = lua_gettop(L);

    if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
        ok = fail(p, s, "a byte order mark (BOM) is not allowed in JSON text", 0);
    } else {
        p->cur = skip_ws(p->cur, p->end);
        if (p->cur >= p->end) {
            ok = fail(p, p->cur, len ? "expected a value, got only whitespace" : "empty input", 0);
        } else {
            ok = parse_value(p);
            if (ok) {
                p->cur = skip_ws(p->cur, p->end);
                if (p->cur < p->end) ok = fail(p, p->cur, "unexpected data after the value", 1);
            }
        }
    }
    if (ok) {
        lua_replace(L, base + 1);
    } else {
        push_error(p);
        lua_replace(L, base + 1);
    }
    lua_settop(L, base + 1);
    return ok;
}

/* ------------------------------------------------------------------------------------------
 * Encoder
 */

typedef struct Buffer {
    char *b;
    size_t n, cap;
    lua_Alloc alloc;
    void *ud;
} Buffer;

static int buffer_free(lua_State *L)
{
    Buffer *B = lua_touserdata(L, 1);
    if (B != NULL && B->b != NULL) {
        B->alloc(B->ud, B->b, B->cap, 0);
        B->b = NULL;
        B->cap = B->n = 0;
    }
    return 0;
}

typedef struct PathItem {
    const char *key; /* NULL: an array index */
    size_t key_len;
    lua_Integer index;
} PathItem;

typedef struct Encoder {
    lua_State *L;
    Buffer *B;
    int indent;
    int slot_amt, slot_name, slot_sets, slot_shape;
    const void *amt, *shape; /* the array metatable, the last shape seen (kept at slot_shape) */
    char err[256];
    PathItem path[MJSON_MAX_DEPTH + 2];
} Encoder;

static void grow(Encoder *e, size_t need)
{
    Buffer *B = e->B;
    size_t cap = B->cap ? B->cap : 256;
    char *nb;
    while (cap - B->n < need) {
        if (cap > ((size_t)-1) / 2) luaL_error(e->L, "JSON text too large");
        cap *= 2;
    }
    nb = B->alloc(B->ud, B->b, B->cap, cap);
    if (nb == NULL) luaL_error(e->L, "not enough memory");
    B->b = nb;
    B->cap = cap;
}

static inline char *reserve(Encoder *e, size_t need)
{
    if (e->B->cap - e->B->n < need) grow(e, need);
    return e->B->b + e->B->n;
}

static inline void put_char(Encoder *e, char c)
{
    *reserve(e, 1) = c;
    e->B->n++;
}

static inline void put_mem(Encoder *e, const char *s, size_t n)
{
    memcpy(reserve(e, n), s, n);
    e->B->n += n;
}

static void put_newline(Encoder *e, int depth)
{
    size_t n = (size_t)e->indent * (size_t)depth;
    char *w = reserve(e, n + 1);
    *w++ = '\n';
    memset(w, ' ', n);
    e->B->n += n + 1;
}

static int is_identifier(const char *s, size_t n)
{
    if (n == 0 || (s[0] >= '0' && s[0] <= '9')) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return 0;
    }
    return 1;
}

/* Formats "path: message" into e->err; the path leads to the value at depth `depth`. */
static int enc_fail(Encoder *e, int depth, const char *msg)
{
    char *w = e->err, *end = e->err + sizeof e->err - 1;
    size_t msg_len = strlen(msg);
    int shown = 0;
    if (msg_len > 100) msg_len = 100;
    end -= msg_len + 2;
    for (int d = 0; d < depth && w < end; d++) {
        const PathItem *it = &e->path[d];
        char tmp[64];
        int n;
        if (shown == 12 && depth > 16) { /* a cycle makes paths of a thousand steps */
            n = snprintf(tmp, sizeof tmp, "...(%d levels)", depth);
            d = depth;
        } else if (it->key == NULL) {
            n = snprintf(tmp, sizeof tmp, "[%lld]", (long long)it->index);
        } else if (is_identifier(it->key, it->key_len) && it->key_len <= 40) {
            n = snprintf(tmp, sizeof tmp, "%s%.*s", d ? "." : "", (int)it->key_len, it->key);
        } else {
            size_t o = 0, i;
            tmp[o++] = '[';
            tmp[o++] = '"';
            for (i = 0; i < it->key_len && o < 40; i++) {
                unsigned char c = (unsigned char)it->key[i];
                if (c == '"' || c == '\\') tmp[o++] = '\\';
                tmp[o++] = c < 0x20 ? '?' : (char)c;
            }
            if (i < it->key_len) o += (size_t)snprintf(tmp + o, sizeof tmp - o, "...");
            tmp[o++] = '"';
            tmp[o++] = ']';
            n = (int)o;
        }
        shown++;
        if (n > end - w) n = (int)(end - w);
        memcpy(w, tmp, (size_t)n);
        w += n;
    }
    if (w > e->err) {
        *w++ = ':';
        *w++ = ' ';
    }
    memcpy(w, msg, msg_len);
    w[msg_len] = '\0';
    return 0;
}

/* Writes s[0..n) as a JSON string; 0 when it is not valid UTF-8. */
static int put_string(Encoder *e, const char *str, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str, *end = s + len, *run;
    char *w = reserve(e, len + 2);
    *w = '"';
    s = skip_plain(s, end);
    if (s == end) { /* the common case: nothing to escape or check */
        memcpy(w + 1, str, len);
        w[len + 1] = '"';
        e->B->n += len + 2;
        return 1;
    }
    memcpy(w + 1, str, (size_t)(s - (const unsigned char *)str));
    e->B->n += 1 + (size_t)(s - (const unsigned char *)str);
    for (;;) {
        run = s;
        s = skip_plain(s, end);
        if (s - run) put_mem(e, (const char *)run, (size_t)(s - run));
        if (s >= end) break;
        if (byte_class[*s] == 2) {
            size_t k = utf8_len(s, end);
            if (k == 0) return 0;
            put_mem(e, (const char *)s, k);
            s += k;
            continue;
        }
        w = reserve(e, 6);
        w[0] = '\\';
        switch (*s) {
        case '"':
            w[1] = '"';
            break;
        case '\\':
            w[1] = '\\';
            break;
        case '\b':
            w[1] = 'b';
            break;
        case '\f':
            w[1] = 'f';
            break;
        case '\n':
            w[1] = 'n';
            break;
        case '\r':
            w[1] = 'r';
            break;
        case '\t':
            w[1] = 't';
            break;
        default:
            w[1] = 'u';
            w[2] = '0';
            w[3] = '0';
            w[4] = hex[*s >> 4];
            w[5] = hex[*s & 15];
            e->B->n += 4;
        }
        e->B->n += 2;
        s++;
    }
    put_char(e, '"');
    return 1;
}

static void put_integer(Encoder *e, lua_Integer v)
{
    char tmp[24], *t = tmp + sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--t = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--t = '-';
    put_mem(e, t, (size_t)(tmp + sizeof tmp - t));
}

/* The significant digits (no trailing zeros) of the shortest decimal that reads back as ax
 * (finite, > 0), closest to ax among those; *exp10 is the decimal exponent of the first. */
static int shortest_digits(double ax, char *digits, int *exp10)
{
    char tmp[3][40];
    const char *t;
    int nd = 0, prec;
    /* Fast path: the first k for which round(ax * 10^k) = m <= 2^50 gives back ax, exactly:
     * m and 10^k are exact, so m / 10^k is correctly rounded as strtod("m e-k") is. With
     * m <= 2^50, the computed product is within 1/8 of the true one, and two candidates at
     * the same k cannot both read back: the smallest such k gives the shortest digits. */
    for (int k = 0; k <= 22; k++) {
        double m = ax * pow10_exact[k];
        if (m > 1125899906842624.0) break;
        if ((double)(uint64_t)(m + 0.5) / pow10_exact[k] == ax) {
            uint64_t u = (uint64_t)(m + 0.5);
            char rev[24];
            int n = 0;
            while (u) {
                rev[n++] = (char)('0' + u % 10);
                u /= 10;
            }
            *exp10 = n - 1 - k;
            while (n > 0) digits[nd++] = rev[--n];
            while (nd > 1 && digits[nd - 1] == '0') nd--;
            return nd;
        }
    }
    /* Slow path, with the C library: the correctly rounded 15, 16 or 17 digits, whichever is
     * the first to read back (for normal numbers a shorter form that reads back is the
     * 15-digit rounding with its trailing zeros; subnormals start from 1 digit). */
    if (ax < DBL_MIN) {
        for (prec = 0; prec < 16; prec++) {
            snprintf(tmp[0], sizeof tmp[0], "%.*e", prec, ax);
            if (strtod(tmp[0], NULL) == ax) break;
        }
        if (prec == 16) snprintf(tmp[0], sizeof tmp[0], "%.16e", ax);
        t = tmp[0];
    } else {
        snprintf(tmp[1], sizeof tmp[1], "%.15e", ax);
        if (strtod(tmp[1], NULL) == ax) {
            snprintf(tmp[0], sizeof tmp[0], "%.14e", ax);
            t = strtod(tmp[0], NULL) == ax ? tmp[0] : tmp[1];
        } else {
            snprintf(tmp[2], sizeof tmp[2], "%.16e", ax);
            t = tmp[2];
        }
    }
    /* digits, skipping the decimal point (whatever the locale makes it) up to the 'e' */
    for (; *t != 'e' && *t != '\0'; t++)
        if (*t >= '0' && *t <= '9') digits[nd++] = *t;
    *exp10 = atoi(t + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    return nd;
}

/* The shortest text that reads back as x, laid out as Python's repr does. */
size_t mjson_format_double(char *out, double x)
{
    char digits[24] = "0";
    int nd, exp10;
    size_t o = 0;
    if (x == 0) {
        const char *z = signbit(x) ? "-0.0" : "0.0";
        memcpy(out, z, strlen(z) + 1);
        return strlen(z);
    }
    if (fabs(x) < 1e16 && x == (double)(long long)x)
        return (size_t)sprintf(out, "%lld.0", (long long)x);
    if (x < 0) out[o++] = '-';
    nd = shortest_digits(fabs(x), digits, &exp10);
    if (exp10 < -4 || exp10 >= 16) {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            memcpy(out + o, digits + 1, (size_t)nd - 1);
            o += (size_t)nd - 1;
        }
        o += (size_t)sprintf(out + o, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    } else if (exp10 >= 0) {
        for (int i = 0; i <= exp10; i++) out[o++] = i < nd ? digits[i] : '0';
        out[o++] = '.';
        if (nd > exp10 + 1) {
            memcpy(out + o, digits + exp10 + 1, (size_t)(nd - exp10 - 1));
            o += (size_t)(nd - exp10 - 1);
        } else {
            out[o++] = '0';
        }
    } else {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -exp10 - 1; i++) out[o++] = '0';
        memcpy(out + o, digits, (size_t)nd);
        o += (size_t)nd;
    }
    out[o] = '\0';
    return o;
}

static int encode_value(Encoder *e, int idx, int depth);

typedef struct KeyRef {
    const char *s;
    size_t len;
    lua_Integer i; /* index in the table anchoring the keys */
} KeyRef;

static int keyref_cmp(const void *a, const void *b)
{
    const KeyRef *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c) return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* Writes one member "key": value; the key and the value are at the top of the stack. */
static int put_member(Encoder *e, int depth, int first)
{
    size_t len;
    const char *k = lua_tolstring(e->L, -2, &len);
    if (!first) put_char(e, ',');
    if (e->indent >= 0) put_newline(e, depth + 1);
    e->path[depth].key = k;
    e->path[depth].key_len = len;
    if (!put_string(e, k, len)) return enc_fail(e, depth + 1, "key is not valid UTF-8");
    if (e->indent >= 0)
        put_mem(e, ": ", 2);
    else
        put_char(e, ':');
    return encode_value(e, lua_gettop(e->L), depth + 1);
}

/* Writes the string keys of the table at t for which skip(key) is false, in sorted order;
 * *count is how many members were written before (for the separators). */
static int put_sorted_members(Encoder *e, int t, int depth, int set, lua_Integer nkeys,
                              lua_Integer *count)
{
    lua_State *L = e->L;
    int anchor;
    KeyRef *refs;
    lua_Integer n = 0;
    if ((size_t)nkeys > ((size_t)-1) / sizeof(KeyRef)) luaL_error(L, "too many keys");
    lua_createtable(L, nkeys > INT32_MAX ? 0 : (int)nkeys, 0);
    anchor = lua_gettop(L);
    refs = lua_newuserdatauv(L, (size_t)nkeys * sizeof(KeyRef) + 1, 0);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_settop(L, anchor - 1);
            return enc_fail(e, depth, "object with a non-string key");
        }
        if (set) {
            lua_pushvalue(L, -1);
            if (lua_rawget(L, set) != LUA_TNIL) {
                lua_pop(L, 1);
                continue;
            }
            lua_pop(L, 1);
        }
        if (n >= nkeys) break; /* cannot happen: nkeys was counted */
        lua_pushvalue(L, -1);
        lua_rawseti(L, anchor, ++n);
        refs[n - 1].s = lua_tolstring(L, -1, &refs[n - 1].len);
        refs[n - 1].i = n;
    }
    lua_settop(L, anchor + 1);
    qsort(refs, (size_t)n, sizeof *refs, keyref_cmp);
    for (lua_Integer i = 0; i < n; i++) {
        lua_rawgeti(L, anchor, refs[i].i);
        lua_pushvalue(L, -1);
        lua_rawget(L, t);
        if (!put_member(e, depth, *count == 0)) return 0;
        lua_pop(L, 2);
        ++*count;
    }
    lua_settop(L, anchor - 1);
    return 1;
}

/* Pushes the set {key = true} of the keys of the shape at the top of the stack. */
static void push_shape_set(Encoder *e)
{
    lua_State *L = e->L;
    int shape = lua_gettop(L);
    lua_Integer n;
    lua_pushvalue(L, shape);
    if (lua_rawget(L, e->slot_sets) == LUA_TTABLE) return;
    lua_pop(L, 1);
    n = (lua_Integer)lua_rawlen(L, shape);
    lua_createtable(L, 0, n > INT32_MAX ? 0 : (int)n);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, shape, i);
        lua_pushboolean(L, 1);
        lua_rawset(L, -3);
    }
    lua_pushvalue(L, shape);
    lua_pushvalue(L, -2);
    lua_rawset(L, e->slot_sets);
}

static int encode_array(Encoder *e, int t, int depth, lua_Integer n)
{
    lua_State *L = e->L;
    put_char(e, '[');
    for (lua_Integer i = 1; i <= n; i++) {
        if (i > 1) put_char(e, ',');
        if (e->indent >= 0) put_newline(e, depth + 1);
        e->path[depth].key = NULL;
        e->path[depth].index = i;
        if (lua_rawgeti(L, t, i) == LUA_TNIL)
            return enc_fail(e, depth + 1, "nil in an array (a hole; use json.null)");
        if (!encode_value(e, lua_gettop(L), depth + 1)) return 0;
        lua_pop(L, 1);
    }
    if (n > 0 && e->indent >= 0) put_newline(e, depth);
    put_char(e, ']');
    return 1;
}

/* An object whose shape is at the top of the stack. */
static int encode_shaped(Encoder *e, int t, int depth)
{
    lua_State *L = e->L;
    int shape = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, shape), found = 0, total = 0;
    put_char(e, '{');
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_rawgeti(L, shape, i) != LUA_TSTRING) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushvalue(L, -1);
        if (lua_rawget(L, t) == LUA_TNIL) {
            lua_pop(L, 2);
            continue;
        }
        if (!put_member(e, depth, found == 0)) return 0;
        lua_pop(L, 2);
        found++;
    }
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        total++;
    }
    if (total != found) {
        int set;
        push_shape_set(e);
        set = lua_gettop(L);
        if (!put_sorted_members(e, t, depth, set, total - found, &found)) return 0;
        lua_pop(L, 1);
    }
    if (found > 0 && e->indent >= 0) put_newline(e, depth);
    put_char(e, '}');
    lua_pop(L, 1); /* the shape */
    return 1;
}

/* A table without our metatables: a non-empty sequence is an array, else an object whose
 * keys are all strings. */
static int encode_plain(Encoder *e, int t, int depth)
{
    lua_State *L = e->L;
    lua_Integer nstr = 0, nint = 0, max = 0, count = 0;
    int other = LUA_TNIL;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING) {
            nstr++;
        } else if (lua_isinteger(L, -1) && lua_tointeger(L, -1) > 0) {
            lua_Integer k = lua_tointeger(L, -1);
            nint++;
            if (k > max) max = k;
        } else if (other == LUA_TNIL) {
            other = lua_type(L, -1);
        }
    }
    if (other != LUA_TNIL) {
        char msg[128];
        snprintf(msg, sizeof msg, "table with a %s key (not an array or an object)",
                 other == LUA_TNUMBER ? "non-positive or fractional number"
                                      : lua_typename(L, other));
        return enc_fail(e, depth, msg);
    }
    if (nint > 0 && nstr == 0 && max == nint) return encode_array(e, t, depth, nint);
    if (nint > 0)
        return enc_fail(e, depth,
                        nstr ? "table with both integer and string keys"
                             : "table with integer keys that are not a sequence 1..n");
    put_char(e, '{');
    if (nstr > 0) {
        if (!put_sorted_members(e, t, depth, 0, nstr, &count)) return 0;
        if (e->indent >= 0) put_newline(e, depth);
    }
    put_char(e, '}');
    return 1;
}

static int encode_table(Encoder *e, int t, int depth)
{
    lua_State *L = e->L;
    if (depth >= MJSON_MAX_DEPTH)
        return enc_fail(e, depth, "nesting deeper than " MJSON_MAX_DEPTH_STR " (a cycle?)");
    luaL_checkstack(L, 10, "JSON nesting");
    if (lua_getmetatable(L, t)) {
        const void *mt = lua_topointer(L, -1);
        if (mt == e->amt) {
            lua_pop(L, 1);
            return encode_array(e, t, depth, (lua_Integer)lua_rawlen(L, t));
        }
        if (mt == e->shape) return encode_shaped(e, t, depth);
        lua_pushvalue(L, e->slot_name);
        lua_rawget(L, -2);
        if (lua_rawequal(L, -1, e->slot_name + 1)) {
            lua_pop(L, 1);
            lua_pushvalue(L, -1);
            lua_replace(L, e->slot_shape);
            e->shape = mt;
            return encode_shaped(e, t, depth);
        }
        lua_pop(L, 2);
    }
    return encode_plain(e, t, depth);
}

static int encode_value(Encoder *e, int idx, int depth)
{
    lua_State *L = e->L;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (!put_string(e, s, len)) return enc_fail(e, depth, "string is not valid UTF-8");
        return 1;
    }
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            put_integer(e, lua_tointeger(L, idx));
        } else {
            double x = (double)lua_tonumber(L, idx);
            if (isnan(x)) return enc_fail(e, depth, "cannot encode NaN");
            if (isinf(x))
                return enc_fail(e, depth, x > 0 ? "cannot encode inf" : "cannot encode -inf");
            e->B->n += mjson_format_double(reserve(e, 32), x);
        }
        return 1;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx))
            put_mem(e, "true", 4);
        else
            put_mem(e, "false", 5);
        return 1;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) {
            put_mem(e, "null", 4);
            return 1;
        }
        return enc_fail(e, depth, "cannot encode a light userdata (other than json.null)");
    case LUA_TTABLE:
        return encode_table(e, idx, depth);
    default: {
        char msg[128];
        snprintf(msg, sizeof msg, "cannot encode a %s", luaL_typename(L, idx));
        return enc_fail(e, depth, msg);
    }
    }
}

/* Pushes a new, empty buffer userdata, marked to be closed (freed at once even when an
 * error unwinds). */
static Buffer *push_buffer(lua_State *L)
{
    Buffer *B = lua_newuserdatauv(L, sizeof *B, 0);
    B->b = NULL;
    B->n = B->cap = 0;
    B->alloc = lua_getallocf(L, &B->ud);
    if (luaL_newmetatable(L, BUFFER_MT)) {
        lua_pushcfunction(L, buffer_free);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, buffer_free);
        lua_setfield(L, -2, "__close");
    }
    lua_setmetatable(L, -2);
    lua_toclose(L, lua_gettop(L));
    return B;
}

/* Encodes the value at idx into B. Leaves the stack as it found it and returns 1, or
 * pushes an error message and returns 0. */
static int encode_into(lua_State *L, int idx, int indent, Buffer *B)
{
    int top = lua_gettop(L), ok;
    luaL_checkstack(L, 10, NULL);
    Encoder *e = lua_newuserdatauv(L, sizeof *e, 0); /* large (the path): not on the C stack */
    e->L = L;
    e->indent = indent;
    e->err[0] = '\0';
    e->B = B;
    mjson_push_array_mt(L);
    e->slot_amt = lua_gettop(L);
    e->amt = lua_topointer(L, -1);
    lua_pushliteral(L, "__name");
    e->slot_name = lua_gettop(L);
    lua_pushliteral(L, MJSON_OBJECT_NAME); /* at slot_name + 1 */
    lua_pushnil(L);
    e->slot_shape = lua_gettop(L);
    e->shape = NULL;
    init_weak_mts(L);
    push_registry_table(L, SHAPE_SET, WEAK_K);
    e->slot_sets = lua_gettop(L);

    ok = encode_value(e, idx, 0);
    if (!ok) {
        lua_pushstring(L, e->err);
        lua_replace(L, top + 1);
    }
    lua_settop(L, ok ? top : top + 1);
    return ok;
}

int mjson_encode(lua_State *L, int idx, int indent)
{
    idx = lua_absindex(L, idx);
    int base = lua_gettop(L);
    lua_pushnil(L); /* base + 1: the result */
    Buffer *B = push_buffer(L);
    int ok = encode_into(L, idx, indent, B);
    if (ok) lua_pushlstring(L, B->b, B->n);
    lua_replace(L, base + 1);
    lua_settop(L, base + 1); /* closes the buffer */
    return ok;
}

int mjson_encode_buffer(lua_State *L, int idx, int indent, const char *suffix, const char **text,
                        size_t *len)
{
    idx = lua_absindex(L, idx);
    Buffer *B = push_buffer(L);
    if (!encode_into(L, idx, indent, B)) return 0;
    size_t n = strlen(suffix);
    if (n > 0) {
        if (B->cap - B->n < n) {
            size_t cap = B->n + n;
            char *nb = B->alloc(B->ud, B->b, B->cap, cap);
            if (nb == NULL) luaL_error(L, "not enough memory");
            B->b = nb;
            B->cap = cap;
        }
        memcpy(B->b + B->n, suffix, n);
        B->n += n;
    }
    *text = B->b ? B->b : "";
    *len = B->n;
    return 1;
}
