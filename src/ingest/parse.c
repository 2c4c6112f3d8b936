/* The ingest parser: (topic, payload) -> vg_reading records or a reject reason.
 *
 * DESIGN
 * Topics are split in place (no copy) and resolved with the model's length-delimited
 * lookups. Payloads are parsed with cJSON (bounded by cJSON's nesting limit, 1000), after a
 * size check, so a 10 MB or deeply nested payload costs one comparison or one failed parse.
 * Order of checks for one reading, so a payload gets the most specific reason:
 *   oversized -> malformed (not JSON) -> wrong_type (not an object) -> v -> ts -> fields
 *   -> vg_reading_check() (indices, finite, negative counts, physical range).
 * A single message is all-or-nothing (a camera message with one bad zone is one refusal);
 * batch items and zigbee2mqtt fields are judged one by one. The wire schema is
 * docs/ingest.md. */
#include "vigil/common.h"
#include "vigil/ingest.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vg_ingest_parser {
    const vg_model *m;
    vg_ingest_limits lim;
    const char *venue;
    size_t venue_len;
    /* A NUL-terminated copy of the payload for cJSON (mosquitto's payload is terminated,
     * but vg_ingest_parse() does not require it). Grows up to max_payload + 1 bytes. */
    char *text;
    size_t text_cap;
};

static const char *const source_names[VG_INGEST_SRC_COUNT_] = {
    "sensor", "count", "line", "help", "health", "batch", "frigate", "zigbee2mqtt", "unknown",
};

const char *vg_ingest_source_name(enum vg_ingest_source s)
{
    return (unsigned)s < VG_INGEST_SRC_COUNT_ ? source_names[s] : "unknown";
}

void vg_ingest_limits_default(vg_ingest_limits *ret)
{
    ret->max_payload = 1u << 20;
    ret->max_readings = 4096;
    ret->max_future_ns = 10 * VG_NS_PER_S;
    ret->max_age_ns = 3600 * VG_NS_PER_S;
}

int vg_ingest_parser_new(const vg_model *m, const vg_ingest_limits *lim,
                         vg_ingest_parser **ret)
{
    vg_ingest_parser *p;

    if (!m || !ret || (lim && lim->max_readings == 0))
        return -EINVAL;
    p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->m = m;
    if (lim)
        p->lim = *lim;
    else
        vg_ingest_limits_default(&p->lim);
    p->venue = vg_model_venue(m);
    p->venue_len = strlen(p->venue);
    *ret = p;
    return 0;
}

void vg_ingest_parser_free(vg_ingest_parser **pp)
{
    if (!pp || !*pp)
        return;
    free((*pp)->text);
    free(*pp);
    *pp = NULL;
}

size_t vg_ingest_subscriptions(const vg_model *m, char (*filters)[160], size_t cap)
{
    size_t n = 0;

    if (!m)
        return 0;
    if (n < cap)
        snprintf(filters[n], 160, "vigil/%s/#", vg_model_venue(m));
    n++;
    if (vg_model_frigate_count(m)) {
        if (n < cap)
            snprintf(filters[n], 160, "frigate/+/person");
        n++;
    }
    if (vg_model_z2m_count(m)) {
        if (n < cap)
            snprintf(filters[n], 160, "zigbee2mqtt/+");
        n++;
    }
    return n;
}

/* ---- result helpers ---- */

static void refuse(vg_ingest_result *res, enum vg_reject why, uint32_t n)
{
    if (!res->n_rejected)
        res->first_reason = why;
    res->n_rejected += n;
    res->rejects[why] += n;
}

struct out {
    vg_reading *buf;
    size_t cap;
    size_t n;
    vg_ingest_result *res; /* for the out-of-range sensor readings */
};

/* ---- JSON field helpers: each returns VG_REJECT_NONE or the reason ---- */

static enum vg_reject need_number(const cJSON *o, const char *key, int required, double *ret)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

    if (!it)
        return required ? VG_REJECT_MALFORMED : VG_REJECT_NONE;
    if (!cJSON_IsNumber(it))
        return VG_REJECT_WRONG_TYPE;
    if (!isfinite(it->valuedouble))
        return VG_REJECT_NOT_FINITE;
    *ret = it->valuedouble;
    return VG_REJECT_NONE;
}

