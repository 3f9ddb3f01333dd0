/*
 * fileio: whole-file reads, atomic replacement and advisory locks. No Lua here.
 * Functions return 0 or an errno value; errbuf (when given) says which step failed.
 */
#ifndef MAGMA_FILEIO_H
#define MAGMA_FILEIO_H

#include <stddef.h>

/* Replaces path with data[0..len), atomically: a temporary file in the same directory is
 * written, fsync'ed and renamed over path, then the directory is fsync'ed. On any error the
 * temporary file is removed and path is untouched. A new file gets mode 0666 & ~umask; an
 * existing file keeps its mode. */
int mfile_write_atomic(const char *path, const char *data, size_t len, char *errbuf, size_t errlen);

/* Takes an exclusive flock on lockpath (created if needed), waiting up to wait_seconds
 * (0: do not wait; < 0: wait forever). On success *fd_out holds the lock until closed.
 * Returns EWOULDBLOCK when the wait ran out. */
int mfile_lock(const char *lockpath, double wait_seconds, int *fd_out);

#endif
