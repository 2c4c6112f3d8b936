/* The venue model: zones, counting lines, cameras, sensors, help points, threshold profiles,
 * phases and alert routing, loaded from a libconfig file a venue engineer edits
 * (format: docs/model.md; sample: models/olympic-park.cfg).
 *
 * A loaded model is immutable: every struct below is read-only, every pointer in it stays
 * valid until vg_model_free(), and any thread may read it at the same time. Objects are
 * addressed by dense integer indices (0..count-1) in file order, so loading the same file
 * twice gives the same indices. String ids resolve to indices through hash tables built at
 * load (the vg_model_find_* functions; the `_n` variants take a length, for topic segments
 * that are not NUL-terminated).
 *
 * Thresholds are resolved at load: a zone, line or sensor carries its final limits (profile
 * defaults, then the object's overrides, then per-phase overrides), so the analysis core
 * never looks at profiles again.
 *
 * This header also owns the enums the model file names in text: zone types, sensor kinds,
 * grades, alert kinds and feeds (with their stable snake_case names). analysis.h uses them. */
#ifndef VIGIL_MODEL_H
#define VIGIL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vg_model vg_model;

/* Longest id (zone, sensor, camera, line, help point, profile, phase, venue), excluding the
 * NUL. Ids use only [A-Za-z0-9_.-] so they are valid MQTT topic segments. */
#define VG_MODEL_ID_MAX 63

/* 1 when id follows the model's rule for ids: 1 to VG_MODEL_ID_MAX letters, digits, _ - .
 * (they are MQTT topic levels and file names), else 0. Thread: any. */
int vg_model_id_valid(const char *id);

/* The model, scenario and vigil-count files share libconfig's syntax and one rule: a key the
 * format does not have is an error, since a misspelt key would otherwise leave its default
 * without a word. Returns the first member of group g whose name is not in allowed (a
 * NULL-terminated list), or NULL when there is none or g is not a group. With a buffer,
 * also writes the member's dotted path there ("prefix.name", or "name" for prefix "").
 * Thread: any. */
struct config_setting_t;
const struct config_setting_t *vg_config_unknown_key(const struct config_setting_t *g,
                                                     const char *const *allowed,
                                                     const char *prefix, char *path,
                                                     size_t path_size);

/* Most raises the chatter rule can count (profile chatter.cycles): the analysis core keeps
 * this many raise times per graded limit. */
#define VG_CHATTER_CYCLES_MAX 8

/* "No index": a phase without a profile of its own, an event time outside every phase. */
#define VG_MODEL_NONE UINT32_MAX

/* ---- enums named in the model file ---- */

enum vg_zone_type {
    VG_ZONE_MOVING = 0, /* concourse, vomitory, passage: "moving" */
    VG_ZONE_STANDING,   /* terrace, fan zone, pitch side: "standing" */
    VG_ZONE_STAIR,      /* "stair" */
    VG_ZONE_QUEUE,      /* gate and ticket-check queues: "queue" */
    VG_ZONE_SEATED,     /* stand sections: "seated" */
    VG_ZONE_TYPE_COUNT
};

/* Appended to only; the names are the model file's `kind` values. */
enum vg_sensor_kind {
    VG_SENSOR_TEMPERATURE = 0,   /* "temperature", °C */
    VG_SENSOR_HUMIDITY,          /* "humidity", % RH */
    VG_SENSOR_WBGT,              /* "wbgt", wet-bulb globe temperature °C */
    VG_SENSOR_CO2,               /* "co2", ppm */
    VG_SENSOR_NOISE,             /* "noise", LAeq dB */
    VG_SENSOR_SMOKE,             /* "smoke", 0 clear / 1 smoke detected */
    VG_SENSOR_VIBRATION,         /* "vibration", mm/s (structure) */
    VG_SENSOR_DOOR,              /* "door", 0 closed / 1 open */
    VG_SENSOR_WATER_TEMPERATURE, /* "water_temperature", °C (pools) */
    VG_SENSOR_PM25,              /* "pm25", µg/m³ */
    VG_SENSOR_WIND,              /* "wind", m/s (temporary structures, stages) */
    VG_SENSOR_OTHER,             /* "other" */
    VG_SENSOR_KIND_COUNT
};

