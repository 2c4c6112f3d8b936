/* The streaming anomaly detector: two cheap detectors, each calibrated against its own
 * history into a tail probability, fused, discounted for what the stream has done before,
 * and thinned so that one event gives one alarm. docs/detector.md has the reasoning and the
 * numbers on NAB.
 *
 * DESIGN
 * Per finite reading x at event time t:
 *  1. Two raw measures of strangeness, both scale-free:
 *     - jump:  |x - m_fast| / step, the distance from the short-run level in units of the
 *       usual reading-to-reading change (spikes, steps, sudden changes of variance);
 *     - shape: the distance from the last L readings to their nearest neighbour among all
 *       earlier L-reading windows of the last H readings (a streaming matrix profile: each
 *       lag's distance slides by one reading, so a step costs O(H), not O(H*L)), over its
 *       running mean. With H a little over a day at 5-minute sampling a daily pattern
 *       matches itself; a broken pattern, a flat stretch in a varying signal or a new shape
 *       finds no neighbour.
 *     A resolution floor (a fraction of the long-run spread) keeps rounding in noiseless
 *     signals from looking like structure.
 *     - slow shape: the same search on means of blocks of VG_DET_SLOW readings, so it looks
 *       back 16 times as far (18 days at 5-minute sampling): a day unlike the days before.
 *  2. Calibration: each measure keeps a decaying histogram of its own past values on a log
 *     scale (memory ~3,300 readings). The reading's surprise is -ln p with p = P(past >= now)
 *     counting itself (conformal), extrapolated past the largest value seen. Surprises are
 *     comparable across measures and streams, so one threshold serves every stream.
 *  3. Fusion: S = surprise(jump) + surprise(shape), -ln of the product of the two p-values,
 *     plus the slow shape's surprise above VG_DET_SLOW_OFF (computed once per block, it holds
 *     for the block's readings; below the offset it adds nothing, so it only speaks when a
 *     stretch of the stream is clearly unlike anything in the long look-back).
 *  4. Long memory: S loses ln(1 + n) where n counts (with slow halving) how often the
 *     current three-reading context, quantised to 16 levels of the range seen, occurred.
 *     History: past VG_DET_HIST_N0 readings S also loses 1.5 ln(n / N0), at most 3 nats.
 *     A calibrated detector alarms at a constant rate per reading, so its false alarms
 *     grow with the stream's length while real events do not; the longer the stream, the
 *     surer a report must be.
 *  5. Thinning: S is reported only above a hold level. A report raises the hold to S plus a
 *     margin; the hold falls linearly and is released after a fixed number of readings. So
 *     an event alarms once at any threshold, and the tail of adaptation after a real change
 *     stays quiet, while a clearly stronger event still gets through.
 *  6. Daily recurrence: a report at the same time of day (within 30 minutes) as earlier
 *     alarm-level reports, 20 hours or more ago, loses 2 ln(1 + how many): a nightly job
 *     is the stream's normal, not a new event each night.
 *     Recurring event types: a report whose last L readings, z-normalised, have the shape
 *     of one of the last VG_DET_NTYPE alarm-level reports (and a size within a factor 2)
 *     loses ln(1 + how many match): a stream's usual kind of burst or spike, at any time.
 *  7. score = S / (S + VG_DET_S0), in [0,1): 0.5 at the surprise that alarms at the default
 *     sensitivity.
 * The first VG_DET_WARMUP readings only learn (score 0); the first 2L are not calibrated.
 * Memory is one fixed struct (rings, distance profiles, histograms and context table are
 * arrays inside it). update never allocates; all arithmetic is in a fixed order, so the
 * same readings give bit-identical scores. */
#include "vigil/detect.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define VG_DET_L 8        /* shape window, readings */
#define VG_DET_LAGS 320   /* lags searched: L .. L + 319 (a day at 5 min, plus slack); a
                           * multiple of the vector width keeps the loops vectorised */
