/* Stable names of the analysis enums (used in JSON, metrics and logs), the model-only
 * reading checks and Fruin's level-of-service tables. */
#include "vigil/analysis.h"

#include <errno.h>
#include <math.h>
#include <string.h>

static const char *const reject_names[VG_REJECT_COUNT] = {
    [VG_REJECT_NONE] = "none",
    [VG_REJECT_MALFORMED] = "malformed",
    [VG_REJECT_OVERSIZED] = "oversized",
    [VG_REJECT_WRONG_TYPE] = "wrong_type",
    [VG_REJECT_NOT_FINITE] = "not_finite",
    [VG_REJECT_NEGATIVE_COUNT] = "negative_count",
    [VG_REJECT_UNKNOWN_TOPIC] = "unknown_topic",
    [VG_REJECT_UNKNOWN_ZONE] = "unknown_zone",
    [VG_REJECT_UNKNOWN_SENSOR] = "unknown_sensor",
    [VG_REJECT_UNKNOWN_CAMERA] = "unknown_camera",
    [VG_REJECT_UNKNOWN_LINE] = "unknown_line",
    [VG_REJECT_UNKNOWN_HELP_POINT] = "unknown_help_point",
    [VG_REJECT_OUT_OF_RANGE] = "out_of_range",
    [VG_REJECT_TOO_OLD] = "too_old",
    [VG_REJECT_TOO_FAR_FUTURE] = "too_far_future",
    [VG_REJECT_DUPLICATE] = "duplicate",
    [VG_REJECT_BAD_VERSION] = "bad_version",
};

static const char *const reading_type_names[VG_READING_TYPE_END] = {
    [0] = "unknown",
    [VG_READING_SENSOR] = "sensor",
    [VG_READING_COUNT] = "count",
    [VG_READING_SPEED_VAR] = "speed_var",
    [VG_READING_LINE] = "line",
    [VG_READING_HELP] = "help",
    [VG_READING_CAMERA_HEALTH] = "camera_health",
};

static const char *const help_names[VG_HELP_TYPE_COUNT] = {"medical", "security", "fire", "other"};
static const char *const camera_status_names[VG_CAMERA_STATUS_COUNT] = {"ok", "frozen", "black",
                                                                        "covered", "stopped"};
static const char *const action_names[VG_ALERT_ACTION_COUNT] = {"raise", "change", "clear"};
static const char *const source_type_names[VG_SOURCE_TYPE_COUNT] = {"none",   "zone", "sensor",
                                                                    "camera", "line", "help_point"};

const char *vg_reject_name(enum vg_reject why)
{
    return (unsigned)why < VG_REJECT_COUNT ? reject_names[why] : "unknown";
}

const char *vg_reading_type_name(enum vg_reading_type t)
{
    return (unsigned)t < VG_READING_TYPE_END ? reading_type_names[t] : "unknown";
}

const char *vg_help_type_name(enum vg_help_type t)
{
    return (unsigned)t < VG_HELP_TYPE_COUNT ? help_names[t] : "unknown";
}

const char *vg_camera_status_name(enum vg_camera_status s)
{
    return (unsigned)s < VG_CAMERA_STATUS_COUNT ? camera_status_names[s] : "unknown";
}

const char *vg_alert_action_name(enum vg_alert_action a)
{
    return (unsigned)a < VG_ALERT_ACTION_COUNT ? action_names[a] : "unknown";
}

const char *vg_source_type_name(enum vg_source_type t)
{
    return (unsigned)t < VG_SOURCE_TYPE_COUNT ? source_type_names[t] : "unknown";
}

static int parse_name(const char *const *names, int n, const char *name, int *ret)
{
    if (!name)
        return -EINVAL;
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0) {
            *ret = i;
            return 0;
        }
    }
    return -EINVAL;
}

int vg_help_type_parse(const char *name, enum vg_help_type *ret_type)
{
    int v, r;

    if (!ret_type)
        return -EINVAL;
    r = parse_name(help_names, VG_HELP_TYPE_COUNT, name, &v);
    if (r == 0)
        *ret_type = (enum vg_help_type)v;
    return r;
}

