/* Unit tests of the streaming anomaly detector (include/vigil/detect.h) and of
 * `vigil detect` (src/app/cmd_detect.c), which the tests run as a program ($VG_VIGIL) on
 * small CSV files written to a temporary directory.
 *
 * Signals are generated with a fixed-seed generator, so every expectation is reproducible;
 * "alarms" means score >= vg_detector_threshold() at the default sensitivity (0.5). */
#include "vigil/detect.h"

#include "child.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIN_NS (60 * INT64_C(1000000000))

/* --- deterministic test signals ------------------------------------------------------- */

static uint64_t rng_state;

static double uniform01(void)
{
    /* xorshift64*: fixed seed, same sequence on every machine. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return ((rng_state * UINT64_C(2685821657736338717)) >> 11) * (1.0 / 9007199254740992.0);
}

static double gauss(void)
{
    double u = uniform01(), v = uniform01();
    return sqrt(-2.0 * log(u + 1e-300)) * cos(2.0 * M_PI * v);
}

static vg_detector *make(void)
{
    vg_detector *d = NULL;
    cr_assert_eq(vg_detector_new(NULL, &d), 0);
    cr_assert_not_null(d);
    return d;
}

/* Feeds n readings of f(i) at one-minute spacing from *t; returns the largest score and
 * writes the index of the first reading at or above the threshold (-1 if none). */
static double feed(vg_detector *d, int64_t *t, int n, double (*f)(int i), int *ret_first)
{
    const double thr = vg_detector_threshold(d);
    double max = 0.0;
    int first = -1;

    for (int i = 0; i < n; i++) {
        double s = vg_detector_update(d, *t, f(i));
        *t += MIN_NS;
        cr_assert(s >= 0.0 && s <= 1.0, "score %g out of [0,1] at %d", s, i);
        if (s > max)
            max = s;
        if (first < 0 && s >= thr)
            first = i;
    }
    if (ret_first)
        *ret_first = first;
    return max;
}

static double noise_10_1(int i)
{
    (void)i;
    return 10.0 + gauss();
}

static double noise_18_1(int i)
{
    (void)i;
    return 18.0 + gauss();
}

static double flat_5(int i)
{
    (void)i;
    return 5.0;
}

static int sine_phase;
static double sine(int i)
{
    return 50.0 + 20.0 * sin(2.0 * M_PI * (i + sine_phase) / 100.0) + 0.5 * gauss();
}

/* --- API contract --------------------------------------------------------------------- */

Test(detect, cfg_default_is_half)
{
    vg_detector_cfg c = {.sensitivity = -3.0};
    vg_detector_cfg_default(&c);
    cr_assert_eq(c.sensitivity, 0.5);
    vg_detector_cfg_default(NULL); /* documented no-op, must not crash */
}

Test(detect, new_rejects_null_ret)
{
    cr_assert_eq(vg_detector_new(NULL, NULL), -EINVAL);
}

Test(detect, new_rejects_sensitivity_outside_unit_interval)
{
    const double bad[] = {-0.01, 1.01, NAN, INFINITY};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        vg_detector_cfg c = {.sensitivity = bad[i]};
        vg_detector *d = (vg_detector *)0x1;
        cr_assert_eq(vg_detector_new(&c, &d), -EINVAL, "sensitivity %g", bad[i]);
        cr_assert_eq(d, (vg_detector *)0x1, "ret must be untouched on error");
    }
}

Test(detect, new_accepts_the_bounds_and_null_cfg)
{
    const double ok[] = {0.0, 1.0};
    for (size_t i = 0; i < 2; i++) {
        vg_detector_cfg c = {.sensitivity = ok[i]};
        vg_detector *d = NULL;
        cr_assert_eq(vg_detector_new(&c, &d), 0);
        vg_detector_free(&d);
        cr_assert_null(d);
    }
    vg_detector *d = make();
    vg_detector *e = NULL;
    vg_detector_cfg c;
    vg_detector_cfg_default(&c);
    cr_assert_eq(vg_detector_new(&c, &e), 0);
    cr_assert_eq(vg_detector_threshold(d), vg_detector_threshold(e));
    vg_detector_free(&d);
    vg_detector_free(&e);
}

Test(detect, free_accepts_null)
{
    vg_detector *d = NULL;
    vg_detector_free(NULL);
    vg_detector_free(&d);
    cr_assert_null(d);
}

Test(detect, threshold_falls_as_sensitivity_rises)
{
    double prev = 2.0;
    for (int i = 0; i <= 10; i++) {
        vg_detector_cfg c = {.sensitivity = i / 10.0};
        vg_detector *d = NULL;
        cr_assert_eq(vg_detector_new(&c, &d), 0);
        double thr = vg_detector_threshold(d);
        cr_assert(thr > 0.0 && thr < 1.0, "threshold %g", thr);
        cr_assert(thr < prev, "threshold must fall strictly: %g then %g", prev, thr);
        prev = thr;
        vg_detector_free(&d);
    }
}

/* A retune (vg_analysis_reload with a new sensitivity) keeps what the detector learned: the
 * scores go on exactly as a detector never retuned, and only the threshold moves. */
Test(detect, set_sensitivity_moves_the_threshold_and_keeps_what_was_learned)
{
    vg_detector_cfg c02 = {.sensitivity = 0.2}, c09 = {.sensitivity = 0.9};
    vg_detector *d = NULL, *ref = make(), *at09 = NULL;
    const double bad[] = {-0.01, 1.01, NAN, INFINITY};

    cr_assert_eq(vg_detector_new(&c02, &d), 0);
    cr_assert_eq(vg_detector_new(&c09, &at09), 0);
    rng_state = 12;
    for (int i = 0; i < 3000; i++) {
        double x = 10.0 + gauss() + (i == 2000 ? 12.0 : 0.0);
        if (i == 1000) {
            const double thr02 = vg_detector_threshold(d);
            for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
                cr_assert_eq(vg_detector_set_sensitivity(d, bad[k]), -EINVAL, "%g", bad[k]);
            cr_assert_eq(vg_detector_set_sensitivity(NULL, 0.5), -EINVAL);
            cr_assert_eq(vg_detector_threshold(d), thr02, "a refused value changed it");
            cr_assert_eq(vg_detector_set_sensitivity(d, 0.9), 0);
            cr_assert_eq(vg_detector_threshold(d), vg_detector_threshold(at09));
        }
        double s = vg_detector_update(d, (int64_t)i * MIN_NS, x);
        double want = vg_detector_update(ref, (int64_t)i * MIN_NS, x);
        cr_assert_eq(s, want, "reading %d: %.17g, never retuned %.17g", i, s, want);
        if (i == 2000)
            cr_assert_geq(s, vg_detector_threshold(d), "a 12-sigma spike scored %g", s);
    }
    vg_detector_free(&d);
    vg_detector_free(&ref);
    vg_detector_free(&at09);
}

