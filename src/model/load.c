/* Loading a venue model: libconfig parses the file (comments, @include, line numbers); this
 * file checks every setting and builds the immutable, indexed vg_model.
 *
 * DESIGN
 * - Strict: an unknown key is an error, so a typo ("area_m3") never silently falls back to a
 *   default. Every error names the file, the line and the key ("zones.GA-Q1.area_m2"), the
 *   line being the setting's own, or its enclosing group's when the setting is missing.
 * - Order of work: venue, profiles (each inherits from the built-in defaults or an earlier
 *   profile), phases, routes, zones (ids first, so neighbours may refer forward), lines,
 *   cameras, sensors, help points, then the reverse indices and the lookup tables.
 * - Resolution happens here, once: a zone's limits are its profile's entry for its type,
 *   then its `overrides`; in a phase, the phase's profile (if any) replaces the zone's
 *   profile, then `overrides`, then the zone's `phases.<phase>` overrides.
 * - Everything the model owns lives in one arena (model_new.c), freed at once. */
#include "model_priv.h"
#include "vigil/common.h"

#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_FILE_BYTES (64u << 20)
#define OBJ_MAX 160

struct ctx {
    vg_model *m;
    vg_model_error *err;
    const char *path;
    char dir[4096]; /* the model's folder: @include paths are relative to it */
    config_t cfg;
};

/* dst = "a/b", truncated to n bytes with a NUL. */
static void path_join(char *dst, size_t n, const char *a, const char *b)
{
    size_t k = 0;
    for (; *a && k + 1 < n; a++)
        dst[k++] = *a;
    if (k + 1 < n)
        dst[k++] = '/';
    for (; *b && k + 1 < n; b++)
        dst[k++] = *b;
    dst[k] = '\0';
}

/* The path to show for a file libconfig names (NULL: the model itself). libconfig names an
 * @include'd file as written, relative to the model's folder; make it findable from here. */
static void shown_path(const struct ctx *c, const char *file, char *dst, size_t n)
{
    if (file && file[0] != '/' && strcmp(c->dir, ".") != 0)
        path_join(dst, n, c->dir, file);
    else
        snprintf(dst, n, "%s", file ? file : c->path);
}

static int fail(struct ctx *c, const config_setting_t *s, const char *obj, const char *leaf,
                const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

static int fail(struct ctx *c, const config_setting_t *s, const char *obj, const char *leaf,
                const char *fmt, ...)
{
    vg_model_error *e = c->err;
    va_list ap;

    if (!e)
        return -EINVAL;
    memset(e, 0, sizeof(*e));
    shown_path(c, s ? config_setting_source_file(s) : NULL, e->file, sizeof(e->file));
    e->line = s ? (int)config_setting_source_line(s) : 0;
    if (s && e->line == 0)
        e->line = 1; /* the root group: a missing top-level section */
    if (obj && *obj && leaf)
        snprintf(e->key, sizeof(e->key), "%s.%s", obj, leaf);
    else
        snprintf(e->key, sizeof(e->key), "%s", obj && *obj ? obj : (leaf ? leaf : ""));
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* An error found in the text rather than at a setting: file as shown to the user. */
static int fail_at(struct ctx *c, const char *file, int line, const char *key, const char *fmt,
                   ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

static int fail_at(struct ctx *c, const char *file, int line, const char *key, const char *fmt,
                   ...)
{
    vg_model_error *e = c->err;
    va_list ap;

    if (!e)
        return -EINVAL;
    memset(e, 0, sizeof(*e));
    snprintf(e->file, sizeof(e->file), "%s", file);
    e->line = line;
    snprintf(e->key, sizeof(e->key), "%s", key);
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static int oom(struct ctx *c)
{
    if (c->err) {
        memset(c->err, 0, sizeof(*c->err));
        snprintf(c->err->file, sizeof(c->err->file), "%s", c->path);
        snprintf(c->err->message, sizeof(c->err->message), "out of memory");
    }
    return -ENOMEM;
}

static void *alloc(struct ctx *c, size_t n, size_t size)
{
    if (n == 0)
        n = 1; /* a valid pointer even for empty arrays */
    if (size && n > SIZE_MAX / size)
        return NULL;
    return vg__arena_alloc(&c->m->arena, n * size);
}

static const char *dup(struct ctx *c, const char *s)
{
    return vg__arena_strdup(&c->m->arena, s);
}

/* out = "obj.leaf" (truncated to OBJ_MAX). */
static void join(char *out, const char *obj, const char *leaf)
{
    size_t n = 0;
    for (const char *p = obj; *p && n < OBJ_MAX - 1; p++)
        out[n++] = *p;
    if (n < OBJ_MAX - 1)
        out[n++] = '.';
    for (const char *p = leaf; *p && n < OBJ_MAX - 1; p++)
        out[n++] = *p;
    out[n] = '\0';
}

/* ---- typed getters: return 1 found, 0 absent (optional), or -EINVAL ---- */

static const char *type_name(int t)
{
    switch (t) {
    case CONFIG_TYPE_GROUP:
        return "a group { ... }";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a number";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "true or false";
    case CONFIG_TYPE_ARRAY:
        return "an array [ ... ]";
    case CONFIG_TYPE_LIST:
        return "a list ( ... )";
    default:
        return "nothing";
    }
}

static config_setting_t *member(const config_setting_t *g, const char *name, int required,
                                struct ctx *c, const char *obj, int *ret_r)
{
    config_setting_t *s = config_setting_get_member(g, name);
    *ret_r = 0;
    if (!s && required) {
        /* point at the object's id line: its opening brace may be lines above */
        config_setting_t *id = config_setting_get_member(g, "id");
        *ret_r = fail(c, id ? id : g, obj, name, "missing (required)");
    }
    return s;
}

static int get_str(struct ctx *c, const config_setting_t *g, const char *obj, const char *name,
                   int required, const char **ret)
{
    int r;
    config_setting_t *s = member(g, name, required, c, obj, &r);
    if (!s)
        return r;
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return fail(c, s, obj, name, "must be a string, not %s", type_name(config_setting_type(s)));
    *ret = config_setting_get_string(s);
    return 1;
}

static int num_of(const config_setting_t *s, double *ret)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        *ret = (double)config_setting_get_int64(s);
        return 0;
    case CONFIG_TYPE_FLOAT:
        *ret = config_setting_get_float(s);
        return isfinite(*ret) ? 0 : -1;
    default:
        return -1;
    }
}

static int get_num(struct ctx *c, const config_setting_t *g, const char *obj, const char *name,
                   int required, double *ret)
{
    int r;
    double v;
    config_setting_t *s = member(g, name, required, c, obj, &r);
    if (!s)
        return r;
    if (num_of(s, &v) < 0)
        return fail(c, s, obj, name, "must be a finite number, not %s",
                    config_setting_type(s) == CONFIG_TYPE_FLOAT
                        ? "infinity"
                        : type_name(config_setting_type(s)));
    *ret = v;
    return 1;
}

/* A number with a lower bound: lo_open says whether lo itself is refused. */
static int get_num_min(struct ctx *c, const config_setting_t *g, const char *obj, const char *name,
                       int required, double lo, int lo_open, double *ret)
{
    double v = 0; /* set whenever get_num() returns 1; gcc -O3 cannot see it */
    int r = get_num(c, g, obj, name, required, &v);
    if (r <= 0)
        return r;
    if (lo_open ? !(v > lo) : !(v >= lo))
        return fail(c, config_setting_get_member(g, name), obj, name, "must be %s %g, not %g",
                    lo_open ? "greater than" : "at least", lo, v);
    *ret = v;
    return 1;
}

/* A duration in seconds: above 0 (or at least 0 with zero_ok), at most a week, so that it
 * and its multiples by the profile's factors stay far inside int64 nanoseconds. */
#define SECONDS_MAX (7 * 86400.0)
static int get_seconds(struct ctx *c, const config_setting_t *g, const char *obj,
                       const char *name, int required, int zero_ok, double *ret)
{
    double v = 0;
    int r = get_num_min(c, g, obj, name, required, 0, !zero_ok, &v);
    if (r <= 0)
        return r;
    if (v > SECONDS_MAX)
        return fail(c, config_setting_get_member(g, name), obj, name, "%g s is more than a week",
                    v);
    *ret = v;
    return 1;
}

static int get_int(struct ctx *c, const config_setting_t *g, const char *obj, const char *name,
                   int required, long long lo, long long hi, long long *ret)
{
    int r;
    config_setting_t *s = member(g, name, required, c, obj, &r);
    if (!s)
        return r;
    int t = config_setting_type(s);
    if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
        return fail(c, s, obj, name, "must be an integer, not %s", type_name(t));
    long long v = config_setting_get_int64(s);
    if (v < lo || v > hi)
        return fail(c, s, obj, name, "must be in [%lld, %lld], not %lld", lo, hi, v);
    *ret = v;
    return 1;
}

static int get_bool(struct ctx *c, const config_setting_t *g, const char *obj, const char *name,
                    int *ret)
{
    int r;
    config_setting_t *s = member(g, name, 0, c, obj, &r);
    if (!s)
        return r;
    if (config_setting_type(s) != CONFIG_TYPE_BOOL)
        return fail(c, s, obj, name, "must be true or false, not %s",
                    type_name(config_setting_type(s)));
    *ret = config_setting_get_bool(s);
    return 1;
}

static int get_group(struct ctx *c, const config_setting_t *g, const char *obj, const char *name,
                     int required, config_setting_t **ret)
{
    int r;
    config_setting_t *s = member(g, name, required, c, obj, &r);
    if (!s)
        return r;
    if (config_setting_type(s) != CONFIG_TYPE_GROUP)
        return fail(c, s, obj, name, "must be a group { ... }, not %s",
                    type_name(config_setting_type(s)));
    *ret = s;
    return 1;
}

/* A list of groups: ( { ... }, { ... } ). An empty array [] counts as an empty list. */
static int get_list(struct ctx *c, const config_setting_t *g, const char *obj, const char *name,
                    int required, config_setting_t **ret)
{
    int r;
    config_setting_t *s = member(g, name, required, c, obj, &r);
    if (!s)
        return r;
    int t = config_setting_type(s);
    if (!(t == CONFIG_TYPE_LIST || (t == CONFIG_TYPE_ARRAY && config_setting_length(s) == 0)))
        return fail(c, s, obj, name, "must be a list ( { ... }, ... ), not %s", type_name(t));
    for (int i = 0; i < config_setting_length(s); i++) {
        config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
            char key[OBJ_MAX];
            snprintf(key, sizeof(key), "%s[%d]", name, i);
            return fail(c, e, obj, key, "must be a group { ... }, not %s",
                        type_name(config_setting_type(e)));
        }
    }
    *ret = s;
    return 1;
}

const config_setting_t *vg_config_unknown_key(const config_setting_t *g,
                                              const char *const *allowed, const char *prefix,
                                              char *path, size_t path_size)
{
    for (int i = 0; g && config_setting_is_group(g) && i < config_setting_length(g); i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(s);
        const char *const *a = allowed;

        while (*a && strcmp(*a, name) != 0)
            a++;
        if (*a)
            continue;
        if (path)
            snprintf(path, path_size, "%s%s%s", prefix, *prefix ? "." : "", name);
        return s;
    }
    return NULL;
}

static int check_keys(struct ctx *c, const config_setting_t *g, const char *obj,
                      const char *const *allowed)
{
    const config_setting_t *s = vg_config_unknown_key(g, allowed, "", NULL, 0);

    return s ? fail(c, s, obj, config_setting_name(s), "unknown key") : 0;
}

/* ---- ids and names ---- */

int vg_model_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > VG_MODEL_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.'))
            return 0;
    }
    return 1;
}

