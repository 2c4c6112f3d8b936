/* The HDF5 archive: everything the analysis core saw and said, for post-event review,
 * deterministic replay and threshold tuning (layout: docs/archive.md).
 *
 * Writer. One thread ("vg-archive") owns the HDF5 file. It consumes a vg_ring of 64-byte
 * vg_archive_record slots that the analysis thread fills with the vg_archive_push_*()
 * helpers (never blocking: a full ring is -EAGAIN and the producer counts the loss), plus
 * optional extra rings (operator actions from the alert thread, refused messages from the
 * ingest thread). Records are buffered per dataset and appended in blocks to chunked,
 * compressed, unlimited datasets; every flush interval the buffers are written and the file
 * is flushed, so a crash loses at most one interval and the file stays readable (SWMR:
 * readers may open it while it is written).
 *
 * Faults. Any HDF5 failure (full disk, removed directory, ...) is counted and the file is
 * abandoned; the thread keeps consuming (records are dropped and counted, never blocking
 * the producer) and tries a new file every retry interval. vg_archive_get_stats() exposes
 * the fault so the engine can raise it on the technical feed.
 *
 * Determinism. The producer archives every reading it offers to vg_analysis_push() (with
 * the result) and every tick before it calls vg_analysis_tick(); a reader gives them back in
 * the same order, so replaying an archive through the same core with the same model and
 * settings reproduces the live alert stream exactly. */
#ifndef VIGIL_ARCHIVE_H
#define VIGIL_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/analysis.h"
#include "vigil/model.h"
#include "vigil/ring.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the file layout (root attribute "format_version"). */
#define VG_ARCHIVE_FORMAT_VERSION 1

/* ---- ring records ---- */

/* Bytes per ring slot: create the ring with vg_ring_new(VG_ARCHIVE_SLOT_SIZE, ...). */
#define VG_ARCHIVE_SLOT_SIZE 64
/* Most slots one record spans; a ring needs at least this capacity. */
#define VG_ARCHIVE_MAX_SLOTS 8

enum vg_archive_rec {
    VG_ARCHIVE_REC_READING = 1, /* a reading offered to vg_analysis_push(), with the result */
    VG_ARCHIVE_REC_TICK,        /* vg_analysis_tick(t_ns), archived before the call */
    VG_ARCHIVE_REC_METRICS,     /* one zone's vg_zone_metrics at a tick */
    VG_ARCHIVE_REC_ALERT,       /* one vg_alert_event */
    VG_ARCHIVE_REC_REJECT,      /* a refused message or reading (vg_archive_reject) */
    VG_ARCHIVE_REC_ACTION,      /* an operator action (vg_archive_action) */
    VG_ARCHIVE_REC_INCIDENT,    /* an incident annotation (vg_archive_incident) */
    VG_ARCHIVE_REC_MODEL,       /* a venue model came into force (its text travels by pointer) */
    VG_ARCHIVE_REC_END
};

/* One ring slot. A record spans `nslots` consecutive slots: this 8-byte header, then its
 * payload (vg_zone_metrics, vg_alert_event, vg_archive_reject, ...) continuing over the
 * following slots as plain bytes. Readings and ticks fit one slot. Use the push helpers
 * rather than filling slots by hand. */
typedef struct vg_archive_record {
    uint8_t type;      /* enum vg_archive_rec */
    uint8_t nslots;    /* 1..VG_ARCHIVE_MAX_SLOTS, this slot included */
    uint16_t reserved;
    uint32_t aux;      /* READING: enum vg_reject returned by vg_analysis_push() (0: taken) */
    union {
        vg_reading reading;
        struct {
            int64_t t_ns;  /* the tick's event time */
            uint64_t lost; /* archive records the producer could not push so far (total) */
        } tick;
        unsigned char bytes[VG_ARCHIVE_SLOT_SIZE - 8];
    } u;
} vg_archive_record;