#define VG_DET_H (VG_DET_L + VG_DET_LAGS - 1) /* largest lag */
#define VG_DET_W (VG_DET_H + VG_DET_L + 1)    /* readings kept: 336 */
#define VG_DET_NB 96      /* calibration bins: log2 of the measure in [-12, 12), 4 per octave */
#define VG_DET_QBITS 4    /* context quantisation: 16 levels */
#define VG_DET_Q (1 << VG_DET_QBITS)
#define VG_DET_NCTX (VG_DET_Q * VG_DET_Q * VG_DET_Q)
#define VG_DET_NREC 16    /* remembered alarm times (daily recurrence) */
#define VG_DET_WARMUP 150 /* readings that only learn */
#define VG_DET_SLOW 16    /* readings per block of the slow shape search */
#define VG_DET_NTYPE 8    /* remembered alarm shapes (recurring event types) */

/* Tuned once on NAB's development subset (docs/detector.md), the same for every stream. */
#define VG_DET_A_SLOW 0.002     /* long-run level and spread (resolution floor) */
#define VG_DET_A_FAST 0.1       /* short-run level of the jump measure */
#define VG_DET_A_STEP 0.005     /* usual reading-to-reading change */
#define VG_DET_A_SHAPE 0.03     /* running mean of the nearest-neighbour distance */
#define VG_DET_A_CAL 0.0003     /* calibration memory: 1 / readings */
#define VG_DET_BEYOND 0.5       /* ln p drop per bin past the largest value seen */
#define VG_DET_FLOOR 0.2        /* resolution floor, fraction of the long-run spread */
#define VG_DET_CTX_GAIN 1.0     /* nats off per ln(1 + context count) */
#define VG_DET_CTX_HALVE 4096   /* readings between halvings of the context counts */
#define VG_DET_MARGIN 3.0       /* nats a report lifts the hold above itself */
#define VG_DET_HOLD_FALL 0.03   /* nats per reading the hold falls */
#define VG_DET_HOLD_LEN 600     /* readings after which the hold is released */
#define VG_DET_REC_LEVEL 6.0    /* surprise of a report whose time of day is remembered */
#define VG_DET_REC_GAIN 2.0     /* nats off per ln(1 + earlier alarms at this time of day) */
#define VG_DET_REC_TOL_S 1800   /* "same time of day": within this many seconds */
#define VG_DET_SLOW_OFF 1.5     /* slow-shape surprise (nats) that adds nothing */
#define VG_DET_TYPE_DIST 0.15   /* same event type: mean |difference| of the z-scores */
#define VG_DET_TYPE_GAIN 1.0    /* nats off per ln(1 + matching earlier alarm shapes) */
#define VG_DET_HIST_N0 4096     /* readings before the history term starts */
#define VG_DET_HIST_GAIN 1.5    /* nats off per ln(readings / VG_DET_HIST_N0) */
#define VG_DET_HIST_CAP 3.0     /* at most this (reached at ~30,000 readings) */
#define VG_DET_CLIP 1000.0     /* after warm-up, one reading moves the long-run level, spread
                                 * and usual step by at most this many spreads (steps) */
#define VG_DET_RANGE_K 100.0   /* the range seen beyond this many spreads of the level ... */
#define VG_DET_RANGE_H 16384.0 /* ... shrinks by 1/e every this many readings */
#define VG_DET_S0 5.8           /* surprise (nats) at the default threshold; score 0.5 */

/* Decaying histogram of one measure's past values. Instead of decaying every bin at each
 * reading, the weight of new readings grows by 1 / (1 - a) and everything is rescaled now
 * and then: the same ratios, O(1) per reading. */
struct vg_det_calib {
    float bin[VG_DET_NB];
    double total; /* sum of bin[] */
    double inc;   /* weight of the next reading */
    int top;      /* highest bin ever filled, -1 before the first reading */
};

