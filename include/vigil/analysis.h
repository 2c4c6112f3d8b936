/* The analysis core: readings and ticks in, alert events and zone metrics out.
 *
 * No I/O, no clock, no threads: the core runs on event time only, so the same calls in the
 * same order give byte-identical output (live, replay and tests alike). One analysis thread
 * owns a vg_analysis; nothing allocates after vg_analysis_new() (vg_analysis_reload() aside).
 *
 * Flow of a reading:
 *   vg_analysis_push()  checks it (indices, finite, range, too old, too far ahead, duplicate)
 *                       and either refuses it with a positive enum vg_reject, or takes it
 *                       into a bounded reorder buffer (help presses are applied at once).
 *   vg_analysis_tick(t) applies every buffered reading with event time <= t - lateness in
 *                       event-time order, then evaluates every zone, line and sensor at
 *                       that watermark and calls the sink: alert events, then one metrics
 *                       batch for all zones.
 * Readings at or before the last watermark are refused too_old: within the lateness window
 * out-of-order readings are put back in order, later than it they are refused, except the
 * newest of a stream less than cfg.skew_ns behind (a lagging clock) and help presses.
 *
 * Alert identity: one active alert per (subject, kind). The subject is the zone for zone
 * kinds (density, trend_to_critical, pressure, occupancy, occupancy_mismatch), the line for
 * flow (event zone: the line's zone_to), the sensor for sensor kinds (stale, stuck, range,
 * disagree, anomaly, wbgt, co2, noise, smoke, sensor_limit; zone: the sensor's), the camera for
 * camera_health (zone: its first zone) and the help point for help_* (zone: its own).
 *
 * Formulas, units and grading rules: docs/analysis.md. */
#ifndef VIGIL_ANALYSIS_H
#define VIGIL_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- readings (ingest -> analysis, through a vg_ring) ---- */

enum vg_reading_type {
    VG_READING_SENSOR = 1,    /* source: sensor; value: in the sensor's unit */
    VG_READING_COUNT,         /* source: camera; zone; value: persons in the camera's view */
    VG_READING_SPEED_VAR,     /* source: camera; zone; value: speed variance, m²/s² */
    VG_READING_LINE,          /* source: line; value: crossings in (zone_from -> zone_to),
                               * value2: crossings out, both since the previous message */
    VG_READING_HELP,          /* source: help point; sub: enum vg_help_type */
    VG_READING_CAMERA_HEALTH, /* source: camera; sub: enum vg_camera_status */
    VG_READING_TYPE_END
};

enum vg_help_type {
    VG_HELP_MEDICAL = 0, /* "medical" */
    VG_HELP_SECURITY,    /* "security" */
    VG_HELP_FIRE,        /* "fire" */
    VG_HELP_OTHER,       /* "other" */
    VG_HELP_TYPE_COUNT
};

enum vg_camera_status {
    VG_CAMERA_OK = 0,  /* "ok" */
    VG_CAMERA_FROZEN,  /* "frozen": the same frame again and again */
    VG_CAMERA_BLACK,   /* "black" */
    VG_CAMERA_COVERED, /* "covered" */
    VG_CAMERA_STOPPED, /* "stopped": no frames */
    VG_CAMERA_STATUS_COUNT
};

/* One reading: a POD ring record of 40 bytes. Fields a type does not use are 0.
 * One camera message with N zones becomes N VG_READING_COUNT readings (and N SPEED_VAR
 * readings when it reports speed variance). */
typedef struct vg_reading {
    int64_t t_ns;      /* event time as the source stamped it, ns since the Unix epoch */
    double value;      /* see enum vg_reading_type */
    double value2;     /* LINE: crossings out; else 0 */
    uint32_t source;   /* sensor, camera, line or help point index in the model */
    uint32_t zone;     /* COUNT, SPEED_VAR: zone index; else VG_MODEL_NONE or 0 (ignored) */
    uint8_t type;      /* enum vg_reading_type */
    uint8_t sub;       /* HELP: enum vg_help_type; CAMERA_HEALTH: enum vg_camera_status */
    uint16_t reserved; /* 0 */
    uint32_t tag;      /* the caller's (e.g. a message number); carried unchanged */
} vg_reading;

