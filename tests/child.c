/* See child.h. */
#include "child.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Makes fd `to` refer to path; 0 or -1. */
static int redirect(int to, const char *path, int flags)
{
    const int fd = open(path ? path : "/dev/null", flags, 0644);
    if (fd < 0 || dup2(fd, to) < 0)
        return -1;
    if (fd != to)
        close(fd);
    return 0;
}

pid_t child_spawn(const char *const *argv, const child_io *io)
{
    static const child_io none;
    const int trunc = O_WRONLY | O_CREAT | O_TRUNC;

    if (!io)
        io = &none;
    fflush(NULL); /* nothing buffered here is written twice by the child */
    const pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %m");
    if (pid > 0)
        return pid;
    if (redirect(0, io->in, O_RDONLY) < 0 || redirect(1, io->out, trunc) < 0 ||
        redirect(2, io->err, io->append_err ? O_WRONLY | O_CREAT | O_APPEND : trunc) < 0)
        _exit(126);
    if (io->fsize > 0) {
        const struct rlimit rl = {(rlim_t)io->fsize, (rlim_t)io->fsize};
        signal(SIGXFSZ, SIG_IGN); /* a write past the limit fails instead of killing */
        if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
            _exit(126);
    }
    execv(argv[0], (char *const *)argv);
    _exit(127);
}

int child_wait(pid_t pid, int timeout_ms)
{
    const struct timespec nap = {0, 10 * 1000000L};
    int st;

    for (int waited = 0; waited < timeout_ms; waited += 10) {
        const pid_t r = waitpid(pid, &st, WNOHANG);
        cr_assert_geq(r, 0, "waitpid: %m");
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        nanosleep(&nap, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

int child_run(const char *const *argv, const child_io *io, int timeout_ms)
{
    return child_wait(child_spawn(argv, io), timeout_ms);
}

int child_sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;

    va_start(ap, fmt);
    const int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    cr_assert(n >= 0 && (size_t)n < sizeof(cmd), "command line too long");
    fflush(NULL);
    const int st = system(cmd);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t len = 0;

    cr_assert_not_null(f, "%s: %m", path);
    FILE *m = open_memstream(&text, &len);
    cr_assert_not_null(m);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        fwrite(buf, 1, n, m);
    fclose(f);
    fclose(m);
    return text;
}
