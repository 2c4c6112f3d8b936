/* The live engine: owns the rings and threads of `vigil run` and the counters they report.
 *
 * DESIGN
 * Threads and what each owns (one producer and one consumer per ring):
 *   vg-ingest   the mosquitto client; producer of `readings` and `rejects` (src/ingest).
 *   vg-analysis the vg_analysis core and the tick timer; consumer of `readings`, producer of
 *               `events` (blocking: alerts are never dropped) and `archive` (never blocking:
 *               alerting does not wait for the archive; what it cannot take is counted).
 *               With feeds also producer of `alerts` (blocking, as `events`); with an
 *               archive producer of `hdf5` (never blocking, like `archive`).
 *   vg-publish  the event lines (--events) and the on_event hook; consumer of `events`.
 *   vg-alert    (src/alert) ZeroMQ feeds and control socket; consumer of `alerts`, producer
 *               of `audit` (operator actions).
 *   vg-rejects  the reject log (JSON lines); consumer of `rejects` and `archive`, producer of
 *               `hdf5_rejects` (a copy of every ingest refusal for the HDF5 archive).
 *   vg-archive  (src/archive) the HDF5 file; consumer of `hdf5`, `hdf5_rejects`, `audit`.
 * Counters are _Atomic with one writer each (relaxed load+store by the owner thread) and
 * relaxed loads by the status and metrics readers.
 *
 * Reload: see include/vigil/engine.h. The marker records: a vg_reading of type
 * VG_INGEST_READING_MODEL in `readings` (the model is e->pending, written before the ingestor
 * gets it), an EREC_MODEL in `events`, an AREC_MODEL in `archive` (these two carry the
 * pointer). The reload flag (e->reloading) is taken by vg_engine_reload() with a CAS and
 * released by vg-analysis once the switch is done; while it is held only its owner touches
 * e->latest, e->pending and e->models.
 *
 * Shutdown drains in pipeline order: stop ingest (joined) -> close `readings` (the analysis
 * thread pushes what is left, ticks once more, closes `events`, `archive`, `alerts`)
 * -> close `rejects`; vg-publish and vg-rejects drain and exit -> vg-alert drains and stops
 * (its last audit records included) -> close `audit` and `hdf5` -> the HDF5 writer drains
 * its rings and closes the file. */
#include "vigil/engine.h"
#include "vigil/archive.h"
#include "vigil/common.h"
#include "vigil/ring.h"

#include <cjson/cJSON.h>

#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define POP_BATCH 256

enum { R_READINGS, R_EVENTS, R_REJECTS, R_ARCHIVE, R_ALERTS, R_HDF5, R_HDF5_REJECTS, R_AUDIT,
       R_COUNT };
static const char *const ring_names[R_COUNT] = {"readings", "events", "rejects", "archive",
                                                "alerts", "hdf5", "hdf5_rejects", "audit"};
/* Ids of the engine's own technical alerts: far above any analysis id. */
#define TECH_ID_BASE (UINT64_C(1) << 62)
enum { TECH_ARCHIVE, TECH_REJECTS, TECH_COUNT };
static const uint8_t tech_kinds[TECH_COUNT] = {VG_ALERT_ARCHIVE_BACKLOG, VG_ALERT_INGEST_REJECTS};
/* ingest_rejects clears after this many windows in a row below the limit. It is also raised
 * by refusals in at least REJECTS_PERSIST of the last REJECTS_HORIZON windows (10 min at
 * 10 s), however few: a sensor sending once a minute with a wrong clock never reaches the
 * limit in one window, and would otherwise only look silent (sensor_stale). */
#define REJECTS_QUIET_WINDOWS 6
#define REJECTS_HORIZON 60
#define REJECTS_PERSIST 6

/* What the analysis thread hands the archive side. Today: ticks (for deterministic replay,
 * issue #6) and readings the core refused. */
enum arec_type { AREC_TICK = 1, AREC_REJECT = 2, AREC_MODEL = 3 };
typedef struct arec {
    uint32_t type;
    uint32_t reason; /* AREC_REJECT: enum vg_reject */
    int64_t t_ns;    /* AREC_TICK: tick event time */
    vg_reading reading;
    const vg_model *model; /* AREC_MODEL: in force for the records after this one */
} arec;

/* What vg-analysis hands vg-publish: alert events, and model switches. */
enum erec_type { EREC_EVENT = 1, EREC_MODEL = 2 };
typedef struct erec {
    uint32_t type;
    const vg_model *model; /* EREC_MODEL */
    vg_alert_event ev;     /* EREC_EVENT */
} erec;

/* A side log (event lines, reject log) as one thread writes it: buffered, and a write or
 * flush that fails (a full disk) loses the lines since the last good flush. */
struct line_log {
    const char *what;      /* "events", "reject" */
    uint64_t pending;      /* lines buffered since the last good flush */
    int failing;           /* 1 from a failed write until a flush works */
    _Atomic uint64_t lost; /* lines that did not reach the file */
};

struct vg_engine {
    /* Read-only after vg_engine_new(). */
    vg_engine_cfg cfg;
    int archive_lock; /* the archive directory, flock()ed while the engine lives; -1 none */
    char *strs[8];
    const vg_model *m;
    vg_ring *rings[R_COUNT];
    FILE *events_out; /* owned by vg-publish once started */
    FILE *rejects_out; /* owned by vg-archive once started */
    struct line_log events_log, rejects_log; /* the same owners */
    int own_events, own_rejects;

    vg_ingest *ingest;
    vg_analysis *analysis; /* owned by vg-analysis */
    /* Reload (see the top of this file). */
    atomic_int reloading;          /* 1 from an accepted reload until vg-analysis switched */
    atomic_int running;            /* 1 between start and stop: reloads are accepted */
    const vg_model *latest;        /* newest model accepted (reload flag owner) */
    vg_alert_reload reload_by;     /* who asked for e->pending (reload flag owner) */
    char *model_path;              /* the file to reload when no path is given */
    _Atomic(const vg_model *) pending; /* the model the next marker switches to */
    _Atomic(const vg_model *) in_force; /* vg-analysis: the model it runs now */
    vg_model **models;             /* loaded by reloads, freed with the engine */
    size_t n_models;
    _Atomic uint64_t reloads;      /* written by vg-analysis only */
    vg_alert *alert;       /* NULL without feeds */
    vg_archive *archive;   /* NULL without an archive directory */
    vg_alert_input *mbuf;  /* metrics records for the alert ring (vg-analysis) */
    size_t mbuf_cap;
    vg__metrics *metrics;

    pthread_t th_analysis, th_publish, th_archive;
    int alert_started, archive_started; /* main thread only */
    int started, stopped; /* main thread only */

    /* Written by vg-analysis only. */
    _Atomic uint64_t processed, taken, late_refused, ticks, archive_full;
    _Atomic uint64_t rejects_analysis[VG_INGEST_REJECT_SLOTS];
    /* Written by vg-publish only. */
    _Atomic uint64_t events;
    _Atomic uint64_t events_by[VG_FEED_COUNT][VG_GRADE_COUNT];
    /* Written by vg-rejects only. */
    _Atomic uint64_t reject_log_written, hdf5_rejects_full;
    /* Written by vg-analysis only: event clock, technical alert state. */
    _Atomic int64_t event_now;
    _Atomic uint64_t tech_events;
    uint64_t tech_id[TECH_COUNT]; /* the active alert's id, 0: none */
    uint64_t tech_full_seen, tech_faults_seen;
    int64_t tech_next_check_mono;
    uint64_t rj_seen[VG_REJECT_COUNT]; /* refusals by reason at the last window's end */
    uint64_t rj_since_raise;           /* counted refusals since ingest_rejects was raised */
    int rj_quiet;                      /* windows in a row below the limit while raised */
    uint8_t rj_hit[REJECTS_HORIZON];   /* 1: that window had a counted refusal (a ring) */
    int rj_hits, rj_hit_i;             /* their sum; the next slot */
    int64_t rj_next_mono;              /* end of the current window */
    char rj_source[96];                /* the newest counted refusal of the core, */
    int64_t rj_source_mono;            /* named "sensor T1", and when */
    /* Written by vg-rejects, read by vg-analysis: the newest counted ingest refusal. */
    pthread_mutex_t rj_mu;
    char rj_topic[VG_INGEST_REJECT_TOPIC_MAX + 1];
    int64_t rj_topic_mono;
    int64_t last_tick_t;
    /* Written by vg-analysis (status timer) */
    int64_t next_status_mono;

    int64_t mono0;    /* start, on the monotonic clock */
    int64_t wall_off; /* wall - monotonic clock at the last step seen (vg-analysis) */
};

static void bump(_Atomic uint64_t *c, uint64_t n)
{
    /* Relaxed: single writer; readers want a recent value only. */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* A side log never stops the engine: lost lines are counted, a warning says so once per
 * failing stretch, and writing goes on when the disk has room again. */
static void log_failed(FILE *f, struct line_log *lg)
{
    const int err = errno;

    bump(&lg->lost, lg->pending);
    lg->pending = 0;
    clearerr(f);
    if (!lg->failing)
        vg_warn("%s log: write failed (%s); its lines are counted as lost until writes work "
                "again", lg->what, strerror(err));
    lg->failing = 1;
}

static void log_line(FILE *f, struct line_log *lg, const char *line, size_t len)
{
    lg->pending++;
    if (fwrite(line, 1, len, f) != len)
        log_failed(f, lg);
}

static void log_flush(FILE *f, struct line_log *lg)
{
    if (fflush(f) != 0) {
        log_failed(f, lg);
        return;
    }
    /* A flush with nothing buffered proves nothing about the disk: only lines written
     * end a failure. */
    if (lg->failing && lg->pending == 0)
        return;
    if (lg->failing)
        vg_info("%s log: writing again", lg->what);
    lg->failing = 0;
    lg->pending = 0;
}

static uint64_t ld(const _Atomic uint64_t *c)
{
    return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_relaxed);
}

void vg_engine_cfg_default(vg_engine_cfg *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->use_broker = 1;
    vg_ingest_cfg_default(&ret->ingest);
    vg_analysis_cfg_default(&ret->analysis);
    ret->reading_ring = 65536;
    ret->event_ring = 8192;
    ret->reject_ring = 4096;
    ret->archive_ring = 8192;
    ret->alert_ring = 8192;
    ret->hdf5_ring = 65536;
    ret->tick_ns = VG_NS_PER_S;
    ret->startup_grace_ns = 3 * VG_NS_PER_S;
    ret->rejects_alert = 10;
    ret->rejects_window_ns = 10 * VG_NS_PER_S;
}

/* ---- JSON output helpers (no allocation) ---- */

struct sb {
    char *buf;
    size_t cap, len;
};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void sb_printf(struct sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->len < b->cap ? b->buf + b->len : NULL, b->len < b->cap ? b->cap - b->len : 0,
                      fmt, ap);
    va_end(ap);
    if (n > 0)
        b->len += (size_t)n;
}