/* Alert grades in increasing severity. VG_GRADE_CLEAR is "no alert / returned to normal". */
enum vg_grade {
    VG_GRADE_CLEAR = 0,
    VG_GRADE_ADVISORY,
    VG_GRADE_WARNING,
    VG_GRADE_CRITICAL,
    VG_GRADE_EMERGENCY,
    VG_GRADE_COUNT
};

/* Where an alert goes. Routing per alert kind comes from the model (vg_model_feed()).
 * VG_FEED_SUPERVISOR takes escalations of unacknowledged alerts. */
enum vg_feed {
    VG_FEED_SECURITY = 0,
    VG_FEED_MEDICAL,
    VG_FEED_TECHNICAL,
    VG_FEED_SUPERVISOR,
    VG_FEED_COUNT
};

/* Appended to only; the names are the keys of the model file's `routes` group.
 * Default routes are in the comment after each (docs/model.md says why). */
enum vg_alert_kind {
    VG_ALERT_DENSITY = 0,        /* security */
    VG_ALERT_TREND_TO_CRITICAL,  /* security */
    VG_ALERT_FLOW,               /* security */
    VG_ALERT_PRESSURE,           /* security */
    VG_ALERT_OCCUPANCY,          /* security: lines say the zone is over capacity */
    VG_ALERT_OCCUPANCY_MISMATCH, /* technical: lines and cameras disagree */
    VG_ALERT_SENSOR_STALE,       /* technical */
    VG_ALERT_SENSOR_STUCK,       /* technical */
    VG_ALERT_SENSOR_RANGE,       /* technical */
    VG_ALERT_SENSOR_DISAGREE,    /* technical */
    VG_ALERT_WBGT,               /* medical */
    VG_ALERT_CO2,                /* technical */
    VG_ALERT_NOISE,              /* medical */
    VG_ALERT_SMOKE,              /* security */
    VG_ALERT_SENSOR_LIMIT,       /* technical: static limit of any other sensor kind */
    VG_ALERT_ANOMALY,            /* technical */
    VG_ALERT_HELP_MEDICAL,       /* medical */
    VG_ALERT_HELP_SECURITY,      /* security */
    VG_ALERT_HELP_FIRE,          /* security */
    VG_ALERT_HELP_OTHER,         /* security */
    VG_ALERT_CAMERA_HEALTH,      /* technical */
    VG_ALERT_ARCHIVE_BACKLOG,    /* technical */
    VG_ALERT_INGEST_REJECTS,     /* technical */
    VG_ALERT_FLOOD_SUMMARY,      /* security */
    VG_ALERT_KIND_COUNT
};

/* Stable snake_case names ("moving", "wbgt", "critical", "medical", "trend_to_critical"),
 * used in the model file, JSON and logs. Out-of-range values give "unknown".
 * Thread: any; the strings are static. */
const char *vg_zone_type_name(enum vg_zone_type t);
const char *vg_sensor_kind_name(enum vg_sensor_kind k);
const char *vg_grade_name(enum vg_grade g);
const char *vg_feed_name(enum vg_feed f);
const char *vg_alert_kind_name(enum vg_alert_kind k);

/* Name -> value. Return 0 and *ret_*, or -EINVAL for NULL or an unknown name (then *ret_* is
 * untouched). Thread: any. */
int vg_zone_type_parse(const char *name, enum vg_zone_type *ret_type);
int vg_sensor_kind_parse(const char *name, enum vg_sensor_kind *ret_kind);
int vg_grade_parse(const char *name, enum vg_grade *ret_grade);
int vg_feed_parse(const char *name, enum vg_feed *ret_feed);
int vg_alert_kind_parse(const char *name, enum vg_alert_kind *ret_kind);