/* Reads element i's id and names the object "section.<id>" (or "section[i]" while the id
 * is not usable). */
static int read_id(struct ctx *c, const config_setting_t *g, const char *section, int i,
                   char obj[OBJ_MAX], const char **ret_id)
{
    const char *id = NULL;
    snprintf(obj, OBJ_MAX, "%s[%d]", section, i);
    int r = get_str(c, g, obj, "id", 1, &id);
    if (r < 0)
        return r;
    if (!vg_model_id_valid(id))
        return fail(c, config_setting_get_member(g, "id"), obj, "id",
                    "\"%s\" is not a valid id: 1-%d characters of A-Z a-z 0-9 _ - .", id,
                    VG_MODEL_ID_MAX);
    snprintf(obj, OBJ_MAX, "%s.%s", section, id);
    *ret_id = id;
    return 0;
}

/* Registers an id in its table (the key is copied into the model: libconfig's strings die
 * with the parse); a duplicate names the first one's line. */
static int put_id(struct ctx *c, vg__table *t, const config_setting_t *g, const char *obj,
                  const char *id, uint32_t idx, const config_setting_t *const *first_settings)
{
    const vg__slot *prev = NULL;
    const char *key = vg__arena_strdup(&c->m->arena, id);
    if (!key)
        return oom(c);
    int r = vg__table_put(t, key, strlen(key), NULL, 0, idx, 0, &prev);
    if (r == -EEXIST) {
        const config_setting_t *f = first_settings ? first_settings[prev->a] : NULL;
        if (f && config_setting_get_member(f, "id"))
            f = config_setting_get_member(f, "id");
        return fail(c, config_setting_get_member(g, "id"), obj, "id",
                    "duplicate id \"%s\" (first defined at line %d)", id,
                    f ? (int)config_setting_source_line(f) : 0);
    }
    return r;
}

/* A reference to a zone (or other object) by id. */
static int get_ref(struct ctx *c, const config_setting_t *g, const char *obj, const char *name,
                   int required, const vg__table *t, const char *what, uint32_t *ret)
{
    const char *id = NULL; /* as in get_num_min() */
    int r = get_str(c, g, obj, name, required, &id);
    if (r <= 0)
        return r;
    const vg__slot *s = vg__table_get(t, id, strlen(id), NULL, 0);
    if (!s)
        return fail(c, config_setting_get_member(g, name), obj, name, "unknown %s \"%s\"", what,
                    id);
    *ret = s->a;
    return 1;
}

/* ---- limits ---- */

static const char *const grade_keys[VG_GRADE_COUNT] = {NULL, "advisory", "warning", "critical",
                                                       "emergency"};

static int get_delay(struct ctx *c, const config_setting_t *g, const char *obj, const char *name,
                     int64_t *ret_ns)
{
    double s = 0;
    int r = get_num_min(c, g, obj, name, 0, 0, 0, &s);
    if (r <= 0)
        return r;
    if (s > 7 * 86400)
        return fail(c, config_setting_get_member(g, name), obj, name, "%g s is more than a week",
                    s);
    *ret_ns = (int64_t)llround(s * 1e9);
    return 1;
}

/* Applies a limit group onto *l (keys not given keep their value) and checks the result. */
static int parse_limit(struct ctx *c, const config_setting_t *g, const char *obj, vg_limit *l)
{
    static const char *const keys[] = {"advisory", "warning",    "critical",    "emergency",
                                       "deadband", "on_delay_s", "off_delay_s", NULL};
    int r;

    if (config_setting_type(g) != CONFIG_TYPE_GROUP)
        return fail(c, g, obj, NULL,
                    "must be a group { advisory = ...; warning = ...; ... }, "
                    "not %s",
                    type_name(config_setting_type(g)));
    if ((r = check_keys(c, g, obj, keys)) < 0)
        return r;
    for (int gr = VG_GRADE_ADVISORY; gr < VG_GRADE_COUNT; gr++) {
        config_setting_t *s = config_setting_get_member(g, grade_keys[gr]);
        if (!s)
            continue;
        double v;
        if (config_setting_type(s) == CONFIG_TYPE_STRING &&
            strcmp(config_setting_get_string(s), "off") == 0)
            v = NAN;
        else if (num_of(s, &v) < 0) /* a float it refuses is infinite: 1e999 */
            return config_setting_type(s) == CONFIG_TYPE_FLOAT
                       ? fail(c, s, obj, grade_keys[gr], "must be a finite number, not infinity")
                       : fail(c, s, obj, grade_keys[gr], "must be a number or \"off\", not %s",
                              type_name(config_setting_type(s)));
        l->level[gr] = v;
    }
    if ((r = get_num_min(c, g, obj, "deadband", 0, 0, 0, &l->deadband)) < 0)
        return r;
    if ((r = get_delay(c, g, obj, "on_delay_s", &l->on_delay_ns)) < 0)
        return r;
    if ((r = get_delay(c, g, obj, "off_delay_s", &l->off_delay_ns)) < 0)
        return r;
    double prev = -INFINITY;
    int prev_g = 0;
    for (int gr = VG_GRADE_ADVISORY; gr < VG_GRADE_COUNT; gr++) {
        double v = l->level[gr];
        if (isnan(v))
            continue;
        if (v < prev) {
            config_setting_t *s = config_setting_get_member(g, grade_keys[gr]);
            config_setting_t *ps = config_setting_get_member(g, grade_keys[prev_g]);
            if (!s && ps) /* the higher level is inherited: blame the one set here */
                return fail(c, ps, obj, grade_keys[prev_g],
                            "%g is above %s (%g, inherited): levels must rise with the grade", prev,
                            grade_keys[gr], v);
            return fail(c, s ? s : g, obj, grade_keys[gr],
                        "%g is below %s (%g): levels must rise with the grade", v,
                        grade_keys[prev_g], prev);
        }
        prev = v;
        prev_g = gr;
    }
    return 0;
}

/* An optional limit sub-group `name` of g. */
static int opt_limit(struct ctx *c, const config_setting_t *g, const char *obj, const char *name,
                     vg_limit *l)
{
    config_setting_t *s = config_setting_get_member(g, name);
    char sub[OBJ_MAX];
    if (!s)
        return 0;
    join(sub, obj, name);
    return parse_limit(c, s, sub, l);
}

static int parse_mismatch(struct ctx *c, const config_setting_t *g, const char *obj,
                          double *fraction, double *min, int64_t *delay_ns)
{
    static const char *const keys[] = {"fraction", "min", "delay_s", NULL};
    config_setting_t *s = NULL; /* as in get_num_min() */
    char sub[OBJ_MAX];
    int r = get_group(c, g, obj, "mismatch", 0, &s);
    if (r <= 0)
        return r;
    join(sub, obj, "mismatch");
    if ((r = check_keys(c, s, sub, keys)) < 0 ||
        (r = get_num_min(c, s, sub, "fraction", 0, 0, 1, fraction)) < 0 ||
        (r = get_num_min(c, s, sub, "min", 0, 0, 0, min)) < 0 ||
        (r = get_delay(c, s, sub, "delay_s", delay_ns)) < 0)
        return r;
    return 0;
}

/* ---- profiles ---- */