static void sb_putc(struct sb *b, char c)
{
    if (b->len < b->cap)
        b->buf[b->len] = c;
    b->len++;
}

/* A JSON string of len bytes: escapes quotes, backslashes and control bytes; bytes >= 0x80
 * that are not valid UTF-8 would make the line invalid, so every byte >= 0x7f is written as
 * \u00XX (the payload excerpt of a reject may be binary). */
static void sb_str(struct sb *b, const void *s, size_t len, int binary_safe)
{
    const unsigned char *p = s;
    sb_putc(b, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            sb_putc(b, '\\');
            sb_putc(b, (char)c);
        } else if (c == '\n') {
            sb_printf(b, "\\n");
        } else if (c < 0x20 || (binary_safe && c >= 0x7f)) {
            sb_printf(b, "\\u%04x", c);
        } else {
            sb_putc(b, (char)c);
        }
    }
    sb_putc(b, '"');
}

static void sb_num(struct sb *b, double v)
{
    if (isfinite(v))
        sb_printf(b, "%.17g", v);
    else
        sb_printf(b, "null");
}

static void sb_ts(struct sb *b, int64_t t_ns)
{
    /* Unix seconds with 9 decimals, exact (no double rounding); -0.5 s is "-0.500000000". */
    const uint64_t a = t_ns < 0 ? -(uint64_t)t_ns : (uint64_t)t_ns;
    sb_printf(b, "%s%llu.%09llu", t_ns < 0 ? "-" : "", (unsigned long long)(a / VG_NS_PER_S),
              (unsigned long long)(a % VG_NS_PER_S));
}

static const char *zone_id(const vg_model *m, uint32_t z)
{
    const vg_zone *zone = vg_model_zone(m, z);
    return zone ? zone->id : NULL;
}

static const char *source_id(const vg_model *m, int type, uint32_t idx)
{
    switch (type) {
    case VG_SOURCE_ZONE: {
        const vg_zone *x = vg_model_zone(m, idx);
        return x ? x->id : NULL;
    }
    case VG_SOURCE_SENSOR: {
        const vg_sensor *x = vg_model_sensor(m, idx);
        return x ? x->id : NULL;
    }
    case VG_SOURCE_CAMERA: {
        const vg_camera *x = vg_model_camera(m, idx);
        return x ? x->id : NULL;
    }
    case VG_SOURCE_LINE: {
        const vg_line *x = vg_model_line(m, idx);
        return x ? x->id : NULL;
    }
    case VG_SOURCE_HELP_POINT: {
        const vg_help_point *x = vg_model_help_point(m, idx);
        return x ? x->id : NULL;
    }
    default:
        return NULL;
    }
}

static void sb_id(struct sb *b, const char *id)
{
    if (id)
        sb_str(b, id, strlen(id), 1);
    else
        sb_printf(b, "null");
}

size_t vg_engine_event_json(const vg_model *m, const vg_alert_event *ev, char *buf, size_t cap)
{
    struct sb b = {buf, cap, 0};
    const char *zid = zone_id(m, ev->zone);
    const char *state = ev->action == VG_ALERT_ACTION_CLEAR ? "returned_to_normal" : "unack";

    sb_printf(&b, "{\"v\":1,\"seq\":%llu,\"id\":\"%llu\",\"feed\":\"%s\",\"topic\":\"%s.%s.%s\"",
              (unsigned long long)ev->seq, (unsigned long long)ev->id, vg_feed_name(ev->feed),
              vg_feed_name(ev->feed), vg_grade_name(ev->grade), zid ? zid : "-");
    sb_printf(&b, ",\"kind\":\"%s\",\"action\":\"%s\",\"zone\":",
              vg_alert_kind_name(ev->kind), vg_alert_action_name(ev->action));
    sb_id(&b, zid);
    sb_printf(&b, ",\"source_type\":\"%s\",\"source\":", vg_source_type_name(ev->source_type));
    sb_id(&b, source_id(m, ev->source_type, ev->source));
    sb_printf(&b, ",\"grade\":\"%s\",\"prev_grade\":\"%s\",\"state\":\"%s\",\"ts\":",
              vg_grade_name(ev->grade), vg_grade_name(ev->prev_grade), state);
    sb_ts(&b, ev->t_ns);
    sb_printf(&b, ",\"raised_ts\":");
    sb_ts(&b, ev->raised_ns);
    sb_printf(&b, ",\"value\":");
    sb_num(&b, ev->value);
    sb_printf(&b, ",\"threshold\":");
    sb_num(&b, ev->threshold);
    sb_printf(&b, ",\"trend_per_min\":");
    sb_num(&b, ev->trend_per_min);
    sb_printf(&b, ",\"ttc_s\":");
    sb_num(&b, ev->ttc_s);
    sb_printf(&b, ",\"chattering\":%s,\"latched\":%s,\"unreliable\":%s",
              ev->flags & VG_ALERT_F_CHATTERING ? "true" : "false",
              ev->flags & VG_ALERT_F_LATCHED ? "true" : "false",
              ev->flags & VG_ALERT_F_UNRELIABLE ? "true" : "false");
    sb_printf(&b, ",\"evidence\":[");
    for (unsigned i = 0; i < ev->evidence_count && i < VG_EVIDENCE_MAX; i++) {
        const vg_evidence *e = &ev->evidence[i];
        sb_printf(&b, "%s{\"ts\":", i ? "," : "");
        sb_ts(&b, e->t_ns);
        sb_printf(&b, ",\"value\":");
        sb_num(&b, e->value);
        sb_printf(&b, ",\"source_type\":\"%s\",\"source\":", vg_source_type_name(e->source_type));
        sb_id(&b, source_id(m, e->source_type, e->source));
        sb_printf(&b, ",\"reading\":\"%s\"}", vg_reading_type_name(e->reading_type));
    }
    sb_printf(&b, "],\"message\":");
    sb_str(&b, ev->message, strnlen(ev->message, VG_ALERT_MESSAGE_MAX), 0);
    /* the same action as the feed's (vg_model_action) */
    char action[512];
    vg_model_action(m, (enum vg_alert_kind)ev->kind, ev->zone, action, sizeof(action));
    if (action[0] && ev->action != VG_ALERT_ACTION_CLEAR) {
        sb_printf(&b, ",\"suggested_action\":");
        sb_str(&b, action, strlen(action), 0);
    }
    sb_printf(&b, "}\n");
    if (cap)
        buf[b.len < cap ? b.len : cap - 1] = '\0';
    return b.len;
}

static size_t reject_json(const vg_model *m, const vg_ingest_reject *rj, char *buf, size_t cap)
{
    struct sb b = {buf, cap, 0};

    sb_printf(&b, "{\"v\":1,\"stage\":\"ingest\",\"reason\":\"%s\",\"count\":%u,\"received\":",
              vg_reject_name(rj->reason), rj->count);
    sb_ts(&b, rj->wall_ns);
    if (rj->t_ns) {
        sb_printf(&b, ",\"ts\":");
        sb_ts(&b, rj->t_ns);
    }
    sb_printf(&b, ",\"topic\":");
    sb_str(&b, rj->topic, rj->topic_len, 1);
    sb_printf(&b, ",\"payload_len\":%u,\"payload_excerpt\":", rj->payload_len);
    sb_str(&b, rj->payload, rj->excerpt_len, 1);
    sb_printf(&b, "}\n");
    return b.len;
}

static int reading_source_type(const vg_reading *r)
{
    return r->type == VG_READING_SENSOR ? VG_SOURCE_SENSOR
           : r->type == VG_READING_LINE ? VG_SOURCE_LINE
           : r->type == VG_READING_HELP ? VG_SOURCE_HELP_POINT
                                        : VG_SOURCE_CAMERA;
}

static size_t late_reject_json(const vg_model *m, const arec *a, char *buf, size_t cap)
{
    struct sb b = {buf, cap, 0};
    const vg_reading *r = &a->reading;
    int st = reading_source_type(r);

    sb_printf(&b, "{\"v\":1,\"stage\":\"analysis\",\"reason\":\"%s\",\"count\":1,\"ts\":",
              vg_reject_name(a->reason));
    sb_ts(&b, r->t_ns);
    sb_printf(&b, ",\"reading\":\"%s\",\"source\":", vg_reading_type_name(r->type));
    sb_id(&b, source_id(m, st, r->source));
    sb_printf(&b, ",\"zone\":");
    sb_id(&b, zone_id(m, r->zone));
    sb_printf(&b, ",\"value\":");
    sb_num(&b, r->value);
    sb_printf(&b, "}\n");
    return b.len;
}

/* ---- vg-analysis ---- */

static int64_t wall_now(const vg_engine *e)
{
    return e->cfg.wall_clock ? e->cfg.wall_clock() : vg_wall_ns();
}

/* Tick time on the wall clock, by which ingest judges readings at receipt. A step of the
 * clock (NTP after boot) is followed, not smoothed over: ticks anchored at the start would
 * refuse every later reading as too old or too far ahead until a restart. Ticks never go
 * back (the caller's check): after a backward step they wait for the clock to pass the last
 * one. Thread: vg-analysis. */
static int64_t event_now(vg_engine *e)
{
    const int64_t wall = wall_now(e), off = wall - vg_mono_ns();

    if (off - e->wall_off > VG_NS_PER_S || e->wall_off - off > VG_NS_PER_S) {
        vg_warn("engine: the wall clock stepped by %+.1f s; ticks follow it",
                (double)(off - e->wall_off) / 1e9);
        e->wall_off = off;
    }
    return wall;
}

static void archive_push(vg_engine *e, const arec *rec)
{
    if (vg_ring_push(e->rings[R_ARCHIVE], rec) < 0)
        bump(&e->archive_full, 1);
}

/* On the wall clock the HDF5 archive never holds up alerting: a full ring is a counted loss
 * (and an archive_backlog alert). On the event clock (a simulation, a backlog, a replayed
 * stream) nothing is late, so the analysis thread waits for the archive instead: the readings
 * ring fills, ingest waits, and the broker queues, and nothing is lost. A faulted archive
 * still consumes (and counts what it drops), so the wait ends. Returns 1 to try again. */
static int h5_wait(vg_engine *e)
{
    return e->cfg.event_clock &&
           vg_ring_wait_writable(e->rings[R_HDF5], VG_ARCHIVE_MAX_SLOTS, -1) != -ECANCELED;
}

static void h5_count(vg_engine *e, int rc)
{
    if (rc < 0)
        bump(&e->archive_full, 1);
}

/* One HDF5 push (a vg_archive_push_*() call, evaluated again while h5_wait() says so). */
#define H5_PUSH(e, call)                                                                     \
    do {                                                                                     \
        int h5_rc_;                                                                          \
        while ((h5_rc_ = (call)) < 0 && h5_wait(e))                                          \
            ;                                                                                \
        h5_count(e, h5_rc_);                                                                 \
    } while (0)

