/* Vigil: what every module shares — error codes, time, logging.
 *
 * Errors: fallible functions return 0 or a negative errno (-EINVAL, -ENOMEM, -EAGAIN, ...).
 * Time: event time is int64_t nanoseconds since the Unix epoch, as the source stamped it;
 * the analysis core never reads a clock. Deadlines inside a process use CLOCK_MONOTONIC.
 * Logging: one line per event on stderr, never per reading. Library modules do not log;
 * they return errors and the caller logs once. */
#ifndef VIGIL_COMMON_H
#define VIGIL_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VG_CACHELINE 64
#define VG_NS_PER_S INT64_C(1000000000)
#define VG_NS_PER_MS INT64_C(1000000)

/* Text for a negative errno returned by a vg_ function (also accepts positive values).
 * Thread: any. The string is static. */
const char *vg_strerror(int err);

/* CLOCK_MONOTONIC / CLOCK_REALTIME in nanoseconds. Thread: any. */
int64_t vg_mono_ns(void);
int64_t vg_wall_ns(void);

/* An instant written "YYYY-MM-DDTHH:MM:SS", optionally with a fraction of a second, then
 * "Z", "UTC" or "+HH:MM" / "-HH:MM": Unix time in nanoseconds. A date that does not exist
 * (2026-02-30), a time out of range, a year before 1970 or after 2261 (nanoseconds since
 * 1970 overflow 64 bits in 2262) or anything after the offset is
 * -EINVAL (ret_ns untouched). Local time without an offset is refused: it is ambiguous.
 * Thread: any. */
int vg_parse_instant(const char *text, int64_t *ret_ns);

/* Days in month (1..12) of year, proleptic Gregorian (leap years included); 0 for a month
 * out of range. Thread: any. */
int vg_days_in_month(int year, int month);

/* Copies src (NULL: "") into dst[cap], cap >= 1, always terminated. When it must cut, it
 * cuts before a UTF-8 character, not inside one: the text goes out as JSON, which must
 * stay valid UTF-8. Thread: any. */
void vg_copy_text(char *dst, size_t cap, const char *src);

/* Reads the whole file at path ("-": standard input) into a new NUL-terminated buffer
 * (*ret, free() it; *ret_len bytes before the NUL). Returns 0, -errno of the open, -EIO
 * (read error, e.g. a directory), -ENOMEM. Thread: any. */
int vg_read_file(const char *path, char **ret, size_t *ret_len);

enum vg_log_level {
    VG_LOG_ERROR = 0,
    VG_LOG_WARN = 1,
    VG_LOG_INFO = 2,
    VG_LOG_DEBUG = 3,
};

/* Sets the most verbose level printed (default VG_LOG_INFO). Thread: main, before threads. */
void vg_log_set_level(enum vg_log_level level);
enum vg_log_level vg_log_get_level(void);
/* Parses "error", "warn", "info" or "debug". Returns 0, or -EINVAL (ret_level untouched). */
int vg_log_parse_level(const char *name, enum vg_log_level *ret_level);

/* Writes one line "<wall time> <level> <thread name>: <message>" to stderr with a single
 * write(), so lines from several threads never interleave. Thread: any. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void vg_log(enum vg_log_level level, const char *fmt, ...);

#define vg_error(...) vg_log(VG_LOG_ERROR, __VA_ARGS__)
#define vg_warn(...) vg_log(VG_LOG_WARN, __VA_ARGS__)
#define vg_info(...) vg_log(VG_LOG_INFO, __VA_ARGS__)
#define vg_debug(...)                                                                          \
    do {                                                                                       \
        if (vg_log_get_level() >= VG_LOG_DEBUG)                                                \
            vg_log(VG_LOG_DEBUG, __VA_ARGS__);                                                 \
    } while (0)

#ifdef __cplusplus
}
#endif

#endif
