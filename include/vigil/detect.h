/* Vigil: the streaming anomaly detector, one per sensor stream.
 *
 * Each reading of a stream goes in (in the stream's event-time order) and comes out with an
 * anomaly score in [0,1): 0 is "nothing unusual"; the score grows with how improbable the
 * reading is given the stream's own history. The detector learns each stream's normal
 * behaviour online, in one pass, with no look-ahead, in memory fixed when it is created;
 * the same readings always give the same scores. After an event is reported, the readings
 * that merely follow it score 0, so one event gives one alarm. docs/detector.md has the
 * algorithm and its numbers.
 *
 * Sensitivity: vg_detector_cfg.sensitivity in [0,1] moves the alarm threshold that
 * vg_detector_threshold() returns; the scores do not depend on it, so it can change per
 * sensor kind, or later with vg_detector_set_sensitivity(), without relearning:
 *     threshold = 1 / (1 + 4^(sensitivity - 0.5))      (0 -> 0.667, 0.5 -> 0.5, 1 -> 0.333)
 * 0.5 is the optimum on NAB's standard profile. Higher sensitivity: more and earlier alarms,
 * more false ones (on white noise about 0.1, 3 and 6.5 alarms per 1,000 readings at 0, 0.5
 * and 1). Live sensors at 1 Hz usually want 0.2 to 0.35. */
#ifndef VIGIL_DETECT_H
#define VIGIL_DETECT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vg_detector vg_detector; /* one per sensor stream */

typedef struct vg_detector_cfg {
    double sensitivity; /* 0..1; 0.5 = the default tuned on NAB's standard profile */
} vg_detector_cfg;

/* Fills cfg with the defaults (sensitivity 0.5). Thread: any. */
void vg_detector_cfg_default(vg_detector_cfg *cfg);

/* Creates a detector for one stream. Fixed memory per stream, allocated here; nothing
 * allocates in update.
 * cfg: borrowed for the call (NULL means the defaults).
 * ret: on success receives the detector; free it with vg_detector_free().
 * Thread: any; the detector then belongs to one thread at a time.
 * Returns 0, -EINVAL (ret NULL, or sensitivity not a number in [0,1]; *ret untouched), or
 * -ENOMEM (*ret untouched). */
int vg_detector_new(const vg_detector_cfg *cfg, vg_detector **ret);

/* Frees the detector and sets *dp to NULL. Accepts NULL and *dp == NULL.
 * Thread: the detector's owner. */
void vg_detector_free(vg_detector **dp);

/* Feeds one reading (event time t_ns, strictly the stream's order) and returns its anomaly
 * score in [0,1]. NaN/inf values are ignored (return 0, state unchanged). Deterministic.
 * The first 150 readings only learn (score 0). t_ns serves only to recognise alarms that
 * recur at the same time of day; the detector does not reorder, and an out-of-order stamp
 * simply matches no earlier alarm. Never allocates, never fails; d must not be NULL.
 * Thread: the detector's owner. */
double vg_detector_update(vg_detector *d, int64_t t_ns, double value);

/* Score at or above which a reading counts as anomalous for this detector's sensitivity.
 * Thread: any (reads only the configuration). */
double vg_detector_threshold(const vg_detector *d);

/* Changes the sensitivity (the threshold) and keeps everything learned: the scores do not
 * depend on it. Thread: the detector's owner.
 * Returns 0, or -EINVAL (d NULL, or sensitivity not a number in [0,1]; d untouched). */
int vg_detector_set_sensitivity(vg_detector *d, double sensitivity);

/* Bytes per stream: the detector's whole footprint, constant for its life. Thread: any. */
size_t vg_detector_memory(const vg_detector *d); /* bytes per stream */

#ifdef __cplusplus
}
#endif

#endif
