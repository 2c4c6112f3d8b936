/* Alerts: the lifecycle of every graded alert (after ANSI/ISA-18.2) and its publication on
 * ZeroMQ feeds, with a control socket for operators. Wire format: docs/alerts.md.
 *
 * Two layers:
 * - The lifecycle core (vg_alert_core_*): a pure state machine, no I/O, no clock, no threads.
 *   Alert events from the analysis core, event-time ticks and operator actions go in;
 *   notes (what to publish, on which feed) and audit records come out through a sink. The
 *   same calls in the same order give the same output, so it is unit-tested directly and
 *   replays exactly.
 * - The publisher (vg_alert_*): one thread, "vg-alert", owning the ZMQ PUB socket (feeds)
 *   and the REP socket (control). It consumes a vg_ring of vg_alert_input records (events,
 *   ticks, zone metrics, model swaps), runs them through a core, serialises each note as a
 *   two-frame message (topic, JSON) and answers control requests.
 *
 * Identity: one alert per point (subject, kind), where the subject is the zone, line,
 * sensor, camera or help point the analysis names (vg_alert_event.source_type/source). An
 * alert's id is the analysis id of the activation that opened it; a point that activates
 * again before its alert is cleared (returned to normal unacknowledged, or latched) keeps
 * that id, so an operator sees one alert come back rather than a new one. */
#ifndef VIGIL_ALERT_H
#define VIGIL_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/analysis.h"
#include "vigil/model.h"
#include "vigil/ring.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- lifecycle ---- */

/* ISA-18.2 states. Names ("normal", "unack", ...) are the JSON `state` values. */
enum vg_alert_state {
    VG_ALERT_STATE_NORMAL = 0, /* "normal": not alarming; kept only while out of service */
    VG_ALERT_STATE_UNACK,      /* "unack": active, unacknowledged */
    VG_ALERT_STATE_ACKED,      /* "acked": active, acknowledged (has an owner) */
    VG_ALERT_STATE_RTN_UNACK,  /* "rtn_unack": returned to normal, not yet acknowledged */
    VG_ALERT_STATE_LATCHED,    /* "latched": life-safety kind, returned to normal and
                                * acknowledged; stays until an operator resets it */
    VG_ALERT_STATE_CLEARED,    /* "cleared": gone (the last message about an alert) */
    VG_ALERT_STATE_COUNT
};

/* Why an alert is not annunciated right now (any combination). Names: "shelved",
 * "suppressed", "out_of_service", "flood_held". */
enum vg_alert_hide {
    VG_ALERT_HIDE_SHELVED = 1 << 0,    /* an operator shelved it until shelved_until_ns */
    VG_ALERT_HIDE_SUPPRESSED = 1 << 1, /* its cause is active (camera or sensor unhealthy) */
    VG_ALERT_HIDE_OOS = 1 << 2,        /* out of service (maintenance) */
    VG_ALERT_HIDE_HELD = 1 << 3,       /* advisory/warning grouped into a flood summary */
};

/* Why a note is published. Names are the JSON `reason` values. */
enum vg_alert_reason {
    VG_ALERT_REASON_RAISE = 0,  /* "raise": a new alert, or a cleared-pending one is back */
    VG_ALERT_REASON_CHANGE,     /* "change": grade up or down */
    VG_ALERT_REASON_RTN,        /* "rtn": the condition returned to normal */
    VG_ALERT_REASON_ACK,        /* "ack" */
    VG_ALERT_REASON_SHELVE,     /* "shelve" */
    VG_ALERT_REASON_UNSHELVE,   /* "unshelve": by an operator or at expiry */
    VG_ALERT_REASON_SUPPRESS,   /* "suppress" */
    VG_ALERT_REASON_UNSUPPRESS, /* "unsuppress" */
    VG_ALERT_REASON_OOS,        /* "out_of_service" */
    VG_ALERT_REASON_IN_SERVICE, /* "in_service" */
    VG_ALERT_REASON_RESET,      /* "reset": a latched alert released */
    VG_ALERT_REASON_ESCALATE,   /* "escalate": unacknowledged past its deadline (sent on the
                                 * alert's feed and on the supervisor feed) */
    VG_ALERT_REASON_FLOOD,      /* "flood": a flood summary opened, changed or closed */
    VG_ALERT_REASON_RELEASE,    /* "release": held by a flood, now annunciated */
    VG_ALERT_REASON_REMOVED,    /* "removed": its subject left the venue model (reload) */
    VG_ALERT_REASON_COUNT
};

