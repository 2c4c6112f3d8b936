/* The alert lifecycle (ANSI/ISA-18.2): a pure state machine over analysis events, event-time
 * ticks and operator actions. No I/O, no clock, no locks; notes and audit records leave
 * through the sink.
 *
 * DESIGN
 * - One record per point (kind, subject type, subject index). Records sit in a dense array
 *   (a removal moves the last record into the hole), found through an open-addressing index
 *   of 32-bit slots with linear probing and backward-shift deletion, at most half full. So
 *   scans cost the number of alerts held, not the capacity. A removal invalidates record
 *   pointers: paths that remove re-find records by key afterwards.
 * - Timers: next_timer is a lower bound of every shelving expiry and escalation deadline;
 *   a tick before it does not scan at all.
 * - States: unack -> acked -> (condition clears) cleared; unack -> (clears) rtn_unack ->
 *   (ack) cleared. Latched kinds stop at "latched" instead of cleared and need a reset. A
 *   point out of service keeps a record in "normal" so it stays out of service.
 * - Hiding: shelved, suppressed, out of service and flood-held alerts are not annunciated.
 *   Transitions into and out of hiding are published; while hidden, grade changes are only
 *   tracked; the final "cleared" is published when the alert was ever published.
 * - Escalation: an unack alert at a grade with a deadline escalates deadline after it became
 *   unack at that grade, and re-alarms every deadline after that until acknowledged.
 * - Flood (EEMUA 191): the last flood_count raise times sit in a small ring; a flood is on
 *   while all of them are within the window. New advisory/warning alerts are then held and
 *   counted in a summary per (feed, sector); critical and emergency never are, nor alerts
 *   without a zone (the engine's own: no sector, and the operator must see them alone). */
#include "alert_priv.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S(x) ((int64_t)(x)*VG_NS_PER_S)
#define SUMMARY_ID_BIT (UINT64_C(1) << 63)

struct rec {
    uint64_t key;
    uint8_t cond;      /* the analysis condition is active */
    uint8_t announced; /* published at least once (so its clear must be too) */
    uint8_t latched;   /* life-safety kind (VG_ALERT_F_LATCHED seen) */
    vg_alert_info a;
};

struct vg_alert_core {
    const vg_model *m;
    vg_alert_policy p;
    vg_alert_sink sink;
    struct rec *recs; /* dense: recs[0..count-1] in use */
    uint32_t cap;     /* records allocated: max_alerts plus room for flood summaries */
    uint32_t *slots;  /* hash index: 0 empty, else record index + 1 */
    uint32_t mask;
    uint32_t count;     /* records in use, summaries included */
    int64_t next_timer; /* no shelving expiry or escalation before this event time */
    uint64_t untracked_open; /* untracked raises not yet seen clearing */
    uint32_t summaries; /* flood summary records in use */
    int64_t now;
    int64_t *flood_ts; /* ring of the last flood_count raise times */
    uint32_t flood_head, flood_n;
    int in_flood;
    uint64_t next_summary;
    vg_alert_core_stats st;
};

static const char *const state_names[VG_ALERT_STATE_COUNT] = {"normal",    "unack",   "acked",
                                                              "rtn_unack", "latched", "cleared"};
static const char *const reason_names[VG_ALERT_REASON_COUNT] = {
    "raise",      "change",         "rtn",        "ack",   "shelve",   "unshelve", "suppress",
    "unsuppress", "out_of_service", "in_service", "reset", "escalate", "flood",    "release",
    "removed"};
static const char *const op_names[VG_ALERT_OP_COUNT] = {
    "unknown",        "ack",        "shelve", "unshelve", "shelve_expired",
    "out_of_service", "in_service", "reset",  "escalate", "reload"};

const char *vg_alert_state_name(enum vg_alert_state s)
{
    return (unsigned)s < VG_ALERT_STATE_COUNT ? state_names[s] : "unknown";
}

const char *vg_alert_reason_name(enum vg_alert_reason r)
{
    return (unsigned)r < VG_ALERT_REASON_COUNT ? reason_names[r] : "unknown";
}

const char *vg_alert_op_name(enum vg_alert_op op)
{
    return (unsigned)op < VG_ALERT_OP_COUNT ? op_names[op] : "unknown";
}

const char *vg_alert_hide_name(enum vg_alert_hide h)
{
    switch (h) {
    case VG_ALERT_HIDE_SHELVED:
        return "shelved";
    case VG_ALERT_HIDE_SUPPRESSED:
        return "suppressed";
    case VG_ALERT_HIDE_OOS:
        return "out_of_service";
    case VG_ALERT_HIDE_HELD:
        return "flood_held";
    }
    return "unknown";
}

void vg_alert_policy_default(vg_alert_policy *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof(*p));
    p->escalate_ns[VG_GRADE_CRITICAL] = S(120);
    p->escalate_ns[VG_GRADE_EMERGENCY] = S(60);
    p->shelve_max_ns = S(8 * 3600);
    p->shelve_default_ns = S(30 * 60);
    p->flood_count = 10;
    p->flood_window_ns = S(600);
    p->max_alerts = 16384;
}

/* ---- table ---- */

static uint64_t point_key(unsigned kind, unsigned stype, uint32_t source)
{
    return ((uint64_t)kind << 40) | ((uint64_t)stype << 32) | source;
}

static uint32_t hash_key(uint64_t k)
{
    k ^= k >> 33;
    k *= UINT64_C(0xff51afd7ed558ccd);
    k ^= k >> 33;
    return (uint32_t)k;
}

static uint32_t *slot_of(const vg_alert_core *c, uint64_t key)
{
    for (uint32_t i = hash_key(key) & c->mask;; i = (i + 1) & c->mask) {
        uint32_t v = c->slots[i];
        if (!v || c->recs[v - 1].key == key)
            return &c->slots[i];
    }
}

static struct rec *tab_find(const vg_alert_core *c, uint64_t key)
{
    uint32_t v = *slot_of(c, key);
    return v ? &c->recs[v - 1] : NULL;
}

/* The caller checked there is room (count < cap). */
static struct rec *tab_insert(vg_alert_core *c, uint64_t key)
{
    struct rec *r = &c->recs[c->count];

    memset(r, 0, sizeof(*r));
    r->key = key;
    *slot_of(c, key) = ++c->count;
    return r;
}