/* A count: a finite, non-negative whole number. */
static enum vg_reject count_value(const cJSON *it, double *ret)
{
    double v;

    if (!cJSON_IsNumber(it))
        return VG_REJECT_WRONG_TYPE;
    v = it->valuedouble;
    if (!isfinite(v))
        return VG_REJECT_NOT_FINITE;
    if (v != floor(v))
        return VG_REJECT_WRONG_TYPE;
    if (v < 0)
        return VG_REJECT_NEGATIVE_COUNT;
    *ret = v;
    return VG_REJECT_NONE;
}

static enum vg_reject need_count(const cJSON *o, const char *key, double *ret)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

    return it ? count_value(it, ret) : VG_REJECT_MALFORMED;
}

/* Unix seconds (fractions allowed) -> ns, with the age and future checks. */
static enum vg_reject ts_check(const vg_ingest_parser *p, double ts, int64_t now_ns,
                               int64_t *ret)
{
    double sec, frac;
    int64_t t;

    if (!isfinite(ts))
        return VG_REJECT_NOT_FINITE;
    /* Outside ±2^63 ns (year 2262) cannot be represented: too far either way. */
    if (ts >= 9.2e9)
        return VG_REJECT_TOO_FAR_FUTURE;
    if (ts <= -9.2e9)
        return VG_REJECT_TOO_OLD;
    sec = floor(ts);
    frac = ts - sec;
    /* Split so the fraction keeps its precision (a double has ~0.2 µs at 1.8e9 s). */
    t = (int64_t)sec * VG_NS_PER_S + (int64_t)llround(frac * 1e9);
    *ret = t; /* for help_ts(), also when refused as too old */
    if (t > now_ns + p->lim.max_future_ns)
        return VG_REJECT_TOO_FAR_FUTURE;
    if (p->lim.max_age_ns > 0 && now_ns >= INT64_MIN + p->lim.max_age_ns &&
        t < now_ns - p->lim.max_age_ns)
        return VG_REJECT_TOO_OLD;
    return VG_REJECT_NONE;
}

static enum vg_reject need_ts(const vg_ingest_parser *p, const cJSON *o, int64_t now_ns,
                              int64_t *ret)
{
    double ts;
    int64_t t;
    enum vg_reject why = need_number(o, "ts", 1, &ts);

    if (why)
        return why;
    why = ts_check(p, ts, now_ns, &t);
    if (!why)
        *ret = t;
    return why;
}

/* Life safety: a help press is never refused for its time. Older than max_age (a slow
 * clock, a press the broker kept while the engine was down) it keeps its own time; ahead
 * of now + max_future (a fast clock, milliseconds sent for seconds) or too far either way
 * to hold, it is taken at receipt. The core raises it at once either way. */
static enum vg_reject help_ts(const vg_ingest_parser *p, const cJSON *o, int64_t now_ns,
                              int64_t *ret)
{
    double ts;
    int64_t t = now_ns;
    enum vg_reject why = need_number(o, "ts", 1, &ts);

    if (why)
        return why;
    why = ts_check(p, ts, now_ns, &t);
    if (why == VG_REJECT_TOO_FAR_FUTURE || (why == VG_REJECT_TOO_OLD && ts <= -9.2e9))
        t = now_ns;
    if (why == VG_REJECT_TOO_FAR_FUTURE || why == VG_REJECT_TOO_OLD)
        why = VG_REJECT_NONE;
    if (!why)
        *ret = t;
    return why;
}

static enum vg_reject version_check(const cJSON *root)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "v");

    if (!v)
        return VG_REJECT_MALFORMED;
    if (!cJSON_IsNumber(v))
        return VG_REJECT_WRONG_TYPE;
    if (v->valuedouble != VG_INGEST_SCHEMA_VERSION)
        return VG_REJECT_BAD_VERSION;
    return VG_REJECT_NONE;
}

/* Appends a reading after the model's own checks. Returns VG_REJECT_NONE or the reason;
 * VG_REJECT_OVERSIZED when out is full. */
