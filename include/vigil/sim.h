/* The venue simulator and its scorer (docs/sim.md).
 *
 * Three parts:
 * - scenarios (vg_scenario): a libconfig file naming an event day (start, phases, attendance,
 *   weather) and the incidents to inject, validated against a venue model.
 * - the simulator (vg_sim): a flow model of people on the model's zone graph plus sensor,
 *   camera, counting-line and help-point sources. It runs on its own event clock in fixed
 *   steps; each vg_sim_step() advances one step and hands every MQTT message due in it
 *   (topic, payload) to a callback, so it runs with or without a broker. Deterministic: the
 *   same model, scenario and seed give the same messages, byte for byte. It knows the true
 *   state (people per zone, true sensor values) and writes it as ground truth for scoring.
 * - the scorer (vg_score): alert events against a ground-truth file: which incidents were
 *   caught, on which feed, with what lead time (build-ups) or delay; false alerts; alerts per
 *   10 minutes. Alerts come in through vg_score_add_alert(), so any reader can feed it (the
 *   JSON-lines reader here; an HDF5 archive reader later).
 *
 * Nothing here owns a thread, a socket or a clock: `vigil sim` does the MQTT and pacing. */
#ifndef VIGIL_SIM_H
#define VIGIL_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vigil/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- scenarios ---- */

typedef struct vg_scenario vg_scenario;

/* Appended to only; the names are the scenario file's `type` values. */
enum vg_incident_type {
    VG_INCIDENT_GATE_CLOSED = 0,     /* "gate_closed": a line stops passing people in */
    VG_INCIDENT_EXIT_BLOCKED,        /* "exit_blocked": a line stops passing people out */
    VG_INCIDENT_SURGE,               /* "surge": people pour into a (standing) zone */
    VG_INCIDENT_HEAT_WAVE,           /* "heat_wave": WBGT and temperature rise in a zone */
    VG_INCIDENT_VENTILATION_FAILURE, /* "ventilation_failure": CO2 rises in a zone */
    VG_INCIDENT_CAMERA_DEAD,         /* "camera_dead": a camera stops sending counts */
    VG_INCIDENT_SENSOR_STUCK,        /* "sensor_stuck": a sensor repeats one value */
    VG_INCIDENT_HELP_PRESS,          /* "help_press": one help-point press */
    VG_INCIDENT_COLLAPSE,            /* "collapse": a steward reports a spectator down */
    VG_INCIDENT_TYPE_COUNT
};

/* Stable snake_case name ("gate_closed", ...), "unknown" out of range. Thread: any. */
const char *vg_incident_type_name(enum vg_incident_type t);
/* Returns 0 and *ret_type, or -EINVAL (NULL or unknown name; *ret_type untouched). */
int vg_incident_type_parse(const char *name, enum vg_incident_type *ret_type);
/* 1 for the crowd build-up types (gate_closed, exit_blocked, surge), whose ground truth
 * carries the time the zone's true density first reached critical. Thread: any. */
int vg_incident_is_buildup(enum vg_incident_type t);

/* One incident as the scenario file gives it, resolved against the model. */
typedef struct vg_incident {
    const char *id;
    enum vg_incident_type type;
    const char *target;   /* the line, zone, camera, sensor or help point id, as written */
    uint32_t target_idx;  /* its index in the model (line, zone, camera, sensor, help point) */
    /* The zone the incident is scored in: given (`zone`), or the target's zone; for a line
     * incident without `zone`, VG_MODEL_NONE until the run shows which side builds up. */
    uint32_t zone;
    int64_t t_start_ns;   /* event time */
    int64_t t_end_ns;     /* event time; the scenario's end when no duration is given */
    double magnitude;     /* meaning per type: docs/sim.md */
    const char *mode;     /* camera_dead: "stopped", "black", "frozen", "covered" or "silent";
                           * help_press, collapse: "medical", "security", "fire", "other";
                           * else "" */
    int line;             /* line in the scenario file, for messages */
} vg_incident;

/* Where a load failed: as vg_model_error (key is the setting's path, with the incident's id
 * in place of its list position when it has one: "incidents.gate-3.start"). */
typedef struct vg_scenario_error {
    char file[256];
    int line;
    char key[160];
    char message[256];
} vg_scenario_error;

/* Loads a scenario file and checks it against the model m (ids exist and have the right
 * kind, times inside the day). path and m are borrowed; m must outlive the scenario.
 * ret_err may be NULL; on failure it is filled (always, when given), else left untouched.
 * Returns 0 and *ret (free with vg_scenario_free()); -EINVAL when the file is not valid
 * libconfig or fails validation; -ENOENT, -EACCES, ... when it cannot be read; -ENOMEM.
 * Thread: any. */