Test(detect, memory_is_fixed_and_counts_the_state)
{
    vg_detector *d = make();
    size_t before = vg_detector_memory(d);
    int64_t t = 0;
    rng_state = 7;
    feed(d, &t, 20000, noise_10_1, NULL);
    cr_assert_eq(vg_detector_memory(d), before);
    /* It holds a ring of past readings, so it cannot be a handful of bytes; and it must
     * stay small enough for 20,000 streams. */
    cr_assert(before >= 1024 && before <= 16384, "memory %zu", before);
    vg_detector_free(&d);
}

/* --- behaviour ------------------------------------------------------------------------ */

/* White noise is the null case. The default sensitivity is tuned on NAB's standard profile,
 * where a false alarm costs a tenth of a miss, so even white noise alarms now and then
 * (about 2 per 1,000 readings, docs/detector.md); sensitivity 0 makes that rare. */
static long ar_noise_alarms(double sensitivity, double phi, int n, uint64_t seed)
{
    vg_detector_cfg c = {.sensitivity = sensitivity};
    vg_detector *d = NULL;
    long alarms = 0;

    cr_assert_eq(vg_detector_new(&c, &d), 0);
    const double thr = vg_detector_threshold(d);
    double e = 0.0;
    rng_state = seed;
    for (int i = 0; i < n; i++) {
        e = phi * e + gauss(); /* AR(1): phi 0 is white noise */
        alarms += vg_detector_update(d, (int64_t)i * MIN_NS, 10.0 + e) >= thr;
    }
    vg_detector_free(&d);
    return alarms;
}

static long noise_alarms(double sensitivity, int n, uint64_t seed)
{
    return ar_noise_alarms(sensitivity, 0.0, n, seed);
}

Test(detect, white_noise_alarm_rate_follows_sensitivity)
{
    long strict = noise_alarms(0.0, 20000, 21), dflt = noise_alarms(0.5, 20000, 21),
         eager = noise_alarms(1.0, 20000, 21);
    cr_assert_leq(strict, 6, "sensitivity 0: %ld alarms in 20,000 noise readings", strict);
    cr_assert_leq(dflt, 120, "sensitivity 0.5: %ld alarms in 20,000 noise readings", dflt);
    cr_assert_lt(strict, dflt);
    cr_assert_leq(dflt, eager);
}

/* Correlated noise, as from a temperature or CO2 sensor wandering around its level: each
 * reading stays close to the one before, so its extremes are reached gradually, and the
 * detector alarms less often than on white noise (docs/detector.md: 0.8 vs 1.8 per 1,000
 * at phi 0.9). */
Test(detect, correlated_noise_alarms_less_often_than_white_noise)
{
    for (uint64_t seed = 21; seed < 24; seed++) {
        long white = ar_noise_alarms(0.5, 0.0, 20000, seed);
        long ar = ar_noise_alarms(0.5, 0.9, 20000, seed);
        long ar_low = ar_noise_alarms(0.2, 0.9, 20000, seed);
        cr_log_info("seed %lu: white %ld, AR(0.9) %ld, at 0.2: %ld", (unsigned long)seed, white,
                    ar, ar_low);
        cr_assert_lt(ar, white * 3 / 4, "seed %lu: AR(0.9) %ld alarms, white noise %ld",
                     (unsigned long)seed, ar, white);
        cr_assert_leq(ar_low, 10, "seed %lu: AR(0.9) at sensitivity 0.2: %ld alarms",
                      (unsigned long)seed, ar_low);
    }
}

/* The longer the history, the surer a report must be: a calibrated detector alarms at a
 * constant rate per reading, so without the history term a long stream's false alarms would
 * grow with its length while its real events do not (docs/detector.md). On white noise the
 * rate after 30,000 readings is below the rate of the first 4,096; before the term it was
 * twice as high. A strong event still alarms after a long history. */
Test(detect, a_long_history_makes_reports_surer_but_a_strong_event_still_alarms)
{
    long early = 0, late = 0;
    for (uint64_t seed = 41; seed < 44; seed++) {
        vg_detector *d = make();
        const double thr = vg_detector_threshold(d);
        int64_t t = 0;
        rng_state = seed;
        for (int i = 0; i < 40000; i++) {
            const int alarm = vg_detector_update(d, t, 10.0 + gauss()) >= thr;
            t += MIN_NS;
            early += alarm && i >= 1000 && i < 4096;
            late += alarm && i >= 30000;
        }
        const double s = vg_detector_update(d, t, 10.0 + 12.0);
        cr_expect_geq(s, thr, "seed %lu: a 12 sigma spike after 40,000 readings scored %g",
                      (unsigned long)seed, s);
        vg_detector_free(&d);
    }
    /* per reading: 3,096 early readings and 10,000 late ones per seed */
    cr_log_info("alarms per 1,000: readings 1,000-4,095 %.2f, 30,000-39,999 %.2f",
                early * 1000.0 / (3 * 3096), late * 1000.0 / (3 * 10000));
    cr_expect_lt(late * 3096, early * 10000, "late %ld per 30,000 readings, early %ld per 9,288",
                 late, early);
}

Test(detect, step_change_alarms_at_once_and_outscores_everything_before)
{
    vg_detector *d = make();
    int64_t t = 0;
    int first;
    rng_state = 1;
    double before = feed(d, &t, 2000, noise_10_1, NULL);
    double s = vg_detector_update(d, t, 18.0 + gauss());
    t += MIN_NS;
    cr_assert_geq(s, vg_detector_threshold(d), "an 8 sigma step scored %g", s);
    cr_assert_gt(s, before + 0.05, "step %g vs the noise before it %g", s, before);
    feed(d, &t, 200, noise_18_1, &first);
    (void)first;
    vg_detector_free(&d);
}