static int parse_profile_body(struct ctx *c, const config_setting_t *g, const char *obj,
                              vg_profile *p)
{
    static const char *const keys[] = {
        "id",      "base",        "density",         "occupancy", "flow",         "pressure",
        "sensors", "sensitivity", "trend_horizon_s", "mismatch",  "stale_factor", "stuck_factor",
        "chatter", NULL};
    config_setting_t *s;
    char sub[OBJ_MAX], sub2[OBJ_MAX];
    int r;

    if ((r = check_keys(c, g, obj, keys)) < 0)
        return r;
    if ((r = get_group(c, g, obj, "density", 0, &s)) < 0)
        return r;
    if (r) {
        join(sub, obj, "density");
        for (int i = 0; i < config_setting_length(s); i++) {
            config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
            enum vg_zone_type t;
            if (vg_zone_type_parse(config_setting_name(e), &t) < 0)
                return fail(c, e, sub, config_setting_name(e),
                            "unknown zone type (moving, standing, stair, queue, seated)");
            join(sub2, sub, config_setting_name(e));
            if ((r = parse_limit(c, e, sub2, &p->density[t])) < 0)
                return r;
        }
    }
    if ((r = opt_limit(c, g, obj, "occupancy", &p->occupancy)) < 0 ||
        (r = opt_limit(c, g, obj, "flow", &p->flow)) < 0 ||
        (r = opt_limit(c, g, obj, "pressure", &p->pressure)) < 0)
        return r;
    if ((r = get_group(c, g, obj, "sensors", 0, &s)) < 0)
        return r;
    if (r) {
        join(sub, obj, "sensors");
        for (int i = 0; i < config_setting_length(s); i++) {
            config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
            enum vg_sensor_kind k;
            if (vg_sensor_kind_parse(config_setting_name(e), &k) < 0)
                return fail(c, e, sub, config_setting_name(e), "unknown sensor kind");
            join(sub2, sub, config_setting_name(e));
            if ((r = parse_limit(c, e, sub2, &p->sensor[k])) < 0)
                return r;
        }
    }
    if ((r = get_group(c, g, obj, "sensitivity", 0, &s)) < 0)
        return r;
    if (r) {
        join(sub, obj, "sensitivity");
        for (int i = 0; i < config_setting_length(s); i++) {
            config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
            enum vg_sensor_kind k;
            double v;
            if (vg_sensor_kind_parse(config_setting_name(e), &k) < 0)
                return fail(c, e, sub, config_setting_name(e), "unknown sensor kind");
            if (num_of(e, &v) < 0 || v < 0 || v > 1)
                return fail(c, e, sub, config_setting_name(e), "must be a number in [0, 1]");
            p->sensitivity[k] = v;
        }
    }
    if ((r = get_delay(c, g, obj, "trend_horizon_s", &p->ttc_horizon_ns)) < 0 ||
        (r = parse_mismatch(c, g, obj, &p->mismatch_fraction, &p->mismatch_min,
                            &p->mismatch_delay_ns)) < 0 ||
        (r = get_num_min(c, g, obj, "stale_factor", 0, 1, 0, &p->stale_factor)) < 0 ||
        (r = get_num_min(c, g, obj, "stuck_factor", 0, 0, 0, &p->stuck_factor)) < 0)
        return r;
    static const char *const factors[] = {"stale_factor", "stuck_factor"};
    for (int k = 0; k < 2; k++) {
        const double f = k ? p->stuck_factor : p->stale_factor;
        if (f > 1000)
            return fail(c, config_setting_get_member(g, factors[k]), obj, factors[k],
                        "must be at most 1000, not %g", f);
    }
    if ((r = get_group(c, g, obj, "chatter", 0, &s)) < 0)
        return r;
    if (r) {
        static const char *const ckeys[] = {"cycles", "window_s", NULL};
        long long cycles;
        join(sub, obj, "chatter");
        if ((r = check_keys(c, s, sub, ckeys)) < 0 ||
            (r = get_int(c, s, sub, "cycles", 0, 2, VG_CHATTER_CYCLES_MAX, &cycles)) < 0)
            return r;
        if (r)
            p->chatter_cycles = (uint32_t)cycles;
        if ((r = get_delay(c, s, sub, "window_s", &p->chatter_window_ns)) < 0)
            return r;
    }
    return 0;
}

static int load_profiles(struct ctx *c, const config_setting_t *root)
{
    vg_model *m = c->m;
    config_setting_t *list = NULL;
    char obj[OBJ_MAX];
    int r = get_list(c, root, "", "profiles", 0, &list);
    if (r < 0)
        return r;
    uint32_t n = list ? (uint32_t)config_setting_length(list) : 0;
    m->profiles = alloc(c, n ? n : 1, sizeof(*m->profiles));
    const config_setting_t **settings = alloc(c, n, sizeof(*settings));
    if (!m->profiles || !settings || vg__table_init(&m->t_profile, &m->arena, n ? n : 1) < 0)
        return oom(c);
    if (n == 0) {
        vg__profile_defaults(&m->profiles[0]);
        m->profiles[0].id = "default";
        m->n_profiles = 1;
        return vg__table_put(&m->t_profile, "default", 7, NULL, 0, 0, 0, NULL);
    }
    for (uint32_t i = 0; i < n; i++) {
        config_setting_t *g = config_setting_get_elem(list, i);
        const char *id, *base;
        vg_profile *p = &m->profiles[i];
        settings[i] = g;
        if ((r = read_id(c, g, "profiles", (int)i, obj, &id)) < 0)
            return r;
        if ((r = get_str(c, g, obj, "base", 0, &base)) < 0)
            return r;
        if (r) {
            const vg__slot *s = vg__table_get(&m->t_profile, base, strlen(base), NULL, 0);
            if (!s)
                return fail(c, config_setting_get_member(g, "base"), obj, "base",
                            "unknown profile \"%s\" (a base must be defined above)", base);
            *p = m->profiles[s->a];
        } else {
            vg__profile_defaults(p);
        }
        if ((r = put_id(c, &m->t_profile, g, obj, id, i, settings)) < 0)
            return r;
        p->id = dup(c, id);
        if (!p->id)
            return oom(c);
        if ((r = parse_profile_body(c, g, obj, p)) < 0)
            return r;
        m->n_profiles = i + 1;
    }
    return 0;
}

/* ---- venue, phases, routes ---- */