int vg_scenario_load(const char *path, const vg_model *m, vg_scenario **ret,
                     vg_scenario_error *ret_err);

/* Accepts NULL and *sp == NULL; sets *sp to NULL. Thread: any, once nothing uses it. */
void vg_scenario_free(vg_scenario **sp);

/* Accessors. Thread: any. An index out of range gives NULL. */
const char *vg_scenario_name(const vg_scenario *s);
int64_t vg_scenario_start_ns(const vg_scenario *s);
int64_t vg_scenario_duration_ns(const vg_scenario *s);
uint32_t vg_scenario_attendance(const vg_scenario *s);
uint32_t vg_scenario_incident_count(const vg_scenario *s);
const vg_incident *vg_scenario_incident(const vg_scenario *s, uint32_t idx);

/* ---- the simulator ---- */

typedef struct vg_sim vg_sim;

typedef struct vg_sim_cfg {
    uint64_t seed;      /* random stream (default 1) */
    int have_start;     /* 1: start at start_ns; 0: at the scenario's start */
    int64_t start_ns;   /* event time of the first step (>= 0, Unix epoch) with have_start */
    int64_t step_ns;    /* default 1 s; at most 10 s */
    int batch;          /* 1: sensor, count and line readings go in vigil/<venue>/batch/sim */
    uint32_t batch_max; /* readings per batch message (default 500) */
    int native_only;    /* 1: ignore Frigate and zigbee2mqtt mappings, publish natively */
} vg_sim_cfg;

/* Fills the defaults above. Thread: any. */
void vg_sim_cfg_default(vg_sim_cfg *ret);

/* Receives one message: topic and payload (len bytes, NUL-terminated too) are borrowed for
 * the call; t_ns is its event time. Return 0, or a negative errno to stop the step (the
 * step returns it). */
typedef int (*vg_sim_emit_fn)(void *ctx, const char *topic, const char *payload, size_t len,
                              int64_t t_ns);

/* Creates a simulator at the scenario's start with nobody inside. m and sc are borrowed and
 * must outlive it (sc must have been loaded against this m); cfg may be NULL for the
 * defaults.
 * Returns 0 and *ret (free with vg_sim_free()), -EINVAL (NULL m/sc/ret, sc loaded for another
 * model, bad step, have_start with a start_ns before 1970, a model with no zone people can
 * enter or no seated/standing zone to go to, or an entry zone from which none can be
 * reached), -ENOMEM.
 * Thread: any; afterwards one thread at a time per simulator. */
int vg_sim_new(const vg_model *m, const vg_scenario *sc, const vg_sim_cfg *cfg,
               vg_sim **ret);

/* Accepts NULL and *sp == NULL; sets *sp to NULL. */
void vg_sim_free(vg_sim **sp);

/* Advances one step: moves people, applies incidents, then emits every message due in
 * [now, now + step) in event-time order. Returns 0; -ECANCELED once the scenario has ended
 * (nothing emitted); -EINVAL for NULL s or emit; or the first negative value emit returned
 * (the step's state has advanced; the rest of its messages are not emitted). */
int vg_sim_step(vg_sim *s, vg_sim_emit_fn emit, void *ctx);

/* 1 once the scenario's duration has been simulated. */
int vg_sim_done(const vg_sim *s);
/* Event time of the next step's start; the end of the day. */
int64_t vg_sim_now_ns(const vg_sim *s);
int64_t vg_sim_end_ns(const vg_sim *s);

/* True state, for tests and tools. Zone and sensor indices are the model's; out of range
 * gives NaN. */
double vg_sim_zone_people(const vg_sim *s, uint32_t zone);
double vg_sim_zone_density(const vg_sim *s, uint32_t zone);   /* people / walkable m² */
double vg_sim_sensor_value(const vg_sim *s, uint32_t sensor); /* last true value */

/* Where everyone is: not yet arrived, inside the zones, gone home. total is constant (the
 * attendance) up to rounding; people appear and leave only through entry zones. */
typedef struct vg_sim_census {
    double outside;
    double inside;
    double departed;
    double total;
    double arrived;  /* crossed in from outside so far */
} vg_sim_census;
void vg_sim_census_get(const vg_sim *s, vg_sim_census *ret);

/* What happened for one incident, so far. */
typedef struct vg_sim_truth {
    uint32_t zone;          /* scored zone (VG_MODEL_NONE if not known yet) */
    int64_t t_warning_ns;   /* first time the watched value reached its warning level, or 0 */
    int64_t t_critical_ns;  /* ... its critical level, or 0 (build-ups: true zone density) */
    double peak;            /* highest watched value (density, WBGT, CO2) during the incident */
    int64_t t_peak_ns;
    double warning_level;   /* the levels used (NaN when the model has none) */
    double critical_level;
} vg_sim_truth;