/* How long a reload may wait for room in a full HDF5 ring on the wall clock. */
#define MODEL_RECORD_WAIT_NS (250 * VG_NS_PER_MS)

/* A lost model record is a lost switch: every later replay and tuning run of the file would
 * apply the old model past it. Reloads are rare, so even on the wall clock this one waits
 * for the archive, but at most MODEL_RECORD_WAIT_NS: a stalled disk may delay alerting by
 * that much at a reload, never more. (On the event clock H5_PUSH waits without limit.) */
static void push_model_record(vg_engine *e, int64_t t_ns, const vg_model *m)
{
    int64_t deadline;
    int rc;

    if (e->cfg.event_clock) {
        H5_PUSH(e, vg_archive_push_model(e->rings[R_HDF5], t_ns, m));
        return;
    }
    deadline = vg_mono_ns() + MODEL_RECORD_WAIT_NS;
    while ((rc = vg_archive_push_model(e->rings[R_HDF5], t_ns, m)) == -EAGAIN) {
        const int64_t left = deadline - vg_mono_ns();
        if (left <= 0 || vg_ring_wait_writable(e->rings[R_HDF5], VG_ARCHIVE_MAX_SLOTS, left) < 0)
            break;
    }
    if (rc < 0) {
        char why[64];

        if (rc == -EAGAIN)
            snprintf(why, sizeof(why), "its ring stayed full for %lld ms",
                     (long long)(MODEL_RECORD_WAIT_NS / VG_NS_PER_MS));
        else
            snprintf(why, sizeof(why), "%s", vg_strerror(rc));
        vg_warn("engine: the archive could not take the model record of the reload of %s "
                "(%s): replays of this file will not see the switch",
                vg_model_path(m) ? vg_model_path(m) : "-", why);
    }
    h5_count(e, rc);
}

/* Alerts are never dropped: wait for the consumer (a closed ring means it is gone). */
static void push_wait(vg_ring *r, const void *rec)
{
    while (vg_ring_push(r, rec) < 0)
        if (vg_ring_wait_writable(r, 1, -1) == -ECANCELED)
            return;
}

static void alert_push_event(vg_engine *e, const vg_alert_event *ev)
{
    erec rec;
    memset(&rec, 0, offsetof(erec, ev));
    rec.type = EREC_EVENT;
    rec.ev = *ev;
    push_wait(e->rings[R_EVENTS], &rec);
    if (e->alert) {
        vg_alert_input in;
        memset(&in, 0, offsetof(vg_alert_input, u));
        in.type = VG_ALERT_IN_EVENT;
        in.t_ns = ev->t_ns;
        in.u.event = *ev;
        push_wait(e->rings[R_ALERTS], &in);
    }
}

static void sink_alert(void *ctx, const vg_alert_event *ev)
{
    vg_engine *e = ctx;

    alert_push_event(e, ev);
    if (e->archive)
        H5_PUSH(e, vg_archive_push_alert(e->rings[R_HDF5], ev));
}

static void sink_metrics(void *ctx, int64_t t_ns, const vg_zone_metrics *zones, size_t n)
{
    vg_engine *e = ctx;

    if (e->archive)
        for (size_t i = 0; i < n; i++)
            H5_PUSH(e, vg_archive_push_metrics(e->rings[R_HDF5], &zones[i]));
    if (e->alert) {
        size_t k = vg_alert_pack_metrics(zones, n, t_ns, e->mbuf, e->mbuf_cap);
        for (size_t i = 0; i < k; i++)
            push_wait(e->rings[R_ALERTS], &e->mbuf[i]);
    }
}

static void sink_reject(void *ctx, const vg_reading *r, enum vg_reject why)
{
    vg_engine *e = ctx;
    arec rec = {.type = AREC_REJECT, .reason = (uint32_t)why, .t_ns = r->t_ns, .reading = *r};

    bump(&e->late_refused, 1);
    if ((unsigned)why < VG_INGEST_REJECT_SLOTS)
        bump(&e->rejects_analysis[why], 1);
    archive_push(e, &rec);
    if (e->archive) {
        vg_archive_reject rj;
        vg_archive_reject_from_reading(r, why, VG_ARCHIVE_STAGE_TICK, &rj);
        H5_PUSH(e, vg_archive_push_reject(e->rings[R_HDF5], &rj));
    }
}

static void status_log(const vg_engine *e)
{
    char line[1024];
    vg_engine_status(e, line, sizeof(line));
    vg_info("%s", line);
}

/* Raises (warning) or clears one of the engine's own technical alerts. Made here, not by the
 * core, so they go to the feeds and event lines but not into the archive (replay matches).
 * They belong to no zone. */
static void tech_alert(vg_engine *e, int which, int64_t t, int raise, double value,
                       double threshold, const char *message)
{
    vg_alert_event ev;

    memset(&ev, 0, sizeof(ev));
    if (raise) {
        bump(&e->tech_events, 1);
        e->tech_id[which] = TECH_ID_BASE + ld(&e->tech_events);
    }
    ev.id = e->tech_id[which]; /* a clear carries its raise's id */
    ev.t_ns = t;
    ev.raised_ns = t;
    ev.zone = VG_MODEL_NONE;
    ev.source = VG_MODEL_NONE;
    ev.source_type = VG_SOURCE_NONE;
    ev.kind = tech_kinds[which];
    ev.feed = VG_FEED_TECHNICAL;
    ev.action = raise ? VG_ALERT_ACTION_RAISE : VG_ALERT_ACTION_CLEAR;
    ev.grade = raise ? VG_GRADE_WARNING : VG_GRADE_CLEAR;
    ev.prev_grade = raise ? VG_GRADE_CLEAR : VG_GRADE_WARNING;
    ev.value = value;
    ev.threshold = threshold;
    ev.trend_per_min = NAN;
    ev.ttc_s = -1;
    snprintf(ev.message, sizeof(ev.message), "%s", message);
    if (raise)
        vg_warn("engine: %s", ev.message);
    else
        vg_info("engine: %s", ev.message);
    if (!raise)
        e->tech_id[which] = 0;
    alert_push_event(e, &ev);
}

/* The archive_backlog technical alert: raised while the archive is faulted or its rings
 * overflowed since the last check (once a second), cleared once neither holds. */
static void archive_check(vg_engine *e, int64_t t, int64_t now)
{
    vg_archive_stats st;
    uint64_t full = ld(&e->archive_full);
    char msg[VG_ALERT_MESSAGE_MAX];
    int bad;

    if (!e->archive || now < e->tech_next_check_mono)
        return;
    e->tech_next_check_mono = now + VG_NS_PER_S;
    if (vg_archive_get_stats(e->archive, &st) < 0)
        return;
    full += ld(&e->hdf5_rejects_full);
    bad = st.faulted || full > e->tech_full_seen || st.faults > e->tech_faults_seen;
    if (bad != (e->tech_id[TECH_ARCHIVE] != 0)) {
        /* Not archived: what the ring could not take, and what the writer took but could
         * not make durable (a fault). */
        if (bad)
            snprintf(msg, sizeof(msg), "archive %s: %s (faults %llu, records not archived %llu)",
                     st.faulted ? "faulted" : "backlog",
                     st.last_error ? vg_strerror(st.last_error) : "ring full",
                     (unsigned long long)st.faults, (unsigned long long)(full + st.dropped));
        else
            snprintf(msg, sizeof(msg), "archive writing again (%.100s)", st.path);
        tech_alert(e, TECH_ARCHIVE, t, bad, (double)(full - e->tech_full_seen), 0, msg);
    }
    e->tech_full_seen = full;
    e->tech_faults_seen = st.faults;
}

/* Refusals that count towards ingest_rejects: out_of_range has the sensor's own
 * sensor_range alert, and a duplicate is what a QoS 1 redelivery after a reconnect is. */
static int rejects_counted(int why)
{
    return why > VG_REJECT_NONE && why < VG_REJECT_COUNT && why != VG_REJECT_OUT_OF_RANGE &&
           why != VG_REJECT_DUPLICATE;
}

/* For ingest_rejects' message: the device of the newest counted refusal of the core.
 * Thread: vg-analysis. */
static void note_refused_source(vg_engine *e, const vg_reading *r)
{
    const vg_model *m = atomic_load_explicit(&e->in_force, memory_order_relaxed);
    const char *id = source_id(m, reading_source_type(r), r->source);

    snprintf(e->rj_source, sizeof(e->rj_source), "%s %.80s", vg_reading_type_name(r->type),
             id ? id : "?");
    e->rj_source_mono = vg_mono_ns();
}

/* "2090-01-01T00:00:00Z" */
static void utc_text(int64_t t_ns, char *buf, size_t cap)
{
    time_t s = (time_t)(t_ns / VG_NS_PER_S);
    struct tm tm;
    if (!gmtime_r(&s, &tm) || !strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, cap, "%lld ns", (long long)t_ns);
}

/* The ingest_rejects technical alert: the engine refused at least cfg.rejects_alert readings
 * or messages (counted reasons) in one window. Its message names the two commonest reasons,
 * the event clock when it refused for time, and the newest refused topic: what a venue
 * engineer needs to find a device whose format or clock is wrong, or one the model lacks. */