static int parse_offset(const char *s, int32_t *ret_s)
{
    int hh, mm, n = 0;
    if (strcmp(s, "Z") == 0 || strcmp(s, "UTC") == 0) {
        *ret_s = 0;
        return 0;
    }
    /* exactly "+HH:MM" or "-HH:MM": sscanf alone would take "+-1:30" */
    if ((s[0] != '+' && s[0] != '-') || strlen(s) != 6 || !isdigit((unsigned char)s[1]) ||
        !isdigit((unsigned char)s[2]) || s[3] != ':' || !isdigit((unsigned char)s[4]) ||
        !isdigit((unsigned char)s[5]) || sscanf(s + 1, "%2d:%2d%n", &hh, &mm, &n) != 2 ||
        hh > 14 || mm > 59)
        return -EINVAL;
    *ret_s = (s[0] == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
    return 0;
}

/* "HH:MM" or "HH:MM:SS" -> seconds of the day. */
static int parse_clock(const char *s, int64_t *ret)
{
    int hh, mm, ss = 0, n = 0;
    size_t len = strlen(s);
    if (len == 5 && sscanf(s, "%2d:%2d%n", &hh, &mm, &n) == 2 && n == 5)
        ;
    else if (len == 8 && sscanf(s, "%2d:%2d:%2d%n", &hh, &mm, &ss, &n) == 3 && n == 8)
        ;
    else
        return -EINVAL;
    if (hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 59)
        return -EINVAL;
    *ret = hh * 3600 + mm * 60 + ss;
    return 0;
}

/* An ISO instant (vg_parse_instant) -> Unix seconds. */
static int parse_instant(const char *s, int64_t *ret)
{
    int64_t ns;
    if (vg_parse_instant(s, &ns) < 0)
        return -EINVAL;
    *ret = ns / VG_NS_PER_S;
    return 0;
}

static int load_venue(struct ctx *c, const config_setting_t *root)
{
    static const char *const keys[] = {"id", "name", "version", "utc_offset", "default_profile",
                                       NULL};
    vg_model *m = c->m;
    config_setting_t *g;
    const char *id, *name = NULL, *version = "", *off = NULL;
    int r = get_group(c, root, "", "venue", 1, &g);
    if (r < 0)
        return r;
    if ((r = check_keys(c, g, "venue", keys)) < 0 || (r = get_str(c, g, "venue", "id", 1, &id)) < 0)
        return r;
    if (!vg_model_id_valid(id))
        return fail(c, config_setting_get_member(g, "id"), "venue", "id",
                    "\"%s\" is not a valid id: 1-%d characters of A-Z a-z 0-9 _ - . (it is the "
                    "MQTT topic segment vigil/<venue>/...)",
                    id, VG_MODEL_ID_MAX);
    if ((r = get_str(c, g, "venue", "name", 0, &name)) < 0 ||
        (r = get_str(c, g, "venue", "version", 0, &version)) < 0 ||
        (r = get_str(c, g, "venue", "utc_offset", 0, &off)) < 0)
        return r;
    if (off && parse_offset(off, &m->utc_offset_s) < 0)
        return fail(c, config_setting_get_member(g, "utc_offset"), "venue", "utc_offset",
                    "\"%s\" is not an offset like \"+02:00\", \"-05:00\" or \"Z\"", off);
    m->venue = dup(c, id);
    m->venue_name = dup(c, name ? name : id);
    m->version = dup(c, version);
    if (!m->venue || !m->venue_name || !m->version)
        return oom(c);
    return 0;
}

/* After profiles: picks the default profile. */
static int pick_default_profile(struct ctx *c, const config_setting_t *root)
{
    vg_model *m = c->m;
    config_setting_t *g = config_setting_get_member(root, "venue");
    uint32_t idx;
    int r = get_ref(c, g, "venue", "default_profile", 0, &m->t_profile, "profile", &idx);
    if (r < 0)
        return r;
    if (r)
        m->default_profile = idx;
    else if (vg_model_find_profile(m, "default", &idx) == 0)
        m->default_profile = idx;
    else
        m->default_profile = 0;
    return 0;
}

static int load_phases(struct ctx *c, const config_setting_t *root)
{
    static const char *const keys[] = {"id", "start", "end", "profile", NULL};
    vg_model *m = c->m;
    config_setting_t *list = NULL;
    char obj[OBJ_MAX];
    int r = get_list(c, root, "", "phases", 0, &list);
    if (r < 0)
        return r;
    uint32_t n = list ? (uint32_t)config_setting_length(list) : 0;
    m->phases = alloc(c, n, sizeof(*m->phases));
    const config_setting_t **settings = alloc(c, n, sizeof(*settings));
    if (!m->phases || !settings || vg__table_init(&m->t_phase, &m->arena, n) < 0)
        return oom(c);
    for (uint32_t i = 0; i < n; i++) {
        config_setting_t *g = config_setting_get_elem(list, i);
        vg_phase *p = &m->phases[i];
        const char *id, *start, *end;
        settings[i] = g;
        if ((r = read_id(c, g, "phases", (int)i, obj, &id)) < 0 ||
            (r = check_keys(c, g, obj, keys)) < 0 ||
            (r = put_id(c, &m->t_phase, g, obj, id, i, settings)) < 0 ||
            (r = get_str(c, g, obj, "start", 1, &start)) < 0 ||
            (r = get_str(c, g, obj, "end", 1, &end)) < 0)
            return r;
        p->id = dup(c, id);
        if (!p->id)
            return oom(c);
        p->profile = VG_MODEL_NONE;
        if ((r = get_ref(c, g, obj, "profile", 0, &m->t_profile, "profile", &p->profile)) < 0)
            return r;
        if (parse_clock(start, &p->start_s) == 0) {
            p->daily = 1;
            if (parse_clock(end, &p->end_s) < 0)
                return fail(c, config_setting_get_member(g, "end"), obj, "end",
                            "\"%s\": a daily phase ends at a time of day \"HH:MM\" like its start",
                            end);
            if (p->start_s == p->end_s)
                return fail(c, config_setting_get_member(g, "end"), obj, "end",
                            "a phase cannot end when it starts");
        } else if (parse_instant(start, &p->start_s) == 0) {
            if (parse_instant(end, &p->end_s) < 0)
                return fail(c, config_setting_get_member(g, "end"), obj, "end",
                            "\"%s\": an absolute phase ends at \"YYYY-MM-DDTHH:MM:SSZ\" like its "
                            "start",
                            end);
            if (p->end_s <= p->start_s)
                return fail(c, config_setting_get_member(g, "end"), obj, "end",
                            "must be after start");
        } else {
            return fail(c, config_setting_get_member(g, "start"), obj, "start",
                        "\"%s\" is neither a time of day \"HH:MM\" nor an instant "
                        "\"YYYY-MM-DDTHH:MM:SSZ\"",
                        start);
        }
        m->n_phases = i + 1;
    }
    return 0;
}

static int load_routes(struct ctx *c, const config_setting_t *root)
{
    vg_model *m = c->m;
    config_setting_t *g;
    for (int k = 0; k < VG_ALERT_KIND_COUNT; k++)
        m->routes[k] = vg__default_route((enum vg_alert_kind)k);
    int r = get_group(c, root, "", "routes", 0, &g);
    if (r <= 0)
        return r;
    for (int i = 0; i < config_setting_length(g); i++) {
        config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        enum vg_alert_kind k;
        enum vg_feed f;
        if (vg_alert_kind_parse(config_setting_name(s), &k) < 0)
            return fail(c, s, "routes", config_setting_name(s), "unknown alert kind");
        if (config_setting_type(s) != CONFIG_TYPE_STRING ||
            vg_feed_parse(config_setting_get_string(s), &f) < 0)
            return fail(c, s, "routes", config_setting_name(s),
                        "must be \"security\", \"medical\", \"technical\" or \"supervisor\"");
        m->routes[k] = f;
    }
    return 0;
}

/* ---- zones ---- */

static void base_zone_limits(const vg_profile *p, enum vg_zone_type t, vg_zone_limits *l)
{
    l->density = p->density[t];
    l->occupancy = p->occupancy;
    l->pressure = p->pressure;
    l->ttc_horizon_ns = p->ttc_horizon_ns;
    l->mismatch_fraction = p->mismatch_fraction;
    l->mismatch_min = p->mismatch_min;
    l->mismatch_delay_ns = p->mismatch_delay_ns;
}

static int apply_zone_overrides(struct ctx *c, const config_setting_t *g, const char *obj,
                                vg_zone_limits *l)
{
    static const char *const keys[] = {"density",         "occupancy", "pressure",
                                       "trend_horizon_s", "mismatch",  NULL};
    int r;
    if (config_setting_type(g) != CONFIG_TYPE_GROUP)
        return fail(c, g, obj, NULL, "must be a group { ... }, not %s",
                    type_name(config_setting_type(g)));
    if ((r = check_keys(c, g, obj, keys)) < 0 ||
        (r = opt_limit(c, g, obj, "density", &l->density)) < 0 ||
        (r = opt_limit(c, g, obj, "occupancy", &l->occupancy)) < 0 ||
        (r = opt_limit(c, g, obj, "pressure", &l->pressure)) < 0 ||
        (r = get_delay(c, g, obj, "trend_horizon_s", &l->ttc_horizon_ns)) < 0 ||
        (r = parse_mismatch(c, g, obj, &l->mismatch_fraction, &l->mismatch_min,
                            &l->mismatch_delay_ns)) < 0)
        return r;
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Pass 1: ids, scalars, sectors. */
static int load_zones_pass1(struct ctx *c, const config_setting_t *list,
                            const config_setting_t **settings)
{
    static const char *const keys[] = {"id",        "name",       "type",  "area_m2", "capacity",
                                       "sector",    "neighbours", "route", "action",  "profile",
                                       "overrides", "phases",     "open",  NULL};
    vg_model *m = c->m;
    char obj[OBJ_MAX];
    int r;
    for (uint32_t i = 0; i < m->n_zones; i++) {
        config_setting_t *g = config_setting_get_elem(list, i);
        vg_zone *z = &m->zones[i];
        const char *id, *name = NULL, *type, *sector = "venue", *route = "", *action = "";
        long long cap = 0;
        settings[i] = g;
        if ((r = read_id(c, g, "zones", (int)i, obj, &id)) < 0 ||
            (r = check_keys(c, g, obj, keys)) < 0 ||
            (r = put_id(c, &m->t_zone, g, obj, id, i, settings)) < 0 ||
            (r = get_str(c, g, obj, "name", 0, &name)) < 0 ||
            (r = get_str(c, g, obj, "type", 1, &type)) < 0)
            return r;
        if (vg_zone_type_parse(type, &z->type) < 0)
            return fail(c, config_setting_get_member(g, "type"), obj, "type",
                        "unknown zone type \"%s\" (moving, standing, stair, queue, seated)", type);
        if ((r = get_num_min(c, g, obj, "area_m2", 1, 0, 1, &z->area_m2)) < 0 ||
            (r = get_int(c, g, obj, "capacity", 0, 0, 10000000, &cap)) < 0 ||
            (r = get_str(c, g, obj, "sector", 0, &sector)) < 0 ||
            (r = get_str(c, g, obj, "route", 0, &route)) < 0 ||
            (r = get_str(c, g, obj, "action", 0, &action)) < 0 ||
            (r = get_bool(c, g, obj, "open", &z->open)) < 0)
            return r;
        if (!vg_model_id_valid(sector))
            return fail(c, config_setting_get_member(g, "sector"), obj, "sector",
                        "\"%s\" is not a valid sector id (A-Z a-z 0-9 _ - .)", sector);
        z->capacity = (uint32_t)cap;
        z->id = dup(c, id);
        z->name = dup(c, name ? name : id);
        z->route = dup(c, route);
        z->action = dup(c, action);
        if (!z->id || !z->name || !z->route || !z->action)
            return oom(c);
        const vg__slot *s = vg__table_get(&m->t_sector, sector, strlen(sector), NULL, 0);
        if (s) {
            z->sector = s->a;
        } else {
            const char *sd = dup(c, sector);
            if (!sd)
                return oom(c);
            z->sector = m->n_sectors;
            m->sectors[m->n_sectors++] = sd;
            vg__table_put(&m->t_sector, sd, strlen(sd), NULL, 0, z->sector, 0, NULL);
        }
    }
    return 0;
}

/* Pass 2: neighbours, profiles, resolved limits. */
static int load_zones_pass2(struct ctx *c, const config_setting_t **settings, uint32_t **ret_nb,
                            uint32_t *ret_nb_count)
{
    vg_model *m = c->m;
    char obj[OBJ_MAX], sub[OBJ_MAX], sub2[OBJ_MAX];
    int r;
    for (uint32_t i = 0; i < m->n_zones; i++) {
        const config_setting_t *g = settings[i];
        vg_zone *z = &m->zones[i];
        config_setting_t *s;
        snprintf(obj, sizeof(obj), "zones.%s", z->id);

        z->profile = m->default_profile;
        if ((r = get_ref(c, g, obj, "profile", 0, &m->t_profile, "profile", &z->profile)) < 0)
            return r;

        s = config_setting_get_member(g, "neighbours");
        ret_nb_count[i] = 0;
        if (s) {
            int t = config_setting_type(s);
            if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
                return fail(c, s, obj, "neighbours",
                            "must be an array of zone ids [\"A\", "
                            "\"B\"], not %s",
                            type_name(t));
            uint32_t n = (uint32_t)config_setting_length(s);
            ret_nb[i] = alloc(c, n, sizeof(uint32_t));
            if (!ret_nb[i])
                return oom(c);
            for (uint32_t k = 0; k < n; k++) {
                config_setting_t *e = config_setting_get_elem(s, k);
                if (config_setting_type(e) != CONFIG_TYPE_STRING)
                    return fail(c, s, obj, "neighbours", "must hold zone ids (strings)");
                const char *nid = config_setting_get_string(e);
                const vg__slot *hit = vg__table_get(&m->t_zone, nid, strlen(nid), NULL, 0);
                if (!hit)
                    return fail(c, s, obj, "neighbours", "unknown zone \"%s\"", nid);
                if (hit->a == i)
                    return fail(c, s, obj, "neighbours", "a zone is not its own neighbour");
                ret_nb[i][ret_nb_count[i]++] = hit->a;
            }
        }

        config_setting_t *ov = config_setting_get_member(g, "overrides");
        join(sub, obj, "overrides");
        base_zone_limits(&m->profiles[z->profile], z->type, &z->limits);
        if (ov && (r = apply_zone_overrides(c, ov, sub, &z->limits)) < 0)
            return r;

        config_setting_t *ph = NULL;
        if ((r = get_group(c, g, obj, "phases", 0, &ph)) < 0)
            return r;
        if (ph) {
            for (int k = 0; k < config_setting_length(ph); k++) {
                config_setting_t *e = config_setting_get_elem(ph, (unsigned)k);
                uint32_t pidx;
                if (vg_model_find_phase(m, config_setting_name(e), &pidx) < 0) {
                    join(sub, obj, "phases");
                    return fail(c, e, sub, config_setting_name(e),
                                "unknown phase (phases are defined at the top level)");
                }
            }
        }
        vg_zone_limits *pl = alloc(c, m->n_phases, sizeof(*pl));
        if (!pl)
            return oom(c);
        for (uint32_t k = 0; k < m->n_phases; k++) {
            const vg_phase *p = &m->phases[k];
            uint32_t prof = p->profile != VG_MODEL_NONE ? p->profile : z->profile;
            base_zone_limits(&m->profiles[prof], z->type, &pl[k]);
            join(sub, obj, "overrides");
            if (ov && (r = apply_zone_overrides(c, ov, sub, &pl[k])) < 0)
                return r;
            config_setting_t *e = ph ? config_setting_get_member(ph, p->id) : NULL;
            join(sub, obj, "phases");
            join(sub2, sub, p->id);
            if (e && (r = apply_zone_overrides(c, e, sub2, &pl[k])) < 0)
                return r;
        }
        z->phase_limits = pl;
    }
    return 0;
}

/* Symmetric, sorted, deduplicated neighbour lists. */
static int build_neighbours(struct ctx *c, uint32_t **nb, const uint32_t *nb_count)
{
    vg_model *m = c->m;
    uint32_t *total = alloc(c, m->n_zones, sizeof(uint32_t));
    if (!total)
        return oom(c);
    for (uint32_t i = 0; i < m->n_zones; i++)
        for (uint32_t k = 0; k < nb_count[i]; k++) {
            total[i]++;
            total[nb[i][k]]++;
        }
    for (uint32_t i = 0; i < m->n_zones; i++) {
        m->zones[i].neighbours = alloc(c, total[i], sizeof(uint32_t));
        if (!m->zones[i].neighbours)
            return oom(c);
    }
    for (uint32_t i = 0; i < m->n_zones; i++)
        for (uint32_t k = 0; k < nb_count[i]; k++) {
            vg_zone *a = &m->zones[i], *b = &m->zones[nb[i][k]];
            ((uint32_t *)a->neighbours)[a->neighbour_count++] = nb[i][k];
            ((uint32_t *)b->neighbours)[b->neighbour_count++] = i;
        }
    for (uint32_t i = 0; i < m->n_zones; i++) {
        vg_zone *z = &m->zones[i];
        uint32_t *v = (uint32_t *)z->neighbours, n = 0;
        qsort(v, z->neighbour_count, sizeof(*v), cmp_u32);
        for (uint32_t k = 0; k < z->neighbour_count; k++)
            if (n == 0 || v[n - 1] != v[k])
                v[n++] = v[k];
        z->neighbour_count = n;
    }
    return 0;
}

static int load_zones(struct ctx *c, const config_setting_t *root)
{
    vg_model *m = c->m;
    config_setting_t *list;
    int r = get_list(c, root, "", "zones", 1, &list);
    if (r < 0)
        return r;
    uint32_t n = (uint32_t)config_setting_length(list);
    if (n == 0)
        return fail(c, list, "", "zones", "a venue needs at least one zone");
    m->n_zones = n;
    m->zones = alloc(c, n, sizeof(*m->zones));
    m->sectors = alloc(c, n, sizeof(*m->sectors));
    const config_setting_t **settings = alloc(c, n, sizeof(*settings));
    uint32_t **nb = alloc(c, n, sizeof(*nb));
    uint32_t *nb_count = alloc(c, n, sizeof(*nb_count));
    if (!m->zones || !m->sectors || !settings || !nb || !nb_count ||
        vg__table_init(&m->t_zone, &m->arena, n) < 0 ||
        vg__table_init(&m->t_sector, &m->arena, n) < 0)
        return oom(c);
    if ((r = load_zones_pass1(c, list, settings)) < 0 ||
        (r = load_zones_pass2(c, settings, nb, nb_count)) < 0 ||
        (r = build_neighbours(c, nb, nb_count)) < 0)
        return r;
    return 0;
}

/* ---- lines ---- */

static int load_lines(struct ctx *c, const config_setting_t *root)
{
    static const char *const keys[] = {"id",    "name",         "width_m", "from", "to",
                                       "stair", "ref_flow_pmm", "profile", "flow", NULL};
    vg_model *m = c->m;
    config_setting_t *list = NULL;
    char obj[OBJ_MAX];
    int r = get_list(c, root, "", "lines", 0, &list);
    if (r < 0)
        return r;
    uint32_t n = list ? (uint32_t)config_setting_length(list) : 0;
    m->lines = alloc(c, n, sizeof(*m->lines));
    const config_setting_t **settings = alloc(c, n, sizeof(*settings));
    if (!m->lines || !settings || vg__table_init(&m->t_line, &m->arena, n) < 0)
        return oom(c);
    for (uint32_t i = 0; i < n; i++) {
        config_setting_t *g = config_setting_get_elem(list, i);
        vg_line *l = &m->lines[i];
        const char *id, *name = NULL;
        settings[i] = g;
        if ((r = read_id(c, g, "lines", (int)i, obj, &id)) < 0 ||
            (r = check_keys(c, g, obj, keys)) < 0 ||
            (r = put_id(c, &m->t_line, g, obj, id, i, settings)) < 0 ||
            (r = get_str(c, g, obj, "name", 0, &name)) < 0 ||
            (r = get_num_min(c, g, obj, "width_m", 1, 0, 1, &l->width_m)) < 0 ||
            (r = get_ref(c, g, obj, "from", 1, &m->t_zone, "zone", &l->zone_from)) < 0 ||
            (r = get_ref(c, g, obj, "to", 1, &m->t_zone, "zone", &l->zone_to)) < 0)
            return r;
        if (l->width_m > 200)
            return fail(c, config_setting_get_member(g, "width_m"), obj, "width_m",
                        "%g m is not a plausible effective width (at most 200 m)", l->width_m);
        if (l->zone_from == l->zone_to)
            return fail(c, config_setting_get_member(g, "to"), obj, "to",
                        "a line joins two different zones");
        l->stair = m->zones[l->zone_from].type == VG_ZONE_STAIR ||
                   m->zones[l->zone_to].type == VG_ZONE_STAIR;
        if ((r = get_bool(c, g, obj, "stair", &l->stair)) < 0)
            return r;
        l->ref_flow_pmm = l->stair ? 66 : 82;
        if ((r = get_num_min(c, g, obj, "ref_flow_pmm", 0, 0, 1, &l->ref_flow_pmm)) < 0)
            return r;
        l->profile = m->default_profile;
        if ((r = get_ref(c, g, obj, "profile", 0, &m->t_profile, "profile", &l->profile)) < 0)
            return r;
        l->flow = m->profiles[l->profile].flow;
        if ((r = opt_limit(c, g, obj, "flow", &l->flow)) < 0)
            return r;
        for (int gr = VG_GRADE_ADVISORY; gr < VG_GRADE_COUNT; gr++)
            l->flow.level[gr] *= l->ref_flow_pmm;
        l->flow.deadband *= l->ref_flow_pmm;
        l->id = dup(c, id);
        l->name = dup(c, name ? name : id);
        if (!l->id || !l->name)
            return oom(c);
        m->n_lines = i + 1;
    }
    return 0;
}

/* ---- cameras ---- */

static int load_camera_zones(struct ctx *c, const config_setting_t *g, const char *obj,
                             uint32_t cam_idx, vg_camera *cam)
{
    static const char *const keys[] = {"zone", "coverage", "frigate", NULL};
    vg_model *m = c->m;
    config_setting_t *list;
    char sub[OBJ_MAX];
    int r = get_list(c, g, obj, "zones", 1, &list);
    if (r < 0)
        return r;
    uint32_t n = (uint32_t)config_setting_length(list);
    if (n == 0)
        return fail(c, list, obj, "zones", "a camera covers at least one zone");
    vg_camera_zone *cz = alloc(c, n, sizeof(*cz));
    if (!cz)
        return oom(c);
    for (uint32_t k = 0; k < n; k++) {
        config_setting_t *e = config_setting_get_elem(list, k);
        const char *frigate = NULL;
        char idx[24];
        snprintf(idx, sizeof(idx), "zones[%u]", k);
        join(sub, obj, idx);
        cz[k].coverage = 1.0;
        if ((r = check_keys(c, e, sub, keys)) < 0 ||
            (r = get_ref(c, e, sub, "zone", 1, &m->t_zone, "zone", &cz[k].zone)) < 0 ||
            (r = get_num_min(c, e, sub, "coverage", 0, 0, 1, &cz[k].coverage)) < 0 ||
            (r = get_str(c, e, sub, "frigate", 0, &frigate)) < 0)
            return r;
        if (cz[k].coverage > 1)
            return fail(c, config_setting_get_member(e, "coverage"), sub, "coverage",
                        "must be in (0, 1], not %g", cz[k].coverage);
        for (uint32_t j = 0; j < k; j++)
            if (cz[j].zone == cz[k].zone)
                return fail(c, config_setting_get_member(e, "zone"), sub, "zone",
                            "zone \"%s\" is listed twice for this camera", m->zones[cz[k].zone].id);
        if (frigate) {
            const vg__slot *prev = NULL;
            if (!vg_model_id_valid(frigate))
                return fail(c, config_setting_get_member(e, "frigate"), sub, "frigate",
                            "\"%s\" is not a valid Frigate zone name (A-Z a-z 0-9 _ - .)", frigate);
            cz[k].frigate = dup(c, frigate);
            if (!cz[k].frigate)
                return oom(c);
            if (vg__table_put(&m->t_frigate, cz[k].frigate, strlen(frigate), NULL, 0, cam_idx,
                              cz[k].zone, &prev) == -EEXIST)
                return fail(c, config_setting_get_member(e, "frigate"), sub, "frigate",
                            "Frigate zone \"%s\" is already mapped by camera \"%s\"", frigate,
                            m->cameras[prev->a].id);
        }
    }
    cam->zones = cz;
    cam->zone_count = n;
    return 0;
}

static int load_cameras(struct ctx *c, const config_setting_t *root)
{
    static const char *const keys[] = {"id", "name", "period_s", "stale_after_s", "zones", NULL};
    vg_model *m = c->m;
    config_setting_t *list = NULL;
    char obj[OBJ_MAX];
    int r = get_list(c, root, "", "cameras", 0, &list);
    if (r < 0)
        return r;
    uint32_t n = list ? (uint32_t)config_setting_length(list) : 0;
    uint32_t nz = 0; /* upper bound of Frigate mappings */
    for (uint32_t i = 0; i < n; i++) {
        config_setting_t *zl = config_setting_get_member(config_setting_get_elem(list, i), "zones");
        if (zl)
            nz += (uint32_t)config_setting_length(zl);
    }
    m->cameras = alloc(c, n, sizeof(*m->cameras));
    const config_setting_t **settings = alloc(c, n, sizeof(*settings));
    if (!m->cameras || !settings || vg__table_init(&m->t_camera, &m->arena, n) < 0 ||
        vg__table_init(&m->t_frigate, &m->arena, nz) < 0)
        return oom(c);
    const vg_profile *dp = &m->profiles[m->default_profile];
    for (uint32_t i = 0; i < n; i++) {
        config_setting_t *g = config_setting_get_elem(list, i);
        vg_camera *cam = &m->cameras[i];
        const char *id, *name = NULL;
        double period = 1, stale = -1;
        settings[i] = g;
        if ((r = read_id(c, g, "cameras", (int)i, obj, &id)) < 0 ||
            (r = check_keys(c, g, obj, keys)) < 0 ||
            (r = put_id(c, &m->t_camera, g, obj, id, i, settings)) < 0 ||
            (r = get_str(c, g, obj, "name", 0, &name)) < 0 ||
            (r = get_seconds(c, g, obj, "period_s", 0, 0, &period)) < 0 ||
            (r = get_seconds(c, g, obj, "stale_after_s", 0, 0, &stale)) < 0)
            return r;
        cam->id = dup(c, id);
        cam->name = dup(c, name ? name : id);
        if (!cam->id || !cam->name)
            return oom(c);
        cam->period_ns = (int64_t)llround(period * 1e9);
        cam->stale_after_ns =
            (int64_t)llround((stale > 0 ? stale : period * dp->stale_factor) * 1e9);
        m->n_cameras = i + 1;
        if ((r = load_camera_zones(c, g, obj, i, cam)) < 0)
            return r;
    }
    return 0;
}

/* ---- sensors ---- */

/* Accepted spellings of each kind's unit; the first is what an absent unit becomes.
 * Catching "degF" here keeps a °F thermometer from being graded against °C limits. */
static const char *const *kind_units(enum vg_sensor_kind k)
{
    static const char *const temp[] = {"degC", "°C", "C", NULL};
    static const char *const hum[] = {"%RH", "%", NULL};
    static const char *const co2[] = {"ppm", NULL};
    static const char *const noise[] = {"dB", "dBA", "dB(A)", NULL};
    static const char *const binary[] = {"bool", "", NULL};
    static const char *const vib[] = {"mm/s", NULL};
    static const char *const pm[] = {"ug/m3", "µg/m³", NULL};
    static const char *const wind[] = {"m/s", NULL};
    switch (k) {
    case VG_SENSOR_TEMPERATURE:
    case VG_SENSOR_WBGT:
    case VG_SENSOR_WATER_TEMPERATURE:
        return temp;
    case VG_SENSOR_HUMIDITY:
        return hum;
    case VG_SENSOR_CO2:
        return co2;
    case VG_SENSOR_NOISE:
        return noise;
    case VG_SENSOR_SMOKE:
    case VG_SENSOR_DOOR:
        return binary;
    case VG_SENSOR_VIBRATION:
        return vib;
    case VG_SENSOR_PM25:
        return pm;
    case VG_SENSOR_WIND:
        return wind;
    default:
        return NULL; /* any unit */
    }
}

static int load_sensor(struct ctx *c, config_setting_t *g, uint32_t i, const char *obj,
                       vg_sensor *se)
{
    static const char *const zkeys[] = {"device", "field", NULL};
    vg_model *m = c->m;
    const char *kind, *unit = NULL;
    double period, stale = -1, stuck = -1;
    int r;

    if ((r = get_str(c, g, obj, "kind", 1, &kind)) < 0)
        return r;
    if (vg_sensor_kind_parse(kind, &se->kind) < 0)
        return fail(c, config_setting_get_member(g, "kind"), obj, "kind",
                    "unknown sensor kind \"%s\"", kind);
    if ((r = get_str(c, g, obj, "unit", 0, &unit)) < 0)
        return r;
    const char *const *units = kind_units(se->kind);
    if (units && unit) {
        int ok = 0;
        for (const char *const *u = units; *u && !ok; u++)
            ok = strcmp(*u, unit) == 0;
        if (!ok)
            return fail(c, config_setting_get_member(g, "unit"), obj, "unit",
                        "\"%s\" is not a unit of %s (use \"%s\")", unit, kind, units[0]);
    }
    se->unit = dup(c, unit ? unit : (units ? units[0] : ""));
    if (!se->unit)
        return oom(c);
    if ((r = get_ref(c, g, obj, "zone", 1, &m->t_zone, "zone", &se->zone)) < 0 ||
        (r = get_num(c, g, obj, "min", 1, &se->min)) < 0 ||
        (r = get_num(c, g, obj, "max", 1, &se->max)) < 0)
        return r;
    if (!(se->max > se->min))
        return fail(c, config_setting_get_member(g, "max"), obj, "max",
                    "must be greater than min (%g)", se->min);
    if ((r = get_seconds(c, g, obj, "period_s", 1, 0, &period)) < 0 ||
        (r = get_seconds(c, g, obj, "stale_after_s", 0, 0, &stale)) < 0 ||
        (r = get_seconds(c, g, obj, "stuck_after_s", 0, 1, &stuck)) < 0)
        return r;
    se->profile = m->zones[se->zone].profile; /* an aquatics hall sensor: aquatics limits */
    if ((r = get_ref(c, g, obj, "profile", 0, &m->t_profile, "profile", &se->profile)) < 0)
        return r;
    const vg_profile *p = &m->profiles[se->profile];
    se->period_ns = (int64_t)llround(period * 1e9);
    se->stale_after_ns = (int64_t)llround((stale > 0 ? stale : period * p->stale_factor) * 1e9);
    if (stuck >= 0)
        se->stuck_after_ns = (int64_t)llround(stuck * 1e9);
    else if (se->kind == VG_SENSOR_SMOKE || se->kind == VG_SENSOR_DOOR)
        se->stuck_after_ns = 0; /* flat is their normal state */
    else
        se->stuck_after_ns = (int64_t)llround(period * p->stuck_factor * 1e9);
    se->limit = p->sensor[se->kind];
    se->sensitivity = p->sensitivity[se->kind];
    if ((r = opt_limit(c, g, obj, "limit", &se->limit)) < 0 ||
        (r = get_num_min(c, g, obj, "sensitivity", 0, 0, 0, &se->sensitivity)) < 0)
        return r;
    if (se->sensitivity > 1)
        return fail(c, config_setting_get_member(g, "sensitivity"), obj, "sensitivity",
                    "must be in [0, 1], not %g", se->sensitivity);

    config_setting_t *z;
    if ((r = get_group(c, g, obj, "z2m", 0, &z)) < 0)
        return r;
    if (r) {
        const char *dev, *field;
        const vg__slot *prev = NULL;
        char sub[OBJ_MAX];
        join(sub, obj, "z2m");
        if ((r = check_keys(c, z, sub, zkeys)) < 0 ||
            (r = get_str(c, z, sub, "device", 1, &dev)) < 0 ||
            (r = get_str(c, z, sub, "field", 1, &field)) < 0)
            return r;
        /* No '/': ingest subscribes to zigbee2mqtt/+ (one topic level per device). */
        if (!*dev || strlen(dev) > 127 || strpbrk(dev, "/+#"))
            return fail(c, config_setting_get_member(z, "device"), sub, "device",
                        "\"%s\" is not a usable zigbee2mqtt friendly name (1-127 characters, "
                        "no / + #)",
                        dev);
        if (!*field || strlen(field) > VG_MODEL_ID_MAX)
            return fail(c, config_setting_get_member(z, "field"), sub, "field",
                        "must be a JSON field name of 1-%d characters", VG_MODEL_ID_MAX);
        se->z2m_device = dup(c, dev);
        se->z2m_field = dup(c, field);
        if (!se->z2m_device || !se->z2m_field)
            return oom(c);
        if (vg__table_put(&m->t_z2m, se->z2m_device, strlen(dev), se->z2m_field, strlen(field), i,
                          0, &prev) == -EEXIST)
            return fail(c, config_setting_get_member(z, "field"), sub, "field",
                        "zigbee2mqtt %s/%s is already mapped to sensor \"%s\"", dev, field,
                        m->sensors[prev->a].id);
        vg__table_put(&m->t_z2m_device, se->z2m_device, strlen(dev), NULL, 0, i, 0, NULL);
    }
    return 0;
}

static int load_sensors(struct ctx *c, const config_setting_t *root)
{
    static const char *const keys[] = {"id",
                                       "kind",
                                       "unit",
                                       "zone",
                                       "min",
                                       "max",
                                       "period_s",
                                       "stale_after_s",
                                       "stuck_after_s",
                                       "profile",
                                       "limit",
                                       "sensitivity",
                                       "z2m",
                                       NULL};
    vg_model *m = c->m;
    config_setting_t *list = NULL;
    char obj[OBJ_MAX];
    int r = get_list(c, root, "", "sensors", 0, &list);
    if (r < 0)
        return r;
    uint32_t n = list ? (uint32_t)config_setting_length(list) : 0;
    m->sensors = alloc(c, n, sizeof(*m->sensors));
    const config_setting_t **settings = alloc(c, n, sizeof(*settings));
    if (!m->sensors || !settings || vg__table_init(&m->t_sensor, &m->arena, n) < 0 ||
        vg__table_init(&m->t_z2m, &m->arena, n) < 0 ||
        vg__table_init(&m->t_z2m_device, &m->arena, n) < 0)
        return oom(c);
    for (uint32_t i = 0; i < n; i++) {
        config_setting_t *g = config_setting_get_elem(list, i);
        vg_sensor *se = &m->sensors[i];
        const char *id;
        settings[i] = g;
        if ((r = read_id(c, g, "sensors", (int)i, obj, &id)) < 0 ||
            (r = check_keys(c, g, obj, keys)) < 0 ||
            (r = put_id(c, &m->t_sensor, g, obj, id, i, settings)) < 0)
            return r;
        se->id = dup(c, id);
        if (!se->id)
            return oom(c);
        m->n_sensors = i + 1;
        if ((r = load_sensor(c, g, i, obj, se)) < 0)
            return r;
    }
    return 0;
}

/* ---- help points ---- */

static int load_help_points(struct ctx *c, const config_setting_t *root)
{
    static const char *const keys[] = {"id", "name", "zone", NULL};
    vg_model *m = c->m;
    config_setting_t *list = NULL;
    char obj[OBJ_MAX];
    int r = get_list(c, root, "", "help_points", 0, &list);
    if (r < 0)
        return r;
    uint32_t n = list ? (uint32_t)config_setting_length(list) : 0;
    m->help_points = alloc(c, n, sizeof(*m->help_points));
    const config_setting_t **settings = alloc(c, n, sizeof(*settings));
    if (!m->help_points || !settings || vg__table_init(&m->t_help_point, &m->arena, n) < 0)
        return oom(c);
    for (uint32_t i = 0; i < n; i++) {
        config_setting_t *g = config_setting_get_elem(list, i);
        vg_help_point *h = &m->help_points[i];
        const char *id, *name = NULL;
        settings[i] = g;
        if ((r = read_id(c, g, "help_points", (int)i, obj, &id)) < 0 ||
            (r = check_keys(c, g, obj, keys)) < 0 ||
            (r = put_id(c, &m->t_help_point, g, obj, id, i, settings)) < 0 ||
            (r = get_str(c, g, obj, "name", 0, &name)) < 0 ||
            (r = get_ref(c, g, obj, "zone", 1, &m->t_zone, "zone", &h->zone)) < 0)
            return r;
        h->id = dup(c, id);
        h->name = dup(c, name ? name : id);
        if (!h->id || !h->name)
            return oom(c);
        m->n_help_points = i + 1;
    }
    return 0;
}

/* ---- reverse indices ---- */

/* Fills each zone's list of objects (cameras, sensors, ...) in ascending object order. */
static int build_reverse(struct ctx *c)
{
    vg_model *m = c->m;
    uint32_t nz = m->n_zones;
    for (uint32_t i = 0; i < m->n_cameras; i++)
        for (uint32_t k = 0; k < m->cameras[i].zone_count; k++)
            m->zones[m->cameras[i].zones[k].zone].camera_count++;
    for (uint32_t i = 0; i < m->n_sensors; i++)
        m->zones[m->sensors[i].zone].sensor_count++;
    for (uint32_t i = 0; i < m->n_lines; i++) {
        m->zones[m->lines[i].zone_from].line_count++;
        m->zones[m->lines[i].zone_to].line_count++;
    }
    for (uint32_t i = 0; i < m->n_help_points; i++)
        m->zones[m->help_points[i].zone].help_point_count++;
    for (uint32_t z = 0; z < nz; z++) {
        vg_zone *zz = &m->zones[z];
        zz->cameras = alloc(c, zz->camera_count, sizeof(uint32_t));
        zz->sensors = alloc(c, zz->sensor_count, sizeof(uint32_t));
        zz->lines = alloc(c, zz->line_count, sizeof(uint32_t));
        zz->help_points = alloc(c, zz->help_point_count, sizeof(uint32_t));
        if (!zz->cameras || !zz->sensors || !zz->lines || !zz->help_points)
            return oom(c);
        zz->camera_count = zz->sensor_count = zz->line_count = zz->help_point_count = 0;
    }
#define PUSH(zone, arr, cnt, v) ((uint32_t *)m->zones[zone].arr)[m->zones[zone].cnt++] = (v)
    for (uint32_t i = 0; i < m->n_cameras; i++)
        for (uint32_t k = 0; k < m->cameras[i].zone_count; k++)
            PUSH(m->cameras[i].zones[k].zone, cameras, camera_count, i);
    for (uint32_t i = 0; i < m->n_sensors; i++)
        PUSH(m->sensors[i].zone, sensors, sensor_count, i);
    for (uint32_t i = 0; i < m->n_lines; i++) {
        PUSH(m->lines[i].zone_from, lines, line_count, i);
        PUSH(m->lines[i].zone_to, lines, line_count, i);
    }
    for (uint32_t i = 0; i < m->n_help_points; i++)
        PUSH(m->help_points[i].zone, help_points, help_point_count, i);
#undef PUSH
    return 0;
}

/* ---- entry ---- */

static int read_text(struct ctx *c, const char *path)
{
    vg_model *m = c->m;
    FILE *f = fopen(path, "rb");
    int r;
    if (!f)
        goto out_errno;
    struct stat st;
    if (fstat(fileno(f), &st) < 0)
        goto out_errno_close;
    if (S_ISDIR(st.st_mode)) { /* glibc opens folders for reading; reads then fail */
        errno = EISDIR;
        goto out_errno_close;
    }
    if (fseek(f, 0, SEEK_END) < 0)
        goto out_errno_close;
    long size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) < 0)
        goto out_errno_close;
    if ((unsigned long)size > MAX_FILE_BYTES) {
        fclose(f);
        fail(c, NULL, "", NULL, "file is larger than %u MiB", MAX_FILE_BYTES >> 20);
        return -EFBIG;
    }
    m->text = vg__arena_alloc(&m->arena, (size_t)size + 1);
    if (!m->text) {
        fclose(f);
        return oom(c);
    }
    if (fread(m->text, 1, (size_t)size, f) != (size_t)size) {
        errno = EIO;
        goto out_errno_close;
    }
    fclose(f);
    m->text[size] = '\0';
    m->text_len = (size_t)size;
    m->digest = vg__fnv1a(m->text, m->text_len, VG__FNV_BASIS);
    return 0;
out_errno_close:
    r = errno;
    fclose(f);
    errno = r;
out_errno:
    r = errno ? -errno : -EIO;
    fail(c, NULL, "", NULL, "cannot read: %s", strerror(-r));
    return r;
}

