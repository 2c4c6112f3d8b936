/* The ingestor: one libmosquitto client, owned by the "vg-ingest" thread, that turns MQTT
 * messages into vg_reading records on the readings ring.
 *
 * DESIGN
 * The thread runs its own loop around mosquitto_loop() rather than mosquitto_loop_forever(),
 * so that it alone touches the client (no mosquitto_disconnect() from another thread), it can
 * see the stop flag every LOOP_TIMEOUT_MS, and reconnects follow our own backoff.
 *
 * The message callback runs on this thread. It parses into a preallocated buffer, then
 * copies the readings into the ring. A full ring means the analysis thread is behind: the
 * callback waits for room (the socket is not read meanwhile, so the broker queues), in
 * slices so a stop is noticed. libmosquitto cannot send keepalive pings while we wait, so
 * the wait is bounded by max_block_ms < keepalive: past it the remaining readings move to a
 * pending buffer, the client disconnects (the persistent QoS 1 session keeps queueing at the
 * broker), and the loop reconnects once the pending readings are in the ring.
 *
 * Hanging up (stop, stall) goes through hang_up(), never a bare mosquitto_disconnect(): the
 * PUBACKs already sent must reach the broker, or it sends those messages again (see there).
 *
 * Counters are _Atomic uint64_t written by whichever thread is the producer (the ingest
 * thread, or the vg_ingest_submit() caller), with relaxed load+store (single writer);
 * readers (status, metrics) use relaxed loads.
 *
 * Model switch: vg_ingest_set_model() builds the new parsers on its caller's thread and
 * publishes them in one atomic pointer (`next`, release). The producer looks at it only
 * between messages and after a stalled message's readings are all in the ring, so the
 * marker it pushes splits the stream exactly: nothing parsed with the old model follows it.
 * The hot path pays one acquire load per loop turn or submit, no lock. */
#include "vigil/ingest.h"
#include "vigil/common.h"

#include <errno.h>
#include <limits.h>
#include <mosquitto.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* A connection the broker closes within this long of its CONNACK is short; this many short
 * ones in a row are logged as a likely client id clash (lost()). */
#define SHORT_CONNECTION_NS (10 * VG_NS_PER_S)
#define SHORT_CONNECTIONS_WARN 3

/* How long one mosquitto_loop() call may block: the stop latency when idle. */
#define LOOP_TIMEOUT_MS 100
/* Wait slice on a full ring, so a stop is seen within this. */
#define RING_SLICE_NS (100 * VG_NS_PER_MS)
/* Bound on hang_up(): flushing our PUBACKs and waiting for the broker to close. */
#define HANG_UP_MS 2000
#define MAX_SUBS 4

/* A model handed over by vg_ingest_set_model(), waiting for the producer. */
struct swap {
    const vg_model *model;
    vg_ingest_parser *parser, *parser_open;
    char subs[MAX_SUBS][160];
    size_t n_subs;
};

static int make_parsers(vg_ingest *in, const vg_model *m, struct swap *sw);

_Static_assert(VG_REJECT_COUNT <= VG_INGEST_REJECT_SLOTS, "reject counters too small");

struct vg_ingest {
    /* Read-only after vg_ingest_new(). */
    vg_ring *readings;
    vg_ring *rejects;
    vg_ingest_cfg cfg;
    char *strs[8]; /* owned copies of the cfg strings */
    char venue[VG_MODEL_ID_MAX];

    /* The model switch: set by vg_ingest_set_model() when NULL, taken and cleared by the
     * producer (see the top of this file). */
    _Atomic(struct swap *) next;
    uint32_t switches; /* producer: markers pushed */

    /* Owned by the producer thread (ingest thread, or the submit caller). */
    const vg_model *model;
    char subs[MAX_SUBS][160];
    size_t n_subs;
    /* Filters a reload dropped while disconnected: the persistent session at the broker
     * still holds them, so on_connect() unsubscribes them. */
    char gone[2 * MAX_SUBS][160];
    size_t n_gone;
    struct mosquitto *mosq;
    vg_ingest_parser *parser;
    vg_ingest_parser *parser_open; /* event clock, before the first reading: no time checks */
    int64_t event_now;             /* event clock: newest reading time taken, INT64_MIN none */
    int64_t untimed_ns;            /* event clock: last stamp of a reading without a ts */
    vg_reading *buf; /* parse output, limits.max_readings records */
    size_t buf_cap;
    vg_reading *pending; /* readings of a stalled message not yet in the ring */
    size_t pending_n, pending_off, pending_cap;
    int socket_up;
    int stalled; /* disconnected on purpose until pending drains */
    int64_t backoff_ms;
    int auth_logged;
    int64_t connected_mono; /* CONNACK time of the current connection */
    int short_run;          /* connections in a row the broker closed soon after */