/* Why a reading was refused. 0 is "accepted"; ingest and analysis use the same reasons. */
enum vg_reject {
    VG_REJECT_NONE = 0,           /* "none": accepted */
    VG_REJECT_MALFORMED,          /* "malformed": not parseable, or a bad reading record */
    VG_REJECT_OVERSIZED,          /* "oversized" */
    VG_REJECT_WRONG_TYPE,         /* "wrong_type": e.g. a string where a number belongs */
    VG_REJECT_NOT_FINITE,         /* "not_finite": NaN or infinity */
    VG_REJECT_NEGATIVE_COUNT,     /* "negative_count" */
    VG_REJECT_UNKNOWN_TOPIC,      /* "unknown_topic" */
    VG_REJECT_UNKNOWN_ZONE,       /* "unknown_zone" (also: a zone the camera does not cover) */
    VG_REJECT_UNKNOWN_SENSOR,     /* "unknown_sensor" */
    VG_REJECT_UNKNOWN_CAMERA,     /* "unknown_camera" */
    VG_REJECT_UNKNOWN_LINE,       /* "unknown_line" */
    VG_REJECT_UNKNOWN_HELP_POINT, /* "unknown_help_point" */
    VG_REJECT_OUT_OF_RANGE,       /* "out_of_range": outside the sensor's physical range */
    VG_REJECT_TOO_OLD,            /* "too_old": before the watermark (later than lateness) */
    VG_REJECT_TOO_FAR_FUTURE,     /* "too_far_future": beyond the last tick + max_future */
    VG_REJECT_DUPLICATE,          /* "duplicate": same stream, same event time */
    VG_REJECT_BAD_VERSION,        /* "bad_version": payload schema version not supported */
    VG_REJECT_COUNT
};

/* Stable snake_case name of a reject reason (the strings in the comments above); "unknown"
 * out of range. Thread: any; static strings. */
const char *vg_reject_name(enum vg_reject why);

/* Names and parsers for the enums above ("sensor", "count", "speed_var", "line", "help",
 * "camera_health"; "medical", ...; "ok", "frozen", ...). Names: "unknown" out of range.
 * Parsers: 0 and *ret_*, or -EINVAL (NULL or unknown name; *ret_* untouched). Thread: any. */
const char *vg_reading_type_name(enum vg_reading_type t);
const char *vg_help_type_name(enum vg_help_type t);
const char *vg_camera_status_name(enum vg_camera_status s);
int vg_help_type_parse(const char *name, enum vg_help_type *ret_type);
int vg_camera_status_parse(const char *name, enum vg_camera_status *ret_status);

/* Above this, a camera count, a speed variance or a line's crossings in one message is
 * out_of_range: no view holds and no line passes a million people at once, and such a value
 * (1e308) would swamp or overflow a zone's running totals for good. */
#define VG_READING_COUNT_MAX 1e6

/* The checks that need only the model: type, indices (and that the camera covers the
 * zone), finite values, negative counts, counts above VG_READING_COUNT_MAX, the sensor's
 * physical range, sub-type range.
 * Lets ingest refuse early. vg_analysis_push() runs the same checks.
 * Returns VG_REJECT_NONE or the reason. Thread: any (reads the model only). */
enum vg_reject vg_reading_check(const vg_model *m, const vg_reading *r);

/* ---- outputs ---- */

enum vg_alert_action {
    VG_ALERT_ACTION_RAISE = 0, /* "raise": a new activation (new id) */
    VG_ALERT_ACTION_CHANGE,    /* "change": same activation, grade up or down */
    VG_ALERT_ACTION_CLEAR,     /* "clear": returned to normal; grade VG_GRADE_CLEAR */
    VG_ALERT_ACTION_COUNT
};
/* "raise", "change", "clear"; "unknown" out of range. Thread: any; static strings. */
const char *vg_alert_action_name(enum vg_alert_action a);

