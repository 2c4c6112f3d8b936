/* The live engine behind `vigil run`: the design's threads wired by SPSC rings.
 *
 *   vg-ingest   (libmosquitto client)  --readings ring-->  vg-analysis (vg_analysis, ticks)
 *   vg-ingest   --reject ring (refused messages)-------->  vg-archive
 *   vg-analysis --event ring (alert events)------------->  vg-publish  (JSON lines today;
 *                                                                      ZeroMQ feeds: #5)
 *   vg-analysis --archive ring (ticks, late rejects)---->  vg-archive  (JSON lines of rejects
 *                                                                      today; HDF5: #6)
 * plus libmicrohttpd's thread for --metrics. Each ring has one producer and one consumer;
 * each foreign handle (mosquitto client, output files, HTTP daemon) one owner thread.
 *
 * Time (wall clock, the default): the analysis thread ticks the core every tick_ns of
 * CLOCK_MONOTONIC, mapped to event time as wall clock at start + monotonic elapsed (so a
 * wall-clock step does not make ticks go backwards). The first tick waits startup_grace_ns,
 * so what the broker queued while the engine was down is taken into the reorder buffer before
 * the first watermark. Event clock (cfg.event_clock): ticks at whole multiples of tick_ns of
 * event time, up to the newest reading time taken; they stop when readings stop.
 *
 * With feeds, the analysis thread also feeds a vg_alert publisher ("vg-alert": ZeroMQ feeds
 * and control socket); with an archive directory, a vg_archive writer ("vg-archive") gets every
 * reading offered to the core with its result, every tick, alert, metrics and refusal, and
 * the operator actions. Archive faults raise an archive_backlog alert on the technical feed,
 * and a stream of refusals an ingest_rejects alert (engine-made: not in the archive, so
 * replay still matches the core's stream). On the
 * wall clock a full archive ring is a counted loss (alerting never waits), except that a
 * reload's model record waits up to 250 ms for room; on the event clock the analysis thread
 * waits for the archive (nothing is late there), so nothing is lost. With an archive, alert
 * ids continue from the newest file in archive_dir.
 *
 * Stop (vg_engine_stop()): ingest stops first (its client disconnects cleanly; unread
 * messages stay queued at the broker for the persistent session), then every ring is drained
 * by its consumer in order: readings -> final tick -> events and archive records.
 *
 * Reload (vg_engine_reload(): the control socket's "reload", SIGHUP in `vigil run`): the
 * caller loads and checks the new model, then hands it to the ingestor. Records in the rings
 * carry model indices, so each thread switches at the same point of its stream, no lock on
 * the hot path: vg-ingest takes the model between two messages and pushes a marker into
 * `readings` (ingest.h VG_INGEST_READING_MODEL); vg-analysis, on the marker, moves the core's
 * state across (vg_analysis_reload()), then puts a marker into `events` and `archive` (for
 * vg-publish and vg-rejects, which name zones and sources) and pushes VG_ALERT_IN_MODEL to
 * vg-alert and the model to the HDF5 archive. Every model stays allocated until
 * vg_engine_free(): no thread can hold a stale pointer. One reload at a time. */
#ifndef VIGIL_ENGINE_H
#define VIGIL_ENGINE_H

#include "vigil/alert.h"
#include "vigil/analysis.h"
#include "vigil/ingest.h"
#include "vigil/model.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vg_engine vg_engine;