Test(detect, step_change_is_the_only_alarm_at_low_sensitivity)
{
    vg_detector_cfg c = {.sensitivity = 0.2};
    vg_detector *d = NULL;
    int64_t t = 0;
    int first;
    cr_assert_eq(vg_detector_new(&c, &d), 0);
    rng_state = 1;
    double before = feed(d, &t, 2000, noise_10_1, &first);
    cr_assert_eq(first, -1, "alarm at %d before the step (max %g)", first, before);
    /* A 12 sigma step. */
    double s = vg_detector_update(d, t, 22.0 + gauss());
    cr_assert_geq(s, vg_detector_threshold(d), "step scored %g", s);
    vg_detector_free(&d);
}

Test(detect, single_spike_scores_high)
{
    vg_detector *d = make();
    int64_t t = 0;
    rng_state = 2;
    double before = feed(d, &t, 2000, noise_10_1, NULL);
    double s = vg_detector_update(d, t, 10.0 + 12.0);
    cr_assert(s >= vg_detector_threshold(d), "spike of 12 sigma scored %g", s);
    cr_assert_gt(s, before);
    vg_detector_free(&d);
}

/* Stamps at both ends of the int64 range (years 1678 and 2261, which vigil detect accepts):
 * the time-of-day memory compares them without overflowing (UBSan checks this in CI). */
Test(detect, alarms_centuries_apart_compare_without_overflow)
{
    vg_detector *d = make();
    int64_t t = INT64_MIN + 1;
    int alarms = 0;

    rng_state = 12;
    feed(d, &t, 1000, noise_10_1, NULL);
    for (int k = 0; k < 4; k++) { /* alarm-level spikes, remembered with their stamps */
        alarms += vg_detector_update(d, t, 10.0 + 40.0 * (k + 1)) >= vg_detector_threshold(d);
        feed(d, &t, 700, noise_10_1, NULL);
    }
    t = INT64_MAX - 1000 * MIN_NS;
    feed(d, &t, 700, noise_10_1, NULL);
    double s = vg_detector_update(d, t, 10.0 + 400.0);
    cr_assert_geq(alarms, 1);
    cr_assert(s >= 0.0 && s <= 1.0);
    vg_detector_free(&d);
}

Test(detect, slow_drift_adds_no_alarms)
{
    /* A drift of 5 sigma over 3000 readings is how slowly changing signals behave
     * (temperature over an afternoon): the detector follows it. Same noise with and without
     * the drift: the drift may not add alarms. */
    vg_detector *a = make(), *b = make();
    const double thr = vg_detector_threshold(a);
    int with = 0, without = 0;
    rng_state = 3;
    for (int i = 0; i < 4000; i++) {
        double e = gauss(), ramp = i < 1000 ? 0.0 : 5.0 * (i - 1000) / 3000.0;
        with += vg_detector_update(a, (int64_t)i * MIN_NS, 10.0 + ramp + e) >= thr;
        without += vg_detector_update(b, (int64_t)i * MIN_NS, 10.0 + e) >= thr;
    }
    cr_assert_leq(with, without + 1, "drift: %d alarms, same noise without it: %d", with,
                  without);
    vg_detector_free(&a);
    vg_detector_free(&b);
}

Test(detect, flat_line_scores_zero_and_a_change_after_it_alarms)
{
    vg_detector *d = make();
    int64_t t = 0;
    int first;
    double max = feed(d, &t, 3000, flat_5, &first);
    cr_assert_eq(max, 0.0, "a flat line scored %g", max);
    double s = vg_detector_update(d, t, 6.0);
    cr_assert_geq(s, 0.9, "a change after a flat line scored %g", s);
    vg_detector_free(&d);
}

Test(detect, learned_sine_scores_low_and_a_break_alarms)
{
    vg_detector *d = make();
    int64_t t = 0;
    int first;
    rng_state = 4;
    sine_phase = 0;
    feed(d, &t, 1500, sine, NULL);
    /* After fifteen periods the pattern is known. */
    sine_phase = 1500;
    double max = feed(d, &t, 1000, sine, &first);
    cr_assert_eq(first, -1, "false alarm at %d in a learned sine (max %g)", first, max);
    cr_assert_lt(max, 0.3, "learned sine scored up to %g", max);
    /* Break: at a peak the signal jumps a quarter period ahead (values stay in range). */
    sine_phase = 2500 + 25;
    double s = vg_detector_update(d, t, sine(0));
    t += MIN_NS;
    cr_assert_geq(s, vg_detector_threshold(d), "phase jump scored %g", s);
    vg_detector_free(&d);
}

static double sine_mean(int i)
{
    (void)i;
    return 50.0 + 0.5 * gauss();
}

Test(detect, a_sine_that_stops_scores_above_the_learned_pattern)
{
    /* Documented limit: a periodic signal that stops at its mean (a stalled fan) scores
     * above anything the learned pattern scored, but below the default threshold; it alarms
     * at higher sensitivity (docs/detector.md). */
    vg_detector *d = make();
    int64_t t = 0;
    rng_state = 12;
    sine_phase = 0;
    double learned = feed(d, &t, 2500, sine, NULL);
    double stopped = feed(d, &t, 30, sine_mean, NULL);
    cr_assert_gt(stopped, learned + 0.08, "stopped %g vs learned %g", stopped, learned);
    vg_detector_free(&d);
}

Test(detect, a_day_unlike_the_earlier_days_alarms)
{
    /* A daily pattern at 5-minute sampling: 200 readings around 20, then a plateau of 88
     * around 75. On day 10 the plateau comes at 40 instead. Nothing in that day is new
     * within one day's look-back (the jump up happens every day, and a flat stretch in the
     * 20-75 range is everywhere); only the slow shape search, which looks back 18 days in
     * blocks of 16 readings, sees the day unlike every earlier one. */
    vg_detector *d = make();
    const double thr = vg_detector_threshold(d);
    double learned = 0.0, odd = 0.0;
    int first = -1;
    rng_state = 1;
    for (int i = 0; i < 288 * 12; i++) {
        const int day = i / 288, ph = i % 288, high = ph >= 200;
        const double x = !high ? 20.0 + gauss() : day == 9 ? 40.0 + 3.0 * gauss()
                                                             : 75.0 + 5.0 * gauss();
        const double s = vg_detector_update(d, (int64_t)i * 5 * MIN_NS, x);
        if (day == 9 && high) {
            odd = s > odd ? s : odd;
            if (first < 0 && s >= thr)
                first = ph - 200;
        } else if (day >= 3 && high && ph > 210) {
            learned = s > learned ? s : learned; /* plateaus of ordinary days, past the jump */
        }
    }
    cr_assert_lt(learned, thr, "an ordinary day's plateau scored %g", learned);
    cr_assert(first >= 0 && first <= 32, "the odd day alarmed at %d (max %g)", first, odd);
    vg_detector_free(&d);
}

