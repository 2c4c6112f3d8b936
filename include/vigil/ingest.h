/* The MQTT ingestor: topics and payloads in, fixed-size vg_reading records out.
 *
 * Two layers:
 * - the parser (vg_ingest_parser): a pure function of (topic, payload, now) that validates a
 *   message against the venue model and the wire schema (docs/ingest.md) and yields readings
 *   or a reject reason. No I/O, no clock; used by the ingestor, tests and benchmarks.
 * - the ingestor (vg_ingest): one libmosquitto client owned by one thread ("vg-ingest"),
 *   QoS 1 with a persistent session, reconnect with backoff, TLS and username/password. Its
 *   message callback parses and copies readings into a vg_ring (the analysis thread is the
 *   consumer) and refused messages into a reject ring (the archive side is the consumer).
 *
 * Backpressure: when the readings ring is full the callback waits for room (the ingest
 * thread stops reading the socket, so the broker queues). The wait is bounded by
 * cfg.max_block_ms; past it the ingestor keeps the message's remaining readings, disconnects
 * from the broker (the persistent QoS 1 session keeps queueing there) and reconnects once
 * the ring has taken them. Nothing is dropped. keepalive_s must exceed max_block_ms.
 *
 * Accounting: every message either yields readings (counted per source) or is refused
 * (counted per reason); in a batch each item is judged alone. So for N readings published,
 * readings + rejects = N. */
#ifndef VIGIL_INGEST_H
#define VIGIL_INGEST_H

#include "vigil/analysis.h"
#include "vigil/model.h"
#include "vigil/ring.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the native JSON payloads this parser reads (the "v" field). */
#define VG_INGEST_SCHEMA_VERSION 1

/* Where a reading came from, for the per-source counters. */
enum vg_ingest_source {
    VG_INGEST_SRC_SENSOR = 0, /* vigil/<venue>/sensor/<sensor> */
    VG_INGEST_SRC_COUNT,      /* vigil/<venue>/count/<camera> */
    VG_INGEST_SRC_LINE,       /* vigil/<venue>/line/<line> */
    VG_INGEST_SRC_HELP,       /* vigil/<venue>/help/<point> */
    VG_INGEST_SRC_HEALTH,     /* vigil/<venue>/health/<camera> */
    VG_INGEST_SRC_BATCH,      /* vigil/<venue>/batch/<source> */
    VG_INGEST_SRC_FRIGATE,    /* frigate/<zone>/person */
    VG_INGEST_SRC_Z2M,        /* zigbee2mqtt/<device> */
    VG_INGEST_SRC_UNKNOWN,    /* a topic none of the above matches */
    VG_INGEST_SRC_COUNT_      /* number of sources */
};

/* Stable snake_case name ("sensor", "frigate", ...); "unknown" when out of range.
 * Thread: any. */
const char *vg_ingest_source_name(enum vg_ingest_source s);

/* Room for reject reasons in counters; VG_REJECT_COUNT must not exceed it. */
#define VG_INGEST_REJECT_SLOTS 32

/* Parser limits. vg_ingest_limits_default() fills the defaults given here. */
typedef struct vg_ingest_limits {
    size_t max_payload;    /* bytes; larger payloads are "oversized" (default 1 MiB) */
    uint32_t max_readings; /* readings one message may yield; more is "oversized" (4096) */
    int64_t max_future_ns; /* ts later than now + this is "too_far_future" (default 10 s) */
    int64_t max_age_ns;    /* ts earlier than now - this is "too_old" (default 1 h);
                            * 0 disables the check (the analysis core still judges order) */
} vg_ingest_limits;

/* Thread: any. */
void vg_ingest_limits_default(vg_ingest_limits *ret);

/* ---- parser ---- */

typedef struct vg_ingest_parser vg_ingest_parser;

/* Out-of-range sensor readings one result keeps (see out_of_range below). */
#define VG_INGEST_OOR_MAX 16

/* What one message gave. */
typedef struct vg_ingest_result {
    enum vg_ingest_source source;
    uint32_t n_readings; /* readings written to out */
    uint32_t n_rejected; /* readings (batch items) or whole messages refused */
    /* Reason of the first refusal (valid when n_rejected > 0), and of every refusal. */
    enum vg_reject first_reason;
    uint32_t rejects[VG_INGEST_REJECT_SLOTS];
    int64_t t_ns; /* event time of the first reading or refusal that had one, else 0 */
    /* Sensor readings refused as out_of_range, the first VG_INGEST_OOR_MAX in message order
     * (the rest are counted only). They are counted in n_rejected, never in n_readings:
     * the value is refused, but a sensor reading outside its physical range is itself a
     * fault, which the analysis core raises as sensor_range (the ingestor forwards them as
     * VG_INGEST_READING_OUT_OF_RANGE records). */
    uint32_t n_out_of_range;
    vg_reading out_of_range[VG_INGEST_OOR_MAX];
} vg_ingest_result;