typedef struct vg_engine_cfg {
    const vg_model *model; /* borrowed; must outlive the engine */
    /* The file `model` came from, reloaded when a reload names no path (NULL: the model's
     * own vg_model_path()). Copied. */
    const char *model_path;
    /* 1: run the MQTT ingestor with `ingest`; 0: no broker, the caller feeds messages with
     * vg_engine_submit() (tests, stress, benchmarks). */
    int use_broker;
    vg_ingest_cfg ingest;
    vg_analysis_cfg analysis; /* the sink is the engine's own (any sink given is ignored) */
    uint32_t reading_ring;    /* capacities, powers of two (65536, 8192, 4096, 8192) */
    uint32_t event_ring;
    uint32_t reject_ring;
    uint32_t archive_ring;
    int64_t tick_ns;          /* analysis tick period (1 s) */
    int64_t startup_grace_ns; /* delay of the first tick (3 s) */
    int64_t status_interval_ns; /* a status line on stderr this often (0: never) */
    /* Alert events as JSON lines (docs/ingest.md "Event lines"): NULL none, "-" stdout,
     * else a file path (appended). */
    const char *events_path;
    /* Refused messages as JSON lines: NULL none (still counted), "-" stdout, else a file. */
    const char *rejects_path;
    /* --metrics: Prometheus text on http://metrics_host:metrics_port/metrics when
     * metrics_host is not NULL (port 0: any free port, see vg_engine_metrics_port()). */
    const char *metrics_host;
    uint16_t metrics_port;
    /* Optional: called on the vg-publish thread for every alert event after it is written
     * (ev borrowed for the call). */
    void (*on_event)(void *ctx, const vg_alert_event *ev);
    void *on_event_ctx;
    /* Clock of the analysis ticks. 0 (wall, default): every tick_ns of the wall clock.
     * 1 (event): ticks follow event time, in whole tick_ns steps up to the newest event time
     * of the readings the core took; no reading, no tick. Also sets ingest.event_clock. */
    int event_clock;
    /* The wall clock of the ticks (NULL: vg_wall_ns()); a test's stepped clock. In broker
     * mode ingest stamps receipt with vg_wall_ns() regardless. */
    int64_t (*wall_clock)(void);
    /* ZeroMQ alert feeds and control socket (vigil run --feeds/--control): both set, or
     * both NULL for none. Keys: Z85 CURVE secret keys, NULL for plain. */
    const char *feeds_endpoint;
    const char *control_endpoint;
    const char *feeds_secret_key;
    const char *control_secret_key;
    uint32_t alert_ring; /* vg_alert_input records (8192) */
    /* HDF5 archive directory (must exist), NULL for none. */
    const char *archive_dir;
    /* A new archive file at every multiple of this period of event time in the venue's
     * local time (86400 s: one a day, cut at local midnight); 0: one file per run. */
    int64_t archive_rotate_ns;
    uint32_t hdf5_ring; /* VG_ARCHIVE_SLOT_SIZE slots (65536) */
    /* The ingest_rejects technical alert: raised when the engine refuses at least
     * rejects_alert readings or messages in one rejects_window_ns (not counting out_of_range,
     * which sensor_range reports, nor duplicate), cleared after 6 windows in a row below it.
     * (10 per 10 s; 0: never raised.) */
    uint32_t rejects_alert;
    int64_t rejects_window_ns;
} vg_engine_cfg;

/* Fills the defaults above (no model, use_broker 1, ingest and analysis defaults).
 * Thread: any. */
void vg_engine_cfg_default(vg_engine_cfg *ret);

typedef struct vg_engine_stats {
    vg_ingest_stats ingest;
    uint64_t processed;  /* readings the analysis thread took from the ring */
    uint64_t accepted;   /* of those, taken by the core (processed - analysis refusals) */
    uint64_t rejects_analysis[VG_INGEST_REJECT_SLOTS]; /* refused by the core, by reason */
    uint64_t rejects[VG_INGEST_REJECT_SLOTS];          /* ingest + core, by reason */
    uint64_t rejects_total;
    uint64_t ticks;
    uint64_t events;                                  /* alert events written */
    uint64_t events_by[VG_FEED_COUNT][VG_GRADE_COUNT]; /* by feed and grade (clear = 0) */
    uint64_t reject_log_written; /* reject lines written to rejects_path */
    uint64_t reject_log_lost;    /* of those, lines a failed write lost (a full disk) */
    uint64_t events_log_lost;    /* event lines for events_path a failed write lost */
    uint64_t archive_full;       /* records the HDF5 archive rings could not take */
    uint64_t archive_faults;     /* HDF5 faults (vg_archive_stats.faults) */
    uint64_t archive_dropped;    /* records the archive consumed but could not write */
    int archive_faulted;         /* 1 while the archive has no file after a fault */
    uint64_t alerts_published;   /* feed messages the alert publisher sent */
    uint64_t technical_alerts;   /* engine technical alerts raised (archive_backlog,
                                  * ingest_rejects) */
    uint64_t reloads;            /* model switches completed by the analysis thread */
    int64_t event_now_ns;        /* event clock: newest reading time taken (INT64_MIN none) */
    /* Ring depths: readings, events, rejects, archive (JSON log), alerts, hdf5, hdf5_rejects,
     * audit; capacity 0 for a ring not in use. */
    size_t depth[8];
    size_t capacity[8];
} vg_engine_stats;

