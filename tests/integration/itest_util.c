/* See itest_util.h. */
#include "itest_util.h"

#include "vigil/common.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

const char *scrape(int mport)
{
    static char buf[1 << 17];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)mport)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return NULL;
    }
    const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, req, sizeof(req) - 1) < 0) {
        close(fd);
        return NULL;
    }
    size_t n = 0;
    ssize_t r;
    while (n < sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
        n += (size_t)r;
    close(fd);
    buf[n] = '\0';
    if (strncmp(buf, "HTTP/1.", 7) != 0 || !strstr(buf, " 200 "))
        return NULL;
    char *body = strstr(buf, "\r\n\r\n");
    return body ? body + 4 : NULL;
}

/* The value of the sample named exactly `name` (with labels), or -1. */
long long metric(const char *text, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, name, len) == 0 && p[len] == ' ')
            return atoll(p + len + 1);
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}

long long wait_metric(int mport, const char *name, long long want, int timeout_ms)
{
    long long v = -1;
    int64_t end = vg_mono_ns() + (int64_t)timeout_ms * VG_NS_PER_MS;
    while (vg_mono_ns() < end) {
        const char *t = scrape(mport);
        if (t && (v = metric(t, name)) >= want)
            return v;
        nap_ms(50);
    }
    return v;
}