/* Operator and system actions, recorded as audit records. Names: "ack", "shelve",
 * "unshelve", "shelve_expired", "out_of_service", "in_service", "reset", "escalate",
 * "reload". */
enum vg_alert_op {
    VG_ALERT_OP_ACK = 1,
    VG_ALERT_OP_SHELVE,
    VG_ALERT_OP_UNSHELVE,
    VG_ALERT_OP_SHELVE_EXPIRED, /* system */
    VG_ALERT_OP_OOS,
    VG_ALERT_OP_IN_SERVICE,
    VG_ALERT_OP_RESET,
    VG_ALERT_OP_ESCALATE, /* system */
    VG_ALERT_OP_RELOAD,
    VG_ALERT_OP_COUNT
};

/* Names of the enums above; "unknown" out of range. Thread: any; static strings. */
const char *vg_alert_state_name(enum vg_alert_state s);
const char *vg_alert_reason_name(enum vg_alert_reason r);
const char *vg_alert_op_name(enum vg_alert_op op);
const char *vg_alert_hide_name(enum vg_alert_hide h); /* one bit */

#define VG_ALERT_OPERATOR_MAX 48 /* bytes with the NUL */
#define VG_ALERT_COMMENT_MAX 160

/* One alert as the lifecycle holds it. Read-only for callers. */
typedef struct vg_alert_info {
    uint64_t id;            /* shown to operators; the first activation's analysis id */
    uint64_t activation;    /* analysis id of the current (or last) activation */
    vg_alert_event last;    /* the last analysis event (value, threshold, trend, evidence,
                             * message, flags); last.grade is the condition's grade */
    uint8_t state;          /* enum vg_alert_state */
    uint8_t grade;          /* grade shown: the condition's, or the last one while RTN/latched */
    uint8_t feed;           /* enum vg_feed, routed by the model */
    uint8_t kind;           /* enum vg_alert_kind */
    uint32_t hide;          /* enum vg_alert_hide bits */
    uint32_t escalations;   /* times escalated while unacknowledged */
    uint32_t held;          /* flood summaries: alerts it groups now; else 0 */
    uint32_t sector;        /* flood summaries: model sector index; else the zone's, or
                             * VG_MODEL_NONE for an alert without a zone (never flood-held) */
    int64_t raised_ns;      /* event time the alert opened */
    int64_t changed_ns;     /* event time of its last transition */
    int64_t unack_since_ns; /* event time it last became unack at its grade (escalation) */
    int64_t next_escalation_ns;              /* 0: none pending */
    int64_t acked_ns;                        /* 0 when never acknowledged */
    int64_t shelved_until_ns;                /* valid while hide has VG_ALERT_HIDE_SHELVED */
    char operator_id[VG_ALERT_OPERATOR_MAX]; /* owner once acknowledged, else "" */
    char comment[VG_ALERT_COMMENT_MAX];      /* the owner's, from the acknowledgement */
} vg_alert_info;

/* One thing to publish. feed is where: the alert's own feed, or VG_FEED_SUPERVISOR for an
 * escalation's second copy. alert is borrowed for the callback only. */
typedef struct vg_alert_note {
    uint8_t reason; /* enum vg_alert_reason */
    uint8_t feed;   /* enum vg_feed */
    const vg_alert_info *alert;
} vg_alert_note;

/* One operator or system action: a POD ring record for the archive. */
typedef struct vg_alert_audit {
    int64_t t_ns;      /* event time (the lifecycle's clock) when it took effect */
    int64_t wall_ns;   /* wall clock of the request; 0 for system actions */
    int64_t until_ns;  /* shelve: expiry, event time; else 0 */
    uint64_t alert_id; /* 0 for reload */
    uint32_t zone;     /* VG_MODEL_NONE when none */
    uint8_t op;        /* enum vg_alert_op */
    uint8_t kind;      /* enum vg_alert_kind */
    uint8_t grade;     /* enum vg_grade at the time */
    uint8_t state;     /* enum vg_alert_state after the action */
    char operator_id[VG_ALERT_OPERATOR_MAX]; /* "system" for system actions */
    char comment[VG_ALERT_COMMENT_MAX];
} vg_alert_audit;

/* Outputs of the core; callbacks are optional and run synchronously on the caller's
 * thread; pointers are borrowed for the call. A callback must not call into the core. */
typedef struct vg_alert_sink {
    void *ctx;
    void (*on_note)(void *ctx, const vg_alert_note *note);
    void (*on_audit)(void *ctx, const vg_alert_audit *rec);
} vg_alert_sink;