static void rejects_check(vg_engine *e, int64_t t, int64_t now)
{
    vg_ingest_stats is;
    uint64_t by[VG_REJECT_COUNT], n = 0;
    char msg[VG_ALERT_MESSAGE_MAX];
    int active = e->tech_id[TECH_REJECTS] != 0;

    if (!e->cfg.rejects_alert || now < e->rj_next_mono)
        return;
    e->rj_next_mono += e->cfg.rejects_window_ns;
    if (e->rj_next_mono <= now) /* fell behind: skip to the next window */
        e->rj_next_mono = now + e->cfg.rejects_window_ns;
    vg_ingest_stats_get(e->ingest, &is);
    for (int i = 0; i < VG_REJECT_COUNT; i++) {
        uint64_t total = is.rejects[i] + ld(&e->rejects_analysis[i]);
        by[i] = total - e->rj_seen[i];
        e->rj_seen[i] = total;
        if (rejects_counted(i))
            n += by[i];
    }
    e->rj_since_raise += n;
    e->rj_hits += (n > 0) - e->rj_hit[e->rj_hit_i];
    e->rj_hit[e->rj_hit_i] = n > 0;
    e->rj_hit_i = (e->rj_hit_i + 1) % REJECTS_HORIZON;
    const int burst = n >= e->cfg.rejects_alert, persistent = e->rj_hits >= REJECTS_PERSIST;
    if (burst || persistent) {
        e->rj_quiet = 0;
    } else if (active && ++e->rj_quiet >= REJECTS_QUIET_WINDOWS) {
        snprintf(msg, sizeof(msg), "ingest refusals back to normal (%llu refused while raised)",
                 (unsigned long long)e->rj_since_raise);
        tech_alert(e, TECH_REJECTS, t, 0, (double)n, e->cfg.rejects_alert, msg);
    }
    if (active || !(burst || (persistent && n > 0))) /* n > 0: a reason to name */
        return;
    int top[2] = {-1, -1};
    for (int i = 0; i < VG_REJECT_COUNT; i++) {
        if (!rejects_counted(i) || !by[i])
            continue;
        if (top[0] < 0 || by[i] > by[top[0]]) {
            top[1] = top[0];
            top[0] = i;
        } else if (top[1] < 0 || by[i] > by[top[1]]) {
            top[1] = i;
        }
    }
    struct sb b = {msg, sizeof(msg), 0};
    if (burst)
        sb_printf(&b, "ingest refused %llu in %g s: ", (unsigned long long)n,
                  (double)e->cfg.rejects_window_ns / VG_NS_PER_S);
    else
        sb_printf(&b, "ingest keeps refusing (in %d of the last %d windows of %g s): ",
                  e->rj_hits, REJECTS_HORIZON, (double)e->cfg.rejects_window_ns / VG_NS_PER_S);
    sb_printf(&b, "%s %llu", vg_reject_name(top[0]), (unsigned long long)by[top[0]]);
    if (top[1] >= 0)
        sb_printf(&b, ", %s %llu", vg_reject_name(top[1]), (unsigned long long)by[top[1]]);
    int64_t clock = atomic_load_explicit(&e->event_now, memory_order_relaxed);
    if (e->cfg.event_clock && clock != INT64_MIN &&
        (by[VG_REJECT_TOO_OLD] || by[VG_REJECT_TOO_FAR_FUTURE])) {
        char when[40];
        utc_text(clock, when, sizeof(when));
        sb_printf(&b, "; event clock at %s", when);
    }
    /* The newest refused: a topic at ingest, or a device the core refused (a lagging clock). */
    pthread_mutex_lock(&e->rj_mu);
    if (e->rj_topic[0] && (!e->rj_source[0] || e->rj_topic_mono >= e->rj_source_mono))
        sb_printf(&b, "; last: %s", e->rj_topic);
    else if (e->rj_source[0])
        sb_printf(&b, "; last: %s", e->rj_source);
    pthread_mutex_unlock(&e->rj_mu);
    e->rj_since_raise = n;
    tech_alert(e, TECH_REJECTS, t, 1, (double)n, e->cfg.rejects_alert, msg);
}

/* The engine's own technical alerts, at event time t. Thread: vg-analysis. */
static void tech_check(vg_engine *e, int64_t t)
{
    const int64_t now = vg_mono_ns();

    archive_check(e, t, now);
    rejects_check(e, t, now);
}

static void do_tick(vg_engine *e, int64_t t)
{
    arec rec = {.type = AREC_TICK, .t_ns = t};

    /* The tick record goes first: replay reads inputs in archive order. */
    if (e->archive)
        H5_PUSH(e, vg_archive_push_tick(e->rings[R_HDF5], t, ld(&e->archive_full)));
    if (vg_analysis_tick(e->analysis, t) == 0) {
        bump(&e->ticks, 1);
        archive_push(e, &rec);
        e->last_tick_t = t;
        if (e->alert) {
            vg_alert_input in;
            memset(&in, 0, offsetof(vg_alert_input, u));
            in.type = VG_ALERT_IN_TICK;
            in.t_ns = t;
            push_wait(e->rings[R_ALERTS], &in);
        }
    }
}

static int64_t floor_to(int64_t t, int64_t step)
{
    int64_t q = t / step;
    if (t % step < 0)
        q--;
    return q * step;
}