/* One nearest-neighbour shape search over a stream of values (readings, or block means). */
struct vg_det_shape {
    uint64_t n;        /* values fed */
    uint32_t head;     /* buf index of the newest value, 0 .. W-1 */
    double mean;       /* running mean of the nearest-neighbour distance */
    /* Recent values, each written at head and head + W, so that every window the search
     * reads is contiguous: the newest is buf[head + W], the one j values older
     * buf[head + W - j] for j < W. */
    float buf[2 * VG_DET_W];
    /* dist[i] = sum_{k<L} |x_{t-k} - x_{t-lag-k}| for lag = H - i (ascending memory order
     * then matches ascending buf addresses). */
    float dist[VG_DET_LAGS];
};

struct vg_detector {
    vg_detector_cfg cfg;
    uint64_t n;          /* finite readings seen */
    double m_slow;       /* long-run level */
    double d_slow;       /* long-run mean absolute deviation */
    double m_fast;       /* short-run level */
    double step;         /* mean |x_t - x_{t-1}| */
    double prev;         /* previous reading */
    double block_sum;    /* sum of the current block's readings (slow shape) */
    double slow_s;       /* surprise of the last complete block's slow shape */
    double hist;         /* history term (nats), updated once per block */
    double lo, hi;       /* range seen, for the context quantiser */
    double hold;         /* reports must exceed this surprise (nats) */
    uint32_t hold_age;   /* readings since the hold was last raised */
    uint32_t ctx_prev;   /* the two previous quantised readings */
    uint32_t rec_next;   /* next slot of rec_t */
    uint32_t rec_used;
    int64_t rec_t[VG_DET_NREC]; /* event times of recent alarm-level reports */
    uint32_t type_next;  /* next slot of type_shape */
    uint32_t type_used;
    float type_size[VG_DET_NTYPE];             /* standard deviation of each window */
    float type_shape[VG_DET_NTYPE][VG_DET_L];  /* z-scores of recent alarm-level reports */
    struct vg_det_calib cal[3]; /* jump, shape, slow shape */
    uint8_t ctx[VG_DET_NCTX];   /* how often each three-reading context occurred (halved) */
    struct vg_det_shape fine;   /* over readings */
    struct vg_det_shape slow;   /* over block means */
};

void vg_detector_cfg_default(vg_detector_cfg *cfg)
{
    if (cfg)
        cfg->sensitivity = 0.5;
}

int vg_detector_new(const vg_detector_cfg *cfg, vg_detector **ret)
{
    vg_detector_cfg c;
    vg_detector *d;

    if (!ret)
        return -EINVAL;
    vg_detector_cfg_default(&c);
    if (cfg)
        c = *cfg;
    if (!(c.sensitivity >= 0.0 && c.sensitivity <= 1.0))
        return -EINVAL;
    d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->cfg = c;
    for (int i = 0; i < 3; i++) {
        d->cal[i].inc = 1.0;
        d->cal[i].top = -1;
    }
    *ret = d;
    return 0;
}

void vg_detector_free(vg_detector **dp)
{
    if (!dp || !*dp)
        return;
    free(*dp);
    *dp = NULL;
}

static int calib_bin(double r)
{
    double b = (log2(r + 1e-30) + 12.0) * 4.0;

    if (!(b > 0.0))
        return 0;
    if (b >= VG_DET_NB - 1)
        return VG_DET_NB - 1;
    return (int)b;
}

/* Surprise -ln p of r against the measure's history; then adds r to the history. */
static double calib_surprise(struct vg_det_calib *c, double r)
{
    const int b = calib_bin(r);
    double tail = 0.0;

    for (int k = VG_DET_NB - 1; k >= b; k--)
        tail += c->bin[k];
    /* Conformal: the reading counts itself, so p >= inc / (total + inc). */
    double p = (tail + c->inc) / (c->total + c->inc);
    if (c->top >= 0 && b > c->top)
        p *= exp(-VG_DET_BEYOND * (b - c->top));
    if (b > c->top)
        c->top = b;
    c->bin[b] += (float)c->inc;
    c->total += c->inc;
    c->inc /= 1.0 - VG_DET_A_CAL;
    if (c->inc > 1e15) {
        /* Rescale so the float bins keep their precision; ratios are unchanged. */
        const double s = 1.0 / c->inc;
        for (int k = 0; k < VG_DET_NB; k++)
            c->bin[k] = (float)(c->bin[k] * s);
        c->total *= s;
        c->inc = 1.0;
    }
    return -log(p);
}

