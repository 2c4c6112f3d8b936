/* vigil-count's configuration file: libconfig syntax, with examples in models/cameras and
 * the reference in docs/vision.md. Every error names the file, the line and the key. */
#include "count.h"

#include "vigil/model.h"

#include <errno.h>
#include <libconfig.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctx {
    const char *path;
    char *err;
    size_t err_size;
};

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int
fail(struct ctx *x, const config_setting_t *at, const char *key, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    int line = at ? (int)config_setting_source_line(at) : 0;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(x->err, x->err_size, "%s:%d: %s: %s", x->path, line, key, msg);
    else /* the root has no line: a missing top-level key is not on line 0 */
        snprintf(x->err, x->err_size, "%s: %s: %s", x->path, key, msg);
    return -EINVAL;
}

/* A key the file format does not have is an error: a misspelt publish_hz would otherwise
 * leave the rate at its default without a word. */
static int check_keys(struct ctx *x, const config_setting_t *g, const char *prefix,
                      const char *const *keys)
{
    char key[128];
    const config_setting_t *e = vg_config_unknown_key(g, keys, prefix, key, sizeof(key));

    return e ? fail(x, e, key, "unknown key") : 0;
}

static int get_str(struct ctx *x, const config_setting_t *parent, const char *name, const char *key,
                   int required, char *out, size_t out_size)
{
    const config_setting_t *s = config_setting_get_member(parent, name);
    if (!s) {
        if (required)
            return fail(x, parent, key, "missing (a string)");
        return 0;
    }
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return fail(x, s, key, "must be a string");
    const char *v = config_setting_get_string(s);
    if (strlen(v) >= out_size)
        return fail(x, s, key, "longer than %zu characters", out_size - 1);
    snprintf(out, out_size, "%s", v);
    return 0;
}

static int get_num(struct ctx *x, const config_setting_t *parent, const char *name, const char *key,
                   int required, double lo, double hi, double *out)
{
    const config_setting_t *s = config_setting_get_member(parent, name);
    double v;
    if (!s) {
        if (required)
            return fail(x, parent, key, "missing (a number)");
        return 0;
    }
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        v = (double)config_setting_get_int64(s);
        break;
    case CONFIG_TYPE_FLOAT:
        v = config_setting_get_float(s);
        break;
    default:
        return fail(x, s, key, "must be a number");
    }
    if (!isfinite(v) || v < lo || v > hi)
        return fail(x, s, key, "%g is outside [%g, %g]", v, lo, hi);
    *out = v;
    return 0;
}

/* get_num for a count: 2.5 threads or port 80.5 would be silently truncated. */
static int get_int(struct ctx *x, const config_setting_t *parent, const char *name,
                   const char *key, double lo, double hi, int *out)
{
    double v = *out;
    int r = get_num(x, parent, name, key, 0, lo, hi, &v);
    if (r < 0)
        return r;
    if (v != floor(v))
        return fail(x, config_setting_get_member(parent, name), key, "%g is not a whole number",
                    v);
    *out = (int)v;
    return 0;
}

static int get_bool(struct ctx *x, const config_setting_t *parent, const char *name,
                    const char *key, int *out)
{
    const config_setting_t *s = config_setting_get_member(parent, name);
    if (!s)
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_BOOL)
        return fail(x, s, key, "must be true or false");
    *out = config_setting_get_bool(s);
    return 0;
}