static void tab_remove(vg_alert_core *c, struct rec *r)
{
    uint32_t idx = (uint32_t)(r - c->recs);
    uint32_t hole = (uint32_t)(slot_of(c, r->key) - c->slots);

    if (r->a.kind == VG_ALERT_FLOOD_SUMMARY && r->a.last.source_type == VG_SOURCE_NONE)
        c->summaries--;
    /* Backward-shift deletion: later slots of the probe run move up into the hole. */
    for (uint32_t j = (hole + 1) & c->mask; c->slots[j]; j = (j + 1) & c->mask) {
        uint32_t home = hash_key(c->recs[c->slots[j] - 1].key) & c->mask;
        /* j stays when its home lies cyclically in (hole, j]. */
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            c->slots[hole] = c->slots[j];
            hole = j;
        }
    }
    c->slots[hole] = 0;
    c->count--;
    if (idx != c->count) {
        c->recs[idx] = c->recs[c->count];
        *slot_of(c, c->recs[idx].key) = idx + 1;
    }
}

static struct rec *find_id(const vg_alert_core *c, uint64_t id)
{
    for (uint32_t i = 0; i < c->count; i++)
        if (c->recs[i].a.id == id)
            return &c->recs[i];
    return NULL;
}

static void timer_at(vg_alert_core *c, int64_t t_ns)
{
    if (t_ns && t_ns < c->next_timer)
        c->next_timer = t_ns;
}

/* ---- outputs ---- */

static void note(vg_alert_core *c, const vg_alert_info *a, enum vg_alert_reason why, int feed)
{
    vg_alert_note n = {.reason = (uint8_t)why, .feed = (uint8_t)feed, .alert = a};

    c->st.notes++;
    if (c->sink.on_note)
        c->sink.on_note(c->sink.ctx, &n);
}

static void publish(vg_alert_core *c, struct rec *r, enum vg_alert_reason why)
{
    r->announced = 1;
    note(c, &r->a, why, r->a.feed);
}

static void audit(vg_alert_core *c, const vg_alert_info *a, enum vg_alert_op op,
                  const vg_alert_actor *who)
{
    vg_alert_audit rec;

    if (!c->sink.on_audit)
        return;
    memset(&rec, 0, sizeof(rec));
    rec.t_ns = c->now;
    rec.op = (uint8_t)op;
    if (a) {
        rec.alert_id = a->id;
        rec.zone = a->last.zone;
        rec.kind = a->kind;
        rec.grade = a->grade;
        rec.state = a->state;
        if (op == VG_ALERT_OP_SHELVE)
            rec.until_ns = a->shelved_until_ns;
    } else {
        rec.zone = VG_MODEL_NONE;
    }
    if (who) {
        rec.wall_ns = who->wall_ns;
        vg_copy_text(rec.operator_id, sizeof(rec.operator_id), who->operator_id);
        vg_copy_text(rec.comment, sizeof(rec.comment), who->comment);
    } else {
        vg_copy_text(rec.operator_id, sizeof(rec.operator_id), "system");
    }
    c->sink.on_audit(c->sink.ctx, &rec);
}

/* ---- rules ---- */

static bool zone_kind_depends_on_cameras(unsigned kind)
{
    return kind == VG_ALERT_DENSITY || kind == VG_ALERT_TREND_TO_CRITICAL ||
           kind == VG_ALERT_PRESSURE;
}

/* Sensor alerts that mean nothing while the sensor itself is unhealthy. Smoke is left out
 * on purpose: a life-safety signal is never hidden by a health guess. */
static bool sensor_kind_depends_on_health(unsigned kind)
{
    return kind == VG_ALERT_WBGT || kind == VG_ALERT_CO2 || kind == VG_ALERT_NOISE ||
           kind == VG_ALERT_SENSOR_LIMIT || kind == VG_ALERT_ANOMALY;
}

static bool cause_active(const vg_alert_core *c, unsigned kind, unsigned stype, uint32_t src)
{
    const struct rec *r = tab_find(c, point_key(kind, stype, src));
    return r && r->cond;
}

static bool should_suppress(const vg_alert_core *c, const struct rec *r)
{
    const vg_alert_event *e = &r->a.last;

    if (e->source_type == VG_SOURCE_ZONE && zone_kind_depends_on_cameras(r->a.kind)) {
        const vg_zone *z = vg_model_zone(c->m, e->source);
        for (uint32_t i = 0; z && i < z->camera_count; i++)
            if (cause_active(c, VG_ALERT_CAMERA_HEALTH, VG_SOURCE_CAMERA, z->cameras[i]))
                return true;
    }
    if (e->source_type == VG_SOURCE_SENSOR && sensor_kind_depends_on_health(r->a.kind))
        return cause_active(c, VG_ALERT_SENSOR_STALE, VG_SOURCE_SENSOR, e->source) ||
               cause_active(c, VG_ALERT_SENSOR_STUCK, VG_SOURCE_SENSOR, e->source) ||
               cause_active(c, VG_ALERT_SENSOR_RANGE, VG_SOURCE_SENSOR, e->source);
    return false;
}

static void schedule_escalation(vg_alert_core *c, struct rec *r)
{
    int64_t d = r->a.grade < VG_GRADE_COUNT ? c->p.escalate_ns[r->a.grade] : 0;

    if (r->a.state == VG_ALERT_STATE_UNACK && (r->cond || r->latched) && d > 0) {
        r->a.next_escalation_ns = r->a.unack_since_ns + d;
        timer_at(c, r->a.next_escalation_ns);
    } else
        r->a.next_escalation_ns = 0;
}

static void summary_text(vg_alert_core *c, struct rec *s)
{
    const char *sector = vg_model_sector_name(c->m, s->a.sector);
    snprintf(s->a.last.message, sizeof(s->a.last.message),
             "alert flood: %u lower-grade %s alerts grouped in sector %s", s->a.held,
             vg_feed_name((enum vg_feed)s->a.feed), sector ? sector : "?");
}

/* An alert without a zone (the engine's own) has no sector: VG_MODEL_NONE, not sector 0. */
static uint32_t zone_sector(const vg_alert_core *c, uint32_t zone)
{
    const vg_zone *z = vg_model_zone(c->m, zone);
    return z ? z->sector : VG_MODEL_NONE;
}

/* The summary of r's (feed, sector), created when missing (NULL when the table is full, and
 * for no sector: there is no group to hold such an alert in). */
static struct rec *summary_for(vg_alert_core *c, unsigned feed, uint32_t sector, bool create)
{
    if (sector == VG_MODEL_NONE)
        return NULL;
    uint64_t key = point_key(VG_ALERT_FLOOD_SUMMARY, VG_SOURCE_NONE, sector * VG_FEED_COUNT + feed);
    struct rec *s = tab_find(c, key);

