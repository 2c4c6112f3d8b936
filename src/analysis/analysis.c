/* The analysis core: per-zone, per-line, per-camera and per-sensor state, driven by readings
 * and ticks on event time, grading every limit and reporting alert transitions and zone
 * metrics through the caller's sink. docs/analysis.md has the formulas and rules.
 *
 * DESIGN
 * Ordering: push() checks a reading and appends it to a bounded reorder buffer; tick(t)
 * sorts the buffer by event time (stable, so equal times keep arrival order; skipped when
 * it is already in order, the usual case), applies the prefix up to the watermark
 * E = t - lateness, then evaluates everything at E. A reading at or before the last watermark
 * is refused too_old, so each stream is applied in event-time order and a stream's repeated
 * event time is a duplicate. If the buffer fills between ticks, its oldest half is applied
 * early and the too_old floor moves up to it: nothing taken is lost, nothing blocks.
 * Help presses skip the buffer: their alert goes out from push(), at once.
 * Memory: everything is allocated in vg_analysis_new(); push and tick never allocate
 * (vg_analysis_reload() builds a new state and moves the old one's over, by id).
 * Determinism: state changes only in push/tick, evaluation walks zones, lines, sensors,
 * cameras and help points in index order, and nothing reads a clock. */
#include "vigil/analysis.h"
#include "vigil/detect.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S INT64_C(1000000000)
#define NEVER INT64_MIN
#define EV_RING 4        /* recent readings kept per sensor and line, for evidence */
#define CHATTER_HIST VG_CHATTER_CYCLES_MAX /* raise times kept per graded limit */
#define TREND_CAP 128    /* density samples kept per zone (one per second at most) */
#define FLOW_BUCKETS 256 /* one-second buckets per line: two flow windows of up to 120 s */
#define DISAGREE_PEERS_MAX 15
#define DISAGREE_EVERY_NS (10 * NS_PER_S)  /* the check runs once per 10 s of event time */
#define DISAGREE_DELAY_NS (300 * NS_PER_S) /* off its peers this long: sensor_disagree */
#define JAM_DROP 0.8          /* flow "falling": at most this fraction of the window before */
#define JAM_RECOVER 0.9       /* ... and over until flow is back to this fraction of it */
#define JAM_TREND_PER_MIN 0.1 /* density "rising" upstream: p/m² per minute */
#define TREND_SAMPLE_NS NS_PER_S
/* Samples are at least TREND_SAMPLE_NS apart, so the ring always holds the last
 * (TREND_CAP - 1) samples' worth of time: a longer window would lose its oldest samples
 * (and a trend_min beyond it would never be met). A slope needs 3 samples: 2 spacings. */
#define TREND_WINDOW_MAX_NS ((TREND_CAP - 1) * TREND_SAMPLE_NS)
#define TREND_WINDOW_MIN_NS (2 * TREND_SAMPLE_NS)

_Static_assert(sizeof(vg_reading) <= 64, "vg_reading must fit 64 bytes");
_Static_assert(sizeof(vg_alert_event) <= 512, "vg_alert_event must fit 512 bytes");

/* One alert activation slot: the (subject, kind) pair it belongs to is implied by where it
 * lives. grade VG_GRADE_CLEAR means inactive. */
struct alert {
    uint64_t id;
    int64_t raised_ns;
    int64_t changed_ns;
    double value; /* of the last event, for snapshots */
    double threshold;
    uint8_t grade;
    uint8_t chattering;
};

/* A graded limit: the alert plus the timers of on-delay, off-delay and chatter. */
struct grader {
    struct alert a;
    int64_t above_since[VG_GRADE_COUNT]; /* value >= level[g] continuously since */
    int64_t below_since;                 /* value < level[grade] - deadband since */
    int64_t raise_t[CHATTER_HIST];       /* recent raise times, ring */
    uint8_t raise_pos;
};

struct ev_sample {
    int64_t t_ns;
    double value;
};

struct sensor_st {
    int64_t last_t;         /* last applied */
    int64_t heard_t;        /* when the core last heard from it: last_t, or the watermark
                             * when a lagging clock's reading came behind it ("Skew") */
    int64_t pushed_t;       /* last taken by push, for the cheap duplicate check */
    int64_t flat_since;     /* event time the current value was first seen */
    int64_t oor_t;          /* last out-of-range reading, NEVER when none pending */
    int64_t anomaly_t;      /* last anomalous reading */
    int64_t disagree_since; /* continuously off its peers since */
    double value;
    double oor_value;
    double anomaly_value;
    double anomaly_score;
    struct ev_sample ev[EV_RING];
    uint32_t ev_n;
    struct grader limit;
    struct alert stale, stuck, range, anomaly, disagree;
    uint32_t peer_first, peer_count; /* in peers[]: same kind, same or neighbouring zone */
    vg_detector *det;
};

/* One (camera, zone) pair, flat over all cameras. */
struct cam_slot {
    int64_t count_t, count_pushed_t;
    int64_t sv_t, sv_pushed_t;
    double count;
    double speed_var;
    double coverage;
    uint32_t camera;
    uint32_t zone;
};

struct camera_st {
    int64_t last_t; /* any message */
    int64_t status_t, status_pushed_t;
    uint32_t slot0; /* first cam_slot */
    uint8_t status; /* enum vg_camera_status */
    bool stale;
    struct alert health;
};

struct line_st {
    int64_t last_t, pushed_t;
    double in_total, out_total;
    double bucket[FLOW_BUCKETS];
    int64_t bucket_s[FLOW_BUCKETS]; /* which second each bucket holds */
    struct ev_sample ev[EV_RING];
    uint32_t ev_n;
    double flow_pmm;
    double flow_prev_pmm; /* the window before the current one */
    double jam_ref_pmm;   /* flow before it fell, while jammed */
    bool jam;             /* flow fell while density upstream rises */
    struct grader flow;
};

struct zone_st {
    struct grader density, trend, pressure, occupancy, mismatch;
    struct ev_sample trend_s[TREND_CAP];
    uint32_t trend_n, trend_pos;
    int64_t trend_last_t;
    double occ_offset; /* seeds line occupancy from the first camera population */
    bool occ_seeded;
    bool closed;         /* every neighbour is joined by a counting line */
    uint32_t slot_first; /* this zone's entries in zone_slots[] */
    uint32_t slot_count;
};

struct help_st {
    int64_t pushed_t[VG_HELP_TYPE_COUNT];
    int64_t last_press[VG_HELP_TYPE_COUNT];
    struct alert alert[VG_HELP_TYPE_COUNT];
};

struct vg_analysis {
    const vg_model *m;
    vg_analysis_cfg cfg;
    vg_analysis_stats stats;
    uint32_t nz, nl, nc, ns, nh, nslots;
    struct zone_st *zones;
    struct line_st *lines;
    struct camera_st *cams;
    struct cam_slot *slots;
    uint32_t *zone_slots;  /* per zone, indices into slots[] */
    uint32_t *peers;       /* per sensor, its peers for the disagreement check */
    int64_t disagree_slot; /* event-time slot of the last disagreement check */
    struct sensor_st *sensors;
    struct help_st *help;
    vg_zone_metrics *metrics;
    vg_reading *pend;
    vg_reading *scratch;
    uint32_t npend;
    bool pend_sorted;
    int64_t pend_last_t;
    int64_t floor_t;   /* readings at or before this are too_old */
    int64_t last_tick; /* NEVER before the first tick */
    int64_t start_t;   /* first watermark: staleness is counted from here */
    uint64_t next_id;
    uint64_t seq;
    uint64_t active;
    size_t bytes;
    size_t sensor_bytes;
};

/* ---------------------------------------------------------------- allocation helpers */

static void *zalloc(vg_analysis *a, size_t n, size_t size)
{
    void *p;

    if (n == 0)
        n = 1;
    p = calloc(n, size);
    if (p)
        a->bytes += n * size;
    return p;
}

static void alert_init(struct alert *al)
{
    memset(al, 0, sizeof(*al));
    al->value = NAN;
    al->threshold = NAN;
}

static void grader_init(struct grader *g)
{
    alert_init(&g->a);
    for (int i = 0; i < VG_GRADE_COUNT; i++)
        g->above_since[i] = NEVER;
    g->below_since = NEVER;
    for (int i = 0; i < CHATTER_HIST; i++)
        g->raise_t[i] = NEVER;
    g->raise_pos = 0;
}

void vg_analysis_cfg_default(vg_analysis_cfg *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof(*cfg));
    cfg->lateness_ns = 2 * NS_PER_S;
    cfg->max_future_ns = 60 * NS_PER_S;
    cfg->skew_ns = 60 * NS_PER_S;
    cfg->max_pending = 262144;
    cfg->anomaly = 1;
    cfg->camera_fresh_ns = 0;
    cfg->trend_window_ns = 60 * NS_PER_S;
    cfg->trend_min_ns = 20 * NS_PER_S;
    cfg->flow_window_ns = 60 * NS_PER_S;
    cfg->help_rearm_ns = 120 * NS_PER_S;
    cfg->anomaly_hold_ns = 60 * NS_PER_S;
    cfg->first_alert_id = 1;
}

static int cfg_valid(const vg_analysis_cfg *c)
{
    return c->lateness_ns >= 0 && c->max_future_ns >= 0 && c->skew_ns >= 0 &&
           c->max_pending >= 2 &&
           c->camera_fresh_ns >= 0 && c->trend_window_ns >= TREND_WINDOW_MIN_NS &&
           c->trend_window_ns <= TREND_WINDOW_MAX_NS && c->trend_min_ns >= 0 &&
           c->trend_min_ns <= c->trend_window_ns &&
           c->flow_window_ns >= NS_PER_S && c->flow_window_ns <= 120 * NS_PER_S &&
           c->help_rearm_ns >= 0 && c->anomaly_hold_ns >= 0;
}

int vg_analysis_cfg_check(const vg_analysis_cfg *cfg)
{
    return cfg && cfg_valid(cfg) ? 0 : -EINVAL;
}

/* True when every neighbour of zone z is joined to it by at least one counting line, so
 * lines see every way in and out and their occupancy means something. A zone open to the
 * outside (model `open`) has a way in that no line counts. */
static bool zone_closed(const vg_model *m, const vg_zone *z, uint32_t zi)
{
    if (z->open || z->line_count == 0)
        return false;
    for (uint32_t k = 0; k < z->neighbour_count; k++) {
        uint32_t n = z->neighbours[k];
        bool joined = false;

        for (uint32_t j = 0; j < z->line_count && !joined; j++) {
            const vg_line *l = vg_model_line(m, z->lines[j]);

            joined = l && ((l->zone_from == zi && l->zone_to == n) ||
                           (l->zone_to == zi && l->zone_from == n));
        }
        if (!joined)
            return false;
    }
    return true;
}

/* Absolute disagreement a sensor may show against the median of its peers before it
 * counts as off (0: the kind is not checked; binary and local kinds such as smoke, door,
 * vibration, wind differ between places by nature). Typical sensor accuracy times a few. */
