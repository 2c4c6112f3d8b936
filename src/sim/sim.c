/* The venue simulator: people flowing on the zone graph, and the sensors, cameras, counting
 * lines and help points that watch them, stepped on a simulated event clock.
 *
 * DESIGN
 * Crowd: a fluid model. Each zone holds people grouped by goal: SEAT(s) (their stand s),
 * VISIT(s) (a concourse near stand s at half-time, then back to s) and EXIT(e) (leave through
 * entry zone e). Every step, people not at their goal walk toward it along a precomputed next
 * hop (shortest path in hops on the zone graph). How many leave a zone per step follows the
 * zone's walking speed at its density (Weidmann's fundamental diagram) over a crossing length
 * of sqrt(area); what crosses to the next zone is capped by the counting lines between them
 * (width x 82 p/m/min, 66 on stairs, as the model says) and by the room left in the next zone
 * before jam density. Queues form wherever inflow exceeds outflow, which is how a closed gate
 * or a blocked exit builds up: gradually, at the rate people keep arriving. People enter only
 * from outside into entry zones and leave only from entry zones, so the census is conserved.
 *
 * Day: arrivals spread over the ingress window (a trapezoid: ramp up, plateau, ramp down); at
 * half-time a share of every stand visits its concourse and returns; egress empties the
 * stands over the egress window, each stand through the gates its people came in by.
 *
 * Sources: each camera reports Poisson-noisy counts of the people in its covered fraction of
 * each zone (with a small per-camera bias) and a speed variance that rises with density;
 * sensors report a physical baseline (weather, crowd, match noise) plus slow drift and noise;
 * counting lines report whole crossings since their last message. Every source publishes at
 * its model period from a random phase. Incidents change the state or the sources.
 *
 * Determinism: one xoshiro256** stream seeded from cfg.seed, consumed in a fixed order; the
 * messages of a step are sorted by (event time, source kind, index) before they are emitted. */
#include "sim_priv.h"
#include "vigil/common.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JAM_DENSITY 6.0   /* p/m²: nobody can move into a zone this full */
#define JAM_STAIR 3.5     /* p/m² on stairs */
#define WALK_SPEED 1.34   /* m/s, free walking speed (Weidmann 1993) */
#define MIN_SPEED 0.1     /* m/s: a jam still shuffles */
#define OPENING_PMM 82.0  /* p/m/min through an opening that has no counting line */

enum goal_type { G_SEAT = 0, G_VISIT, G_EXIT };

typedef struct goal {
    uint8_t type;
    uint32_t zone; /* where the goal is reached */
    uint32_t home; /* SEAT, VISIT: stand index; EXIT: entry index */
} goal;

typedef struct edge {
    uint32_t to;
    double cap_base_ps; /* persons per second with every line open */
    uint32_t first_line; /* into sim.edge_lines */
    uint32_t n_lines;
} edge;

enum item_kind { IT_HELP = 0, IT_HEALTH, IT_CAMERA, IT_SENSOR, IT_LINE };

typedef struct item {
    int64_t t_ns;
    uint32_t kind;
    uint32_t group; /* z2m sensors of one device share a group: merged into one message */
    uint32_t idx;
    uint32_t aux;   /* HELP: incident; HEALTH: incident or UINT32_MAX for "ok" */
} item;

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

typedef struct inc_state {
    int active;
    int done;           /* one-shot incidents (help) emitted */
    double base_people; /* surge: people moved so far */
    double stuck_value;
    int stuck_have;
    /* truth, per candidate zone (two sides of a line; else [0]) */
    uint32_t zones[2];
    uint32_t n_zones;
    int64_t t_warn[2], t_crit[2];
    double peak[2], start_value[2];
    int64_t t_peak[2];
    double warn_level[2], crit_level[2];
} inc_state;

struct vg_sim {
    const vg_model *m;
    const vg_scenario *sc;
    vg_sim_cfg cfg;
    uint32_t nz, nl, nc, ns, nh;
    int64_t start_ns, now_ns, end_ns, step_ns, shift_ns;
    double dt;
    uint64_t rng[4];

    /* graph */
    edge *edges;          /* per zone, [edge_off[z], edge_off[z + 1]) */
    uint32_t *edge_off;
    uint32_t *edge_lines; /* line indices per edge */
    double *area, *jam_cap, *len_m;

    /* stands, entries, goals */
    uint32_t nst, nen, ng;
    uint32_t nst_seated; /* stand_zone[0 .. nst_seated) are real stands; the rest are surge goals */
    uint32_t *stand_zone, *entry_zone, *visit_zone;
    double *stand_target, *entry_share, *backlog;
    double *in_split;  /* [nen][nst]: share of entry e's arrivals going to stand s */
    double *out_split; /* [nst][nen]: share of stand s leaving by entry e */
    double *ht_base;   /* [nst]: people in the stand when half-time began */
    int ht_started;
    goal *goals;
    uint32_t *dist;    /* [ng][nz]: hops */
    double *route_sum; /* [ng][nz]: capacity of the shortest next hops toward the goal */
    double *P;         /* [nz][ng] people */
    double *dP;        /* scratch, same shape */
    double *people;    /* [nz] */
    double *edge_want; /* scratch per edge: wanted, then the share that may go */
    double *edge_orig; /* scratch per edge: wanted before capacity and room */
    double *edge_moved; /* scratch per edge: moved this step */
    double *inflow;    /* scratch per zone */
    double outside, departed, arrived_total, scheduled;

    /* sources */
    double *line_factor;         /* [nl] capacity left (1 open, 0 closed) */
    double *line_in, *line_out;  /* [nl] cumulative crossings, fractional */
    int64_t *line_in_pub, *line_out_pub;
    int64_t *line_due;
    int64_t *cam_due;
    double *cam_bias;
    int *cam_dead;               /* [nc] incident index + 1 while dead */
    int64_t *sen_due;
    double *sen_true, *sen_drift, *sen_last, *noise_laeq;
    int *sen_stuck;              /* incident index + 1 while stuck */
    uint32_t *sen_group;

    inc_state *inc;
    uint32_t ninc;

    item *items;
    size_t n_items, cap_items;
    buf out, topic, batch;
    uint32_t batch_n;
};

/* ---- random numbers: xoshiro256** seeded by splitmix64 ---- */

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rnd_u64(vg_sim *s)
{
    uint64_t *q = s->rng;
    uint64_t r = rotl(q[1] * 5, 7) * 9, t = q[1] << 17;
    q[2] ^= q[0];
    q[3] ^= q[1];
    q[1] ^= q[2];
    q[0] ^= q[3];
    q[2] ^= t;
    q[3] = rotl(q[3], 45);
    return r;
}

static double rnd_unit(vg_sim *s) /* [0, 1) */
{
    return (double)(rnd_u64(s) >> 11) * 0x1.0p-53;
}

static double rnd_normal(vg_sim *s)
{
    double u = rnd_unit(s), v = rnd_unit(s);
    return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * M_PI * v);
}

static double rnd_poisson(vg_sim *s, double lambda)
{
    if (!(lambda > 0))
        return 0;
    if (lambda < 30) {
        double l = exp(-lambda), p = 1.0;
        int k = 0;
        do {
            k++;
            p *= rnd_unit(s);
        } while (p > l);
        return k - 1;
    }
    double x = floor(lambda + sqrt(lambda) * rnd_normal(s) + 0.5);
    return x < 0 ? 0 : x;
}

/* ---- output buffers ---- */

static int buf_reserve(buf *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return -ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) < 0)
        return -ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