int vg_camera_status_parse(const char *name, enum vg_camera_status *ret_status)
{
    int v, r;

    if (!ret_status)
        return -EINVAL;
    r = parse_name(camera_status_names, VG_CAMERA_STATUS_COUNT, name, &v);
    if (r == 0)
        *ret_status = (enum vg_camera_status)v;
    return r;
}

enum vg_reject vg_reading_check(const vg_model *m, const vg_reading *r)
{
    uint32_t slot;

    if (!m || !r)
        return VG_REJECT_MALFORMED;
    switch (r->type) {
    case VG_READING_SENSOR: {
        const vg_sensor *s = vg_model_sensor(m, r->source);

        if (!s)
            return VG_REJECT_UNKNOWN_SENSOR;
        if (!isfinite(r->value))
            return VG_REJECT_NOT_FINITE;
        /* NaN-safe: a range limit that is NaN never refuses */
        if (r->value < s->min || r->value > s->max)
            return VG_REJECT_OUT_OF_RANGE;
        return VG_REJECT_NONE;
    }
    case VG_READING_COUNT:
    case VG_READING_SPEED_VAR:
        if (!vg_model_camera(m, r->source))
            return VG_REJECT_UNKNOWN_CAMERA;
        if (vg_model_camera_zone_slot(m, r->source, r->zone, &slot) < 0)
            return VG_REJECT_UNKNOWN_ZONE;
        if (!isfinite(r->value))
            return VG_REJECT_NOT_FINITE;
        if (r->value < 0) /* a variance below 0 is impossible, not a count */
            return r->type == VG_READING_COUNT ? VG_REJECT_NEGATIVE_COUNT
                                               : VG_REJECT_OUT_OF_RANGE;
        if (r->value > VG_READING_COUNT_MAX)
            return VG_REJECT_OUT_OF_RANGE;
        return VG_REJECT_NONE;
    case VG_READING_LINE:
        if (!vg_model_line(m, r->source))
            return VG_REJECT_UNKNOWN_LINE;
        if (!isfinite(r->value) || !isfinite(r->value2))
            return VG_REJECT_NOT_FINITE;
        if (r->value < 0 || r->value2 < 0)
            return VG_REJECT_NEGATIVE_COUNT;
        if (r->value > VG_READING_COUNT_MAX || r->value2 > VG_READING_COUNT_MAX)
            return VG_REJECT_OUT_OF_RANGE;
        return VG_REJECT_NONE;
    case VG_READING_HELP:
        if (!vg_model_help_point(m, r->source))
            return VG_REJECT_UNKNOWN_HELP_POINT;
        if (r->sub >= VG_HELP_TYPE_COUNT)
            return VG_REJECT_WRONG_TYPE;
        return VG_REJECT_NONE;
    case VG_READING_CAMERA_HEALTH:
        if (!vg_model_camera(m, r->source))
            return VG_REJECT_UNKNOWN_CAMERA;
        if (r->sub >= VG_CAMERA_STATUS_COUNT)
            return VG_REJECT_WRONG_TYPE;
        return VG_REJECT_NONE;
    default:
        return VG_REJECT_MALFORMED;
    }
}

/* Fruin's tables as densities (p/m²), the reciprocals of his area-per-person bounds:
 * the letter is A plus the number of bounds the density reaches. */
static const double los_walkway[5] = {0.31, 0.43, 0.72, 1.08, 2.17};
static const double los_stair[5] = {0.54, 0.72, 1.08, 1.54, 2.69};
static const double los_queue[5] = {0.83, 1.08, 1.54, 3.57, 5.26};

char vg_fruin_los(enum vg_zone_type type, double density_per_m2)
{
    const double *b;
    int i;

    if (!(density_per_m2 >= 0))
        return '-';
    b = type == VG_ZONE_MOVING ? los_walkway : type == VG_ZONE_STAIR ? los_stair : los_queue;
    for (i = 0; i < 5 && density_per_m2 >= b[i]; i++)
        ;
    return (char)('A' + i);
}