static const double disagree_floor[VG_SENSOR_KIND_COUNT] = {
    [VG_SENSOR_TEMPERATURE] = 3.0, [VG_SENSOR_HUMIDITY] = 15.0, [VG_SENSOR_WBGT] = 3.0,
    [VG_SENSOR_CO2] = 400.0,       [VG_SENSOR_NOISE] = 15.0,    [VG_SENSOR_WATER_TEMPERATURE] = 2.0,
    [VG_SENSOR_PM25] = 25.0,
};

static void add_peers(const vg_analysis *a, uint32_t s, const vg_zone *z, uint32_t *out,
                      uint32_t *n)
{
    enum vg_sensor_kind k = vg_model_sensor(a->m, s)->kind;

    for (uint32_t j = 0; j < z->sensor_count && *n < DISAGREE_PEERS_MAX; j++) {
        uint32_t p = z->sensors[j];

        if (p != s && vg_model_sensor(a->m, p)->kind == k) {
            if (out)
                out[*n] = p;
            (*n)++;
        }
    }
}

/* Each checked sensor's peers: sensors of its kind in its zone and the neighbouring ones. */
static int build_peers(vg_analysis *a)
{
    uint32_t total = 0;

    for (int pass = 0; pass < 2; pass++) {
        uint32_t at = 0;

        for (uint32_t s = 0; s < a->ns; s++) {
            const vg_sensor *sn = vg_model_sensor(a->m, s);
            const vg_zone *z = vg_model_zone(a->m, sn->zone);
            uint32_t *out = pass ? a->peers + at : NULL, n = 0;

            if (!z || (unsigned)sn->kind >= VG_SENSOR_KIND_COUNT || disagree_floor[sn->kind] <= 0)
                continue;
            add_peers(a, s, z, out, &n);
            for (uint32_t k = 0; k < z->neighbour_count; k++)
                add_peers(a, s, vg_model_zone(a->m, z->neighbours[k]), out, &n);
            if (pass) {
                a->sensors[s].peer_first = at;
                a->sensors[s].peer_count = n;
            }
            at += n;
        }
        if (!pass) {
            total = at;
            a->peers = zalloc(a, total, sizeof(*a->peers));
            if (!a->peers)
                return -ENOMEM;
        }
    }
    return 0;
}

/* The sensitivity a sensor's detector runs at: the model's, or the default when it has none
 * in [0,1]. */
static double sensor_sensitivity(const vg_sensor *sn)
{
    vg_detector_cfg dc;

    vg_detector_cfg_default(&dc);
    return sn->sensitivity >= 0.0 && sn->sensitivity <= 1.0 ? sn->sensitivity : dc.sensitivity;
}

void vg_analysis_free(vg_analysis **ap)
{
    vg_analysis *a;

    if (!ap || !*ap)
        return;
    a = *ap;
    if (a->sensors)
        for (uint32_t i = 0; i < a->ns; i++)
            vg_detector_free(&a->sensors[i].det);
    free(a->zones);
    free(a->lines);
    free(a->cams);
    free(a->slots);
    free(a->zone_slots);
    free(a->peers);
    free(a->sensors);
    free(a->help);
    free(a->metrics);
    free(a->pend);
    free(a->scratch);
    free(a);
    *ap = NULL;
}

int vg_analysis_new(const vg_model *m, const vg_analysis_cfg *cfg, vg_analysis **ret)
{
    vg_analysis *a;
    uint32_t nslots = 0, k;
    int r = -ENOMEM;

    if (!m || !ret)
        return -EINVAL;
    if (cfg && !cfg_valid(cfg))
        return -EINVAL;
    a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->bytes = sizeof(*a);
    a->m = m;
    vg_analysis_cfg_default(&a->cfg);
    if (cfg)
        a->cfg = *cfg;
    a->nz = vg_model_zone_count(m);
    a->nl = vg_model_line_count(m);
    a->nc = vg_model_camera_count(m);
    a->ns = vg_model_sensor_count(m);
    a->nh = vg_model_help_point_count(m);
    for (uint32_t c = 0; c < a->nc; c++)
        nslots += vg_model_camera(m, c)->zone_count;
    a->nslots = nslots;

    a->zones = zalloc(a, a->nz, sizeof(*a->zones));
    a->lines = zalloc(a, a->nl, sizeof(*a->lines));
    a->cams = zalloc(a, a->nc, sizeof(*a->cams));
    a->slots = zalloc(a, nslots, sizeof(*a->slots));
    a->zone_slots = zalloc(a, nslots, sizeof(*a->zone_slots));
    a->sensors = zalloc(a, a->ns, sizeof(*a->sensors));
    a->help = zalloc(a, a->nh, sizeof(*a->help));
    a->metrics = zalloc(a, a->nz, sizeof(*a->metrics));
    a->pend = zalloc(a, a->cfg.max_pending, sizeof(*a->pend));
    a->scratch = zalloc(a, a->cfg.max_pending, sizeof(*a->scratch));
    if (!a->zones || !a->lines || !a->cams || !a->slots || !a->zone_slots || !a->sensors ||
        !a->help || !a->metrics || !a->pend || !a->scratch)
        goto out_free;

    /* camera slots, then each zone's list of them (zone order, camera order inside) */
    k = 0;
    for (uint32_t c = 0; c < a->nc; c++) {
        const vg_camera *cam = vg_model_camera(m, c);
        struct camera_st *cs = &a->cams[c];

        cs->last_t = cs->status_t = cs->status_pushed_t = NEVER;
        cs->slot0 = k;
        alert_init(&cs->health);
        for (uint32_t j = 0; j < cam->zone_count; j++, k++) {
            struct cam_slot *s = &a->slots[k];

            s->count_t = s->count_pushed_t = s->sv_t = s->sv_pushed_t = NEVER;
            s->count = s->speed_var = NAN;
            s->coverage = cam->zones[j].coverage;
            s->camera = c;
            s->zone = cam->zones[j].zone;
        }
    }
    k = 0;
    for (uint32_t z = 0; z < a->nz; z++) {
        const vg_zone *zn = vg_model_zone(m, z);
        struct zone_st *zs = &a->zones[z];

        zs->slot_first = k;
        for (uint32_t s = 0; s < nslots; s++)
            if (a->slots[s].zone == z)
                a->zone_slots[k++] = s;
        zs->slot_count = k - zs->slot_first;
        grader_init(&zs->density);
        grader_init(&zs->trend);
        grader_init(&zs->pressure);
        grader_init(&zs->occupancy);
        grader_init(&zs->mismatch);
        zs->trend_last_t = NEVER;
        zs->closed = zone_closed(m, zn, z);
        a->metrics[z].zone = z;
        a->metrics[z].los = '-';
    }
    for (uint32_t l = 0; l < a->nl; l++) {
        struct line_st *ls = &a->lines[l];

        ls->last_t = ls->pushed_t = NEVER;
        for (int b = 0; b < FLOW_BUCKETS; b++)
            ls->bucket_s[b] = NEVER;
        ls->flow_pmm = NAN;
        grader_init(&ls->flow);
    }
    for (uint32_t h = 0; h < a->nh; h++)
        for (int t = 0; t < VG_HELP_TYPE_COUNT; t++) {
            a->help[h].pushed_t[t] = a->help[h].last_press[t] = NEVER;
            alert_init(&a->help[h].alert[t]);
        }
    a->sensor_bytes = sizeof(struct sensor_st);
    for (uint32_t s = 0; s < a->ns; s++) {
        const vg_sensor *sn = vg_model_sensor(m, s);
        struct sensor_st *ss = &a->sensors[s];

        ss->last_t = ss->heard_t = ss->pushed_t = ss->flat_since = ss->oor_t = ss->anomaly_t =
            NEVER;
        ss->value = NAN;
        grader_init(&ss->limit);
        alert_init(&ss->stale);
        alert_init(&ss->stuck);
        alert_init(&ss->range);
        alert_init(&ss->anomaly);
        alert_init(&ss->disagree);
        ss->disagree_since = NEVER;
        if (a->cfg.anomaly) {
            vg_detector_cfg dc = {.sensitivity = sensor_sensitivity(sn)};

            r = vg_detector_new(&dc, &ss->det);
            if (r < 0)
                goto out_free;
            a->bytes += vg_detector_memory(ss->det);
            if (s == 0)
                a->sensor_bytes += vg_detector_memory(ss->det);
        }
    }
    r = build_peers(a);
    if (r < 0)
        goto out_free;
    a->pend_sorted = true;
    a->pend_last_t = NEVER;
    a->floor_t = NEVER;
    a->disagree_slot = NEVER;
    a->last_tick = NEVER;
    a->start_t = NEVER;
    a->next_id = a->cfg.first_alert_id;
    a->stats.watermark_ns = NEVER;
    *ret = a;
    return 0;
out_free:
    vg_analysis_free(&a);
    return r;
}

/* ---------------------------------------------------------------- events */

static const char *zone_name(const vg_analysis *a, uint32_t z)
{
    const vg_zone *zn = vg_model_zone(a->m, z);

    return zn ? zn->id : "-";
}