static void buf_reset(buf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

void vg__sim_fmt_ts(char *out, size_t len, int64_t t_ns)
{
    int64_t sec = t_ns / VG_NS_PER_S, ms = (t_ns % VG_NS_PER_S) / VG_NS_PER_MS;
    if (ms < 0) {
        sec -= 1;
        ms += 1000;
    }
    snprintf(out, len, "%lld.%03lld", (long long)sec, (long long)ms);
}

/* ---- setup ---- */

void vg_sim_cfg_default(vg_sim_cfg *ret)
{
    if (!ret)
        return;
    memset(ret, 0, sizeof(*ret));
    ret->seed = 1;
    ret->step_ns = VG_NS_PER_S;
    ret->batch_max = 500;
}

static int is_stand_type(enum vg_zone_type t)
{
    return t == VG_ZONE_SEATED || t == VG_ZONE_STANDING;
}

static double jam_density(const vg_zone *z)
{
    if (z->type == VG_ZONE_STAIR)
        return JAM_STAIR;
    if (z->type == VG_ZONE_SEATED)
        return z->capacity ? (double)z->capacity / z->area_m2 : 2.0;
    return JAM_DENSITY;
}

/* Adjacency: the model's neighbours plus any pair a counting line joins. */
static int build_graph(vg_sim *s)
{
    const vg_model *m = s->m;
    uint32_t total = 0, nlinks = 0;

    s->edge_off = calloc(s->nz + 1, sizeof(*s->edge_off));
    if (!s->edge_off)
        return -ENOMEM;
    for (uint32_t z = 0; z < s->nz; z++)
        total += vg_model_zone(m, z)->neighbour_count + vg_model_zone(m, z)->line_count;
    s->edges = calloc(total ? total : 1, sizeof(*s->edges));
    s->edge_lines = calloc(2 * (size_t)s->nl + 1, sizeof(*s->edge_lines));
    if (!s->edges || !s->edge_lines)
        return -ENOMEM;
    uint32_t ne = 0;
    for (uint32_t z = 0; z < s->nz; z++) {
        const vg_zone *zz = vg_model_zone(m, z);
        s->edge_off[z] = ne;
        /* candidates: neighbours then line partners, deduplicated */
        for (uint32_t pass = 0; pass < 2; pass++) {
            uint32_t n = pass == 0 ? zz->neighbour_count : zz->line_count;
            for (uint32_t k = 0; k < n; k++) {
                uint32_t to;
                if (pass == 0) {
                    to = zz->neighbours[k];
                } else {
                    const vg_line *l = vg_model_line(m, zz->lines[k]);
                    to = l->zone_from == z ? l->zone_to : l->zone_from;
                }
                if (to == z)
                    continue;
                int dup = 0;
                for (uint32_t e = s->edge_off[z]; e < ne; e++)
                    dup |= s->edges[e].to == to;
                if (dup)
                    continue;
                edge *e = &s->edges[ne++];
                e->to = to;
                e->first_line = nlinks;
                for (uint32_t li = 0; li < s->nl; li++) {
                    const vg_line *l = vg_model_line(m, li);
                    if ((l->zone_from == z && l->zone_to == to) ||
                        (l->zone_to == z && l->zone_from == to)) {
                        s->edge_lines[nlinks++] = li;
                        e->n_lines++;
                        e->cap_base_ps += l->width_m * l->ref_flow_pmm / 60.0;
                    }
                }
                if (e->n_lines == 0) {
                    const vg_zone *tz = vg_model_zone(m, to);
                    double w = sqrt(fmin(zz->area_m2, tz->area_m2));
                    double pmm = (zz->type == VG_ZONE_STAIR || tz->type == VG_ZONE_STAIR)
                                     ? 66.0
                                     : OPENING_PMM;
                    e->cap_base_ps = w * pmm / 60.0;
                }
            }
        }
    }
    s->edge_off[s->nz] = ne;
    s->edge_want = calloc(ne ? ne : 1, sizeof(*s->edge_want));
    s->edge_orig = calloc(ne ? ne : 1, sizeof(*s->edge_orig));
    s->edge_moved = calloc(ne ? ne : 1, sizeof(*s->edge_moved));
    return s->edge_want && s->edge_orig && s->edge_moved ? 0 : -ENOMEM;
}

/* Hop distances from zone `from` to every zone (UINT32_MAX: unreachable). */
static void bfs(const vg_sim *s, uint32_t from, uint32_t *dist, uint32_t *queue)
{
    uint32_t head = 0, tail = 0;
    for (uint32_t z = 0; z < s->nz; z++)
        dist[z] = UINT32_MAX;
    dist[from] = 0;
    queue[tail++] = from;
    while (head < tail) {
        uint32_t z = queue[head++];
        for (uint32_t e = s->edge_off[z]; e < s->edge_off[z + 1]; e++) {
            uint32_t to = s->edges[e].to;
            if (dist[to] == UINT32_MAX) {
                dist[to] = dist[z] + 1;
                queue[tail++] = to;
            }
        }
    }
}

static int pick_entries(vg_sim *s)
{
    const vg_model *m = s->m;
    const vg_scenario *sc = s->sc;

    s->entry_zone = calloc(s->nz, sizeof(*s->entry_zone));
    s->entry_share = calloc(s->nz, sizeof(*s->entry_share));
    if (!s->entry_zone || !s->entry_share)
        return -ENOMEM;
    if (sc->n_entries) {
        for (uint32_t i = 0; i < sc->n_entries; i++) {
            s->entry_zone[i] = sc->entries[i].zone;
            s->entry_share[i] = sc->entries[i].share;
        }
        s->nen = sc->n_entries;
        return 0;
    }
    /* Outermost zones: a line leaves them inward and none comes in (gate approaches). */
    double sum = 0;
    for (uint32_t z = 0; z < s->nz; z++) {
        const vg_zone *zz = vg_model_zone(m, z);
        int from = 0, to = 0;
        if (is_stand_type(zz->type))
            continue;
        for (uint32_t k = 0; k < zz->line_count; k++) {
            const vg_line *l = vg_model_line(m, zz->lines[k]);
            from |= l->zone_from == z;
            to |= l->zone_to == z;
        }
        if (from && !to) {
            s->entry_zone[s->nen] = z;
            s->entry_share[s->nen] = zz->area_m2;
            sum += zz->area_m2;
            s->nen++;
        }
    }
    for (uint32_t i = 0; i < s->nen; i++)
        s->entry_share[i] /= sum;
    return s->nen ? 0 : -EINVAL;
}

/* Spread the attendance over the stands by capacity, keeping every stand comfortably below
 * its warning density and 80 % of its capacity (water-filling). */
static void stand_targets(vg_sim *s)
{
    const vg_model *m = s->m;
    double left = s->sc->attendance;
    double *w = calloc(s->nst, sizeof(*w)), *cap = calloc(s->nst, sizeof(*cap));
    int *full = calloc(s->nst, sizeof(*full));

    if (!w || !cap || !full)
        goto out;
    for (uint32_t i = 0; i < s->nst; i++) {
        const vg_zone *z = vg_model_zone(m, s->stand_zone[i]);
        double c = z->capacity ? z->capacity : z->area_m2 * 2.0;
        if (i >= s->nst_seated) { /* a surge's goal: nobody is seated there before it */
            full[i] = 1;
            continue;
        }
        const vg_zone_limits *lim = &z->limits;
        double warn = lim->density.level[VG_GRADE_WARNING];
        w[i] = c;
        cap[i] = z->capacity ? 0.8 * z->capacity : 1e18;
        if (isfinite(warn))
            cap[i] = fmin(cap[i], 0.7 * warn * z->area_m2);
        if (z->type == VG_ZONE_STANDING)
            cap[i] = fmin(cap[i], 3.0 * z->area_m2);
    }
    for (int round = 0; round < 64 && left > 1e-9; round++) {
        double wsum = 0;
        int changed = 0;
        for (uint32_t i = 0; i < s->nst; i++)
            if (!full[i])
                wsum += w[i];
        if (wsum <= 0)
            break;
        for (uint32_t i = 0; i < s->nst; i++) {
            if (full[i])
                continue;
            double want = left * w[i] / wsum;
            if (s->stand_target[i] + want > cap[i]) {
                full[i] = 1;
                changed = 1;
            }
        }
        if (changed) {
            /* saturate the newly full ones and go round again with what is left */
            for (uint32_t i = 0; i < s->nst; i++)
                if (full[i] && s->stand_target[i] < cap[i]) {
                    left -= cap[i] - s->stand_target[i];
                    s->stand_target[i] = cap[i];
                }
            continue;
        }
        for (uint32_t i = 0; i < s->nst; i++)
            if (!full[i])
                s->stand_target[i] += left * w[i] / wsum;
        left = 0;
    }
    if (left > 1e-9) { /* oversold: everyone squeezes in by capacity */
        double wsum = 0;
        for (uint32_t i = 0; i < s->nst; i++)
            wsum += w[i];
        for (uint32_t i = 0; i < s->nst; i++)
            s->stand_target[i] += left * w[i] / wsum;
    }
out:
    free(w);
    free(cap);
    free(full);
}

/* Entry -> stand shares: near gates preferred, each stand filled to its target, each entry
 * carrying its share (Sinkhorn balancing of exp(-hops)). */
static void ingress_split(vg_sim *s, const uint32_t *dist_entry /* [nen][nz] */)
{
    double tot = 0;
    for (uint32_t j = 0; j < s->nst; j++)
        tot += s->stand_target[j];
    for (uint32_t e = 0; e < s->nen; e++)
        for (uint32_t j = 0; j < s->nst; j++) {
            uint32_t d = dist_entry[(size_t)e * s->nz + s->stand_zone[j]];
            s->in_split[(size_t)e * s->nst + j] = d == UINT32_MAX ? 0 : exp(-0.7 * d);
        }
    for (int it = 0; it < 200; it++) {
        for (uint32_t e = 0; e < s->nen; e++) {
            double r = 0;
            for (uint32_t j = 0; j < s->nst; j++)
                r += s->in_split[(size_t)e * s->nst + j];
            for (uint32_t j = 0; j < s->nst; j++)
                if (r > 0)
                    s->in_split[(size_t)e * s->nst + j] *= s->entry_share[e] / r;
        }
        for (uint32_t j = 0; j < s->nst; j++) {
            double c = 0, want = tot > 0 ? s->stand_target[j] / tot : 0;
            for (uint32_t e = 0; e < s->nen; e++)
                c += s->in_split[(size_t)e * s->nst + j];
            for (uint32_t e = 0; e < s->nen; e++)
                if (c > 0)
                    s->in_split[(size_t)e * s->nst + j] *= want / c;
        }
    }
    /* joint flows -> egress by the same gates; rows of in_split -> per-entry shares */
    for (uint32_t j = 0; j < s->nst; j++) {
        double c = 0;
        for (uint32_t e = 0; e < s->nen; e++)
            c += s->in_split[(size_t)e * s->nst + j];
        for (uint32_t e = 0; e < s->nen; e++)
            s->out_split[(size_t)j * s->nen + e] =
                c > 0 ? s->in_split[(size_t)e * s->nst + j] / c : 1.0 / s->nen;
    }
    for (uint32_t e = 0; e < s->nen; e++) {
        double r = 0;
        for (uint32_t j = 0; j < s->nst; j++)
            r += s->in_split[(size_t)e * s->nst + j];
        for (uint32_t j = 0; j < s->nst; j++)
            s->in_split[(size_t)e * s->nst + j] = r > 0 ? s->in_split[(size_t)e * s->nst + j] / r
                                                        : 0;
    }
}

static int build_goals(vg_sim *s)
{
    const vg_model *m = s->m;
    uint32_t *queue = NULL, *dz = NULL;
    int r = -ENOMEM;

    s->stand_zone = calloc(s->nz, sizeof(*s->stand_zone));
    s->visit_zone = calloc(s->nz, sizeof(*s->visit_zone));
    s->stand_target = calloc(s->nz, sizeof(*s->stand_target));
    s->ht_base = calloc(s->nz, sizeof(*s->ht_base));
    if (!s->stand_zone || !s->visit_zone || !s->stand_target || !s->ht_base)
        return -ENOMEM;
    if ((r = pick_entries(s)) < 0)
        return r;
    /* stands: seats and standing areas people come for (an entry plaza is no destination) */
    for (uint32_t z = 0; z < s->nz; z++) {
        int entry = 0;
        for (uint32_t e = 0; e < s->nen; e++)
            entry |= s->entry_zone[e] == z;
        if (!entry && is_stand_type(vg_model_zone(m, z)->type))
            s->stand_zone[s->nst++] = z;
    }
    s->nst_seated = s->nst;
    /* a surge may pull people into a zone that is no stand: it becomes a goal too, with no
     * share of the attendance (stand_targets) */
    for (uint32_t i = 0; i < s->ninc; i++) {
        const vg_incident *in = vg_scenario_incident(s->sc, i);
        int have = 0;
        if (in->type != VG_INCIDENT_SURGE)
            continue;
        for (uint32_t j = 0; j < s->nst; j++)
            have |= s->stand_zone[j] == in->zone;
        if (!have)
            s->stand_zone[s->nst++] = in->zone;
    }
    if (s->nst == 0)
        return -EINVAL;
    r = -ENOMEM;
    queue = calloc(s->nz, sizeof(*queue));
    dz = calloc((size_t)s->nz * (s->nst + s->nen), sizeof(*dz));
    if (!queue || !dz)
        goto out;
    for (uint32_t j = 0; j < s->nst; j++)
        bfs(s, s->stand_zone[j], dz + (size_t)j * s->nz, queue);
    for (uint32_t e = 0; e < s->nen; e++)
        bfs(s, s->entry_zone[e], dz + (size_t)(s->nst + e) * s->nz, queue);

    /* half-time destination: the largest moving zone within three hops of a seated stand
     * (standing crowds have their bars and food inside their own area) */
    for (uint32_t j = 0; j < s->nst; j++) {
        uint32_t best = VG_MODEL_NONE;
        if (vg_model_zone(m, s->stand_zone[j])->type != VG_ZONE_SEATED) {
            s->visit_zone[j] = VG_MODEL_NONE;
            continue;
        }
        double best_area = 0;
        for (uint32_t z = 0; z < s->nz; z++) {
            const vg_zone *zz = vg_model_zone(m, z);
            uint32_t d = dz[(size_t)j * s->nz + z];
            int entry = 0;
            for (uint32_t e = 0; e < s->nen; e++)
                entry |= s->entry_zone[e] == z;
            if (zz->type != VG_ZONE_MOVING || entry || d == 0 || d > 3)
                continue;
            if (zz->area_m2 > best_area) {
                best_area = zz->area_m2;
                best = z;
            }
        }
        s->visit_zone[j] = best;
    }

    s->ng = 2 * s->nst + s->nen;
    s->goals = calloc(s->ng, sizeof(*s->goals));
    s->dist = calloc((size_t)s->ng * s->nz, sizeof(*s->dist));
    s->route_sum = calloc((size_t)s->ng * s->nz, sizeof(*s->route_sum));
    s->P = calloc((size_t)s->ng * s->nz, sizeof(*s->P));
    s->dP = calloc((size_t)s->ng * s->nz, sizeof(*s->dP));
    s->in_split = calloc((size_t)s->nen * s->nst, sizeof(*s->in_split));
    s->out_split = calloc((size_t)s->nen * s->nst, sizeof(*s->out_split));
    s->backlog = calloc(s->nen, sizeof(*s->backlog));
    if (!s->goals || !s->dist || !s->route_sum || !s->P || !s->dP || !s->in_split ||
        !s->out_split || !s->backlog)
        goto out;
    for (uint32_t j = 0; j < s->nst; j++) {
        s->goals[j] = (goal){G_SEAT, s->stand_zone[j], j};
        s->goals[s->nst + j] = (goal){G_VISIT,
                                      s->visit_zone[j] == VG_MODEL_NONE ? s->stand_zone[j]
                                                                        : s->visit_zone[j],
                                      j};
    }
    for (uint32_t e = 0; e < s->nen; e++)
        s->goals[2 * s->nst + e] = (goal){G_EXIT, s->entry_zone[e], e};
    for (uint32_t g = 0; g < s->ng; g++) {
        uint32_t *dist = s->dist + (size_t)g * s->nz;
        bfs(s, s->goals[g].zone, dist, queue);
        for (uint32_t z = 0; z < s->nz; z++)
            for (uint32_t e = s->edge_off[z]; e < s->edge_off[z + 1]; e++)
                if (dist[z] != UINT32_MAX && dist[s->edges[e].to] + 1 == dist[z])
                    s->route_sum[(size_t)g * s->nz + z] += s->edges[e].cap_base_ps;
    }
    stand_targets(s);
    ingress_split(s, dz + (size_t)s->nst * s->nz);
    /* An entry with no route to any stand would take arrivals that then vanish from the
     * census: refuse the day instead. */
    r = 0;
    for (uint32_t e = 0; e < s->nen && r == 0; e++) {
        double row = 0;
        for (uint32_t j = 0; j < s->nst; j++)
            row += s->in_split[(size_t)e * s->nst + j];
        if (!(row > 0))
            r = -EINVAL;
    }
out:
    free(queue);
    free(dz);
    return r;
}

static int setup_sources(vg_sim *s)
{
    const vg_model *m = s->m;

    s->line_factor = calloc(s->nl + 1, sizeof(double));
    s->line_in = calloc(s->nl + 1, sizeof(double));
    s->line_out = calloc(s->nl + 1, sizeof(double));
    s->line_in_pub = calloc(s->nl + 1, sizeof(int64_t));
    s->line_out_pub = calloc(s->nl + 1, sizeof(int64_t));
    s->line_due = calloc(s->nl + 1, sizeof(int64_t));
    s->cam_due = calloc(s->nc + 1, sizeof(int64_t));
    s->cam_bias = calloc(s->nc + 1, sizeof(double));
    s->cam_dead = calloc(s->nc + 1, sizeof(int));
    s->sen_due = calloc(s->ns + 1, sizeof(int64_t));
    s->sen_true = calloc(s->ns + 1, sizeof(double));
    s->sen_drift = calloc(s->ns + 1, sizeof(double));
    s->sen_last = calloc(s->ns + 1, sizeof(double));
    s->noise_laeq = calloc(s->ns + 1, sizeof(double));
    s->sen_stuck = calloc(s->ns + 1, sizeof(int));
    s->sen_group = calloc(s->ns + 1, sizeof(uint32_t));
    s->people = calloc(s->nz, sizeof(double));
    s->inflow = calloc(s->nz, sizeof(double));
    s->area = calloc(s->nz, sizeof(double));
    s->jam_cap = calloc(s->nz, sizeof(double));
    s->len_m = calloc(s->nz, sizeof(double));
    if (!s->line_factor || !s->line_in || !s->line_out || !s->line_in_pub ||
        !s->line_out_pub || !s->line_due || !s->cam_due || !s->cam_bias || !s->cam_dead ||
        !s->sen_due || !s->sen_true || !s->sen_drift || !s->sen_last || !s->noise_laeq ||
        !s->sen_stuck || !s->sen_group || !s->people || !s->inflow || !s->area ||
        !s->jam_cap || !s->len_m)
        return -ENOMEM;
    for (uint32_t z = 0; z < s->nz; z++) {
        const vg_zone *zz = vg_model_zone(m, z);
        s->area[z] = zz->area_m2;
        s->jam_cap[z] = jam_density(zz) * zz->area_m2;
        s->len_m[z] = sqrt(zz->area_m2);
    }
    int64_t lp = (int64_t)llround(s->sc->line_period_s * 1e9);
    for (uint32_t l = 0; l < s->nl; l++) {
        s->line_factor[l] = 1.0;
        s->line_due[l] = s->start_ns + (int64_t)(rnd_unit(s) * (double)lp);
    }
    for (uint32_t c = 0; c < s->nc; c++) {
        const vg_camera *cam = vg_model_camera(m, c);
        s->cam_due[c] = s->start_ns + (int64_t)(rnd_unit(s) * (double)cam->period_ns);
        s->cam_bias[c] = 1.0 + 0.03 * rnd_normal(s); /* lens, angle: a few % off */
    }
    for (uint32_t i = 0; i < s->ns; i++) {
        const vg_sensor *sn = vg_model_sensor(m, i);
        s->sen_group[i] = i;
        if (sn->z2m_device && !s->cfg.native_only)
            for (uint32_t k = 0; k < i; k++) {
                const vg_sensor *o = vg_model_sensor(m, k);
                if (o->z2m_device && strcmp(o->z2m_device, sn->z2m_device) == 0 &&
                    o->period_ns == sn->period_ns) {
                    s->sen_group[i] = s->sen_group[k];
                    break;
                }
            }
        /* one device reports all its fields at once: same phase */
        if (s->sen_group[i] != i)
            s->sen_due[i] = s->sen_due[s->sen_group[i]];
        else
            s->sen_due[i] = s->start_ns + (int64_t)(rnd_unit(s) * (double)sn->period_ns);
        s->noise_laeq[i] = NAN;
    }
    return 0;
}

void vg_sim_free(vg_sim **sp)
{
    vg_sim *s;

    if (!sp || !*sp)
        return;
    s = *sp;
    free(s->edges);
    free(s->edge_off);
    free(s->edge_lines);
    free(s->area);
    free(s->jam_cap);
    free(s->len_m);
    free(s->stand_zone);
    free(s->entry_zone);
    free(s->visit_zone);
    free(s->stand_target);
    free(s->entry_share);
    free(s->backlog);
    free(s->in_split);
    free(s->out_split);
    free(s->ht_base);
    free(s->goals);
    free(s->dist);
    free(s->route_sum);
    free(s->P);
    free(s->dP);
    free(s->people);
    free(s->edge_want);
    free(s->edge_orig);
    free(s->edge_moved);
    free(s->inflow);
    free(s->line_factor);
    free(s->line_in);
    free(s->line_out);
    free(s->line_in_pub);
    free(s->line_out_pub);
    free(s->line_due);
    free(s->cam_due);
    free(s->cam_bias);
    free(s->cam_dead);
    free(s->sen_due);
    free(s->sen_true);
    free(s->sen_drift);
    free(s->sen_last);
    free(s->noise_laeq);
    free(s->sen_stuck);
    free(s->sen_group);
    free(s->inc);
    free(s->items);
    free(s->out.p);
    free(s->topic.p);
    free(s->batch.p);
    free(s);
    *sp = NULL;
}

static void init_truth(vg_sim *s)
{
    const vg_model *m = s->m;
    for (uint32_t i = 0; i < s->ninc; i++) {
        const vg_incident *in = vg_scenario_incident(s->sc, i);
        inc_state *st = &s->inc[i];
        if (in->zone != VG_MODEL_NONE) {
            st->zones[0] = in->zone;
            st->n_zones = 1;
        } else { /* a line: either side may be the one that builds up */
            const vg_line *l = vg_model_line(m, in->target_idx);
            st->zones[0] = in->type == VG_INCIDENT_EXIT_BLOCKED ? l->zone_to : l->zone_from;
            st->zones[1] = in->type == VG_INCIDENT_EXIT_BLOCKED ? l->zone_from : l->zone_to;
            st->n_zones = 2;
        }
        for (int k = 0; k < 2; k++) {
            st->peak[k] = -INFINITY;
            st->start_value[k] = NAN;
            st->warn_level[k] = NAN;
            st->crit_level[k] = NAN;
        }
    }
}

int vg_sim_new(const vg_model *m, const vg_scenario *sc, const vg_sim_cfg *cfg, vg_sim **ret)
{
    vg_sim *s;
    uint64_t seed;
    int r;

    if (!m || !sc || !ret || sc->model != m)
        return -EINVAL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    if (cfg)
        s->cfg = *cfg;
    else
        vg_sim_cfg_default(&s->cfg);
    /* A flag, not 0, says "the scenario's start": 1970-01-01T00:00:00Z is an instant too. */
    if (s->cfg.step_ns <= 0 || s->cfg.step_ns > 10 * VG_NS_PER_S ||
        (s->cfg.have_start && s->cfg.start_ns < 0)) {
        free(s);
        return -EINVAL;
    }
    if (s->cfg.batch_max == 0)
        s->cfg.batch_max = 500;
    s->m = m;
    s->sc = sc;
    s->nz = vg_model_zone_count(m);
    s->nl = vg_model_line_count(m);
    s->nc = vg_model_camera_count(m);
    s->ns = vg_model_sensor_count(m);
    s->nh = vg_model_help_point_count(m);
    s->ninc = sc->n_incidents;
    s->step_ns = s->cfg.step_ns;
    s->dt = (double)s->step_ns / 1e9;
    s->start_ns = s->cfg.have_start ? s->cfg.start_ns : sc->start_ns;
    s->shift_ns = s->start_ns - sc->start_ns;
    s->now_ns = s->start_ns;
    s->end_ns = s->start_ns + sc->duration_ns;
    seed = s->cfg.seed;
    for (int i = 0; i < 4; i++)
        s->rng[i] = splitmix(&seed);
    s->outside = sc->attendance;
    r = -EINVAL;
    if (s->nz == 0)
        goto fail;
    s->inc = calloc(s->ninc + 1, sizeof(*s->inc));
    if (!s->inc)
        goto nomem;
    if ((r = build_graph(s)) < 0 || (r = build_goals(s)) < 0 || (r = setup_sources(s)) < 0)
        goto fail;
    init_truth(s);
    *ret = s;
    return 0;
nomem:
    r = -ENOMEM;
fail:
    vg_sim_free(&s);
    return r;
}

/* ---- the day ---- */

/* Seconds since the scenario's start at event time t. */
static double day_s(const vg_sim *s, int64_t t_ns)
{
    return (double)(t_ns - s->start_ns) / 1e9;
}

/* Share of the ingress that has arrived by x in [0,1]: a trapezoid, ramps of a quarter. */
static double arrival_cdf(double x)
{
    const double a = 0.25, h = 1.0 / (1.0 - a); /* plateau height */
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    if (x < a)
        return h * x * x / (2 * a);
    if (x <= 1 - a)
        return h * (a / 2 + (x - a));
    double y = 1 - x;
    return 1 - h * y * y / (2 * a);
}

static int64_t inc_start(const vg_sim *s, const vg_incident *in)
{
    return in->t_start_ns + s->shift_ns;
}

static int64_t inc_end(const vg_sim *s, const vg_incident *in)
{
    return in->t_end_ns + s->shift_ns;
}

static int inc_active(const vg_sim *s, const vg_incident *in, int64_t t)
{
    return t >= inc_start(s, in) && t < inc_end(s, in);
}

static void arrivals(vg_sim *s, double t0, double t1)
{
    const vg__window *w = &s->sc->ingress;
    double span = w->to_s - w->from_s;
    double due = s->sc->attendance *
                 (arrival_cdf((t1 - w->from_s) / span) - arrival_cdf((t0 - w->from_s) / span));
    if (due > s->outside - s->scheduled)
        due = s->outside - s->scheduled;
    if (due > 0) {
        for (uint32_t e = 0; e < s->nen; e++)
            s->backlog[e] += due * s->entry_share[e];
        s->scheduled += due;
    }
    /* people waiting outside step in while there is room */
    for (uint32_t e = 0; e < s->nen; e++) {
        uint32_t z = s->entry_zone[e];
        double room = s->jam_cap[z] - s->people[z];
        double in = fmin(s->backlog[e], room > 0 ? room : 0);
        if (in <= 0)
            continue;
        for (uint32_t j = 0; j < s->nst; j++)
            s->P[(size_t)z * s->ng + j] += in * s->in_split[(size_t)e * s->nst + j];
        s->backlog[e] -= in;
        s->scheduled -= in;
        s->outside -= in;
        s->arrived_total += in;
        s->people[z] += in;
    }
}

static void half_time(vg_sim *s, double t0)
{
    const vg__window *w = &s->sc->half_time;
    double span, ramp;

    if (w->to_s <= w->from_s || t0 < w->from_s)
        return;
    /* out over the first half of the break, back over the last 40 %: a concourse fills
     * over minutes, as it does when people queue for food and toilets */
    span = w->to_s - w->from_s;
    ramp = 0.5 * span;
    if (!s->ht_started) {
        for (uint32_t j = 0; j < s->nst; j++)
            s->ht_base[j] = s->P[(size_t)s->stand_zone[j] * s->ng + j];
        s->ht_started = 1;
    }
    for (uint32_t j = 0; j < s->nst; j++) {
        if (s->visit_zone[j] == VG_MODEL_NONE)
            continue;
        size_t seat = (size_t)s->stand_zone[j] * s->ng + j;
        if (t0 < w->from_s + ramp) {
            double go = fmin(s->P[seat], s->sc->half_time_share * s->ht_base[j] * s->dt / ramp);
            s->P[seat] -= go;
            s->P[seat + s->nst] += go; /* VISIT(j) is goal nst + j */
        }
        /* back to the seats, everyone by the end of the break */
        if (t0 >= w->from_s + 0.6 * span) {
            double left = w->to_s - t0;
            double frac = left > s->dt ? s->dt / left : 1.0;
            for (uint32_t z = 0; z < s->nz; z++) {
                size_t v = (size_t)z * s->ng + s->nst + j;
                double back = s->P[v] * frac;
                s->P[v] -= back;
                s->P[v - s->nst] += back;
            }
        }
    }
}

static void egress(vg_sim *s, double t0)
{
    const vg__window *w = &s->sc->egress;
    double left, frac;

    if (t0 < w->from_s)
        return;
    left = w->to_s - t0;
    frac = left > s->dt ? s->dt / left : 1.0;
    for (uint32_t z = 0; z < s->nz; z++)
        for (uint32_t j = 0; j < s->nst; j++)
            for (int v = 0; v < 2; v++) {
                size_t k = (size_t)z * s->ng + j + (size_t)v * s->nst;
                double go = s->P[k] * frac;
                if (go <= 0)
                    continue;
                s->P[k] -= go;
                for (uint32_t e = 0; e < s->nen; e++)
                    s->P[(size_t)z * s->ng + 2 * s->nst + e] +=
                        go * s->out_split[(size_t)j * s->nen + e];
            }
}

/* A surge: people from the stands around pour into the zone, magnitude p/m² in all. They
 * come over the first 60 % of the incident, but never faster than 80 % of what the zone's
 * entrances pass, so the build-up is in the zone itself and takes minutes, as real ones do. */
static void surge(vg_sim *s, uint32_t i, const vg_incident *in, int64_t t)
{
    inc_state *st = &s->inc[i];
    uint32_t target = VG_MODEL_NONE, z = in->zone;
    double ramp = 0.6 * (double)(inc_end(s, in) - inc_start(s, in)) / 1e9;
    double total = in->magnitude * s->area[z], entrances = 0, pool = 0;

    (void)t;
    for (uint32_t j = 0; j < s->nst; j++)
        if (s->stand_zone[j] == z)
            target = j;
    if (target == VG_MODEL_NONE || st->base_people >= total)
        return;
    for (uint32_t n = 0; n < s->nz; n++)
        for (uint32_t e = s->edge_off[n]; e < s->edge_off[n + 1]; e++)
            if (s->edges[e].to == z)
                entrances += s->edges[e].cap_base_ps;
    double want = fmin(total - st->base_people, s->dt * fmin(total / ramp, 0.8 * entrances));
    /* donors: seated people of the stands within six hops, in proportion to their number */
    const uint32_t *dist = s->dist + (size_t)target * s->nz;
    for (uint32_t j = 0; j < s->nst; j++)
        if (j != target && dist[s->stand_zone[j]] <= 6)
            pool += s->P[(size_t)s->stand_zone[j] * s->ng + j];
    if (pool <= 0)
        return;
    want = fmin(want, pool);
    for (uint32_t j = 0; j < s->nst; j++) {
        uint32_t d = s->stand_zone[j];
        if (j == target || dist[d] > 6)
            continue;
        size_t k = (size_t)d * s->ng + j;
        double go = s->P[k] * want / pool;
        s->P[k] -= go;
        s->P[(size_t)d * s->ng + target] += go;
        st->base_people += go;
    }
}

static double walk_speed(double density)
{
    if (density < 0.1)
        return WALK_SPEED;
    if (density >= 5.4)
        return MIN_SPEED;
    double v = WALK_SPEED * (1.0 - exp(-1.913 * (1.0 / density - 1.0 / 5.4)));
    return v > MIN_SPEED ? v : MIN_SPEED;
}

/* Share of (zone z, goal g)'s walkers taking edge e: every shortest next hop, by its
 * capacity with all lines open (people do not know a gate is shut until they get there).
 * Returns 0 when e is not on a shortest path. */
static double route_share(const vg_sim *s, uint32_t z, uint32_t g, uint32_t e)
{
    const uint32_t *dist = s->dist + (size_t)g * s->nz;
    double sum = s->route_sum[(size_t)g * s->nz + z];
    if (dist[z] == 0 || dist[z] == UINT32_MAX || dist[s->edges[e].to] + 1 != dist[z])
        return 0;
    return sum > 0 ? s->edges[e].cap_base_ps / sum : 0;
}

static double leave_fraction(const vg_sim *s, uint32_t z)
{
    return fmin(1.0, s->dt * walk_speed(s->people[z] / s->area[z]) / s->len_m[z]);
}

static void move(vg_sim *s)
{
    size_t cells = (size_t)s->nz * s->ng;
    uint32_t ne = s->edge_off[s->nz];

    memset(s->dP, 0, cells * sizeof(*s->dP));
    memset(s->edge_want, 0, ne * sizeof(*s->edge_want));
    memset(s->edge_orig, 0, ne * sizeof(*s->edge_orig));
    memset(s->inflow, 0, s->nz * sizeof(*s->inflow));

    /* 1. what each zone's walkers would send along each edge */
    for (uint32_t z = 0; z < s->nz; z++) {
        double frac = leave_fraction(s, z);
        for (uint32_t g = 0; g < s->ng; g++) {
            double p = s->P[(size_t)z * s->ng + g];
            if (p <= 0)
                continue;
            for (uint32_t e = s->edge_off[z]; e < s->edge_off[z + 1]; e++)
                s->edge_orig[e] += p * frac * route_share(s, z, g, e);
        }
    }
    /* 2. edge capacity (its counting lines, as open as incidents leave them) */
    for (uint32_t z = 0; z < s->nz; z++)
        for (uint32_t e = s->edge_off[z]; e < s->edge_off[z + 1]; e++) {
            edge *ed = &s->edges[e];
            double cap = ed->cap_base_ps;
            if (ed->n_lines) {
                cap = 0;
                for (uint32_t k = 0; k < ed->n_lines; k++) {
                    uint32_t li = s->edge_lines[ed->first_line + k];
                    const vg_line *l = vg_model_line(s->m, li);
                    cap += l->width_m * l->ref_flow_pmm / 60.0 * s->line_factor[li];
                }
            }
            s->edge_want[e] = fmin(s->edge_orig[e], cap * s->dt);
            s->inflow[ed->to] += s->edge_want[e];
        }
    /* 3. scale each edge by the room left in its receiver, then move goal by goal */
    for (uint32_t e = 0; e < ne; e++) {
        uint32_t to = s->edges[e].to;
        double room = s->jam_cap[to] - s->people[to];
        room = room > 0 ? room : 0;
        if (s->inflow[to] > room)
            s->edge_want[e] *= room / s->inflow[to];
        s->edge_want[e] = s->edge_orig[e] > 0 ? s->edge_want[e] / s->edge_orig[e] : 0;
        s->edge_moved[e] = 0;
    }
    for (uint32_t z = 0; z < s->nz; z++) {
        double frac = leave_fraction(s, z);
        for (uint32_t g = 0; g < s->ng; g++) {
            double p = s->P[(size_t)z * s->ng + g];
            if (p <= 0)
                continue;
            for (uint32_t e = s->edge_off[z]; e < s->edge_off[z + 1]; e++) {
                double share = route_share(s, z, g, e);
                if (share <= 0 || s->edge_want[e] <= 0)
                    continue;
                double f = p * frac * share * s->edge_want[e];
                s->dP[(size_t)z * s->ng + g] -= f;
                s->dP[(size_t)s->edges[e].to * s->ng + g] += f;
                s->edge_moved[e] += f;
            }
        }
    }
    /* 4. the counting lines on each edge see its people, split by their open width */
    for (uint32_t z = 0; z < s->nz; z++)
        for (uint32_t e = s->edge_off[z]; e < s->edge_off[z + 1]; e++) {
            edge *ed = &s->edges[e];
            double wsum = 0, moved = s->edge_moved[e];
            if (!ed->n_lines || moved <= 0)
                continue;
            for (uint32_t k = 0; k < ed->n_lines; k++) {
                uint32_t li = s->edge_lines[ed->first_line + k];
                const vg_line *l = vg_model_line(s->m, li);
                wsum += l->width_m * l->ref_flow_pmm * s->line_factor[li];
            }
            for (uint32_t k = 0; k < ed->n_lines && wsum > 0; k++) {
                uint32_t li = s->edge_lines[ed->first_line + k];
                const vg_line *l = vg_model_line(s->m, li);
                double f = moved * l->width_m * l->ref_flow_pmm * s->line_factor[li] / wsum;
                if (l->zone_from == z)
                    s->line_in[li] += f;
                else
                    s->line_out[li] += f;
            }
        }
    for (size_t k = 0; k < cells; k++) {
        s->P[k] += s->dP[k];
        if (s->P[k] < 0 && s->P[k] > -1e-9)
            s->P[k] = 0;
    }
    /* 5. leaving: people with an exit goal walk out of their entry zone */
    for (uint32_t e = 0; e < s->nen; e++) {
        uint32_t z = s->entry_zone[e];
        size_t k = (size_t)z * s->ng + 2 * s->nst + e;
        double out = s->P[k] * leave_fraction(s, z);
        s->P[k] -= out;
        s->departed += out;
    }
    for (uint32_t z = 0; z < s->nz; z++) {
        double sum = 0;
        for (uint32_t g = 0; g < s->ng; g++)
            sum += s->P[(size_t)z * s->ng + g];
        s->people[z] = sum;
    }
}

/* ---- sensors ---- */

static double sensor_sigma(const vg_sensor *sn)
{
    switch (sn->kind) {
    case VG_SENSOR_TEMPERATURE: return 0.1;
    case VG_SENSOR_HUMIDITY: return 0.6;
    case VG_SENSOR_WBGT: return 0.1;
    case VG_SENSOR_CO2: return 8.0;
    case VG_SENSOR_NOISE: return 0.4;
    case VG_SENSOR_SMOKE: return 0.0;
    case VG_SENSOR_DOOR: return 0.0;
    case VG_SENSOR_VIBRATION: return 0.05;
    case VG_SENSOR_WATER_TEMPERATURE: return 0.05;
    case VG_SENSOR_PM25: return 0.8;
    case VG_SENSOR_WIND: return 0.4;
    default: return 0.005 * (sn->max - sn->min);
    }
}

/* How full a zone is, 0..1: against its capacity, or 2 p/m². */
static double fill(const vg_sim *s, uint32_t z)
{
    const vg_zone *zz = vg_model_zone(s->m, z);
    double f = zz->capacity ? s->people[z] / zz->capacity : s->people[z] / (2.0 * s->area[z]);
    return f < 0 ? 0 : (f > 1 ? 1 : f);
}

/* The noise-free value of sensor i at t: the physics, then incidents. */
static double sensor_truth(vg_sim *s, uint32_t i, int64_t t)
{
    const vg_sensor *sn = vg_model_sensor(s->m, i);
    const vg_scenario *sc = s->sc;
    double x = day_s(s, t), f = fill(s, sn->zone), v;
    int match = x >= sc->kickoff_s && x < sc->egress.from_s;
    double adv = sn->limit.level[VG_GRADE_ADVISORY];

    switch (sn->kind) {
    case VG_SENSOR_TEMPERATURE: v = sc->temperature_c + 1.0 * f; break;
    case VG_SENSOR_HUMIDITY: v = sc->humidity_pct + 3.0 * f; break;
    case VG_SENSOR_WBGT: v = sc->wbgt_c + 0.8 * f; break;
    case VG_SENSOR_CO2: v = 430.0 + 280.0 * f; break;
    case VG_SENSOR_NOISE: v = 58.0 + 24.0 * f + (match ? 6.0 : 0.0); break;
    case VG_SENSOR_SMOKE: v = 0; break;
    case VG_SENSOR_DOOR: v = 0; break;
    case VG_SENSOR_VIBRATION: v = 0.2 + 1.2 * f + (match ? 0.4 : 0.0); break;
    case VG_SENSOR_WATER_TEMPERATURE: v = 27.0; break;
    case VG_SENSOR_PM25: v = 8.0 + 4.0 * f; break;
    case VG_SENSOR_WIND: v = 3.0; break;
    default: v = sn->min + 0.3 * (sn->max - sn->min); break;
    }
    /* a quiet day stays clear of the lowest static limit */
    if (isfinite(adv) && v > adv - 6 * sensor_sigma(sn) - 0.02 * fabs(adv))
        v = adv - 6 * sensor_sigma(sn) - 0.02 * fabs(adv);
    if (sn->kind == VG_SENSOR_NOISE) { /* LAeq: a slow average */
        if (isnan(s->noise_laeq[i]))
            s->noise_laeq[i] = v;
        s->noise_laeq[i] += (v - s->noise_laeq[i]) * fmin(1.0, (double)sn->period_ns / 1e9 / 300.0);
        v = s->noise_laeq[i];
    }
    for (uint32_t k = 0; k < s->ninc; k++) {
        const vg_incident *in = vg_scenario_incident(sc, k);
        double since = (double)(t - inc_start(s, in)) / 1e9;
        double dur = (double)(inc_end(s, in) - inc_start(s, in)) / 1e9;
        double after = (double)(t - inc_end(s, in)) / 1e9;
        double level;
        if (in->zone != sn->zone || since < 0)
            continue;
        if (in->type == VG_INCIDENT_HEAT_WAVE) {
            /* sun and still air: rises over 70 % of the incident, eases off in 10 min */
            level = fmin(1.0, since / (0.7 * dur));
            if (after > 0)
                level = fmax(0.0, 1.0 - after / 600.0);
            if (sn->kind == VG_SENSOR_WBGT)
                v += in->magnitude * level;
            else if (sn->kind == VG_SENSOR_TEMPERATURE)
                v += 0.8 * in->magnitude * level;
            else if (sn->kind == VG_SENSOR_HUMIDITY)
                v -= 0.5 * in->magnitude * level;
        } else if (in->type == VG_INCIDENT_VENTILATION_FAILURE && sn->kind == VG_SENSOR_CO2) {
            /* a room filling with breath: first-order rise, 95 % by the incident's end */
            level = 1.0 - exp(-3.0 * fmin(since, dur) / dur);
            if (after > 0)
                level *= exp(-after / 300.0);
            v += in->magnitude * level;
        }
    }
    return v;
}

/* ---- truth tracking ---- */

static void track(vg_sim *s, int64_t t_after)
{
    for (uint32_t i = 0; i < s->ninc; i++) {
        const vg_incident *in = vg_scenario_incident(s->sc, i);
        inc_state *st = &s->inc[i];
        enum vg_sensor_kind kind;
        if (t_after <= inc_start(s, in) || t_after > inc_end(s, in) + 600 * VG_NS_PER_S)
            continue;
        for (uint32_t k = 0; k < st->n_zones; k++) {
            double v = NAN, warn = NAN, crit = NAN;
            uint32_t z = st->zones[k];
            if (vg_incident_is_buildup(in->type)) {
                const vg_zone_limits *lim = vg_model_zone_limits_at(s->m, z, t_after);
                v = s->people[z] / s->area[z];
                if (lim) {
                    warn = lim->density.level[VG_GRADE_WARNING];
                    crit = lim->density.level[VG_GRADE_CRITICAL];
                }
            } else if (in->type == VG_INCIDENT_HEAT_WAVE ||
                       in->type == VG_INCIDENT_VENTILATION_FAILURE) {
                const vg_zone *zz = vg_model_zone(s->m, z);
                kind = in->type == VG_INCIDENT_HEAT_WAVE ? VG_SENSOR_WBGT : VG_SENSOR_CO2;
                for (uint32_t q = 0; q < zz->sensor_count; q++) {
                    const vg_sensor *sn = vg_model_sensor(s->m, zz->sensors[q]);
                    if (sn->kind != kind)
                        continue;
                    double x = sensor_truth(s, zz->sensors[q], t_after);
                    if (isnan(v) || x > v) {
                        v = x;
                        warn = sn->limit.level[VG_GRADE_WARNING];
                        crit = sn->limit.level[VG_GRADE_CRITICAL];
                    }
                }
            } else {
                continue;
            }
            if (isnan(st->start_value[k]))
                st->start_value[k] = v;
            st->warn_level[k] = warn;
            st->crit_level[k] = crit;
            if (t_after > inc_end(s, in))
                continue; /* after the end: only levels, no new crossings */
            if (v > st->peak[k]) {
                st->peak[k] = v;
                st->t_peak[k] = t_after;
            }
            if (!st->t_warn[k] && v >= warn)
                st->t_warn[k] = t_after;
            if (!st->t_crit[k] && v >= crit)
                st->t_crit[k] = t_after;
        }
    }
}

/* Which side of a line incident is the one that built up. */
static uint32_t truth_side(const inc_state *st)
{
    if (st->n_zones < 2)
        return 0;
    if (st->t_crit[0] && st->t_crit[1])
        return st->t_crit[1] < st->t_crit[0] ? 1 : 0;
    if (st->t_crit[0] || st->t_crit[1])
        return st->t_crit[1] ? 1 : 0;
    double r0 = st->peak[0] - st->start_value[0], r1 = st->peak[1] - st->start_value[1];
    return r1 > r0 ? 1 : 0;
}

int vg_sim_incident_truth(const vg_sim *s, uint32_t idx, vg_sim_truth *ret)
{
    if (!s || !ret || idx >= s->ninc)
        return -EINVAL;
    const inc_state *st = &s->inc[idx];
    uint32_t k = truth_side(st);
    ret->zone = st->zones[k];
    ret->t_warning_ns = st->t_warn[k];
    ret->t_critical_ns = st->t_crit[k];
    ret->peak = isfinite(st->peak[k]) ? st->peak[k] : NAN;
    ret->t_peak_ns = st->t_peak[k];
    ret->warning_level = st->warn_level[k];
    ret->critical_level = st->crit_level[k];
    return 0;
}

/* ---- emission ---- */

static int push_item(vg_sim *s, int64_t t, uint32_t kind, uint32_t group, uint32_t idx,
                     uint32_t aux)
{
    if (s->n_items == s->cap_items) {
        size_t cap = s->cap_items ? 2 * s->cap_items : 1024;
        item *p = realloc(s->items, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        s->items = p;
        s->cap_items = cap;
    }
    s->items[s->n_items++] = (item){t, kind, group, idx, aux};
    return 0;
}

static int item_cmp(const void *a, const void *b)
{
    const item *x = a, *y = b;
    if (x->t_ns != y->t_ns)
        return x->t_ns < y->t_ns ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    if (x->idx != y->idx)
        return x->idx < y->idx ? -1 : 1;
    return 0;
}

static int emit_now(vg_sim *s, vg_sim_emit_fn emit, void *ctx, int64_t t)
{
    return emit(ctx, s->topic.p, s->out.p, s->out.len, t);
}

static int flush_batch(vg_sim *s, vg_sim_emit_fn emit, void *ctx, int64_t t)
{
    int r;
    if (!s->batch_n)
        return 0;
    if (buf_printf(&s->batch, "]}") < 0)
        return -ENOMEM;
    buf_reset(&s->topic);
    if (buf_printf(&s->topic, "vigil/%s/batch/sim", vg_model_venue(s->m)) < 0)
        return -ENOMEM;
    r = emit(ctx, s->topic.p, s->batch.p, s->batch.len, t);
    buf_reset(&s->batch);
    s->batch_n = 0;
    return r;
}

/* Starts a batch item (or a message when not batching): writes its opening into out. */
static int batch_item(vg_sim *s, vg_sim_emit_fn emit, void *ctx, int64_t t)
{
    int r;
    if (s->batch_n >= s->cfg.batch_max && (r = flush_batch(s, emit, ctx, t)) < 0)
        return r;
    if (!s->batch_n && buf_printf(&s->batch, "{\"v\":1,\"readings\":[") < 0)
        return -ENOMEM;
    if (s->batch_n && buf_printf(&s->batch, ",") < 0)
        return -ENOMEM;
    s->batch_n++;
    return 0;
}

static const char *fmt_value(const vg_sensor *sn, double v, char *out, size_t len)
{
    if (sn->kind == VG_SENSOR_SMOKE || sn->kind == VG_SENSOR_DOOR)
        snprintf(out, len, "%.0f", v);
    else if (sn->kind == VG_SENSOR_CO2)
        snprintf(out, len, "%.1f", v);
    else
        snprintf(out, len, "%.2f", v);
    return out;
}

static double speed_var(vg_sim *s, double density)
{
    /* m²/s²: walkers at low density, stop-and-go above 4 p/m² (Helbing et al. 2007) */
    double v = 0.0004 + 0.0003 * density;
    if (density > 4.0)
        v += 0.004 * (density - 4.0) * (density - 4.0);
    v *= 1.0 + 0.1 * rnd_normal(s);
    return v > 0 ? v : 0;
}

static int emit_camera(vg_sim *s, const item *it, vg_sim_emit_fn emit, void *ctx)
{
    const vg_camera *cam = vg_model_camera(s->m, it->idx);
    const char *venue = vg_model_venue(s->m);
    char ts[32];
    double counts[64];
    uint32_t n = cam->zone_count < 64 ? cam->zone_count : 64, native = 0;
    int r;

    vg__sim_fmt_ts(ts, sizeof(ts), it->t_ns);
    for (uint32_t k = 0; k < n; k++) {
        uint32_t z = cam->zones[k].zone;
        counts[k] = rnd_poisson(s, s->people[z] * cam->zones[k].coverage * s->cam_bias[it->idx]);
        if (!cam->zones[k].frigate || s->cfg.native_only)
            native++;
    }
    /* Frigate zones: a plain integer on frigate/<zone>/person */
    for (uint32_t k = 0; k < n; k++) {
        if (!cam->zones[k].frigate || s->cfg.native_only)
            continue;
        buf_reset(&s->topic);
        buf_reset(&s->out);
        if (buf_printf(&s->topic, "frigate/%s/person", cam->zones[k].frigate) < 0 ||
            buf_printf(&s->out, "%.0f", counts[k]) < 0)
            return -ENOMEM;
        if ((r = emit_now(s, emit, ctx, it->t_ns)) < 0)
            return r;
    }
    if (!native)
        return 0;
    buf *b = &s->out;
    if (s->cfg.batch) {
        if ((r = batch_item(s, emit, ctx, it->t_ns)) < 0)
            return r;
        b = &s->batch;
        if (buf_printf(b, "{\"camera\":\"%s\",\"ts\":%s,\"counts\":{", cam->id, ts) < 0)
            return -ENOMEM;
    } else {
        buf_reset(&s->out);
        buf_reset(&s->topic);
        if (buf_printf(&s->topic, "vigil/%s/count/%s", venue, cam->id) < 0 ||
            buf_printf(b, "{\"v\":1,\"ts\":%s,\"counts\":{", ts) < 0)
            return -ENOMEM;
    }
    const char *sep = "";
    for (uint32_t k = 0; k < n; k++) {
        if (cam->zones[k].frigate && !s->cfg.native_only)
            continue;
        if (buf_printf(b, "%s\"%s\":%.0f", sep, vg_model_zone(s->m, cam->zones[k].zone)->id,
                       counts[k]) < 0)
            return -ENOMEM;
        sep = ",";
    }
    if (buf_printf(b, "},\"speed_var\":{") < 0)
        return -ENOMEM;
    sep = "";
    for (uint32_t k = 0; k < n; k++) {
        uint32_t z = cam->zones[k].zone;
        if (cam->zones[k].frigate && !s->cfg.native_only)
            continue;
        if (buf_printf(b, "%s\"%s\":%.5f", sep, vg_model_zone(s->m, z)->id,
                       speed_var(s, s->people[z] / s->area[z])) < 0)
            return -ENOMEM;
        sep = ",";
    }
    if (buf_printf(b, "}}") < 0)
        return -ENOMEM;
    return s->cfg.batch ? 0 : emit_now(s, emit, ctx, it->t_ns);
}

/* The value sensor i publishes at t (noise, drift, a stuck incident). */
static double sensor_reading(vg_sim *s, uint32_t i, int64_t t)
{
    const vg_sensor *sn = vg_model_sensor(s->m, i);
    double sigma = sensor_sigma(sn), v;

    s->sen_true[i] = sensor_truth(s, i, t);
    /* drift: a slow random walk, bounded to a few sigma */
    s->sen_drift[i] += 0.05 * sigma * rnd_normal(s);
    if (s->sen_drift[i] > 3 * sigma)
        s->sen_drift[i] = 3 * sigma;
    if (s->sen_drift[i] < -3 * sigma)
        s->sen_drift[i] = -3 * sigma;
    v = s->sen_true[i] + s->sen_drift[i] + sigma * rnd_normal(s);
    if (v < sn->min)
        v = sn->min;
    if (v > sn->max)
        v = sn->max;
    if (s->sen_stuck[i]) {
        inc_state *st = &s->inc[s->sen_stuck[i] - 1];
        if (!st->stuck_have) {
            st->stuck_value = s->sen_last[i];
            st->stuck_have = 1;
        }
        v = st->stuck_value;
    }
    s->sen_last[i] = v;
    return v;
}

static int emit_sensors(vg_sim *s, size_t *pos, vg_sim_emit_fn emit, void *ctx)
{
    const item *it = &s->items[*pos];
    const vg_sensor *sn = vg_model_sensor(s->m, it->idx);
    char ts[32], val[48];
    int r;

    vg__sim_fmt_ts(ts, sizeof(ts), it->t_ns);
    if (sn->z2m_device && !s->cfg.native_only) {
        /* zigbee2mqtt: one object per device with every field due now */
        buf_reset(&s->topic);
        buf_reset(&s->out);
        if (buf_printf(&s->topic, "zigbee2mqtt/%s", sn->z2m_device) < 0 ||
            buf_printf(&s->out, "{") < 0)
            return -ENOMEM;
        const char *sep = "";
        size_t k = *pos;
        for (; k < s->n_items; k++) {
            const item *o = &s->items[k];
            if (o->kind != IT_SENSOR || o->group != it->group || o->t_ns != it->t_ns)
                break;
            const vg_sensor *os = vg_model_sensor(s->m, o->idx);
            double v = sensor_reading(s, o->idx, o->t_ns);
            if (buf_printf(&s->out, "%s\"%s\":%s", sep, os->z2m_field ? os->z2m_field : os->id,
                           fmt_value(os, v, val, sizeof(val))) < 0)
                return -ENOMEM;
            sep = ",";
        }
        *pos = k - 1;
        if (buf_printf(&s->out, "}") < 0)
            return -ENOMEM;
        return emit_now(s, emit, ctx, it->t_ns);
    }
    double v = sensor_reading(s, it->idx, it->t_ns);
    fmt_value(sn, v, val, sizeof(val));
    if (s->cfg.batch) {
        if ((r = batch_item(s, emit, ctx, it->t_ns)) < 0)
            return r;
        return buf_printf(&s->batch, "{\"sensor\":\"%s\",\"ts\":%s,\"value\":%s}", sn->id, ts,
                          val);
    }
    buf_reset(&s->topic);
    buf_reset(&s->out);
    if (buf_printf(&s->topic, "vigil/%s/sensor/%s", vg_model_venue(s->m), sn->id) < 0 ||
        buf_printf(&s->out, "{\"v\":1,\"ts\":%s,\"value\":%s}", ts, val) < 0)
        return -ENOMEM;
    return emit_now(s, emit, ctx, it->t_ns);
}

static int emit_line(vg_sim *s, const item *it, vg_sim_emit_fn emit, void *ctx)
{
    const vg_line *l = vg_model_line(s->m, it->idx);
    int64_t in = (int64_t)floor(s->line_in[it->idx] + 1e-9) - s->line_in_pub[it->idx];
    int64_t out = (int64_t)floor(s->line_out[it->idx] + 1e-9) - s->line_out_pub[it->idx];
    char ts[32];
    int r;

    s->line_in_pub[it->idx] += in;
    s->line_out_pub[it->idx] += out;
    vg__sim_fmt_ts(ts, sizeof(ts), it->t_ns);
    if (s->cfg.batch) {
        if ((r = batch_item(s, emit, ctx, it->t_ns)) < 0)
            return r;
        return buf_printf(&s->batch, "{\"line\":\"%s\",\"ts\":%s,\"in\":%lld,\"out\":%lld}",
                          l->id, ts, (long long)in, (long long)out);
    }
    buf_reset(&s->topic);
    buf_reset(&s->out);
    if (buf_printf(&s->topic, "vigil/%s/line/%s", vg_model_venue(s->m), l->id) < 0 ||
        buf_printf(&s->out, "{\"v\":1,\"ts\":%s,\"in\":%lld,\"out\":%lld}", ts, (long long)in,
                   (long long)out) < 0)
        return -ENOMEM;
    return emit_now(s, emit, ctx, it->t_ns);
}

static int emit_item(vg_sim *s, size_t *pos, vg_sim_emit_fn emit, void *ctx)
{
    const item *it = &s->items[*pos];
    const char *venue = vg_model_venue(s->m);
    char ts[32];

    vg__sim_fmt_ts(ts, sizeof(ts), it->t_ns);
    switch (it->kind) {
    case IT_HELP: {
        const vg_incident *in = vg_scenario_incident(s->sc, it->aux);
        buf_reset(&s->topic);
        buf_reset(&s->out);
        if (buf_printf(&s->topic, "vigil/%s/help/%s", venue,
                       vg_model_help_point(s->m, it->idx)->id) < 0 ||
            buf_printf(&s->out, "{\"v\":1,\"ts\":%s,\"type\":\"%s\"}", ts, in->mode) < 0)
            return -ENOMEM;
        return emit_now(s, emit, ctx, it->t_ns);
    }
    case IT_HEALTH: {
        const char *status = "ok", *detail = "stream back";
        if (it->aux != UINT32_MAX) {
            status = vg_scenario_incident(s->sc, it->aux)->mode;
            detail = strcmp(status, "stopped") == 0  ? "no frames from the stream"
                     : strcmp(status, "black") == 0  ? "frames are black"
                     : strcmp(status, "frozen") == 0 ? "the same frame repeats"
                                                     : "the lens is covered";
        }
        buf_reset(&s->topic);
        buf_reset(&s->out);
        if (buf_printf(&s->topic, "vigil/%s/health/%s", venue,
                       vg_model_camera(s->m, it->idx)->id) < 0 ||
            buf_printf(&s->out, "{\"v\":1,\"ts\":%s,\"status\":\"%s\",\"detail\":\"%s\"}", ts,
                       status, detail) < 0)
            return -ENOMEM;
        return emit_now(s, emit, ctx, it->t_ns);
    }
    case IT_CAMERA:
        return emit_camera(s, it, emit, ctx);
    case IT_SENSOR:
        return emit_sensors(s, pos, emit, ctx);
    default:
        return emit_line(s, it, emit, ctx);
    }
}

/* Incidents that switch state at instants: lines, cameras, sensors, help presses. */
static int apply_incidents(vg_sim *s, int64_t t0, int64_t t1)
{
    int r;

    for (uint32_t l = 0; l < s->nl; l++)
        s->line_factor[l] = 1.0;
    for (uint32_t i = 0; i < s->ninc; i++) {
        const vg_incident *in = vg_scenario_incident(s->sc, i);
        int64_t a = inc_start(s, in), b = inc_end(s, in);
        int on = inc_active(s, in, t0);
        switch (in->type) {
        case VG_INCIDENT_GATE_CLOSED:
        case VG_INCIDENT_EXIT_BLOCKED:
            if (on)
                s->line_factor[in->target_idx] *= 1.0 - in->magnitude;
            break;
        case VG_INCIDENT_SURGE:
            if (on)
                surge(s, i, in, t0);
            break;
        case VG_INCIDENT_CAMERA_DEAD:
            if (a >= t0 && a < t1) {
                s->cam_dead[in->target_idx] = (int)i + 1;
                if (strcmp(in->mode, "silent") != 0 &&
                    (r = push_item(s, a, IT_HEALTH, in->target_idx, in->target_idx, i)) < 0)
                    return r;
            }
            if (b >= t0 && b < t1 && b < s->end_ns && s->cam_dead[in->target_idx] == (int)i + 1) {
                s->cam_dead[in->target_idx] = 0;
                if ((r = push_item(s, b, IT_HEALTH, in->target_idx, in->target_idx,
                                   UINT32_MAX)) < 0)
                    return r;
            }
            break;
        case VG_INCIDENT_SENSOR_STUCK:
            s->sen_stuck[in->target_idx] = on ? (int)i + 1
                                              : (s->sen_stuck[in->target_idx] == (int)i + 1
                                                     ? 0
                                                     : s->sen_stuck[in->target_idx]);
            break;
        case VG_INCIDENT_HELP_PRESS:
        case VG_INCIDENT_COLLAPSE:
            if (a >= t0 && a < t1 && !s->inc[i].done) {
                s->inc[i].done = 1;
                if ((r = push_item(s, a, IT_HELP, in->target_idx, in->target_idx, i)) < 0)
                    return r;
            }
            break;
        default:
            break;
        }
    }
    return 0;
}

int vg_sim_step(vg_sim *s, vg_sim_emit_fn emit, void *ctx)
{
    int64_t t0, t1;
    double x0, x1;
    int r = 0;

    if (!s || !emit)
        return -EINVAL;
    if (s->now_ns >= s->end_ns)
        return -ECANCELED;
    t0 = s->now_ns;
    /* A step that does not divide the day ends short: the day, its truth and its messages
     * stop at the scenario's end, and the crowd moves for the shorter step only. */
    t1 = t0 + s->step_ns < s->end_ns ? t0 + s->step_ns : s->end_ns;
    s->dt = (double)(t1 - t0) / 1e9;
    x0 = day_s(s, t0);
    x1 = day_s(s, t1);
    s->n_items = 0;

    /* 1. the crowd */
    if ((r = apply_incidents(s, t0, t1)) < 0)
        return r;
    arrivals(s, x0, x1);
    half_time(s, x0);
    egress(s, x0);
    move(s);
    track(s, t1);

    /* 2. what the sources see, due in [t0, t1) */
    for (uint32_t c = 0; c < s->nc; c++) {
        int64_t p = vg_model_camera(s->m, c)->period_ns;
        for (; s->cam_due[c] < t1; s->cam_due[c] += p)
            if (!s->cam_dead[c] && (r = push_item(s, s->cam_due[c], IT_CAMERA, c, c, 0)) < 0)
                return r;
    }
    for (uint32_t i = 0; i < s->ns; i++) {
        int64_t p = vg_model_sensor(s->m, i)->period_ns;
        for (; s->sen_due[i] < t1; s->sen_due[i] += p)
            if ((r = push_item(s, s->sen_due[i], IT_SENSOR, s->sen_group[i], i, 0)) < 0)
                return r;
    }
    int64_t lp = (int64_t)llround(s->sc->line_period_s * 1e9);
    for (uint32_t l = 0; l < s->nl; l++)
        for (; s->line_due[l] < t1; s->line_due[l] += lp)
            if ((r = push_item(s, s->line_due[l], IT_LINE, l, l, 0)) < 0)
                return r;
    qsort(s->items, s->n_items, sizeof(*s->items), item_cmp);

    s->now_ns = t1;
    buf_reset(&s->batch);
    s->batch_n = 0;
    for (size_t k = 0; k < s->n_items; k++)
        if ((r = emit_item(s, &k, emit, ctx)) < 0)
            return r;
    return flush_batch(s, emit, ctx, t1 - 1);
}

/* ---- inspection ---- */

int vg_sim_done(const vg_sim *s)
{
    return !s || s->now_ns >= s->end_ns;
}

int64_t vg_sim_now_ns(const vg_sim *s)
{
    return s ? s->now_ns : 0;
}

int64_t vg_sim_end_ns(const vg_sim *s)
{
    return s ? s->end_ns : 0;
}

double vg_sim_zone_people(const vg_sim *s, uint32_t zone)
{
    return s && zone < s->nz ? s->people[zone] : NAN;
}

double vg_sim_zone_density(const vg_sim *s, uint32_t zone)
{
    return s && zone < s->nz ? s->people[zone] / s->area[zone] : NAN;
}

double vg_sim_sensor_value(const vg_sim *s, uint32_t sensor)
{
    return s && sensor < s->ns ? s->sen_true[sensor] : NAN;
}

void vg_sim_census_get(const vg_sim *s, vg_sim_census *ret)
{
    double inside = 0;

    if (!s || !ret)
        return;
    for (uint32_t z = 0; z < s->nz; z++)
        inside += s->people[z];
    ret->outside = s->outside;
    ret->inside = inside;
    ret->departed = s->departed;
    ret->total = s->outside + inside + s->departed;
    ret->arrived = s->arrived_total;
}

const vg_model *vg__sim_model(const vg_sim *s)
{
    return s->m;
}

const vg_scenario *vg__sim_scenario(const vg_sim *s)
{
    return s->sc;
}

const vg_sim_cfg *vg__sim_cfg(const vg_sim *s)
{
    return &s->cfg;
}

int64_t vg__sim_shift_ns(const vg_sim *s)
{
    return s->shift_ns;
}
