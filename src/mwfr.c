/*
 * mwfr: the run-state core. See mwfr.h for the model and the costs.
 */
#include "mwfr.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- strings: arena + map */

/* Interned strings live in arena chunks that never move, so pointers into them stay valid. */
typedef struct chunk {
    struct chunk *next;
    size_t used, size;
    char data[];
} chunk;

typedef struct {
    chunk *head;
} arena;

static char *arena_put(arena *a, const char *s, size_t len)
{
    if (a->head == NULL || a->head->size - a->head->used < len + 1) {
        size_t size = len + 1 > 65536 ? len + 1 : 65536;
        chunk *c = malloc(sizeof *c + size);
        if (c == NULL) return NULL;
        c->next = a->head;
        c->used = 0;
        c->size = size;
        a->head = c;
    }
    char *p = a->head->data + a->head->used;
    if (len) memcpy(p, s, len);
    p[len] = '\0';
    a->head->used += len + 1;
    return p;
}

static void arena_free(arena *a)
{
    for (chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    a->head = NULL;
}

/* Open addressing, linear probing; maps an interned string to a uint32_t value. */
typedef struct {
    const char *s;
    uint32_t len;
    uint32_t hash;
    uint32_t value;
} slot;

typedef struct {
    slot *slots;
    size_t cap, used; /* cap is a power of two, or 0 */
} strmap;

static uint32_t hash_bytes(const char *s, size_t len)
{
    /* FNV-1a over 8-byte words with a final avalanche: fast and good enough for names. */
    uint64_t h = 0xcbf29ce484222325ull ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; i < len; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (uint32_t)h;
}

static slot *strmap_find(const strmap *t, const char *s, size_t len, uint32_t h)
{
    if (t->cap == 0) return NULL;
    size_t mask = t->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        slot *e = &t->slots[i];
        if (e->s == NULL) return e;
        if (e->hash == h && e->len == len && memcmp(e->s, s, len) == 0) return e;
    }
}

static int strmap_grow(strmap *t)
{
    size_t ncap = t->cap ? t->cap * 2 : 64;
    slot *ns = calloc(ncap, sizeof *ns);
    if (ns == NULL) return MWFR_ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        slot *e = &t->slots[i];
        if (e->s == NULL) continue;
        size_t j = e->hash & (ncap - 1);
        while (ns[j].s != NULL) j = (j + 1) & (ncap - 1);
        ns[j] = *e;
    }
    free(t->slots);
    t->slots = ns;
    t->cap = ncap;
    return MWFR_OK;
}

static uint32_t strmap_get(const strmap *t, const char *s, size_t len)
{
    slot *e = strmap_find(t, s, len, hash_bytes(s, len));
    return e && e->s ? e->value : MWFR_NONE;
}

/* Finds s, or inserts it (copied into the arena) with value v. *slot_out points at the
 * entry; *added tells which. */
static int strmap_intern(strmap *t, arena *a, const char *s, size_t len, uint32_t v,
                         slot **slot_out, bool *added)
{
    if (len > UINT32_MAX - 1) return MWFR_ELIMIT;
    uint32_t h = hash_bytes(s, len);
    slot *e = strmap_find(t, s, len, h);
    if (e && e->s) {
        *slot_out = e;
        *added = false;
        return MWFR_OK;
    }
    if ((t->used + 1) * 4 > t->cap * 3) {
        if (strmap_grow(t) != MWFR_OK) return MWFR_ENOMEM;
        e = strmap_find(t, s, len, h);
    }
    char *copy = arena_put(a, s, len);
    if (copy == NULL) return MWFR_ENOMEM;
    e->s = copy;
    e->len = (uint32_t)len;
    e->hash = h;
    e->value = v;
    t->used++;
    *slot_out = e;
    *added = true;
    return MWFR_OK;
}

/* ---------------------------------------------------------------- hierarchical bitmap */

/* A set of ids with O(1) insert and delete and fast "next member >= i": level 0 has a bit
 * per id, each higher level a bit per non-zero word of the level below. */
#define HB_LEVELS 6
typedef struct {
    uint64_t *lv[HB_LEVELS];
    size_t words[HB_LEVELS];
    int levels;
    uint32_t count;
} hbits;

static int hb_init(hbits *b, uint32_t n)
{
    memset(b, 0, sizeof *b);
    size_t words = ((size_t)n + 63) / 64;
    if (words == 0) words = 1;
    for (;;) {
        b->lv[b->levels] = calloc(words, sizeof(uint64_t));
        if (b->lv[b->levels] == NULL) return MWFR_ENOMEM;
        b->words[b->levels] = words;
        b->levels++;
        if (words == 1) break;
        words = (words + 63) / 64;
    }
    return MWFR_OK;
}