/* The alert kind a static limit on a sensor of this kind raises: VG_ALERT_WBGT, _CO2, _NOISE,
 * _SMOKE, else VG_ALERT_SENSOR_LIMIT. Thread: any. */
enum vg_alert_kind vg_sensor_kind_alert(enum vg_sensor_kind k);

/* ---- limits ---- */

/* One graded limit on a rising value. A grade g holds while value >= level[g]; the highest
 * such grade is the one to show.
 * - level[VG_GRADE_ADVISORY..VG_GRADE_EMERGENCY]: NaN when the grade is not used (then the
 *   comparison is false by itself). level[VG_GRADE_CLEAR] is always NaN. Used levels are
 *   non-decreasing with the grade (checked at load).
 * - deadband: a grade is left only once value < level[g] - deadband (same unit as levels).
 * - on_delay_ns: the value must hold a grade this long before it is raised to it
 *   (emergency grades fire without on-delay, per DESIGN).
 * - off_delay_ns: the value must stay below level - deadband this long before lowering. */
typedef struct vg_limit {
    double level[VG_GRADE_COUNT];
    double deadband;
    int64_t on_delay_ns;
    int64_t off_delay_ns;
} vg_limit;

/* Everything the analysis grades a zone against, resolved. */
typedef struct vg_zone_limits {
    vg_limit density;   /* p/m², from the profile's entry for the zone's type */
    vg_limit occupancy; /* fraction of capacity (1.0 = full); unused when capacity is 0 */
    vg_limit pressure;  /* crowd pressure density × speed variance, 1/s² (Helbing 2007) */
    /* Raise trend_to_critical when the predicted time to the critical density is below
     * this (0: never). */
    int64_t ttc_horizon_ns;
    /* occupancy_mismatch when |lines − cameras| > max(mismatch_min, mismatch_fraction ×
     * camera count), held for mismatch_delay_ns. */
    double mismatch_fraction;
    double mismatch_min;
    int64_t mismatch_delay_ns;
} vg_zone_limits;

/* A named threshold profile as written (or inherited) in the model file, after defaults.
 * Objects carry their resolved limits; this is for summaries, tools and the archive. */
typedef struct vg_profile {
    const char *id;
    vg_limit density[VG_ZONE_TYPE_COUNT]; /* p/m² per zone type */
    vg_limit occupancy;                   /* fraction of capacity */
    vg_limit flow;     /* fraction of the line's reference flow (82 level / 66 stair p/m/min) */
    vg_limit pressure; /* 1/s² */
    vg_limit sensor[VG_SENSOR_KIND_COUNT];    /* in the sensor kind's unit */
    double sensitivity[VG_SENSOR_KIND_COUNT]; /* anomaly detector sensitivity, [0,1] */
    int64_t ttc_horizon_ns;
    double mismatch_fraction;
    double mismatch_min;
    int64_t mismatch_delay_ns;
    double stale_factor;       /* a sensor is stale after stale_factor × its period */
    double stuck_factor;       /* stuck when flat for stuck_factor × its period (0: never) */
    uint32_t chatter_cycles;   /* this many set/clear cycles (2..VG_CHATTER_CYCLES_MAX) ... */
    int64_t chatter_window_ns; /* ... within this window flag an alert as chattering */
} vg_profile;

/* ---- objects ---- */

typedef struct vg_zone {
    const char *id;
    const char *name; /* display name; the id when not given */
    enum vg_zone_type type;
    double area_m2;     /* walkable area, > 0 */
    uint32_t capacity;  /* persons; 0 = not set (occupancy limits unused) */
    uint32_t sector;    /* index for vg_model_sector_name(): flood grouping, summaries */
    uint32_t profile;   /* index for vg_model_profile(): its own, else the venue default */
    const char *route;  /* how responders reach the zone; "" when not given */
    const char *action; /* suggested action on a crowd alert; "" when not given */
    /* The zone graph, symmetric (B lists A when A lists B), sorted, no duplicates. */
    const uint32_t *neighbours;
    uint32_t neighbour_count;
    /* Reverse indices, ascending: cameras covering the zone, sensors in it, lines with it
     * on either side, help points in it. */
    const uint32_t *cameras;
    uint32_t camera_count;
    const uint32_t *sensors;
    uint32_t sensor_count;
    const uint32_t *lines;
    uint32_t line_count;
    const uint32_t *help_points;
    uint32_t help_point_count;
    vg_zone_limits limits;              /* outside every phase */
    const vg_zone_limits *phase_limits; /* [vg_model_phase_count()], limits in each phase */
    /* 1: open to the outside (a station forecourt, a street): people come and go without
     * crossing a counting line, so line occupancy means nothing here. */
    int open;
} vg_zone;

