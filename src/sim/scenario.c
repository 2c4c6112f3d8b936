/* Scenario files: an event day and its incidents, in libconfig (format: docs/sim.md),
 * validated against the venue model so that every error names the file, the line and the
 * key before anything runs. */
#include "sim_priv.h"
#include "vigil/common.h"
#include "vigil/model.h"

#include <errno.h>
#include <libconfig.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const incident_names[VG_INCIDENT_TYPE_COUNT] = {
    [VG_INCIDENT_GATE_CLOSED] = "gate_closed",
    [VG_INCIDENT_EXIT_BLOCKED] = "exit_blocked",
    [VG_INCIDENT_SURGE] = "surge",
    [VG_INCIDENT_HEAT_WAVE] = "heat_wave",
    [VG_INCIDENT_VENTILATION_FAILURE] = "ventilation_failure",
    [VG_INCIDENT_CAMERA_DEAD] = "camera_dead",
    [VG_INCIDENT_SENSOR_STUCK] = "sensor_stuck",
    [VG_INCIDENT_HELP_PRESS] = "help_press",
    [VG_INCIDENT_COLLAPSE] = "collapse",
};

const char *vg_incident_type_name(enum vg_incident_type t)
{
    if ((unsigned)t >= VG_INCIDENT_TYPE_COUNT)
        return "unknown";
    return incident_names[t];
}

int vg_incident_type_parse(const char *name, enum vg_incident_type *ret_type)
{
    if (!name || !ret_type)
        return -EINVAL;
    for (int i = 0; i < VG_INCIDENT_TYPE_COUNT; i++)
        if (strcmp(name, incident_names[i]) == 0) {
            *ret_type = (enum vg_incident_type)i;
            return 0;
        }
    return -EINVAL;
}

int vg_incident_is_buildup(enum vg_incident_type t)
{
    return t == VG_INCIDENT_GATE_CLOSED || t == VG_INCIDENT_EXIT_BLOCKED ||
           t == VG_INCIDENT_SURGE;
}

/* ---- loading ---- */