    /* Counters: single writer (the producer), any reader. */
    _Atomic uint64_t messages, bytes, reject_log_full, ring_waits, stalls, connects, disconnects;
    _Atomic uint64_t short_connections;
    _Atomic uint64_t readings_by[VG_INGEST_SRC_COUNT_];
    _Atomic uint64_t rejects_by[VG_INGEST_REJECT_SLOTS];
    _Atomic int connected;

    /* Thread control. */
    pthread_t thread;
    int started; /* main thread only */
    atomic_int stop;
    pthread_mutex_t lock; /* protects nothing but the condvar wait below */
    pthread_cond_t cond;  /* signalled by vg_ingest_stop() to cut a backoff wait short */
};

static void bump(_Atomic uint64_t *c, uint64_t n)
{
    /* Relaxed: single writer; readers only want a recent value. */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

void vg_ingest_cfg_default(vg_ingest_cfg *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->host = "127.0.0.1";
    ret->port = 1883;
    ret->qos = 1;
    ret->keepalive_s = 60;
    ret->reconnect_min_ms = 250;
    ret->reconnect_max_ms = 10000;
    ret->max_block_ms = 10000;
    vg_ingest_limits_default(&ret->limits);
}

static int dup_str(vg_ingest *in, int slot, const char **field)
{
    if (!*field)
        return 0;
    in->strs[slot] = strdup(*field);
    if (!in->strs[slot])
        return -ENOMEM;
    *field = in->strs[slot];
    return 0;
}

static int64_t since_ms(int64_t t0)
{
    return (vg_mono_ns() - t0) / VG_NS_PER_MS;
}

/* Copies n readings into the ring, waiting for room in slices. With a bound (bound_ms >= 0)
 * returns the number copied when the bound expires, unless stopping; otherwise waits until
 * all are in or the ring closes. Thread: producer. */
static size_t push_readings(vg_ingest *in, const vg_reading *r, size_t n, int64_t bound_ms)
{
    size_t done = 0;
    int64_t t0 = 0;
    int waited = 0;

    while (done < n) {
        /* A closed ring takes nothing more (its consumer may be gone). */
        if (vg_ring_closed(in->readings))
            break;
        done += vg_ring_push_n(in->readings, r + done, n - done);
        if (done == n)
            break;
        if (!waited) {
            waited = 1;
            t0 = vg_mono_ns();
            bump(&in->ring_waits, 1);
        }
        if (vg_ring_closed(in->readings))
            break;
        /* Stopping: the broker has had its acknowledgement for these readings, so wait
         * for the consumer, which drains until ingest is joined (vg_engine_stop()). */
        if (bound_ms >= 0 && since_ms(t0) >= bound_ms && !atomic_load(&in->stop))
            break;
        int rc = vg_ring_wait_writable(in->readings, 1, RING_SLICE_NS);
        if (rc == -ECANCELED)
            break;
    }
    return done;
}

static void log_reject(vg_ingest *in, const char *topic, const void *payload, size_t len,
                       int64_t now_ns, const vg_ingest_result *res)
{
    vg_ingest_reject *rec;
    void *slot;
    size_t tl;

    if (!in->rejects || vg_ring_closed(in->rejects) || vg_ring_claim(in->rejects, 1, &slot) != 1) {
        bump(&in->reject_log_full, res->n_rejected);
        return;
    }
    rec = slot;
    memset(rec, 0, offsetof(vg_ingest_reject, topic));
    rec->wall_ns = now_ns;
    rec->t_ns = res->t_ns;
    rec->reason = (uint32_t)res->first_reason;
    rec->count = res->n_rejected;
    rec->payload_len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
    tl = strnlen(topic, VG_INGEST_REJECT_TOPIC_MAX);
    memcpy(rec->topic, topic, tl);
    if (tl < VG_INGEST_REJECT_TOPIC_MAX)
        rec->topic[tl] = '\0';
    rec->topic_len = (uint16_t)tl;
    rec->excerpt_len = (uint16_t)(len < VG_INGEST_REJECT_PAYLOAD_MAX ? len
                                                                      : VG_INGEST_REJECT_PAYLOAD_MAX);
    memcpy(rec->payload, payload, rec->excerpt_len);
    vg_ring_publish(in->rejects, 1);
}

/* The one path of a message: parse, count, push. bound_ms < 0: wait without bound.
 * Returns the readings not pushed (0 normally). Thread: producer. */
static size_t handle(vg_ingest *in, const char *topic, const void *payload, size_t len,
                     int64_t now_ns, int64_t bound_ms, size_t *ret_first_unpushed)
{
    vg_ingest_result res;
    vg_ingest_parser *parser = in->parser;
    int64_t ref_ns = now_ns;
    size_t pushed;

    bump(&in->messages, 1);
    bump(&in->bytes, len);
    if (in->cfg.event_clock) {
        /* Event time, not receipt time, is the reference (a replayed or sped-up stream). */
        if (in->event_now == INT64_MIN)
            parser = in->parser_open;
        else /* Frigate and zigbee2mqtt carry no ts and get this one: each its own, or two
              * counts between native readings would be duplicates. */
            ref_ns = in->event_now > in->untimed_ns ? in->event_now : in->untimed_ns + 1;
    }
    vg_ingest_parse(parser, topic, payload, len, ref_ns, in->buf, in->buf_cap, &res);
    if (in->cfg.event_clock &&
        (res.source == VG_INGEST_SRC_FRIGATE || res.source == VG_INGEST_SRC_Z2M))
        in->untimed_ns = ref_ns;
    if (in->cfg.event_clock)
        for (uint32_t i = 0; i < res.n_readings; i++)
            /* A help press never moves the clock: it is taken whatever its time, so an old
             * one first in a backlog would leave every later reading far ahead. */
            if (in->buf[i].type != VG_READING_HELP && in->buf[i].t_ns > in->event_now)
                in->event_now = in->buf[i].t_ns;
    if (res.n_rejected) {
        for (int i = 0; i < VG_REJECT_COUNT; i++)
            if (res.rejects[i])
                bump(&in->rejects_by[i], res.rejects[i]);
        log_reject(in, topic, payload, len, now_ns, &res);
    }
    /* Behind the readings: the out-of-range sensor readings, for the sensor_range alert
     * (buf has room for them past max_readings). */
    size_t n = res.n_readings;
    for (uint32_t i = 0; i < res.n_out_of_range; i++) {
        in->buf[n] = res.out_of_range[i];
        in->buf[n++].type = VG_INGEST_READING_OUT_OF_RANGE;
    }
    if (!n) {
        *ret_first_unpushed = 0;
        return 0;
    }
    /* Counted as taken even if some wait in the pending buffer: they will be pushed. */
    bump(&in->readings_by[res.source], res.n_readings);
    pushed = push_readings(in, in->buf, n, bound_ms);
    *ret_first_unpushed = pushed;
    return n - pushed;
}

/* Adds n readings behind those a stall holds already: one mosquitto_loop() turn can deliver
 * more messages after the one that stalled. */
static void hold_more(vg_ingest *in, const vg_reading *r, size_t n)
{
    memmove(in->pending, in->pending + in->pending_off, in->pending_n * sizeof(*r));
    in->pending_off = 0;
    if (in->pending_n + n > in->pending_cap) {
        vg_reading *p = realloc(in->pending, (in->pending_n + n) * sizeof(*p));
        if (!p) {
            vg_error("ingest: no memory to hold %zu more readings while the ring is full; "
                     "they are lost",
                     n);
            return;
        }
        in->pending = p;
        in->pending_cap = in->pending_n + n;
    }
    memcpy(in->pending + in->pending_n, r, n * sizeof(*r));
    in->pending_n += n;
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
    vg_ingest *in = obj;
    const int stalled = in->pending_n > 0; /* this turn already stalled on a message */
    size_t first, left;

    if (!msg->topic)
        return;
    left = handle(in, msg->topic, msg->payload, msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0,
                  vg_wall_ns(), stalled ? 0 : in->cfg.max_block_ms, &first);
    if (!left || vg_ring_closed(in->readings))
        return; /* all in, or the consumer is gone */
    if (stalled) {
        hold_more(in, in->buf + first, left);
        return;
    }
    memcpy(in->pending, in->buf + first, left * sizeof(vg_reading));
    in->pending_n = left;
    in->pending_off = 0;
    in->stalled = 1;
    bump(&in->stalls, 1);
    vg_warn("ingest: readings ring full for %d ms; disconnecting so the broker queues "
            "(%zu readings held)",
            in->cfg.max_block_ms, left);
    /* ingest_main() hangs up once this loop turn is over (not from inside a callback, where
     * libmosquitto only queues packets); the loop will not run again until the pending
     * readings are in: say so now. */
    if (atomic_exchange(&in->connected, 0))
        bump(&in->disconnects, 1);
}

static int has_sub(char (*subs)[160], size_t n, const char *f)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(subs[i], f) == 0)
            return 1;
    return 0;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    vg_ingest *in = obj;
    char *subs[MAX_SUBS];

    if (rc != 0) {
        if (!in->auth_logged)
            vg_error("ingest: broker refused the connection: %s", mosquitto_connack_string(rc));
        in->auth_logged = 1;
        return;
    }
    in->auth_logged = 0;
    in->backoff_ms = in->cfg.reconnect_min_ms;
    in->connected_mono = vg_mono_ns();
    atomic_store(&in->connected, 1);
    bump(&in->connects, 1);
    for (size_t i = 0; i < in->n_subs; i++)
        subs[i] = in->subs[i];
    for (size_t i = 0; i < in->n_gone; i++)
        if (!has_sub(in->subs, in->n_subs, in->gone[i]))
            mosquitto_unsubscribe(mosq, NULL, in->gone[i]);
    in->n_gone = 0;
    /* Subscribing again on a resumed session is harmless and covers a broker that lost it. */
    rc = mosquitto_subscribe_multiple(mosq, NULL, (int)in->n_subs, subs, in->cfg.qos, 0, NULL);
    if (rc != MOSQ_ERR_SUCCESS)
        vg_error("ingest: subscribe failed: %s", mosquitto_strerror(rc));
    vg_info("ingest: connected to %s:%d as %s (%zu subscriptions, QoS %d)", in->cfg.host,
            in->cfg.port, in->cfg.client_id, in->n_subs, in->cfg.qos);
}