static void hb_free(hbits *b)
{
    for (int i = 0; i < b->levels; i++) free(b->lv[i]);
    memset(b, 0, sizeof *b);
}

static bool hb_has(const hbits *b, uint32_t i)
{
    return (b->lv[0][i >> 6] >> (i & 63)) & 1;
}

static void hb_set(hbits *b, uint32_t i)
{
    if (hb_has(b, i)) return;
    b->count++;
    size_t x = i;
    for (int l = 0; l < b->levels; l++) {
        uint64_t *w = &b->lv[l][x >> 6];
        bool was_empty = *w == 0;
        *w |= 1ull << (x & 63);
        if (!was_empty) break;
        x >>= 6;
    }
}

static void hb_clear(hbits *b, uint32_t i)
{
    if (!hb_has(b, i)) return;
    b->count--;
    size_t x = i;
    for (int l = 0; l < b->levels; l++) {
        uint64_t *w = &b->lv[l][x >> 6];
        *w &= ~(1ull << (x & 63));
        if (*w != 0) break;
        x >>= 6;
    }
}

static inline int ctz64(uint64_t w)
{
    return __builtin_ctzll(w);
}

/* The first member >= i, or MWFR_NONE. Bits past the last id are never set. */
static uint32_t hb_next(const hbits *b, uint32_t i)
{
    size_t x = i;
    int l = 0;
    /* Climb until a word holds a member at or after position x of its level. */
    for (;;) {
        size_t wi = x >> 6;
        if (wi >= b->words[l]) return MWFR_NONE;
        uint64_t w = b->lv[l][wi] & (~0ull << (x & 63));
        if (w != 0) {
            x = (wi << 6) | (size_t)ctz64(w);
            break;
        }
        if (l + 1 == b->levels) return MWFR_NONE;
        x = wi + 1; /* the next word of this level is the next bit of the one above */
        l++;
    }
    /* Descend: at each lower level, the first member of the word this bit stands for. */
    while (l > 0) {
        l--;
        x = (x << 6) | (size_t)ctz64(b->lv[l][x]);
    }
    return (uint32_t)x;
}

/* ---------------------------------------------------------------- growable id lists */

/* Each shard's dependency list (and dependents list) is a slice of one pool. A list that
 * outgrows its slice moves to the end of the pool; the pool is compacted when half waste. */
typedef struct {
    uint32_t off, len, cap;
} slice;

typedef struct {
    uint32_t *ids;
    size_t len, cap, waste;
} pool;

static int pool_reserve(pool *p, size_t extra)
{
    if (p->len + extra <= p->cap) return MWFR_OK;
    size_t ncap = p->cap ? p->cap : 1024;
    while (ncap < p->len + extra) ncap *= 2;
    if (ncap > UINT32_MAX) return MWFR_ELIMIT;
    uint32_t *n = realloc(p->ids, ncap * sizeof *n);
    if (n == NULL) return MWFR_ENOMEM;
    p->ids = n;
    p->cap = ncap;
    return MWFR_OK;
}

/* Rewrites the pool with every slice packed and cap == len (+ a little headroom). */
static int pool_compact(pool *p, slice *s, uint32_t n)
{
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++) total += s[i].len;
    uint32_t *ids = malloc((total ? total : 1) * sizeof *ids);
    if (ids == NULL) return MWFR_ENOMEM;
    size_t at = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (s[i].len) memcpy(ids + at, p->ids + s[i].off, s[i].len * sizeof *ids);
        s[i].off = (uint32_t)at;
        s[i].cap = s[i].len;
        at += s[i].len;
    }
    free(p->ids);
    p->ids = ids;
    p->cap = total ? total : 1;
    p->len = total;
    p->waste = 0;
    return MWFR_OK;
}

/* Gives slice *s room for `need` ids, moving it to the end of the pool if needed. */
static int slice_reserve(pool *p, slice *s, uint32_t need)
{
    if (need <= s->cap) return MWFR_OK;
    uint32_t ncap = s->cap < 4 ? 4 : s->cap * 2;
    while (ncap < need) ncap *= 2;
    int rc = pool_reserve(p, ncap);
    if (rc != MWFR_OK) return rc;
    if (s->len) memcpy(p->ids + p->len, p->ids + s->off, s->len * sizeof(uint32_t));
    p->waste += s->cap;
    s->off = (uint32_t)p->len;
    s->cap = ncap;
    p->len += ncap;
    return MWFR_OK;
}