/* Event clock: ticks at whole multiples of tick_ns up to the newest reading time taken. */
static void event_ticks(vg_engine *e)
{
    int64_t newest = atomic_load_explicit(&e->event_now, memory_order_relaxed);
    int64_t step = e->cfg.tick_ns;

    if (newest == INT64_MIN)
        return;
    int64_t target = floor_to(newest, step);
    if (e->last_tick_t == INT64_MIN) {
        do_tick(e, target);
        return;
    }
    while (e->last_tick_t < target && !vg_ring_closed(e->rings[R_EVENTS]))
        do_tick(e, e->last_tick_t + step);
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The ingestor's marker reached the analysis thread: every reading before it used the old
 * model, every one after it uses e->pending. Switch the core, then tell the other threads at
 * the same point of their streams. Thread: vg-analysis. */
static void switch_model(vg_engine *e)
{
    const vg_model *m = atomic_load_explicit(&e->pending, memory_order_acquire);
    const vg_model *old = atomic_load_explicit(&e->in_force, memory_order_relaxed);
    int r, logged = 0;
    int64_t t0 = vg_mono_ns();

    if (!m || m == old) { /* cannot happen: vg_engine_reload() sets it first */
        vg_error("engine: model marker without a new model (ignored)");
        atomic_store_explicit(&e->reloading, 0, memory_order_release);
        return;
    }
    /* On -ENOMEM the core keeps the old model while ingest already parses with the new
     * one: going on would mix indices, so wait for memory rather than guess. */
    while ((r = vg_analysis_reload(e->analysis, m)) == -ENOMEM) {
        if (!logged++)
            vg_error("engine: reload: out of memory; retrying");
        nap_ms(100);
    }
    if (r < 0) { /* cannot happen: only NULL arguments are refused */
        vg_error("engine: reload: %s", vg_strerror(r));
        atomic_store_explicit(&e->reloading, 0, memory_order_release);
        return;
    }
    if (e->mbuf) {
        size_t cap = vg_model_zone_count(m) / VG_ALERT_METRICS_PER_INPUT + 1;
        vg_alert_input *nb = cap > e->mbuf_cap ? realloc(e->mbuf, cap * sizeof(*nb)) : NULL;
        if (nb) {
            e->mbuf = nb;
            e->mbuf_cap = cap;
        } else if (cap > e->mbuf_cap) {
            vg_warn("engine: reload: no memory for the metrics of %zu zones; the console "
                    "gets the first %zu", (size_t)vg_model_zone_count(m),
                    e->mbuf_cap * VG_ALERT_METRICS_PER_INPUT);
        }
    }
    /* Markers, not lost even when a ring is full: records after them use the new model. */
    erec er;
    memset(&er, 0, sizeof(er));
    er.type = EREC_MODEL;
    er.model = m;
    push_wait(e->rings[R_EVENTS], &er);
    arec ar;
    memset(&ar, 0, sizeof(ar));
    ar.type = AREC_MODEL;
    ar.model = m;
    push_wait(e->rings[R_ARCHIVE], &ar);
    if (e->alert) {
        vg_alert_input in;
        memset(&in, 0, sizeof(in));
        in.type = VG_ALERT_IN_MODEL;
        in.t_ns = e->last_tick_t;
        in.u.reload = e->reload_by; /* written before e->pending's release store */
        in.u.reload.model = m;
        push_wait(e->rings[R_ALERTS], &in);
    }
    if (e->archive) {
        int64_t t = e->last_tick_t;
        if (t == INT64_MIN)
            t = atomic_load_explicit(&e->event_now, memory_order_relaxed);
        push_model_record(e, t == INT64_MIN ? vg_wall_ns() : t, m);
    }
    atomic_store_explicit(&e->in_force, m, memory_order_release);
    /* Free for the next reload before the count moves: whoever sees it move may reload. */
    atomic_store_explicit(&e->reloading, 0, memory_order_release);
    bump(&e->reloads, 1);
    vg_info("engine: model in force: %s (venue %s, version %s): %u zones, %u sensors, "
            "%u cameras, %u lines, %u help points (was %u zones, %u sensors; state moved in "
            "%.1f ms)",
            vg_model_path(m) ? vg_model_path(m) : "-", vg_model_venue(m),
            *vg_model_version(m) ? vg_model_version(m) : "-",
            vg_model_zone_count(m), vg_model_sensor_count(m), vg_model_camera_count(m),
            vg_model_line_count(m), vg_model_help_point_count(m), vg_model_zone_count(old),
            vg_model_sensor_count(old), (double)(vg_mono_ns() - t0) / 1e6);
}

static void *analysis_main(void *arg)
{
    vg_engine *e = arg;
    vg_ring *in = e->rings[R_READINGS];
    int64_t next_tick = e->mono0 + e->cfg.startup_grace_ns;
    int event_clock = e->cfg.event_clock;

    pthread_setname_np(pthread_self(), "vg-analysis");
    for (;;) {
        void *slots;
        size_t n = vg_ring_peek(in, POP_BATCH, &slots);

        if (n) {
            const vg_reading *r = slots;
            size_t marks = 0; /* records that are not readings: model switches, refusals */
            for (size_t i = 0; i < n; i++) {
                if (r[i].type == VG_INGEST_READING_MODEL) {
                    switch_model(e);
                    marks++;
                    continue;
                }
                if (r[i].type == VG_INGEST_READING_OUT_OF_RANGE) {
                    /* Ingest refused, counted and logged it; the core's refusal only raises
                     * sensor_range, so it is not counted again here. The archive keeps it
                     * as a reading offered to the core, so a replay raises the same alert. */
                    vg_reading sr = r[i];
                    sr.type = VG_READING_SENSOR;
                    const int why = vg_analysis_push(e->analysis, &sr);
                    if (e->archive)
                        H5_PUSH(e, vg_archive_push_reading(e->rings[R_HDF5], &sr, why));
                    marks++;
                    continue;
                }
                int why = vg_analysis_push(e->analysis, &r[i]);
                if (e->archive) {
                    H5_PUSH(e, vg_archive_push_reading(e->rings[R_HDF5], &r[i], why));
                    if (why > 0) {
                        vg_archive_reject rj;
                        vg_archive_reject_from_reading(&r[i], (enum vg_reject)why,
                                                       VG_ARCHIVE_STAGE_PUSH, &rj);
                        H5_PUSH(e, vg_archive_push_reject(e->rings[R_HDF5], &rj));
                    }
                }
                if (why > 0) {
                    arec rec = {.type = AREC_REJECT, .reason = (uint32_t)why,
                                .t_ns = r[i].t_ns, .reading = r[i]};
                    if (why < VG_INGEST_REJECT_SLOTS)
                        bump(&e->rejects_analysis[why], 1);
                    if (rejects_counted(why))
                        note_refused_source(e, &r[i]);
                    archive_push(e, &rec);
                } else {
                    bump(&e->taken, 1);
                    /* not a help press: taken whatever its time, it is no clock (ingest) */
                    if (r[i].type != VG_READING_HELP &&
                        r[i].t_ns > atomic_load_explicit(&e->event_now, memory_order_relaxed))
                        atomic_store_explicit(&e->event_now, r[i].t_ns, memory_order_relaxed);
                    /* Tick as event time crosses each step, reading by reading, so a burst
                     * (--speed max) never runs ahead of the core's max_future window. */
                    if (event_clock)
                        event_ticks(e);
                }
            }
            vg_ring_release(in, n);
            bump(&e->processed, n - marks);
        }
        int64_t now = vg_mono_ns();
        if (!event_clock && now >= next_tick) {
            int64_t t = event_now(e);
            if (t > e->last_tick_t)
                do_tick(e, t);
            next_tick += e->cfg.tick_ns;
            if (next_tick <= now) /* fell behind: skip to the next period */
                next_tick = now + e->cfg.tick_ns;
        }
        if (e->cfg.status_interval_ns > 0 && now >= e->next_status_mono) {
            status_log(e);
            e->next_status_mono = now + e->cfg.status_interval_ns;
        }
        /* At the last tick's time; before the first, the wall clock's (as untimed readings
         * are stamped on the event clock). */
        tech_check(e, e->last_tick_t != INT64_MIN ? e->last_tick_t : wall_now(e));
        if (n)
            continue;
        /* Event clock: no tick until a reading comes, but the technical alerts are still
         * checked each second (readings refused at ingest never reach this thread). */
        int64_t wait = event_clock ? VG_NS_PER_S : next_tick - vg_mono_ns();
        if (e->cfg.status_interval_ns > 0 && e->next_status_mono - vg_mono_ns() < wait)
            wait = e->next_status_mono - vg_mono_ns();
        if (wait < 0)
            wait = 0;
        if (vg_ring_wait_readable(in, wait) == -ECANCELED)
            break;
    }
    /* Drained and closed: one last tick so the buffered readings are applied and graded. */
    if (!event_clock) {
        int64_t t = event_now(e);
        if (t <= e->last_tick_t)
            t = e->last_tick_t + 1;
        do_tick(e, t);
    } else if (atomic_load(&e->event_now) != INT64_MIN) {
        /* Past the newest reading by the lateness window: everything buffered is applied. */
        int64_t late = e->cfg.analysis.lateness_ns;
        int64_t t = floor_to(atomic_load(&e->event_now) + late + e->cfg.tick_ns - 1,
                             e->cfg.tick_ns);
        if (t <= e->last_tick_t)
            t = e->last_tick_t + e->cfg.tick_ns;
        do_tick(e, t);
    }
    vg_ring_close(e->rings[R_EVENTS]);
    vg_ring_close(e->rings[R_ARCHIVE]);
    if (e->rings[R_ALERTS])
        vg_ring_close(e->rings[R_ALERTS]);
    /* Not `hdf5`: the HDF5 writer ends when that ring closes, and vg-alert may still turn
     * the last inputs into audit records (a reload, an escalation) for it. stop_outputs()
     * closes it once vg-alert has drained. */
    return NULL;
}

/* ---- vg-publish ---- */

static void *publish_main(void *arg)
{
    vg_engine *e = arg;
    vg_ring *in = e->rings[R_EVENTS];
    const vg_model *m = e->m; /* switched by EREC_MODEL markers */
    char line[4096];

    pthread_setname_np(pthread_self(), "vg-publish");
    for (;;) {
        void *slots;
        size_t n = vg_ring_peek(in, 64, &slots);
        if (!n) {
            if (e->events_out)
                log_flush(e->events_out, &e->events_log);
            if (vg_ring_wait_readable(in, -1) == -ECANCELED)
                break;
            continue;
        }
        const erec *recs = slots;
        for (size_t i = 0; i < n; i++) {
            if (recs[i].type == EREC_MODEL) {
                m = recs[i].model;
                continue;
            }
            const vg_alert_event *ev = &recs[i].ev;
            if (e->events_out) {
                size_t len = vg_engine_event_json(m, ev, line, sizeof(line));
                if (len >= sizeof(line)) { /* cannot happen with 160-byte messages; be safe */
                    len = sizeof(line) - 1;
                    line[len - 1] = '\n';
                }
                log_line(e->events_out, &e->events_log, line, len);
            }
            if (e->cfg.on_event)
                e->cfg.on_event(e->cfg.on_event_ctx, ev);
            if (ev->feed < VG_FEED_COUNT && ev->grade < VG_GRADE_COUNT)
                bump(&e->events_by[ev->feed][ev->grade], 1);
            bump(&e->events, 1);
        }
        vg_ring_release(in, n);
    }
    if (e->events_out)
        log_flush(e->events_out, &e->events_log);
    return NULL;
}

/* ---- vg-rejects ---- */

/* A reject line: the topic and payload excerpt escaped (\u00XX: 6 bytes a byte at worst)
 * plus the fixed fields, so the hostile messages the log is for are never cut. */
#define REJECT_LINE_MAX 4096
_Static_assert(6 * (VG_INGEST_REJECT_TOPIC_MAX + VG_INGEST_REJECT_PAYLOAD_MAX) + 512 <=
                   REJECT_LINE_MAX,
               "a reject line fits");

static void *archive_main(void *arg)
{
    vg_engine *e = arg;
    vg_ring *rj = e->rings[R_REJECTS], *ar = e->rings[R_ARCHIVE];
    const vg_model *m = e->m; /* switched by AREC_MODEL markers */
    char line[REJECT_LINE_MAX];

    pthread_setname_np(pthread_self(), "vg-rejects");
    for (;;) {
        void *slots;
        size_t n1 = vg_ring_peek(rj, 64, &slots);
        for (size_t i = 0; i < n1; i++) {
            const vg_ingest_reject *rec = (const vg_ingest_reject *)slots + i;
            /* The HDF5 writer gets its own copy: a ring has one consumer. Never waits. */
            if (e->rings[R_HDF5_REJECTS] && vg_ring_push(e->rings[R_HDF5_REJECTS], rec) < 0)
                bump(&e->hdf5_rejects_full, 1);
            if (rejects_counted((int)rec->reason)) {
                /* For ingest_rejects' message, ASCII only: it is cut anywhere and goes
                 * out as JSON. */
                pthread_mutex_lock(&e->rj_mu);
                for (uint16_t k = 0; k < rec->topic_len; k++)
                    e->rj_topic[k] = rec->topic[k] >= 0x20 && rec->topic[k] < 0x7f ? rec->topic[k]
                                                                                 : '?';
                e->rj_topic[rec->topic_len] = '\0';
                e->rj_topic_mono = vg_mono_ns();
                pthread_mutex_unlock(&e->rj_mu);
            }
            if (!e->rejects_out)
                continue;
            size_t len = reject_json(e->m, rec, line, sizeof(line));
            log_line(e->rejects_out, &e->rejects_log, line, len < sizeof(line) ? len : 0);
            bump(&e->reject_log_written, 1);
        }
        if (n1)
            vg_ring_release(rj, n1);
        size_t n2 = vg_ring_peek(ar, 64, &slots);
        for (size_t i = 0; i < n2; i++) {
            const arec *a = (const arec *)slots + i;
            if (a->type == AREC_MODEL) {
                m = a->model;
                continue;
            }
            /* Ticks are for the HDF5 archive (issue #6); the JSON log keeps rejects only. */
            if (a->type != AREC_REJECT || !e->rejects_out)
                continue;
            size_t len = late_reject_json(m, a, line, sizeof(line));
            log_line(e->rejects_out, &e->rejects_log, line, len < sizeof(line) ? len : 0);
            bump(&e->reject_log_written, 1);
        }
        if (n2)
            vg_ring_release(ar, n2);
        if (n1 || n2)
            continue;
        if (e->rejects_out)
            log_flush(e->rejects_out, &e->rejects_log);
        if (vg_ring_closed(rj) && vg_ring_closed(ar) && !vg_ring_depth(rj) && !vg_ring_depth(ar))
            break;
        /* Two rings, one thread: sleep on the busier one, look at the other every 100 ms. */
        vg_ring_wait_readable(rj, 100 * VG_NS_PER_MS);
    }
    if (e->rejects_out)
        log_flush(e->rejects_out, &e->rejects_log);
    if (e->rings[R_HDF5_REJECTS])
        vg_ring_close(e->rings[R_HDF5_REJECTS]);
    return NULL;
}

/* ---- reload ---- */

int vg_engine_reload(vg_engine *e, const char *path, char *err, size_t err_len)
{
    return vg_engine_reload_as(e, path, NULL, err, err_len);
}

int vg_engine_reload_as(vg_engine *e, const char *path, const vg_alert_actor *who, char *err,
                        size_t err_len)
{
    char scratch[16];
    vg_model *m = NULL;
    vg_model_error merr;
    vg_model **list;
    int idle = 0, r;

    if (!err || !err_len) {
        err = scratch;
        err_len = sizeof(scratch);
    }
    err[0] = '\0';
    if (!e) {
        snprintf(err, err_len, "no engine");
        return -EINVAL;
    }
    if (!atomic_load(&e->running)) {
        snprintf(err, err_len, "the engine is not running");
        return -ECANCELED;
    }
    if (!atomic_compare_exchange_strong(&e->reloading, &idle, 1)) {
        snprintf(err, err_len, "a reload is in progress (accepted, not yet switched)");
        return -EBUSY;
    }
    /* From here to the end (or until vg-analysis releases the flag) we own the reload
     * fields. */
    if (!path)
        path = e->model_path;
    if (!path) {
        snprintf(err, err_len, "no model file to reload: give a path");
        r = -EINVAL;
        goto out;
    }
    memset(&merr, 0, sizeof(merr));
    r = vg_model_load(path, &m, &merr);
    if (r < 0) {
        if (merr.line > 0)
            snprintf(err, err_len, "%s:%d: %s: %s", merr.file, merr.line, merr.key,
                     merr.message);
        else
            snprintf(err, err_len, "%s: %s", merr.file[0] ? merr.file : path,
                     merr.message[0] ? merr.message : vg_strerror(r));
        goto out;
    }
    if (strcmp(vg_model_venue(m), vg_model_venue(e->latest)) != 0) {
        snprintf(err, err_len, "%s: venue \"%s\" is not the running venue \"%s\" (the MQTT "
                 "subscriptions depend on it: restart to change venue)", path,
                 vg_model_venue(m), vg_model_venue(e->latest));
        r = -EINVAL;
        goto out;
    }
    r = -ENOMEM;
    list = realloc(e->models, (e->n_models + 1) * sizeof(*list));
    if (!list)
        goto out;
    e->models = list;
    memset(&e->reload_by, 0, sizeof(e->reload_by));
    if (who) {
        e->reload_by.wall_ns = who->wall_ns;
        vg_copy_text(e->reload_by.operator_id, sizeof(e->reload_by.operator_id),
                     who->operator_id);
        vg_copy_text(e->reload_by.comment, sizeof(e->reload_by.comment), who->comment);
    }
    atomic_store_explicit(&e->pending, m, memory_order_release);
    if ((r = vg_ingest_set_model(e->ingest, m)) < 0) {
        atomic_store_explicit(&e->pending, NULL, memory_order_relaxed);
        snprintf(err, err_len, "%s: %s", path, vg_strerror(r));
        goto out;
    }
    e->models[e->n_models++] = m;
    e->latest = m;
    vg_info("engine: reload of %s accepted: %u zones, %u sensors; switching at the next "
            "message boundary", path, vg_model_zone_count(m), vg_model_sensor_count(m));
    return 0; /* the flag stays taken until vg-analysis has switched */
out:
    if (!err[0])
        snprintf(err, err_len, "%s", vg_strerror(r));
    vg_model_free(&m);
    atomic_store(&e->reloading, 0);
    return r;
}

/* ---- vg-alert hooks ---- */

static int alert_reload(void *ctx, const char *path, const vg_alert_actor *who, char *err,
                        size_t err_len)
{
    return vg_engine_reload_as(ctx, path, who, err, err_len);
}

/* The control socket's status reply: engine counters (runs on vg-alert: atomics only). */
static void alert_status(void *ctx, void *json_object)
{
    vg_engine *e = ctx;
    cJSON *o = json_object, *rj, *rings;
    vg_engine_stats s;
    uint64_t readings = 0;
    double up = (double)(vg_mono_ns() - e->mono0) / 1e9;

    vg_engine_stats_get(e, &s);
    for (int i = 0; i < VG_INGEST_SRC_COUNT_; i++)
        readings += s.ingest.readings[i];
    if (up <= 0)
        up = 1e-9;
    cJSON_AddBoolToObject(o, "broker_connected", s.ingest.connected);
    cJSON_AddNumberToObject(o, "uptime_s", up);
    cJSON_AddNumberToObject(o, "messages", (double)s.ingest.messages);
    cJSON_AddNumberToObject(o, "readings", (double)readings);
    cJSON_AddNumberToObject(o, "accepted", (double)s.accepted);
    cJSON_AddNumberToObject(o, "ticks", (double)s.ticks);
    cJSON_AddNumberToObject(o, "alerts", (double)s.events);
    cJSON_AddNumberToObject(o, "messages_per_s", (double)s.ingest.messages / up);
    cJSON_AddNumberToObject(o, "readings_per_s", (double)readings / up);
    cJSON_AddNumberToObject(o, "alerts_per_s", (double)s.events / up);
    cJSON_AddStringToObject(o, "clock", e->cfg.event_clock ? "event" : "wall");
    if (s.event_now_ns != INT64_MIN)
        cJSON_AddNumberToObject(o, "event_time", (double)s.event_now_ns / 1e9);
    cJSON_AddNumberToObject(o, "rejects_total", (double)s.rejects_total);
    rj = cJSON_AddObjectToObject(o, "rejects");
    for (int i = 1; rj && i < VG_REJECT_COUNT; i++)
        if (s.rejects[i])
            cJSON_AddNumberToObject(rj, vg_reject_name(i), (double)s.rejects[i]);
    rings = cJSON_AddObjectToObject(o, "rings");
    for (int i = 0; rings && i < R_COUNT; i++) {
        if (!s.capacity[i])
            continue;
        cJSON *r = cJSON_AddObjectToObject(rings, ring_names[i]);
        cJSON_AddNumberToObject(r, "depth", (double)s.depth[i]);
        cJSON_AddNumberToObject(r, "capacity", (double)s.capacity[i]);
    }
    const vg_model *m = atomic_load_explicit(&e->in_force, memory_order_acquire);
    cJSON *mo = cJSON_AddObjectToObject(o, "model");
    if (mo) {
        cJSON_AddStringToObject(mo, "venue", vg_model_venue(m));
        cJSON_AddStringToObject(mo, "version", vg_model_version(m));
        cJSON_AddNumberToObject(mo, "zones", vg_model_zone_count(m));
        cJSON_AddNumberToObject(mo, "sensors", vg_model_sensor_count(m));
        cJSON_AddNumberToObject(mo, "cameras", vg_model_camera_count(m));
        cJSON_AddNumberToObject(mo, "lines", vg_model_line_count(m));
        cJSON_AddNumberToObject(mo, "help_points", vg_model_help_point_count(m));
        cJSON_AddNumberToObject(mo, "reloads", (double)s.reloads);
        cJSON_AddBoolToObject(mo, "reload_pending", atomic_load(&e->reloading));
    }
    if (e->events_out || e->rejects_out) {
        cJSON *lg = cJSON_AddObjectToObject(o, "logs_lost");
        cJSON_AddNumberToObject(lg, "events", (double)s.events_log_lost);
        cJSON_AddNumberToObject(lg, "rejects", (double)s.reject_log_lost);
    }
    if (e->archive) {
        cJSON *a = cJSON_AddObjectToObject(o, "archive");
        cJSON_AddBoolToObject(a, "faulted", s.archive_faulted);
        cJSON_AddNumberToObject(a, "faults", (double)s.archive_faults);
        cJSON_AddNumberToObject(a, "dropped", (double)s.archive_dropped);
        cJSON_AddNumberToObject(a, "ring_full", (double)s.archive_full);
    }
}

/* ---- lifecycle ---- */

static int open_out(const char *path, FILE **ret, int *ret_own)
{
    if (!path)
        return 0;
    if (strcmp(path, "-") == 0) {
        *ret = stdout;
        *ret_own = 0;
        return 0;
    }
    *ret = fopen(path, "a");
    if (!*ret)
        return -errno;
    *ret_own = 1;
    return 0;
}

static size_t render_metrics(void *ctx, char *buf, size_t cap)
{
    return vg_engine_metrics_text(ctx, buf, cap);
}

static int is_pow2(uint32_t x)
{
    return x >= 2 && (x & (x - 1)) == 0;
}

int vg_engine_new(const vg_engine_cfg *cfg, vg_engine **ret)
{
    vg_engine *e;
    vg_analysis_cfg acfg;
    int r;

    if (!cfg || !ret || !cfg->model || !is_pow2(cfg->reading_ring) || !is_pow2(cfg->event_ring) ||
        !is_pow2(cfg->reject_ring) || !is_pow2(cfg->archive_ring) || cfg->tick_ns <= 0 ||
        cfg->startup_grace_ns < 0 || cfg->status_interval_ns < 0 ||
        !cfg->feeds_endpoint != !cfg->control_endpoint ||
        (cfg->feeds_endpoint && cfg->alert_ring < 64) || (cfg->feeds_endpoint && !is_pow2(cfg->alert_ring)) ||
        (cfg->archive_dir && (!is_pow2(cfg->hdf5_ring) || cfg->hdf5_ring < VG_ARCHIVE_MAX_SLOTS)) ||
        (cfg->rejects_alert && cfg->rejects_window_ns <= 0))
        return -EINVAL;
    e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->cfg = *cfg;
    e->m = cfg->model;
    e->archive_lock = -1;
    pthread_mutex_init(&e->rj_mu, NULL);
    r = -ENOMEM;
    if (cfg->events_path && !(e->cfg.events_path = e->strs[0] = strdup(cfg->events_path)))
        goto out_free;
    if (cfg->rejects_path && !(e->cfg.rejects_path = e->strs[1] = strdup(cfg->rejects_path)))
        goto out_free;
    if (cfg->metrics_host && !(e->cfg.metrics_host = e->strs[2] = strdup(cfg->metrics_host)))
        goto out_free;
    /* Keys and endpoints go to vg_alert_new() (which copies them); only the dir is kept. */
    if (cfg->archive_dir && !(e->cfg.archive_dir = e->strs[3] = strdup(cfg->archive_dir)))
        goto out_free;
    e->cfg.model_path = NULL; /* kept as e->model_path */
    if (cfg->model_path || vg_model_path(cfg->model)) {
        const char *mp = cfg->model_path ? cfg->model_path : vg_model_path(cfg->model);
        if (!(e->model_path = strdup(mp)))
            goto out_free;
    }
    e->latest = cfg->model;
    atomic_init(&e->in_force, cfg->model);
    atomic_init(&e->pending, NULL);
    e->cfg.ingest.event_clock = cfg->event_clock;
    atomic_init(&e->event_now, INT64_MIN);
    e->last_tick_t = INT64_MIN;
    if ((r = vg_ring_new(sizeof(vg_reading), cfg->reading_ring, &e->rings[R_READINGS])) < 0 ||
        (r = vg_ring_new(sizeof(erec), cfg->event_ring, &e->rings[R_EVENTS])) < 0 ||
        (r = vg_ring_new(sizeof(vg_ingest_reject), cfg->reject_ring, &e->rings[R_REJECTS])) < 0 ||
        (r = vg_ring_new(sizeof(arec), cfg->archive_ring, &e->rings[R_ARCHIVE])) < 0)
        goto out_free;
    if (cfg->feeds_endpoint) {
        size_t nz = vg_model_zone_count(e->m);
        e->mbuf_cap = nz / VG_ALERT_METRICS_PER_INPUT + 1;
        if (!(e->mbuf = calloc(e->mbuf_cap, sizeof(*e->mbuf)))) {
            r = -ENOMEM;
            goto out_free;
        }
        if ((r = vg_ring_new(sizeof(vg_alert_input), cfg->alert_ring, &e->rings[R_ALERTS])) < 0)
            goto out_free;
    }
    if (cfg->archive_dir &&
        ((r = vg_ring_new(VG_ARCHIVE_SLOT_SIZE, cfg->hdf5_ring, &e->rings[R_HDF5])) < 0 ||
         (r = vg_ring_new(sizeof(vg_ingest_reject), cfg->reject_ring,
                          &e->rings[R_HDF5_REJECTS])) < 0))
        goto out_free;
    if ((cfg->archive_dir || cfg->feeds_endpoint) &&
        (r = vg_ring_new(sizeof(vg_alert_audit), 1024, &e->rings[R_AUDIT])) < 0)
        goto out_free;
    /* The engine's threads sleep between most readings: full barriers instead of a
     * membarrier per sleep (which interrupts every CPU of the process) cut the time from an
     * MQTT message to its alert (include/vigil/ring.h, bench/RESULTS.md). */
    for (int i = 0; i < R_COUNT; i++)
        if (e->rings[i])
            vg_ring_set_low_latency(e->rings[i]);
    acfg = cfg->analysis;
    if (cfg->archive_dir) {
        /* One engine per archive directory: two would each continue the alert ids from the
         * same newest file and interleave their files. flock() goes with the process, so a
         * crashed engine does not leave the directory locked. */
        e->archive_lock = open(cfg->archive_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (e->archive_lock < 0 || flock(e->archive_lock, LOCK_EX | LOCK_NB) < 0) {
            r = errno == EWOULDBLOCK ? -EBUSY : -errno;
            vg_error("engine: archive %s: %s", cfg->archive_dir,
                     r == -EBUSY ? "another engine is archiving into it" : vg_strerror(r));
            goto out_free;
        }
        /* Alert ids go on where the last run in this archive stopped: one id, one alert,
         * across restarts. Before vg_archive_new(): this process cannot read its own file. */
        uint64_t next;
        int bad = vg_archive_next_alert_id(cfg->archive_dir, NULL, &next);

        if (bad > 0)
            vg_warn("engine: %d archive file(s) in %s cannot be read (damaged?): alert ids "
                    "start at %llu, after those of the readable files, and may repeat ids "
                    "in the unreadable ones",
                    bad, cfg->archive_dir, (unsigned long long)next);
        if (bad >= 0 && next > acfg.first_alert_id)
            acfg.first_alert_id = next;
    }
    acfg.sink.ctx = e;
    acfg.sink.on_alert = sink_alert;
    acfg.sink.on_metrics = cfg->feeds_endpoint || cfg->archive_dir ? sink_metrics : NULL;
    acfg.sink.on_reject = sink_reject;
    if ((r = vg_analysis_new(e->m, &acfg, &e->analysis)) < 0)
        goto out_free;
    if ((r = vg_ingest_new(e->m, &e->cfg.ingest, e->rings[R_READINGS], e->rings[R_REJECTS],
                           &e->ingest)) < 0)
        goto out_free;
    if (cfg->feeds_endpoint) {
        vg_alert_cfg alc;
        vg_alert_cfg_default(&alc);
        alc.feeds_endpoint = cfg->feeds_endpoint;
        alc.control_endpoint = cfg->control_endpoint;
        alc.feeds_secret_key = cfg->feeds_secret_key;
        alc.control_secret_key = cfg->control_secret_key;
        /* Only with an archive: otherwise nobody would consume the audit records. */
        alc.audit = cfg->archive_dir ? e->rings[R_AUDIT] : NULL;
        alc.hook_ctx = e;
        alc.status_fn = alert_status;
        alc.reload_fn = alert_reload;
        if ((r = vg_alert_new(e->m, &alc, &e->alert)) < 0) {
            vg_error("engine: alert feeds %s / control %s: %s", cfg->feeds_endpoint,
                     cfg->control_endpoint, vg_strerror(r));
            goto out_free;
        }
    }
    if (cfg->archive_dir) {
        vg_archive_cfg ac;
        vg_archive_cfg_default(&ac);
        ac.model = e->m;
        ac.analysis = &acfg; /* replay runs the core with the same settings */
        ac.rotate_ns = cfg->archive_rotate_ns;
        if ((r = vg_archive_new(cfg->archive_dir, &ac, &e->archive)) < 0 ||
            (r = vg_archive_attach(e->archive, e->rings[R_HDF5_REJECTS],
                                   VG_ARCHIVE_IN_INGEST_REJECTS)) < 0 ||
            (r = vg_archive_attach(e->archive, e->rings[R_AUDIT], VG_ARCHIVE_IN_ALERT_AUDIT)) < 0) {
            vg_error("engine: archive %s: %s", cfg->archive_dir, vg_strerror(r));
            goto out_free;
        }
    }
    if ((r = open_out(e->cfg.events_path, &e->events_out, &e->own_events)) < 0) {
        vg_error("engine: events log %s: %s", e->cfg.events_path, vg_strerror(r));
        goto out_free;
    }
    if ((r = open_out(e->cfg.rejects_path, &e->rejects_out, &e->own_rejects)) < 0) {
        vg_error("engine: rejects log %s: %s", e->cfg.rejects_path, vg_strerror(r));
        goto out_free;
    }
    e->events_log.what = "events";
    e->rejects_log.what = "reject";
    *ret = e;
    return 0;
out_free:
    vg_engine_free(&e);
    return r;
}

/* Stops the alert publisher and the HDF5 writer once their producers are done (main). */
static void stop_outputs(vg_engine *e)
{
    if (e->alert_started) {
        if (e->rings[R_ALERTS])
            vg_ring_close(e->rings[R_ALERTS]);
        vg_alert_stop(e->alert); /* drains what the analysis thread pushed */
        e->alert_started = 0;
    }
    if (e->rings[R_AUDIT])
        vg_ring_close(e->rings[R_AUDIT]);
    if (e->archive_started) {
        vg_archive_stats st;
        if (e->rings[R_HDF5])
            vg_ring_close(e->rings[R_HDF5]);
        if (e->rings[R_HDF5_REJECTS])
            vg_ring_close(e->rings[R_HDF5_REJECTS]);
        int rc = vg_archive_stop(e->archive);
        vg_archive_get_stats(e->archive, &st);
        /* rc is the run's last fault, which may be long past: the file named is the last
         * one written, not necessarily the one that failed. */
        if (rc < 0)
            vg_warn("engine: archive: %llu fault(s) during the run, the last: %s; records "
                    "not archived %llu; last file %s%s",
                    (unsigned long long)st.faults, vg_strerror(rc),
                    (unsigned long long)st.dropped, st.path,
                    st.faulted ? " (faulted)" : "");
        e->archive_started = 0;
    }
}

int vg_engine_start(vg_engine *e)
{
    int rc;

    if (!e)
        return -EINVAL;
    if (e->started || e->stopped)
        return -EALREADY;
    if (e->cfg.metrics_host) {
        rc = vg__metrics_start(e->cfg.metrics_host, e->cfg.metrics_port, render_metrics, e,
                               &e->metrics);
        if (rc < 0)
            return rc;
    }
    e->mono0 = vg_mono_ns();
    e->wall_off = wall_now(e) - e->mono0;
    e->next_status_mono = e->mono0 + e->cfg.status_interval_ns;
    e->rj_next_mono = e->mono0 + e->cfg.rejects_window_ns;
    /* Consumers first: the analysis thread may push to them at once. */
    if (e->archive) {
        if ((rc = vg_archive_start(e->archive, e->rings[R_HDF5])) < 0)
            goto out_metrics;
        e->archive_started = 1;
    }
    if (e->alert) {
        if ((rc = vg_alert_start(e->alert, e->rings[R_ALERTS])) < 0)
            goto out_metrics;
        e->alert_started = 1;
    }
    if ((rc = -pthread_create(&e->th_analysis, NULL, analysis_main, e)))
        goto out_metrics;
    if ((rc = -pthread_create(&e->th_publish, NULL, publish_main, e)))
        goto out_analysis;
    if ((rc = -pthread_create(&e->th_archive, NULL, archive_main, e)))
        goto out_publish;
    if (e->cfg.use_broker && (rc = vg_ingest_start(e->ingest)) < 0)
        goto out_archive;
    e->started = 1;
    atomic_store(&e->running, 1);
    return 0;
out_archive:
    vg_ring_close(e->rings[R_REJECTS]);
    vg_ring_close(e->rings[R_READINGS]);
    pthread_join(e->th_analysis, NULL);
    pthread_join(e->th_archive, NULL);
    pthread_join(e->th_publish, NULL);
    e->stopped = 1;
    vg__metrics_stop(&e->metrics);
    return rc;
out_publish:
    vg_ring_close(e->rings[R_READINGS]);
    pthread_join(e->th_analysis, NULL);
    pthread_join(e->th_publish, NULL);
    e->stopped = 1;
    vg__metrics_stop(&e->metrics);
    return rc;
out_analysis:
    vg_ring_close(e->rings[R_READINGS]);
    pthread_join(e->th_analysis, NULL);
    e->stopped = 1;
out_metrics:
    vg__metrics_stop(&e->metrics);
    stop_outputs(e);
    return rc;
}

void vg_engine_stop(vg_engine *e)
{
    if (!e || !e->started)
        return;
    atomic_store(&e->running, 0);
    vg_ingest_stop(e->ingest);
    vg_ring_close(e->rings[R_READINGS]);
    pthread_join(e->th_analysis, NULL);
    vg_ring_close(e->rings[R_REJECTS]);
    pthread_join(e->th_publish, NULL);
    pthread_join(e->th_archive, NULL); /* closes hdf5_rejects when drained */
    stop_outputs(e);
    vg__metrics_stop(&e->metrics);
    e->started = 0;
    e->stopped = 1;
}

void vg_engine_free(vg_engine **ep)
{
    vg_engine *e;

    if (!ep || !*ep)
        return;
    e = *ep;
    vg_engine_stop(e);
    stop_outputs(e);
    vg_alert_free(&e->alert);
    vg_archive_free(&e->archive);
    if (e->archive_lock >= 0)
        close(e->archive_lock); /* releases the flock */
    vg_ingest_free(&e->ingest);
    vg_analysis_free(&e->analysis);
    free(e->mbuf);
    for (int i = 0; i < R_COUNT; i++)
        vg_ring_free(&e->rings[i]);
    if (e->own_events && e->events_out)
        fclose(e->events_out);
    if (e->own_rejects && e->rejects_out)
        fclose(e->rejects_out);
    for (int i = 0; i < 8; i++)
        free(e->strs[i]);
    /* Last: every thread and handle that could point at a model is gone. */
    for (size_t i = 0; i < e->n_models; i++)
        vg_model_free(&e->models[i]);
    free(e->models);
    free(e->model_path);
    pthread_mutex_destroy(&e->rj_mu);
    free(e);
    *ep = NULL;
}

int vg_engine_submit(vg_engine *e, const char *topic, const void *payload, size_t len,
                     int64_t now_ns)
{
    if (!e || e->cfg.use_broker)
        return -EINVAL;
    if (!e->started)
        return -ECANCELED;
    return vg_ingest_submit(e->ingest, topic, payload, len, now_ns);
}

void vg_engine_stats_get(const vg_engine *e, vg_engine_stats *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (!e)
        return;
    vg_ingest_stats_get(e->ingest, &ret->ingest);
    ret->processed = ld(&e->processed);
    uint64_t late = ld(&e->late_refused), taken = ld(&e->taken);
    ret->accepted = taken > late ? taken - late : 0;
    for (int i = 0; i < VG_INGEST_REJECT_SLOTS; i++) {
        ret->rejects_analysis[i] = ld(&e->rejects_analysis[i]);
        ret->rejects[i] = ret->rejects_analysis[i] + ret->ingest.rejects[i];
        ret->rejects_total += ret->rejects[i];
    }
    ret->ticks = ld(&e->ticks);
    ret->events = ld(&e->events);
    for (int f = 0; f < VG_FEED_COUNT; f++)
        for (int g = 0; g < VG_GRADE_COUNT; g++)
            ret->events_by[f][g] = ld(&e->events_by[f][g]);
    ret->reject_log_written = ld(&e->reject_log_written);
    ret->reject_log_lost = ld(&e->rejects_log.lost);
    ret->events_log_lost = ld(&e->events_log.lost);
    ret->archive_full = ld(&e->archive_full) + ld(&e->hdf5_rejects_full);
    ret->technical_alerts = ld(&e->tech_events);
    ret->reloads = ld(&e->reloads);
    ret->event_now_ns = atomic_load_explicit((_Atomic int64_t *)&e->event_now,
                                             memory_order_relaxed);
    if (e->archive) {
        vg_archive_stats st;
        if (vg_archive_get_stats(e->archive, &st) == 0) {
            ret->archive_faults = st.faults;
            ret->archive_dropped = st.dropped;
            ret->archive_faulted = st.faulted;
        }
    }
    if (e->alert) {
        vg_alert_stats st;
        if (vg_alert_get_stats(e->alert, &st) == 0)
            ret->alerts_published = st.published;
    }
    for (int i = 0; i < R_COUNT; i++) {
        if (!e->rings[i])
            continue;
        ret->depth[i] = vg_ring_depth(e->rings[i]);
        ret->capacity[i] = vg_ring_capacity(e->rings[i]);
    }
}

size_t vg_engine_status(const vg_engine *e, char *buf, size_t cap)
{
    struct sb b = {buf, cap, 0};
    vg_engine_stats s;
    uint64_t readings = 0;

    vg_engine_stats_get(e, &s);
    for (int i = 0; i < VG_INGEST_SRC_COUNT_; i++)
        readings += s.ingest.readings[i];
    sb_printf(&b, "status: broker %s, messages %llu, readings %llu, accepted %llu, rejects %llu",
              s.ingest.connected ? "up" : "down", (unsigned long long)s.ingest.messages,
              (unsigned long long)readings, (unsigned long long)s.accepted,
              (unsigned long long)s.rejects_total);
    if (s.rejects_total) {
        sb_printf(&b, " (");
        int first = 1;
        for (int i = 1; i < VG_REJECT_COUNT; i++)
            if (s.rejects[i]) {
                sb_printf(&b, "%s%s %llu", first ? "" : ", ", vg_reject_name(i),
                          (unsigned long long)s.rejects[i]);
                first = 0;
            }
        sb_printf(&b, ")");
    }
    sb_printf(&b, ", alerts %llu, rings", (unsigned long long)s.events);
    for (int i = 0; i < R_COUNT; i++)
        if (s.capacity[i])
            sb_printf(&b, " %s %zu/%zu", ring_names[i], s.depth[i], s.capacity[i]);
    if (e && e->alert)
        sb_printf(&b, ", published %llu", (unsigned long long)s.alerts_published);
    if (e && e->archive)
        sb_printf(&b, ", archive %s (faults %llu, lost %llu)", s.archive_faulted ? "FAULTED" : "ok",
                  (unsigned long long)s.archive_faults,
                  (unsigned long long)(s.archive_full + s.archive_dropped));
    if (s.ingest.stalls)
        sb_printf(&b, ", stalls %llu", (unsigned long long)s.ingest.stalls);
    if (cap)
        buf[b.len < cap ? b.len : cap - 1] = '\0';
    return b.len;
}

size_t vg_engine_metrics_text(const vg_engine *e, char *buf, size_t cap)
{
    struct sb b = {buf, cap, 0};
    vg_engine_stats s;

    vg_engine_stats_get(e, &s);
    sb_printf(&b, "# HELP vigil_messages_total MQTT messages received.\n"
                  "# TYPE vigil_messages_total counter\nvigil_messages_total %llu\n",
              (unsigned long long)s.ingest.messages);
    sb_printf(&b, "# HELP vigil_payload_bytes_total MQTT payload bytes received.\n"
                  "# TYPE vigil_payload_bytes_total counter\nvigil_payload_bytes_total %llu\n",
              (unsigned long long)s.ingest.bytes);
    sb_printf(&b, "# HELP vigil_readings_total Readings taken from messages, by source.\n"
                  "# TYPE vigil_readings_total counter\n");
    for (int i = 0; i < VG_INGEST_SRC_COUNT_; i++)
        if (i != VG_INGEST_SRC_UNKNOWN)
            sb_printf(&b, "vigil_readings_total{source=\"%s\"} %llu\n", vg_ingest_source_name(i),
                      (unsigned long long)s.ingest.readings[i]);
    sb_printf(&b, "# HELP vigil_readings_processed_total Readings the analysis thread took.\n"
                  "# TYPE vigil_readings_processed_total counter\n"
                  "vigil_readings_processed_total %llu\n",
              (unsigned long long)s.processed);
    sb_printf(&b, "# HELP vigil_readings_accepted_total Readings the analysis core accepted.\n"
                  "# TYPE vigil_readings_accepted_total counter\n"
                  "vigil_readings_accepted_total %llu\n",
              (unsigned long long)s.accepted);
    sb_printf(&b, "# HELP vigil_rejects_total Refused messages (ingest) and readings "
                  "(analysis), by reason.\n# TYPE vigil_rejects_total counter\n");
    for (int i = 1; i < VG_REJECT_COUNT; i++) {
        sb_printf(&b, "vigil_rejects_total{stage=\"ingest\",reason=\"%s\"} %llu\n",
                  vg_reject_name(i), (unsigned long long)s.ingest.rejects[i]);
        sb_printf(&b, "vigil_rejects_total{stage=\"analysis\",reason=\"%s\"} %llu\n",
                  vg_reject_name(i), (unsigned long long)s.rejects_analysis[i]);
    }
    sb_printf(&b, "# HELP vigil_reject_log_dropped_total Refusals counted but not logged "
                  "(reject log ring full).\n# TYPE vigil_reject_log_dropped_total counter\n"
                  "vigil_reject_log_dropped_total %llu\n",
              (unsigned long long)s.ingest.reject_log_full);
    sb_printf(&b, "# HELP vigil_log_lines_lost_total Lines of the event or reject log a failed "
                  "write lost (a full disk).\n# TYPE vigil_log_lines_lost_total counter\n"
                  "vigil_log_lines_lost_total{log=\"events\"} %llu\n"
                  "vigil_log_lines_lost_total{log=\"rejects\"} %llu\n",
              (unsigned long long)s.events_log_lost, (unsigned long long)s.reject_log_lost);
    sb_printf(&b, "# HELP vigil_ring_depth Records waiting in each ring.\n"
                  "# TYPE vigil_ring_depth gauge\n");
    for (int i = 0; i < R_COUNT; i++)
        if (s.capacity[i])
            sb_printf(&b, "vigil_ring_depth{ring=\"%s\"} %zu\n", ring_names[i], s.depth[i]);
    sb_printf(&b, "# HELP vigil_ring_capacity Capacity of each ring.\n"
                  "# TYPE vigil_ring_capacity gauge\n");
    for (int i = 0; i < R_COUNT; i++)
        if (s.capacity[i])
            sb_printf(&b, "vigil_ring_capacity{ring=\"%s\"} %zu\n", ring_names[i], s.capacity[i]);
    sb_printf(&b, "# HELP vigil_alerts_total Alert events, by feed and grade (clear: return "
                  "to normal).\n# TYPE vigil_alerts_total counter\n");
    for (int f = 0; f < VG_FEED_COUNT; f++)
        for (int g = 0; g < VG_GRADE_COUNT; g++)
            sb_printf(&b, "vigil_alerts_total{feed=\"%s\",grade=\"%s\"} %llu\n", vg_feed_name(f),
                      vg_grade_name(g), (unsigned long long)s.events_by[f][g]);
    sb_printf(&b, "# HELP vigil_model_reloads_total Venue model switches (reload).\n"
                  "# TYPE vigil_model_reloads_total counter\nvigil_model_reloads_total %llu\n",
              (unsigned long long)s.reloads);
    sb_printf(&b, "# HELP vigil_ticks_total Analysis ticks.\n# TYPE vigil_ticks_total counter\n"
                  "vigil_ticks_total %llu\n",
              (unsigned long long)s.ticks);
    sb_printf(&b, "# HELP vigil_archive_full_total Archive records the archive ring could not "
                  "take.\n# TYPE vigil_archive_full_total counter\nvigil_archive_full_total %llu\n",
              (unsigned long long)s.archive_full);
    sb_printf(&b, "# HELP vigil_archive_faulted 1 while the HDF5 archive has no file after a "
                  "fault.\n# TYPE vigil_archive_faulted gauge\nvigil_archive_faulted %d\n"
                  "# HELP vigil_archive_faults_total HDF5 archive faults.\n"
                  "# TYPE vigil_archive_faults_total counter\nvigil_archive_faults_total %llu\n"
                  "# HELP vigil_archive_dropped_total Records the archive took but could not "
                  "make durable (lost, at most).\n"
                  "# TYPE vigil_archive_dropped_total counter\nvigil_archive_dropped_total %llu\n",
              s.archive_faulted, (unsigned long long)s.archive_faults,
              (unsigned long long)s.archive_dropped);
    sb_printf(&b, "# HELP vigil_alerts_published_total Messages sent on the ZeroMQ feeds.\n"
                  "# TYPE vigil_alerts_published_total counter\n"
                  "vigil_alerts_published_total %llu\n",
              (unsigned long long)s.alerts_published);
    sb_printf(&b, "# HELP vigil_mqtt_connected 1 while the broker session is up.\n"
                  "# TYPE vigil_mqtt_connected gauge\nvigil_mqtt_connected %d\n",
              s.ingest.connected);
    sb_printf(&b, "# HELP vigil_mqtt_connects_total Successful broker connections.\n"
                  "# TYPE vigil_mqtt_connects_total counter\nvigil_mqtt_connects_total %llu\n",
              (unsigned long long)s.ingest.connects);
    sb_printf(&b, "# HELP vigil_mqtt_disconnects_total Broker connections lost or dropped.\n"
                  "# TYPE vigil_mqtt_disconnects_total counter\n"
                  "vigil_mqtt_disconnects_total %llu\n",
              (unsigned long long)s.ingest.disconnects);
    sb_printf(&b, "# HELP vigil_mqtt_short_connections_total Broker connections closed by the "
                  "broker within 10 s of their CONNACK.\n"
                  "# TYPE vigil_mqtt_short_connections_total counter\n"
                  "vigil_mqtt_short_connections_total %llu\n",
              (unsigned long long)s.ingest.short_connections);
    sb_printf(&b, "# HELP vigil_ingest_ring_waits_total Messages that waited for room in the "
                  "readings ring (backpressure).\n# TYPE vigil_ingest_ring_waits_total counter\n"
                  "vigil_ingest_ring_waits_total %llu\n",
              (unsigned long long)s.ingest.ring_waits);
    sb_printf(&b, "# HELP vigil_ingest_stalls_total Backpressure waits past max_block_ms "
                  "(disconnected so the broker queues).\n"
                  "# TYPE vigil_ingest_stalls_total counter\nvigil_ingest_stalls_total %llu\n",
              (unsigned long long)s.ingest.stalls);
    return b.len;
}

uint16_t vg_engine_metrics_port(const vg_engine *e)
{
    return e ? vg__metrics_port(e->metrics) : 0;
}

const char *vg_engine_feeds_endpoint(const vg_engine *e)
{
    return e && e->alert ? vg_alert_feeds_endpoint(e->alert) : "-";
}

const char *vg_engine_control_endpoint(const vg_engine *e)
{
    return e && e->alert ? vg_alert_control_endpoint(e->alert) : "-";
}

int vg_engine_archive_path(const vg_engine *e, char *buf, size_t cap)
{
    vg_archive_stats st;

    if (!e || !buf || !cap)
        return -EINVAL;
    buf[0] = '\0';
    if (e->archive && vg_archive_get_stats(e->archive, &st) == 0)
        snprintf(buf, cap, "%s", st.path);
    return 0;
}
