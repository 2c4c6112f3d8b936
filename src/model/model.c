/* The venue model after load: arena, hash tables, built-in defaults, accessors, lookups and
 * phase resolution. Everything here reads an immutable model, so any thread may call it;
 * nothing allocates after load (load.c builds the model). */
#include "model_priv.h"
#include "vigil/common.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ---- */

struct vg__arena_block {
    struct vg__arena_block *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
};

#define ARENA_BLOCK (64 * 1024)

void *vg__arena_alloc(vg__arena *a, size_t size)
{
    struct vg__arena_block *b = a->head;

    size = (size + 15) & ~(size_t)15;
    if (!b || b->size - b->used < size) {
        size_t cap = size > ARENA_BLOCK ? size : ARENA_BLOCK;
        b = malloc(sizeof(*b) + cap);
        if (!b)
            return NULL;
        b->size = cap;
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

char *vg__arena_strdup(vg__arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = vg__arena_alloc(a, n);
    if (p)
        memcpy(p, s, n);
    return p;
}

void vg__arena_release(vg__arena *a)
{
    struct vg__arena_block *b = a->head;
    while (b) {
        struct vg__arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}

/* ---- hash tables ---- */

uint64_t vg__fnv1a(const void *data, size_t len, uint64_t h)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

static uint64_t key_hash(const char *key, size_t len, const char *key2, size_t len2)
{
    uint64_t h = vg__fnv1a(key, len, VG__FNV_BASIS);
    if (key2) {
        h = vg__fnv1a("\x1f", 1, h); /* separator: ("ab","c") and ("a","bc") differ */
        h = vg__fnv1a(key2, len2, h);
    }
    return h ^ (h >> 29);
}

int vg__table_init(vg__table *t, vg__arena *a, uint32_t n)
{
    uint32_t cap = 8;
    while (cap < 2 * (uint64_t)n + 1)
        cap <<= 1;
    t->slots = vg__arena_alloc(a, cap * sizeof(*t->slots));
    if (!t->slots)
        return -ENOMEM;
    t->mask = cap - 1;
    t->count = 0;
    return 0;
}

static int slot_matches(const vg__slot *s, const char *key, size_t len, const char *key2,
                        size_t len2)
{
    if (s->len != len || memcmp(s->key, key, len) != 0)
        return 0;
    if (!s->key2 != !key2)
        return 0;
    return !key2 || (s->len2 == len2 && memcmp(s->key2, key2, len2) == 0);
}

int vg__table_put(vg__table *t, const char *key, size_t len, const char *key2, size_t len2,
                  uint32_t a, uint32_t b, const vg__slot **ret_existing)
{
    uint32_t i = (uint32_t)key_hash(key, len, key2, len2) & t->mask;

    if (2 * (uint64_t)(t->count + 1) > (uint64_t)t->mask + 1)
        return -ENOSPC; /* sized by vg__table_init(); a loader bug otherwise */
    for (;; i = (i + 1) & t->mask) {
        vg__slot *s = &t->slots[i];
        if (!s->key) {
            s->key = key;
            s->len = (uint32_t)len;
            s->key2 = key2;
            s->len2 = (uint32_t)len2;
            s->a = a;
            s->b = b;
            t->count++;
            return 0;
        }
        if (slot_matches(s, key, len, key2, len2)) {
            if (ret_existing)
                *ret_existing = s;
            return -EEXIST;
        }
    }
}

const vg__slot *vg__table_get(const vg__table *t, const char *key, size_t len, const char *key2,
                              size_t len2)
{
    if (!t->slots)
        return NULL;
    for (uint32_t i = (uint32_t)key_hash(key, len, key2, len2) & t->mask;; i = (i + 1) & t->mask) {
        const vg__slot *s = &t->slots[i];
        if (!s->key)
            return NULL;
        if (slot_matches(s, key, len, key2, len2))
            return s;
    }
}

/* ---- built-in defaults ---- */

static void set_limit(vg_limit *l, double adv, double warn, double crit, double emerg,
                      double deadband, double on_s, double off_s)
{
    l->level[VG_GRADE_CLEAR] = NAN;
    l->level[VG_GRADE_ADVISORY] = adv;
    l->level[VG_GRADE_WARNING] = warn;
    l->level[VG_GRADE_CRITICAL] = crit;
    l->level[VG_GRADE_EMERGENCY] = emerg;
    l->deadband = deadband;
    l->on_delay_ns = (int64_t)(on_s * 1e9);
    l->off_delay_ns = (int64_t)(off_s * 1e9);
}

void vg__profile_defaults(vg_profile *p)
{
    const double off = NAN;

    /* Still (2014) quoting the Guide to Safety at Sports Grounds: moving and queues <= 4 p/m²,
     * 5 p/m² red; standing 4.7 p/m². On-delays from DESIGN: 10-30 s moving, 30-60 s
     * standing. */
    set_limit(&p->density[VG_ZONE_MOVING], 2, 3, 4, 5, 0.3, 20, 30);
    set_limit(&p->density[VG_ZONE_QUEUE], 2, 3, 4, 5, 0.3, 20, 30);
    set_limit(&p->density[VG_ZONE_STANDING], 2, 4, 4.7, 5.5, 0.3, 45, 60);
    /* Fruin's stair levels of service D, E, F. */
    set_limit(&p->density[VG_ZONE_STAIR], 1.08, 1.54, 2.69, off, 0.15, 15, 30);
    /* Seats bound density; seated sections are graded by occupancy. */
    set_limit(&p->density[VG_ZONE_SEATED], off, off, off, off, 0.3, 30, 60);
    set_limit(&p->occupancy, 0.9, 1.0, 1.1, off, 0.03, 30, 60);
    /* 70 / 90 / 100 % of 82 (level) or 66 (stairs) p/m/min. */
    set_limit(&p->flow, 0.7, 0.9, 1.0, off, 0.05, 30, 60);
    /* Helbing et al. 2007: turbulence from about 0.02 /s². */
    set_limit(&p->pressure, off, 0.01, 0.015, 0.02, 0.002, 10, 30);
    for (int k = 0; k < VG_SENSOR_KIND_COUNT; k++) {
        set_limit(&p->sensor[k], off, off, off, off, 0, 60, 60);
        /* Below the detector's NAB-tuned 0.5: live sensors report every few seconds, and at
         * 0.5 plain noise alarms about 3 times per 1,000 readings (docs/detector.md). */
        p->sensitivity[k] = 0.2;
    }
    set_limit(&p->sensor[VG_SENSOR_WBGT], 23, 28, 32, off, 0.5, 300, 600);     /* ACSM, ISO 7243 */
    set_limit(&p->sensor[VG_SENSOR_CO2], 800, 1500, 2000, off, 100, 180, 300); /* HSE, UBA */
    set_limit(&p->sensor[VG_SENSOR_NOISE], 97, 100, off, off, 1, 60, 300);     /* WHO LAeq 15 min */
    set_limit(&p->sensor[VG_SENSOR_SMOKE], off, off, 1, off, 0.5, 0, 60);
    p->ttc_horizon_ns = 300 * VG_NS_PER_S;
    p->mismatch_fraction = 0.25;
    p->mismatch_min = 20;
    p->mismatch_delay_ns = 120 * VG_NS_PER_S;
    p->stale_factor = 3;
    p->stuck_factor = 30;
    p->chatter_cycles = 3;
    p->chatter_window_ns = 60 * VG_NS_PER_S;
}

enum vg_feed vg__default_route(enum vg_alert_kind k)
{
    switch (k) {
    case VG_ALERT_DENSITY:
    case VG_ALERT_TREND_TO_CRITICAL:
    case VG_ALERT_FLOW:
    case VG_ALERT_PRESSURE:
    case VG_ALERT_OCCUPANCY:
    case VG_ALERT_SMOKE:
    case VG_ALERT_HELP_SECURITY:
    case VG_ALERT_HELP_FIRE:
    case VG_ALERT_HELP_OTHER:
    case VG_ALERT_FLOOD_SUMMARY:
        return VG_FEED_SECURITY;
    case VG_ALERT_WBGT:
    case VG_ALERT_NOISE:
    case VG_ALERT_HELP_MEDICAL:
        return VG_FEED_MEDICAL;
    default:
        return VG_FEED_TECHNICAL;
    }
}

/* ---- lifecycle and venue ---- */

void vg_model_free(vg_model **mp)
{
    if (!mp || !*mp)
        return;
    vg__arena_release(&(*mp)->arena);
    free(*mp);
    *mp = NULL;
}

const char *vg_model_venue(const vg_model *m)
{
    return m ? m->venue : NULL;
}

const char *vg_model_venue_name(const vg_model *m)
{
    return m ? m->venue_name : NULL;
}

const char *vg_model_version(const vg_model *m)
{
    return m ? m->version : NULL;
}

const char *vg_model_path(const vg_model *m)
{
    return m ? m->path : NULL;
}

uint64_t vg_model_digest(const vg_model *m)
{
    return m ? m->digest : 0;
}

const char *vg_model_text(const vg_model *m, size_t *ret_len)
{
    if (!m)
        return NULL;
    if (ret_len)
        *ret_len = m->text_len;
    return m->text;
}

int32_t vg_model_utc_offset_s(const vg_model *m)
{
    return m ? m->utc_offset_s : 0;
}

/* ---- counts and accessors ---- */

#define COUNT_AND_GET(name, type, arr, n)                                                          \
    uint32_t vg_model_##name##_count(const vg_model *m)                                            \
    {                                                                                              \
        return m ? m->n : 0;                                                                       \
    }                                                                                              \
    const type *vg_model_##name(const vg_model *m, uint32_t idx)                                   \
    {                                                                                              \
        return m && idx < m->n ? &m->arr[idx] : NULL;                                              \
    }

COUNT_AND_GET(zone, vg_zone, zones, n_zones)
COUNT_AND_GET(line, vg_line, lines, n_lines)
COUNT_AND_GET(camera, vg_camera, cameras, n_cameras)
COUNT_AND_GET(sensor, vg_sensor, sensors, n_sensors)
COUNT_AND_GET(help_point, vg_help_point, help_points, n_help_points)
COUNT_AND_GET(profile, vg_profile, profiles, n_profiles)
COUNT_AND_GET(phase, vg_phase, phases, n_phases)

uint32_t vg_model_sector_count(const vg_model *m)
{
    return m ? m->n_sectors : 0;
}

const char *vg_model_sector_name(const vg_model *m, uint32_t idx)
{
    return m && idx < m->n_sectors ? m->sectors[idx] : NULL;
}

uint32_t vg_model_frigate_count(const vg_model *m)
{
    return m ? m->t_frigate.count : 0;
}

uint32_t vg_model_z2m_count(const vg_model *m)
{
    return m ? m->t_z2m.count : 0;
}

uint32_t vg_model_z2m_device_count(const vg_model *m)
{
    return m ? m->t_z2m_device.count : 0;
}

/* ---- lookups ---- */

static int find(const vg_model *m, const vg__table *t, const char *id, size_t len,
                uint32_t *ret_idx)
{
    if (!m || !id || !ret_idx)
        return -EINVAL;
    const vg__slot *s = vg__table_get(t, id, len, NULL, 0);
    if (!s)
        return -ENOENT;
    *ret_idx = s->a;
    return 0;
}

#define FIND(name, table)                                                                          \
    int vg_model_find_##name(const vg_model *m, const char *id, uint32_t *ret_idx)                 \
    {                                                                                              \
        return find(m, m ? &m->table : NULL, id, id ? strlen(id) : 0, ret_idx);                    \
    }                                                                                              \
    int vg_model_find_##name##_n(const vg_model *m, const char *id, size_t len, uint32_t *ret_idx) \
    {                                                                                              \
        return find(m, m ? &m->table : NULL, id, len, ret_idx);                                    \
    }

FIND(zone, t_zone)
FIND(line, t_line)
FIND(camera, t_camera)
FIND(sensor, t_sensor)
FIND(help_point, t_help_point)

int vg_model_find_profile(const vg_model *m, const char *id, uint32_t *ret_idx)
{
    return find(m, m ? &m->t_profile : NULL, id, id ? strlen(id) : 0, ret_idx);
}

int vg_model_find_phase(const vg_model *m, const char *id, uint32_t *ret_idx)
{
    return find(m, m ? &m->t_phase : NULL, id, id ? strlen(id) : 0, ret_idx);
}

int vg_model_camera_zone_slot(const vg_model *m, uint32_t camera, uint32_t zone, uint32_t *ret_slot)
{
    if (!m || !ret_slot || camera >= m->n_cameras || zone >= m->n_zones)
        return -EINVAL;
    const vg_camera *c = &m->cameras[camera];
    for (uint32_t i = 0; i < c->zone_count; i++)
        if (c->zones[i].zone == zone) {
            *ret_slot = i;
            return 0;
        }
    return -ENOENT;
}

int vg_model_find_frigate(const vg_model *m, const char *name, size_t len, uint32_t *ret_camera,
                          uint32_t *ret_zone)
{
    if (!m || !name || !ret_camera || !ret_zone)
        return -EINVAL;
    const vg__slot *s = vg__table_get(&m->t_frigate, name, len, NULL, 0);
    if (!s)
        return -ENOENT;
    *ret_camera = s->a;
    *ret_zone = s->b;
    return 0;
}

int vg_model_find_z2m_n(const vg_model *m, const char *device, size_t device_len, const char *field,
                        size_t field_len, uint32_t *ret_sensor)
{
    if (!m || !device || !field || !ret_sensor)
        return -EINVAL;
    const vg__slot *s = vg__table_get(&m->t_z2m, device, device_len, field, field_len);
    if (!s)
        return -ENOENT;
    *ret_sensor = s->a;
    return 0;
}

int vg_model_find_z2m(const vg_model *m, const char *device, const char *field,
                      uint32_t *ret_sensor)
{
    if (!device || !field)
        return -EINVAL;
    return vg_model_find_z2m_n(m, device, strlen(device), field, strlen(field), ret_sensor);
}

int vg_model_has_z2m_device(const vg_model *m, const char *device, size_t len)
{
    if (!m || !device)
        return -EINVAL;
    return vg__table_get(&m->t_z2m_device, device, len, NULL, 0) ? 0 : -ENOENT;
}

/* ---- thresholds in time ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

uint32_t vg_model_phase_at(const vg_model *m, int64_t t_ns)
{
    if (!m)
        return VG_MODEL_NONE;
    for (uint32_t i = 0; i < m->n_phases; i++) {
        const vg_phase *p = &m->phases[i];
        if (p->daily) {
            int64_t local_s = floor_div(t_ns, VG_NS_PER_S) + m->utc_offset_s;
            int64_t sod = local_s - floor_div(local_s, 86400) * 86400;
            int in = p->start_s < p->end_s ? (sod >= p->start_s && sod < p->end_s)
                                           : (sod >= p->start_s || sod < p->end_s);
            if (in)
                return i;
        } else if (t_ns >= p->start_s * VG_NS_PER_S && t_ns < p->end_s * VG_NS_PER_S) {
            return i;
        }
    }
    return VG_MODEL_NONE;
}

const vg_zone_limits *vg_model_zone_limits_at(const vg_model *m, uint32_t zone, int64_t t_ns)
{
    if (!m || zone >= m->n_zones)
        return NULL;
    uint32_t p = vg_model_phase_at(m, t_ns);
    const vg_zone *z = &m->zones[zone];
    return p == VG_MODEL_NONE ? &z->limits : &z->phase_limits[p];
}

enum vg_feed vg_model_feed(const vg_model *m, enum vg_alert_kind kind)
{
    if ((int)kind < 0 || kind >= VG_ALERT_KIND_COUNT)
        return VG_FEED_TECHNICAL;
    return m ? m->routes[kind] : vg__default_route(kind);
}

const char *vg_model_action(const vg_model *m, enum vg_alert_kind kind, uint32_t zone, char *buf,
                            size_t cap)
{
    const vg_zone *z = vg_model_zone(m, zone);
    const char *who = NULL;

    if (!cap)
        return buf;
    buf[0] = '\0';
    if (!z)
        return buf;
    switch (kind) {
    case VG_ALERT_DENSITY:
    case VG_ALERT_TREND_TO_CRITICAL:
    case VG_ALERT_FLOW:
    case VG_ALERT_PRESSURE:
    case VG_ALERT_OCCUPANCY:
        snprintf(buf, cap, "%s", z->action ? z->action : "");
        return buf;
    case VG_ALERT_HELP_MEDICAL:
    case VG_ALERT_WBGT:
        who = "Send a medic";
        break;
    case VG_ALERT_HELP_SECURITY:
        who = "Send security";
        break;
    case VG_ALERT_HELP_FIRE:
    case VG_ALERT_SMOKE:
        who = "Send the fire team";
        break;
    case VG_ALERT_HELP_OTHER:
        who = "Send a steward";
        break;
    default:
        return buf;
    }
    /* the route says how to reach the zone; without one, who to send is still the action */
    if (z->route && z->route[0])
        snprintf(buf, cap, "%s: %s", who, z->route);
    else
        snprintf(buf, cap, "%s to %s", who, z->name && z->name[0] ? z->name : z->id);
    return buf;
}