/* Creates a parser for the model's venue. m is borrowed and must outlive the parser;
 * lim may be NULL for the defaults. Returns 0 and *ret (free with vg_ingest_parser_free()),
 * -EINVAL (NULL m or ret, max_readings 0), -ENOMEM. Thread: any. */
int vg_ingest_parser_new(const vg_model *m, const vg_ingest_limits *lim,
                         vg_ingest_parser **ret);

/* Accepts NULL and *pp == NULL; sets *pp to NULL. Thread: the parser's user. */
void vg_ingest_parser_free(vg_ingest_parser **pp);

/* Parses one message. topic is NUL-terminated; payload need not be (len bytes). now_ns is
 * the wall-clock receive time: the event time of sources that carry none (Frigate,
 * zigbee2mqtt) and the reference of the too_old / too_far_future checks.
 * Up to cap readings go to out; a message that would yield more than min(cap,
 * max_readings) is refused as oversized. A message is all-or-nothing, except a batch whose
 * items are judged one by one (a batch that is not valid JSON is one refusal).
 * Returns 0 and fills *ret (also for refusals: they are results, not errors), -EINVAL for
 * NULL arguments. Thread: one at a time per parser (it keeps scratch state); allocates
 * inside cJSON only. */
int vg_ingest_parse(vg_ingest_parser *p, const char *topic, const void *payload, size_t len,
                    int64_t now_ns, vg_reading *out, size_t cap, vg_ingest_result *ret);

/* The subscriptions the model needs: vigil/<venue>/#, and frigate/+/person and
 * zigbee2mqtt/+ when the model maps such sources. Writes up to cap NUL-terminated topic
 * filters of at most 160 bytes each into filters[i] and returns how many it needs.
 * Thread: any. */
size_t vg_ingest_subscriptions(const vg_model *m, char (*filters)[160], size_t cap);

/* ---- refused messages, as kept in the reject log ---- */

#define VG_INGEST_REJECT_TOPIC_MAX 128
#define VG_INGEST_REJECT_PAYLOAD_MAX 240

/* One refused message (or batch item), copied for the reject log / archive. */
typedef struct vg_ingest_reject {
    int64_t wall_ns;       /* receive time */
    int64_t t_ns;          /* event time when the payload had a valid one, else 0 */
    uint32_t reason;       /* enum vg_reject */
    uint32_t count;        /* refusals this record stands for (batch items share one) */
    uint32_t payload_len;  /* the original payload length */
    uint16_t topic_len;    /* bytes in topic (truncated to the field) */
    uint16_t excerpt_len;  /* bytes in payload (its first bytes, binary-safe) */
    char topic[VG_INGEST_REJECT_TOPIC_MAX];
    unsigned char payload[VG_INGEST_REJECT_PAYLOAD_MAX];
} vg_ingest_reject;

/* ---- the ingestor ---- */

typedef struct vg_ingest vg_ingest;

typedef struct vg_ingest_cfg {
    const char *host;      /* broker host (default "127.0.0.1") */
    int port;              /* default 1883 (8883 with TLS) */
    const char *client_id; /* stable id of the persistent session (default "vigil-<venue>") */
    int clean_session;     /* 0 (default): the broker keeps the session and queues for it */
    int qos;               /* subscription QoS, 0 or 1 (default 1) */
    int keepalive_s;       /* default 60; must exceed max_block_ms */
    const char *username;  /* NULL: none */
    const char *password;
    const char *cafile;    /* TLS when cafile or capath is set */
    const char *capath;
    const char *certfile;  /* client certificate and key, both or neither */
    const char *keyfile;
    int reconnect_min_ms;  /* backoff after a lost connection: doubles from min to max */
    int reconnect_max_ms;  /* (defaults 250 and 10000) */
    int max_block_ms;      /* longest wait on a full ring inside the callback (10000) */
    vg_ingest_limits limits;
    /* 0 (default): the too_old / too_far_future checks are relative to the wall clock at
     * receipt. 1 (`vigil run --clock event`): relative to the newest event time of the
     * readings taken so far (no check until the first one); sources without a timestamp
     * (Frigate, zigbee2mqtt) are stamped with that event time too. */
    int event_clock;
} vg_ingest_cfg;

/* Fills the defaults above (host, port, qos, keepalive, backoff, limits; no credentials).
 * Thread: any. */
void vg_ingest_cfg_default(vg_ingest_cfg *ret);