    if (s || !create || c->count >= c->cap)
        return s;
    s = tab_insert(c, key);
    c->summaries++;
    s->cond = 1;
    s->a.id = SUMMARY_ID_BIT | ++c->next_summary;
    s->a.activation = s->a.id;
    s->a.kind = VG_ALERT_FLOOD_SUMMARY;
    s->a.feed = (uint8_t)feed;
    s->a.sector = sector;
    s->a.state = VG_ALERT_STATE_UNACK;
    s->a.raised_ns = s->a.changed_ns = s->a.unack_since_ns = c->now;
    s->a.last.kind = VG_ALERT_FLOOD_SUMMARY;
    s->a.last.feed = (uint8_t)feed;
    s->a.last.zone = VG_MODEL_NONE;
    s->a.last.source = sector;
    s->a.last.source_type = VG_SOURCE_NONE;
    s->a.last.t_ns = c->now;
    s->a.last.raised_ns = c->now;
    s->a.last.ttc_s = -1;
    s->a.last.trend_per_min = s->a.last.threshold = 0.0 / 0.0;
    return s;
}

/* Changes a summary's count by delta and publishes it; removes it at zero (so this must be
 * the last use of any record pointer). */
static void summary_adjust(vg_alert_core *c, unsigned feed, uint32_t sector, int delta,
                           unsigned grade)
{
    struct rec *s = summary_for(c, feed, sector, delta > 0);

    if (!s)
        return;
    s->a.held = (uint32_t)((int64_t)s->a.held + delta);
    if (grade > s->a.grade) {
        s->a.grade = (uint8_t)grade;
        s->a.last.grade = (uint8_t)grade;
    }
    s->a.last.value = s->a.held;
    s->a.changed_ns = s->a.last.t_ns = c->now;
    summary_text(c, s);
    if (s->a.held == 0) {
        s->a.state = VG_ALERT_STATE_CLEARED;
        publish(c, s, VG_ALERT_REASON_FLOOD);
        tab_remove(c, s);
        return;
    }
    publish(c, s, VG_ALERT_REASON_FLOOD);
}

/* Takes r out of its flood group (it stays a normal record). */
static void unhold(vg_alert_core *c, struct rec *r)
{
    unsigned feed = r->a.feed;
    uint32_t sector = r->a.sector;

    r->a.hide &= ~(uint32_t)VG_ALERT_HIDE_HELD;
    summary_adjust(c, feed, sector, -1, 0);
}

/* Drops a record for good: publishes "cleared" when it had been published, updates its flood
 * group. r is invalid afterwards. */
static void drop(vg_alert_core *c, struct rec *r, enum vg_alert_reason why)
{
    bool held = r->a.hide & VG_ALERT_HIDE_HELD;
    unsigned feed = r->a.feed;
    uint32_t sector = r->a.sector;

    r->a.state = VG_ALERT_STATE_CLEARED;
    if (why != VG_ALERT_REASON_RTN) /* a return to normal keeps its event's time (on_clear) */
        r->a.changed_ns = c->now;
    r->a.next_escalation_ns = 0;
    if (r->announced)
        publish(c, r, why);
    tab_remove(c, r);
    if (held)
        summary_adjust(c, feed, sector, -1, 0);
}

static uint32_t flood_in_window(const vg_alert_core *c)
{
    uint32_t n = 0;
    uint32_t cap = c->p.flood_count;

    for (uint32_t i = 0; i < c->flood_n; i++) {
        int64_t t = c->flood_ts[(c->flood_head + cap - 1 - i) % cap];
        if (t > c->now - c->p.flood_window_ns)
            n++;
    }
    return n;
}

static void flood_count_raise(vg_alert_core *c)
{
    uint32_t cap = c->p.flood_count;

    c->flood_ts[c->flood_head] = c->now;
    c->flood_head = (c->flood_head + 1) % cap;
    if (c->flood_n < cap)
        c->flood_n++;
    if (!c->in_flood && flood_in_window(c) >= cap) {
        c->in_flood = 1;
        c->st.floods++;
    }
}

static void flood_end(vg_alert_core *c)
{
    c->in_flood = 0;
    /* Release each held alert; removing the last member of a group removes its summary, so
     * rescan from the start after each release (floods are rare, tables small). */
    for (;;) {
        struct rec *r = NULL;
        for (uint32_t i = 0; i < c->count && !r; i++)
            if (c->recs[i].a.hide & VG_ALERT_HIDE_HELD)
                r = &c->recs[i];
        if (!r)
            break;
        uint64_t key = r->key;
        unhold(c, r);
        r = tab_find(c, key);
        if (r && r->a.hide == 0)
            publish(c, r, VG_ALERT_REASON_RELEASE);
        if (r)
            schedule_escalation(c, r);
    }
}

static void set_hidden(vg_alert_core *c, struct rec *r, uint32_t bit, bool on,
                       enum vg_alert_reason on_why, enum vg_alert_reason off_why)
{
    bool was = r->a.hide & bit;

    if (was == on)
        return;
    if (on)
        r->a.hide |= bit;
    else
        r->a.hide &= ~bit;
    r->a.changed_ns = c->now;
    if (!on && r->a.state == VG_ALERT_STATE_UNACK) {
        /* Escalation deadlines run while the operator can see the alert. */
        r->a.unack_since_ns = c->now;
        schedule_escalation(c, r);
    }
    publish(c, r, on ? on_why : off_why);
}

/* A cause (camera or sensor health) changed: re-evaluate the alerts depending on it. */
static void recheck_dependents(vg_alert_core *c, const vg_alert_event *cause)
{
    if (cause->kind == VG_ALERT_CAMERA_HEALTH && cause->source_type == VG_SOURCE_CAMERA) {
        const vg_camera *cam = vg_model_camera(c->m, cause->source);
        for (uint32_t i = 0; cam && i < cam->zone_count; i++) {
            static const unsigned kinds[] = {VG_ALERT_DENSITY, VG_ALERT_TREND_TO_CRITICAL,
                                             VG_ALERT_PRESSURE};
            for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
                struct rec *r =
                    tab_find(c, point_key(kinds[k], VG_SOURCE_ZONE, cam->zones[i].zone));
                if (r && r->cond)
                    set_hidden(c, r, VG_ALERT_HIDE_SUPPRESSED, should_suppress(c, r),
                               VG_ALERT_REASON_SUPPRESS, VG_ALERT_REASON_UNSUPPRESS);
            }
        }
    }
    if (cause->source_type == VG_SOURCE_SENSOR &&
        (cause->kind == VG_ALERT_SENSOR_STALE || cause->kind == VG_ALERT_SENSOR_STUCK ||
         cause->kind == VG_ALERT_SENSOR_RANGE)) {
        static const unsigned kinds[] = {VG_ALERT_WBGT, VG_ALERT_CO2, VG_ALERT_NOISE,
                                         VG_ALERT_SENSOR_LIMIT, VG_ALERT_ANOMALY};
        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
            struct rec *r = tab_find(c, point_key(kinds[k], VG_SOURCE_SENSOR, cause->source));
            if (r && r->cond)
                set_hidden(c, r, VG_ALERT_HIDE_SUPPRESSED, should_suppress(c, r),
                           VG_ALERT_REASON_SUPPRESS, VG_ALERT_REASON_UNSUPPRESS);
        }
    }
}

