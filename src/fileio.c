/*
 * fileio: atomic replacement and advisory locks. See fileio.h.
 */
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

int mfile_write_atomic(const char *path, const char *data, size_t len, char *errbuf, size_t errlen)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    char *dir = malloc(plen + 2);
    if (tmp == NULL || dir == NULL) {
        free(tmp);
        free(dir);
        return fail(ENOMEM, errbuf, errlen, "allocating");
    }
    dir_of(path, dir, plen + 2);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(tmp, plen + 32, "%s/.%s.tmp.XXXXXX", dir, base);

    int err = 0;
    const char *what = NULL;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        err = errno;
        what = "creating a temporary file";
        goto out;
    }
    struct stat st;
    mode_t mode;
    if (stat(path, &st) == 0) {
        mode = st.st_mode & 07777;
    } else {
        mode_t mask = umask(0);
        umask(mask);
        mode = 0666 & ~mask;
    }
    if (fchmod(fd, mode) != 0) {
        err = errno;
        what = "setting the mode of the temporary file";
    } else if ((err = write_all(fd, data, len)) != 0) {
        what = "writing the temporary file";
    } else if (fsync(fd) != 0) {
        err = errno;
        what = "syncing the temporary file";
    }
    if (close(fd) != 0 && err == 0) {
        err = errno;
        what = "closing the temporary file";
    }
    if (err == 0 && rename(tmp, path) != 0) {
        err = errno;
        what = "renaming the temporary file";
    }
    if (err != 0) {
        unlink(tmp);
        goto out;
    }
    /* The rename is durable once the directory is synced. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        if (fsync(dfd) != 0 && errno != EINVAL) {
            err = errno;
            what = "syncing the directory";
        }
        close(dfd);
    }
out:
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
