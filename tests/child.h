/* Running a program from a test (the vigil binary, vigil-count) with its output in files:
 * one place for the fork/exec, the timeout, the exit-status decoding and reading back what it
 * wrote. */
#ifndef VIGIL_TESTS_CHILD_H
#define VIGIL_TESTS_CHILD_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct {
    const char *in;   /* the child's stdin comes from here (NULL: /dev/null) */
    const char *out;  /* the child's stdout goes here (NULL: /dev/null) */
    const char *err;  /* its stderr (NULL: /dev/null) */
    bool append_err;  /* append to err instead of truncating it */
    long long fsize;  /* a file-size limit for the child (0: none); writes past it fail with
                       * EFBIG, as on a full disk */
} child_io;

/* Starts argv[0] (NULL-terminated argv) with the redirections in io (NULL: none of them, and
 * stdin from /dev/null). Asserts that it started. */
pid_t child_spawn(const char *const *argv, const child_io *io);

/* Its exit status, 128 + the signal that killed it, or -1 when it had not exited after
 * timeout_ms (it is then killed). */
int child_wait(pid_t pid, int timeout_ms);

/* child_spawn, then child_wait. */
int child_run(const char *const *argv, const child_io *io, int timeout_ms);

/* Runs the shell command line printf(fmt, ...) (for quoting and redirections a test spells
 * out); its exit status, or -1 when it did not exit. */
int child_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The whole of a file (what a child wrote, a model), NUL-terminated (free it). Asserts that
 * it can be read. */
char *read_file(const char *path);

#endif