static void run_timers(vg_alert_core *c)
{
    int64_t next = INT64_MAX;

    if (c->in_flood && flood_in_window(c) < c->p.flood_count)
        flood_end(c);
    if (c->now < c->next_timer)
        return;
    for (uint32_t i = 0; i < c->count; i++) {
        struct rec *r = &c->recs[i];
        if ((r->a.hide & VG_ALERT_HIDE_SHELVED) && c->now >= r->a.shelved_until_ns) {
            set_hidden(c, r, VG_ALERT_HIDE_SHELVED, false, VG_ALERT_REASON_SHELVE,
                       VG_ALERT_REASON_UNSHELVE);
            audit(c, &r->a, VG_ALERT_OP_SHELVE_EXPIRED, NULL);
        }
        if (r->a.next_escalation_ns && r->a.hide == 0 && c->now >= r->a.next_escalation_ns) {
            int64_t d = c->p.escalate_ns[r->a.grade];
            r->a.escalations++;
            c->st.escalations++;
            /* Catch up at most once: a long gap in event time gives one escalation. */
            r->a.next_escalation_ns += d;
            if (r->a.next_escalation_ns <= c->now)
                r->a.next_escalation_ns = c->now + d;
            publish(c, r, VG_ALERT_REASON_ESCALATE);
            note(c, &r->a, VG_ALERT_REASON_ESCALATE, VG_FEED_SUPERVISOR);
            audit(c, &r->a, VG_ALERT_OP_ESCALATE, NULL);
        }
        if ((r->a.hide & VG_ALERT_HIDE_SHELVED) && r->a.shelved_until_ns < next)
            next = r->a.shelved_until_ns;
        if (r->a.next_escalation_ns && r->a.next_escalation_ns < next)
            next = r->a.next_escalation_ns;
    }
    c->next_timer = next;
}

static void advance(vg_alert_core *c, int64_t t_ns)
{
    if (t_ns <= c->now)
        return;
    c->now = t_ns;
    run_timers(c);
}

/* ---- lifecycle API ---- */

int vg_alert_core_new(const vg_model *m, const vg_alert_policy *policy, const vg_alert_sink *sink,
                      vg_alert_core **ret)
{
    vg_alert_core *c;
    vg_alert_policy def;
    uint32_t cap = 16;

    if (!m || !ret)
        return -EINVAL;
    vg_alert_policy_default(&def);
    if (policy) {
        for (int g = 0; g < VG_GRADE_COUNT; g++)
            if (policy->escalate_ns[g] < 0)
                return -EINVAL;
        if (policy->shelve_max_ns < 0 || policy->shelve_default_ns < 0 ||
            policy->flood_window_ns < 0 || policy->max_alerts > (1u << 24))
            return -EINVAL;
        def.shelve_max_ns = policy->shelve_max_ns ? policy->shelve_max_ns : def.shelve_max_ns;
        def.shelve_default_ns =
            policy->shelve_default_ns ? policy->shelve_default_ns : def.shelve_default_ns;
        def.flood_count = policy->flood_count ? policy->flood_count : def.flood_count;
        def.flood_window_ns =
            policy->flood_window_ns ? policy->flood_window_ns : def.flood_window_ns;
        def.max_alerts = policy->max_alerts ? policy->max_alerts : def.max_alerts;
        /* Escalation: an all-zero array means "defaults"; otherwise it is taken as given. */
        int any = 0;
        for (int g = 0; g < VG_GRADE_COUNT; g++)
            any |= policy->escalate_ns[g] != 0;
        if (any)
            memcpy(def.escalate_ns, policy->escalate_ns, sizeof(def.escalate_ns));
    }
    if (def.shelve_default_ns > def.shelve_max_ns)
        def.shelve_default_ns = def.shelve_max_ns;
    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->m = m;
    c->p = def;
    if (sink)
        c->sink = *sink;
    /* Room for max_alerts plus flood summaries; the index at most half full. */
    c->cap = c->p.max_alerts + c->p.max_alerts / 4 + 1;
    while (cap < 2 * c->cap)
        cap <<= 1;
    c->recs = calloc(c->cap, sizeof(*c->recs));
    c->slots = calloc(cap, sizeof(*c->slots));
    c->flood_ts = calloc(c->p.flood_count, sizeof(*c->flood_ts));
    if (!c->recs || !c->slots || !c->flood_ts) {
        vg_alert_core_free(&c);
        return -ENOMEM;
    }
    c->mask = cap - 1;
    c->now = INT64_MIN;
    c->next_timer = INT64_MAX;
    *ret = c;
    return 0;
}

void vg_alert_core_free(vg_alert_core **cp)
{
    if (!cp || !*cp)
        return;
    free((*cp)->recs);
    free((*cp)->slots);
    free((*cp)->flood_ts);
    free(*cp);
    *cp = NULL;
}

static void untracked(vg_alert_core *c, const vg_alert_event *ev)
{
    vg_alert_info a;

    memset(&a, 0, sizeof(a));
    a.id = a.activation = ev->id;
    a.last = *ev;
    a.kind = ev->kind;
    a.feed = ev->feed;
    a.grade = ev->grade;
    a.sector = zone_sector(c, ev->zone); /* its zone's, as a tracked alert's; not sector 0 */
    a.state = ev->action == VG_ALERT_ACTION_CLEAR ? VG_ALERT_STATE_CLEARED : VG_ALERT_STATE_UNACK;
    a.raised_ns = ev->raised_ns;
    a.changed_ns = ev->t_ns;
    if (ev->action == VG_ALERT_ACTION_CLEAR) {
        c->untracked_open--;
    } else {
        c->st.untracked++;
        c->untracked_open++;
    }
    note(c, &a,
         ev->action == VG_ALERT_ACTION_RAISE    ? VG_ALERT_REASON_RAISE
         : ev->action == VG_ALERT_ACTION_CHANGE ? VG_ALERT_REASON_CHANGE
                                                : VG_ALERT_REASON_RTN,
         ev->feed);
}

static bool is_cause(const vg_alert_event *ev)
{
    return ev->kind == VG_ALERT_CAMERA_HEALTH || ev->kind == VG_ALERT_SENSOR_STALE ||
           ev->kind == VG_ALERT_SENSOR_STUCK || ev->kind == VG_ALERT_SENSOR_RANGE;
}

/* The time of an analysis transition of r: the event's own (the instant the event log and
 * the archive show), but never before r's last change. Operator actions are stamped with
 * the core's clock, which runs up to the analysis lateness ahead of the events. */