Test(detect, scores_stay_in_unit_interval_on_wild_input)
{
    vg_detector *d = make();
    rng_state = 5;
    for (int i = 0; i < 20000; i++) {
        double u = uniform01();
        double x = u < 0.1 ? 1e300 * (u - 0.05) : u < 0.2 ? 1e-300 * u : (u - 0.5) * 1e6;
        if (i % 1000 > 900)
            x = 42.0; /* flat stretches */
        double s = vg_detector_update(d, (int64_t)i * MIN_NS, x);
        cr_assert(s >= 0.0 && s <= 1.0, "score %g for %g", s, x);
    }
    vg_detector_free(&d);
}

/* A CO2 sensor at 450 +- 5 ppm sends one glitch of 9000 ppm, inside its range. Before
 * 2026-11-23 that reading set the context quantiser's range for good, and none of the later
 * excursions to 900 ppm alarmed again (0 of 18 in the audit's stream, 11 without the
 * glitch). Now the range beyond 100 spreads of the level decays and they alarm as in a
 * stream without the glitch. */
static int co2_excursions_alarmed(int glitch)
{
    vg_detector_cfg cfg;
    vg_detector *d = NULL;
    int alarmed = 0;

    vg_detector_cfg_default(&cfg);
    cfg.sensitivity = 0.2; /* what docs/detector.md advises for CO2 */
    cr_assert_eq(vg_detector_new(&cfg, &d), 0);
    rng_state = 13;
    for (int i = 0; i < 20000; i++) {
        double x = 450.0 + 5.0 * gauss();
        if (glitch && i == 1000)
            x = 9000.0;
        if (i >= 4000 && i % 2000 == 0)
            x = 900.0;
        double s = vg_detector_update(d, (int64_t)i * 10 * INT64_C(1000000000), x);
        alarmed += x == 900.0 && s >= vg_detector_threshold(d);
    }
    vg_detector_free(&d);
    return alarmed;
}

Test(detect, one_glitch_far_outside_the_spread_does_not_blind_the_detector)
{
    const int clean = co2_excursions_alarmed(0), glitched = co2_excursions_alarmed(1);

    cr_assert_geq(clean, 6, "%d of 8 excursions alarmed without the glitch", clean);
    cr_assert_geq(glitched, clean - 1, "%d of 8 after the glitch, %d without", glitched, clean);
}

Test(detect, nan_inf_and_values_beyond_float_range_are_ignored)
{
    vg_detector *a = make(), *b = make();
    rng_state = 6;
    for (int i = 0; i < 3000; i++) {
        double x = 10.0 + gauss() + (i == 2500 ? 15.0 : 0.0);
        if (i % 7 == 0) {
            cr_assert_eq(vg_detector_update(b, (int64_t)i * MIN_NS, NAN), 0.0);
            cr_assert_eq(vg_detector_update(b, (int64_t)i * MIN_NS, INFINITY), 0.0);
            cr_assert_eq(vg_detector_update(b, (int64_t)i * MIN_NS, -INFINITY), 0.0);
            /* finite but beyond what a float (the shape windows) holds: ignored the same way */
            cr_assert_eq(vg_detector_update(b, (int64_t)i * MIN_NS, 1e300), 0.0);
            cr_assert_eq(vg_detector_update(b, (int64_t)i * MIN_NS, -1e39), 0.0);
        }
        double sa = vg_detector_update(a, (int64_t)i * MIN_NS, x);
        double sb = vg_detector_update(b, (int64_t)i * MIN_NS, x);
        cr_assert_eq(sa, sb, "NaN/inf changed the state: reading %d scored %g vs %g", i, sa, sb);
    }
    vg_detector_free(&a);
    vg_detector_free(&b);
}

Test(detect, same_input_gives_identical_scores)
{
    enum { N = 5000 };
    static double first[N];
    for (int run = 0; run < 2; run++) {
        vg_detector *d = make();
        rng_state = 8;
        sine_phase = 0;
        for (int i = 0; i < N; i++) {
            double x = sine(i) + (i == 3000 ? 40.0 : 0.0);
            double s = vg_detector_update(d, (int64_t)i * MIN_NS, x);
            if (run == 0)
                first[i] = s;
            else
                cr_assert_eq(s, first[i], "reading %d: %.17g then %.17g", i, first[i], s);
        }
        vg_detector_free(&d);
    }
}

static int poisson(double lambda)
{
    const double l = exp(-lambda);
    double p = 1.0;
    int k = -1;

    do {
        p *= uniform01();
        k++;
    } while (p > l);
    return k;
}

Test(detect, bursty_counts_alarm_only_on_bursts_and_not_on_most)
{
    /* A count stream (noise events or vibration peaks per interval): Poisson counts on a
     * daily rhythm, plus bursts in 1 % of the intervals whose sizes are heavy-tailed
     * (Pareto 1.5). Ordinary Poisson fluctuation must not alarm, and a stream that bursts
     * every 100 readings must not alarm on most of its bursts: only the unusually large
     * ones. docs/detector.md has the measured rates. */
    enum { N = 15000 };
    static unsigned char burst[N];
    vg_detector *d = make();
    const double thr = vg_detector_threshold(d);
    int64_t t = 0;
    int bursts = 0, alarms = 0, at_burst = 0;

    rng_state = 5;
    for (int i = 0; i < N; i++) {
        const double lambda = 20.0 + 15.0 * sin(2.0 * M_PI * i / 288.0);
        double x = poisson(lambda);
        burst[i] = uniform01() < 0.01;
        if (burst[i]) {
            x += floor(lambda * pow(1.0 - uniform01(), -1.0 / 1.5));
            bursts++;
        }
        const double s = vg_detector_update(d, t, x);
        t += 5 * MIN_NS;
        if (s >= thr) {
            alarms++;
            at_burst += burst[i] || (i > 0 && burst[i - 1]) || (i > 1 && burst[i - 2]);
        }
    }
    cr_assert_gt(alarms, 0, "no burst alarmed in %d", bursts);
    cr_assert_geq(at_burst * 10, alarms * 9, "%d of %d alarms at a burst", at_burst, alarms);
    cr_assert_leq(alarms * 10, bursts * 3, "%d alarms for %d bursts", alarms, bursts);
    vg_detector_free(&d);
}