/* A counting line (gate, vomitory, stair head). `in` crossings go zone_from -> zone_to. */
typedef struct vg_line {
    const char *id;
    const char *name;
    double width_m; /* effective width, > 0 */
    uint32_t zone_from;
    uint32_t zone_to;
    int stair;           /* 1 on stairs: reference 66 p/m/min, else 82 (Guide to Safety at
                          * Sports Grounds) */
    double ref_flow_pmm; /* persons per metre per minute: 82 or 66 unless overridden */
    uint32_t profile;    /* its own `profile`, else the venue's default profile */
    vg_limit flow;       /* absolute p/m/min: the profile's fractions × ref_flow_pmm */
} vg_line;

typedef struct vg_camera_zone {
    uint32_t zone;
    double coverage;     /* fraction of the zone's walkable area in view, (0,1] */
    const char *frigate; /* Frigate zone name (topic frigate/<name>/person), or NULL */
} vg_camera_zone;

typedef struct vg_camera {
    const char *id;
    const char *name;
    const vg_camera_zone *zones;
    uint32_t zone_count;    /* >= 1 */
    int64_t period_ns;      /* expected interval between messages */
    int64_t stale_after_ns; /* camera_health after this long without a message */
} vg_camera;

typedef struct vg_sensor {
    const char *id;
    enum vg_sensor_kind kind;
    const char *unit; /* as written, e.g. "degC", "ppm", "dB" */
    uint32_t zone;
    double min, max;        /* valid physical range: outside is a sensor_range reject */
    int64_t period_ns;      /* expected interval between readings */
    int64_t stale_after_ns; /* sensor_stale after this long without a reading */
    int64_t stuck_after_ns; /* sensor_stuck after a flat value this long (0: never) */
    uint32_t profile;       /* its own `profile`, else its zone's profile */
    vg_limit limit;         /* static limit (all levels NaN: none) */
    double sensitivity;     /* anomaly detector sensitivity in [0,1] (0.5 by default) */
    const char *z2m_device; /* zigbee2mqtt friendly name, or NULL */
    const char *z2m_field;  /* JSON field of that device's payload, or NULL */
} vg_sensor;

typedef struct vg_help_point {
    const char *id;
    const char *name;
    uint32_t zone;
} vg_help_point;

/* A named window of event time in which zones use other limits (ingress, match, egress).
 * Daily windows repeat each day in the venue's local time (utc_offset); absolute windows
 * are fixed instants. [start, end): a daily window with end <= start wraps past midnight. */
typedef struct vg_phase {
    const char *id;
    int daily; /* 1: start_s/end_s are seconds of the local day; 0: Unix seconds */
    int64_t start_s;
    int64_t end_s;
    uint32_t profile; /* profile zones use in this phase, or VG_MODEL_NONE (their own) */
} vg_phase;

/* Where a load failed. file is the file the error is in (an @include'd file when that is
 * where the bad setting is); line is 1-based, 0 when no line applies (file not readable);
 * key is the setting's path, with the object's id in place of its list position when it
 * has one ("zones.GA-Q1.area_m2", "sensors[12].kind", "profiles.default.density.moving").
 * vigil check prints "FILE:LINE: KEY: message". */
typedef struct vg_model_error {
    char file[256];
    int line;
    char key[160];
    char message[256];
} vg_model_error;

/* ---- lifecycle ---- */