/* ---------------------------------------------------------------- the run */

typedef struct {
    const char *sname; /* "name:shard", interned, NUL-terminated */
    uint32_t sname_len;
    uint32_t name_len; /* name is sname[0..name_len), shard follows the ':' */
} shard_names;

typedef struct {
    const char *s;
    uint32_t len;
    uint32_t first;  /* first shard of the step, in document order */
    uint32_t nshard; /* shards in this step */
    uint32_t off;    /* into step_shards */
    uint32_t count[MWFR_NKNOWN + 1];
} step_info;

struct mwfr {
    bool finished;
    uint32_t n, cap;
    arena strings;
    strmap names;    /* shard_name -> id, or MWFR_MISSING_BIT | k */
    strmap steps;    /* name -> step id */
    strmap statuses; /* other status string -> code */

    shard_names *nm;
    uint32_t *status;
    uint32_t *step;
    uint8_t *rule;
    uint32_t *dep_completed, *dep_failed, *dep_done;
    slice *deps, *rdeps;
    pool dpool, rpool;

    /* missing names: k -> interned string; during building, a missing entry may turn out to
     * be a shard added later: resolved[k] is then its id. */
    mwfr_str *missing;
    uint32_t *resolved;
    uint32_t nmissing, missing_cap;

    step_info *steps_info;
    uint32_t nsteps_, steps_cap;
    uint32_t *step_shards;

    mwfr_str *other; /* status code MWFR_NKNOWN + k -> string */
    uint32_t nother, other_cap;

    uint32_t count[MWFR_NKNOWN + 1];
    hbits ready;
    hbits with_status[MWFR_NKNOWN];
    hbits changed; /* statuses changed since mwfr_clear_changed */
};

static int grow_shards(mwfr *m);

static const mwfr_str known_status[MWFR_NKNOWN] = {
    {"pending", 7}, {"running", 7}, {"completed", 9}, {"failed", 6}};

static inline uint32_t status_class(uint32_t code)
{
    return code < MWFR_NKNOWN ? code : MWFR_NKNOWN;
}

static inline bool status_done(uint32_t code)
{
    return code != MWFR_PENDING && code != MWFR_RUNNING;
}

mwfr *mwfr_new(uint32_t hint)
{
    mwfr *m = calloc(1, sizeof *m);
    if (m == NULL) return NULL;
    while (m->cap < hint && m->cap < MWFR_MISSING_BIT / 2)
        if (grow_shards(m) != MWFR_OK) break; /* a hint only: adding will retry */
    return m;
}

void mwfr_free(mwfr *m)
{
    if (m == NULL) return;
    arena_free(&m->strings);
    free(m->names.slots);
    free(m->steps.slots);
    free(m->statuses.slots);
    free(m->nm);
    free(m->status);
    free(m->step);
    free(m->rule);
    free(m->dep_completed);
    free(m->dep_failed);
    free(m->dep_done);
    free(m->deps);
    free(m->rdeps);
    free(m->dpool.ids);
    free(m->rpool.ids);
    free(m->missing);
    free(m->resolved);
    free(m->steps_info);
    free(m->step_shards);
    free(m->other);
    hb_free(&m->ready);
    hb_free(&m->changed);
    for (int i = 0; i < MWFR_NKNOWN; i++) hb_free(&m->with_status[i]);
    free(m);
}

#define GROW(ptr, cap_needed)                                                                      \
    do {                                                                                           \
        void *np_ = realloc((ptr), (size_t)(cap_needed) * sizeof *(ptr));                          \
        if (np_ == NULL) return MWFR_ENOMEM;                                                       \
        (ptr) = np_;                                                                               \
    } while (0)

static int grow_shards(mwfr *m)
{
    uint32_t ncap = m->cap ? m->cap * 2 : 256;
    if (m->cap >= MWFR_MISSING_BIT / 2) ncap = MWFR_MISSING_BIT - 1;
    GROW(m->nm, ncap);
    GROW(m->status, ncap);
    GROW(m->step, ncap);
    GROW(m->deps, ncap);
    m->cap = ncap;
    return MWFR_OK;
}

/* The entry for a dependency name: a shard id if known, else a missing entry. */
static int intern_dep(mwfr *m, mwfr_str name, uint32_t *entry)
{
    slot *e;
    bool added;
    int rc = strmap_intern(&m->names, &m->strings, name.s, name.len, 0, &e, &added);
    if (rc != MWFR_OK) return rc;
    if (added) {
        if (m->nmissing >= MWFR_MISSING_BIT - 1) return MWFR_ELIMIT;
        if (m->nmissing == m->missing_cap) {
            uint32_t ncap = m->missing_cap ? m->missing_cap * 2 : 16;
            GROW(m->missing, ncap);
            GROW(m->resolved, ncap);
            m->missing_cap = ncap;
        }
        m->missing[m->nmissing] = (mwfr_str){e->s, e->len};
        m->resolved[m->nmissing] = MWFR_NONE;
        e->value = MWFR_MISSING_BIT | m->nmissing++;
    }
    *entry = e->value;
    return MWFR_OK;
}