static enum vg_reject emit(const vg_ingest_parser *p, struct out *o, const vg_reading *r)
{
    enum vg_reject why = vg_reading_check(p->m, r);

    if (why == VG_REJECT_OUT_OF_RANGE && r->type == VG_READING_SENSOR &&
        o->res->n_out_of_range < VG_INGEST_OOR_MAX)
        o->res->out_of_range[o->res->n_out_of_range++] = *r;
    if (why)
        return why;
    if (o->n >= o->cap)
        return VG_REJECT_OVERSIZED;
    o->buf[o->n++] = *r;
    return VG_REJECT_NONE;
}

static void reading_init(vg_reading *r, enum vg_reading_type type, uint32_t source, int64_t t)
{
    memset(r, 0, sizeof(*r));
    r->type = (uint8_t)type;
    r->source = source;
    r->zone = VG_MODEL_NONE;
    r->t_ns = t;
}

/* ---- one native reading (a whole message, or a batch item) ----
 * Each parses obj for a source already resolved and appends to o. On refusal nothing is
 * appended (o->n is restored). */

static enum vg_reject sensor_reading(const vg_ingest_parser *p, const cJSON *obj, uint32_t s,
                                     int64_t now_ns, struct out *o, int64_t *ret_t)
{
    vg_reading r;
    int64_t t;
    double v;
    enum vg_reject why = need_ts(p, obj, now_ns, &t);

    if (why)
        return why;
    *ret_t = t;
    why = need_number(obj, "value", 1, &v);
    if (why)
        return why;
    reading_init(&r, VG_READING_SENSOR, s, t);
    r.value = v;
    return emit(p, o, &r);
}

static enum vg_reject count_reading(const vg_ingest_parser *p, const cJSON *obj, uint32_t cam,
                                    int64_t now_ns, struct out *o, int64_t *ret_t)
{
    const cJSON *counts, *sv, *it;
    size_t n0 = o->n;
    int64_t t;
    enum vg_reject why = need_ts(p, obj, now_ns, &t);

    if (why)
        return why;
    *ret_t = t;
    counts = cJSON_GetObjectItemCaseSensitive(obj, "counts");
    if (!counts)
        return VG_REJECT_MALFORMED;
    if (!cJSON_IsObject(counts))
        return VG_REJECT_WRONG_TYPE;
    if (!counts->child)
        return VG_REJECT_MALFORMED; /* a count message that counts nothing */
    sv = cJSON_GetObjectItemCaseSensitive(obj, "speed_var");
    if (sv && !cJSON_IsObject(sv))
        return VG_REJECT_WRONG_TYPE;
    for (int pass = 0; pass < 2; pass++) {
        for (it = pass ? (sv ? sv->child : NULL) : counts->child; it; it = it->next) {
            vg_reading r;
            uint32_t zone;
            double v = 0;

            if (vg_model_find_zone(p->m, it->string, &zone) < 0) {
                why = VG_REJECT_UNKNOWN_ZONE;
                goto out_undo;
            }
            if (pass == 0) {
                why = count_value(it, &v);
            } else if (!cJSON_IsNumber(it)) {
                why = VG_REJECT_WRONG_TYPE;
            } else {
                v = it->valuedouble;
                why = !isfinite(v) ? VG_REJECT_NOT_FINITE
                                   : v < 0 ? VG_REJECT_OUT_OF_RANGE : VG_REJECT_NONE;
            }
            if (why)
                goto out_undo;
            reading_init(&r, pass ? VG_READING_SPEED_VAR : VG_READING_COUNT, cam, t);
            r.zone = zone;
            r.value = v;
            /* a zone named twice in one object: refuse the message, not half of it */
            for (size_t k = n0; k < o->n; k++)
                if (o->buf[k].type == r.type && o->buf[k].zone == zone) {
                    why = VG_REJECT_DUPLICATE;
                    goto out_undo;
                }
            why = emit(p, o, &r);
            if (why)
                goto out_undo;
        }
    }
    return VG_REJECT_NONE;
out_undo:
    o->n = n0;
    return why;
}

