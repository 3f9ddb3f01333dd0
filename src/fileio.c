/*
 * fileio: atomic replacement and advisory locks. See fileio.h.
 */
#define _GNU_SOURCE /* O_TMPFILE and linkat's AT_SYMLINK_FOLLOW, in replace_unnamed */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int fail(int err, char *errbuf, size_t errlen, const char *what)
{
    if (errbuf && errlen) snprintf(errbuf, errlen, "%s: %s", what, strerror(err));
    return err;
}

/* The directory part of path ("." when there is none), in buf. */
static void dir_of(const char *path, char *buf, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        snprintf(buf, size, ".");
    } else if (slash == path) {
        snprintf(buf, size, "/");
    } else {
        snprintf(buf, size, "%.*s", (int)(slash - path), path);
    }
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The mode a replacement gets: the existing file's, or 0666 less the umask. */
static mode_t mode_for(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0) return st.st_mode & 07777;
    mode_t mask = umask(0);
    umask(mask);
    return 0666 & ~mask;
}

/* Writes data to fd (mode set, content synced); *what names the step that failed. */
static int fill(int fd, const char *path, const char *data, size_t len, const char **what)
{
    int err = 0;
    if (fchmod(fd, mode_for(path)) != 0) {
        err = errno;
        *what = "setting the mode of the temporary file";
    } else if ((err = write_all(fd, data, len)) != 0) {
        *what = "writing the temporary file";
    } else if (fsync(fd) != 0) {
        err = errno;
        *what = "syncing the temporary file";
    }
    return err;
}

/* Linux: the content goes to an unnamed file (O_TMPFILE) that gets a name only once it is
 * whole and synced, then is renamed over path; a process killed while writing leaves
 * nothing behind. Returns 0, an errno value, or -1 when the filesystem cannot (then the
 * named way is used). */
static int replace_unnamed(const char *path, const char *dir, const char *tmp, const char *data,
                           size_t len, const char **what)
{
#ifdef O_TMPFILE
    int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) return -1; /* EOPNOTSUPP, EISDIR, ...: the filesystem has no O_TMPFILE */
    int err = fill(fd, path, data, len, what);
    if (err == 0) {
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) != 0) {
            err = errno == ENOENT ? -1 : errno; /* no /proc: the named way */
            *what = "naming the temporary file";
        } else if (rename(tmp, path) != 0) {
            err = errno;
            *what = "renaming the temporary file";
            unlink(tmp);
        }
    }
    close(fd);
    return err;
#else
    (void)path, (void)dir, (void)tmp, (void)data, (void)len, (void)what;
    return -1;
#endif
}

/* The portable way: a named temporary file (mkstemp), renamed over path. */
static int replace_named(const char *path, char *tmp, const char *data, size_t len,
                         const char **what)
{
    int fd = mkstemp(tmp);
    if (fd < 0) {
        *what = "creating a temporary file";
        return errno;
    }
    int err = fill(fd, path, data, len, what);
    if (close(fd) != 0 && err == 0) {
        err = errno;
        *what = "closing the temporary file";
    }
    if (err == 0 && rename(tmp, path) != 0) {
        err = errno;
        *what = "renaming the temporary file";
    }
    if (err != 0) unlink(tmp);
    return err;
}

int mfile_write_atomic(const char *path, const char *data, size_t len, char *errbuf, size_t errlen)
{
    size_t plen = strlen(path), size = plen + 64;
    char *tmp = malloc(size);
    char *dir = malloc(plen + 2);
    if (tmp == NULL || dir == NULL) {
        free(tmp);
        free(dir);
        return fail(ENOMEM, errbuf, errlen, "allocating");
    }
    dir_of(path, dir, plen + 2);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;

    const char *what = NULL;
    snprintf(tmp, size, "%s/.%s.tmp.%ld", dir, base, (long)getpid());
    int err = replace_unnamed(path, dir, tmp, data, len, &what);
    if (err < 0) {
        snprintf(tmp, size, "%s/.%s.tmp.XXXXXX", dir, base);
        err = replace_named(path, tmp, data, len, &what);
    }
    if (err == 0) {
        /* The rename is durable once the directory is synced. */
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            if (fsync(dfd) != 0 && errno != EINVAL) {
                err = errno;
                what = "syncing the directory";
            }
            close(dfd);
        }
    }
    free(tmp);
    free(dir);
    return err ? fail(err, errbuf, errlen, what) : 0;
}

int mfile_lock(const char *lockpath, double wait_seconds, int *fd_out)
{
    int fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return errno;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            *fd_out = fd;
            return 0;
        }
        int err = errno;
        if (err != EWOULDBLOCK && err != EINTR) {
            close(fd);
            return err;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double waited = (double)(now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9;
        if (wait_seconds >= 0 && waited >= wait_seconds) {
            close(fd);
            return EWOULDBLOCK;
        }
        struct timespec pause = {0, 10 * 1000 * 1000}; /* 10 ms */
        nanosleep(&pause, NULL);
    }
}