/* Loads and validates a model file (and its @include files, relative to its folder).
 * path: borrowed for the call. ret_err may be NULL; on failure it is filled (always, when
 * given), on success it is left untouched.
 * Returns 0 and *ret (free with vg_model_free()); -EINVAL when the file is not valid libconfig
 * or fails validation; -ENOENT, -EACCES, ... when it cannot be read; -ENOMEM. *ret is only
 * written on success.
 * Thread: any. */
int vg_model_load(const char *path, vg_model **ret, vg_model_error *ret_err);

/* Frees the model; accepts NULL and *mp == NULL; sets *mp to NULL. Thread: any, once no
 * thread reads the model. */
void vg_model_free(vg_model **mp);

/* ---- venue ---- */

/* The venue id, used as the MQTT topic segment: vigil/<venue>/... Thread: any. */
const char *vg_model_venue(const vg_model *m);
/* Display name of the venue. Thread: any. */
const char *vg_model_venue_name(const vg_model *m);
/* The model's own version string ("" when not given). Thread: any. */
const char *vg_model_version(const vg_model *m);
/* Path it was loaded from, as given. Thread: any. */
const char *vg_model_path(const vg_model *m);
/* FNV-1a 64 of the main file's bytes: identifies the model in archives. Thread: any. */
uint64_t vg_model_digest(const vg_model *m);
/* The main file's text (NUL-terminated; *ret_len without the NUL when non-NULL), so the
 * archive can keep the model in force. @include'd files are not part of it. Thread: any. */
const char *vg_model_text(const vg_model *m, size_t *ret_len);
/* Venue local time minus UTC, in seconds (for daily phases). Thread: any. */
int32_t vg_model_utc_offset_s(const vg_model *m);

/* ---- counts and accessors ----
 * An index out of range returns NULL (sector name: NULL). Thread: any. */
uint32_t vg_model_zone_count(const vg_model *m);
uint32_t vg_model_line_count(const vg_model *m);
uint32_t vg_model_camera_count(const vg_model *m);
uint32_t vg_model_sensor_count(const vg_model *m);
uint32_t vg_model_help_point_count(const vg_model *m);
uint32_t vg_model_profile_count(const vg_model *m);
uint32_t vg_model_phase_count(const vg_model *m);
uint32_t vg_model_sector_count(const vg_model *m);

const vg_zone *vg_model_zone(const vg_model *m, uint32_t idx);
const vg_line *vg_model_line(const vg_model *m, uint32_t idx);
const vg_camera *vg_model_camera(const vg_model *m, uint32_t idx);
const vg_sensor *vg_model_sensor(const vg_model *m, uint32_t idx);
const vg_help_point *vg_model_help_point(const vg_model *m, uint32_t idx);
const vg_profile *vg_model_profile(const vg_model *m, uint32_t idx);
const vg_phase *vg_model_phase(const vg_model *m, uint32_t idx);
const char *vg_model_sector_name(const vg_model *m, uint32_t idx);

/* Number of mapped Frigate zones and zigbee2mqtt (device, field) pairs. Thread: any. */
uint32_t vg_model_frigate_count(const vg_model *m);
uint32_t vg_model_z2m_count(const vg_model *m);
/* Number of distinct zigbee2mqtt devices among those pairs. Thread: any. */
uint32_t vg_model_z2m_device_count(const vg_model *m);

/* ---- lookups by id (hash tables; no allocation, no locks) ----
 * Return 0 and *ret_idx, -ENOENT when no such id (then *ret_idx is untouched), -EINVAL for
 * NULL arguments. The _n variants compare exactly len bytes of id (no NUL needed).
 * Thread: any. */
