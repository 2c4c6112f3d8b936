/* Error text, clocks and the stderr logger shared by every module. */
#include "vigil/common.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *vg_strerror(int err)
{
    if (err < 0)
        err = -err;
    switch (err) {
    case 0:
        return "success";
    case EAGAIN:
        return "try again (ring full or empty)";
    case EMSGSIZE:
        return "payload too large";
    case EPROTO:
        return "malformed payload";
    case ENOTCONN:
        return "broker not connected";
    case ECANCELED:
        return "shut down";
    default:
        return strerror(err); /* glibc returns a static string for known codes */
    }
}

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * VG_NS_PER_S + ts.tv_nsec;
}

int64_t vg_mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

int64_t vg_wall_ns(void)
{
    return clock_ns(CLOCK_REALTIME);
}

/* Relaxed: a lone setting read by every logger; no other data is published through it. */
static atomic_int log_level = VG_LOG_INFO;

void vg_log_set_level(enum vg_log_level level)
{
    atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

enum vg_log_level vg_log_get_level(void)
{
    return (enum vg_log_level)atomic_load_explicit(&log_level, memory_order_relaxed);
}

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int vg_log_parse_level(const char *name, enum vg_log_level *ret_level)
{
    for (int i = 0; i < 4; i++) {
        if (name && strcmp(name, level_names[i]) == 0) {
            *ret_level = (enum vg_log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

int vg_days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    if (month < 1 || month > 12)
        return 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

int vg_read_file(const char *path, char **ret, size_t *ret_len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    size_t cap = 65536, len = 0;
    char *p;

    if (!f)
        return -errno;
    p = malloc(cap);
    while (p) {
        size_t got = fread(p + len, 1, cap - len - 1, f);
        len += got;
        if (len + 1 < cap)
            break;
        char *q = realloc(p, cap * 2);
        if (!q) {
            free(p);
            p = NULL;
            break;
        }
        p = q;
        cap *= 2;
    }
    int err = ferror(f);
    if (f != stdin)
        fclose(f);
    if (!p)
        return -ENOMEM;
    if (err) {
        free(p);
        return -EIO;
    }
    p[len] = '\0';
    *ret = p;
    *ret_len = len;
    return 0;
}

void vg_copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;

    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
            n--; /* src[n], the first byte left out, continues a character */
    }
    if (n)
        memcpy(dst, src, n);
    dst[n] = 0;
}

int vg_parse_instant(const char *text, int64_t *ret_ns)
{
    int y, mo, d, h, mi, s;
    long off = 0;

    for (int i = 0; i < 19; i++) /* the fixed part: digits and separators, nothing else */
        if (i == 4 || i == 7 || i == 10 || i == 13 || i == 16
                ? text[i] != "--T::"[(i - 4) / 3]
                : !isdigit((unsigned char)text[i]))
            return -EINVAL;
    /* The fixed part is all digits, so sscanf reads no sign or space there. */
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &s) != 6)
        return -EINVAL;
    const char *p = text + 19;
    double frac = 0.0;
    if (*p == '.') { /* digits only: strtod would also take an exponent */
        double unit = 0.1;
        if (!isdigit((unsigned char)p[1]))
            return -EINVAL;
        for (p++; isdigit((unsigned char)*p); p++, unit /= 10)
            frac += (*p - '0') * unit;
    }
    if (y < 1970 || y > 2261 || d < 1 || d > vg_days_in_month(y, mo) || h > 23 || mi > 59 ||
        s > 59)
        return -EINVAL;
    if (strcmp(p, "Z") == 0 || strcmp(p, "UTC") == 0) {
        off = 0;
    } else {
        /* exactly +HH:MM or -HH:MM (a NUL fails a test before anything past it is read) */
        if (*p != '+' && *p != '-')
            return -EINVAL;
        for (int i = 1; i <= 5; i++)
            if (i == 3 ? p[i] != ':' : !isdigit((unsigned char)p[i]))
                return -EINVAL;
        const long oh = (p[1] - '0') * 10 + (p[2] - '0'), om = (p[4] - '0') * 10 + (p[5] - '0');
        if (p[6] != '\0' || oh > 14 || om > 59)
            return -EINVAL;
        off = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
    }
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                    .tm_min = mi, .tm_sec = s};
    *ret_ns = ((int64_t)timegm(&tm) - off) * VG_NS_PER_S + (int64_t)llround(frac * 1e9);
    return 0;
}

void vg_log(enum vg_log_level level, const char *fmt, ...)
{
    if ((int)level > atomic_load_explicit(&log_level, memory_order_relaxed))
        return;
    char line[1024], thread[16] = "?";
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    pthread_getname_np(pthread_self(), thread, sizeof(thread));
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, level_names[level], thread);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2; /* truncated: keep one line */
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w; /* nowhere left to report a failed log write */
}