/* libconfig reads text only up to its first NUL byte: the rest would be silently dropped.
 * A UTF-16 file is all NULs; its byte order mark says so more clearly. */
static int check_bytes(struct ctx *c, const char *text, size_t len, const char *file)
{
    if (len >= 2 && (memcmp(text, "\xff\xfe", 2) == 0 || memcmp(text, "\xfe\xff", 2) == 0))
        return fail_at(c, file, 1, "syntax", "UTF-16 file: save it as UTF-8");
    const char *nul = memchr(text, '\0', len);
    if (!nul)
        return 0;
    int line = 1;
    for (const char *p = text; p < nul; p++)
        line += *p == '\n';
    return fail_at(c, file, line, "syntax", "NUL byte (a binary or UTF-16 file?)");
}

/* ---- integer literals ----
 * libconfig 1.5 converts an integer literal with atoi() or strtoul() into an int, so
 * 4294967297 loads as 1 and 99999999999999999999 as -1, and nothing in the parsed settings
 * tells. After a successful parse, this scan reads the text (and its @include'd files) the
 * way libconfig's scanner splits it, skipping strings and comments, and refuses a literal
 * libconfig cannot hold: beyond int32, or int64 with the L suffix. */

#define INCLUDE_DEPTH_MAX 10 /* libconfig 1.5's own limit */