static enum vg_reject line_reading(const vg_ingest_parser *p, const cJSON *obj, uint32_t line,
                                   int64_t now_ns, struct out *o, int64_t *ret_t)
{
    vg_reading r;
    double in = 0, out = 0;
    int64_t t;
    enum vg_reject why = need_ts(p, obj, now_ns, &t);

    if (why)
        return why;
    *ret_t = t;
    if ((why = need_count(obj, "in", &in)) || (why = need_count(obj, "out", &out)))
        return why;
    reading_init(&r, VG_READING_LINE, line, t);
    r.value = in;
    r.value2 = out;
    return emit(p, o, &r);
}

static enum vg_reject enum_field(const cJSON *obj, const char *key, int is_help, uint8_t *ret)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (!it)
        return VG_REJECT_MALFORMED;
    if (!cJSON_IsString(it))
        return VG_REJECT_WRONG_TYPE;
    if (is_help) {
        enum vg_help_type h;
        if (vg_help_type_parse(it->valuestring, &h) < 0)
            return VG_REJECT_WRONG_TYPE;
        *ret = (uint8_t)h;
    } else {
        enum vg_camera_status s;
        if (vg_camera_status_parse(it->valuestring, &s) < 0)
            return VG_REJECT_WRONG_TYPE;
        *ret = (uint8_t)s;
    }
    return VG_REJECT_NONE;
}

static enum vg_reject help_reading(const vg_ingest_parser *p, const cJSON *obj, uint32_t hp,
                                   int64_t now_ns, struct out *o, int64_t *ret_t)
{
    vg_reading r;
    uint8_t sub = 0;
    int64_t t;
    enum vg_reject why = help_ts(p, obj, now_ns, &t);

    if (why)
        return why;
    *ret_t = t;
    if ((why = enum_field(obj, "type", 1, &sub)))
        return why;
    reading_init(&r, VG_READING_HELP, hp, t);
    r.sub = sub;
    r.zone = vg_model_help_point(p->m, hp)->zone;
    return emit(p, o, &r);
}

static enum vg_reject health_reading(const vg_ingest_parser *p, const cJSON *obj, uint32_t cam,
                                     int64_t now_ns, struct out *o, int64_t *ret_t)
{
    vg_reading r;
    uint8_t sub = 0;
    int64_t t;
    const cJSON *detail, *will = cJSON_GetObjectItemCaseSensitive(obj, "will");
    enum vg_reject why;

    if (will && !cJSON_IsBool(will))
        return VG_REJECT_WRONG_TYPE;
    /* A publisher's MQTT will was written when it connected, maybe days ago; the broker sends
     * it when the publisher vanishes, so it speaks for the time it arrives. */
    if (cJSON_IsTrue(will)) {
        why = VG_REJECT_NONE;
        t = now_ns;
    } else {
        why = need_ts(p, obj, now_ns, &t);
    }
    if (why)
        return why;
    *ret_t = t;
    if ((why = enum_field(obj, "status", 0, &sub)))
        return why;
    detail = cJSON_GetObjectItemCaseSensitive(obj, "detail");
    if (detail && !cJSON_IsString(detail))
        return VG_REJECT_WRONG_TYPE;
    reading_init(&r, VG_READING_CAMERA_HEALTH, cam, t);
    r.sub = sub;
    return emit(p, o, &r);
}

enum kind { K_SENSOR, K_COUNT, K_LINE, K_HELP, K_HEALTH, K_BATCH, K_NONE };

/* Resolves an id of a kind to its index. Returns VG_REJECT_NONE or unknown_*. */
static enum vg_reject resolve(const vg_model *m, enum kind k, const char *id, size_t len,
                              uint32_t *ret)
{
    switch (k) {
    case K_SENSOR:
        return vg_model_find_sensor_n(m, id, len, ret) ? VG_REJECT_UNKNOWN_SENSOR : 0;
    case K_COUNT:
    case K_HEALTH:
        return vg_model_find_camera_n(m, id, len, ret) ? VG_REJECT_UNKNOWN_CAMERA : 0;
    case K_LINE:
        return vg_model_find_line_n(m, id, len, ret) ? VG_REJECT_UNKNOWN_LINE : 0;
    case K_HELP:
        return vg_model_find_help_point_n(m, id, len, ret) ? VG_REJECT_UNKNOWN_HELP_POINT : 0;
    default:
        return VG_REJECT_UNKNOWN_TOPIC;
    }
}