static void format_message(const vg_analysis *a, vg_alert_event *ev)
{
    char *b = ev->message;
    size_t n = sizeof(ev->message);
    const char *g = vg_grade_name((enum vg_grade)ev->grade);
    const char *zid = zone_name(a, ev->zone);
    const vg_sensor *s = NULL;

    if (ev->source_type == VG_SOURCE_SENSOR)
        s = vg_model_sensor(a->m, ev->source);
    switch (ev->kind) {
    case VG_ALERT_DENSITY:
        snprintf(b, n, "%s: density %.2f p/m2 in %s (LoS %c; level %.2f)", g, ev->value, zid,
                 vg_fruin_los(vg_model_zone(a->m, ev->zone)->type, ev->value), ev->threshold);
        break;
    case VG_ALERT_TREND_TO_CRITICAL:
        if (ev->ttc_s >= 0)
            snprintf(b, n, "%s: %s reaches critical density in %.0f s (trend %+.2f p/m2/min)", g,
                     zid, ev->ttc_s, ev->trend_per_min);
        else
            snprintf(b, n, "%s: %s no longer heading for critical density", g, zid);
        break;
    case VG_ALERT_FLOW: {
        const vg_line *l = vg_model_line(a->m, ev->source);

        snprintf(b, n, "%s: flow %.1f p/m/min across %s into %s (level %.1f of %.0f)", g, ev->value,
                 l ? l->id : "-", zid, ev->threshold, l ? l->ref_flow_pmm : 0.0);
        break;
    }
    case VG_ALERT_PRESSURE:
        snprintf(b, n, "%s: crowd pressure %.4f /s2 in %s (level %.4f)", g, ev->value, zid,
                 ev->threshold);
        break;
    case VG_ALERT_OCCUPANCY:
        snprintf(b, n, "%s: %s at %.0f%% of capacity by counting lines (level %.0f%%)", g, zid,
                 ev->value * 100.0, ev->threshold * 100.0);
        break;
    case VG_ALERT_OCCUPANCY_MISMATCH:
        snprintf(b, n, "%s: %s counting lines and cameras differ by %.0f persons (allowed %.0f)", g,
                 zid, ev->value, ev->threshold);
        break;
    case VG_ALERT_SENSOR_STALE:
        snprintf(b, n, "%s: sensor %s silent for %.0f s (limit %.0f s)", g, s ? s->id : "-",
                 ev->value, ev->threshold);
        break;
    case VG_ALERT_SENSOR_STUCK:
        snprintf(b, n, "%s: sensor %s flat for %.0f s (limit %.0f s)", g, s ? s->id : "-",
                 ev->value, ev->threshold);
        break;
    case VG_ALERT_SENSOR_RANGE:
        snprintf(b, n, "%s: sensor %s reads %g %s, outside %g..%g", g, s ? s->id : "-", ev->value,
                 s ? s->unit : "", s ? s->min : NAN, s ? s->max : NAN);
        break;
    case VG_ALERT_SENSOR_DISAGREE:
        snprintf(b, n, "%s: sensor %s reads %g %s, off its peers (allowed +-%g)", g,
                 s ? s->id : "-", ev->value, s ? s->unit : "", ev->threshold);
        break;
    case VG_ALERT_ANOMALY:
        snprintf(b, n, "%s: sensor %s unusual reading %g %s (score threshold %.2f)", g,
                 s ? s->id : "-", ev->value, s ? s->unit : "", ev->threshold);
        break;
    case VG_ALERT_HELP_MEDICAL:
    case VG_ALERT_HELP_SECURITY:
    case VG_ALERT_HELP_FIRE:
    case VG_ALERT_HELP_OTHER: {
        const vg_help_point *h = vg_model_help_point(a->m, ev->source);

        snprintf(b, n, "%s: %s help requested at %s in %s", g,
                 vg_help_type_name((enum vg_help_type)(ev->kind - VG_ALERT_HELP_MEDICAL)),
                 h ? h->id : "-", zid);
        break;
    }
    case VG_ALERT_CAMERA_HEALTH: {
        const vg_camera *c = vg_model_camera(a->m, ev->source);

        if (ev->value >= 0)
            snprintf(b, n, "%s: camera %s %s", g, c ? c->id : "-",
                     vg_camera_status_name((enum vg_camera_status)(int)ev->value));
        else
            snprintf(b, n, "%s: camera %s silent", g, c ? c->id : "-");
        break;
    }
    default:
        /* static sensor limits: wbgt, co2, noise, smoke, other kinds */
        snprintf(b, n, "%s: %s %g %s at sensor %s in %s (level %g)", g,
                 vg_alert_kind_name((enum vg_alert_kind)ev->kind), ev->value, s ? s->unit : "",
                 s ? s->id : "-", zid, ev->threshold);
        break;
    }
}

/* Life-safety kinds, latched by the alert layer until an operator resets them (DESIGN.md):
 * help-point presses and smoke. */
static uint32_t life_safety(uint8_t kind)
{
    return kind == VG_ALERT_SMOKE || (kind >= VG_ALERT_HELP_MEDICAL && kind <= VG_ALERT_HELP_OTHER)
               ? VG_ALERT_F_LATCHED
               : 0;
}

/* Moves an alert to grade g at t and tells the sink. ev holds the subject, the numbers and
 * the evidence; this fills identity, action, grades, feed, flags and message. */
static void transition(vg_analysis *a, struct alert *al, uint8_t g, int64_t t, vg_alert_event *ev)
{
    uint8_t prev = al->grade;

    if (g == prev)
        return;
    if (prev == VG_GRADE_CLEAR) {
        al->id = a->next_id++;
        al->raised_ns = t;
        a->active++;
        ev->action = VG_ALERT_ACTION_RAISE;
    } else if (g == VG_GRADE_CLEAR) {
        a->active--;
        ev->action = VG_ALERT_ACTION_CLEAR;
    } else {
        ev->action = VG_ALERT_ACTION_CHANGE;
    }
    al->grade = g;
    al->changed_ns = t;
    al->value = ev->value;
    al->threshold = ev->threshold;
    ev->id = al->id;
    ev->seq = ++a->seq;
    ev->t_ns = t;
    ev->raised_ns = al->raised_ns;
    ev->grade = g;
    ev->prev_grade = prev;
    ev->feed = (uint8_t)vg_model_feed(a->m, (enum vg_alert_kind)ev->kind);
    if (al->chattering)
        ev->flags |= VG_ALERT_F_CHATTERING;
    ev->flags |= life_safety(ev->kind);
    if (!ev->message[0]) /* a caller may have written a more specific one */
        format_message(a, ev);
    a->stats.events++;
    if (a->cfg.sink.on_alert)
        a->cfg.sink.on_alert(a->cfg.sink.ctx, ev);
    if (g == VG_GRADE_CLEAR)
        al->chattering = 0;
}

static void ev_init(vg_alert_event *ev, uint8_t kind, uint32_t zone, uint8_t source_type,
                    uint32_t source, double value, double threshold)
{
    memset(ev, 0, sizeof(*ev));
    ev->kind = kind;
    ev->zone = zone;
    ev->source_type = source_type;
    ev->source = source;
    ev->value = value;
    ev->threshold = threshold;
    ev->trend_per_min = NAN;
    ev->ttc_s = -1;
}

static void ev_add(vg_alert_event *ev, int64_t t, double v, uint8_t source_type, uint32_t src,
                   uint8_t reading_type)
{
    vg_evidence *e;

    if (ev->evidence_count >= VG_EVIDENCE_MAX || t == NEVER)
        return;
    e = &ev->evidence[ev->evidence_count++];
    e->t_ns = t;
    e->value = v;
    e->source = src;
    e->source_type = source_type;
    e->reading_type = reading_type;
}

static void ev_add_ring(vg_alert_event *ev, const struct ev_sample *ring, uint32_t n,
                        uint8_t source_type, uint32_t src, uint8_t reading_type)
{
    uint32_t have = n < EV_RING ? n : EV_RING;

    for (uint32_t i = 0; i < have; i++) {
        const struct ev_sample *s = &ring[(n - 1 - i) % EV_RING];

        ev_add(ev, s->t_ns, s->value, source_type, src, reading_type);
    }
}

/* ---------------------------------------------------------------- grading */

static double level_of(const vg_limit *lim, uint8_t g)
{
    return g == VG_GRADE_CLEAR ? NAN : lim->level[g];
}

/* One evaluation of a graded limit at time t with value v (NaN: no data, hold).
 * Rising: a grade is raised once v has stayed >= its level for on_delay (emergency at
 * once). Falling: the grade is lowered, to the highest grade v still holds with the
 * deadband, once v has stayed below level - deadband for off_delay. Returns the new grade;
 * the caller emits the transition. */
static uint8_t grade_step(struct grader *gr, const vg_limit *lim, double v, int64_t t)
{
    uint8_t cur = gr->a.grade, up = VG_GRADE_CLEAR, hold = VG_GRADE_CLEAR;

    if (isnan(v))
        return cur;
    for (uint8_t g = VG_GRADE_ADVISORY; g < VG_GRADE_COUNT; g++) {
        if (v >= lim->level[g]) {
            if (gr->above_since[g] == NEVER)
                gr->above_since[g] = t;
            if (g == VG_GRADE_EMERGENCY || t - gr->above_since[g] >= lim->on_delay_ns)
                up = g;
        } else {
            gr->above_since[g] = NEVER;
        }
        if (v >= lim->level[g] - lim->deadband)
            hold = g;
    }
    if (up > cur) {
        gr->below_since = NEVER;
        return up;
    }
    if (cur == VG_GRADE_CLEAR || hold >= cur) {
        gr->below_since = NEVER;
        return cur;
    }
    if (gr->below_since == NEVER)
        gr->below_since = t;
    if (t - gr->below_since < lim->off_delay_ns)
        return cur;
    gr->below_since = NEVER;
    return hold;
}

/* Records a raise and flags the activation as chattering once `cycles` raises fell within
 * `window_ns` (the DESIGN nuisance rule: 3 set/clear cycles in 60 s). */
static void chatter_note(struct grader *gr, int64_t t, uint32_t cycles, int64_t window_ns)
{
    uint32_t n = 0;

    gr->raise_t[gr->raise_pos] = t;
    gr->raise_pos = (uint8_t)((gr->raise_pos + 1) % CHATTER_HIST);
    if (cycles == 0)
        return;
    for (int i = 0; i < CHATTER_HIST; i++)
        if (gr->raise_t[i] != NEVER && t - gr->raise_t[i] <= window_ns)
            n++;
    if (n >= cycles)
        gr->a.chattering = 1;
}

static void profile_chatter(const vg_analysis *a, uint32_t profile, uint32_t *ret_cycles,
                            int64_t *ret_window)
{
    const vg_profile *p = vg_model_profile(a->m, profile);

    /* the loader refuses more cycles than CHATTER_HIST raise times can count */
    *ret_cycles = p ? p->chatter_cycles : 3;
    *ret_window = p ? p->chatter_window_ns : 60 * NS_PER_S;
    assert(*ret_cycles <= CHATTER_HIST);
}

/* Steps a graded limit; on a grade change notes a raise for the chatter rule and returns
 * true with *ret_grade, and the caller builds the event (only then) and emits it. */
static bool graded(vg_analysis *a, struct grader *gr, const vg_limit *lim, double v, int64_t t,
                   uint32_t profile, uint8_t *ret_grade)
{
    uint8_t g = grade_step(gr, lim, v, t);

    if (g == gr->a.grade)
        return false;
    if (gr->a.grade == VG_GRADE_CLEAR) {
        uint32_t cycles;
        int64_t window;

        profile_chatter(a, profile, &cycles, &window);
        chatter_note(gr, t, cycles, window);
    }
    *ret_grade = g;
    return true;
}

/* The level an event reports: the new grade's level, or for a clear the level left minus
 * the deadband. */
static double event_threshold(const vg_limit *lim, uint8_t from, uint8_t to)
{
    if (to == VG_GRADE_CLEAR)
        return level_of(lim, from) - lim->deadband;
    return level_of(lim, to);
}

/* ---------------------------------------------------------------- applying readings */

static void reject_late(vg_analysis *a, const vg_reading *r, enum vg_reject why)
{
    a->stats.rejected[why]++;
    if (a->cfg.sink.on_reject)
        a->cfg.sink.on_reject(a->cfg.sink.ctx, r, why);
}

/* Applies one reading to its stream's state; readings of a stream arrive here in
 * event-time order (the buffer is sorted and older ones were refused at push). */