/* Where a refusal happened. */
enum vg_archive_stage {
    VG_ARCHIVE_STAGE_INGEST = 0, /* the message never became a reading (topic, payload kept) */
    VG_ARCHIVE_STAGE_PUSH,       /* vg_analysis_push() refused the reading */
    VG_ARCHIVE_STAGE_TICK,       /* the tick refused a buffered reading (sink on_reject) */
};

#define VG_ARCHIVE_TOPIC_MAX 128
#define VG_ARCHIVE_PAYLOAD_MAX 240

/* One refusal. Ingest refusals carry the topic and the payload's first bytes; analysis
 * refusals carry the reading. Unused fields are 0. */
typedef struct vg_archive_reject {
    int64_t wall_ns;      /* receive time (0 for analysis refusals) */
    int64_t t_ns;         /* event time, 0 when the payload had none */
    uint32_t reason;      /* enum vg_reject */
    uint32_t count;       /* refusals this record stands for (>= 1) */
    uint32_t payload_len; /* original payload length */
    uint8_t stage;        /* enum vg_archive_stage */
    uint8_t reading_type; /* enum vg_reading_type (analysis refusals) */
    uint16_t topic_len;   /* bytes used in topic */
    uint16_t excerpt_len; /* bytes used in payload */
    uint16_t reserved;
    uint32_t source;      /* reading source index (analysis refusals) */
    uint32_t zone;
    double value;
    char topic[VG_ARCHIVE_TOPIC_MAX];              /* not NUL-terminated when full */
    unsigned char payload[VG_ARCHIVE_PAYLOAD_MAX]; /* binary-safe excerpt */
} vg_archive_reject;

/* One operator (or system) action on an alert (ack, shelve, unshelve, out_of_service, reset,
 * escalate, reload, ...): who did what, when. Strings are NUL-terminated (truncated to fit).
 * The alert thread's vg_alert_audit records map onto it (VG_ARCHIVE_IN_ALERT_AUDIT). */
typedef struct vg_archive_action {
    int64_t t_ns;      /* event time the action took effect */
    int64_t wall_ns;   /* wall-clock time it was received (0: a system action) */
    int64_t until_ns;  /* shelve: expiry (event time); else 0 */
    uint64_t alert_id; /* 0 when it concerns no single alert */
    uint32_t zone;     /* VG_MODEL_NONE when none */
    uint8_t kind;      /* enum vg_alert_kind of the alert */
    uint8_t grade;     /* enum vg_grade at the time */
    uint8_t state;     /* the alert's lifecycle state after the action (alert.h) */
    uint8_t reserved;
    char action[24];   /* "ack", "shelve", ... (alert.h vg_alert_op_name()) */
    char state_name[24]; /* "acknowledged", ... (vg_alert_state_name()), "" when unknown */
    char operator_id[48];
    char comment[160];
} vg_archive_action;

/* Where an incident mark came from. */
enum vg_archive_origin {
    VG_ARCHIVE_ORIGIN_OPERATOR = 0, /* an operator's annotation */
    VG_ARCHIVE_ORIGIN_SIMULATOR,    /* a simulator's ground truth */
};

/* An incident marked in the archive, against which `vigil tune` measures lead time. */
typedef struct vg_archive_incident {
    int64_t t_start_ns;    /* when it began */
    int64_t t_end_ns;      /* when it ended (t_start_ns when unknown) */
    int64_t t_critical_ns; /* when it became critical (build-ups); 0 when not given */
    uint32_t zone;         /* zone index, VG_MODEL_NONE when none */
    uint8_t kind;          /* expected enum vg_alert_kind, or 0xff for any */
    uint8_t origin;        /* enum vg_archive_origin */
    uint16_t reserved;
    char id[32];
    char type[32];         /* the simulator's incident type, or the operator's word */
    char note[96];
} vg_archive_incident;

/* ---- producer helpers ----
 * Each copies one record into the ring's free slots and publishes it at once, or nothing.
 * Return 0, -EAGAIN when the ring has no room (nothing written: count it as lost),
 * -EINVAL for NULL arguments or a ring whose record size is not VG_ARCHIVE_SLOT_SIZE.
 * Thread: the ring's single producer. Never block, never allocate (except _model). */