enum vg_alert_flags {
    VG_ALERT_F_CHATTERING = 1 << 0, /* >= chatter_cycles raises within the chatter window */
    VG_ALERT_F_LATCHED = 1 << 1,    /* life-safety kind: the alert layer latches it until reset */
    VG_ALERT_F_UNRELIABLE = 1 << 2, /* zone density from an unhealthy or partial camera set */
};

enum vg_source_type {
    VG_SOURCE_NONE = 0,
    VG_SOURCE_ZONE,
    VG_SOURCE_SENSOR,
    VG_SOURCE_CAMERA,
    VG_SOURCE_LINE,
    VG_SOURCE_HELP_POINT,
    VG_SOURCE_TYPE_COUNT
};
/* "none", "zone", "sensor", "camera", "line", "help_point". Thread: any. */
const char *vg_source_type_name(enum vg_source_type t);

/* One reading behind an alert. */
typedef struct vg_evidence {
    int64_t t_ns;
    double value;         /* in the reading's unit (a count, a sensor value, crossings in+out) */
    uint32_t source;      /* index of the source, per source_type */
    uint8_t source_type;  /* enum vg_source_type */
    uint8_t reading_type; /* enum vg_reading_type */
    uint16_t reserved;
} vg_evidence;

#define VG_EVIDENCE_MAX 6
#define VG_ALERT_MESSAGE_MAX 160

/* One alert transition: a POD record of 392 bytes (fits a ring record). Numbers that do
 * not apply are NaN (value, threshold, trend_per_min) or -1 (ttc_s). */
typedef struct vg_alert_event {
    uint64_t id;          /* stable for one activation of (subject, kind); cfg.first_alert_id
                           * for the first activation, then +1 for each */
    uint64_t seq;         /* 1, 2, 3, ... per vg_analysis: the order of events */
    int64_t t_ns;         /* event time of the transition */
    int64_t raised_ns;    /* event time this activation was raised */
    double value;         /* the graded value (p/m², p/m/min, 1/s², sensor unit, s for
                           * trend_to_critical: the predicted time to critical) */
    double threshold;     /* the level of the grade (for clear: the level left, minus the
                           * deadband) */
    double trend_per_min; /* zone density trend, p/m² per minute (zone kinds), else NaN */
    double ttc_s;         /* predicted seconds to critical density, -1 if not rising */
    uint32_t zone;        /* zone index, VG_MODEL_NONE when none */
    uint32_t source;      /* subject index per source_type */
    uint32_t flags;       /* enum vg_alert_flags */
    uint8_t action;       /* enum vg_alert_action */
    uint8_t kind;         /* enum vg_alert_kind (model.h) */
    uint8_t feed;         /* enum vg_feed, from vg_model_feed() */
    uint8_t grade;        /* enum vg_grade; VG_GRADE_CLEAR on clear */
    uint8_t prev_grade;   /* enum vg_grade before this event */
    uint8_t source_type;  /* enum vg_source_type of the subject */
    uint8_t evidence_count;
    uint8_t reserved;
    uint32_t reserved2;
    vg_evidence evidence[VG_EVIDENCE_MAX]; /* newest first */
    char message[VG_ALERT_MESSAGE_MAX];    /* one line a person can read, NUL-terminated */
} vg_alert_event;

enum vg_metrics_flags {
    VG_METRICS_DENSITY = 1 << 0,    /* density_per_m2, population, los valid */
    VG_METRICS_UNRELIABLE = 1 << 1, /* a camera of the zone is unhealthy or stale */
    VG_METRICS_OCCUPANCY = 1 << 2,  /* occupancy valid (the zone has counting lines) */
    VG_METRICS_TREND = 1 << 3,      /* trend_per_min valid (enough samples) */
    VG_METRICS_PRESSURE = 1 << 4,   /* pressure and speed_var valid */
    VG_METRICS_FLOW = 1 << 5,       /* flow_pmm valid */
};

