/* Stable snake_case names of the enums the model file refers to in text (zone types, sensor
 * kinds, grades, feeds, alert kinds), both ways. The names are part of the model format and
 * of the JSON wire form: append, never rename. */
#include "vigil/model.h"

#include <errno.h>
#include <string.h>

static const char *const zone_type_names[VG_ZONE_TYPE_COUNT] = {
    "moving", "standing", "stair", "queue", "seated",
};

static const char *const sensor_kind_names[VG_SENSOR_KIND_COUNT] = {
    "temperature", "humidity",          "wbgt", "co2",  "noise", "smoke", "vibration",
    "door",        "water_temperature", "pm25", "wind", "other",
};

static const char *const grade_names[VG_GRADE_COUNT] = {
    "clear", "advisory", "warning", "critical", "emergency",
};

static const char *const feed_names[VG_FEED_COUNT] = {
    "security",
    "medical",
    "technical",
    "supervisor",
};

static const char *const alert_kind_names[VG_ALERT_KIND_COUNT] = {
    "density",        "trend_to_critical",
    "flow",           "pressure",
    "occupancy",      "occupancy_mismatch",
    "sensor_stale",   "sensor_stuck",
    "sensor_range",   "sensor_disagree",
    "wbgt",           "co2",
    "noise",          "smoke",
    "sensor_limit",   "anomaly",
    "help_medical",   "help_security",
    "help_fire",      "help_other",
    "camera_health",  "archive_backlog",
    "ingest_rejects", "flood_summary",
};

static const char *name_of(const char *const *names, int count, int v)
{
    if (v < 0 || v >= count)
        return "unknown";
    return names[v];
}

static int parse(const char *const *names, int count, const char *name, int *ret)
{
    if (!name)
        return -EINVAL;
    for (int i = 0; i < count; i++)
        if (strcmp(names[i], name) == 0) {
            *ret = i;
            return 0;
        }
    return -EINVAL;
}

const char *vg_zone_type_name(enum vg_zone_type t)
{
    return name_of(zone_type_names, VG_ZONE_TYPE_COUNT, (int)t);
}

const char *vg_sensor_kind_name(enum vg_sensor_kind k)
{
    return name_of(sensor_kind_names, VG_SENSOR_KIND_COUNT, (int)k);
}

const char *vg_grade_name(enum vg_grade g)
{
    return name_of(grade_names, VG_GRADE_COUNT, (int)g);
}

const char *vg_feed_name(enum vg_feed f)
{
    return name_of(feed_names, VG_FEED_COUNT, (int)f);
}

const char *vg_alert_kind_name(enum vg_alert_kind k)
{
    return name_of(alert_kind_names, VG_ALERT_KIND_COUNT, (int)k);
}

#define DEFINE_PARSE(fn, type, names, count)                                                       \
    int fn(const char *name, type *ret)                                                            \
    {                                                                                              \
        int v, r = parse(names, count, name, &v);                                                  \
        if (r < 0)                                                                                 \
            return r;                                                                              \
        *ret = (type)v;                                                                            \
        return 0;                                                                                  \
    }

DEFINE_PARSE(vg_zone_type_parse, enum vg_zone_type, zone_type_names, VG_ZONE_TYPE_COUNT)
DEFINE_PARSE(vg_sensor_kind_parse, enum vg_sensor_kind, sensor_kind_names, VG_SENSOR_KIND_COUNT)
DEFINE_PARSE(vg_grade_parse, enum vg_grade, grade_names, VG_GRADE_COUNT)
DEFINE_PARSE(vg_feed_parse, enum vg_feed, feed_names, VG_FEED_COUNT)
DEFINE_PARSE(vg_alert_kind_parse, enum vg_alert_kind, alert_kind_names, VG_ALERT_KIND_COUNT)

enum vg_alert_kind vg_sensor_kind_alert(enum vg_sensor_kind k)
{
    switch (k) {
    case VG_SENSOR_WBGT:
        return VG_ALERT_WBGT;
    case VG_SENSOR_CO2:
        return VG_ALERT_CO2;
    case VG_SENSOR_NOISE:
        return VG_ALERT_NOISE;
    case VG_SENSOR_SMOKE:
        return VG_ALERT_SMOKE;
    default:
        return VG_ALERT_SENSOR_LIMIT;
    }
}