/* A connection the broker closed (not a stall or a stop of ours). Under MQTT 3.1.1 a broker
 * gives no reason, but several in a row soon after their CONNACK are what two clients with
 * one client id do: each connection takes the session from the other. Each then gets only
 * part of the readings, which the log alone would show as reconnects. */
static void lost(vg_ingest *in)
{
    bump(&in->disconnects, 1);
    if (atomic_load(&in->stop) || in->stalled)
        return;
    if (vg_mono_ns() - in->connected_mono >= SHORT_CONNECTION_NS) {
        in->short_run = 0;
        return;
    }
    bump(&in->short_connections, 1);
    if (++in->short_run == SHORT_CONNECTIONS_WARN)
        vg_warn("ingest: the broker closed %d connections in a row less than %d s after "
                "accepting them: is another client connected with the client id %s? Two "
                "clients with one id take the session from each other, and each gets only "
                "part of the readings (or the broker keeps restarting)",
                SHORT_CONNECTIONS_WARN, (int)(SHORT_CONNECTION_NS / VG_NS_PER_S),
                in->cfg.client_id);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    vg_ingest *in = obj;

    if (atomic_exchange(&in->connected, 0)) {
        lost(in);
        if (!atomic_load(&in->stop) && !in->stalled)
            vg_warn("ingest: connection to %s:%d lost (%s); reconnecting", in->cfg.host,
                    in->cfg.port, rc ? mosquitto_strerror(rc) : "disconnected");
    }
}