static int intern_step(mwfr *m, const char *s, size_t len, uint32_t *step)
{
    slot *e;
    bool added;
    int rc = strmap_intern(&m->steps, &m->strings, s, len, m->nsteps_, &e, &added);
    if (rc != MWFR_OK) return rc;
    if (added) {
        if (m->nsteps_ == m->steps_cap) {
            uint32_t ncap = m->steps_cap ? m->steps_cap * 2 : 16;
            GROW(m->steps_info, ncap);
            m->steps_cap = ncap;
        }
        step_info *si = &m->steps_info[m->nsteps_++];
        memset(si, 0, sizeof *si);
        si->s = e->s;
        si->len = e->len;
        si->first = m->n;
    }
    *step = e->value;
    return MWFR_OK;
}

int mwfr_add_shard(mwfr *m, mwfr_str name, mwfr_str shard, uint32_t status, const mwfr_str *deps,
                   size_t ndeps, uint32_t *id_out)
{
    if (m->finished) return MWFR_ESTATE;
    if (m->n >= MWFR_MISSING_BIT - 1 || ndeps > UINT32_MAX / 2) return MWFR_ELIMIT;
    if (name.len > UINT32_MAX / 4 || shard.len > UINT32_MAX / 4) return MWFR_ELIMIT;
    if (m->n == m->cap && grow_shards(m) != MWFR_OK) return MWFR_ENOMEM;

    /* shard_name = name ":" shard, built in a scratch buffer then interned. */
    size_t slen = name.len + 1 + shard.len;
    char small[256];
    char *buf = slen <= sizeof small ? small : malloc(slen);
    if (buf == NULL) return MWFR_ENOMEM;
    memcpy(buf, name.s, name.len);
    buf[name.len] = ':';
    memcpy(buf + name.len + 1, shard.s, shard.len);
    slot *e;
    bool added;
    uint32_t id = m->n;
    int rc = strmap_intern(&m->names, &m->strings, buf, slen, id, &e, &added);
    if (buf != small) free(buf);
    if (rc != MWFR_OK) return rc;
    const char *sname = e->s; /* e itself may move when the map grows below */
    if (!added) {
        if (!(e->value & MWFR_MISSING_BIT)) return MWFR_EDUP;
        /* A dependency named this shard before it was added. */
        uint32_t k = e->value & ~MWFR_MISSING_BIT;
        if (m->resolved[k] != MWFR_NONE) return MWFR_EDUP;
        m->resolved[k] = id;
    }

    uint32_t step;
    rc = intern_step(m, name.s, name.len, &step);
    if (rc != MWFR_OK) return rc;

    rc = pool_reserve(&m->dpool, ndeps);
    if (rc != MWFR_OK) return rc;
    slice *s = &m->deps[id];
    s->off = (uint32_t)m->dpool.len;
    s->len = s->cap = 0;
    for (size_t i = 0; i < ndeps; i++) {
        uint32_t entry;
        rc = intern_dep(m, deps[i], &entry);
        if (rc != MWFR_OK) return rc;
        m->dpool.ids[m->dpool.len++] = entry;
        s->len++;
    }
    s->cap = s->len;
    m->nm[id] = (shard_names){sname, (uint32_t)slen, (uint32_t)name.len};
    m->status[id] = status;
    m->step[id] = step;
    m->n++;
    *id_out = id;
    return MWFR_OK;
}

static bool rule_holds(mwfr_rule r, uint32_t n, uint32_t c, uint32_t f, uint32_t d)
{
    if (n == 0) return true;
    switch (r) {
    case MWFR_ALL_SUCCESS:
        return c == n;
    case MWFR_ALL_DONE:
        return d == n;
    case MWFR_ALL_FAILED:
        return f == n;
    case MWFR_ONE_SUCCESS:
        return c > 0;
    case MWFR_ONE_FAILED:
        return f > 0;
    case MWFR_NONE_FAILED:
        return f == 0 && d == n;
    default:
        return false;
    }
}