/* Lifecycle rules. Zero fields take the defaults in brackets (vg_alert_policy_default()). */
typedef struct vg_alert_policy {
    /* An unacknowledged alert at this grade escalates (and then re-alarms at the same
     * interval) this long after it became unacknowledged at that grade; 0: never.
     * [critical 120 s, emergency 60 s, lower grades never] */
    int64_t escalate_ns[VG_GRADE_COUNT];
    int64_t shelve_max_ns;     /* longest shelving [8 h] */
    int64_t shelve_default_ns; /* when a request gives no duration [30 min] */
    /* EEMUA 191: flood_count or more new alerts within flood_window_ns is a flood [10, 10
     * min]; the flood ends when the window holds fewer. During a flood, new advisory and
     * warning alerts are grouped per (feed, sector) into a flood summary (alerts without a
     * zone, the engine's own, never are). */
    uint32_t flood_count;
    int64_t flood_window_ns;
    uint32_t max_alerts; /* alerts held at once, incl. out-of-service points [16384] */
} vg_alert_policy;

/* Fills the defaults. Thread: any. */
void vg_alert_policy_default(vg_alert_policy *p);

/* Who asks, for operator actions. */
typedef struct vg_alert_actor {
    const char *operator_id; /* required, non-empty; truncated to VG_ALERT_OPERATOR_MAX - 1 */
    const char *comment;     /* may be NULL; truncated to VG_ALERT_COMMENT_MAX - 1 */
    int64_t wall_ns;         /* recorded in the audit record */
} vg_alert_actor;

typedef struct vg_alert_core vg_alert_core;

/* Creates a lifecycle core. m: borrowed, must outlive the core (or be replaced with
 * vg_alert_core_set_model()). policy: copied (NULL: defaults). sink: copied (NULL: none).
 * Returns 0 and *ret (free with vg_alert_core_free()), -EINVAL (NULL m or ret, a negative
 * duration, max_alerts over 2^24), -ENOMEM. Thread: any; then only the owner. */
int vg_alert_core_new(const vg_model *m, const vg_alert_policy *policy, const vg_alert_sink *sink,
                      vg_alert_core **ret);

/* Frees it; accepts NULL and *cp == NULL; sets *cp to NULL. Thread: the owner. */
void vg_alert_core_free(vg_alert_core **cp);

/* Applies one analysis event (borrowed for the call); advances the core's clock to ev->t_ns
 * first (running timers, as vg_alert_core_tick()) when it is later.
 * Returns 0; -EINVAL for NULL or a kind, grade, feed or action out of range (nothing
 * changes); -ENOSPC when max_alerts are held and this needs one more (the event is still
 * published once, as an untracked note, and counted). Thread: the owner. Never allocates. */
int vg_alert_core_event(vg_alert_core *c, const vg_alert_event *ev);

/* Advances event time to t_ns and runs the timed rules: shelving expiry, escalation and
 * re-alarm, flood end. An earlier t_ns than the clock is ignored (returns 0).
 * Returns 0 or -EINVAL. Thread: the owner. Never allocates. */
int vg_alert_core_tick(vg_alert_core *c, int64_t t_ns);

/* Operator actions on alert `id`, at the core's current event time.
 * ack: unack -> acked, rtn_unack -> cleared (latched kinds: -> latched); records the owner.
 * shelve: hides the alert for duration_ns (0: the default; capped at shelve_max_ns).
 * unshelve: shows it again. set_service(on = 0) puts the alert's point out of service
 * (it stays held in state "normal" when its condition clears); on = 1 returns it.
 * reset: a latched alert (latched, or rtn_unack of a latched kind) -> cleared.
 * Return 0; -EINVAL (NULL, missing operator id); -ENOENT (no such alert); -EALREADY (ack of
 * an acknowledged alert, unshelve of one not shelved, out of service twice, ...); -EBUSY
 * (reset while the condition is active); -EPERM (reset of a kind that does not latch).
 * On error nothing changes and nothing is recorded. Thread: the owner. */
int vg_alert_core_ack(vg_alert_core *c, uint64_t id, const vg_alert_actor *who);
int vg_alert_core_shelve(vg_alert_core *c, uint64_t id, int64_t duration_ns,
                         const vg_alert_actor *who);
int vg_alert_core_unshelve(vg_alert_core *c, uint64_t id, const vg_alert_actor *who);
int vg_alert_core_set_service(vg_alert_core *c, uint64_t id, int on, const vg_alert_actor *who);
int vg_alert_core_reset(vg_alert_core *c, uint64_t id, const vg_alert_actor *who);

/* Replaces the venue model, keeping every alert whose subject and zone exist in the new
 * one (matched by id, not index), and every alert without a subject; the others are
 * published "removed" and dropped. Routes are re-read. The old model must stay valid until
 * this returns. m: borrowed. Returns 0 or -EINVAL. Thread: the owner. */