/* Counters, each written by the ingest thread only (read them with vg_ingest_stats()). */
typedef struct vg_ingest_stats {
    uint64_t messages;    /* messages received (and submitted) */
    uint64_t bytes;       /* their payload bytes */
    uint64_t readings[VG_INGEST_SRC_COUNT_]; /* readings pushed to the ring, by source */
    uint64_t rejects[VG_INGEST_REJECT_SLOTS]; /* refusals by enum vg_reject */
    uint64_t reject_log_full; /* refusals counted but not copied to the full reject ring */
    uint64_t ring_waits;  /* messages that had to wait for room in the readings ring */
    uint64_t stalls;      /* waits past max_block_ms (then: disconnect, resume later) */
    uint64_t connects;    /* successful CONNACKs */
    uint64_t disconnects; /* connections lost or dropped */
    uint64_t short_connections; /* closed by the broker within 10 s of their CONNACK */
    int connected;        /* 1 while a session is up */
} vg_ingest_stats;

/* Creates the ingestor. m, readings and rejects are borrowed and must outlive it; the
 * ingestor becomes the single producer of both rings (rejects may be NULL: refusals are then
 * only counted). readings must have record size sizeof(vg_reading) and rejects
 * sizeof(vg_ingest_reject). cfg strings are copied.
 * Returns 0 and *ret (free with vg_ingest_free()), -EINVAL for bad arguments or settings
 * (qos not 0/1, cert without key, keepalive_s * 1000 <= max_block_ms, ring record sizes),
 * -ENOMEM, -EIO when libmosquitto refuses the TLS or credential settings.
 * mosquitto_lib_init() must have been called (once, from main). Thread: main. */
int vg_ingest_new(const vg_model *m, const vg_ingest_cfg *cfg, vg_ring *readings,
                  vg_ring *rejects, vg_ingest **ret);

/* Starts the "vg-ingest" thread, which connects (retrying with backoff while the broker is
 * unreachable), subscribes and runs the client until vg_ingest_stop().
 * Returns 0, -EALREADY, or a negative errno from pthread_create. Thread: main. */
int vg_ingest_start(vg_ingest *in);

/* Stops the thread: the client disconnects cleanly, the thread is joined. Does not close
 * the rings. Idempotent. Thread: main.
 * libmosquitto acknowledges a message to the broker before the callback sees it, so the
 * broker will not send it again: readings taken from the socket (the rest of a message, or
 * those a stall holds) still go into the readings ring, without the usual bound. Call it
 * while the ring is still being drained (vg_engine_stop() does), or close the ring first:
 * a closed ring is the only thing that makes the thread abandon them. */
void vg_ingest_stop(vg_ingest *in);

/* Stops if needed and frees; accepts NULL and *inp == NULL; sets *inp to NULL.
 * Thread: main. */
void vg_ingest_free(vg_ingest **inp);

/* Handles one message exactly as the MQTT callback does (parse, count, push with
 * backpressure), for broker-less producers: tests, stress programs, benchmarks.
 * Returns 0 (the message was counted: readings pushed or refused), -EINVAL, -ECANCELED when
 * the readings ring was closed while waiting for room.
 * Thread: the single producer of the rings; never while the ingest thread runs. */
int vg_ingest_submit(vg_ingest *in, const char *topic, const void *payload, size_t len,
                     int64_t now_ns);

/* Snapshot of the counters (relaxed reads: each counter is exact, the set is not atomic).
 * Thread: any. */
void vg_ingest_stats_get(const vg_ingest *in, vg_ingest_stats *ret);

/* ---- model switch (reload) ----
 * The readings in the ring carry model indices, so the consumer must know which model each
 * one was parsed with. vg_ingest_set_model() hands the producer a new model; the producer
 * takes it between two messages (the ingest thread: at its next loop turn, at most
 * LOOP_TIMEOUT_MS (100 ms) later, also while the broker is down; a broker-less producer: at
 * its next vg_ingest_submit()), switches its parsers and subscriptions, and pushes one
 * marker record into the readings ring: a vg_reading of type VG_INGEST_READING_MODEL (tag:
 * the switch number, 1, 2, ...; every other field 0). Readings before the marker were
 * parsed with the old model, those after it with the new one. */
#define VG_INGEST_READING_MODEL 0xff

/* After a message's readings, the ingestor pushes each sensor reading it refused as
 * out_of_range (vg_ingest_result.out_of_range) into the readings ring as this type, the
 * other fields as parsed. The consumer hands it to the analysis core as a
 * VG_READING_SENSOR, whose refusal raises sensor_range. The ingestor has counted and logged
 * the refusal already, so the consumer does not count it again; the engine archives it as a
 * reading offered to the core, so that a replay raises the same alert. */
#define VG_INGEST_READING_OUT_OF_RANGE 0xfe

/* Hands over m (borrowed: must outlive the ingestor; the old model must stay valid until
 * the consumer has passed the marker). Builds the new parsers on the calling thread.
 * Returns 0; -EINVAL (NULL, or a venue id other than the current one: the subscriptions
 * and topics depend on it); -EBUSY while the previous model has not been taken yet;
 * -ENOMEM. Thread: any. */
int vg_ingest_set_model(vg_ingest *in, const vg_model *m);

#ifdef __cplusplus
}
#endif

#endif