static void refresh_ready(mwfr *m, uint32_t id)
{
    bool ready = m->status[id] == MWFR_PENDING &&
                 rule_holds((mwfr_rule)m->rule[id], m->deps[id].len, m->dep_completed[id],
                            m->dep_failed[id], m->dep_done[id]);
    if (ready)
        hb_set(&m->ready, id);
    else
        hb_clear(&m->ready, id);
}

/* Recounts shard id's dependency counters from its list. */
static void recount_deps(mwfr *m, uint32_t id)
{
    uint32_t c = 0, f = 0, d = 0;
    const uint32_t *ids = m->dpool.ids + m->deps[id].off;
    for (uint32_t i = 0; i < m->deps[id].len; i++) {
        uint32_t j = ids[i];
        if (j & MWFR_MISSING_BIT) continue;
        uint32_t st = m->status[j];
        c += st == MWFR_COMPLETED;
        f += st == MWFR_FAILED;
        d += status_done(st);
    }
    m->dep_completed[id] = c;
    m->dep_failed[id] = f;
    m->dep_done[id] = d;
}

int mwfr_finish(mwfr *m)
{
    if (m->finished) return MWFR_ESTATE;
    uint32_t n = m->n;
    size_t alloc = n ? n : 1;
    m->rule = calloc(alloc, 1);
    m->dep_completed = calloc(alloc, sizeof(uint32_t));
    m->dep_failed = calloc(alloc, sizeof(uint32_t));
    m->dep_done = calloc(alloc, sizeof(uint32_t));
    m->rdeps = calloc(alloc, sizeof(slice));
    m->step_shards = malloc(alloc * sizeof(uint32_t));
    if (!m->rule || !m->dep_completed || !m->dep_failed || !m->dep_done || !m->rdeps ||
        !m->step_shards)
        return MWFR_ENOMEM;
    /* Both pools exist from here on, so that slices of them are never NULL + offset. */
    if (pool_reserve(&m->dpool, 1) != MWFR_OK) return MWFR_ENOMEM;
    if (hb_init(&m->ready, n) != MWFR_OK) return MWFR_ENOMEM;
    if (hb_init(&m->changed, n) != MWFR_OK) return MWFR_ENOMEM;
    for (int i = 0; i < MWFR_NKNOWN; i++)
        if (hb_init(&m->with_status[i], n) != MWFR_OK) return MWFR_ENOMEM;

    /* Resolve names that were missing when first used but were added later; point the
     * name map at the shard. Count dependents. */
    for (uint32_t k = 0; k < m->nmissing; k++) {
        if (m->resolved[k] == MWFR_NONE) continue;
        slot *e = strmap_find(&m->names, m->missing[k].s, m->missing[k].len,
                              hash_bytes(m->missing[k].s, m->missing[k].len));
        e->value = m->resolved[k];
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t *ids = m->dpool.ids + m->deps[i].off;
        for (uint32_t j = 0; j < m->deps[i].len; j++) {
            if ((ids[j] & MWFR_MISSING_BIT) && m->resolved[ids[j] & ~MWFR_MISSING_BIT] != MWFR_NONE)
                ids[j] = m->resolved[ids[j] & ~MWFR_MISSING_BIT];
            if (!(ids[j] & MWFR_MISSING_BIT)) m->rdeps[ids[j]].cap++;
        }
    }
    /* Resolved entries stay in `missing` (numbering is stable) but are never referenced. */

    /* Dependents: one pass to size, one to fill. */
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        m->rdeps[i].off = (uint32_t)total;
        total += m->rdeps[i].cap;
    }
    if (pool_reserve(&m->rpool, total ? total : 1) != MWFR_OK) return MWFR_ENOMEM;
    m->rpool.len = total;
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t *ids = m->dpool.ids + m->deps[i].off;
        for (uint32_t j = 0; j < m->deps[i].len; j++) {
            if (ids[j] & MWFR_MISSING_BIT) continue;
            slice *r = &m->rdeps[ids[j]];
            m->rpool.ids[r->off + r->len++] = i;
        }
    }

    /* Steps: shards of each step, in document order. */
    for (uint32_t i = 0; i < n; i++) m->steps_info[m->step[i]].nshard++;
    uint32_t at = 0;
    for (uint32_t s = 0; s < m->nsteps_; s++) {
        m->steps_info[s].off = at;
        at += m->steps_info[s].nshard;
        m->steps_info[s].nshard = 0;
    }
    for (uint32_t i = 0; i < n; i++) {
        step_info *si = &m->steps_info[m->step[i]];
        m->step_shards[si->off + si->nshard++] = i;
    }

    for (uint32_t i = 0; i < n; i++) {
        uint32_t cls = status_class(m->status[i]);
        m->count[cls]++;
        m->steps_info[m->step[i]].count[cls]++;
        if (cls < MWFR_NKNOWN) hb_set(&m->with_status[cls], i);
        recount_deps(m, i);
        refresh_ready(m, i);
    }
    m->finished = true;
    return MWFR_OK;
}