int vg_alert_core_set_model(vg_alert_core *c, const vg_model *m, const vg_alert_actor *who);
const vg_model *vg_alert_core_model(const vg_alert_core *c);

/* The alert with this id, or NULL; valid until the next call into the core. Thread: owner. */
const vg_alert_info *vg_alert_core_find(const vg_alert_core *c, uint64_t id);

/* Calls fn for every alert held (visible or hidden, flood summaries included; out-of-service
 * points in state "normal" too), in table order. Returns 0 or -EINVAL. Thread: the owner. */
int vg_alert_core_for_each(const vg_alert_core *c, void (*fn)(void *ctx, const vg_alert_info *a),
                           void *ctx);

typedef struct vg_alert_core_stats {
    uint64_t events;    /* analysis events applied */
    uint64_t notes;     /* notes emitted */
    uint64_t untracked; /* events published without a slot (-ENOSPC) */
    uint64_t escalations;
    uint64_t floods; /* floods started */
    int64_t now_ns;  /* the core's event time (INT64_MIN before any input) */
    uint32_t active; /* alerts held, flood summaries excluded */
    uint32_t by_state[VG_ALERT_STATE_COUNT];
    uint32_t by_grade[VG_GRADE_COUNT]; /* of alerts in states unack/acked */
    uint32_t shelved, suppressed, out_of_service, held;
    int in_flood;
} vg_alert_core_stats;

/* Copies the counters. Returns 0 or -EINVAL. Thread: the owner. */
int vg_alert_core_get_stats(const vg_alert_core *c, vg_alert_core_stats *ret_stats);

/* ---- the publisher thread ---- */

/* Zone metrics for the console, compact: 32 of them per ring record. */
typedef struct vg_alert_zone_metric {
    uint32_t zone;
    float density_per_m2; /* NaN without density */
    char los;             /* Fruin 'A'..'F', '-' */
    uint8_t grade;        /* enum vg_grade of the zone's density alert */
    uint8_t flags;        /* 1: unreliable (a camera unhealthy or stale) */
    uint8_t reserved;
} vg_alert_zone_metric;

#define VG_ALERT_METRICS_PER_INPUT 32

enum vg_alert_input_type {
    VG_ALERT_IN_EVENT = 1, /* u.event: an analysis alert event */
    VG_ALERT_IN_TICK,      /* t_ns: event time advanced (runs the timed rules) */
    VG_ALERT_IN_METRICS,   /* u.metrics: latest zone metrics (kept for snapshot/metrics) */
    VG_ALERT_IN_MODEL,     /* u.reload: switch to this model (vg_alert_core_set_model()) */
};

/* A model switch and who asked for it, for the reload's audit record. */
typedef struct vg_alert_reload {
    const vg_model *model; /* borrowed until vg_alert_model_in_use() returns it */
    int64_t wall_ns;       /* when it was asked for; 0 for a system reload */
    char operator_id[VG_ALERT_OPERATOR_MAX]; /* "": a system reload (audited as "system") */
    char comment[VG_ALERT_COMMENT_MAX];
} vg_alert_reload;

/* The ring record the vg-alert thread consumes (fixed size, POD). */
typedef struct vg_alert_input {
    uint32_t type;  /* enum vg_alert_input_type */
    uint32_t count; /* METRICS: entries used */
    int64_t t_ns;   /* TICK, METRICS: event time */
    union {
        vg_alert_event event;
        vg_alert_zone_metric metrics[VG_ALERT_METRICS_PER_INPUT];
        vg_alert_reload reload;
    } u;
} vg_alert_input;

/* Packs n zone metrics into ceil(n / 32) VG_ALERT_IN_METRICS records at out (room for
 * max_out). Returns the records written (fewer when max_out is short). Thread: any. */
size_t vg_alert_pack_metrics(const vg_zone_metrics *zones, size_t n, int64_t t_ns,
                             vg_alert_input *out, size_t max_out);

#define VG_ALERT_DEFAULT_FEEDS "tcp://127.0.0.1:5556"
#define VG_ALERT_DEFAULT_CONTROL "tcp://127.0.0.1:5557"