/* Returns 0 and *ret, or -EINVAL (bad index). Thread: the simulator's. */
int vg_sim_incident_truth(const vg_sim *s, uint32_t idx, vg_sim_truth *ret);

/* Writes the ground truth as one JSON document (format: docs/sim.md): scenario, seed,
 * start and end, and per incident its zone, expected alert kinds and feeds, start, end,
 * t_critical and the scoring window. Call after the run (t_critical is known only then).
 * Returns 0, -EINVAL, -EIO on a write error. Thread: the simulator's. */
int vg_sim_truth_write(const vg_sim *s, FILE *f);

/* ---- the scorer ---- */

typedef struct vg_score vg_score;

/* One alert event, as the engine writes it (`vigil run --events FILE`, one JSON object per
 * line). Strings are truncated to their fields. */
typedef struct vg_score_alert {
    char id[64];
    char kind[40];
    char feed[24];
    char zone[VG_MODEL_ID_MAX + 1];
    char action[16];      /* "raise", "change", "clear", or "" */
    enum vg_grade grade;  /* VG_GRADE_CLEAR for a clear */
    double ts;            /* event time, Unix seconds */
    double value;
    double threshold;
} vg_score_alert;

/* Parses one alert event (a JSON object: id, feed, kind, zone, grade, ts required; action or
 * state, value, threshold optional). Returns 0 and *ret, -EPROTO when it is not such an
 * object (*ret untouched), -EINVAL for NULL. Thread: any. */
int vg_score_parse_alert(const char *json, size_t len, vg_score_alert *ret);

/* Loads a ground-truth file written by vg_sim_truth_write(). ret_err may be NULL.
 * Returns 0 and *ret (free with vg_score_free()), -EINVAL (not a truth document: the
 * error names the key), -ENOENT etc. when unreadable, -ENOMEM. Thread: any. */
int vg_score_new(const char *truth_path, vg_score **ret, vg_scenario_error *ret_err);
void vg_score_free(vg_score **sp);

/* Adds one alert event (copied). Returns 0, -EINVAL, -ENOMEM. */
int vg_score_add_alert(vg_score *s, const vg_score_alert *a);

/* Reads a JSON-lines alert file ("-" is stdin) into the scorer; blank lines are skipped.
 * Returns 0, -EINVAL with ret_err naming the line that is not an alert event, or -errno
 * when the file cannot be read. Thread: any. */
int vg_score_read_jsonl(vg_score *s, const char *path, vg_scenario_error *ret_err);

/* The verdict on one incident. */
typedef struct vg_score_incident {
    const char *id;
    const char *type;
    const char *zone;
    int buildup;          /* 1: judged on lead time before t_critical */
    int caught;           /* an expected kind at its grade, in the window, on any feed */
    int right_feed;       /* ... and on the expected feed */
    int pass;             /* caught on the right feed, lead or delay within its bound */
    char kind[40];        /* the first matching alert's kind and feed ("" when missed) */
    char feed[24];
    enum vg_grade grade;
    double t_alert;       /* its event time, Unix s */
    double t_start;
    double t_critical;    /* build-ups: NaN when the zone never reached critical */
    double lead_s;        /* build-ups: t_critical - t_alert (NaN without t_critical) */
    double delay_s;       /* t_alert - t_start */
    double min_lead_s;    /* the bounds from the truth file (NaN: none) */
    double max_delay_s;
} vg_score_incident;

typedef struct vg_score_summary {
    uint32_t incidents;
    uint32_t caught;
    uint32_t passed;
    uint32_t activations;      /* distinct alert ids with a non-clear grade */
    uint32_t false_alerts;     /* activations at warning or above matching no incident */
    uint32_t false_advisory;   /* ... that never went above advisory */
    double duration_s;         /* the day's length, from the truth file */
    double per_10min;          /* activations per 10 minutes */
    uint32_t max_grade_quiet;  /* highest grade outside every incident (enum vg_grade) */
} vg_score_summary;

/* Judges the alerts added so far. Returns 0 and *ret, -EINVAL for a bad index. */
int vg_score_incident_get(const vg_score *s, uint32_t idx, vg_score_incident *ret);
uint32_t vg_score_incident_count(const vg_score *s);
void vg_score_summary_get(const vg_score *s, vg_score_summary *ret);

/* Prints the report, one line per incident then the totals (text) or one JSON document.
 * Returns 0 or -EIO. */
int vg_score_write_text(const vg_score *s, FILE *f);
int vg_score_write_json(const vg_score *s, FILE *f);

#ifdef __cplusplus
}
#endif

#endif