uint32_t mwfr_count(const mwfr *m)
{
    return m->n;
}

uint32_t mwfr_lookup(const mwfr *m, mwfr_str shard_name)
{
    uint32_t v = strmap_get(&m->names, shard_name.s, shard_name.len);
    if (v == MWFR_NONE || !(v & MWFR_MISSING_BIT)) return v;
    return m->resolved[v & ~MWFR_MISSING_BIT]; /* named as a dependency before it was added */
}

mwfr_str mwfr_shard_name(const mwfr *m, uint32_t id)
{
    return (mwfr_str){m->nm[id].sname, m->nm[id].sname_len};
}

mwfr_str mwfr_name(const mwfr *m, uint32_t id)
{
    return (mwfr_str){m->nm[id].sname, m->nm[id].name_len};
}

mwfr_str mwfr_shard(const mwfr *m, uint32_t id)
{
    const shard_names *s = &m->nm[id];
    return (mwfr_str){s->sname + s->name_len + 1, s->sname_len - s->name_len - 1};
}

uint32_t mwfr_nsteps(const mwfr *m)
{
    return m->nsteps_;
}

uint32_t mwfr_step_of(const mwfr *m, uint32_t id)
{
    return m->step[id];
}

uint32_t mwfr_step_lookup(const mwfr *m, mwfr_str name)
{
    return strmap_get(&m->steps, name.s, name.len);
}

mwfr_str mwfr_step_name(const mwfr *m, uint32_t step)
{
    return (mwfr_str){m->steps_info[step].s, m->steps_info[step].len};
}

const uint32_t *mwfr_step_shards(const mwfr *m, uint32_t step, uint32_t *count)
{
    *count = m->steps_info[step].nshard;
    return m->step_shards + m->steps_info[step].off;
}

uint32_t mwfr_step_count(const mwfr *m, uint32_t step, uint32_t status)
{
    return m->steps_info[step].count[status_class(status)];
}

uint32_t mwfr_status_code(mwfr *m, mwfr_str st)
{
    for (uint32_t i = 0; i < MWFR_NKNOWN; i++)
        if (st.len == known_status[i].len && memcmp(st.s, known_status[i].s, st.len) == 0) return i;
    if (m->nother == m->other_cap) { /* room first, so that a new entry always fits */
        if (m->other_cap >= MWFR_MISSING_BIT) return MWFR_NONE;
        uint32_t ncap = m->other_cap ? m->other_cap * 2 : 8;
        mwfr_str *no = realloc(m->other, ncap * sizeof *no);
        if (no == NULL) return MWFR_NONE;
        m->other = no;
        m->other_cap = ncap;
    }
    slot *e;
    bool added;
    if (strmap_intern(&m->statuses, &m->strings, st.s, st.len, MWFR_NKNOWN + m->nother, &e,
                      &added) != MWFR_OK)
        return MWFR_NONE;
    if (added) m->other[m->nother++] = (mwfr_str){e->s, e->len};
    return e->value;
}

mwfr_str mwfr_status_str(const mwfr *m, uint32_t code)
{
    if (code < MWFR_NKNOWN) return known_status[code];
    return m->other[code - MWFR_NKNOWN];
}

uint32_t mwfr_status(const mwfr *m, uint32_t id)
{
    return m->status[id];
}

void mwfr_set_status(mwfr *m, uint32_t id, uint32_t code)
{
    uint32_t old = m->status[id];
    if (old == code) return;
    m->status[id] = code;
    if (!m->finished) return;
    hb_set(&m->changed, id);

    uint32_t oc = status_class(old), nc = status_class(code);
    m->count[oc]--;
    m->count[nc]++;
    m->steps_info[m->step[id]].count[oc]--;
    m->steps_info[m->step[id]].count[nc]++;
    if (oc < MWFR_NKNOWN) hb_clear(&m->with_status[oc], id);
    if (nc < MWFR_NKNOWN) hb_set(&m->with_status[nc], id);

    int dc = (code == MWFR_COMPLETED) - (old == MWFR_COMPLETED);
    int df = (code == MWFR_FAILED) - (old == MWFR_FAILED);
    int dd = (int)status_done(code) - (int)status_done(old);
    if (dc || df || dd) {
        const slice *r = &m->rdeps[id];
        for (uint32_t i = 0; i < r->len; i++) {
            uint32_t d = m->rpool.ids[r->off + i];
            m->dep_completed[d] += (uint32_t)dc;
            m->dep_failed[d] += (uint32_t)df;
            m->dep_done[d] += (uint32_t)dd;
            refresh_ready(m, d);
        }
    }
    refresh_ready(m, id);
}