typedef struct loader {
    const char *path;
    const vg_model *m;
    vg_scenario *s;
    vg_scenario_error *err;
} loader;

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int fail(loader *ld, const config_setting_t *at, const char *key, const char *fmt, ...)
{
    if (ld->err) {
        va_list ap;
        const char *file = at ? config_setting_source_file(at) : NULL;

        memset(ld->err, 0, sizeof(*ld->err));
        snprintf(ld->err->file, sizeof(ld->err->file), "%s", file ? file : ld->path);
        ld->err->line = at ? (int)config_setting_source_line(at) : 0;
        snprintf(ld->err->key, sizeof(ld->err->key), "%s", key ? key : "");
        va_start(ap, fmt);
        vsnprintf(ld->err->message, sizeof(ld->err->message), fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* A key the scenario language does not have is refused, like the model's: a misspelt
 * `incident` would otherwise load a day without incidents, and score it as passed. */
static int check_keys(loader *ld, const config_setting_t *g, const char *prefix,
                      const char *const *keys)
{
    char key[200];
    const config_setting_t *e = vg_config_unknown_key(g, keys, prefix, key, sizeof(key));

    return e ? fail(ld, e, key, "unknown key") : 0;
}

static char *keep(vg_scenario *s, const char *str)
{
    char **grown;
    char *copy = strdup(str ? str : "");

    if (!copy)
        return NULL;
    grown = realloc(s->strings, (s->n_strings + 1) * sizeof(*grown));
    if (!grown) {
        free(copy);
        return NULL;
    }
    s->strings = grown;
    s->strings[s->n_strings++] = copy;
    return copy;
}

static int is_number(const config_setting_t *st)
{
    int t = config_setting_type(st);
    return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64 || t == CONFIG_TYPE_FLOAT;
}

/* A number setting of group g. Returns 1 and *ret when present, 0 when absent, <0 on a
 * setting of the wrong type (error filled). */
static int get_number(loader *ld, const config_setting_t *g, const char *name,
                      const char *keypath, double *ret)
{
    const config_setting_t *st = config_setting_get_member(g, name);
    double v;

    if (!st)
        return 0;
    if (!is_number(st))
        return fail(ld, st, keypath, "must be a number");
    v = config_setting_get_float(st);
    if (config_setting_type(st) == CONFIG_TYPE_INT)
        v = config_setting_get_int(st);
    else if (config_setting_type(st) == CONFIG_TYPE_INT64)
        v = (double)config_setting_get_int64(st);
    if (!isfinite(v))
        return fail(ld, st, keypath, "must be a finite number");
    *ret = v;
    return 1;
}

static int get_string(loader *ld, const config_setting_t *g, const char *name,
                      const char *keypath, const char **ret)
{
    const config_setting_t *st = config_setting_get_member(g, name);

    if (!st)
        return 0;
    if (config_setting_type(st) != CONFIG_TYPE_STRING)
        return fail(ld, st, keypath, "must be a string");
    *ret = config_setting_get_string(st);
    return 1;
}

static int get_window(loader *ld, const config_setting_t *root, const char *name,
                      int required, vg__window *ret)
{
    const config_setting_t *g = config_setting_get_member(root, name);
    char key[96];
    double from = NAN, to = NAN;
    double dur = (double)ld->s->duration_ns / 1e9;
    int r;

    if (!g) {
        if (required)
            return fail(ld, root, name, "missing (a group { from = S; to = S; })");
        return 0;
    }
    if (!config_setting_is_group(g))
        return fail(ld, g, name, "must be a group { from = S; to = S; }");
    snprintf(key, sizeof(key), "%s.from", name);
    r = get_number(ld, g, "from", key, &from);
    if (r < 0)
        return r;
    if (r == 0)
        return fail(ld, g, key, "missing");
    snprintf(key, sizeof(key), "%s.to", name);
    r = get_number(ld, g, "to", key, &to);
    if (r < 0)
        return r;
    if (r == 0)
        return fail(ld, g, key, "missing");
    if (from < 0 || to > dur)
        return fail(ld, g, name, "window [%g, %g] s must lie within the day [0, %g] s", from,
                    to, dur);
    if (!(from < to))
        return fail(ld, g, name, "from (%g) must be before to (%g)", from, to);
    ret->from_s = from;
    ret->to_s = to;
    return 1;
}

static int find_target(loader *ld, enum vg_incident_type t, const config_setting_t *g,
                       const char *idkey, vg_incident *inc)
{
    const vg_model *m = ld->m;
    const char *name = NULL, *zone = NULL;
    const char *tkey;
    char key[200];
    int r;

    switch (t) {
    case VG_INCIDENT_GATE_CLOSED:
    case VG_INCIDENT_EXIT_BLOCKED:
        tkey = "line";
        break;
    case VG_INCIDENT_CAMERA_DEAD:
        tkey = "camera";
        break;
    case VG_INCIDENT_SENSOR_STUCK:
        tkey = "sensor";
        break;
    case VG_INCIDENT_HELP_PRESS:
        tkey = "help_point";
        break;
    case VG_INCIDENT_COLLAPSE:
        /* Where the spectator is; the steward reports through that zone's help point
         * unless help_point names another. */
        tkey = config_setting_get_member(g, "help_point") ? "help_point" : "zone";
        break;
    default:
        tkey = "zone";
        break;
    }
    snprintf(key, sizeof(key), "%s.%s", idkey, tkey);
    r = get_string(ld, g, tkey, key, &name);
    if (r < 0)
        return r;
    if (r == 0)
        return fail(ld, g, key, "missing: a %s incident names its %s", vg_incident_type_name(t),
                    tkey);
    /* Only the type's target and `zone` are read: any other target key would be ignored
     * in silence, so a help press naming a sensor must be a mistake. */
    static const char *const target_keys[] = {"zone", "line", "camera", "sensor", "help_point"};
    for (size_t i = 0; i < sizeof(target_keys) / sizeof(target_keys[0]); i++) {
        const config_setting_t *other = config_setting_get_member(g, target_keys[i]);
        if (other && strcmp(target_keys[i], tkey) != 0 && strcmp(target_keys[i], "zone") != 0) {
            snprintf(key, sizeof(key), "%s.%s", idkey, target_keys[i]);
            return fail(ld, other, key, "a %s incident takes no %s (its target is its %s)",
                        vg_incident_type_name(t), target_keys[i], tkey);
        }
    }
    inc->target = keep(ld->s, name);
    if (!inc->target)
        return -ENOMEM;
    inc->zone = VG_MODEL_NONE;

    const config_setting_t *at = config_setting_get_member(g, tkey);
    if (strcmp(tkey, "line") == 0) {
        if (vg_model_find_line(m, name, &inc->target_idx) < 0)
            return fail(ld, at, key, "no line '%s' in the model", name);
    } else if (strcmp(tkey, "camera") == 0) {
        if (vg_model_find_camera(m, name, &inc->target_idx) < 0)
            return fail(ld, at, key, "no camera '%s' in the model", name);
        inc->zone = vg_model_camera(m, inc->target_idx)->zones[0].zone;
    } else if (strcmp(tkey, "sensor") == 0) {
        const vg_sensor *sn;
        if (vg_model_find_sensor(m, name, &inc->target_idx) < 0)
            return fail(ld, at, key, "no sensor '%s' in the model", name);
        sn = vg_model_sensor(m, inc->target_idx);
        if (sn->stuck_after_ns <= 0)
            return fail(ld, at, key,
                        "sensor '%s' has no stuck detection in the model (stuck after 0)",
                        name);
        inc->zone = sn->zone;
    } else if (strcmp(tkey, "help_point") == 0) {
        if (vg_model_find_help_point(m, name, &inc->target_idx) < 0)
            return fail(ld, at, key, "no help point '%s' in the model", name);
        inc->zone = vg_model_help_point(m, inc->target_idx)->zone;
    } else {
        const vg_zone *z;
        if (vg_model_find_zone(m, name, &inc->target_idx) < 0)
            return fail(ld, at, key, "no zone '%s' in the model", name);
        inc->zone = inc->target_idx;
        z = vg_model_zone(m, inc->target_idx);
        if (t == VG_INCIDENT_HEAT_WAVE || t == VG_INCIDENT_VENTILATION_FAILURE) {
            enum vg_sensor_kind want =
                t == VG_INCIDENT_HEAT_WAVE ? VG_SENSOR_WBGT : VG_SENSOR_CO2;
            int found = 0;
            for (uint32_t i = 0; i < z->sensor_count; i++)
                found |= vg_model_sensor(m, z->sensors[i])->kind == want;
            if (!found)
                return fail(ld, at, key, "zone '%s' has no %s sensor", name,
                            vg_sensor_kind_name(want));
        }
        if (t == VG_INCIDENT_COLLAPSE) {
            if (z->help_point_count == 0)
                return fail(ld, at, key,
                            "zone '%s' has no help point: name the steward's help_point", name);
            inc->target_idx = z->help_points[0];
        }
    }

    /* A line incident is scored in the zone that builds up: given, or found by the run. */
    snprintf(key, sizeof(key), "%s.zone", idkey);
    if (strcmp(tkey, "zone") != 0) {
        r = get_string(ld, g, "zone", key, &zone);
        if (r < 0)
            return r;
        if (r > 0) {
            uint32_t zi;
            if (vg_model_find_zone(m, zone, &zi) < 0)
                return fail(ld, config_setting_get_member(g, "zone"), key,
                            "no zone '%s' in the model", zone);
            if (strcmp(tkey, "line") == 0) {
                const vg_line *l = vg_model_line(m, inc->target_idx);
                if (zi != l->zone_from && zi != l->zone_to)
                    return fail(ld, config_setting_get_member(g, "zone"), key,
                                "zone '%s' is on neither side of line '%s'", zone, name);
            } else if (strcmp(tkey, "camera") == 0) {
                /* Scored in that zone: one the camera does not see would turn a caught
                 * incident into a miss and a false alert. */
                const vg_camera *c = vg_model_camera(m, inc->target_idx);
                int seen = 0;
                for (uint32_t i = 0; i < c->zone_count; i++)
                    seen |= c->zones[i].zone == zi;
                if (!seen)
                    return fail(ld, config_setting_get_member(g, "zone"), key,
                                "camera '%s' does not cover zone '%s'", name, zone);
            } else if (t != VG_INCIDENT_COLLAPSE && zi != inc->zone) {
                /* A sensor or help point is in one zone; a collapse's zone is where the
                 * spectator is, which the steward's help point need not be. */
                return fail(ld, config_setting_get_member(g, "zone"), key,
                            "%s '%s' is in zone '%s', not '%s'", tkey, name,
                            vg_model_zone(m, inc->zone)->id, zone);
            }
            inc->zone = zi;
        }
    }
    return 0;
}

static int check_mode(loader *ld, const config_setting_t *g, const char *idkey,
                      vg_incident *inc)
{
    static const char *const cam[] = {"stopped", "black", "frozen", "covered", "silent", NULL};
    static const char *const help[] = {"medical", "security", "fire", "other", NULL};
    const char *const *allowed = NULL;
    const char *mode = "";
    char key[200];
    int r;

    if (inc->type == VG_INCIDENT_CAMERA_DEAD) {
        allowed = cam;
        mode = "stopped";
    } else if (inc->type == VG_INCIDENT_HELP_PRESS || inc->type == VG_INCIDENT_COLLAPSE) {
        allowed = help;
        mode = "medical";
    }
    snprintf(key, sizeof(key), "%s.mode", idkey);
    r = get_string(ld, g, "mode", key, &mode);
    if (r < 0)
        return r;
    if (r > 0) {
        int ok = 0;
        for (int i = 0; allowed && allowed[i]; i++)
            ok |= strcmp(mode, allowed[i]) == 0;
        if (!allowed)
            return fail(ld, config_setting_get_member(g, "mode"), key,
                        "a %s incident takes no mode", vg_incident_type_name(inc->type));
        if (!ok)
            return fail(ld, config_setting_get_member(g, "mode"), key,
                        "'%s' is not one of %s", mode,
                        allowed == cam ? "stopped, black, frozen, covered, silent"
                                       : "medical, security, fire, other");
    }
    inc->mode = keep(ld->s, mode);
    return inc->mode ? 0 : -ENOMEM;
}

static double default_magnitude(enum vg_incident_type t)
{
    switch (t) {
    case VG_INCIDENT_GATE_CLOSED:
    case VG_INCIDENT_EXIT_BLOCKED:
        return 1.0; /* fraction of the line's capacity lost */
    case VG_INCIDENT_SURGE:
        return 3.0; /* p/m² added to the zone */
    case VG_INCIDENT_HEAT_WAVE:
        return 14.0; /* °C WBGT rise at the peak */
    case VG_INCIDENT_VENTILATION_FAILURE:
        return 2000.0; /* ppm CO2 rise at the peak */
    default:
        return 0.0;
    }
}

static int load_incident(loader *ld, const config_setting_t *g, uint32_t pos, vg_incident *inc)
{
    vg_scenario *s = ld->s;
    char idkey[128], key[200];
    const char *id = NULL, *type = NULL;
    double start = 0, dur = NAN, mag = NAN;
    double day = (double)s->duration_ns / 1e9;
    int r;

    snprintf(idkey, sizeof(idkey), "incidents[%u]", pos);
    if (!config_setting_is_group(g))
        return fail(ld, g, idkey, "each incident is a group { id = ...; type = ...; ... }");
    snprintf(key, sizeof(key), "%s.id", idkey);
    r = get_string(ld, g, "id", key, &id);
    if (r < 0)
        return r;
    if (r == 0 || !*id)
        return fail(ld, g, key, "missing: every incident has an id");
    if (strlen(id) > VG_MODEL_ID_MAX)
        return fail(ld, g, key, "longer than %d characters", VG_MODEL_ID_MAX);
    for (uint32_t i = 0; i < pos; i++)
        if (strcmp(s->incidents[i].id, id) == 0)
            return fail(ld, config_setting_get_member(g, "id"), key,
                        "duplicate id '%s' (also on line %d)", id, s->incidents[i].line);
    snprintf(idkey, sizeof(idkey), "incidents.%s", id);
    static const char *const incident_keys[] = {"id",     "type",   "start",      "duration",
                                                 "magnitude", "mode", "zone",     "line",
                                                 "camera", "sensor", "help_point", NULL};
    if ((r = check_keys(ld, g, idkey, incident_keys)) < 0)
        return r;
    inc->id = keep(s, id);
    if (!inc->id)
        return -ENOMEM;
    inc->line = (int)config_setting_source_line(g);

    snprintf(key, sizeof(key), "%s.type", idkey);
    r = get_string(ld, g, "type", key, &type);
    if (r < 0)
        return r;
    if (r == 0)
        return fail(ld, g, key, "missing");
    if (vg_incident_type_parse(type, &inc->type) < 0)
        return fail(ld, config_setting_get_member(g, "type"), key,
                    "unknown incident type '%s' (gate_closed, exit_blocked, surge, heat_wave, "
                    "ventilation_failure, camera_dead, sensor_stuck, help_press, collapse)",
                    type);

    snprintf(key, sizeof(key), "%s.start", idkey);
    r = get_number(ld, g, "start", key, &start);
    if (r < 0)
        return r;
    if (r == 0)
        return fail(ld, g, key, "missing (seconds from the scenario's start)");
    /* at least a second before the day ends: an incident needs a duration to interpolate */
    if (start < 0 || start > day - 1)
        return fail(ld, config_setting_get_member(g, "start"), key,
                    "%g s is outside the day [0, %g] s", start, day - 1);
    snprintf(key, sizeof(key), "%s.duration", idkey);
    r = get_number(ld, g, "duration", key, &dur);
    if (r < 0)
        return r;
    if (r > 0 && !(dur >= 1))
        return fail(ld, config_setting_get_member(g, "duration"), key, "must be at least 1 s");
    if (r == 0 || start + dur > day)
        dur = day - start;
    snprintf(key, sizeof(key), "%s.magnitude", idkey);
    r = get_number(ld, g, "magnitude", key, &mag);
    if (r < 0)
        return r;
    if (r == 0)
        mag = default_magnitude(inc->type);
    if (mag < 0 ||
        ((inc->type == VG_INCIDENT_GATE_CLOSED || inc->type == VG_INCIDENT_EXIT_BLOCKED) &&
         mag > 1))
        return fail(ld, config_setting_get_member(g, "magnitude"), key,
                    "%g is out of range (%s)", mag,
                    inc->type <= VG_INCIDENT_EXIT_BLOCKED ? "0..1 of the line's capacity"
                                                          : ">= 0");
    inc->magnitude = mag;
    inc->t_start_ns = s->start_ns + (int64_t)llround(start * 1e9);
    inc->t_end_ns = s->start_ns + (int64_t)llround((start + dur) * 1e9);

    r = find_target(ld, inc->type, g, idkey, inc);
    if (r < 0)
        return r;
    return check_mode(ld, g, idkey, inc);
}

static int load_entries(loader *ld, const config_setting_t *root)
{
    const config_setting_t *l = config_setting_get_member(root, "entries");
    vg_scenario *s = ld->s;
    double sum = 0;
    int n;

    if (!l)
        return 0;
    if (!config_setting_is_list(l) || config_setting_length(l) == 0)
        return fail(ld, l, "entries", "must be a non-empty list ( { zone = \"...\"; share = F; } )");
    n = config_setting_length(l);
    s->entries = calloc((size_t)n, sizeof(*s->entries));
    if (!s->entries)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(l, (unsigned)i);
        char key[96];
        const char *zone = NULL;
        double share = 1.0;
        int r;

        static const char *const entry_keys[] = {"zone", "share", NULL};
        snprintf(key, sizeof(key), "entries[%d]", i);
        if ((r = check_keys(ld, g, key, entry_keys)) < 0)
            return r;
        snprintf(key, sizeof(key), "entries[%d].zone", i);
        if (!config_setting_is_group(g))
            return fail(ld, g, key, "each entry is a group { zone = \"...\"; share = F; }");
        r = get_string(ld, g, "zone", key, &zone);
        if (r < 0)
            return r;
        if (r == 0)
            return fail(ld, g, key, "missing");
        if (vg_model_find_zone(ld->m, zone, &s->entries[i].zone) < 0)
            return fail(ld, config_setting_get_member(g, "zone"), key, "no zone '%s' in the model",
                        zone);
        for (int j = 0; j < i; j++)
            if (s->entries[j].zone == s->entries[i].zone)
                return fail(ld, config_setting_get_member(g, "zone"), key,
                            "zone '%s' is listed twice", zone);
        snprintf(key, sizeof(key), "entries[%d].share", i);
        r = get_number(ld, g, "share", key, &share);
        if (r < 0)
            return r;
        if (!(share > 0))
            return fail(ld, config_setting_get_member(g, "share"), key, "must be > 0");
        s->entries[i].share = share;
        sum += share;
        s->n_entries = (uint32_t)(i + 1);
    }
    for (uint32_t i = 0; i < s->n_entries; i++)
        s->entries[i].share /= sum;
    return 0;
}

static int load_root(loader *ld, const config_setting_t *root)
{
    vg_scenario *s = ld->s;
    const config_setting_t *st;
    const char *str;
    double v;
    int r;

    static const char *const root_keys[] = {
        "name",     "description", "start",   "duration",    "attendance", "ingress", "egress",
        "half_time", "kickoff",    "weather", "line_period", "incidents",  "entries", NULL};
    static const char *const window_keys[] = {"from", "to", NULL};
    static const char *const half_time_keys[] = {"from", "to", "share", NULL};
    static const char *const weather_keys[] = {"temperature", "humidity", "wbgt", NULL};
    if ((r = check_keys(ld, root, "", root_keys)) < 0 ||
        (r = check_keys(ld, config_setting_get_member(root, "ingress"), "ingress", window_keys)) < 0 ||
        (r = check_keys(ld, config_setting_get_member(root, "egress"), "egress", window_keys)) < 0 ||
        (r = check_keys(ld, config_setting_get_member(root, "half_time"), "half_time",
                        half_time_keys)) < 0 ||
        (r = check_keys(ld, config_setting_get_member(root, "weather"), "weather", weather_keys)) < 0)
        return r;
    str = "scenario";
    r = get_string(ld, root, "name", "name", &str);
    if (r < 0)
        return r;
    s->name = strdup(str);
    str = "";
    r = get_string(ld, root, "description", "description", &str);
    if (r < 0)
        return r;
    s->description = strdup(str);
    if (!s->name || !s->description)
        return -ENOMEM;

    r = get_string(ld, root, "start", "start", &str);
    if (r < 0)
        return r;
    if (r == 0)
        return fail(ld, root, "start", "missing (e.g. \"2026-07-18T18:30:00+02:00\")");
    if (vg_parse_instant(str, &s->start_ns) < 0)
        return fail(ld, config_setting_get_member(root, "start"), "start",
                    "'%s' is not an instant like \"2026-07-18T18:30:00+02:00\"", str);

    r = get_number(ld, root, "duration", "duration", &v);
    if (r < 0)
        return r;
    if (r == 0)
        return fail(ld, root, "duration", "missing (seconds)");
    if (!(v >= 60 && v <= 7 * 86400.0))
        return fail(ld, config_setting_get_member(root, "duration"), "duration",
                    "%g s is out of range (60 s .. 7 days)", v);
    s->duration_ns = (int64_t)llround(v * 1e9);

    r = get_number(ld, root, "attendance", "attendance", &v);
    if (r < 0)
        return r;
    if (r == 0)
        return fail(ld, root, "attendance", "missing (persons)");
    if (!(v >= 0 && v <= 1e7) || v != floor(v))
        return fail(ld, config_setting_get_member(root, "attendance"), "attendance",
                    "%g is not a whole number of persons in 0..10000000", v);
    s->attendance = (uint32_t)v;

    if ((r = get_window(ld, root, "ingress", 1, &s->ingress)) < 0)
        return r;
    if ((r = get_window(ld, root, "egress", 1, &s->egress)) < 0)
        return r;
    if (s->egress.from_s < s->ingress.from_s)
        return fail(ld, config_setting_get_member(root, "egress"), "egress",
                    "egress starts before ingress");
    s->half_time.from_s = s->half_time.to_s = -1;
    if ((r = get_window(ld, root, "half_time", 0, &s->half_time)) < 0)
        return r;
    s->half_time_share = 0.3;
    st = config_setting_get_member(root, "half_time");
    if (st && (r = get_number(ld, st, "share", "half_time.share", &s->half_time_share)) < 0)
        return r;
    if (s->half_time_share < 0 || s->half_time_share > 1)
        return fail(ld, config_setting_get_member(st, "share"), "half_time.share",
                    "must be in 0..1");
    s->kickoff_s = s->ingress.to_s;
    if ((r = get_number(ld, root, "kickoff", "kickoff", &s->kickoff_s)) < 0)
        return r;
    if (s->kickoff_s < 0 || s->kickoff_s > (double)s->duration_ns / 1e9)
        return fail(ld, config_setting_get_member(root, "kickoff"), "kickoff",
                    "outside the day");

    s->temperature_c = 21.0;
    s->humidity_pct = 55.0;
    s->wbgt_c = 18.0;
    st = config_setting_get_member(root, "weather");
    if (st) {
        if (!config_setting_is_group(st))
            return fail(ld, st, "weather", "must be a group");
        if ((r = get_number(ld, st, "temperature", "weather.temperature", &s->temperature_c)) < 0 ||
            (r = get_number(ld, st, "humidity", "weather.humidity", &s->humidity_pct)) < 0 ||
            (r = get_number(ld, st, "wbgt", "weather.wbgt", &s->wbgt_c)) < 0)
            return r;
        if (s->temperature_c < -40 || s->temperature_c > 55)
            return fail(ld, config_setting_get_member(st, "temperature"), "weather.temperature",
                        "%g °C is not a plausible air temperature", s->temperature_c);
        if (s->humidity_pct < 0 || s->humidity_pct > 100)
            return fail(ld, config_setting_get_member(st, "humidity"), "weather.humidity",
                        "must be in 0..100 %%");
        if (s->wbgt_c < -40 || s->wbgt_c > 45)
            return fail(ld, config_setting_get_member(st, "wbgt"), "weather.wbgt",
                        "%g °C is not a plausible WBGT", s->wbgt_c);
    }
    s->line_period_s = 10.0;
    if ((r = get_number(ld, root, "line_period", "line_period", &s->line_period_s)) < 0)
        return r;
    if (!(s->line_period_s >= 0.1 && s->line_period_s <= 3600))
        return fail(ld, config_setting_get_member(root, "line_period"), "line_period",
                    "must be in 0.1..3600 s");

    if ((r = load_entries(ld, root)) < 0)
        return r;

    st = config_setting_get_member(root, "incidents");
    if (st) {
        int n;
        if (!config_setting_is_list(st))
            return fail(ld, st, "incidents", "must be a list ( { ... }, { ... } )");
        n = config_setting_length(st);
        if (n > 0) {
            s->incidents = calloc((size_t)n, sizeof(*s->incidents));
            if (!s->incidents)
                return -ENOMEM;
        }
        for (int i = 0; i < n; i++) {
            r = load_incident(ld, config_setting_get_elem(st, (unsigned)i), (uint32_t)i,
                              &s->incidents[i]);
            if (r < 0)
                return r;
            s->n_incidents = (uint32_t)(i + 1);
        }
    }
    return 0;
}

int vg_scenario_load(const char *path, const vg_model *m, vg_scenario **ret,
                     vg_scenario_error *ret_err)
{
    config_t cfg;
    loader ld = {.path = path, .m = m, .err = ret_err};
    FILE *f;
    int r;

    if (!path || !m || !ret)
        return -EINVAL;
    f = fopen(path, "r");
    if (!f) {
        r = -errno;
        if (ret_err) {
            memset(ret_err, 0, sizeof(*ret_err));
            snprintf(ret_err->file, sizeof(ret_err->file), "%s", path);
            snprintf(ret_err->message, sizeof(ret_err->message), "cannot read: %s",
                     strerror(-r));
        }
        return r;
    }
    ld.s = calloc(1, sizeof(*ld.s));
    if (!ld.s) {
        fclose(f);
        return -ENOMEM;
    }
    ld.s->model = m;
    ld.s->path = strdup(path);
    config_init(&cfg);
    /* @include files resolve relative to the scenario's folder. */
    {
        char dir[512];
        const char *slash = strrchr(path, '/');
        if (slash && (size_t)(slash - path) < sizeof(dir)) {
            memcpy(dir, path, (size_t)(slash - path));
            dir[slash - path] = '\0';
            config_set_include_dir(&cfg, dir);
        }
    }
    if (!config_read(&cfg, f)) {
        if (ret_err) {
            const char *ef = config_error_file(&cfg);
            memset(ret_err, 0, sizeof(*ret_err));
            snprintf(ret_err->file, sizeof(ret_err->file), "%s", ef ? ef : path);
            ret_err->line = config_error_line(&cfg);
            snprintf(ret_err->message, sizeof(ret_err->message), "%s",
                     config_error_text(&cfg));
        }
        r = -EINVAL;
        goto out;
    }
    r = ld.s->path ? load_root(&ld, config_root_setting(&cfg)) : -ENOMEM;
out:
    config_destroy(&cfg);
    fclose(f);
    if (r < 0) {
        if (r == -ENOMEM && ret_err) {
            memset(ret_err, 0, sizeof(*ret_err));
            snprintf(ret_err->file, sizeof(ret_err->file), "%s", path);
            snprintf(ret_err->message, sizeof(ret_err->message), "out of memory");
        }
        vg_scenario_free(&ld.s);
        return r;
    }
    *ret = ld.s;
    return 0;
}

void vg_scenario_free(vg_scenario **sp)
{
    vg_scenario *s;

    if (!sp || !*sp)
        return;
    s = *sp;
    for (uint32_t i = 0; i < s->n_strings; i++)
        free(s->strings[i]);
    free(s->strings);
    free(s->incidents);
    free(s->entries);
    free(s->name);
    free(s->description);
    free(s->path);
    free(s);
    *sp = NULL;
}

const char *vg_scenario_name(const vg_scenario *s)
{
    return s ? s->name : NULL;
}

int64_t vg_scenario_start_ns(const vg_scenario *s)
{
    return s ? s->start_ns : 0;
}

int64_t vg_scenario_duration_ns(const vg_scenario *s)
{
    return s ? s->duration_ns : 0;
}

uint32_t vg_scenario_attendance(const vg_scenario *s)
{
    return s ? s->attendance : 0;
}

uint32_t vg_scenario_incident_count(const vg_scenario *s)
{
    return s ? s->n_incidents : 0;
}

const vg_incident *vg_scenario_incident(const vg_scenario *s, uint32_t idx)
{
    if (!s || idx >= s->n_incidents)
        return NULL;
    return &s->incidents[idx];
}