/* The *nth (from 0) integer setting in file order: libconfig makes one of each integer
 * literal, in the order it reads them, an @include'd file's where it is included. */
static const config_setting_t *nth_int(const config_setting_t *s, long *nth)
{
    int t = config_setting_type(s);
    if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
        return (*nth)-- == 0 ? s : NULL;
    for (int i = 0; config_setting_is_aggregate(s) && i < config_setting_length(s); i++) {
        const config_setting_t *r = nth_int(config_setting_get_elem(s, (unsigned)i), nth);
        if (r)
            return r;
    }
    return NULL;
}

/* The key of s as the loaders name it: "zones.plaza.capacity", "cameras.c1.zones[0].zone". */
static void key_of(const config_setting_t *s, char *out, size_t n)
{
    const config_setting_t *p = config_setting_parent(s);
    const config_setting_t *id = config_setting_get_member(s, "id");
    out[0] = '\0';
    if (!p)
        return;
    key_of(p, out, n);
    size_t k = strlen(out);
    if (config_setting_name(s))
        snprintf(out + k, n - k, "%s%s", k ? "." : "", config_setting_name(s));
    else if (config_setting_parent(p) && !config_setting_parent(config_setting_parent(p)) &&
             id && config_setting_type(id) == CONFIG_TYPE_STRING &&
             vg_model_id_valid(config_setting_get_string(id)))
        snprintf(out + k, n - k, ".%s", config_setting_get_string(id)); /* a section's object */
    else
        snprintf(out + k, n - k, "[%d]", config_setting_index(s));
}