static int64_t transition_time(const struct rec *r, const vg_alert_event *ev)
{
    return ev->t_ns > r->a.changed_ns ? ev->t_ns : r->a.changed_ns;
}

/* A raise (a new alert, or one active again) during a flood: an advisory or warning alert
 * that would be shown is held in its (feed, sector) summary instead. One without a sector
 * (the engine's own, zoneless: an engine-wide fault, a handful at most) is never held.
 * Returns r, re-found. */
static struct rec *flood_hold(vg_alert_core *c, struct rec *r)
{
    if (!c->in_flood || r->a.grade > VG_GRADE_WARNING || r->a.hide != 0 ||
        r->a.sector == VG_MODEL_NONE)
        return r;
    unsigned feed = r->a.feed;
    uint32_t sector = r->a.sector;
    uint64_t k = r->key;
    r->a.hide |= VG_ALERT_HIDE_HELD;
    summary_adjust(c, feed, sector, +1, r->a.grade);
    r = tab_find(c, k);
    if (r && !summary_for(c, feed, sector, false))
        r->a.hide &= ~(uint32_t)VG_ALERT_HIDE_HELD; /* no room for a summary */
    return r;
}

static int on_active(vg_alert_core *c, const vg_alert_event *ev, uint64_t key)
{
    struct rec *r = tab_find(c, key);
    enum vg_alert_reason why;

    if (!r) {
        if (c->count - c->summaries >= c->p.max_alerts) {
            untracked(c, ev);
            return -ENOSPC;
        }
        r = tab_insert(c, key);
        r->cond = 1;
        r->latched = (ev->flags & VG_ALERT_F_LATCHED) != 0;
        r->a.id = ev->id;
        r->a.activation = ev->id;
        r->a.last = *ev;
        r->a.kind = ev->kind;
        r->a.feed = ev->feed;
        r->a.grade = ev->grade;
        r->a.sector = zone_sector(c, r->a.last.zone);
        r->a.state = VG_ALERT_STATE_UNACK;
        /* the analysis's event time: the same instant as in the event log and the archive
         * (c->now can be a tick later) */
        r->a.raised_ns = r->a.changed_ns = r->a.unack_since_ns = ev->t_ns;
        if (should_suppress(c, r))
            r->a.hide |= VG_ALERT_HIDE_SUPPRESSED;
        flood_count_raise(c);
        schedule_escalation(c, r);
        r = flood_hold(c, r);
        if (r && r->a.hide == 0)
            publish(c, r, VG_ALERT_REASON_RAISE);
        return 0;
    }

    unsigned old_grade = r->a.grade;
    bool was_cond = r->cond;
    const int64_t t = transition_time(r, ev);
    int64_t pending = 0; /* a deadline to keep: unack_since stays, the grade may fall */
    r->cond = 1;
    r->latched |= (ev->flags & VG_ALERT_F_LATCHED) != 0;
    r->a.activation = ev->id;
    r->a.last = *ev;
    r->a.grade = ev->grade;
    r->a.changed_ns = t;
    why = VG_ALERT_REASON_CHANGE;
    switch (r->a.state) {
    case VG_ALERT_STATE_NORMAL:
    case VG_ALERT_STATE_RTN_UNACK:
    case VG_ALERT_STATE_LATCHED:
        r->a.state = VG_ALERT_STATE_UNACK;
        r->a.unack_since_ns = t;
        r->a.escalations = 0;
        why = VG_ALERT_REASON_RAISE;
        flood_count_raise(c);
        break;
    case VG_ALERT_STATE_ACKED:
        if (ev->grade > old_grade) {
            /* A worse grade needs a new acknowledgement (ISA-18.2 re-alarm). */
            r->a.state = VG_ALERT_STATE_UNACK;
            r->a.unack_since_ns = t;
            r->a.escalations = 0;
        }
        break;
    default:
        /* unack: a worse grade restarts the deadline; a latched alert active again (a help
         * point pressed again before anyone answered) keeps it */
        if (ev->grade > old_grade || (!was_cond && !r->latched)) {
            r->a.unack_since_ns = t;
            r->a.escalations = 0;
        } else {
            pending = r->a.next_escalation_ns;
        }
        break;
    }
    schedule_escalation(c, r);
    /* After a fall, unack_since + the lower grade's (longer) deadline can be long past: keep
     * the deadline already pending rather than escalate again at the next tick. */
    if (r->a.next_escalation_ns && pending > r->a.next_escalation_ns)
        r->a.next_escalation_ns = pending;
    if ((r->a.hide & VG_ALERT_HIDE_HELD) && ev->grade >= VG_GRADE_CRITICAL) {
        /* Critical and emergency are never held back by a flood. */
        uint64_t k = r->key;
        unhold(c, r);
        r = tab_find(c, k);
        if (!r)
            return 0;
        if (r->a.hide == 0) {
            publish(c, r, r->announced ? why : VG_ALERT_REASON_RAISE);
            return 0;
        }
    }
    if (why == VG_ALERT_REASON_RAISE) {
        r = flood_hold(c, r); /* counted as a raise above, so held like a new one */
        if (!r)
            return 0;
    }
    if (r->a.hide == 0)
        publish(c, r, why);
    return 0;
}

static int on_clear(vg_alert_core *c, const vg_alert_event *ev, uint64_t key)
{
    struct rec *r = tab_find(c, key);

    if (!r && c->untracked_open) {
        /* Maybe one published untracked (table full): let consoles drop it. */
        untracked(c, ev);
        return 0;
    }
    if (!r || !r->cond)
        return 0; /* nothing open, or a repeated clear */
    r->cond = 0;
    r->latched |= (ev->flags & VG_ALERT_F_LATCHED) != 0;
    if (r->latched && r->a.state == VG_ALERT_STATE_UNACK) {
        /* ISA-18.2 latching: a life-safety alert nobody acknowledged stays annunciated,
         * and escalating, after its condition ends (a help press is not over because its
         * point went quiet); acknowledged, it waits for a reset. Nothing to publish. */
        return 0;
    }
    /* Keep the grade shown and the values that raised it; take the clear's time and text. */
    r->a.last.t_ns = ev->t_ns;
    r->a.last.action = ev->action;
    memcpy(r->a.last.message, ev->message, sizeof(r->a.last.message));
    r->a.changed_ns = transition_time(r, ev);
    r->a.next_escalation_ns = 0;
    switch (r->a.state) {
    case VG_ALERT_STATE_UNACK:
        r->a.state = VG_ALERT_STATE_RTN_UNACK;
        break;
    case VG_ALERT_STATE_ACKED:
        if (r->latched) {
            r->a.state = VG_ALERT_STATE_LATCHED;
        } else if (r->a.hide & VG_ALERT_HIDE_OOS) {
            r->a.state = VG_ALERT_STATE_NORMAL;
        } else {
            drop(c, r, VG_ALERT_REASON_RTN);
            return 0;
        }
        break;
    default:
        return 0;
    }
    if (r->a.hide & VG_ALERT_HIDE_HELD) {
        /* A held alert that clears by itself leaves the flood group quietly. */
        if (r->a.state == VG_ALERT_STATE_RTN_UNACK && !r->latched) {
            drop(c, r, VG_ALERT_REASON_RTN);
            return 0;
        }
    }
    if (r->a.hide & VG_ALERT_HIDE_SUPPRESSED) {
        /* The cause explains it: a suppressed alert that clears is gone. */
        if (!r->latched && !(r->a.hide & VG_ALERT_HIDE_OOS)) {
            drop(c, r, VG_ALERT_REASON_RTN);
            return 0;
        }
    }
    if (r->a.hide == 0)
        publish(c, r, VG_ALERT_REASON_RTN);
    return 0;
}