/* Slides every lag's window distance by one reading: dist[i] gains |x - p[i]| and loses
 * |xo - q[i]|. Separate arrays (restrict) and a fixed trip count let the compiler vectorise
 * it at -O2. */
static void slide_distances(float *restrict dist, const float *restrict p,
                            const float *restrict q, float x, float xo)
{
    for (int i = 0; i < VG_DET_LAGS; i++) {
        const float v = dist[i] + fabsf(x - p[i]) - fabsf(xo - q[i]);
        dist[i] = v > 0.0f ? v : 0.0f; /* rounding must not make a distance negative */
    }
}

/* Smallest of dist[first .. LAGS-1]. Non-negative floats order like their bit patterns,
 * so this is an exact integer min, which vectorises without relaxing floating point. */
static float min_distance(const float *dist, int first)
{
    uint32_t best = UINT32_MAX;
    float f;

    if (first == 0) {
        for (int i = 0; i < VG_DET_LAGS; i++) {
            uint32_t u;
            memcpy(&u, &dist[i], sizeof(u));
            best = u < best ? u : best;
        }
    } else {
        for (int i = first; i < VG_DET_LAGS; i++) {
            uint32_t u;
            memcpy(&u, &dist[i], sizeof(u));
            best = u < best ? u : best;
        }
    }
    memcpy(&f, &best, sizeof(f));
    return f;
}

/* Feeds x; returns the nearest-neighbour distance of the newest L-window among the earlier
 * ones, or -1 while no complete earlier window exists (the first 2L values). */
static double shape_distance(struct vg_det_shape *sh, float x)
{
    const uint32_t h = sh->head + 1 == VG_DET_W ? 0 : sh->head + 1;

    if (sh->n++ == 0)
        for (int i = 0; i < 2 * VG_DET_W; i++)
            sh->buf[i] = x;
    sh->buf[h] = x;
    sh->buf[h + VG_DET_W] = x;
    sh->head = h;
    const float *now = &sh->buf[h + VG_DET_W];
    const float *p = now - VG_DET_H; /* p[i] = x_{t-lag}, lag = H - i */
    slide_distances(sh->dist, p, p - VG_DET_L, x, now[-VG_DET_L]);
    /* Windows reaching before the first value are not real neighbours: lag + L < n. */
    int first = 0;
    if (sh->n <= (uint64_t)VG_DET_H + VG_DET_L) {
        if (sh->n <= 2 * VG_DET_L)
            return -1.0;
        first = VG_DET_H - (int)(sh->n - VG_DET_L - 1);
    }
    return min_distance(sh->dist, first);
}

/* How often the context (two previous quantised readings, this one) occurred; counts it. */
static double context_seen(vg_detector *d, double x, double eps)
{
    /* A reading far outside the stream's spread (a glitch still inside the sensor's range)
     * would otherwise set the range for good: every later reading, events included, falls
     * into one level whose contexts are all familiar, and the stream is never surprising
     * again. The part of the range beyond VG_DET_RANGE_K spreads of the level decays. */
    if (d->n > VG_DET_WARMUP) {
        const double up = d->m_slow + VG_DET_RANGE_K * d->d_slow;
        const double down = d->m_slow - VG_DET_RANGE_K * d->d_slow;

        if (d->hi > up)
            d->hi -= (d->hi - up) / VG_DET_RANGE_H;
        if (d->lo < down)
            d->lo -= (d->lo - down) / VG_DET_RANGE_H;
    }
    if (x < d->lo)
        d->lo = x;
    if (x > d->hi)
        d->hi = x;
    const double qf = (x - d->lo) / (d->hi - d->lo + eps) * VG_DET_Q;
    const uint32_t q = qf >= VG_DET_Q - 1 ? VG_DET_Q - 1 : (uint32_t)qf;
    const uint32_t ci = (d->ctx_prev << VG_DET_QBITS | q) & (VG_DET_NCTX - 1);
    const double seen = d->ctx[ci];

    d->ctx_prev = ci & (VG_DET_Q * VG_DET_Q - 1);
    if (d->ctx[ci] < UINT8_MAX)
        d->ctx[ci]++;
    if (d->n % VG_DET_CTX_HALVE == 0)
        for (size_t k = 0; k < VG_DET_NCTX; k++)
            d->ctx[k] >>= 1;
    return seen;
}