static int mosq_err(int rc)
{
    switch (rc) {
    case MOSQ_ERR_SUCCESS:
        return 0;
    case MOSQ_ERR_INVAL:
        return -EINVAL;
    case MOSQ_ERR_NOMEM:
        return -ENOMEM;
    case MOSQ_ERR_ERRNO:
        return errno ? -errno : -EIO;
    case MOSQ_ERR_NO_CONN:
    case MOSQ_ERR_CONN_LOST:
        return -ENOTCONN;
    default:
        return -EIO;
    }
}

int vg_ingest_new(const vg_model *m, const vg_ingest_cfg *cfg, vg_ring *readings,
                  vg_ring *rejects, vg_ingest **ret)
{
    vg_ingest *in;
    int r;

    if (!m || !cfg || !readings || !ret)
        return -EINVAL;
    if (vg_ring_record_size(readings) != sizeof(vg_reading) ||
        (rejects && vg_ring_record_size(rejects) != sizeof(vg_ingest_reject)))
        return -EINVAL;
    if ((cfg->qos != 0 && cfg->qos != 1) || cfg->port <= 0 || cfg->port > 65535 ||
        cfg->keepalive_s < 5 || cfg->max_block_ms < 0 ||
        (int64_t)cfg->keepalive_s * 1000 <= cfg->max_block_ms || !cfg->host ||
        cfg->reconnect_min_ms <= 0 || cfg->reconnect_max_ms < cfg->reconnect_min_ms ||
        (!cfg->certfile != !cfg->keyfile) || cfg->limits.max_readings == 0)
        return -EINVAL;
    in = calloc(1, sizeof(*in));
    if (!in)
        return -ENOMEM;
    in->readings = readings;
    in->rejects = rejects;
    in->cfg = *cfg;
    pthread_mutex_init(&in->lock, NULL);
    {
        /* wait_stop() computes CLOCK_MONOTONIC deadlines: the condvar must use that clock
         * (its default, CLOCK_REALTIME, would make every backoff return at once). */
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&in->cond, &ca);
        pthread_condattr_destroy(&ca);
    }
    r = -ENOMEM;
    if (dup_str(in, 0, &in->cfg.host) || dup_str(in, 1, &in->cfg.client_id) ||
        dup_str(in, 2, &in->cfg.username) || dup_str(in, 3, &in->cfg.password) ||
        dup_str(in, 4, &in->cfg.cafile) || dup_str(in, 5, &in->cfg.capath) ||
        dup_str(in, 6, &in->cfg.certfile) || dup_str(in, 7, &in->cfg.keyfile))
        goto out_free;
    if (!in->cfg.client_id) {
        char id[24 + VG_MODEL_ID_MAX];
        snprintf(id, sizeof(id), "vigil-%s", vg_model_venue(m));
        in->cfg.client_id = in->strs[1] = strdup(id);
        if (!in->strs[1])
            goto out_free;
    }
    snprintf(in->venue, sizeof(in->venue), "%s", vg_model_venue(m));
    in->event_now = INT64_MIN;
    in->untimed_ns = INT64_MIN;
    {
        struct swap first = {0};
        r = make_parsers(in, m, &first);
        in->model = m;
        in->parser = first.parser;
        in->parser_open = first.parser_open;
        memcpy(in->subs, first.subs, sizeof(in->subs));
        in->n_subs = first.n_subs;
    }
    if (r < 0)
        goto out_free;
    in->buf_cap = in->cfg.limits.max_readings;
    r = -ENOMEM;
    /* the parser fills buf_cap; the out-of-range sensor readings follow them */
    in->buf = calloc(in->buf_cap + VG_INGEST_OOR_MAX, sizeof(*in->buf));
    in->pending = calloc(in->buf_cap + VG_INGEST_OOR_MAX, sizeof(*in->pending));
    in->pending_cap = in->buf_cap + VG_INGEST_OOR_MAX;
    if (!in->buf || !in->pending)
        goto out_free;
    in->backoff_ms = in->cfg.reconnect_min_ms;

    in->mosq = mosquitto_new(in->cfg.client_id, in->cfg.clean_session ? true : false, in);
    if (!in->mosq) {
        r = errno == EINVAL ? -EINVAL : -ENOMEM;
        goto out_free;
    }
    mosquitto_message_callback_set(in->mosq, on_message);
    mosquitto_connect_callback_set(in->mosq, on_connect);
    mosquitto_disconnect_callback_set(in->mosq, on_disconnect);
    /* Keep QoS 1 deliveries flowing while the PUBACKs travel: the broker's own
     * max_inflight_messages is the real limit (deploy/mosquitto/vigil.conf). */
    mosquitto_int_option(in->mosq, MOSQ_OPT_RECEIVE_MAXIMUM, 1000);
    /* PUBACKs are tiny: send them at once rather than let Nagle hold them back. */
    mosquitto_int_option(in->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    if (in->cfg.username) {
        r = mosq_err(mosquitto_username_pw_set(in->mosq, in->cfg.username, in->cfg.password));
        if (r < 0)
            goto out_free;
    }
    if (in->cfg.cafile || in->cfg.capath) {
        r = mosquitto_tls_set(in->mosq, in->cfg.cafile, in->cfg.capath, in->cfg.certfile,
                              in->cfg.keyfile, NULL);
        if (r != MOSQ_ERR_SUCCESS) {
            r = r == MOSQ_ERR_INVAL ? -EINVAL : -EIO;
            goto out_free;
        }
    }
    *ret = in;
    return 0;
out_free:
    vg_ingest_free(&in);
    return r;
}