typedef struct vg_alert_cfg {
    const char *feeds_endpoint;   /* bind address of the PUB socket [VG_ALERT_DEFAULT_FEEDS] */
    const char *control_endpoint; /* bind address of the REP socket [..._CONTROL] */
    /* ZeroMQ CURVE: Z85 secret keys (40 characters) of the server side; NULL: plain. With
     * a key, only clients that know the matching public key complete the handshake. */
    const char *feeds_secret_key;
    const char *control_secret_key;
    /* Optional allow-lists of client CURVE public keys (Z85, 40 characters), checked by a
     * ZAP handler on the vg-alert thread: with a list, a client must also hold one of these
     * key pairs (NULL or 0 keys: any client that knows the server key). Copied. */
    const char *const *feeds_client_keys;
    size_t n_feeds_client_keys;
    const char *const *control_client_keys;
    size_t n_control_client_keys;
    int heartbeat_ms; /* heartbeat and metrics publication interval, wall clock [1000] */
    int sndhwm;       /* PUB high-water mark per subscriber, messages [100000] */
    vg_alert_policy policy;
    /* Optional audit output (record size sizeof(vg_alert_audit)); the vg-alert thread is
     * its producer. A full ring never blocks alerting: the record is counted as dropped. */
    vg_ring *audit;
    /* Optional hooks, called on the vg-alert thread with hook_ctx. status_fn adds engine
     * counters to the status reply: json_object is a cJSON object (cJSON *) to add members
     * to. reload_fn reloads the model from path (NULL: the current file) on behalf of who
     * (the request's operator and comment; NULL: none given); it returns 0 and later pushes
     * a VG_ALERT_IN_MODEL record carrying who, or a negative errno with a message in err. */
    void *hook_ctx;
    void (*status_fn)(void *hook_ctx, void *json_object);
    int (*reload_fn)(void *hook_ctx, const char *path, const vg_alert_actor *who, char *err,
                     size_t err_len);
} vg_alert_cfg;

/* Fills the defaults (endpoints, heartbeat, hwm, policy; no keys, no audit, no hooks).
 * Thread: any. */
void vg_alert_cfg_default(vg_alert_cfg *cfg);

typedef struct vg_alert vg_alert;

/* Creates the publisher and binds both sockets (so a busy port fails here). m: borrowed,
 * must outlive it (or until a VG_ALERT_IN_MODEL swap is reported by
 * vg_alert_model_in_use()). cfg: copied, strings included (NULL: defaults).
 * Returns 0 and *ret (free with vg_alert_free()); -EINVAL (NULL m or ret, a bad key or
 * endpoint); -EADDRINUSE and other errnos from binding; -ENOMEM. Thread: any; the sockets
 * move to the vg-alert thread at vg_alert_start(). */
int vg_alert_new(const vg_model *m, const vg_alert_cfg *cfg, vg_alert **ret);

/* The endpoints actually bound ("tcp://127.0.0.1:41234" after a "*" port). Static for the
 * handle's life. Thread: any. */
const char *vg_alert_feeds_endpoint(const vg_alert *a);
const char *vg_alert_control_endpoint(const vg_alert *a);

/* Starts the vg-alert thread consuming `in` (record size sizeof(vg_alert_input); borrowed
 * until vg_alert_stop()). Returns 0; -EINVAL (NULL, wrong record size); -EALREADY (started
 * before); -errno from pthread_create. Thread: the one that created it. */
int vg_alert_start(vg_alert *a, vg_ring *in);

/* Stops the thread: it first drains every record already in `in` and publishes the
 * result, then joins. The producer should have stopped pushing. Returns 0, -EINVAL, or
 * -EALREADY when not running. Thread: the one that started it. */
int vg_alert_stop(vg_alert *a);

/* Stops if running, closes the sockets and frees; accepts NULL and *ap == NULL; sets *ap to
 * NULL. Thread: the one that created it. */
void vg_alert_free(vg_alert **ap);

/* The model the vg-alert thread uses now: after pushing VG_ALERT_IN_MODEL, the engine may
 * free the old model once this returns the new one. Thread: any. */
const vg_model *vg_alert_model_in_use(const vg_alert *a);

/* Counters of the publisher (atomic snapshots). */
typedef struct vg_alert_stats {
    uint64_t inputs;        /* ring records consumed */
    uint64_t published;     /* feed messages sent (heartbeats and metrics excluded) */
    uint64_t send_errors;   /* zmq_send failures (counted, never silent) */
    uint64_t requests;      /* control requests answered */
    uint64_t bad_requests;  /* ... of which answered with ok:false */
    uint64_t audit_dropped; /* audit records the audit ring could not take */
    uint64_t seq;           /* last sequence number published */
} vg_alert_stats;

/* Returns 0 or -EINVAL. Thread: any. */
int vg_alert_get_stats(const vg_alert *a, vg_alert_stats *ret_stats);

#ifdef __cplusplus
}
#endif

#endif