static enum vg_reject native_reading(const vg_ingest_parser *p, enum kind k, const cJSON *obj,
                                     uint32_t idx, int64_t now_ns, struct out *o, int64_t *ret_t)
{
    switch (k) {
    case K_SENSOR:
        return sensor_reading(p, obj, idx, now_ns, o, ret_t);
    case K_COUNT:
        return count_reading(p, obj, idx, now_ns, o, ret_t);
    case K_LINE:
        return line_reading(p, obj, idx, now_ns, o, ret_t);
    case K_HELP:
        return help_reading(p, obj, idx, now_ns, o, ret_t);
    case K_HEALTH:
        return health_reading(p, obj, idx, now_ns, o, ret_t);
    default:
        return VG_REJECT_UNKNOWN_TOPIC;
    }
}

/* The id keys of a batch item, in the order they are looked for. */
static const struct {
    const char *key;
    enum kind kind;
} batch_keys[] = {
    {"sensor", K_SENSOR}, {"camera", K_COUNT}, {"line", K_LINE},
    {"help", K_HELP},     {"health", K_HEALTH},
};

static void batch(const vg_ingest_parser *p, const cJSON *root, int64_t now_ns, struct out *o,
                  vg_ingest_result *res)
{
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "readings"), *it;

    if (!items) {
        refuse(res, VG_REJECT_MALFORMED, 1);
        return;
    }
    if (!cJSON_IsArray(items)) {
        refuse(res, VG_REJECT_WRONG_TYPE, 1);
        return;
    }
    int n_items = cJSON_GetArraySize(items);
    if (n_items == 0) {
        refuse(res, VG_REJECT_MALFORMED, 1);
        return;
    }
    if ((size_t)n_items > p->lim.max_readings) {
        refuse(res, VG_REJECT_OVERSIZED, (uint32_t)n_items);
        return;
    }
    for (it = items->child; it; it = it->next) {
        enum vg_reject why = VG_REJECT_MALFORMED;
        int64_t t = 0;

        if (!cJSON_IsObject(it)) {
            why = VG_REJECT_WRONG_TYPE;
        } else {
            for (size_t i = 0; i < sizeof(batch_keys) / sizeof(batch_keys[0]); i++) {
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, batch_keys[i].key);
                uint32_t idx;

                if (!id)
                    continue;
                if (!cJSON_IsString(id)) {
                    why = VG_REJECT_WRONG_TYPE;
                    break;
                }
                why = resolve(p->m, batch_keys[i].kind, id->valuestring, strlen(id->valuestring),
                              &idx);
                if (!why)
                    why = native_reading(p, batch_keys[i].kind, it, idx, now_ns, o, &t);
                break;
            }
        }
        if (t && !res->t_ns)
            res->t_ns = t;
        if (why)
            refuse(res, why, 1);
    }
}

/* ---- the sources ---- */

/* An escaped NUL (\u0000, not \\u0000) in s: cJSON ends the string there, so
 * {"sensor":"t1\u0000x"} would be read as sensor t1. */
static bool escaped_nul(const char *s, size_t len)
{
    const char *q = s, *end = s + len;

    while ((q = memmem(q, (size_t)(end - q), "u0000", 5)) != NULL) {
        size_t bs = 0;
        while (q - bs > s && q[-1 - (ptrdiff_t)bs] == '\\')
            bs++;
        if (bs % 2)
            return true;
        q += 5;
    }
    return false;
}