int vg_alert_core_event(vg_alert_core *c, const vg_alert_event *ev)
{
    int r;

    if (!c || !ev || ev->kind >= VG_ALERT_KIND_COUNT || ev->grade >= VG_GRADE_COUNT ||
        ev->feed >= VG_FEED_COUNT || ev->action >= VG_ALERT_ACTION_COUNT ||
        ev->source_type >= VG_SOURCE_TYPE_COUNT)
        return -EINVAL;
    if (ev->action != VG_ALERT_ACTION_CLEAR && ev->grade == VG_GRADE_CLEAR)
        return -EINVAL;
    advance(c, ev->t_ns);
    c->st.events++;
    uint64_t key = point_key(ev->kind, ev->source_type, ev->source);
    if (ev->action == VG_ALERT_ACTION_CLEAR)
        r = on_clear(c, ev, key);
    else
        r = on_active(c, ev, key);
    if (is_cause(ev))
        recheck_dependents(c, ev);
    return r;
}

int vg_alert_core_tick(vg_alert_core *c, int64_t t_ns)
{
    if (!c)
        return -EINVAL;
    advance(c, t_ns);
    return 0;
}

static int check_actor(const vg_alert_actor *who)
{
    return who && who->operator_id && who->operator_id[0] ? 0 : -EINVAL;
}

static void set_owner(vg_alert_core *c, struct rec *r, const vg_alert_actor *who)
{
    vg_copy_text(r->a.operator_id, sizeof(r->a.operator_id), who->operator_id);
    vg_copy_text(r->a.comment, sizeof(r->a.comment), who->comment);
    r->a.acked_ns = c->now;
    r->a.changed_ns = c->now;
    r->a.next_escalation_ns = 0;
}

/* Acknowledges every held member of a flood summary's group that waits for it. */
static void ack_group(vg_alert_core *c, const struct rec *s, const vg_alert_actor *who)
{
    unsigned feed = s->a.feed;
    uint32_t sector = s->a.sector;

    for (;;) {
        struct rec *r = NULL;
        for (uint32_t i = 0; i < c->count && !r; i++) {
            struct rec *x = &c->recs[i];
            if ((x->a.hide & VG_ALERT_HIDE_HELD) && x->a.feed == feed && x->a.sector == sector &&
                (x->a.state == VG_ALERT_STATE_UNACK || x->a.state == VG_ALERT_STATE_RTN_UNACK))
                r = x;
        }
        if (!r)
            return;
        set_owner(c, r, who);
        if (r->a.state == VG_ALERT_STATE_UNACK)
            r->a.state = VG_ALERT_STATE_ACKED;
        else if (r->latched)
            r->a.state = VG_ALERT_STATE_LATCHED;
        else
            r->a.state = VG_ALERT_STATE_CLEARED;
        audit(c, &r->a, VG_ALERT_OP_ACK, who); /* with the state after the ack */
        if (r->a.state == VG_ALERT_STATE_CLEARED)
            drop(c, r, VG_ALERT_REASON_ACK); /* may remove the summary too */
    }
}

/* The alert an operator action names: the shared argument checks of the vg_alert_core_*
 * operator entry points. Returns 0 and *ret_rec, -EINVAL or -ENOENT. */
static int operand(vg_alert_core *c, uint64_t id, const vg_alert_actor *who,
                   struct rec **ret_rec)
{
    if (!c || check_actor(who) < 0)
        return -EINVAL;
    struct rec *r = find_id(c, id);
    if (!r)
        return -ENOENT;
    *ret_rec = r;
    return 0;
}

int vg_alert_core_ack(vg_alert_core *c, uint64_t id, const vg_alert_actor *who)
{
    struct rec *r;
    int e = operand(c, id, who, &r);

    if (e < 0)
        return e;
    if (r->a.kind == VG_ALERT_FLOOD_SUMMARY && r->a.last.source_type == VG_SOURCE_NONE) {
        if (r->a.state != VG_ALERT_STATE_UNACK)
            return -EALREADY;
        set_owner(c, r, who);
        r->a.state = VG_ALERT_STATE_ACKED;
        publish(c, r, VG_ALERT_REASON_ACK);
        audit(c, &r->a, VG_ALERT_OP_ACK, who);
        struct rec copy = *r; /* ack_group may remove the summary itself */
        ack_group(c, &copy, who);
        return 0;
    }
    switch (r->a.state) {
    case VG_ALERT_STATE_UNACK:
        set_owner(c, r, who);
        /* a latched alert whose condition ended meanwhile (on_clear) waits for a reset */
        r->a.state = r->cond ? VG_ALERT_STATE_ACKED : VG_ALERT_STATE_LATCHED;
        break;
    case VG_ALERT_STATE_RTN_UNACK:
        set_owner(c, r, who);
        if (r->latched) {
            r->a.state = VG_ALERT_STATE_LATCHED;
        } else if (r->a.hide & VG_ALERT_HIDE_OOS) {
            r->a.state = VG_ALERT_STATE_NORMAL;
        } else {
            r->a.state = VG_ALERT_STATE_CLEARED;
            audit(c, &r->a, VG_ALERT_OP_ACK, who);
            drop(c, r, VG_ALERT_REASON_ACK);
            return 0;
        }
        break;
    default:
        return -EALREADY;
    }
    if (!(r->a.hide & VG_ALERT_HIDE_HELD))
        publish(c, r, VG_ALERT_REASON_ACK);
    audit(c, &r->a, VG_ALERT_OP_ACK, who);
    return 0;
}