int vg_archive_push_reading(vg_ring *ring, const vg_reading *r, int reject);
int vg_archive_push_tick(vg_ring *ring, int64_t t_ns, uint64_t lost);
int vg_archive_push_metrics(vg_ring *ring, const vg_zone_metrics *m);
int vg_archive_push_alert(vg_ring *ring, const vg_alert_event *ev);
int vg_archive_push_reject(vg_ring *ring, const vg_archive_reject *rj);
int vg_archive_push_action(vg_ring *ring, const vg_archive_action *act);
int vg_archive_push_incident(vg_ring *ring, const vg_archive_incident *inc);
/* A new model in force from event time t_ns (after a reload: the last tick's time). Push it
 * on the ring that carries the readings and ticks, right after vg_analysis_reload() and
 * before the next reading or tick: the archive records its place among them as the switch
 * position replay uses (docs/archive.md "/models"). Copies the text and path (malloc) and
 * hands the copy to the archive thread, which frees it. -ENOMEM when the copy fails. */
int vg_archive_push_model(vg_ring *ring, int64_t t_ns, const vg_model *m);

/* Fills *ret with an analysis refusal (stage PUSH or TICK) of reading r. Thread: any. */
void vg_archive_reject_from_reading(const vg_reading *r, enum vg_reject why,
                                    enum vg_archive_stage stage, vg_archive_reject *ret);

/* ---- the writer ---- */

typedef struct vg_archive vg_archive;

typedef struct vg_archive_cfg {
    /* The model in force at start: venue, text, digest, version, path and UTC offset are
     * copied by vg_archive_new(). Required. */
    const vg_model *model;
    /* The analysis settings the producer runs the core with (copied; the sink is ignored);
     * replay uses them. NULL: vg_analysis_cfg_default(). */
    const vg_analysis_cfg *analysis;
    const char *prefix;        /* file names PREFIX-YYYYMMDDTHHMMSSZ-N.h5 (default "vigil") */
    int64_t flush_interval_ns; /* a crash loses at most this much (default 1 s) */
    int64_t rotate_ns;         /* 0 (default): one file per run; else a new file when a
                                * tick crosses a multiple of this in venue local time
                                * (86400 s: one file per day, at local midnight) */
    int64_t retry_ns;          /* after a fault, try a new file this often (default 5 s) */
    int compression;           /* deflate level 0 (off) .. 9 (default 1) */
    uint32_t chunk_records;    /* records per chunk, 64..1048576 (default 8192) */
} vg_archive_cfg;

/* Fills the defaults above (model and analysis NULL). Thread: any. */
void vg_archive_cfg_default(vg_archive_cfg *ret);

/* Creates the writer for directory dir (must exist) and opens the first file.
 * dir and cfg strings are copied; cfg->model is borrowed for the call.
 * Returns 0 and *ret (free with vg_archive_free()); -EINVAL (NULL, no model, settings out
 * of range); -ENOMEM; -ENOENT/-EACCES/-ENOTDIR/-EIO when the first file cannot be created
 * (nothing is kept then). Thread: the caller becomes the owner until vg_archive_start(). */
int vg_archive_new(const char *dir, const vg_archive_cfg *cfg, vg_archive **ret);

/* Input rings the thread consumes besides the main one. */
enum vg_archive_in_kind {
    VG_ARCHIVE_IN_RECORDS = 0,    /* vg_archive_record slots from another producer thread */
    VG_ARCHIVE_IN_INGEST_REJECTS, /* vg_ingest_reject records (include/vigil/ingest.h) */
    VG_ARCHIVE_IN_ALERT_AUDIT     /* vg_alert_audit records (include/vigil/alert.h: the
                                   * ring given as vg_alert_cfg.audit) */
};
#define VG_ARCHIVE_MAX_INPUTS 4

/* Adds an input ring (borrowed; must outlive the writer). Call before vg_archive_start().
 * Returns 0, -EINVAL (NULL, wrong record size, already started), -ENOSPC (more than
 * VG_ARCHIVE_MAX_INPUTS). Thread: the owner. */