int vg_model_find_zone(const vg_model *m, const char *id, uint32_t *ret_idx);
int vg_model_find_zone_n(const vg_model *m, const char *id, size_t len, uint32_t *ret_idx);
int vg_model_find_line(const vg_model *m, const char *id, uint32_t *ret_idx);
int vg_model_find_line_n(const vg_model *m, const char *id, size_t len, uint32_t *ret_idx);
int vg_model_find_camera(const vg_model *m, const char *id, uint32_t *ret_idx);
int vg_model_find_camera_n(const vg_model *m, const char *id, size_t len, uint32_t *ret_idx);
int vg_model_find_sensor(const vg_model *m, const char *id, uint32_t *ret_idx);
int vg_model_find_sensor_n(const vg_model *m, const char *id, size_t len, uint32_t *ret_idx);
int vg_model_find_help_point(const vg_model *m, const char *id, uint32_t *ret_idx);
int vg_model_find_help_point_n(const vg_model *m, const char *id, size_t len, uint32_t *ret_idx);
int vg_model_find_profile(const vg_model *m, const char *id, uint32_t *ret_idx);
int vg_model_find_phase(const vg_model *m, const char *id, uint32_t *ret_idx);

/* Index of a zone's entry in a camera's zone list: the camera's coverage of that zone.
 * Returns 0 and *ret_slot (index into camera->zones), -ENOENT when the camera does not
 * cover the zone, -EINVAL for a bad index. Thread: any. */
int vg_model_camera_zone_slot(const vg_model *m, uint32_t camera, uint32_t zone,
                              uint32_t *ret_slot);

/* ---- source mappings ---- */

/* Frigate publishes frigate/<frigate zone>/person with a plain integer count. Maps the
 * Frigate zone name (the topic's middle segment, len bytes) to the camera and zone whose
 * `frigate` setting names it. Returns 0 and both outputs, -ENOENT, -EINVAL.
 * Thread: any. */
int vg_model_find_frigate(const vg_model *m, const char *name, size_t len, uint32_t *ret_camera,
                          uint32_t *ret_zone);

/* zigbee2mqtt publishes zigbee2mqtt/<device> with a JSON object of fields. Maps (device,
 * field) to the sensor whose `z2m` setting names them. Device names in a model never hold
 * '/', '+' or '#' (one topic level: zigbee2mqtt/+ subscribes to them all). Returns 0 and
 * *ret_sensor, -ENOENT, -EINVAL. Thread: any. */
int vg_model_find_z2m(const vg_model *m, const char *device, const char *field,
                      uint32_t *ret_sensor);
int vg_model_find_z2m_n(const vg_model *m, const char *device, size_t device_len, const char *field,
                        size_t field_len, uint32_t *ret_sensor);
/* Returns 0 when some sensor maps this zigbee2mqtt device, else -ENOENT (-EINVAL for NULL):
 * lets ingest refuse an unknown device before parsing its payload. Thread: any. */
int vg_model_has_z2m_device(const vg_model *m, const char *device, size_t len);

/* ---- thresholds in time ---- */

/* Index of the phase containing event time t_ns (the first in file order when windows
 * overlap), or VG_MODEL_NONE. Thread: any. */
uint32_t vg_model_phase_at(const vg_model *m, int64_t t_ns);

/* A zone's limits at event time t_ns: its phase limits inside a phase, else zone->limits.
 * NULL for a bad zone index. Thread: any. */
const vg_zone_limits *vg_model_zone_limits_at(const vg_model *m, uint32_t zone, int64_t t_ns);

/* The feed an alert kind goes to (the model's `routes`, else the defaults listed with
 * enum vg_alert_kind). Out-of-range kinds go to VG_FEED_TECHNICAL. Thread: any. */
enum vg_feed vg_model_feed(const vg_model *m, enum vg_alert_kind kind);

/* The suggested action for an alert of this kind in zone: the zone's `action` for crowd
 * kinds (density, trend, flow, pressure, occupancy); who to send for help presses, heat and
 * smoke, with the zone's `route` (how responders reach it): "Send a medic: <route>"; "" for
 * other kinds or when the model gives nothing. Writes to buf (cap bytes, truncated) and
 * returns it. Thread: any. */
const char *vg_model_action(const vg_model *m, enum vg_alert_kind kind, uint32_t zone, char *buf,
                            size_t cap);

#ifdef __cplusplus
}
#endif

#endif