uint32_t mwfr_count_status(const mwfr *m, uint32_t code)
{
    return m->count[status_class(code)];
}

mwfr_final mwfr_final_status(const mwfr *m)
{
    if (m->n == 0) return MWFR_FINAL_COMPLETED;
    if (m->count[MWFR_FAILED]) return MWFR_FINAL_FAILED;
    if (m->count[MWFR_RUNNING]) return MWFR_FINAL_RUNNING;
    if (m->count[MWFR_COMPLETED] == m->n) return MWFR_FINAL_COMPLETED;
    if (m->count[MWFR_COMPLETED]) return MWFR_FINAL_INACTIVE;
    return MWFR_FINAL_PENDING;
}

const char *mwfr_final_str(mwfr_final f)
{
    static const char *const names[] = {"pending", "running", "completed", "failed", "inactive"};
    return names[f];
}

const uint32_t *mwfr_deps(const mwfr *m, uint32_t id, uint32_t *count)
{
    *count = m->deps[id].len;
    return m->dpool.ids + m->deps[id].off;
}

const uint32_t *mwfr_dependents(const mwfr *m, uint32_t id, uint32_t *count)
{
    *count = m->rdeps[id].len;
    return m->rpool.ids + m->rdeps[id].off;
}

mwfr_str mwfr_dep_name(const mwfr *m, uint32_t entry)
{
    if (entry & MWFR_MISSING_BIT) return m->missing[entry & ~MWFR_MISSING_BIT];
    return mwfr_shard_name(m, entry);
}

void mwfr_dep_counts(const mwfr *m, uint32_t id, uint32_t *completed, uint32_t *failed,
                     uint32_t *done)
{
    *completed = m->dep_completed[id];
    *failed = m->dep_failed[id];
    *done = m->dep_done[id];
}

int mwfr_set_deps(mwfr *m, uint32_t id, const mwfr_str *deps, size_t ndeps)
{
    if (!m->finished) return MWFR_ESTATE;
    if (ndeps > UINT32_MAX / 2) return MWFR_ELIMIT;
    /* Resolve every name first, so that a failure changes nothing. */
    uint32_t *entries = malloc((ndeps ? ndeps : 1) * sizeof *entries);
    if (entries == NULL) return MWFR_ENOMEM;
    int rc = MWFR_OK;
    for (size_t i = 0; i < ndeps && rc == MWFR_OK; i++) rc = intern_dep(m, deps[i], &entries[i]);
    if (rc == MWFR_OK) rc = slice_reserve(&m->dpool, &m->deps[id], (uint32_t)ndeps);
    for (size_t i = 0; i < ndeps && rc == MWFR_OK; i++) {
        uint32_t j = entries[i];
        if (!(j & MWFR_MISSING_BIT))
            rc = slice_reserve(&m->rpool, &m->rdeps[j], m->rdeps[j].len + 1 + (uint32_t)i);
    }
    if (rc != MWFR_OK) {
        free(entries);
        return rc;
    }

    /* Unlink from the old dependencies' dependents lists. */
    slice *s = &m->deps[id];
    for (uint32_t i = 0; i < s->len; i++) {
        uint32_t j = m->dpool.ids[s->off + i];
        if (j & MWFR_MISSING_BIT) continue;
        slice *r = &m->rdeps[j];
        uint32_t *ids = m->rpool.ids + r->off;
        for (uint32_t k = 0; k < r->len; k++) {
            if (ids[k] == id) {
                ids[k] = ids[--r->len];
                break;
            }
        }
    }
    memcpy(m->dpool.ids + s->off, entries, ndeps * sizeof *entries);
    s->len = (uint32_t)ndeps;
    for (size_t i = 0; i < ndeps; i++) {
        uint32_t j = entries[i];
        if (j & MWFR_MISSING_BIT) continue;
        slice *r = &m->rdeps[j];
        m->rpool.ids[r->off + r->len++] = id;
    }
    free(entries);
    recount_deps(m, id);
    refresh_ready(m, id);
    /* Keep waste bounded: compaction failing only keeps the waste. */
    if (m->dpool.waste > m->dpool.len / 2 + 4096) (void)pool_compact(&m->dpool, m->deps, m->n);
    if (m->rpool.waste > m->rpool.len / 2 + 4096) (void)pool_compact(&m->rpool, m->rdeps, m->n);
    return MWFR_OK;
}