int vg_archive_attach(vg_archive *a, vg_ring *ring, enum vg_archive_in_kind kind);

/* Starts the "vg-archive" thread consuming `in` (vg_archive_record slots; borrowed, must
 * outlive the writer) and the attached rings. From here on the thread owns the file.
 * Returns 0, -EINVAL (NULL, wrong record size), -EALREADY, or the pthread_create error.
 * Thread: the owner (main). */
int vg_archive_start(vg_archive *a, vg_ring *in);

/* Stops the thread: it drains every input ring (records published before the call, and
 * all of a ring closed by its producer), writes, flushes and closes the file. Returns 0,
 * or the last fault (negative errno) when records could not be written. Idempotent; without
 * a thread it only flushes and closes. Thread: the owner (main). */
int vg_archive_stop(vg_archive *a);

/* Stops if needed and frees; accepts NULL and *ap == NULL; sets *ap to NULL. Thread: main. */
void vg_archive_free(vg_archive **ap);

/* Writes n slots (whole records) on the calling thread: for tests, benchmarks and tools
 * that archive without a thread. Never fails: faults are counted as in the thread.
 * Returns 0, -EINVAL (NULL, a truncated or unknown record, or the thread is running).
 * Thread: the owner, only while no archive thread runs. */
int vg_archive_write(vg_archive *a, const vg_archive_record *slots, size_t n);

/* Writes buffered records and flushes the file now. Returns 0 or the fault (negative
 * errno). Thread: the owner, only while no archive thread runs. */
int vg_archive_flush(vg_archive *a);

typedef struct vg_archive_stats {
    /* records a flush made durable, by enum vg_archive_rec (so up to a flush interval
     * behind what was consumed) */
    uint64_t written[VG_ARCHIVE_REC_END];
    /* records consumed but not known to be in a file: taken while there was no file after a
     * fault, or taken into a file after its last flush and then abandoned with it */
    uint64_t dropped;
    uint64_t faults;        /* HDF5 / file failures seen */
    uint64_t files;         /* files opened */
    uint64_t flushes;
    int faulted;            /* 1 while no file is open because of a fault */
    int last_error;         /* negative errno of the last fault, 0 when none */
    int64_t last_fault_wall_ns;
    char path[512];         /* the current (or last) file */
} vg_archive_stats;

/* Copies the counters (a consistent snapshot, taken under a lock the thread holds briefly
 * once per batch). Returns 0 or -EINVAL. Thread: any. */
int vg_archive_get_stats(vg_archive *a, vg_archive_stats *ret);

/* ---- the reader ---- */

typedef struct vg_archive_reader vg_archive_reader;

/* Opens an archive file for reading (SWMR: also one being written by another process, or
 * left by a crash). HDF5 does not open a file twice in one process: a file this process's
 * vg_archive is still writing gives -EIO. path: borrowed for the call.
 * Returns 0 and *ret (free with vg_archive_reader_free()), -EINVAL (NULL), -ENOENT, -EACCES,
 * -EPROTO (not a Vigil archive, or a newer format_version), -EIO (HDF5 error, or a damaged
 * file: it fails at once, not after minutes of SWMR retries), -ENOMEM.
 * Thread: any; one thread per reader. */
int vg_archive_reader_open(const char *path, vg_archive_reader **ret);

/* Accepts NULL and *rp == NULL; sets *rp to NULL. Thread: the reader's. */
void vg_archive_reader_free(vg_archive_reader **rp);