Test(detect, one_event_alarms_once)
{
    /* A step is one event: after its first alarm the detector adapts and stays quiet, so
     * an operator gets one alert, not one per reading. */
    vg_detector *d = make();
    int64_t t = 0;
    int first;
    rng_state = 9;
    feed(d, &t, 2000, noise_10_1, NULL);
    const double thr = vg_detector_threshold(d);
    int alarms = 0;
    for (int i = 0; i < 1000; i++) {
        double s = vg_detector_update(d, t, 18.0 + gauss());
        t += MIN_NS;
        alarms += s >= thr;
    }
    (void)first;
    cr_assert(alarms >= 1 && alarms <= 3, "%d alarms for one step", alarms);
    vg_detector_free(&d);
}

/* Feeds nsp spikes of height h, each after gap readings of 10 +- 0.1 noise at 1 Hz, then
 * gap more readings, and returns the score of one final spike of height last. */
static double after_spikes(uint64_t seed, double h, int nsp, int gap, double last)
{
    vg_detector *d = make();
    int64_t t = 0;
    rng_state = seed;
    for (int k = 0; k <= nsp; k++) {
        for (int i = 0; i < gap; i++, t += 1000000000)
            vg_detector_update(d, t, 10.0 + 0.1 * gauss());
        if (k < nsp)
            vg_detector_update(d, t, 10.0 + h);
        t += 1000000000;
    }
    const double s = vg_detector_update(d, t, 10.0 + last);
    vg_detector_free(&d);
    return s;
}

Test(detect, a_recurring_kind_of_spike_weighs_less_than_a_new_kind)
{
    /* Same noise, twelve earlier spikes. Before a +4 spike, one stream's earlier spikes
     * were +4 too (its usual kind of event), the other's were +9 (more than twice the size:
     * another kind). In both, every earlier spike is at least as large as the last one, so
     * calibration alone ranks the last spike about the same (without the event-type memory:
     * a mean difference of 0.006, the wrong way round in 3 of these 10 seeds). With it, the
     * usual kind loses ln(1 + matches) and must rank lower in every seed. At 1 Hz the
     * daily-recurrence rule plays no part. */
    double sum = 0.0;
    for (uint64_t seed = 1; seed <= 10; seed++) {
        const double usual = after_spikes(seed, 4.0, 12, 500, 4.0);
        const double other = after_spikes(seed, 9.0, 12, 500, 4.0);
        cr_assert_gt(other, usual, "seed %d: after +9 spikes %g, after +4 spikes %g", (int)seed,
                     other, usual);
        sum += other - usual;
    }
    cr_assert_gt(sum / 10, 0.03, "mean difference %g", sum / 10);
}

/* --- vigil detect --------------------------------------------------------------------- */

static char tmpdir[256];