static void apply(vg_analysis *a, const vg_reading *r)
{
    switch (r->type) {
    case VG_READING_SENSOR: {
        struct sensor_st *s = &a->sensors[r->source];

        if (r->t_ns <= s->last_t) {
            reject_late(a, r, r->t_ns == s->last_t ? VG_REJECT_DUPLICATE : VG_REJECT_TOO_OLD);
            return;
        }
        if (s->last_t == NEVER || r->value != s->value)
            s->flat_since = r->t_ns;
        s->value = r->value;
        s->last_t = r->t_ns;
        /* Staleness counts from here: a sensor whose clock lags is talking, not silent. */
        s->heard_t = r->t_ns > a->floor_t ? r->t_ns : a->floor_t;
        s->ev[s->ev_n % EV_RING] = (struct ev_sample){r->t_ns, r->value};
        s->ev_n++;
        if (s->oor_t != NEVER && r->t_ns > s->oor_t)
            s->oor_t = NEVER;
        if (s->det) {
            double score = vg_detector_update(s->det, r->t_ns, r->value);

            if (score >= vg_detector_threshold(s->det)) {
                s->anomaly_t = r->t_ns;
                s->anomaly_value = r->value;
                s->anomaly_score = score;
            }
        }
        break;
    }
    case VG_READING_COUNT:
    case VG_READING_SPEED_VAR: {
        struct camera_st *c = &a->cams[r->source];
        const vg_camera *cam = vg_model_camera(a->m, r->source);
        struct cam_slot *s = NULL;
        int64_t *tp;

        for (uint32_t j = 0; j < cam->zone_count; j++)
            if (a->slots[c->slot0 + j].zone == r->zone)
                s = &a->slots[c->slot0 + j];
        assert(s);
        tp = r->type == VG_READING_COUNT ? &s->count_t : &s->sv_t;
        if (r->t_ns <= *tp) {
            reject_late(a, r, r->t_ns == *tp ? VG_REJECT_DUPLICATE : VG_REJECT_TOO_OLD);
            return;
        }
        *tp = r->t_ns;
        if (r->type == VG_READING_COUNT)
            s->count = r->value;
        else
            s->speed_var = r->value;
        if (r->t_ns > c->last_t)
            c->last_t = r->t_ns;
        break;
    }
    case VG_READING_LINE: {
        struct line_st *l = &a->lines[r->source];
        int64_t sec = r->t_ns / NS_PER_S - (r->t_ns % NS_PER_S < 0);
        uint32_t b = (uint32_t)(((sec % FLOW_BUCKETS) + FLOW_BUCKETS) % FLOW_BUCKETS);

        if (r->t_ns <= l->last_t) {
            reject_late(a, r, r->t_ns == l->last_t ? VG_REJECT_DUPLICATE : VG_REJECT_TOO_OLD);
            return;
        }
        l->last_t = r->t_ns;
        l->in_total += r->value;
        l->out_total += r->value2;
        if (l->bucket_s[b] != sec) {
            l->bucket_s[b] = sec;
            l->bucket[b] = 0;
        }
        l->bucket[b] += r->value + r->value2;
        l->ev[l->ev_n % EV_RING] = (struct ev_sample){r->t_ns, r->value + r->value2};
        l->ev_n++;
        break;
    }
    case VG_READING_CAMERA_HEALTH: {
        struct camera_st *c = &a->cams[r->source];

        if (r->t_ns <= c->status_t) {
            reject_late(a, r, r->t_ns == c->status_t ? VG_REJECT_DUPLICATE : VG_REJECT_TOO_OLD);
            return;
        }
        c->status_t = r->t_ns;
        c->status = r->sub;
        if (r->t_ns > c->last_t)
            c->last_t = r->t_ns;
        break;
    }
    default:
        assert(0 && "not a buffered reading type");
        return;
    }
    a->stats.accepted++;
}