typedef struct vg_archive_info {
    char venue[VG_MODEL_ID_MAX + 1];
    char model_version[64];
    char model_path[256];
    uint64_t model_digest;   /* of the model in force when the file was created */
    uint64_t session_id;     /* same for all files one writer made */
    uint32_t file_index;     /* 0, 1, 2, ... within the session (rotation, fault recovery) */
    int after_fault;         /* 1 when the file was opened after a fault lost records */
    uint64_t cut_rows;       /* rows of zeros left out at the end of datasets: a flush that
                              * a full disk cut short, in the file the fault abandoned */
    uint64_t first_alert_id; /* the first alert id this file's stream continues from */
    int64_t created_wall_ns;
    int64_t first_tick_ns;   /* INT64_MIN when the file has no tick */
    int64_t last_tick_ns;
    uint64_t lost;           /* producer-side losses at the last tick (0: complete) */
    uint64_t count[VG_ARCHIVE_REC_END]; /* records per dataset, by enum vg_archive_rec */
    int switch_positions;    /* 1: /models rows say where each reload took effect; 0: a file
                              * written before they did (its reloads cannot be replayed) */
    vg_analysis_cfg analysis; /* settings of the live core (sink NULL) */
} vg_archive_info;

/* Fills *ret from the file's attributes and dataset sizes. Returns 0, -EINVAL.
 * Thread: the reader's. */
int vg_archive_reader_info(const vg_archive_reader *r, vg_archive_info *ret);

/* The text of the idx-th model in the file (0: the one in force at creation), malloc'd
 * and NUL-terminated: free() it. Returns 0, -EINVAL, -ENOENT (no such model), -EIO,
 * -ENOMEM. Thread: the reader's. */
int vg_archive_reader_model_text(vg_archive_reader *r, size_t idx, char **ret_text,
                                 size_t *ret_len);

/* Loads the file's first model: writes its text to a temporary file and loads it (an
 * @include'd file is looked for beside the original path). Returns what vg_model_load()
 * returns, or -ENOENT when the file has no model. Thread: the reader's. */
int vg_archive_reader_load_model(vg_archive_reader *r, vg_model **ret, vg_model_error *ret_err);

/* The same for the idx-th model (0: the first; vg_archive_info.count[VG_ARCHIVE_REC_MODEL]
 * rows). -ENOENT when there is no such row. Thread: the reader's. */
int vg_archive_reader_load_model_at(vg_archive_reader *r, size_t idx, vg_model **ret,
                                    vg_model_error *ret_err);

/* One /models row: a venue model that came into force, and at which point of the input
 * stream. The live core switched after `reading_index` readings and `tick_index` ticks of
 * this file: before the next reading when the next tick comes later, else before that tick
 * (t_ns alone cannot say: readings and ticks share times, readings come out of order). */
typedef struct vg_archive_model {
    int64_t t_ns;           /* event time of the last tick before the switch (INT64_MIN:
                             * in force from the start of the file) */
    uint64_t digest;        /* vg_model_digest() of the live model */
    uint64_t length;        /* bytes of its text (vg_archive_reader_model_text()) */
    uint64_t reading_index; /* readings of this file before the switch (0 for row 0) */
    uint64_t tick_index;    /* ticks of this file before the switch (0 for row 0) */
    int positioned;         /* 0: a reload in a file written before switch positions were
                             * archived (where the core switched is unknown) */
    char version[64];
    char path[192];
} vg_archive_model;

/* Fills *ret with the idx-th /models row. Returns 0; -EINVAL; -ENOENT (no such row);
 * -ERANGE when its position is not a point of this file's input stream (past its readings
 * or ticks, before the previous switch, or not between the ticks around it: a damaged
 * file; *ret is filled). Thread: the reader's. */
int vg_archive_reader_model(vg_archive_reader *r, size_t idx, vg_archive_model *ret);

/* on = 1: vg_archive_reader_next() also gives the model switches recorded in the file, as
 * inputs of type VG_ARCHIVE_REC_MODEL (model: the row, t_ns: its t_ns), each at exactly the
 * point of the stream where the live core switched (rows that are not positioned are not
 * given). on = 0 (the default): readings and ticks only. Returns 0; -EINVAL; -ERANGE when
 * a row's position is not in the stream (vg_archive_reader_model() says which; nothing
 * changes). Thread: the reader's. */
int vg_archive_reader_switches(vg_archive_reader *r, int on);