/* Waits ms on the stop condvar (a backoff that vg_ingest_stop() cuts short). */
static void wait_stop(vg_ingest *in, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = ts.tv_nsec + (ms % 1000) * VG_NS_PER_MS;
    ts.tv_sec += ms / 1000 + ns / VG_NS_PER_S;
    ts.tv_nsec = ns % VG_NS_PER_S;
    pthread_mutex_lock(&in->lock);
    /* A model handed over meanwhile is taken now, even while the broker is unreachable. */
    while (!atomic_load(&in->stop) && !atomic_load_explicit(&in->next, memory_order_relaxed))
        if (pthread_cond_timedwait(&in->cond, &in->lock, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&in->lock);
}

static void free_swap(struct swap *sw)
{
    if (!sw)
        return;
    vg_ingest_parser_free(&sw->parser);
    vg_ingest_parser_free(&sw->parser_open);
    free(sw);
}

/* Builds the parsers (and subscriptions) of model m with the ingestor's limits. */
static int make_parsers(vg_ingest *in, const vg_model *m, struct swap *sw)
{
    int r;

    sw->model = m;
    sw->n_subs = vg_ingest_subscriptions(m, sw->subs, MAX_SUBS);
    if (sw->n_subs > MAX_SUBS)
        sw->n_subs = MAX_SUBS;
    r = vg_ingest_parser_new(m, &in->cfg.limits, &sw->parser);
    if (r == 0 && in->cfg.event_clock) {
        vg_ingest_limits open = in->cfg.limits;
        open.max_age_ns = 0;                /* no check */
        open.max_future_ns = INT64_MAX / 4; /* no check, and now + this cannot overflow */
        r = vg_ingest_parser_new(m, &open, &sw->parser_open);
    }
    return r;
}

/* Takes a model handed over by vg_ingest_set_model(), if any: pushes the marker, then
 * switches parsers and subscriptions. wait: block for room in the ring (submit path);
 * otherwise wait at most max_block_ms, as a message would, and try again at the next loop
 * turn. Thread: producer, between messages. Returns 0, or -ECANCELED when the submit path
 * could not push the marker (stop, closed ring). */
static int take_model(vg_ingest *in, int wait)
{
    struct swap *sw = atomic_load_explicit(&in->next, memory_order_acquire);
    vg_reading mark;

    if (!sw)
        return 0;
    memset(&mark, 0, sizeof(mark));
    mark.type = VG_INGEST_READING_MODEL;
    mark.tag = in->switches + 1;
    if (push_readings(in, &mark, 1, wait ? -1 : in->cfg.max_block_ms) != 1)
        return wait ? -ECANCELED : 0;
    in->switches++;
    /* Subscriptions: add what the new model needs, drop what it no longer maps. Without a
     * session, on_connect() subscribes to the new list. */
    if (in->mosq && atomic_load(&in->connected)) {
        for (size_t i = 0; i < in->n_subs; i++)
            if (!has_sub(sw->subs, sw->n_subs, in->subs[i]))
                mosquitto_unsubscribe(in->mosq, NULL, in->subs[i]);
        for (size_t i = 0; i < sw->n_subs; i++)
            if (!has_sub(in->subs, in->n_subs, sw->subs[i]))
                mosquitto_subscribe(in->mosq, NULL, sw->subs[i], in->cfg.qos);
    } else if (in->mosq) {
        for (size_t i = 0; i < in->n_subs; i++) {
            if (has_sub(sw->subs, sw->n_subs, in->subs[i]) ||
                has_sub(in->gone, in->n_gone, in->subs[i]))
                continue;
            if (in->n_gone == sizeof(in->gone) / sizeof(in->gone[0])) {
                vg_warn("ingest: too many reloads while disconnected; the broker may keep "
                        "sending %s", in->subs[i]);
                continue;
            }
            memcpy(in->gone[in->n_gone++], in->subs[i], sizeof(in->gone[0]));
        }
    }
    memcpy(in->subs, sw->subs, sizeof(in->subs));
    in->n_subs = sw->n_subs;
    in->model = sw->model;
    vg_ingest_parser *p = in->parser, *po = in->parser_open;
    in->parser = sw->parser;
    in->parser_open = sw->parser_open;
    sw->parser = p; /* the old ones go with the swap record */
    sw->parser_open = po;
    atomic_store_explicit(&in->next, NULL, memory_order_release);
    free_swap(sw);
    return 0;
}

int vg_ingest_set_model(vg_ingest *in, const vg_model *m)
{
    struct swap *sw, *none = NULL;
    int r;

    if (!in || !m)
        return -EINVAL;
    if (strcmp(vg_model_venue(m), in->venue) != 0)
        return -EINVAL;
    if (atomic_load_explicit(&in->next, memory_order_acquire))
        return -EBUSY;
    sw = calloc(1, sizeof(*sw));
    if (!sw)
        return -ENOMEM;
    if ((r = make_parsers(in, m, sw)) < 0) {
        free_swap(sw);
        return r;
    }
    if (!atomic_compare_exchange_strong_explicit(&in->next, &none, sw, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        free_swap(sw);
        return -EBUSY;
    }
    /* Cut a reconnect backoff short: the switch should not wait for the broker. */
    pthread_mutex_lock(&in->lock);
    pthread_cond_broadcast(&in->cond);
    pthread_mutex_unlock(&in->lock);
    return 0;
}

static void backoff(vg_ingest *in)
{
    wait_stop(in, in->backoff_ms);
    in->backoff_ms *= 2;
    if (in->backoff_ms > in->cfg.reconnect_max_ms)
        in->backoff_ms = in->cfg.reconnect_max_ms;
}

/* Milliseconds from now to end_ns, for poll(): 0 once past. */
static int ms_left(int64_t end_ns)
{
    int64_t ms = (end_ns - vg_mono_ns() + VG_NS_PER_MS - 1) / VG_NS_PER_MS;
    return ms <= 0 ? 0 : ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Writes what libmosquitto has queued (PUBACKs, a DISCONNECT) until end_ns. Returns 1 when
 * the queue is empty and the socket still open: the stream is at a packet boundary. */
static int flush_out(vg_ingest *in, int64_t end_ns)
{
    for (;;) {
        const int fd = mosquitto_socket(in->mosq);
        if (fd < 0)
            return 0; /* libmosquitto closed it: a write error, or its DISCONNECT went out */
        if (!mosquitto_want_write(in->mosq))
            return 1;
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        const int ms = ms_left(end_ns);
        if (ms == 0 || (poll(&p, 1, ms) < 0 && errno != EINTR))
            return 0;
        if (mosquitto_loop_write(in->mosq, 1) != MOSQ_ERR_SUCCESS)
            return 0; /* the broker is gone; libmosquitto closed the socket */
    }
}

/* Ends the session so that every PUBACK sent reaches the broker. Thread: ingest, outside
 * libmosquitto's callbacks.
 *
 * libmosquitto acknowledges a QoS 1 message before on_message() sees it, and we take every
 * message we are given, so the broker must get each of those PUBACKs or it delivers the
 * message again to the next session, which grades it twice. mosquitto_disconnect() writes
 * DISCONNECT and closes the socket at once; if the broker's PUBLISHes are still unread in our
 * receive buffer (a stop mid-burst), Linux answers the close with a RST, and the broker's
 * kernel throws away what the broker had not read yet: our last PUBACKs (mosquitto reads one
 * packet per wake-up, so under a burst that can be thousands) and the DISCONNECT.
 *
 * So, over plain TCP: flush libmosquitto's queue, write DISCONNECT ourselves, half-close
 * (FIN after the DISCONNECT), and read and discard until the broker closes (it does once it
 * has read the DISCONNECT, so it has read every PUBACK before it) or HANG_UP_MS pass, which
 * also bounds the whole thing when the broker is unreachable. Discarded PUBLISHes were never
 * acknowledged: the broker sends them again, as QoS 1 wants. The socket stays libmosquitto's
 * (it closes it at the next connect or in mosquitto_destroy()), and libmosquitto never reads
 * or writes it again: its half-read packet is dropped by the reconnect.
 *
 * Over TLS raw bytes would break the record stream, so this flushes the queue, then calls
 * mosquitto_disconnect() as before (TLS is on exactly when a CA is set): a stop mid-burst can
 * still lose the last PUBACKs there, and the broker sends those messages again. */
static void hang_up(vg_ingest *in)
{
    static const unsigned char disconnect[2] = {0xE0, 0x00}; /* DISCONNECT, 3.1.1 and 5 */
    const int64_t end = vg_mono_ns() + HANG_UP_MS * VG_NS_PER_MS;
    const int flushed = flush_out(in, end);
    const int fd = mosquitto_socket(in->mosq);
    char buf[16384];
    ssize_t n = 1;

    in->socket_up = 0;
    if (fd >= 0 && (in->cfg.cafile || in->cfg.capath)) {
        mosquitto_disconnect(in->mosq);
        flush_out(in, end);
    } else if (fd >= 0) {
        /* Only at a packet boundary; otherwise the FIN alone ends the session. */
        if (flushed)
            (void)send(fd, disconnect, sizeof(disconnect), MSG_NOSIGNAL);
        shutdown(fd, SHUT_WR);
        while (n != 0) { /* 0: EOF, the broker closed */
            struct pollfd p = {.fd = fd, .events = POLLIN};
            const int ms = ms_left(end);
            if (ms == 0 || (poll(&p, 1, ms) < 0 && errno != EINTR))
                break;
            n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                break; /* reset: nothing more to wait for */
        }
        if (n != 0 && ms_left(end) == 0)
            vg_warn("ingest: the broker did not close the connection within %d ms; messages "
                    "taken just before may be delivered again",
                    HANG_UP_MS);
    }
    if (atomic_exchange(&in->connected, 0))
        bump(&in->disconnects, 1);
}

static void *ingest_main(void *arg)
{
    vg_ingest *in = arg;
    int first = 1, rc, down_logged = 0;

    pthread_setname_np(pthread_self(), "vg-ingest");
    while (!atomic_load(&in->stop)) {
        if (in->pending_n) {
            /* Stalled: the socket stays closed until the ring took the held readings. */
            size_t n = push_readings(in, in->pending + in->pending_off, in->pending_n, -1);
            in->pending_off += n;
            in->pending_n -= n;
            if (in->pending_n)
                continue; /* closed ring or stop: the loop condition decides */
            in->stalled = 0;
            vg_info("ingest: readings ring has room again; reconnecting");
        }
        /* Between messages, nothing held: the place to switch models. */
        take_model(in, 0);
        if (!in->socket_up) {
            rc = first ? mosquitto_connect(in->mosq, in->cfg.host, in->cfg.port,
                                           in->cfg.keepalive_s)
                       : mosquitto_reconnect(in->mosq);
            if (rc != MOSQ_ERR_SUCCESS) {
                if (!down_logged)
                    vg_warn("ingest: cannot reach broker %s:%d (%s); retrying with backoff",
                            in->cfg.host, in->cfg.port,
                            rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
                down_logged = 1;
                backoff(in);
                continue;
            }
            first = 0;
            down_logged = 0;
            in->socket_up = 1;
        }
        rc = mosquitto_loop(in->mosq, LOOP_TIMEOUT_MS, 1);
        if (rc != MOSQ_ERR_SUCCESS) {
            in->socket_up = 0;
            if (atomic_exchange(&in->connected, 0))
                lost(in);
            if (!in->stalled)
                backoff(in);
        } else if (in->stalled) {
            hang_up(in); /* on_message() held readings: the broker queues meanwhile */
        }
    }
    /* Held readings were acknowledged to the broker: they go in unless the ring is closed. */
    if (in->pending_n && !vg_ring_closed(in->readings))
        push_readings(in, in->pending + in->pending_off, in->pending_n, -1);
    if (in->socket_up)
        hang_up(in);
    atomic_store(&in->connected, 0);
    return NULL;
}

int vg_ingest_start(vg_ingest *in)
{
    int rc;

    if (!in)
        return -EINVAL;
    if (in->started)
        return -EALREADY;
    atomic_store(&in->stop, 0);
    rc = pthread_create(&in->thread, NULL, ingest_main, in);
    if (rc)
        return -rc;
    in->started = 1;
    return 0;
}

void vg_ingest_stop(vg_ingest *in)
{
    if (!in || !in->started)
        return;
    pthread_mutex_lock(&in->lock);
    atomic_store(&in->stop, 1);
    pthread_cond_broadcast(&in->cond);
    pthread_mutex_unlock(&in->lock);
    pthread_join(in->thread, NULL);
    in->started = 0;
}

void vg_ingest_free(vg_ingest **inp)
{
    vg_ingest *in;

    if (!inp || !*inp)
        return;
    in = *inp;
    vg_ingest_stop(in);
    if (in->mosq)
        mosquitto_destroy(in->mosq);
    vg_ingest_parser_free(&in->parser);
    vg_ingest_parser_free(&in->parser_open);
    free_swap(atomic_load(&in->next)); /* handed over, never taken */
    free(in->buf);
    free(in->pending);
    for (size_t i = 0; i < sizeof(in->strs) / sizeof(in->strs[0]); i++)
        free(in->strs[i]);
    pthread_cond_destroy(&in->cond);
    pthread_mutex_destroy(&in->lock);
    free(in);
    *inp = NULL;
}

int vg_ingest_submit(vg_ingest *in, const char *topic, const void *payload, size_t len,
                     int64_t now_ns)
{
    size_t first;

    if (!in || !topic || (!payload && len))
        return -EINVAL;
    if (take_model(in, 1) < 0)
        return -ECANCELED;
    if (handle(in, topic, payload ? payload : "", len, now_ns, -1, &first))
        return -ECANCELED;
    return 0;
}

void vg_ingest_stats_get(const vg_ingest *in, vg_ingest_stats *ret)
{
    vg_ingest *w = (vg_ingest *)in; /* atomics: loads only */

    memset(ret, 0, sizeof(*ret));
    if (!in)
        return;
    ret->messages = atomic_load_explicit(&w->messages, memory_order_relaxed);
    ret->bytes = atomic_load_explicit(&w->bytes, memory_order_relaxed);
    for (int i = 0; i < VG_INGEST_SRC_COUNT_; i++)
        ret->readings[i] = atomic_load_explicit(&w->readings_by[i], memory_order_relaxed);
    for (int i = 0; i < VG_INGEST_REJECT_SLOTS; i++)
        ret->rejects[i] = atomic_load_explicit(&w->rejects_by[i], memory_order_relaxed);
    ret->reject_log_full = atomic_load_explicit(&w->reject_log_full, memory_order_relaxed);
    ret->ring_waits = atomic_load_explicit(&w->ring_waits, memory_order_relaxed);
    ret->stalls = atomic_load_explicit(&w->stalls, memory_order_relaxed);
    ret->connects = atomic_load_explicit(&w->connects, memory_order_relaxed);
    ret->disconnects = atomic_load_explicit(&w->disconnects, memory_order_relaxed);
    ret->short_connections = atomic_load_explicit(&w->short_connections, memory_order_relaxed);
    ret->connected = atomic_load_explicit(&w->connected, memory_order_relaxed);
}