/* Stable merge sort of pend[0..n) by t_ns, through scratch. */
static void sort_pending(vg_analysis *a)
{
    vg_reading *src = a->pend, *dst = a->scratch;
    uint32_t n = a->npend;

    for (uint32_t w = 1; w < n; w *= 2) {
        for (uint32_t lo = 0; lo < n; lo += 2 * w) {
            uint32_t mid = lo + w < n ? lo + w : n;
            uint32_t hi = lo + 2 * w < n ? lo + 2 * w : n;
            uint32_t i = lo, j = mid, k = lo;

            while (i < mid && j < hi)
                dst[k++] = src[j].t_ns < src[i].t_ns ? src[j++] : src[i++];
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        vg_reading *tmp = src;
        src = dst;
        dst = tmp;
    }
    if (src != a->pend)
        memcpy(a->pend, src, (size_t)n * sizeof(*a->pend));
    a->pend_sorted = true;
}

/* Applies the sorted prefix with t_ns <= upto (at most max readings); keeps the rest. */
static void apply_pending(vg_analysis *a, int64_t upto, uint32_t max)
{
    uint32_t i = 0;

    if (!a->pend_sorted)
        sort_pending(a);
    while (i < a->npend && i < max && a->pend[i].t_ns <= upto)
        apply(a, &a->pend[i++]);
    if (i == 0)
        return;
    if (a->pend[i - 1].t_ns > a->floor_t)
        a->floor_t = a->pend[i - 1].t_ns;
    memmove(a->pend, a->pend + i, (size_t)(a->npend - i) * sizeof(*a->pend));
    a->npend -= i;
}

static void help_press(vg_analysis *a, const vg_reading *r)
{
    struct help_st *h = &a->help[r->source];
    const vg_help_point *hp = vg_model_help_point(a->m, r->source);
    struct alert *al = &h->alert[r->sub];
    vg_alert_event ev;

    if (r->t_ns > h->last_press[r->sub])
        h->last_press[r->sub] = r->t_ns;
    a->stats.accepted++;
    if (al->grade != VG_GRADE_CLEAR)
        return;
    /* life safety: no on-delay, latched by the alert layer until an operator resets it */
    ev_init(&ev, (uint8_t)(VG_ALERT_HELP_MEDICAL + r->sub), hp->zone, VG_SOURCE_HELP_POINT,
            r->source, 1.0, 1.0);
    ev.flags = VG_ALERT_F_LATCHED;
    ev_add(&ev, r->t_ns, 1.0, VG_SOURCE_HELP_POINT, r->source, VG_READING_HELP);
    transition(a, al, VG_GRADE_CRITICAL, r->t_ns, &ev);
}

static int64_t *stream_pushed(vg_analysis *a, const vg_reading *r)
{
    switch (r->type) {
    case VG_READING_SENSOR:
        return &a->sensors[r->source].pushed_t;
    case VG_READING_COUNT:
    case VG_READING_SPEED_VAR: {
        struct camera_st *c = &a->cams[r->source];
        const vg_camera *cam = vg_model_camera(a->m, r->source);

        for (uint32_t j = 0; j < cam->zone_count; j++) {
            struct cam_slot *s = &a->slots[c->slot0 + j];

            if (s->zone == r->zone)
                return r->type == VG_READING_COUNT ? &s->count_pushed_t : &s->sv_pushed_t;
        }
        return NULL;
    }
    case VG_READING_LINE:
        return &a->lines[r->source].pushed_t;
    case VG_READING_HELP:
        return &a->help[r->source].pushed_t[r->sub];
    case VG_READING_CAMERA_HEALTH:
        return &a->cams[r->source].status_pushed_t;
    default:
        return NULL;
    }
}

/* A reading behind the watermark by less than cfg.skew_ns that is newer than all its stream
 * sent before: its source's clock lags (a few seconds is common) or a bridge delivered it
 * late. Refusing it would refuse every reading of such a source; taken, it is applied at the
 * next tick, as if it had come in time. Out of order within its own stream it is too old. */
static bool skewed(vg_analysis *a, const vg_reading *r)
{
    const int64_t *pushed = stream_pushed(a, r);

    return pushed && r->t_ns > *pushed &&
           (a->floor_t < INT64_MIN + a->cfg.skew_ns || r->t_ns > a->floor_t - a->cfg.skew_ns);
}

int vg_analysis_push(vg_analysis *a, const vg_reading *r)
{
    enum vg_reject why;
    int64_t *pushed;
    vg_reading help;

    if (!a || !r)
        return -EINVAL;
    why = vg_reading_check(a->m, r);
    if (why == VG_REJECT_OUT_OF_RANGE && r->type == VG_READING_SENSOR &&
        (r->t_ns > a->floor_t || skewed(a, r)) &&
        (a->last_tick == NEVER || r->t_ns - a->last_tick <= a->cfg.max_future_ns)) {
        /* the value is refused, but a sensor reading out of its physical range is itself
         * a fault worth a technical alert (evaluated at the next tick); camera and line
         * readings out of range are only refused (their source is no sensor index). One
         * stamped too far ahead is not noted: it would hold the alert until a valid reading
         * newer than it. */
        struct sensor_st *s = &a->sensors[r->source];

        if (r->t_ns > s->last_t && (s->oor_t == NEVER || r->t_ns >= s->oor_t)) {
            s->oor_t = r->t_ns;
            s->oor_value = r->value;
        }
    }
    if (why == VG_REJECT_NONE && r->type == VG_READING_HELP) {
        /* Life safety: a help press is never refused for its time. One at or before the
         * watermark (a slow clock, a press the broker queued while the engine restarted)
         * raises its alert at once at its own time, like any press; one beyond max_future
         * (a fast clock) is taken at the last tick, so that no alert is stamped ahead of the
         * core. The same press twice is still a duplicate (below). */
        help = *r;
        if (a->last_tick != NEVER && help.t_ns - a->last_tick > a->cfg.max_future_ns)
            help.t_ns = a->last_tick;
        r = &help;
    } else if (why == VG_REJECT_NONE) {
        if (r->t_ns <= a->floor_t && !skewed(a, r))
            why = VG_REJECT_TOO_OLD;
        else if (a->last_tick != NEVER && r->t_ns - a->last_tick > a->cfg.max_future_ns)
            why = VG_REJECT_TOO_FAR_FUTURE;
    }
    if (why == VG_REJECT_NONE) {
        pushed = stream_pushed(a, r);
        assert(pushed);
        if (*pushed == r->t_ns)
            why = VG_REJECT_DUPLICATE;
        else if (r->t_ns > *pushed)
            *pushed = r->t_ns;
    }
    if (why != VG_REJECT_NONE) {
        a->stats.rejected[why]++;
        return (int)why;
    }
    if (r->type == VG_READING_HELP) {
        help_press(a, r);
        return 0;
    }
    if (a->npend == a->cfg.max_pending) {
        uint32_t half = a->npend / 2;

        a->stats.early_applied += half;
        apply_pending(a, INT64_MAX, half);
    }
    if (r->t_ns < a->pend_last_t)
        a->pend_sorted = false;
    else
        a->pend_last_t = r->t_ns;
    a->pend[a->npend++] = *r;
    return 0;
}

/* ---------------------------------------------------------------- evaluation */

/* Least-squares slope of the zone's density samples within the window, in p/m² per
 * second; false when there are too few samples or they span too little time. */
static bool zone_trend(const vg_analysis *a, const struct zone_st *zs, int64_t t, double *ret_slope)
{
    double st = 0, sd = 0, stt = 0, std = 0;
    uint32_t n = 0;
    int64_t oldest = t;

    for (uint32_t i = 0; i < zs->trend_n; i++) {
        const struct ev_sample *s = &zs->trend_s[i];
        double x;

        if (t - s->t_ns > a->cfg.trend_window_ns)
            continue;
        if (s->t_ns < oldest)
            oldest = s->t_ns;
        /* seconds relative to t keep the sums well conditioned */
        x = (double)(s->t_ns - t) / (double)NS_PER_S;
        st += x;
        sd += s->value;
        stt += x * x;
        std += x * s->value;
        n++;
    }
    if (n < 3 || t - oldest < a->cfg.trend_min_ns)
        return false;
    double den = n * stt - st * st;
    if (den <= 0)
        return false;
    *ret_slope = (n * std - st * sd) / den;
    return true;
}

static void add_camera_evidence(const vg_analysis *a, const struct zone_st *zs, vg_alert_event *ev,
                                bool speed)
{
    for (uint32_t k = 0; k < zs->slot_count; k++) {
        const struct cam_slot *s = &a->slots[a->zone_slots[zs->slot_first + k]];

        if (speed)
            ev_add(ev, s->sv_t, s->speed_var, VG_SOURCE_CAMERA, s->camera, VG_READING_SPEED_VAR);
        else
            ev_add(ev, s->count_t, s->count, VG_SOURCE_CAMERA, s->camera, VG_READING_COUNT);
    }
}

static bool camera_healthy(const vg_analysis *a, uint32_t c)
{
    return a->cams[c].status == VG_CAMERA_OK && !a->cams[c].stale;
}

static void eval_cameras(vg_analysis *a, int64_t t)
{
    for (uint32_t c = 0; c < a->nc; c++) {
        const vg_camera *cam = vg_model_camera(a->m, c);
        struct camera_st *cs = &a->cams[c];
        int64_t since = cs->last_t != NEVER ? cs->last_t : a->start_t;
        uint8_t g = VG_GRADE_CLEAR;
        double value = -1;
        vg_alert_event ev;

        cs->stale = cam->stale_after_ns > 0 && t - since > cam->stale_after_ns;
        if (cs->status != VG_CAMERA_OK) {
            g = VG_GRADE_WARNING;
            value = cs->status;
        } else if (cs->stale) {
            g = VG_GRADE_WARNING;
        }
        if (g == cs->health.grade)
            continue;
        ev_init(&ev, VG_ALERT_CAMERA_HEALTH, cam->zones[0].zone, VG_SOURCE_CAMERA, c, value, NAN);
        if (g == VG_GRADE_CLEAR)
            ev.value = VG_CAMERA_OK;
        ev_add(&ev, cs->status_t, cs->status, VG_SOURCE_CAMERA, c, VG_READING_CAMERA_HEALTH);
        transition(a, &cs->health, g, t, &ev);
    }
}

/* Net crossings into zone z by its lines' totals (a line's in goes zone_from -> zone_to). */
static double line_net(const vg_analysis *a, uint32_t z)
{
    const vg_zone *zn = vg_model_zone(a->m, z);
    double occ = 0;

    for (uint32_t j = 0; j < zn->line_count; j++) {
        const vg_line *ln = vg_model_line(a->m, zn->lines[j]);
        const struct line_st *ls = &a->lines[zn->lines[j]];

        if (ln->zone_to == z)
            occ += ls->in_total - ls->out_total;
        if (ln->zone_from == z)
            occ += ls->out_total - ls->in_total;
    }
    return occ;
}

/* A zone check the limits in force no longer run (trend horizon 0, zone now open or
 * without capacity, mismatch off): its timers restart and an active alert clears, instead of
 * staying up with nothing left to lower it. */
static void zone_unchecked(vg_analysis *a, struct grader *gr, uint8_t kind, uint32_t z, int64_t t)
{
    vg_alert_event ev;

    for (int i = 0; i < VG_GRADE_COUNT; i++)
        gr->above_since[i] = NEVER;
    gr->below_since = NEVER;
    if (gr->a.grade == VG_GRADE_CLEAR)
        return;
    ev_init(&ev, kind, z, VG_SOURCE_ZONE, z, gr->a.value, NAN);
    snprintf(ev.message, sizeof(ev.message), "clear: %s in %s is no longer checked",
             vg_alert_kind_name((enum vg_alert_kind)kind), zone_name(a, z));
    transition(a, &gr->a, VG_GRADE_CLEAR, t, &ev);
}

static void eval_zone(vg_analysis *a, uint32_t z, int64_t t, uint32_t phase)
{
    const vg_zone *zn = vg_model_zone(a->m, z);
    const vg_zone_limits *lim = phase == VG_MODEL_NONE ? &zn->limits : &zn->phase_limits[phase];
    struct zone_st *zs = &a->zones[z];
    vg_zone_metrics *mt = &a->metrics[z];
    double pop = 0, cov = 0, sv = 0, svcov = 0, slope = 0, density = NAN, ttc = -1;
    double critical = lim->density.level[VG_GRADE_CRITICAL];
    uint32_t fresh = 0, flags = 0;
    uint8_t g;
    vg_alert_event ev;

    /* fused population: each camera's count extrapolated by its coverage, weighted by it */
    for (uint32_t k = 0; k < zs->slot_count; k++) {
        const struct cam_slot *s = &a->slots[a->zone_slots[zs->slot_first + k]];
        const vg_camera *cam = vg_model_camera(a->m, s->camera);
        int64_t fresh_ns =
            a->cfg.camera_fresh_ns > 0 ? a->cfg.camera_fresh_ns : cam->stale_after_ns;

        if (!camera_healthy(a, s->camera)) {
            flags |= VG_METRICS_UNRELIABLE;
            continue;
        }
        if (s->count_t != NEVER && (fresh_ns <= 0 || t - s->count_t <= fresh_ns)) {
            pop += s->count;
            cov += s->coverage;
            fresh++;
        } else {
            flags |= VG_METRICS_UNRELIABLE;
        }
        if (s->sv_t != NEVER && (fresh_ns <= 0 || t - s->sv_t <= fresh_ns)) {
            sv += s->speed_var * s->coverage;
            svcov += s->coverage;
        }
    }
    memset(mt, 0, sizeof(*mt));
    mt->t_ns = t;
    mt->zone = z;
    mt->cameras_fresh = (uint16_t)fresh;
    mt->cameras_total = (uint16_t)zs->slot_count;
    mt->population = mt->density_per_m2 = mt->occupancy = mt->flow_pmm = NAN;
    mt->trend_per_min = mt->pressure_per_s2 = mt->speed_var_m2_s2 = NAN;
    mt->ttc_s = -1;
    if (cov > 0) {
        mt->population = pop / cov;
        density = mt->population / zn->area_m2;
        mt->density_per_m2 = density;
        flags |= VG_METRICS_DENSITY;
        if (zs->trend_last_t == NEVER || t - zs->trend_last_t >= TREND_SAMPLE_NS) {
            zs->trend_s[zs->trend_pos] = (struct ev_sample){t, density};
            zs->trend_pos = (zs->trend_pos + 1) % TREND_CAP;
            if (zs->trend_n < TREND_CAP)
                zs->trend_n++;
            zs->trend_last_t = t;
        }
    }
    mt->los = vg_fruin_los(zn->type, density);
    if (zone_trend(a, zs, t, &slope)) {
        flags |= VG_METRICS_TREND;
        mt->trend_per_min = slope * 60.0;
        if (!isnan(density) && density >= critical)
            ttc = 0;
        else if (!isnan(density) && slope > 1e-9 && !isnan(critical))
            ttc = (critical - density) / slope;
    }
    mt->ttc_s = ttc;
    if (svcov > 0 && !isnan(density)) {
        mt->speed_var_m2_s2 = sv / svcov;
        mt->pressure_per_s2 = density * mt->speed_var_m2_s2;
        flags |= VG_METRICS_PRESSURE;
    }
    /* occupancy and flow from lines */
    if (zn->line_count > 0) {
        double occ = line_net(a, z), flow = NAN;

        for (uint32_t j = 0; j < zn->line_count; j++) {
            const struct line_st *ls = &a->lines[zn->lines[j]];

            if (!isnan(ls->flow_pmm) && !(ls->flow_pmm <= flow))
                flow = ls->flow_pmm;
        }
        if (!isnan(flow)) {
            mt->flow_pmm = flow;
            flags |= VG_METRICS_FLOW;
        }
        if (zs->closed) {
            /* lines start counting when the engine does: seed them from the cameras'
             * first population so a mid-event start is not a mismatch */
            if (!zs->occ_seeded && !isnan(mt->population)) {
                zs->occ_offset = mt->population - occ;
                zs->occ_seeded = true;
            }
            mt->occupancy = occ + zs->occ_offset;
            flags |= VG_METRICS_OCCUPANCY;
        }
    }
    mt->flags = flags;

    /* density */
    if (graded(a, &zs->density, &lim->density, density, t, zn->profile, &g)) {
        ev_init(&ev, VG_ALERT_DENSITY, z, VG_SOURCE_ZONE, z, density,
                event_threshold(&lim->density, zs->density.a.grade, g));
        ev.trend_per_min = mt->trend_per_min;
        ev.ttc_s = ttc;
        if (flags & VG_METRICS_UNRELIABLE)
            ev.flags |= VG_ALERT_F_UNRELIABLE;
        add_camera_evidence(a, zs, &ev, false);
        transition(a, &zs->density.a, g, t, &ev);
    }
    mt->grade = zs->density.a.grade;

    /* trend to critical: graded on -ttc so that "sooner" is "higher" */
    if (lim->ttc_horizon_ns > 0 && !isnan(density)) {
        vg_limit tl;
        double h = (double)lim->ttc_horizon_ns / NS_PER_S;
        double u = ttc >= 0 ? -ttc : -INFINITY;

        for (int i = 0; i < VG_GRADE_COUNT; i++)
            tl.level[i] = NAN;
        tl.level[VG_GRADE_WARNING] = -h;
        tl.deadband = 0.1 * h;
        tl.on_delay_ns = 0;
        tl.off_delay_ns = lim->density.off_delay_ns;
        if (graded(a, &zs->trend, &tl, u, t, zn->profile, &g)) {
            ev_init(&ev, VG_ALERT_TREND_TO_CRITICAL, z, VG_SOURCE_ZONE, z, ttc,
                    g == VG_GRADE_CLEAR ? h * 1.1 : h);
            ev.trend_per_min = mt->trend_per_min;
            ev.ttc_s = ttc;
            add_camera_evidence(a, zs, &ev, false);
            transition(a, &zs->trend.a, g, t, &ev);
        }
    } else if (lim->ttc_horizon_ns <= 0) {
        zone_unchecked(a, &zs->trend, VG_ALERT_TREND_TO_CRITICAL, z, t);
    }

    /* crowd pressure */
    if (graded(a, &zs->pressure, &lim->pressure, mt->pressure_per_s2, t, zn->profile, &g)) {
        ev_init(&ev, VG_ALERT_PRESSURE, z, VG_SOURCE_ZONE, z, mt->pressure_per_s2,
                event_threshold(&lim->pressure, zs->pressure.a.grade, g));
        ev.trend_per_min = mt->trend_per_min;
        ev.ttc_s = ttc;
        add_camera_evidence(a, zs, &ev, true);
        transition(a, &zs->pressure.a, g, t, &ev);
    }

    if (!(flags & VG_METRICS_OCCUPANCY)) { /* not closed (any more): no line occupancy */
        zone_unchecked(a, &zs->occupancy, VG_ALERT_OCCUPANCY, z, t);
        zone_unchecked(a, &zs->mismatch, VG_ALERT_OCCUPANCY_MISMATCH, z, t);
        return;
    }
    /* occupancy against capacity, from lines */
    if (zn->capacity <= 0)
        zone_unchecked(a, &zs->occupancy, VG_ALERT_OCCUPANCY, z, t);
    else if (graded(a, &zs->occupancy, &lim->occupancy, mt->occupancy / zn->capacity, t,
                    zn->profile, &g)) {
        ev_init(&ev, VG_ALERT_OCCUPANCY, z, VG_SOURCE_ZONE, z, mt->occupancy / zn->capacity,
                event_threshold(&lim->occupancy, zs->occupancy.a.grade, g));
        for (uint32_t j = 0; j < zn->line_count; j++) {
            const struct line_st *ls = &a->lines[zn->lines[j]];

            ev_add(&ev, ls->last_t, ls->in_total - ls->out_total, VG_SOURCE_LINE, zn->lines[j],
                   VG_READING_LINE);
        }
        transition(a, &zs->occupancy.a, g, t, &ev);
    }
    /* lines against cameras: a miscounting camera or a dead counter */
    if ((lim->mismatch_fraction > 0 || lim->mismatch_min > 0) && !isnan(mt->population)) {
        double diff = fabs(mt->occupancy - mt->population);
        double allowed = fmax(lim->mismatch_min, lim->mismatch_fraction * mt->population);
        vg_limit ml;

        for (int i = 0; i < VG_GRADE_COUNT; i++)
            ml.level[i] = NAN;
        ml.level[VG_GRADE_WARNING] = 0;
        ml.deadband = 0;
        ml.on_delay_ns = lim->mismatch_delay_ns;
        ml.off_delay_ns = lim->mismatch_delay_ns;
        /* graded on the excess over the allowed difference */
        if (graded(a, &zs->mismatch, &ml, diff > allowed ? diff - allowed : -1.0, t, zn->profile,
                   &g)) {
            ev_init(&ev, VG_ALERT_OCCUPANCY_MISMATCH, z, VG_SOURCE_ZONE, z, diff, allowed);
            ev_add(&ev, t, mt->occupancy, VG_SOURCE_ZONE, z, VG_READING_LINE);
            add_camera_evidence(a, zs, &ev, false);
            transition(a, &zs->mismatch.a, g, t, &ev);
        }
    } else if (lim->mismatch_fraction <= 0 && lim->mismatch_min <= 0) {
        zone_unchecked(a, &zs->mismatch, VG_ALERT_OCCUPANCY_MISMATCH, z, t);
    }
}

/* Flow of a line over the current and the previous window: crossings in the last w whole
 * seconds (and the w before), per metre of width, per minute. */
static void line_flow(vg_analysis *a, uint32_t li, int64_t t)
{
    const vg_line *ln = vg_model_line(a->m, li);
    struct line_st *ls = &a->lines[li];
    int64_t now_s = t / NS_PER_S - (t % NS_PER_S < 0);
    int64_t w = a->cfg.flow_window_ns / NS_PER_S;
    double sum = 0, prev = 0;

    for (int b = 0; b < FLOW_BUCKETS; b++) {
        int64_t sec = ls->bucket_s[b];

        if (sec == NEVER || sec > now_s || sec <= now_s - 2 * w)
            continue;
        if (sec > now_s - w)
            sum += ls->bucket[b];
        else
            prev += ls->bucket[b];
    }
    ls->flow_pmm = ls->last_t == NEVER ? NAN : sum / ln->width_m / ((double)w / 60.0);
    ls->flow_prev_pmm = ls->last_t == NEVER ? NAN : prev / ln->width_m / ((double)w / 60.0);
}

/* Grades a line's flow. DESIGN's critical sign besides >= 100 % of the reference: "flow
 * falling while density rises". It starts when the flow drops to JAM_DROP of a substantial
 * (>= advisory) flow one window earlier while the zone upstream (the side people come from,
 * by the line's totals) is at advisory density or more and rising; it lasts while that
 * density keeps rising and the flow stays under JAM_RECOVER of where it was. While it lasts
 * the flow is graded as at its critical level, so the on-delay still applies. */
static void grade_line(vg_analysis *a, uint32_t li, int64_t t, uint32_t phase)
{
    const vg_line *ln = vg_model_line(a->m, li);
    struct line_st *ls = &a->lines[li];
    uint32_t up = ls->in_total >= ls->out_total ? ln->zone_from : ln->zone_to;
    double crit = ln->flow.level[VG_GRADE_CRITICAL], v = ls->flow_pmm;
    uint8_t g;
    vg_alert_event ev;

    if (up < a->nz && !isnan(crit) && !isnan(v)) {
        const vg_zone *zn = vg_model_zone(a->m, up);
        const vg_zone_limits *zl = phase == VG_MODEL_NONE ? &zn->limits : &zn->phase_limits[phase];
        const vg_zone_metrics *um = &a->metrics[up];
        bool rising = (um->flags & VG_METRICS_TREND) && um->trend_per_min >= JAM_TREND_PER_MIN &&
                      um->density_per_m2 >= zl->density.level[VG_GRADE_ADVISORY];

        if (!ls->jam && rising && ls->flow_prev_pmm >= ln->flow.level[VG_GRADE_ADVISORY] &&
            v <= JAM_DROP * ls->flow_prev_pmm) {
            ls->jam = true;
            ls->jam_ref_pmm = ls->flow_prev_pmm;
        } else if (ls->jam && (!rising || v >= JAM_RECOVER * ls->jam_ref_pmm)) {
            ls->jam = false;
        }
    } else {
        ls->jam = false;
    }
    if (ls->jam && v < crit)
        v = crit;
    if (graded(a, &ls->flow, &ln->flow, v, t, ln->profile, &g)) {
        ev_init(&ev, VG_ALERT_FLOW, ln->zone_to, VG_SOURCE_LINE, li, ls->flow_pmm,
                event_threshold(&ln->flow, ls->flow.a.grade, g));
        if (ls->jam && g != VG_GRADE_CLEAR && ls->flow_pmm < crit)
            snprintf(ev.message, sizeof(ev.message),
                     "%s: flow across %s fell from %.1f to %.1f p/m/min while density rises "
                     "in %s",
                     vg_grade_name((enum vg_grade)g), ln->id, ls->jam_ref_pmm, ls->flow_pmm,
                     zone_name(a, up));
        ev_add_ring(&ev, ls->ev, ls->ev_n, VG_SOURCE_LINE, li, VG_READING_LINE);
        transition(a, &ls->flow.a, g, t, &ev);
    }
}

static void sensor_simple(vg_analysis *a, struct alert *al, uint8_t kind, uint32_t s,
                          const struct sensor_st *ss, uint8_t g, double value, double thr,
                          int64_t t)
{
    vg_alert_event ev;

    if (g == al->grade)
        return;
    ev_init(&ev, kind, vg_model_sensor(a->m, s)->zone, VG_SOURCE_SENSOR, s, value, thr);
    ev_add_ring(&ev, ss->ev, ss->ev_n, VG_SOURCE_SENSOR, s, VG_READING_SENSOR);
    transition(a, al, g, t, &ev);
}

static void eval_sensor(vg_analysis *a, uint32_t s, int64_t t)
{
    const vg_sensor *sn = vg_model_sensor(a->m, s);
    struct sensor_st *ss = &a->sensors[s];
    /* never silent for longer than the core has run: a reading from before the first
     * watermark (a lagging clock at start) does not make the sensor stale at once */
    int64_t since = ss->heard_t != NEVER && ss->heard_t > a->start_t ? ss->heard_t : a->start_t;
    bool stale = sn->stale_after_ns > 0 && t - since > sn->stale_after_ns;
    double v;
    uint8_t g;

    sensor_simple(a, &ss->stale, VG_ALERT_SENSOR_STALE, s, ss,
                  stale ? VG_GRADE_WARNING : VG_GRADE_CLEAR, (double)(t - since) / NS_PER_S,
                  (double)sn->stale_after_ns / NS_PER_S, t);
    /* stuck: the same value over readings spanning stuck_after (silence is "stale") */
    {
        bool stuck = sn->stuck_after_ns > 0 && ss->last_t != NEVER &&
                     ss->last_t - ss->flat_since >= sn->stuck_after_ns;

        sensor_simple(a, &ss->stuck, VG_ALERT_SENSOR_STUCK, s, ss,
                      stuck ? VG_GRADE_ADVISORY : VG_GRADE_CLEAR,
                      ss->last_t == NEVER ? 0.0 : (double)(ss->last_t - ss->flat_since) / NS_PER_S,
                      (double)sn->stuck_after_ns / NS_PER_S, t);
    }
    if ((ss->oor_t != NEVER) != (ss->range.grade != VG_GRADE_CLEAR)) {
        bool oor = ss->oor_t != NEVER;
        double v2 = oor ? ss->oor_value : ss->value;
        double thr = oor ? (ss->oor_value < sn->min ? sn->min : sn->max) : NAN;
        vg_alert_event ev;

        ev_init(&ev, VG_ALERT_SENSOR_RANGE, sn->zone, VG_SOURCE_SENSOR, s, v2, thr);
        if (oor)
            ev_add(&ev, ss->oor_t, ss->oor_value, VG_SOURCE_SENSOR, s, VG_READING_SENSOR);
        ev_add_ring(&ev, ss->ev, ss->ev_n, VG_SOURCE_SENSOR, s, VG_READING_SENSOR);
        transition(a, &ss->range, oor ? VG_GRADE_WARNING : VG_GRADE_CLEAR, t, &ev);
    }
    /* static limit on the latest value; a stale value is not graded (held) */
    v = stale ? NAN : ss->value;
    if (graded(a, &ss->limit, &sn->limit, v, t, sn->profile, &g)) {
        vg_alert_event ev;

        ev_init(&ev, (uint8_t)vg_sensor_kind_alert(sn->kind), sn->zone, VG_SOURCE_SENSOR, s,
                ss->value, event_threshold(&sn->limit, ss->limit.a.grade, g));
        ev_add_ring(&ev, ss->ev, ss->ev_n, VG_SOURCE_SENSOR, s, VG_READING_SENSOR);
        transition(a, &ss->limit.a, g, t, &ev);
    }
    if (ss->det) {
        bool on = ss->anomaly_t != NEVER && t - ss->anomaly_t < a->cfg.anomaly_hold_ns;

        sensor_simple(
            a, &ss->anomaly, VG_ALERT_ANOMALY, s, ss, on ? VG_GRADE_ADVISORY : VG_GRADE_CLEAR,
            ss->anomaly_t != NEVER ? ss->anomaly_value : NAN, vg_detector_threshold(ss->det), t);
    }
}

static double median(double *v, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) /* n <= DISAGREE_PEERS_MAX: insertion sort */
        for (uint32_t j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double x = v[j];

            v[j] = v[j - 1];
            v[j - 1] = x;
        }
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static bool sensor_fresh(const vg_analysis *a, uint32_t s, int64_t t)
{
    const vg_sensor *sn = vg_model_sensor(a->m, s);
    const struct sensor_st *ss = &a->sensors[s];

    return ss->heard_t != NEVER &&
           (sn->stale_after_ns <= 0 || t - ss->heard_t <= sn->stale_after_ns);
}

/* A sensor off the median of its peers (same kind, same or neighbouring zone; at least two
 * fresh) by more than max(the kind's floor, 3 scaled MADs of the peers) for
 * DISAGREE_DELAY_NS is sensor_disagree (advisory, technical); it clears once it agrees.
 * Two peers that disagree with each other widen the tolerance, so one good sensor is not
 * blamed for a bad neighbour. */
static void eval_disagree(vg_analysis *a, int64_t t)
{
    double vals[DISAGREE_PEERS_MAX], dev[DISAGREE_PEERS_MAX];

    for (uint32_t s = 0; s < a->ns; s++) {
        struct sensor_st *ss = &a->sensors[s];
        const vg_sensor *sn = vg_model_sensor(a->m, s);
        uint32_t n = 0;
        double m, mad, tol, d;
        vg_alert_event ev;

        if (ss->peer_count < 2 && ss->disagree.grade != VG_GRADE_CLEAR) {
            /* a reload left it without peers (or made it a kind not checked): nothing to
             * disagree with, so the alert ends rather than stay up for good */
            ev_init(&ev, VG_ALERT_SENSOR_DISAGREE, sn->zone, VG_SOURCE_SENSOR, s, ss->value, NAN);
            ev_add(&ev, ss->last_t, ss->value, VG_SOURCE_SENSOR, s, VG_READING_SENSOR);
            snprintf(ev.message, sizeof(ev.message), "clear: sensor %s has no peers to compare",
                     sn->id);
            ss->disagree_since = NEVER;
            transition(a, &ss->disagree, VG_GRADE_CLEAR, t, &ev);
        }
        if (ss->peer_count < 2 || !sensor_fresh(a, s, t))
            continue;
        for (uint32_t k = 0; k < ss->peer_count; k++) {
            uint32_t p = a->peers[ss->peer_first + k];

            if (sensor_fresh(a, p, t))
                vals[n++] = a->sensors[p].value;
        }
        if (n < 2)
            continue; /* not enough to judge: hold */
        m = median(vals, n);
        for (uint32_t k = 0; k < n; k++)
            dev[k] = fabs(vals[k] - m);
        mad = median(dev, n);
        tol = fmax(disagree_floor[sn->kind], 3.0 * 1.4826 * mad);
        d = fabs(ss->value - m);
        if (d <= tol) {
            ss->disagree_since = NEVER;
            if (ss->disagree.grade == VG_GRADE_CLEAR)
                continue;
        } else {
            if (ss->disagree_since == NEVER)
                ss->disagree_since = t;
            if (ss->disagree.grade != VG_GRADE_CLEAR || t - ss->disagree_since < DISAGREE_DELAY_NS)
                continue;
        }
        ev_init(&ev, VG_ALERT_SENSOR_DISAGREE, sn->zone, VG_SOURCE_SENSOR, s, ss->value, tol);
        ev_add(&ev, ss->last_t, ss->value, VG_SOURCE_SENSOR, s, VG_READING_SENSOR);
        for (uint32_t k = 0; k < ss->peer_count; k++) {
            uint32_t p = a->peers[ss->peer_first + k];

            if (sensor_fresh(a, p, t))
                ev_add(&ev, a->sensors[p].last_t, a->sensors[p].value, VG_SOURCE_SENSOR, p,
                       VG_READING_SENSOR);
        }
        snprintf(ev.message, sizeof(ev.message),
                 "%s: sensor %s reads %g %s, its %u peers %g "
                 "(allowed +-%g)",
                 vg_grade_name(d > tol ? VG_GRADE_ADVISORY : VG_GRADE_CLEAR), sn->id, ss->value,
                 sn->unit ? sn->unit : "", n, m, tol);
        transition(a, &ss->disagree, d > tol ? VG_GRADE_ADVISORY : VG_GRADE_CLEAR, t, &ev);
    }
}

static void eval_help(vg_analysis *a, int64_t t)
{
    for (uint32_t h = 0; h < a->nh; h++) {
        struct help_st *hs = &a->help[h];

        for (int k = 0; k < VG_HELP_TYPE_COUNT; k++) {
            vg_alert_event ev;

            if (hs->alert[k].grade == VG_GRADE_CLEAR ||
                t - hs->last_press[k] < a->cfg.help_rearm_ns)
                continue;
            ev_init(&ev, (uint8_t)(VG_ALERT_HELP_MEDICAL + k), vg_model_help_point(a->m, h)->zone,
                    VG_SOURCE_HELP_POINT, h, 0.0, 1.0);
            ev.flags = VG_ALERT_F_LATCHED;
            ev_add(&ev, hs->last_press[k], 1.0, VG_SOURCE_HELP_POINT, h, VG_READING_HELP);
            transition(a, &hs->alert[k], VG_GRADE_CLEAR, t, &ev);
        }
    }
}

int vg_analysis_tick(vg_analysis *a, int64_t t_ns)
{
    int64_t e;
    uint32_t phase;

    if (!a || (a->last_tick != NEVER && t_ns < a->last_tick) ||
        t_ns < INT64_MIN + a->cfg.lateness_ns + 1)
        return -EINVAL;
    a->last_tick = t_ns;
    e = t_ns - a->cfg.lateness_ns;
    if (a->start_t == NEVER)
        a->start_t = e;
    apply_pending(a, e, UINT32_MAX);
    if (e > a->floor_t)
        a->floor_t = e;
    a->stats.ticks++;
    a->stats.watermark_ns = e;

    phase = vg_model_phase_at(a->m, e);
    eval_cameras(a, e);
    for (uint32_t l = 0; l < a->nl; l++)
        line_flow(a, l, e);
    for (uint32_t z = 0; z < a->nz; z++)
        eval_zone(a, z, e, phase);
    for (uint32_t l = 0; l < a->nl; l++)
        grade_line(a, l, e, phase);
    for (uint32_t s = 0; s < a->ns; s++)
        eval_sensor(a, s, e);
    {
        int64_t slot = e / DISAGREE_EVERY_NS - (e % DISAGREE_EVERY_NS < 0);

        if (slot != a->disagree_slot) {
            a->disagree_slot = slot;
            eval_disagree(a, e);
        }
    }
    eval_help(a, e);
    if (a->cfg.sink.on_metrics)
        a->cfg.sink.on_metrics(a->cfg.sink.ctx, e, a->metrics, a->nz);
    return 0;
}

/* ---------------------------------------------------------------- reload */

static uint32_t count_active(const vg_analysis *a)
{
    uint32_t n = 0;

    for (uint32_t z = 0; z < a->nz; z++) {
        const struct zone_st *zs = &a->zones[z];

        n += (zs->density.a.grade != 0) + (zs->trend.a.grade != 0) + (zs->pressure.a.grade != 0) +
             (zs->occupancy.a.grade != 0) + (zs->mismatch.a.grade != 0);
    }
    for (uint32_t l = 0; l < a->nl; l++)
        n += a->lines[l].flow.a.grade != 0;
    for (uint32_t s = 0; s < a->ns; s++) {
        const struct sensor_st *ss = &a->sensors[s];

        n += (ss->limit.a.grade != 0) + (ss->stale.grade != 0) + (ss->stuck.grade != 0) +
             (ss->range.grade != 0) + (ss->anomaly.grade != 0) + (ss->disagree.grade != 0);
    }
    for (uint32_t c = 0; c < a->nc; c++)
        n += a->cams[c].health.grade != 0;
    for (uint32_t h = 0; h < a->nh; h++)
        for (int k = 0; k < VG_HELP_TYPE_COUNT; k++)
            n += a->help[h].alert[k].grade != 0;
    return n;
}

/* Index in model `to` of object `idx` of model `from`, by id; VG_MODEL_NONE when gone. */
static uint32_t map_zone(const vg_model *from, const vg_model *to, uint32_t idx)
{
    const vg_zone *z = vg_model_zone(from, idx);
    uint32_t r;

    return z && vg_model_find_zone(to, z->id, &r) == 0 ? r : VG_MODEL_NONE;
}

/* Re-indexes a buffered reading from a's model to model m; false when its subject is gone
 * (*ret_why says which). */
static bool remap_reading(const vg_model *from, const vg_model *to, vg_reading *r,
                          enum vg_reject *ret_why)
{
    uint32_t idx, slot;

    switch (r->type) {
    case VG_READING_SENSOR: {
        const vg_sensor *s = vg_model_sensor(from, r->source);

        *ret_why = VG_REJECT_UNKNOWN_SENSOR;
        if (vg_model_find_sensor(to, s->id, &idx) < 0)
            return false;
        r->source = idx;
        *ret_why = VG_REJECT_OUT_OF_RANGE;
        return vg_reading_check(to, r) == VG_REJECT_NONE;
    }
    case VG_READING_LINE:
        *ret_why = VG_REJECT_UNKNOWN_LINE;
        if (vg_model_find_line(to, vg_model_line(from, r->source)->id, &idx) < 0)
            return false;
        r->source = idx;
        return true;
    default: /* camera readings */
        *ret_why = VG_REJECT_UNKNOWN_CAMERA;
        if (vg_model_find_camera(to, vg_model_camera(from, r->source)->id, &idx) < 0)
            return false;
        r->source = idx;
        if (r->type == VG_READING_CAMERA_HEALTH)
            return true;
        *ret_why = VG_REJECT_UNKNOWN_ZONE;
        r->zone = map_zone(from, to, r->zone);
        return r->zone != VG_MODEL_NONE &&
               vg_model_camera_zone_slot(to, r->source, r->zone, &slot) == 0;
    }
}

/* A sensor whose kind changed: its limit alert was raised under the old kind's alert kind
 * (the alert layer's key) and levels, so it is cleared now, in the old model's terms, and
 * the new kind's limit grades from scratch. */
static void retire_limit(vg_analysis *a, uint32_t s, enum vg_sensor_kind to)
{
    const vg_sensor *sn = vg_model_sensor(a->m, s);
    struct sensor_st *ss = &a->sensors[s];
    vg_alert_event ev;

    if (ss->limit.a.grade != VG_GRADE_CLEAR) {
        ev_init(&ev, (uint8_t)vg_sensor_kind_alert(sn->kind), sn->zone, VG_SOURCE_SENSOR, s,
                ss->value, NAN);
        ev_add_ring(&ev, ss->ev, ss->ev_n, VG_SOURCE_SENSOR, s, VG_READING_SENSOR);
        snprintf(ev.message, sizeof(ev.message),
                 "clear: sensor %s changed kind to %s; its %s limit no longer applies", sn->id,
                 vg_sensor_kind_name(to), vg_sensor_kind_name(sn->kind));
        transition(a, &ss->limit.a, VG_GRADE_CLEAR, a->stats.watermark_ns, &ev);
    }
    grader_init(&ss->limit);
}

int vg_analysis_reload(vg_analysis *a, const vg_model *m)
{
    vg_analysis *b = NULL, tmp;
    const vg_model *om;
    uint32_t o;
    int r;

    if (!a || !m)
        return -EINVAL;
    r = vg_analysis_new(m, &a->cfg, &b);
    if (r < 0)
        return r;
    om = a->m;
    for (uint32_t l = 0; l < b->nl; l++) /* before the zones: their occupancy uses them */
        if (vg_model_find_line(om, vg_model_line(m, l)->id, &o) == 0)
            b->lines[l] = a->lines[o];
    for (uint32_t z = 0; z < b->nz; z++) {
        struct zone_st *nz = &b->zones[z];
        uint32_t first = nz->slot_first, cnt = nz->slot_count;
        bool closed = nz->closed;

        if ((o = map_zone(m, om, z)) == VG_MODEL_NONE)
            continue;
        *nz = a->zones[o];
        nz->slot_first = first;
        nz->slot_count = cnt;
        nz->closed = closed;
        /* line occupancy goes on from where it was, whatever lines were added, removed or
         * turned; a zone that was not closed had none: it is seeded again */
        if (a->zones[o].closed)
            nz->occ_offset += line_net(a, o) - line_net(b, z);
        else
            nz->occ_seeded = false;
        b->metrics[z] = a->metrics[o];
        b->metrics[z].zone = z;
    }
    for (uint32_t c = 0; c < b->nc; c++) {
        const vg_camera *cam = vg_model_camera(m, c);
        struct camera_st *nc = &b->cams[c];
        uint32_t slot0 = nc->slot0;

        if (vg_model_find_camera(om, cam->id, &o) < 0)
            continue;
        *nc = a->cams[o];
        nc->slot0 = slot0;
        for (uint32_t j = 0; j < cam->zone_count; j++) {
            struct cam_slot *ns = &b->slots[slot0 + j];
            uint32_t oz = map_zone(m, om, ns->zone), oslot;

            if (oz == VG_MODEL_NONE || vg_model_camera_zone_slot(om, o, oz, &oslot) < 0)
                continue;
            const struct cam_slot *os = &a->slots[a->cams[o].slot0 + oslot];
            ns->count_t = os->count_t;
            ns->count_pushed_t = os->count_pushed_t;
            ns->sv_t = os->sv_t;
            ns->sv_pushed_t = os->sv_pushed_t;
            ns->count = os->count;
            ns->speed_var = os->speed_var;
        }
    }
    for (uint32_t s = 0; s < b->ns; s++) {
        const vg_sensor *ns = vg_model_sensor(m, s), *os;
        vg_detector *fresh;
        uint32_t pf, pc;

        if (vg_model_find_sensor(om, ns->id, &o) < 0)
            continue;
        os = vg_model_sensor(om, o);
        if (os->kind != ns->kind)
            retire_limit(a, o, ns->kind);
        /* everything moves over (alerts, timers, value) but its place among the peers */
        fresh = b->sensors[s].det;
        pf = b->sensors[s].peer_first;
        pc = b->sensors[s].peer_count;
        b->sensors[s] = a->sensors[o];
        b->sensors[s].peer_first = pf;
        b->sensors[s].peer_count = pc;
        if (os->kind != ns->kind) {
            /* the last value (and its evidence) is in the old kind's terms, maybe its unit:
             * the new kind's limits grade only readings taken under it */
            struct sensor_st *bs = &b->sensors[s];
            bs->value = NAN;
            bs->ev_n = 0;
            bs->flat_since = bs->last_t;
            bs->oor_t = NEVER;
            bs->disagree_since = NEVER;
        }
        /* the learned detector too, unless the sensor is of a new kind: then it takes the
         * fresh one, and the old one is freed with the old state. A new sensitivity moves
         * only the threshold, so a retuned sensor keeps what it learned. */
        if (!b->cfg.anomaly || !b->sensors[s].det || os->kind != ns->kind) {
            b->sensors[s].det = fresh;
            continue;
        }
        vg_detector_set_sensitivity(b->sensors[s].det, sensor_sensitivity(ns));
        a->sensors[o].det = fresh;
    }
    for (uint32_t h = 0; h < b->nh; h++)
        if (vg_model_find_help_point(om, vg_model_help_point(m, h)->id, &o) == 0)
            b->help[h] = a->help[o];
    /* the buffer, re-indexed in order (it stays sorted or not as it was) */
    for (uint32_t i = 0; i < a->npend; i++) {
        vg_reading rr = a->pend[i];
        enum vg_reject why;

        if (!remap_reading(om, m, &rr, &why)) {
            a->stats.rejected[why]++;
            if (a->cfg.sink.on_reject)
                a->cfg.sink.on_reject(a->cfg.sink.ctx, &a->pend[i], why);
            continue;
        }
        b->pend[b->npend++] = rr;
    }
    b->pend_sorted = a->pend_sorted;
    b->pend_last_t = a->pend_last_t;
    b->stats = a->stats;
    b->floor_t = a->floor_t;
    b->last_tick = a->last_tick;
    b->start_t = a->start_t;
    b->next_id = a->next_id;
    b->seq = a->seq;
    b->disagree_slot = a->disagree_slot;
    b->active = count_active(b);
    /* swap bodies so the caller's handle stays valid; free the old state */
    tmp = *a;
    *a = *b;
    *b = tmp;
    vg_analysis_free(&b);
    return 0;
}

/* ---------------------------------------------------------------- queries */

int vg_analysis_get_stats(const vg_analysis *a, vg_analysis_stats *ret_stats)
{
    if (!a || !ret_stats)
        return -EINVAL;
    *ret_stats = a->stats;
    ret_stats->pending = a->npend;
    ret_stats->active_alerts = a->active;
    return 0;
}

const vg_zone_metrics *vg_analysis_zone_metrics(const vg_analysis *a, uint32_t zone)
{
    if (!a || zone >= a->nz)
        return NULL;
    return &a->metrics[zone];
}

static void snapshot_one(const vg_analysis *a, const struct alert *al, uint8_t kind, uint32_t zone,
                         uint8_t source_type, uint32_t source, uint32_t flags,
                         void (*fn)(void *ctx, const vg_alert_event *ev), void *ctx)
{
    vg_alert_event ev;

    if (al->grade == VG_GRADE_CLEAR)
        return;
    ev_init(&ev, kind, zone, source_type, source, al->value, al->threshold);
    ev.id = al->id;
    ev.seq = a->seq;
    ev.t_ns = al->changed_ns;
    ev.raised_ns = al->raised_ns;
    ev.action = al->raised_ns == al->changed_ns ? VG_ALERT_ACTION_RAISE : VG_ALERT_ACTION_CHANGE;
    ev.grade = al->grade;
    ev.prev_grade = al->grade;
    ev.feed = (uint8_t)vg_model_feed(a->m, (enum vg_alert_kind)kind);
    ev.flags = flags | life_safety(kind) | (al->chattering ? VG_ALERT_F_CHATTERING : 0);
    format_message(a, &ev);
    fn(ctx, &ev);
}

int vg_analysis_for_each_active(const vg_analysis *a,
                                void (*fn)(void *ctx, const vg_alert_event *ev), void *ctx)
{
    if (!a || !fn)
        return -EINVAL;
    for (uint32_t z = 0; z < a->nz; z++) {
        const struct zone_st *zs = &a->zones[z];

        snapshot_one(a, &zs->density.a, VG_ALERT_DENSITY, z, VG_SOURCE_ZONE, z, 0, fn, ctx);
        snapshot_one(a, &zs->trend.a, VG_ALERT_TREND_TO_CRITICAL, z, VG_SOURCE_ZONE, z, 0, fn, ctx);
        snapshot_one(a, &zs->pressure.a, VG_ALERT_PRESSURE, z, VG_SOURCE_ZONE, z, 0, fn, ctx);
        snapshot_one(a, &zs->occupancy.a, VG_ALERT_OCCUPANCY, z, VG_SOURCE_ZONE, z, 0, fn, ctx);
        snapshot_one(a, &zs->mismatch.a, VG_ALERT_OCCUPANCY_MISMATCH, z, VG_SOURCE_ZONE, z, 0, fn,
                     ctx);
    }
    for (uint32_t l = 0; l < a->nl; l++)
        snapshot_one(a, &a->lines[l].flow.a, VG_ALERT_FLOW, vg_model_line(a->m, l)->zone_to,
                     VG_SOURCE_LINE, l, 0, fn, ctx);
    for (uint32_t s = 0; s < a->ns; s++) {
        const struct sensor_st *ss = &a->sensors[s];
        const vg_sensor *sn = vg_model_sensor(a->m, s);

        snapshot_one(a, &ss->stale, VG_ALERT_SENSOR_STALE, sn->zone, VG_SOURCE_SENSOR, s, 0, fn,
                     ctx);
        snapshot_one(a, &ss->stuck, VG_ALERT_SENSOR_STUCK, sn->zone, VG_SOURCE_SENSOR, s, 0, fn,
                     ctx);
        snapshot_one(a, &ss->range, VG_ALERT_SENSOR_RANGE, sn->zone, VG_SOURCE_SENSOR, s, 0, fn,
                     ctx);
        snapshot_one(a, &ss->limit.a, (uint8_t)vg_sensor_kind_alert(sn->kind), sn->zone,
                     VG_SOURCE_SENSOR, s, 0, fn, ctx);
        snapshot_one(a, &ss->anomaly, VG_ALERT_ANOMALY, sn->zone, VG_SOURCE_SENSOR, s, 0, fn, ctx);
        snapshot_one(a, &ss->disagree, VG_ALERT_SENSOR_DISAGREE, sn->zone, VG_SOURCE_SENSOR, s, 0,
                     fn, ctx);
    }
    for (uint32_t c = 0; c < a->nc; c++)
        snapshot_one(a, &a->cams[c].health, VG_ALERT_CAMERA_HEALTH,
                     vg_model_camera(a->m, c)->zones[0].zone, VG_SOURCE_CAMERA, c, 0, fn, ctx);
    for (uint32_t h = 0; h < a->nh; h++)
        for (int k = 0; k < VG_HELP_TYPE_COUNT; k++)
            snapshot_one(a, &a->help[h].alert[k], (uint8_t)(VG_ALERT_HELP_MEDICAL + k),
                         vg_model_help_point(a->m, h)->zone, VG_SOURCE_HELP_POINT, h,
                         VG_ALERT_F_LATCHED, fn, ctx);
    return 0;
}

size_t vg_analysis_memory(const vg_analysis *a)
{
    return a ? a->bytes : 0;
}

size_t vg_analysis_memory_per_sensor(const vg_analysis *a)
{
    return a ? a->sensor_bytes : 0;
}