/* One input of the core, in archive order. */
typedef struct vg_archive_input {
    uint8_t type;       /* VG_ARCHIVE_REC_READING, VG_ARCHIVE_REC_TICK, or (see
                         * vg_archive_reader_switches()) VG_ARCHIVE_REC_MODEL */
    uint8_t reject;     /* READING: what the live push returned (enum vg_reject) */
    uint16_t reserved;
    uint32_t model;     /* MODEL: the /models row now in force (vg_archive_reader_model()) */
    int64_t t_ns;       /* TICK: the tick time; READING: the reading's event time */
    uint64_t lost;      /* TICK: producer-side losses so far */
    vg_reading reading; /* READING */
} vg_archive_input;

/* The next reading or tick (or model switch), in the order the live core received them.
 * Returns 1 and *ret, 0 at the end, -EIO (read failure), -EINVAL. Thread: the reader's. */
int vg_archive_reader_next(vg_archive_reader *r, vg_archive_input *ret);

/* Back to the first input (and the first switch). Returns 0 or -EINVAL. Thread: the
 * reader's. */
int vg_archive_reader_rewind(vg_archive_reader *r);

/* Reads n records of a dataset from index start into out, an array of:
 * TICK vg_archive_input (type TICK), METRICS vg_zone_metrics, ALERT vg_alert_event, REJECT
 * vg_archive_reject, ACTION vg_archive_action, INCIDENT vg_archive_incident, READING
 * vg_archive_input (type READING). Returns 0, -EINVAL (bad type, range past the end),
 * -EIO. Thread: the reader's. */
int vg_archive_reader_read(vg_archive_reader *r, enum vg_archive_rec type, uint64_t start,
                           size_t n, void *out);

/* Runs every input of r through a (readings pushed, ticks ticked), so a's sink sees what
 * the live core emitted. a keeps its model throughout: recorded model switches are not
 * applied (vigil tune grades against one model; `vigil replay` switches, see
 * vg_archive_reader_switches()). ret_readings (may be NULL): readings pushed. Returns 0,
 * -EIO, or -EINVAL (also when the archive's ticks go backwards for a). Thread: a's owner. */
int vg_archive_replay(vg_archive_reader *r, vg_analysis *a, uint64_t *ret_readings);

/* The first alert id for a new run that archives into dir, so that ids never repeat across
 * engine restarts: one more than the largest alert id in the newest archive file there
 * (PREFIX-*.h5, newest by creation time; prefix NULL: "vigil"), or than its first_alert_id
 * - 1 when it holds no alert; 1 when dir holds no archive. Files that cannot be read
 * (damaged) are skipped and counted: ids in them can be given again, so the caller should
 * say so. A file still being written or left by a crash is read up to its last flush, so
 * ids of alerts raised after that flush can be given again too.
 * Returns *ret and the number of files under the name that could not be read (0: all
 * were), or -EINVAL (NULL), -ENOENT/-EACCES/-ENOTDIR (dir), -ENOMEM.
 * Thread: any (opens the files itself; not one this process is writing). */
int vg_archive_next_alert_id(const char *dir, const char *prefix, uint64_t *ret);

/* Appends incidents to a closed archive file (e.g. a simulator's ground truth).
 * Returns 0, -EINVAL, -ENOENT, -EPROTO (not an archive), -EBUSY/-EIO (open elsewhere or
 * HDF5 failure). Thread: any; the file must not be open for writing. */
int vg_archive_add_incidents(const char *path, const vg_archive_incident *inc, size_t n);

/* ---- alerts as JSON lines ---- */

/* Formats an alert event as one JSON object (no newline) with zone/sensor/... ids from m:
 * {"v":1,"seq":..,"id":..,"action":..,"feed":..,"kind":..,"zone":..,"source_type":..,
 *  "source":..,"grade":..,"prev_grade":..,"ts":..,"raised":..,"value":..,"threshold":..,
 *  "trend_per_min":..,"ttc_s":..,"flags":[..],"message":..}. Numbers print exactly
 * (%.17g, NaN as null), times as Unix seconds with 9 decimals, so equal events give equal
 * bytes. Returns the length it needs (like snprintf; output truncated when >= cap), or
 * -EINVAL. Thread: any. */
int vg_archive_alert_json(const vg_model *m, const vg_alert_event *ev, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