/* Earlier alarm-level reports at this time of day, 20 hours or more before t_ns. */
static int same_time_of_day(const vg_detector *d, int64_t t_ns)
{
    int cnt = 0;

    for (uint32_t j = 0; j < d->rec_used; j++) {
        if (t_ns < d->rec_t[j])
            continue;
        /* unsigned: stamps centuries apart must not overflow */
        const uint64_t age = ((uint64_t)t_ns - (uint64_t)d->rec_t[j]) / 1000000000u;
        if (age < 20 * 3600)
            continue;
        uint64_t off = age % 86400;
        if (off > 43200)
            off = 86400 - off;
        cnt += off <= VG_DET_REC_TOL_S;
    }
    return cnt;
}

/* How many remembered alarm shapes the last L readings match: the same z-normalised shape
 * (mean absolute difference of the z-scores below VG_DET_TYPE_DIST) at a size within a
 * factor 2. With remember set, the window then joins the memory (the oldest leaves). A
 * window flatter than the resolution floor has no shape: it matches nothing and is not
 * remembered. */
static int same_event_type(vg_detector *d, double floor, int remember)
{
    const float *w = &d->fine.buf[d->fine.head + VG_DET_W - (VG_DET_L - 1)]; /* oldest first */
    float z[VG_DET_L];
    double mu = 0.0, var = 0.0;
    int cnt = 0;

    for (int i = 0; i < VG_DET_L; i++)
        mu += w[i];
    mu /= VG_DET_L;
    for (int i = 0; i < VG_DET_L; i++)
        var += (w[i] - mu) * (w[i] - mu);
    const double sd = sqrt(var / VG_DET_L);
    if (!(sd > floor))
        return 0;
    for (int i = 0; i < VG_DET_L; i++)
        z[i] = (float)((w[i] - mu) / sd);
    for (uint32_t j = 0; j < d->type_used; j++) {
        double dist = 0.0;
        for (int i = 0; i < VG_DET_L; i++)
            dist += fabsf(z[i] - d->type_shape[j][i]);
        cnt += dist < VG_DET_TYPE_DIST * VG_DET_L && sd <= 2.0 * d->type_size[j] &&
               d->type_size[j] <= 2.0 * sd;
    }
    if (remember) {
        memcpy(d->type_shape[d->type_next], z, sizeof(z));
        d->type_size[d->type_next] = (float)sd;
        d->type_next = (d->type_next + 1) % VG_DET_NTYPE;
        if (d->type_used < VG_DET_NTYPE)
            d->type_used++;
    }
    return cnt;
}