/* Derived metrics of one zone at one tick. Invalid numbers are NaN (flags say which). */
typedef struct vg_zone_metrics {
    int64_t t_ns; /* the evaluation time (tick time - lateness) */
    uint32_t zone;
    uint32_t flags;         /* enum vg_metrics_flags */
    double density_per_m2;  /* fused camera population / walkable area */
    double population;      /* fused camera estimate of persons in the zone */
    double occupancy;       /* persons from counting lines: sum of in - out since start */
    double flow_pmm;        /* highest flow over the zone's lines, persons/m/min */
    double trend_per_min;   /* least-squares density slope, p/m² per minute */
    double ttc_s;           /* predicted seconds to critical density; -1 when not rising */
    double pressure_per_s2; /* density × speed variance (Helbing 2007), 1/s² */
    double speed_var_m2_s2; /* fused speed variance */
    uint16_t cameras_fresh; /* cameras whose count is used */
    uint16_t cameras_total;
    char los;      /* Fruin level of service 'A'..'F', '-' without density */
    uint8_t grade; /* current density alert grade (enum vg_grade) */
    uint8_t reserved[2];
} vg_zone_metrics;

/* Where outputs go. Every callback is optional (NULL: not called) and runs on the thread
 * calling vg_analysis_push()/vg_analysis_tick(), synchronously; pointers are borrowed for
 * the call only. A callback must not call back into the same vg_analysis. */
typedef struct vg_analysis_sink {
    void *ctx;
    /* Every alert transition, in seq order. */
    void (*on_alert)(void *ctx, const vg_alert_event *ev);
    /* Once per tick (after that tick's alerts): metrics of every zone, index order. */
    void (*on_metrics)(void *ctx, int64_t t_ns, const vg_zone_metrics *zones, size_t n);
    /* A reading push() had taken but the tick refused (a duplicate found in the buffer). */
    void (*on_reject)(void *ctx, const vg_reading *r, enum vg_reject why);
} vg_analysis_sink;

typedef struct vg_analysis_cfg {
    vg_analysis_sink sink;
    int64_t lateness_ns;     /* reorder window: evaluate at tick - lateness (default 2 s) */
    int64_t max_future_ns;   /* refuse readings beyond last tick + this (default 60 s) */
    int64_t skew_ns;         /* a reading less than this far behind the watermark is still
                              * taken when it is newer than all its stream sent before (a
                              * source whose clock lags, a bridge that delivered late);
                              * applied at the next tick (default 60 s; 0: refuse) */
    uint32_t max_pending;    /* reorder buffer, readings (default 262144); when full the
                              * oldest half is applied early (counted, see stats) */
    int anomaly;             /* 1: run a vg_detector per sensor (default 1) */
    int64_t camera_fresh_ns; /* a count older than this is left out (default 0: the
                              * camera's stale_after_ns from the model) */
    int64_t trend_window_ns; /* least-squares window (default 60 s; 2..127 s: the
                              * 128-sample ring at one sample a second) */
    int64_t trend_min_ns;    /* samples must span this before a trend counts (default 20 s;
                              * <= trend_window_ns) */
    int64_t flow_window_ns;  /* flow is crossings in this window (default 60 s; <= 120 s) */
    int64_t help_rearm_ns;   /* a help alert clears (latched) this long after the last
                              * press (default 120 s) */
    int64_t anomaly_hold_ns; /* an anomaly alert clears this long after the last anomalous
                              * reading (default 60 s) */
    uint64_t first_alert_id; /* id of the first activation (default 1); the engine passes
                              * its last id + 1 after a restart */
} vg_analysis_cfg;

/* Fills cfg with the defaults above (sink all NULL). Thread: any. */
void vg_analysis_cfg_default(vg_analysis_cfg *cfg);

typedef struct vg_analysis vg_analysis;

/* Creates the core for a model, with all per-zone, per-line, per-camera and per-sensor
 * state, the reorder buffer and the detectors allocated here.
 * m: borrowed; must outlive the vg_analysis. cfg: copied (NULL: defaults, no sink).
 * Returns 0 and *ret (free with vg_analysis_free()), -EINVAL (NULL m or ret, or a cfg value
 * out of range), -ENOMEM. *ret is written only on success. Thread: any. */
int vg_analysis_new(const vg_model *m, const vg_analysis_cfg *cfg, vg_analysis **ret);

/* 0 when vg_analysis_new() takes cfg's values, else -EINVAL (docs/analysis.md lists the
 * ranges). Lets a caller refuse a configuration before any work. Thread: any. */