/* Creates the engine: rings, the core, the ingestor (not yet connected), output files.
 * cfg is copied (strings too); cfg->model is borrowed.
 * Returns 0 and *ret (free with vg_engine_free()), -EINVAL (no model, ring capacity not a
 * power of two, bad ingest settings), -ENOMEM, or the negative errno of opening an output
 * file. Thread: main. */
int vg_engine_new(const vg_engine_cfg *cfg, vg_engine **ret);

/* Starts the threads (and the metrics server). Returns 0, -EALREADY, -EADDRINUSE/-EIO when
 * the metrics server cannot listen (nothing is left running then), or a negative errno from
 * pthread_create. Thread: main. */
int vg_engine_start(vg_engine *e);

/* Stops in order and drains every ring (see the top of this file). Idempotent.
 * Thread: main (not a signal handler: use sigwait, as `vigil run` does). */
void vg_engine_stop(vg_engine *e);

/* Stops if needed and frees; accepts NULL and *ep == NULL; sets *ep to NULL.
 * Thread: main. */
void vg_engine_free(vg_engine **ep);

/* For an engine without broker (use_broker 0), after vg_engine_start(): handles one message
 * as the MQTT callback would, waiting while the readings ring is full.
 * Returns 0, -EINVAL (bad arguments, or the engine uses a broker), -ECANCELED (stopped).
 * Thread: one producer thread at a time (it is the readings ring's producer). */
int vg_engine_submit(vg_engine *e, const char *topic, const void *payload, size_t len,
                     int64_t now_ns);

/* Reloads the venue model from path (NULL: the engine's model file, cfg.model_path) into the
 * running engine, keeping the state of everything whose id is in both models
 * (docs/analysis.md "Reload", docs/alerts.md "Reload"). Loads and checks the file here; the
 * threads switch a moment later (see the top of this file): with a broker within about
 * 100 ms plus the core's state transfer (tens of ms for a large venue), without one at the
 * next vg_engine_submit(). The analysis thread logs the new counts when the switch is done;
 * stats.reloads counts it.
 * Returns 0 (accepted; err is ""), or a negative errno with one line in err (err_len > 0):
 * the model loader's errors ("file:line: key: message"; -ENOENT for a missing file),
 * -EINVAL for a model of another venue (the MQTT subscriptions depend on its id),
 * -EBUSY while the previous reload has not been switched yet, -ECANCELED when the engine
 * is not running, -ENOMEM. Nothing changes on error: the old model stays in force.
 * Thread: any (the vg-alert thread for the control socket, main for SIGHUP). Allocates. */
int vg_engine_reload(vg_engine *e, const char *path, char *err, size_t err_len);

/* As vg_engine_reload(), on behalf of who (copied; NULL or an empty operator_id: audited as
 * "system"): the reload's audit record carries its operator, comment and wall time. */
int vg_engine_reload_as(vg_engine *e, const char *path, const vg_alert_actor *who, char *err,
                        size_t err_len);

/* Snapshot of every counter. Thread: any. */
void vg_engine_stats_get(const vg_engine *e, vg_engine_stats *ret);

/* One status line (no newline): messages, readings, accepted, rejects by reason, ring
 * depths, alerts, broker state. Returns the length it needs (like snprintf).
 * Thread: any. */
size_t vg_engine_status(const vg_engine *e, char *buf, size_t cap);

/* The metrics text (Prometheus exposition format 0.0.4), as served. Returns the length it
 * needs; writes at most cap bytes. Thread: any. */
size_t vg_engine_metrics_text(const vg_engine *e, char *buf, size_t cap);

/* Endpoints the alert publisher bound (a '*' port resolved), "-" without feeds.
 * Static for the engine's life. Thread: any. */
const char *vg_engine_feeds_endpoint(const vg_engine *e);
const char *vg_engine_control_endpoint(const vg_engine *e);

/* Path of the HDF5 file being written (or the last one), "" without an archive.
 * Thread: any. Returns 0 or -EINVAL. */
int vg_engine_archive_path(const vg_engine *e, char *buf, size_t cap);

/* Port the metrics server listens on, 0 when it is off. Thread: any. */
uint16_t vg_engine_metrics_port(const vg_engine *e);

/* Writes one alert event as a JSON line (with '\n') in the wire form of DESIGN "Alerts"
 * (v, seq, id, feed, kind, zone, grade, state, ts, value, threshold, message, and more).
 * Returns the length it needs (like snprintf). Thread: any. */
size_t vg_engine_event_json(const vg_model *m, const vg_alert_event *ev, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