/* The end of the number token at p, as libconfig's scanner reads it: a '.' or an exponent
 * makes a float (*is_int = 0), "0x" a hex integer, a trailing L or LL a 64-bit one. */
static const char *number_end(const char *p, int *is_int, int *hex, int *is64)
{
    const char *q = p;
    *is_int = 1;
    *hex = *is64 = 0;
    if (*p == '+' || *p == '-')
        p++;
    if (p == q && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && isxdigit((unsigned char)p[2])) {
        *hex = 1;
        for (p += 2; isxdigit((unsigned char)*p); p++)
            ;
    } else {
        while (isdigit((unsigned char)*p))
            p++;
        if (*p == '.') {
            *is_int = 0;
            for (p++; isdigit((unsigned char)*p); p++)
                ;
        }
        if ((*p == 'e' || *p == 'E') &&
            (isdigit((unsigned char)p[1]) ||
             ((p[1] == '+' || p[1] == '-') && isdigit((unsigned char)p[2])))) {
            *is_int = 0;
            for (p += 2; isdigit((unsigned char)*p); p++)
                ;
        }
    }
    if (*is_int && *p == 'L') {
        *is64 = 1;
        p += p[1] == 'L' ? 2 : 1;
    }
    return p;
}

static int check_include(struct ctx *c, const char *name, size_t name_len, int depth,
                         long *ints);