static cJSON *parse_json(vg_ingest_parser *p, const void *payload, size_t len)
{
    const char *end = NULL;
    cJSON *root;

    if (len + 1 > p->text_cap) {
        size_t cap = p->text_cap ? p->text_cap : 4096;
        while (cap < len + 1)
            cap *= 2;
        char *t = realloc(p->text, cap);
        if (!t)
            return NULL;
        p->text = t;
        p->text_cap = cap;
    }
    memcpy(p->text, payload, len);
    p->text[len] = '\0';
    /* An embedded NUL would end the text early: that is not JSON either. */
    if (memchr(p->text, '\0', len) || escaped_nul(p->text, len))
        return NULL;
    root = cJSON_ParseWithLengthOpts(p->text, len, &end, 0);
    if (!root)
        return NULL;
    while (end && *end && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
        end++;
    if (end && *end) { /* trailing bytes after the value */
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

static void native(vg_ingest_parser *p, enum kind k, const char *id, size_t id_len,
                   const void *payload, size_t len, int64_t now_ns, struct out *o,
                   vg_ingest_result *res)
{
    uint32_t idx = 0;
    cJSON *root;
    enum vg_reject why;
    int64_t t = 0;

    if (k != K_BATCH) {
        why = resolve(p->m, k, id, id_len, &idx);
        if (why) {
            refuse(res, why, 1);
            return;
        }
    }
    root = parse_json(p, payload, len);
    if (!root) {
        refuse(res, VG_REJECT_MALFORMED, 1);
        return;
    }
    if (!cJSON_IsObject(root))
        why = VG_REJECT_WRONG_TYPE;
    else
        why = version_check(root);
    if (!why) {
        if (k == K_BATCH) {
            batch(p, root, now_ns, o, res);
        } else {
            why = native_reading(p, k, root, idx, now_ns, o, &t);
            res->t_ns = t;
        }
    }
    if (why)
        refuse(res, why, 1);
    cJSON_Delete(root);
}

static void frigate(vg_ingest_parser *p, const char *zone, size_t zone_len, const void *payload,
                    size_t len, int64_t now_ns, struct out *o, vg_ingest_result *res)
{
    uint32_t cam, z;
    cJSON *root;
    vg_reading r;
    double v = 0;
    enum vg_reject why;

    if (vg_model_find_frigate(p->m, zone, zone_len, &cam, &z) < 0) {
        refuse(res, VG_REJECT_UNKNOWN_ZONE, 1);
        return;
    }
    root = parse_json(p, payload, len);
    if (!root) {
        refuse(res, VG_REJECT_MALFORMED, 1);
        return;
    }
    why = count_value(root, &v);
    cJSON_Delete(root);
    if (!why) {
        /* Frigate's count carries no timestamp: it is "now" as we receive it. */
        reading_init(&r, VG_READING_COUNT, cam, now_ns);
        r.zone = z;
        r.value = v;
        why = emit(p, o, &r);
    }
    res->t_ns = now_ns;
    if (why)
        refuse(res, why, 1);
}

static void z2m(vg_ingest_parser *p, const char *dev, size_t dev_len, const void *payload,
                size_t len, int64_t now_ns, struct out *o, vg_ingest_result *res)
{
    cJSON *root;
    const cJSON *it;
    int mapped = 0;

    if (vg_model_has_z2m_device(p->m, dev, dev_len) < 0) {
        refuse(res, VG_REJECT_UNKNOWN_SENSOR, 1);
        return;
    }
    root = parse_json(p, payload, len);
    if (!root) {
        refuse(res, VG_REJECT_MALFORMED, 1);
        return;
    }
    if (!cJSON_IsObject(root)) {
        refuse(res, VG_REJECT_WRONG_TYPE, 1);
        cJSON_Delete(root);
        return;
    }
    res->t_ns = now_ns;
    /* zigbee2mqtt sends every field of the device (battery, linkquality, ...): fields the
     * model does not map are ignored; each mapped field is one reading, judged alone. */
    for (it = root->child; it; it = it->next) {
        uint32_t s;
        vg_reading r;
        enum vg_reject why;

        if (vg_model_find_z2m_n(p->m, dev, dev_len, it->string, strlen(it->string), &s) < 0)
            continue;
        mapped++;
        if (cJSON_IsBool(it)) {
            /* Door contacts and smoke detectors report booleans. */
            reading_init(&r, VG_READING_SENSOR, s, now_ns);
            r.value = cJSON_IsTrue(it) ? 1.0 : 0.0;
            why = emit(p, o, &r);
        } else if (!cJSON_IsNumber(it)) {
            why = VG_REJECT_WRONG_TYPE;
        } else if (!isfinite(it->valuedouble)) {
            why = VG_REJECT_NOT_FINITE;
        } else {
            reading_init(&r, VG_READING_SENSOR, s, now_ns);
            r.value = it->valuedouble;
            why = emit(p, o, &r);
        }
        if (why)
            refuse(res, why, 1);
    }
    if (!mapped)
        refuse(res, VG_REJECT_UNKNOWN_SENSOR, 1);
    cJSON_Delete(root);
}

/* Splits topic at '/' into at most max segments; returns the count (max + 1 if more). */
static size_t split(const char *topic, const char **seg, size_t *seg_len, size_t max)
{
    size_t n = 0;
    const char *s = topic;

    for (;;) {
        const char *e = strchr(s, '/');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (n == max)
            return max + 1;
        seg[n] = s;
        seg_len[n] = l;
        n++;
        if (!e)
            return n;
        s = e + 1;
    }
}

static int seg_is(const char *s, size_t len, const char *lit)
{
    return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

int vg_ingest_parse(vg_ingest_parser *p, const char *topic, const void *payload, size_t len,
                    int64_t now_ns, vg_reading *out, size_t cap, vg_ingest_result *ret)
{
    const char *seg[5];
    size_t seg_len[5], n;
    struct out o;

    if (!p || !topic || (!payload && len) || (!out && cap) || !ret)
        return -EINVAL;
    memset(ret, 0, offsetof(vg_ingest_result, out_of_range)); /* the array is filled as used */
    ret->source = VG_INGEST_SRC_UNKNOWN;
    o.buf = out;
    o.cap = cap < p->lim.max_readings ? cap : p->lim.max_readings;
    o.n = 0;
    o.res = ret;
    if (!payload)
        payload = "";

    n = split(topic, seg, seg_len, 4);
    if (n == 4 && seg_is(seg[0], seg_len[0], "vigil") && seg_len[1] == p->venue_len &&
        memcmp(seg[1], p->venue, p->venue_len) == 0 && seg_len[3] > 0) {
        static const struct {
            const char *name;
            enum kind kind;
            enum vg_ingest_source src;
        } kinds[] = {
            {"sensor", K_SENSOR, VG_INGEST_SRC_SENSOR}, {"count", K_COUNT, VG_INGEST_SRC_COUNT},
            {"line", K_LINE, VG_INGEST_SRC_LINE},       {"help", K_HELP, VG_INGEST_SRC_HELP},
            {"health", K_HEALTH, VG_INGEST_SRC_HEALTH}, {"batch", K_BATCH, VG_INGEST_SRC_BATCH},
        };
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
            if (!seg_is(seg[2], seg_len[2], kinds[i].name))
                continue;
            ret->source = kinds[i].src;
            if (len > p->lim.max_payload)
                refuse(ret, VG_REJECT_OVERSIZED, 1);
            else
                native(p, kinds[i].kind, seg[3], seg_len[3], payload, len, now_ns, &o, ret);
            goto out;
        }
    } else if (n == 3 && seg_is(seg[0], seg_len[0], "frigate") &&
               seg_is(seg[2], seg_len[2], "person") && seg_len[1] > 0) {
        ret->source = VG_INGEST_SRC_FRIGATE;
        if (len > p->lim.max_payload)
            refuse(ret, VG_REJECT_OVERSIZED, 1);
        else
            frigate(p, seg[1], seg_len[1], payload, len, now_ns, &o, ret);
        goto out;
    } else if (n == 2 && seg_is(seg[0], seg_len[0], "zigbee2mqtt") && seg_len[1] > 0) {
        ret->source = VG_INGEST_SRC_Z2M;
        if (len > p->lim.max_payload)
            refuse(ret, VG_REJECT_OVERSIZED, 1);
        else
            z2m(p, seg[1], seg_len[1], payload, len, now_ns, &o, ret);
        goto out;
    }
    refuse(ret, VG_REJECT_UNKNOWN_TOPIC, 1);
out:
    ret->n_readings = (uint32_t)o.n;
    return 0;
}