void mwfr_set_rule(mwfr *m, uint32_t id, mwfr_rule rule)
{
    m->rule[id] = (uint8_t)rule;
    refresh_ready(m, id);
}

mwfr_rule mwfr_get_rule(const mwfr *m, uint32_t id)
{
    return (mwfr_rule)m->rule[id];
}

int mwfr_is_ready(const mwfr *m, uint32_t id)
{
    return hb_has(&m->ready, id);
}

uint32_t mwfr_nready(const mwfr *m)
{
    return m->ready.count;
}

uint32_t mwfr_next_ready(const mwfr *m, uint32_t from)
{
    if (from >= m->n) return MWFR_NONE;
    return hb_next(&m->ready, from);
}

uint32_t mwfr_next_with_status(const mwfr *m, uint32_t code, uint32_t from)
{
    if (code >= MWFR_NKNOWN || from >= m->n) return MWFR_NONE;
    return hb_next(&m->with_status[code], from);
}

uint32_t mwfr_next_changed(const mwfr *m, uint32_t from)
{
    if (!m->finished || from >= m->n) return MWFR_NONE;
    return hb_next(&m->changed, from);
}

void mwfr_clear_changed(mwfr *m)
{
    if (!m->finished) return;
    for (uint32_t id = hb_next(&m->changed, 0); id != MWFR_NONE; id = hb_next(&m->changed, id))
        hb_clear(&m->changed, id);
}

/* ---------------------------------------------------------------- cycles (Tarjan, iterative) */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

int mwfr_cycles(const mwfr *m, uint32_t **members_out, uint32_t **starts_out, uint32_t *ncycles)
{
    uint32_t n = m->n;
    size_t alloc = n ? n : 1;
    uint32_t *index = malloc(alloc * sizeof *index);
    uint32_t *low = malloc(alloc * sizeof *low);
    uint32_t *stack = malloc(alloc * sizeof *stack);
    uint32_t *call = malloc(alloc * sizeof *call); /* DFS path: node */
    uint32_t *edge = malloc(alloc * sizeof *edge); /* DFS path: next edge to follow */
    uint8_t *on = calloc(alloc, 1);
    uint32_t *members = malloc(alloc * sizeof *members);
    uint32_t *starts = malloc((alloc + 1) * sizeof *starts);
    if (!index || !low || !stack || !call || !edge || !on || !members || !starts) {
        free(index), free(low), free(stack), free(call), free(edge), free(on);
        free(members), free(starts);
        return MWFR_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) index[i] = MWFR_NONE;
    uint32_t next_index = 0, sp = 0, nmem = 0, nc = 0;

    for (uint32_t root = 0; root < n; root++) {
        if (index[root] != MWFR_NONE) continue;
        uint32_t depth = 0;
        call[0] = root;
        edge[0] = 0;
        index[root] = low[root] = next_index++;
        stack[sp++] = root;
        on[root] = 1;
        while (1) {
            uint32_t v = call[depth];
            const slice *s = &m->deps[v];
            if (edge[depth] < s->len) {
                uint32_t w = m->dpool.ids[s->off + edge[depth]++];
                if (w & MWFR_MISSING_BIT) continue;
                if (index[w] == MWFR_NONE) {
                    index[w] = low[w] = next_index++;
                    stack[sp++] = w;
                    on[w] = 1;
                    depth++;
                    call[depth] = w;
                    edge[depth] = 0;
                } else if (on[w] && index[w] < low[v]) {
                    low[v] = index[w];
                }
                continue;
            }
            /* v is finished: pop its component if it is a root. */
            if (low[v] == index[v]) {
                uint32_t first = nmem, w;
                bool self = false;
                for (uint32_t k = 0; k < s->len; k++)
                    if (m->dpool.ids[s->off + k] == v) self = true;
                do {
                    w = stack[--sp];
                    on[w] = 0;
                    members[nmem++] = w;
                } while (w != v);
                if (nmem - first > 1 || self) {
                    qsort(members + first, nmem - first, sizeof *members, cmp_u32);
                    starts[nc++] = first;
                } else {
                    nmem = first;
                }
            }
            if (depth == 0) break;
            depth--;
            uint32_t u = call[depth];
            if (low[v] < low[u]) low[u] = low[v];
        }
    }
    starts[nc] = nmem;
    free(index), free(low), free(stack), free(call), free(edge), free(on);
    *members_out = members;
    *starts_out = starts;
    *ncycles = nc;
    return MWFR_OK;
}