static int parse_zone(struct ctx *x, const config_setting_t *z, int i, vg_vision_zone_cfg *out)
{
    char key[64];
    int r;

    if (!config_setting_is_group(z)) {
        snprintf(key, sizeof(key), "zones.[%d]", i);
        return fail(x, z, key, "must be a group { id = ...; area_m2 = ...; polygon = ...; }");
    }
    static const char *const zone_keys[] = {"id", "area_m2", "polygon", NULL};
    snprintf(key, sizeof(key), "zones.[%d]", i);
    if ((r = check_keys(x, z, key, zone_keys)) < 0)
        return r;
    snprintf(key, sizeof(key), "zones.[%d].id", i);
    if ((r = get_str(x, z, "id", key, 1, out->id, sizeof(out->id))) < 0)
        return r;
    if (!vg_model_id_valid(out->id))
        return fail(x, config_setting_get_member(z, "id"), key,
                    "\"%s\" is not an id of letters, digits, _ - .", out->id);
    snprintf(key, sizeof(key), "zones.[%d].area_m2", i);
    if ((r = get_num(x, z, "area_m2", key, 1, 0.01, 1e7, &out->area_m2)) < 0)
        return r;
    snprintf(key, sizeof(key), "zones.[%d].polygon", i);
    const config_setting_t *p = config_setting_get_member(z, "polygon");
    if (!p)
        return fail(x, z, key, "missing (a list of [x, y] corners in pixels)");
    int n = config_setting_length(p);
    /* a list only: a group { a = [1, 2]; ... } would be read in an order the file hides */
    if (!config_setting_is_list(p) || n < 3 || n > VG_VISION_MAX_POINTS)
        return fail(x, p, key, "must be a list of 3 to %d [x, y] corners: ( [x, y], ... )",
                    VG_VISION_MAX_POINTS);
    for (int j = 0; j < n; j++) {
        const config_setting_t *pt = config_setting_get_elem(p, (unsigned)j);
        double v[2];
        if (config_setting_type(pt) != CONFIG_TYPE_ARRAY || config_setting_length(pt) != 2)
            return fail(x, pt, key, "corner %d must be [x, y]", j);
        for (int k = 0; k < 2; k++) {
            const config_setting_t *e = config_setting_get_elem(pt, (unsigned)k);
            int t = config_setting_type(e);
            if (t != CONFIG_TYPE_FLOAT && t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
                return fail(x, pt, key, "corner %d must be two numbers [x, y]", j);
            v[k] = t == CONFIG_TYPE_FLOAT ? config_setting_get_float(e)
                                          : (double)config_setting_get_int64(e);
            if (!isfinite(v[k]) || v[k] < 0 || v[k] > 8192)
                return fail(x, pt, key, "corner %d: %g is outside [0, 8192] px", j, v[k]);
        }
        out->x[j] = (float)v[0];
        out->y[j] = (float)v[1];
    }
    /* A polygon with repeated or collinear corners contains no feet, so its zone would
     * read 0 people forever, as if it were empty (the counter refuses it too). */
    out->n_points = n;
    const double area = vg_vision_zone_area_px(out);
    if (area < 1)
        return fail(x, p, key, "encloses no area (%g square px): corners repeated or in a line",
                    area);
    return 0;
}

static int parse(struct ctx *x, config_t *cf, vg_count_cfg *c)
{
    const config_setting_t *root = config_root_setting(cf), *g;
    char backend[32] = "";
    int r;

    static const char *const root_keys[] = {
        "venue",        "camera",          "source",          "backend", "open_timeout_ms",
        "realtime",     "fps",             "publish_hz",      "stopped_after_s",
        "reconnect_max_s", "threads",      "flow",            "frozen_after_s", "broker",
        "calibration",  "zones",           NULL};
    static const char *const broker_keys[] = {"host",     "port",       "client_id", "username",
                                              "password", "keepalive_s", NULL};
    static const char *const calibration_keys[] = {"row_a", "height_a_px", "row_b",
                                                   "height_b_px", "person_height_m", NULL};
    if ((r = check_keys(x, root, "", root_keys)) < 0 ||
        (r = check_keys(x, config_setting_get_member(root, "broker"), "broker", broker_keys)) < 0 ||
        (r = check_keys(x, config_setting_get_member(root, "calibration"), "calibration",
                        calibration_keys)) < 0)
        return r;
    memset(c, 0, sizeof(*c));
    c->open_timeout_ms = 5000;
    c->realtime = 0;
    c->publish_hz = 1;
    c->stopped_after_s = 5;
    c->reconnect_max_s = 30;
    c->broker_port = 1883;
    c->keepalive_s = 30;
    snprintf(c->broker_host, sizeof(c->broker_host), "127.0.0.1");
    c->counter.method = VG_VISION_METHOD_MOTION;

    if ((r = get_str(x, root, "venue", "venue", 1, c->venue, sizeof(c->venue))) < 0 ||
        (r = get_str(x, root, "camera", "camera", 1, c->camera, sizeof(c->camera))) < 0 ||
        (r = get_str(x, root, "source", "source", 1, c->source, sizeof(c->source))) < 0 ||
        (r = get_str(x, root, "backend", "backend", 1, backend, sizeof(backend))) < 0)
        return r;
    if (!vg_model_id_valid(c->venue))
        return fail(x, config_setting_get_member(root, "venue"), "venue",
                    "\"%s\" is not an id of letters, digits, _ - .", c->venue);
    if (!vg_model_id_valid(c->camera))
        return fail(x, config_setting_get_member(root, "camera"), "camera",
                    "\"%s\" is not an id of letters, digits, _ - .", c->camera);
    const config_setting_t *src = config_setting_get_member(root, "source");
    int is_file = strncmp(c->source, "file:", 5) == 0;
    int is_v4l2 = strncmp(c->source, "v4l2:", 5) == 0;
    int is_rtsp = strncmp(c->source, "rtsp://", 7) == 0 || strncmp(c->source, "rtsps://", 8) == 0;
    if (!is_file && !is_v4l2 && !is_rtsp)
        return fail(x, src, "source", "\"%s\": use file:PATH, v4l2:/dev/videoN or rtsp://...",
                    c->source);
    const config_setting_t *bs = config_setting_get_member(root, "backend");
    if (strcmp(backend, "ffmpeg") == 0)
        c->backend = VG_VISION_BACKEND_FFMPEG;
    else if (strcmp(backend, "v4l2") == 0)
        c->backend = VG_VISION_BACKEND_V4L2;
    else
        return fail(x, bs, "backend", "\"%s\": use \"ffmpeg\" or \"v4l2\"", backend);
    if (is_v4l2 != (c->backend == VG_VISION_BACKEND_V4L2))
        return fail(x, bs, "backend", "\"%s\" cannot read %s", backend,
                    is_v4l2 ? "a V4L2 device (use \"v4l2\")" : "files or RTSP (use \"ffmpeg\")");

    if ((r = get_int(x, root, "open_timeout_ms", "open_timeout_ms", 100, 600000,
                     &c->open_timeout_ms)) < 0)
        return r;
    if ((r = get_bool(x, root, "realtime", "realtime", &c->realtime)) < 0 ||
        (r = get_num(x, root, "fps", "fps", 0, 0.1, 1000, &c->fps)) < 0 ||
        (r = get_num(x, root, "publish_hz", "publish_hz", 0, 0.01, 100, &c->publish_hz)) < 0 ||
        (r = get_num(x, root, "stopped_after_s", "stopped_after_s", 0, 0.1, 3600,
                     &c->stopped_after_s)) < 0 ||
        (r = get_num(x, root, "reconnect_max_s", "reconnect_max_s", 0, 1, 3600,
                     &c->reconnect_max_s)) < 0)
        return r;
    if ((r = get_int(x, root, "threads", "threads", 0, 64, &c->counter.threads)) < 0)
        return r;
    if ((r = get_bool(x, root, "flow", "flow", &c->counter.flow)) < 0 ||
        (r = get_num(x, root, "frozen_after_s", "frozen_after_s", 0, 0.1, 3600,
                     &c->counter.frozen_after_s)) < 0)
        return r;

    g = config_setting_get_member(root, "broker");
    if (g) {
        if (!config_setting_is_group(g))
            return fail(x, g, "broker", "must be a group { host = ...; port = ...; }");
        if ((r = get_str(x, g, "host", "broker.host", 0, c->broker_host, sizeof(c->broker_host))) <
                0 ||
            (r = get_str(x, g, "client_id", "broker.client_id", 0, c->client_id,
                         sizeof(c->client_id))) < 0 ||
            (r = get_str(x, g, "username", "broker.username", 0, c->username,
                         sizeof(c->username))) < 0 ||
            (r = get_str(x, g, "password", "broker.password", 0, c->password,
                         sizeof(c->password))) < 0)
            return r;
        if ((r = get_int(x, g, "port", "broker.port", 1, 65535, &c->broker_port)) < 0 ||
            (r = get_int(x, g, "keepalive_s", "broker.keepalive_s", 5, 3600, &c->keepalive_s)) <
                0)
            return r;
    }
    if (c->client_id[0] == '\0') /* stable across restarts: the broker keeps our session */
        snprintf(c->client_id, sizeof(c->client_id), "vigil-count-%s-%s", c->venue, c->camera);

    g = config_setting_get_member(root, "calibration");
    if (!g)
        return fail(x, root, "calibration",
                    "missing (row_a, height_a_px, row_b, height_b_px: a person's height in "
                    "pixels with feet on two image rows)");
    if (!config_setting_is_group(g))
        return fail(x, g, "calibration", "must be a group");
    vg_vision_counter_cfg *k = &c->counter;
    if ((r = get_num(x, g, "row_a", "calibration.row_a", 1, 0, 8192, &k->row_a)) < 0 ||
        (r = get_num(x, g, "height_a_px", "calibration.height_a_px", 1, 2, 8192, &k->height_a_px)) <
            0 ||
        (r = get_num(x, g, "row_b", "calibration.row_b", 1, 0, 8192, &k->row_b)) < 0 ||
        (r = get_num(x, g, "height_b_px", "calibration.height_b_px", 1, 2, 8192, &k->height_b_px)) <
            0 ||
        (r = get_num(x, g, "person_height_m", "calibration.person_height_m", 0, 0.5, 2.5,
                     &k->person_height_m)) < 0)
        return r;
    if (fabs(k->row_a - k->row_b) < 10)
        return fail(x, config_setting_get_member(g, "row_b"), "calibration.row_b",
                    "must be at least 10 rows from row_a");

    g = config_setting_get_member(root, "zones");
    if (!g)
        return fail(x, root, "zones", "missing (a list of zone groups)");
    int n = config_setting_length(g);
    if (!config_setting_is_list(g) || n < 1 || n > VG_VISION_MAX_ZONES)
        return fail(x, g, "zones", "must be a list ( {...}, ... ) of 1 to %d zones",
                    VG_VISION_MAX_ZONES);
    for (int i = 0; i < n; i++) {
        const config_setting_t *z = config_setting_get_elem(g, (unsigned)i);
        if ((r = parse_zone(x, z, i, &k->zones[i])) < 0)
            return r;
        for (int j = 0; j < i; j++)
            if (strcmp(k->zones[j].id, k->zones[i].id) == 0) {
                char key[64];
                snprintf(key, sizeof(key), "zones.[%d].id", i);
                return fail(x, config_setting_get_member(z, "id"), key, "\"%s\" is already zone %d",
                            k->zones[i].id, j);
            }
    }
    k->n_zones = n;
    return 0;
}

int vg_count_cfg_load(const char *path, vg_count_cfg *ret_cfg, char *err, size_t err_size)
{
    struct ctx x = {path, err, err_size};
    config_t cf;
    vg_count_cfg *c;
    FILE *f;
    int r;

    if (!path || !ret_cfg || !err || err_size == 0)
        return -EINVAL;
    f = fopen(path, "r");
    if (!f) {
        r = -errno;
        snprintf(err, err_size, "%s: %s", path, strerror(-r));
        return r;
    }
    config_init(&cf);
    if (!config_read(&cf, f)) {
        snprintf(err, err_size, "%s:%d: syntax: %s", path, config_error_line(&cf),
                 config_error_text(&cf));
        r = -EPROTO;
        goto out;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        r = -ENOMEM;
        goto out;
    }
    r = parse(&x, &cf, c);
    if (r == 0)
        *ret_cfg = *c;
    free(c);
out:
    config_destroy(&cf);
    fclose(f);
    return r;
}