static void cli_setup(void)
{
    strcpy(tmpdir, "/tmp/vg-test-detect-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void cli_teardown(void)
{
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void path_in(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

static void write_file(const char *name, const char *text)
{
    char p[512];
    path_in(p, sizeof(p), name);
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f, "%s", p);
    fputs(text, f);
    fclose(f);
}

/* Runs `vigil detect ARGS...`; stdout and stderr land in *ret_out / *ret_err (malloc'd).
 * Returns the exit status. */
/* Set by a test before run_detect: where the child's stdout goes instead of stdout.txt
 * (/dev/full: a full disk), and a file-size limit for the child (0: none). */
static const char *run_stdout;
static long long run_fsize;

/* Set by a test before run_detect: a file for the child's stdin (NULL: /dev/null). */
static const char *run_stdin;

static int run_detect(char **ret_out, char **ret_err, const char *const *args)
{
    const char *vigil = getenv("VG_VIGIL");
    char out_path[512], err_path[512];
    const char *argv[32];
    int n = 0;

    cr_assert_not_null(vigil, "VG_VIGIL is not set (run through meson test)");
    path_in(out_path, sizeof(out_path), "stdout.txt");
    path_in(err_path, sizeof(err_path), "stderr.txt");
    argv[n++] = vigil;
    argv[n++] = "detect";
    for (; *args && n < 31; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    const child_io io = {.in = run_stdin, .out = run_stdout ? run_stdout : out_path,
                         .err = err_path, .fsize = run_fsize};
    const int status = child_run(argv, &io, 100000);
    cr_assert(status >= 0 && status < 128, "vigil detect died or hung (%d)", status);
    *ret_out = run_stdout ? strdup("") : read_file(out_path);
    *ret_err = read_file(err_path);
    return status;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Score column of data row `row` (1-based, after the header) of CSV text. */
static double score_of_row(const char *csv, int row)
{
    const char *p = csv;
    for (int i = 0; i < row; i++) {
        p = strchr(p, '\n');
        cr_assert_not_null(p, "no row %d", row);
        p++;
    }
    const char *end = strchr(p, '\n');
    const char *comma = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == ',')
            comma = q;
    cr_assert_not_null(comma);
    return strtod(comma + 1, NULL);
}

/* A 600-row file: noise around 10 with a step to 30 at data row 501. */
static void write_step_csv(const char *name, const char *eol)
{
    char p[512];
    path_in(p, sizeof(p), name);
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f);
    fprintf(f, "timestamp,value%s", eol);
    rng_state = 11;
    for (int i = 0; i < 600; i++) {
        int m = i % 60, h = (i / 60) % 24, day = 1 + i / 1440;
        fprintf(f, "2015-09-%02d %02d:%02d:00,%.4f%s", day, h, m,
                (i >= 500 ? 30.0 : 10.0) + gauss(), eol);
    }
    fclose(f);
}

TestSuite(detect_cli, .init = cli_setup, .fini = cli_teardown, .timeout = 60);

Test(detect_cli, help_documents_the_modes)
{
    char *out, *err;
    cr_assert_eq(run_detect(&out, &err, (const char *[]){"--help", NULL}), 0);
    cr_assert_not_null(strstr(out, "--sensitivity"));
    cr_assert_not_null(strstr(out, "--nab-data"));
    cr_assert_not_null(strstr(out, "timestamp,value,anomaly_score"));
    free(out);
    free(err);
}

Test(detect_cli, scores_every_row_and_copies_timestamp_and_value)
{
    char p[512], *out, *err;
    write_step_csv("step.csv", "\n");
    path_in(p, sizeof(p), "step.csv");
    cr_assert_eq(run_detect(&out, &err, (const char *[]){"-q", p, NULL}), 0, "stderr: %s", err);
    cr_assert_eq(count_lines(out), 601);
    cr_assert_eq(strncmp(out, "timestamp,value,anomaly_score\n", 30), 0);
    /* Row 1 copies the input text exactly. */
    char *in = read_file(p);
    const char *in_row1 = strchr(in, '\n') + 1, *out_row1 = strchr(out, '\n') + 1;
    size_t len = (size_t)(strchr(in_row1, '\n') - in_row1);
    cr_assert_eq(strncmp(in_row1, out_row1, len), 0);
    cr_assert_eq(out_row1[len], ',');
    /* The step at data row 501 alarms within a few rows; nothing before it scores as high. */
    double before = 0.0, after = 0.0;
    for (int r = 200; r <= 500; r++)
        before = fmax(before, score_of_row(out, r));
    for (int r = 501; r <= 505; r++)
        after = fmax(after, score_of_row(out, r));
    cr_assert_gt(after, before, "step %g vs noise %g", after, before);
    cr_assert_geq(after, 0.5);
    for (int r = 1; r <= 600; r++) {
        double s = score_of_row(out, r);
        cr_assert(s >= 0.0 && s <= 1.0);
    }
    free(in);
    free(out);
    free(err);
}

/* `-` reads standard input and scores it exactly as the same file named. */
Test(detect_cli, a_dash_reads_standard_input)
{
    char p[512], *named, *piped, *err;
    write_step_csv("step.csv", "\n");
    path_in(p, sizeof(p), "step.csv");
    cr_assert_eq(run_detect(&named, &err, (const char *[]){"-q", p, NULL}), 0, "%s", err);
    free(err);
    run_stdin = p;
    cr_assert_eq(run_detect(&piped, &err, (const char *[]){"-", NULL}), 0, "%s", err);
    run_stdin = NULL;
    cr_assert_str_eq(piped, named);
    cr_assert_not_null(strstr(err, "vigil detect: standard input: 600 rows"), "%s", err);
    free(named);
    free(piped);
    free(err);
}

Test(detect_cli, crlf_input_scores_like_lf)
{
    char a[512], b[512], *out_lf, *out_crlf, *err;
    write_step_csv("lf.csv", "\n");
    write_step_csv("crlf.csv", "\r\n");
    path_in(a, sizeof(a), "lf.csv");
    path_in(b, sizeof(b), "crlf.csv");
    cr_assert_eq(run_detect(&out_lf, &err, (const char *[]){"-q", a, NULL}), 0);
    free(err);
    cr_assert_eq(run_detect(&out_crlf, &err, (const char *[]){"-q", b, NULL}), 0, "%s", err);
    cr_assert_null(strchr(out_crlf, '\r'), "a CR leaked into the output");
    cr_assert_str_eq(out_lf, out_crlf);
    free(out_lf);
    free(out_crlf);
    free(err);
}

Test(detect_cli, fractional_and_unix_timestamps_are_accepted)
{
    char p[512], *out, *err;
    write_file("ts.csv", "value,timestamp\n"
                         "1.5,2015-09-01 10:00:00.250\n"
                         "1.6,2015-09-01T10:00:01.5\n"
                         "1.7,1441101602\n"
                         "1.8,1441101603.75\n");
    path_in(p, sizeof(p), "ts.csv");
    cr_assert_eq(run_detect(&out, &err, (const char *[]){"-q", p, NULL}), 0, "%s", err);
    cr_assert_str_eq(out, "timestamp,value,anomaly_score\n"
                          "2015-09-01 10:00:00.250,1.5,0.000000000\n"
                          "2015-09-01T10:00:01.5,1.6,0.000000000\n"
                          "1441101602,1.7,0.000000000\n"
                          "1441101603.75,1.8,0.000000000\n");
    cr_assert_str_eq(err, "");
    free(out);
    free(err);
}

Test(detect_cli, missing_file_is_an_error_naming_it)
{
    char p[512], *out, *err;
    path_in(p, sizeof(p), "nope.csv");
    cr_assert_eq(run_detect(&out, &err, (const char *[]){p, NULL}), 1);
    cr_assert_not_null(strstr(err, p), "stderr: %s", err);
    cr_assert_not_null(strstr(err, "No such file"), "stderr: %s", err);
    free(out);
    free(err);
}

Test(detect_cli, bad_row_is_counted_scored_zero_and_reported)
{
    char p[512], *out, *err;
    write_file("bad.csv", "timestamp,value\n"
                          "2015-09-01 10:00:00,1\n"
                          "2015-09-01 10:01:00,2\n"
                          "2015-09-01 10:02:00,abc\n"
                          "2015-09-01 10:03:00\n"
                          "not a time,3\n"
                          "9999-12-31 00:00:00,5\n" /* its nanoseconds overflow 64 bits */
                          "2015-09-01 10:05:00,4\n");
    path_in(p, sizeof(p), "bad.csv");
    cr_assert_eq(run_detect(&out, &err, (const char *[]){"-q", p, NULL}), 0, "%s", err);
    cr_assert_eq(count_lines(out), 8);
    cr_assert_not_null(strstr(out, "2015-09-01 10:02:00,abc,0.000000000\n"));
    cr_assert_not_null(strstr(out, "2015-09-01 10:03:00,,0.000000000\n"));
    cr_assert_not_null(strstr(out, "not a time,3,0.000000000\n"));
    cr_assert_not_null(strstr(out, "9999-12-31 00:00:00,5,0.000000000\n"));
    cr_assert_not_null(strstr(err, "4 bad rows"), "stderr: %s", err);
    cr_assert_not_null(strstr(err, "lines 4, 5, 6, 7"), "stderr: %s", err);
    cr_assert_not_null(strstr(err, p), "stderr: %s", err);
    free(out);
    free(err);
}

/* A day the month does not have is a bad timestamp: scored 0 and counted. Leap days count
 * in leap years only (2000 is one, 1900 is not). */
Test(detect_cli, a_day_past_the_end_of_its_month_is_a_bad_row)
{
    char p[512], *out, *err;
    write_file("days.csv", "timestamp,value\n"
                           "2024-02-28 10:00:00,1\n"
                           "2024-02-29 10:00:00,2\n"
                           "2024-02-30 10:00:00,3\n"
                           "2023-02-29 10:00:00,4\n"
                           "2024-04-31 10:00:00,5\n"
                           "2000-02-29 10:00:00,6\n"
                           "1900-02-29 10:00:00,7\n"
                           "2024-12-31 23:59:59,8\n");
    path_in(p, sizeof(p), "days.csv");
    cr_assert_eq(run_detect(&out, &err, (const char *[]){"-q", p, NULL}), 0, "%s", err);
    cr_assert_eq(count_lines(out), 9);
    cr_assert_not_null(strstr(out, "2024-02-30 10:00:00,3,0.000000000\n"), "%s", out);
    cr_assert_not_null(strstr(err, "4 bad rows"), "stderr: %s", err);
    cr_assert_not_null(strstr(err, "lines 4, 5, 6, 8"), "stderr: %s", err);
    free(out);
    free(err);
}

Test(detect_cli, file_without_a_good_row_is_an_error_with_its_line)
{
    char p[512], *out, *err;
    write_file("allbad.csv", "timestamp,value\n\n2015-09-01 10:00:00,x\n");
    path_in(p, sizeof(p), "allbad.csv");
    cr_assert_eq(run_detect(&out, &err, (const char *[]){p, NULL}), 1);
    char want[600];
    snprintf(want, sizeof(want), "%s:3:", p);
    cr_assert_not_null(strstr(err, want), "stderr: %s", err);
    free(out);
    free(err);
}

/* A file rejected after its rows were read (no readable row, no data row) leaves nothing on
 * stdout: only the accepted file's block is there. */
Test(detect_cli, a_rejected_file_leaves_nothing_on_stdout)
{
    char good[512], allbad[512], norows[512], *out, *err;
    write_file("good.csv", "timestamp,value\n2015-09-01 10:00:00,1\n2015-09-01 10:01:00,2\n");
    write_file("allbad.csv", "timestamp,value\n2015-09-01 10:00:00,x\n");
    write_file("norows.csv", "timestamp,value\n");
    path_in(good, sizeof(good), "good.csv");
    path_in(allbad, sizeof(allbad), "allbad.csv");
    path_in(norows, sizeof(norows), "norows.csv");
    cr_assert_eq(run_detect(&out, &err, (const char *[]){"-q", allbad, good, norows, NULL}), 1,
                 "%s", err);
    cr_assert_eq(count_lines(out), 3, "one header and the good file's two rows: %s", out);
    cr_assert_eq(strncmp(out, "timestamp,value,anomaly_score\n2015-09-01 10:00:00,1,", 52), 0,
                 "%s", out);
    cr_assert_null(strstr(out, ",x,"), "%s", out);
    cr_assert_not_null(strstr(err, "no readable row"), "%s", err);
    cr_assert_not_null(strstr(err, "no data rows"), "%s", err);
    free(out);
    free(err);
}

Test(detect_cli, bad_header_and_empty_file_are_errors)
{
    char p[512], *out, *err;
    write_file("hdr.csv", "time,reading\n2015-09-01 10:00:00,1\n");
    path_in(p, sizeof(p), "hdr.csv");
    cr_assert_eq(run_detect(&out, &err, (const char *[]){p, NULL}), 1);
    char want[600];
    snprintf(want, sizeof(want), "%s:1:", p);
    cr_assert_not_null(strstr(err, want), "stderr: %s", err);
    cr_assert_not_null(strstr(err, "timestamp"), "stderr: %s", err);
    free(out);
    free(err);

    write_file("empty.csv", "");
    path_in(p, sizeof(p), "empty.csv");
    cr_assert_eq(run_detect(&out, &err, (const char *[]){p, NULL}), 1);
    cr_assert_not_null(strstr(err, "empty"), "stderr: %s", err);
    free(out);
    free(err);
}

Test(detect_cli, bad_usage_exits_2)
{
    char *out, *err;
    cr_assert_eq(run_detect(&out, &err, (const char *[]){"--sensitivity", "1.5", "x.csv", NULL}),
                 2);
    cr_assert_not_null(strstr(err, "--sensitivity"));
    free(out);
    free(err);
    cr_assert_eq(run_detect(&out, &err, (const char *[]){NULL}), 2);
    free(out);
    free(err);
    cr_assert_eq(run_detect(&out, &err, (const char *[]){"--nab-data", "/tmp", NULL}), 2);
    free(out);
    free(err);
}

Test(detect_cli, sensitivity_moves_the_alarm_count_not_the_scores)
{
    char p[512], *lo, *hi, *err_lo, *err_hi;
    write_step_csv("s.csv", "\n");
    path_in(p, sizeof(p), "s.csv");
    cr_assert_eq(run_detect(&lo, &err_lo, (const char *[]){"--sensitivity", "0", p, NULL}), 0);
    cr_assert_eq(run_detect(&hi, &err_hi, (const char *[]){"--sensitivity", "1", p, NULL}), 0);
    cr_assert_str_eq(lo, hi);
    long n_lo = -1, n_hi = -1;
    const char *a = strstr(err_lo, "rows, "), *b = strstr(err_hi, "rows, ");
    cr_assert(a && b, "summaries: %s / %s", err_lo, err_hi);
    n_lo = strtol(a + 6, NULL, 10);
    n_hi = strtol(b + 6, NULL, 10);
    /* The 20 sigma step after 500 readings alarms when eager, not at sensitivity 0, which
     * keeps alarms for events far beyond the stream's history (docs/detector.md). */
    cr_assert_geq(n_hi, 1, "%s", err_hi);
    cr_assert_lt(n_lo, n_hi, "%s / %s", err_lo, err_hi);
    free(lo);
    free(hi);
    free(err_lo);
    free(err_hi);
}

Test(detect_cli, nab_mode_writes_one_results_file_per_input)
{
    char data[512], res[512], p[600], *out, *err;
    path_in(data, sizeof(data), "nab");
    path_in(res, sizeof(res), "res/deep");
    cr_assert_eq(mkdir(data, 0777), 0);
    snprintf(p, sizeof(p), "%s/catA", data);
    cr_assert_eq(mkdir(p, 0777), 0);
    snprintf(p, sizeof(p), "%s/catB", data);
    cr_assert_eq(mkdir(p, 0777), 0);
    write_step_csv("nab/catA/one.csv", "\n");
    write_file("nab/catB/two.csv", "timestamp,value\r\n2015-09-01 10:00:00,1\r\n"
                                   "2015-09-01 10:05:00,2\r\n");
    write_file("nab/README.md", "not a category\n");
    cr_assert_eq(run_detect(&out, &err, (const char *[]){"--nab-data", data, "--results", res,
                                                         NULL}),
                 0, "%s", err);
    snprintf(p, sizeof(p), "%s/catA/vigil_one.csv", res);
    char *a = read_file(p);
    cr_assert_eq(count_lines(a), 601);
    snprintf(p, sizeof(p), "%s/catB/vigil_two.csv", res);
    char *b = read_file(p);
    cr_assert_str_eq(b, "timestamp,value,anomaly_score\n2015-09-01 10:00:00,1,0.000000000\n"
                        "2015-09-01 10:05:00,2,0.000000000\n");
    cr_assert_not_null(strstr(err, "2 files"), "%s", err);
    free(a);
    free(b);
    free(out);
    free(err);
}

/* A full disk under stdout: while scoring (a large file) or at the final flush (a file
 * whose scores fit in the buffer), an error and exit 1, never a silent truncation. */
Test(detect_cli, full_disk_on_stdout_is_an_error)
{
    char big[512], small[512], *out, *err;
    write_step_csv("big.csv", "\n");
    write_file("small.csv", "timestamp,value\n2015-09-01 10:00:00,1\n");
    path_in(big, sizeof(big), "big.csv");
    path_in(small, sizeof(small), "small.csv");
    run_stdout = "/dev/full";
    const char *cases[] = {big, small};
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(run_detect(&out, &err, (const char *[]){"-q", cases[i], NULL}), 1, "%s",
                     err);
        cr_assert_not_null(strstr(err, "stdout: write error"), "%s: %s", cases[i], err);
        cr_assert_not_null(strstr(err, "No space left on device"), "%s: %s", cases[i], err);
        free(out);
        free(err);
    }
}

/* A results file that cannot be written (here: past a file-size limit, as on a full disk)
 * fails that input alone: an error naming the results file, nothing half-written left
 * behind, the other inputs still scored, exit 1. */
Test(detect_cli, nab_mode_write_error_fails_that_file_and_leaves_nothing_behind)
{
    char data[512], res[512], p[600], *out, *err;
    struct stat sb;
    path_in(data, sizeof(data), "nab");
    path_in(res, sizeof(res), "res");
    cr_assert_eq(mkdir(data, 0777), 0);
    snprintf(p, sizeof(p), "%s/cat", data);
    cr_assert_eq(mkdir(p, 0777), 0);
    write_step_csv("nab/cat/big.csv", "\n"); /* ~20 KB of scores */
    write_file("nab/cat/small.csv", "timestamp,value\n2015-09-01 10:00:00,1\n");
    run_fsize = 8192;
    cr_assert_eq(run_detect(&out, &err, (const char *[]){"--nab-data", data, "--results", res,
                                                         NULL}),
                 1, "%s", err);
    snprintf(p, sizeof(p), "%s/cat/vigil_big.csv: write error", res);
    cr_assert_not_null(strstr(err, p), "stderr: %s", err);
    cr_assert_not_null(strstr(err, "1 files, 1 rows (0 bad)"), "stderr: %s", err);
    cr_assert_not_null(strstr(err, "1 files failed"), "stderr: %s", err);
    snprintf(p, sizeof(p), "%s/cat/vigil_big.csv", res);
    cr_assert_eq(stat(p, &sb), -1, "%s was left behind", p);
    snprintf(p, sizeof(p), "%s/cat/vigil_big.csv.tmp", res);
    cr_assert_eq(stat(p, &sb), -1, "%s was left behind", p);
    snprintf(p, sizeof(p), "%s/cat/vigil_small.csv", res);
    char *small = read_file(p);
    cr_assert_str_eq(small, "timestamp,value,anomaly_score\n2015-09-01 10:00:00,1,0.000000000\n");
    free(small);
    free(out);
    free(err);
}

Test(detect_cli, nab_mode_without_data_dir_is_an_error)
{
    char data[512], res[512], *out, *err;
    path_in(data, sizeof(data), "missing");
    path_in(res, sizeof(res), "res");
    cr_assert_eq(run_detect(&out, &err, (const char *[]){"--nab-data", data, "--results", res,
                                                         NULL}),
                 1);
    cr_assert_not_null(strstr(err, data), "stderr: %s", err);
    cr_assert_not_null(strstr(err, "cannot read directory"), "stderr: %s", err);
    free(out);
    free(err);
}

Test(detect_cli, several_files_each_get_a_header_and_a_fresh_detector)
{
    char a[512], *out_one, *out_two, *err;
    write_step_csv("one.csv", "\n");
    path_in(a, sizeof(a), "one.csv");
    cr_assert_eq(run_detect(&out_one, &err, (const char *[]){"-q", a, NULL}), 0);
    free(err);
    cr_assert_eq(run_detect(&out_two, &err, (const char *[]){"-q", a, a, NULL}), 0);
    /* The same file twice: the second block repeats the first exactly, header included,
     * which holds only if the second file starts from a fresh detector. */
    size_t n = strlen(out_one);
    cr_assert_eq(strlen(out_two), 2 * n);
    cr_assert_eq(strncmp(out_two, out_one, n), 0);
    cr_assert_eq(strcmp(out_two + n, out_one), 0);
    free(out_one);
    free(out_two);
    free(err);
}
