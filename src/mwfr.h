/*
 * mwfr: the run-state core of magma-lua. No Lua here.
 *
 * A run is a fixed set of shards, numbered 0..n-1 in document order. Each shard has a step
 * name, a shard label, a status and a list of dependencies (other shards, by shard_name
 * "step:shard"). The core keeps, for every shard, how many of its dependencies are completed,
 * failed and done (neither pending nor running), and for the whole run how many shards have
 * each status; all of it is maintained by the one function that changes a status, so that:
 *   - the ready shards are enumerated in O(ready) (a hierarchical bitmap, document order);
 *   - the final status is O(1) from the counts;
 *   - a status change costs O(dependents of that shard).
 *
 * Building a run: mwfr_new, mwfr_add_shard for each shard in document order (dependencies
 * and status with it), then mwfr_finish. Dependencies may name shards added later; a name no
 * shard has is kept as a "missing" dependency that is never done (validate reports it).
 */
#ifndef MAGMA_MWFR_H
#define MAGMA_MWFR_H

#include <stddef.h>
#include <stdint.h>

typedef struct mwfr mwfr;

/* Status codes: the four statuses magma knows, then interned codes for any other string. */
enum { MWFR_PENDING = 0, MWFR_RUNNING = 1, MWFR_COMPLETED = 2, MWFR_FAILED = 3, MWFR_NKNOWN = 4 };

/* Trigger rules: when a pending shard is ready, from the statuses of its dependencies.
 * A shard without dependencies is ready under every rule. */
typedef enum {
    MWFR_ALL_SUCCESS = 0, /* every dependency completed (magma's rule, the default) */
    MWFR_ALL_DONE,        /* every dependency done (neither pending nor running) */
    MWFR_ALL_FAILED,      /* every dependency failed */
    MWFR_ONE_SUCCESS,     /* at least one dependency completed */
    MWFR_ONE_FAILED,      /* at least one dependency failed */
    MWFR_NONE_FAILED,     /* every dependency done, none failed */
    MWFR_NRULES
} mwfr_rule;

/* Final status of a run, from the counts (magma's update_status). */
typedef enum {
    MWFR_FINAL_PENDING,
    MWFR_FINAL_RUNNING,
    MWFR_FINAL_COMPLETED,
    MWFR_FINAL_FAILED,
    MWFR_FINAL_INACTIVE
} mwfr_final;

typedef enum {
    MWFR_OK = 0,
    MWFR_ENOMEM = -1,
    MWFR_EDUP = -2,   /* two shards share a shard_name */
    MWFR_ELIMIT = -3, /* more shards or names than the core can number (2^31) */
    MWFR_ESTATE = -4  /* call not allowed in this phase (e.g. add after finish) */
} mwfr_err;

#define MWFR_NONE UINT32_MAX
/* A dependency entry is a shard id, or MWFR_MISSING_BIT | k for the k-th missing name. */
#define MWFR_MISSING_BIT 0x80000000u

/* A string given to the core: bytes and length (may hold NUL bytes). */
typedef struct {
    const char *s;
    size_t len;
} mwfr_str;

mwfr *mwfr_new(uint32_t shards_hint);
void mwfr_free(mwfr *m);

/* Building. Shards are numbered in the order they are added. */
int mwfr_add_shard(mwfr *m, mwfr_str name, mwfr_str shard, uint32_t status, const mwfr_str *deps,
                   size_t ndeps, uint32_t *id_out);
int mwfr_finish(mwfr *m);

/* Names. */
uint32_t mwfr_count(const mwfr *m);
uint32_t mwfr_lookup(const mwfr *m, mwfr_str shard_name); /* shard id or MWFR_NONE */
mwfr_str mwfr_shard_name(const mwfr *m, uint32_t id);
mwfr_str mwfr_name(const mwfr *m, uint32_t id); /* the step name */
mwfr_str mwfr_shard(const mwfr *m, uint32_t id);

/* Steps: distinct names, numbered in order of first appearance. */
uint32_t mwfr_nsteps(const mwfr *m);
uint32_t mwfr_step_of(const mwfr *m, uint32_t id);
uint32_t mwfr_step_lookup(const mwfr *m, mwfr_str name); /* step id or MWFR_NONE */
mwfr_str mwfr_step_name(const mwfr *m, uint32_t step);
const uint32_t *mwfr_step_shards(const mwfr *m, uint32_t step, uint32_t *count);
/* Shards of the step with status code `status` (any code; others count per code class). */
uint32_t mwfr_step_count(const mwfr *m, uint32_t step, uint32_t status);

/* Statuses. mwfr_status_code interns any string (returns MWFR_NONE only on ENOMEM). */
uint32_t mwfr_status_code(mwfr *m, mwfr_str status);
mwfr_str mwfr_status_str(const mwfr *m, uint32_t code);
uint32_t mwfr_status(const mwfr *m, uint32_t id);
void mwfr_set_status(mwfr *m, uint32_t id, uint32_t code);
/* Shards with this known status (code < MWFR_NKNOWN), or with any other status (code 4). */
uint32_t mwfr_count_status(const mwfr *m, uint32_t code);
mwfr_final mwfr_final_status(const mwfr *m);
const char *mwfr_final_str(mwfr_final f);

/* Dependencies: entries as ids or MWFR_MISSING_BIT | k. */
const uint32_t *mwfr_deps(const mwfr *m, uint32_t id, uint32_t *count);
const uint32_t *mwfr_dependents(const mwfr *m, uint32_t id, uint32_t *count);
int mwfr_set_deps(mwfr *m, uint32_t id, const mwfr_str *deps, size_t ndeps);
mwfr_str mwfr_dep_name(const mwfr *m, uint32_t entry); /* name of a shard or missing entry */
/* Counts of this shard's dependencies that are completed, failed, done. */
void mwfr_dep_counts(const mwfr *m, uint32_t id, uint32_t *completed, uint32_t *failed,
                     uint32_t *done);

/* Readiness: pending and the shard's trigger rule holds. */
void mwfr_set_rule(mwfr *m, uint32_t id, mwfr_rule rule);
mwfr_rule mwfr_get_rule(const mwfr *m, uint32_t id);
int mwfr_is_ready(const mwfr *m, uint32_t id);
uint32_t mwfr_nready(const mwfr *m);
/* The first ready shard with id >= from, in document order, or MWFR_NONE. */
uint32_t mwfr_next_ready(const mwfr *m, uint32_t from);
/* The first shard with id >= from having known status code (< MWFR_NKNOWN), or MWFR_NONE. */
uint32_t mwfr_next_with_status(const mwfr *m, uint32_t code, uint32_t from);

/* Shards whose status changed since the last mwfr_clear_changed (after mwfr_finish): lets
 * a binding mirror statuses lazily. mwfr_next_changed walks them in document order. */
uint32_t mwfr_next_changed(const mwfr *m, uint32_t from);
void mwfr_clear_changed(mwfr *m);

/* Cycles: strongly connected components of more than one shard, or a shard depending on
 * itself. On success *members holds every cycle's shards (ids, each cycle in document
 * order), *starts[k] is where cycle k begins (with *starts[ncycles] == total); the caller
 * frees both with free(). */
int mwfr_cycles(const mwfr *m, uint32_t **members, uint32_t **starts, uint32_t *ncycles);

#endif