int vg_analysis_cfg_check(const vg_analysis_cfg *cfg);

/* Frees it; accepts NULL and *ap == NULL; sets *ap to NULL. Thread: the owner. */
void vg_analysis_free(vg_analysis **ap);

/* Switches to another model (an edited venue file) without losing state: every zone, line,
 * camera (per zone it still covers), sensor and help point whose id is in both models keeps
 * its state (grades, timers, alert ids, trend, counts, line totals, detector; a new
 * sensitivity moves only the detector's threshold, a sensor of a new kind gets a fresh
 * detector). Readings in the reorder buffer are re-indexed by id; those whose source or
 * zone is gone are dropped and counted as unknown_* rejects. Active alerts whose subject is
 * gone are dropped without an event (the alert layer retires them); later events of kept
 * alerts carry the new indices.
 * m: borrowed; must outlive the vg_analysis; the old model may be freed once this returns 0.
 * Returns 0, -EINVAL (NULL), -ENOMEM (then nothing changed, the old model stays in use).
 * Thread: the owner. Allocates: a control operation, not for the hot path. */
int vg_analysis_reload(vg_analysis *a, const vg_model *m);

/* Offers one reading (copied; r borrowed for the call).
 * Returns VG_REJECT_NONE (0) when taken, a positive enum vg_reject when refused (counted in
 * stats, nothing else changes except a sensor_range alert for out_of_range sensor values),
 * -EINVAL for NULL arguments. Help presses raise their alert here, at once.
 * Thread: the owner. Never allocates. */
int vg_analysis_push(vg_analysis *a, const vg_reading *r);

/* Advances event time to t_ns: applies buffered readings up to t_ns - lateness, evaluates,
 * and calls the sink (alerts, then metrics). t_ns must not go backwards.
 * Returns 0, or -EINVAL (NULL, or t_ns before the previous tick; nothing changes).
 * Thread: the owner. Never allocates. */
int vg_analysis_tick(vg_analysis *a, int64_t t_ns);

typedef struct vg_analysis_stats {
    uint64_t accepted;                  /* readings applied */
    uint64_t rejected[VG_REJECT_COUNT]; /* by reason (index 0 unused) */
    uint64_t pending;                   /* in the reorder buffer now */
    uint64_t early_applied;             /* applied before their tick because the buffer was full */
    uint64_t ticks;
    uint64_t events;        /* alert events emitted */
    uint64_t active_alerts; /* activations not cleared */
    int64_t watermark_ns;   /* last evaluation time (INT64_MIN before a tick) */
} vg_analysis_stats;

/* Copies the counters. Returns 0 or -EINVAL. Thread: the owner. */
int vg_analysis_get_stats(const vg_analysis *a, vg_analysis_stats *ret_stats);

/* The metrics of a zone from the last tick (zeroed with los '-' before the first).
 * NULL for a bad index. Valid until the next tick. Thread: the owner. */
const vg_zone_metrics *vg_analysis_zone_metrics(const vg_analysis *a, uint32_t zone);

/* Calls fn for every active alert (rebuilt from its state: action raise or change, value and
 * threshold of its last event, no evidence), zones first, then lines, sensors, cameras and
 * help points, in index order; e.g. for a snapshot.
 * Returns 0 or -EINVAL. Thread: the owner. */
int vg_analysis_for_each_active(const vg_analysis *a,
                                void (*fn)(void *ctx, const vg_alert_event *ev), void *ctx);

/* Bytes allocated by vg_analysis_new() in total, and the share per sensor stream (its
 * state plus its detector). Thread: any. */
size_t vg_analysis_memory(const vg_analysis *a);
size_t vg_analysis_memory_per_sensor(const vg_analysis *a);

/* Fruin level of service for a density (p/m²) in a zone type: walkway table for moving,
 * stair table for stair, queueing table for queue, standing and seated. 'A'..'F', or '-'
 * for NaN or a negative density. Thread: any. */
char vg_fruin_los(enum vg_zone_type type, double density_per_m2);

#ifdef __cplusplus
}
#endif

#endif