double vg_detector_update(vg_detector *d, int64_t t_ns, double x)
{
    if (!isfinite(x) || fabs(x) > FLT_MAX) /* the windows hold floats */
        return 0.0;
    if (d->n == 0)
        d->m_slow = d->m_fast = d->prev = d->lo = d->hi = x;
    d->n++;

    double best = shape_distance(&d->fine, (float)x);
    if (best < 0.0)
        best = 0.0; /* start-up: the first 2L readings are not calibrated below */
    /* Differences below a fraction of the stream's spread are resolution, not signal. */
    const double eps = 1e-9 * fabs(d->m_slow) + 1e-12;
    const double floor = VG_DET_FLOOR * d->d_slow + eps;
    const double jump = fabs(x - d->m_fast) / (d->step + floor);
    const double shape = best / (d->fine.mean + floor * VG_DET_L);

    /* The slow shape: once per block, the block mean's window against 16 times the
     * look-back. Its surprise then holds until the next block completes. */
    d->block_sum += x;
    if (d->n % VG_DET_SLOW == 0) {
        const double slow_best = shape_distance(&d->slow, (float)(d->block_sum / VG_DET_SLOW));
        d->block_sum = 0.0;
        if (slow_best >= 0.0) {
            const double r = slow_best / (d->slow.mean + floor * VG_DET_L);
            d->slow.mean += VG_DET_A_SHAPE * (slow_best - d->slow.mean);
            d->slow_s = calib_surprise(&d->cal[2], r);
        }
        if (d->n > VG_DET_HIST_N0)
            d->hist = fmin(VG_DET_HIST_GAIN * log((double)d->n / VG_DET_HIST_N0),
                           VG_DET_HIST_CAP);
    }

    /* One wild reading must not inflate the long-run spread and the usual step (the jump's
     * scale and the resolution floor) for thousands of readings. NAB's real events stay well
     * inside the clip (its scores are unchanged to ±0.2). */
    const double lim = d->n > VG_DET_WARMUP ? VG_DET_CLIP * (d->d_slow + eps) : INFINITY;
    const double dx = fmax(-lim, fmin(lim, x - d->m_slow));
    const double dev = fabs(dx);
    d->m_slow += VG_DET_A_SLOW * dx;
    d->d_slow += VG_DET_A_SLOW * (dev - d->d_slow);
    d->m_fast += VG_DET_A_FAST * (x - d->m_fast);
    const double slim = d->n > VG_DET_WARMUP ? VG_DET_CLIP * (d->step + floor) : INFINITY;
    d->step += VG_DET_A_STEP * (fmin(fabs(x - d->prev), slim) - d->step);
    d->fine.mean += VG_DET_A_SHAPE * (best - d->fine.mean);
    d->prev = x;

    /* Until a first complete neighbour window exists (2L readings) the measures are
     * start-up transients; calibrating on them would teach the histograms nonsense. */
    double s = 0.0;
    if (d->n > 2 * VG_DET_L) {
        s = calib_surprise(&d->cal[0], jump) + calib_surprise(&d->cal[1], shape);
        if (d->slow_s > VG_DET_SLOW_OFF)
            s += d->slow_s - VG_DET_SLOW_OFF;
    }
    s -= VG_DET_CTX_GAIN * log1p(context_seen(d, x, eps)) + d->hist;
    if (s < 0.0)
        s = 0.0;
    if (d->n <= VG_DET_WARMUP)
        return 0.0;

    double out = s > d->hold ? s : 0.0;
    if (s > d->hold) {
        d->hold = s + VG_DET_MARGIN;
        d->hold_age = 0;
    } else {
        d->hold -= VG_DET_HOLD_FALL;
        if (++d->hold_age > VG_DET_HOLD_LEN || d->hold < 0.0)
            d->hold = 0.0;
    }
    if (out > 0.0) {
        const double s_in = out;
        out -= VG_DET_REC_GAIN * log1p(same_time_of_day(d, t_ns));
        out -= VG_DET_TYPE_GAIN * log1p(same_event_type(d, floor, s_in >= VG_DET_REC_LEVEL));
        if (out < 0.0)
            out = 0.0;
        if (s_in >= VG_DET_REC_LEVEL) {
            d->rec_t[d->rec_next] = t_ns;
            d->rec_next = (d->rec_next + 1) % VG_DET_NREC;
            if (d->rec_used < VG_DET_NREC)
                d->rec_used++;
        }
    }
    return out / (out + VG_DET_S0);
}

double vg_detector_threshold(const vg_detector *d)
{
    /* Threshold surprise S0 * 4^(0.5 - sensitivity), as a score. */
    const double k = pow(4.0, 0.5 - d->cfg.sensitivity);
    return k / (k + 1.0);
}

size_t vg_detector_memory(const vg_detector *d)
{
    (void)d;
    return sizeof(struct vg_detector);
}

int vg_detector_set_sensitivity(vg_detector *d, double sensitivity)
{
    /* The scores do not depend on the sensitivity: only the threshold moves. */
    if (!d || !(sensitivity >= 0.0 && sensitivity <= 1.0))
        return -EINVAL;
    d->cfg.sensitivity = sensitivity;
    return 0;
}