int vg_alert_core_shelve(vg_alert_core *c, uint64_t id, int64_t duration_ns,
                         const vg_alert_actor *who)
{
    struct rec *r;

    if (!c || check_actor(who) < 0 || duration_ns < 0)
        return -EINVAL;
    r = find_id(c, id);
    if (!r)
        return -ENOENT;
    if (r->a.hide & VG_ALERT_HIDE_SHELVED)
        return -EALREADY;
    if (duration_ns == 0)
        duration_ns = c->p.shelve_default_ns;
    if (duration_ns > c->p.shelve_max_ns)
        duration_ns = c->p.shelve_max_ns;
    r->a.shelved_until_ns = c->now + duration_ns;
    timer_at(c, r->a.shelved_until_ns);
    /* r->a.comment is the owner's (the ack's); the shelve comment goes to the audit record. */
    set_hidden(c, r, VG_ALERT_HIDE_SHELVED, true, VG_ALERT_REASON_SHELVE, VG_ALERT_REASON_UNSHELVE);
    audit(c, &r->a, VG_ALERT_OP_SHELVE, who);
    return 0;
}

int vg_alert_core_unshelve(vg_alert_core *c, uint64_t id, const vg_alert_actor *who)
{
    struct rec *r;
    int e = operand(c, id, who, &r);

    if (e < 0)
        return e;
    if (!(r->a.hide & VG_ALERT_HIDE_SHELVED))
        return -EALREADY;
    set_hidden(c, r, VG_ALERT_HIDE_SHELVED, false, VG_ALERT_REASON_SHELVE,
               VG_ALERT_REASON_UNSHELVE);
    audit(c, &r->a, VG_ALERT_OP_UNSHELVE, who);
    return 0;
}

int vg_alert_core_set_service(vg_alert_core *c, uint64_t id, int on, const vg_alert_actor *who)
{
    struct rec *r;
    int e = operand(c, id, who, &r);

    if (e < 0)
        return e;
    if (!!(r->a.hide & VG_ALERT_HIDE_OOS) == !on)
        return -EALREADY;
    if (!on) {
        set_hidden(c, r, VG_ALERT_HIDE_OOS, true, VG_ALERT_REASON_OOS, VG_ALERT_REASON_IN_SERVICE);
        audit(c, &r->a, VG_ALERT_OP_OOS, who);
        return 0;
    }
    audit(c, &r->a, VG_ALERT_OP_IN_SERVICE, who);
    if (r->a.state == VG_ALERT_STATE_NORMAL) {
        /* Its condition cleared during maintenance: nothing left to show. */
        r->announced = 1;
        drop(c, r, VG_ALERT_REASON_IN_SERVICE);
        return 0;
    }
    set_hidden(c, r, VG_ALERT_HIDE_OOS, false, VG_ALERT_REASON_OOS, VG_ALERT_REASON_IN_SERVICE);
    return 0;
}

int vg_alert_core_reset(vg_alert_core *c, uint64_t id, const vg_alert_actor *who)
{
    struct rec *r;
    int e = operand(c, id, who, &r);

    if (e < 0)
        return e;
    if (!r->latched)
        return -EPERM;
    if (r->cond)
        return -EBUSY;
    if (r->a.state != VG_ALERT_STATE_LATCHED && r->a.state != VG_ALERT_STATE_RTN_UNACK)
        return -EALREADY;
    if (r->a.state == VG_ALERT_STATE_RTN_UNACK)
        set_owner(c, r, who);
    r->a.state = VG_ALERT_STATE_CLEARED;
    audit(c, &r->a, VG_ALERT_OP_RESET, who);
    r->announced = 1;
    drop(c, r, VG_ALERT_REASON_RESET);
    return 0;
}

const vg_alert_info *vg_alert_core_find(const vg_alert_core *c, uint64_t id)
{
    const struct rec *r = c ? find_id(c, id) : NULL;
    return r ? &r->a : NULL;
}

int vg_alert_core_for_each(const vg_alert_core *c, void (*fn)(void *ctx, const vg_alert_info *a),
                           void *ctx)
{
    if (!c || !fn)
        return -EINVAL;
    for (uint32_t i = 0; i < c->count; i++)
        fn(ctx, &c->recs[i].a);
    return 0;
}

int vg_alert_core_get_stats(const vg_alert_core *c, vg_alert_core_stats *ret_stats)
{
    vg_alert_core_stats s;

    if (!c || !ret_stats)
        return -EINVAL;
    s = c->st;
    memset(s.by_state, 0, sizeof(s.by_state));
    memset(s.by_grade, 0, sizeof(s.by_grade));
    s.active = s.shelved = s.suppressed = s.out_of_service = s.held = 0;
    for (uint32_t i = 0; i < c->count; i++) {
        const struct rec *r = &c->recs[i];
        if (r->a.kind == VG_ALERT_FLOOD_SUMMARY && r->a.last.source_type == VG_SOURCE_NONE)
            continue;
        s.active++;
        s.by_state[r->a.state]++;
        if (r->a.state == VG_ALERT_STATE_UNACK || r->a.state == VG_ALERT_STATE_ACKED)
            s.by_grade[r->a.grade]++;
        s.shelved += !!(r->a.hide & VG_ALERT_HIDE_SHELVED);
        s.suppressed += !!(r->a.hide & VG_ALERT_HIDE_SUPPRESSED);
        s.out_of_service += !!(r->a.hide & VG_ALERT_HIDE_OOS);
        s.held += !!(r->a.hide & VG_ALERT_HIDE_HELD);
    }
    s.now_ns = c->now;
    s.in_flood = c->in_flood;
    *ret_stats = s;
    return 0;
}

const vg_model *vg_alert_core_model(const vg_alert_core *c)
{
    return c ? c->m : NULL;
}

/* Id of a subject in model m, or NULL. */
static const char *subject_id(const vg_model *m, unsigned stype, uint32_t idx)
{
    switch (stype) {
    case VG_SOURCE_ZONE: {
        const vg_zone *z = vg_model_zone(m, idx);
        return z ? z->id : NULL;
    }
    case VG_SOURCE_SENSOR: {
        const vg_sensor *s = vg_model_sensor(m, idx);
        return s ? s->id : NULL;
    }
    case VG_SOURCE_CAMERA: {
        const vg_camera *k = vg_model_camera(m, idx);
        return k ? k->id : NULL;
    }
    case VG_SOURCE_LINE: {
        const vg_line *l = vg_model_line(m, idx);
        return l ? l->id : NULL;
    }
    case VG_SOURCE_HELP_POINT: {
        const vg_help_point *h = vg_model_help_point(m, idx);
        return h ? h->id : NULL;
    }
    }
    return NULL;
}

static int subject_find(const vg_model *m, unsigned stype, const char *id, uint32_t *ret)
{
    switch (stype) {
    case VG_SOURCE_ZONE:
        return vg_model_find_zone(m, id, ret);
    case VG_SOURCE_SENSOR:
        return vg_model_find_sensor(m, id, ret);
    case VG_SOURCE_CAMERA:
        return vg_model_find_camera(m, id, ret);
    case VG_SOURCE_LINE:
        return vg_model_find_line(m, id, ret);
    case VG_SOURCE_HELP_POINT:
        return vg_model_find_help_point(m, id, ret);
    }
    return -ENOENT;
}

