/* Alert events as JSON lines (vigil replay's output), formatted so that equal events give
 * equal bytes: doubles with %.17g (round-trip exact), NaN and infinities as null, event
 * times as Unix seconds with all nine decimals, strings escaped per RFC 8259. */
#include "vigil/archive.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct out {
    char *buf;
    size_t cap, len;
};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(o->len < o->cap ? o->buf + o->len : NULL, o->len < o->cap ? o->cap - o->len : 0,
                  fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

static void put_str(struct out *o, const char *s, size_t max)
{
    put(o, "\"");
    for (size_t i = 0; i < max && s && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\')
            put(o, "\\%c", c);
        else if (c == '\n')
            put(o, "\\n");
        else if (c == '\t')
            put(o, "\\t");
        else if (c < 0x20)
            put(o, "\\u%04x", c);
        else
            put(o, "%c", c);
    }
    put(o, "\"");
}

static void put_num(struct out *o, double v)
{
    if (isfinite(v))
        put(o, "%.17g", v);
    else
        put(o, "null");
}

static void put_time(struct out *o, int64_t t_ns)
{
    int64_t s = t_ns / 1000000000, ns = t_ns % 1000000000;

    if (ns < 0) {
        ns += 1000000000;
        s--;
    }
    if (s < 0 && ns) /* -0.5 s is -1 s + 0.5 s: print it as a plain negative decimal */
        put(o, "-%" PRId64 ".%09" PRId64, -(s + 1), 1000000000 - ns);
    else
        put(o, "%" PRId64 ".%09" PRId64, s, ns);
}

static const char *source_id(const vg_model *m, const vg_alert_event *ev)
{
    const void *p = NULL;

    if (!m)
        return NULL;
    switch (ev->source_type) {
    case VG_SOURCE_ZONE:
        p = vg_model_zone(m, ev->source);
        return p ? ((const vg_zone *)p)->id : NULL;
    case VG_SOURCE_SENSOR:
        p = vg_model_sensor(m, ev->source);
        return p ? ((const vg_sensor *)p)->id : NULL;
    case VG_SOURCE_CAMERA:
        p = vg_model_camera(m, ev->source);
        return p ? ((const vg_camera *)p)->id : NULL;
    case VG_SOURCE_LINE:
        p = vg_model_line(m, ev->source);
        return p ? ((const vg_line *)p)->id : NULL;
    case VG_SOURCE_HELP_POINT:
        p = vg_model_help_point(m, ev->source);
        return p ? ((const vg_help_point *)p)->id : NULL;
    default:
        return NULL;
    }
}

int vg_archive_alert_json(const vg_model *m, const vg_alert_event *ev, char *buf, size_t cap)
{
    struct out o = {buf, cap, 0};
    const vg_zone *z = m && ev ? vg_model_zone(m, ev->zone) : NULL;
    const char *src;
    static const char *const flag_names[] = {"chattering", "latched", "unreliable"};
    int first = 1;

    if (!ev || (!buf && cap))
        return -EINVAL;
    if (cap)
        buf[0] = '\0';
    src = source_id(m, ev);
    put(&o, "{\"v\":1,\"seq\":%" PRIu64 ",\"id\":%" PRIu64 ",\"action\":", ev->seq, ev->id);
    put_str(&o, vg_alert_action_name((enum vg_alert_action)ev->action), 32);
    put(&o, ",\"feed\":");
    put_str(&o, vg_feed_name((enum vg_feed)ev->feed), 32);
    put(&o, ",\"kind\":");
    put_str(&o, vg_alert_kind_name((enum vg_alert_kind)ev->kind), 32);
    put(&o, ",\"zone\":");
    if (z)
        put_str(&o, z->id, VG_MODEL_ID_MAX);
    else
        put(&o, "null");
    put(&o, ",\"source_type\":");
    put_str(&o, vg_source_type_name((enum vg_source_type)ev->source_type), 32);
    put(&o, ",\"source\":");
    if (src)
        put_str(&o, src, VG_MODEL_ID_MAX);
    else
        put(&o, "%" PRIu32, ev->source);
    put(&o, ",\"grade\":");
    put_str(&o, vg_grade_name((enum vg_grade)ev->grade), 32);
    put(&o, ",\"prev_grade\":");
    put_str(&o, vg_grade_name((enum vg_grade)ev->prev_grade), 32);
    put(&o, ",\"ts\":");
    put_time(&o, ev->t_ns);
    put(&o, ",\"raised\":");
    put_time(&o, ev->raised_ns);
    put(&o, ",\"value\":");
    put_num(&o, ev->value);
    put(&o, ",\"threshold\":");
    put_num(&o, ev->threshold);
    put(&o, ",\"trend_per_min\":");
    put_num(&o, ev->trend_per_min);
    put(&o, ",\"ttc_s\":");
    put_num(&o, ev->ttc_s);
    put(&o, ",\"flags\":[");
    for (int i = 0; i < 3; i++) {
        if (ev->flags & (1u << i)) {
            put(&o, "%s\"%s\"", first ? "" : ",", flag_names[i]);
            first = 0;
        }
    }
    put(&o, "],\"message\":");
    put_str(&o, ev->message, VG_ALERT_MESSAGE_MAX);
    put(&o, "}");
    if (o.len > INT32_MAX)
        return -EOVERFLOW;
    return (int)o.len;
}