/* Refuses the integer literal [q, p) found on line of file, the *ints-th of the model. */
static int too_large(struct ctx *c, const char *q, const char *p, int is64, const char *file,
                     int line, const char *name, long ints)
{
    char msg[200], key[OBJ_MAX];
    int n = (int)(p - q);
    snprintf(msg, sizeof(msg), "integer %.*s%s is too large: %s", n > 40 ? 40 : n, q,
             n > 40 ? "..." : "",
             is64 ? "with L, it must fit in 64 bits"
                  : "it must fit in 32 bits, -2147483648 to 2147483647");
    const config_setting_t *s = nth_int(config_root_setting(&c->cfg), &ints);
    const char *sn = s ? config_setting_name(s) : NULL;
    if (s && !sn && config_setting_parent(s))
        sn = config_setting_name(config_setting_parent(s));
    if (s && sn && strcmp(sn, name) == 0) { /* the scan and libconfig agree on the setting */
        key_of(s, key, sizeof(key));
        return fail(c, s, key, NULL, "%s", msg);
    }
    char shown[sizeof(c->err->file)];
    shown_path(c, file, shown, sizeof(shown));
    return fail_at(c, shown, line, name[0] ? name : "syntax", "%s", msg);
}

/* Scans text (of file: NULL for the model, else an @include'd name as written); *ints counts
 * the integer literals so far, @include'd files' included. */
static int check_ints(struct ctx *c, const char *text, const char *file, int depth, long *ints)
{
    char name[OBJ_MAX] = ""; /* the last setting name: the key when no setting is found */
    int line = 1, include_next = 0, r;

    for (const char *p = text; *p;) {
        const char *q = p;
        unsigned char ch = (unsigned char)*p;
        if (ch == '\n') {
            line++;
            p++;
        } else if (ch == '#' || (ch == '/' && p[1] == '/')) {
            while (*p && *p != '\n')
                p++;
        } else if (ch == '/' && p[1] == '*') {
            for (p += 2; *p && !(p[0] == '*' && p[1] == '/'); p++)
                line += *p == '\n';
            p += *p ? 2 : 0;
        } else if (ch == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1])
                    p++;
                line += *p == '\n';
            }
            if (include_next &&
                (r = check_include(c, q + 1, (size_t)(p - q - 1), depth, ints)) < 0)
                return r;
            include_next = 0;
            p += *p ? 1 : 0;
        } else if (strncmp(p, "@include", 8) == 0) {
            include_next = 1;
            p += 8;
        } else if (isalpha(ch) || ch == '*') { /* a name: digits in it are no number */
            while (isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '*')
                p++;
            const char *e = p;
            while (*e == ' ' || *e == '\t' || *e == '\r' || *e == '\n')
                e++;
            if (*e == '=' || *e == ':')
                snprintf(name, sizeof(name), "%.*s", (int)(p - q), q);
        } else if (isdigit(ch) || (ch == '.' && isdigit((unsigned char)p[1])) ||
                   ((ch == '+' || ch == '-') &&
                    (isdigit((unsigned char)p[1]) ||
                     (p[1] == '.' && isdigit((unsigned char)p[2]))))) {
            int is_int, hex, is64, bad;
            p = number_end(p, &is_int, &hex, &is64);
            if (!is_int)
                continue;
            errno = 0;
            if (hex) {
                unsigned long long u = strtoull(q, NULL, 16);
                bad = errno == ERANGE || u > (is64 ? (unsigned long long)INT64_MAX : INT32_MAX);
            } else {
                long long v = strtoll(q, NULL, 10);
                bad = errno == ERANGE || (!is64 && (v < INT32_MIN || v > INT32_MAX));
            }
            if (bad)
                return too_large(c, q, p, is64, file, line, name, *ints);
            ++*ints;
        } else {
            p++;
        }
    }
    return 0;
}

/* Scans an @include'd file as libconfig found it: relative to the model's folder. */
static int check_include(struct ctx *c, const char *name, size_t name_len, int depth,
                         long *ints)
{
    char inc[4096], path[4096], shown[sizeof(c->err->file)];
    size_t len = 0;
    int r;

    if (depth >= INCLUDE_DEPTH_MAX || name_len >= sizeof(inc))
        return 0; /* libconfig refused it already */
    snprintf(inc, sizeof(inc), "%.*s", (int)name_len, name);
    if (inc[0] == '/')
        snprintf(path, sizeof(path), "%s", inc);
    else
        path_join(path, sizeof(path), c->dir, inc);
    char *text = NULL;
    if (vg_read_file(path, &text, &len) < 0)
        return 0; /* gone since libconfig read it: nothing left to misread */
    shown_path(c, inc, shown, sizeof(shown));
    if ((r = check_bytes(c, text, len, shown)) == 0)
        r = check_ints(c, text, inc, depth + 1, ints);
    free(text);
    return r;
}

static int parse(struct ctx *c)
{
    static const char *const keys[] = {"venue", "profiles", "phases",  "routes",      "zones",
                                       "lines", "cameras",  "sensors", "help_points", NULL};
    config_setting_t *root = config_root_setting(&c->cfg);
    int r;

    const char *text = c->m->text;
    if ((r = check_bytes(c, text, c->m->text_len, c->path)) < 0)
        return r;
    /* libconfig 1.5 knows no UTF-8 byte order mark; the digest still covers it (read_text) */
    if (strncmp(text, "\xef\xbb\xbf", 3) == 0)
        text += 3;
    if (config_read_string(&c->cfg, text) != CONFIG_TRUE) {
        char file[sizeof(c->err->file)];
        shown_path(c, config_error_file(&c->cfg), file, sizeof(file));
        return fail_at(c, file, config_error_line(&c->cfg), "syntax", "%s",
                       config_error_text(&c->cfg));
    }
    root = config_root_setting(&c->cfg);
    long ints = 0;
    if ((r = check_ints(c, text, NULL, 0, &ints)) < 0)
        return r;
    if ((r = check_keys(c, root, "", keys)) < 0 || (r = load_venue(c, root)) < 0 ||
        (r = load_profiles(c, root)) < 0 || (r = pick_default_profile(c, root)) < 0 ||
        (r = load_phases(c, root)) < 0 || (r = load_routes(c, root)) < 0 ||
        (r = load_zones(c, root)) < 0 || (r = load_lines(c, root)) < 0 ||
        (r = load_cameras(c, root)) < 0 || (r = load_sensors(c, root)) < 0 ||
        (r = load_help_points(c, root)) < 0 || (r = build_reverse(c)) < 0)
        return r;
    return 0;
}

int vg_model_load(const char *path, vg_model **ret, vg_model_error *ret_err)
{
    struct ctx c = {.err = ret_err, .path = path};
    char *dir = c.dir;
    int r;

    if (!path || !ret)
        return -EINVAL;
    c.m = calloc(1, sizeof(*c.m));
    if (!c.m)
        return oom(&c);
    c.m->path = vg__arena_strdup(&c.m->arena, path);
    if (!c.m->path) {
        r = oom(&c);
        goto out_free;
    }
    if ((r = read_text(&c, path)) < 0)
        goto out_free;

    /* @include paths are relative to the model's folder, not the working directory. */
    snprintf(dir, sizeof(c.dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    else
        snprintf(dir, sizeof(c.dir), ".");
    config_init(&c.cfg);
    config_set_include_dir(&c.cfg, dir);
    r = parse(&c);
    config_destroy(&c.cfg);
    if (r < 0)
        goto out_free;
    *ret = c.m;
    return 0;
out_free:
    vg_model_free(&c.m);
    return r;
}