/* Evidence names its sources by index in om: re-index them by id in m (json.c looks them
 * up in the model in force) and leave out those m no longer has. */
static void remap_evidence(vg_alert_event *e, const vg_model *om, const vg_model *m)
{
    unsigned kept = 0;

    for (unsigned i = 0; i < e->evidence_count && i < VG_EVIDENCE_MAX; i++) {
        vg_evidence x = e->evidence[i];
        if (x.source_type != VG_SOURCE_NONE) {
            const char *sid = subject_id(om, x.source_type, x.source);
            if (!sid || subject_find(m, x.source_type, sid, &x.source) != 0)
                continue;
        }
        e->evidence[kept++] = x;
    }
    e->evidence_count = (uint8_t)kept;
}

/* After a reload has rebuilt the flood summaries (c->recs from first_new on, new ids): a
 * summary of the same feed and sector name as one before keeps that one's id and lifecycle
 * (consoles and operators know it by its id) and is published if its count or grade moved;
 * a new one is published; an old one with no successor is published "removed", rendered
 * with the old model that still names its sector. */
static void carry_summaries(vg_alert_core *c, struct rec *old, uint32_t old_count,
                            const vg_model *om, uint32_t first_new)
{
    for (uint32_t i = first_new; i < c->count; i++) {
        struct rec *s = &c->recs[i];
        const char *name = vg_model_sector_name(c->m, s->a.sector);
        struct rec *o = NULL;

        for (uint32_t k = 0; k < old_count && !o; k++) {
            struct rec *r = &old[k];
            const char *oname = vg_model_sector_name(om, r->a.sector);
            if (r->key && r->a.kind == VG_ALERT_FLOOD_SUMMARY &&
                r->a.last.source_type == VG_SOURCE_NONE && r->a.feed == s->a.feed && name &&
                oname && strcmp(name, oname) == 0)
                o = r;
        }
        if (!o) {
            publish(c, s, VG_ALERT_REASON_FLOOD);
            continue;
        }
        const vg_alert_info built = s->a;
        s->a = o->a;
        s->announced = o->announced;
        s->a.held = built.held;
        s->a.sector = built.sector;
        s->a.grade = built.grade;
        s->a.last = built.last;
        summary_text(c, s);
        o->key = 0; /* taken */
        if (s->a.held != o->a.held || s->a.grade != o->a.grade) {
            s->a.changed_ns = s->a.last.t_ns = c->now;
            publish(c, s, VG_ALERT_REASON_FLOOD);
        }
    }
    const vg_model *nm = c->m;
    c->m = om;
    for (uint32_t k = 0; k < old_count; k++) {
        struct rec *r = &old[k];
        if (!r->key || r->a.kind != VG_ALERT_FLOOD_SUMMARY ||
            r->a.last.source_type != VG_SOURCE_NONE)
            continue;
        r->a.state = VG_ALERT_STATE_CLEARED;
        r->a.changed_ns = c->now;
        if (r->announced)
            note(c, &r->a, VG_ALERT_REASON_REMOVED, r->a.feed);
    }
    c->m = nm;
}

int vg_alert_core_set_model(vg_alert_core *c, const vg_model *m, const vg_alert_actor *who)
{
    struct rec *old, *nr;
    uint32_t old_count;
    const vg_model *om;

    if (!c || !m)
        return -EINVAL;
    if (m == c->m)
        return 0;
    nr = calloc(c->cap, sizeof(*nr));
    if (!nr)
        return -ENOMEM;
    old = c->recs;
    old_count = c->count;
    om = c->m;
    c->recs = nr;
    c->count = c->summaries = 0;
    memset(c->slots, 0, ((size_t)c->mask + 1) * sizeof(*c->slots));
    for (uint32_t i = 0; i < old_count; i++) {
        struct rec *r = &old[i];
        if (r->a.kind == VG_ALERT_FLOOD_SUMMARY && r->a.last.source_type == VG_SOURCE_NONE)
            continue; /* rebuilt below from the held members */
        const char *sid = subject_id(om, r->a.last.source_type, r->a.last.source);
        const vg_zone *oz = vg_model_zone(om, r->a.last.zone);
        uint32_t ns = r->a.last.source, nz = VG_MODEL_NONE;
        /* A subjectless alert (the engine's own) has nothing to remap: it stays,
         * or it would be gone for good (the engine only pushes it on a change). */
        bool ok = r->a.last.source_type == VG_SOURCE_NONE ||
                  (sid && subject_find(m, r->a.last.source_type, sid, &ns) == 0);
        if (ok && oz)
            ok = vg_model_find_zone(m, oz->id, &nz) == 0;
        if (!ok) {
            /* Published while the model in force (the old one) still names it. */
            r->a.state = VG_ALERT_STATE_CLEARED;
            r->a.changed_ns = c->now;
            if (r->announced)
                note(c, &r->a, VG_ALERT_REASON_REMOVED, r->a.feed);
            continue;
        }
        struct rec *n = tab_insert(c, point_key(r->a.kind, r->a.last.source_type, ns));
        uint64_t key = n->key;
        *n = *r;
        n->key = key;
        n->a.last.source = ns;
        n->a.last.zone = nz;
        remap_evidence(&n->a.last, om, m);
    }
    c->m = m;
    /* Re-route, re-sector, and rebuild the flood groups. */
    uint32_t n_alerts = c->count;
    for (uint32_t i = 0; i < n_alerts; i++) {
        struct rec *r = &c->recs[i];
        r->a.feed = (uint8_t)vg_model_feed(m, (enum vg_alert_kind)r->a.kind);
        r->a.last.feed = r->a.feed;
        r->a.sector = zone_sector(c, r->a.last.zone); /* NONE without a zone: never held */
    }
    for (uint32_t i = 0; i < n_alerts; i++) {
        struct rec *r = &c->recs[i];
        if (!(r->a.hide & VG_ALERT_HIDE_HELD))
            continue;
        struct rec *s = summary_for(c, r->a.feed, r->a.sector, true);
        r = &c->recs[i]; /* inserting never moves records; kept for clarity */
        if (s) {
            s->a.held++;
            if (r->a.grade > s->a.grade)
                s->a.grade = s->a.last.grade = r->a.grade;
            s->a.last.value = s->a.held;
            summary_text(c, s);
        } else {
            r->a.hide &= ~(uint32_t)VG_ALERT_HIDE_HELD;
        }
    }
    carry_summaries(c, old, old_count, om, n_alerts);
    free(old);
    audit(c, NULL, VG_ALERT_OP_RELOAD, who);
    return 0;
}
