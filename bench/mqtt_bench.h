/* Shared by the MQTT benchmarks (bench_ingest, bench_e2e): a private mosquitto on a free
 * loopback port, a flat-out publisher, and the reference every MQTT benchmark compares
 * against: a plain libmosquitto subscriber that only counts (the relay limit). */
#ifndef VIGIL_BENCH_MQTT_BENCH_H
#define VIGIL_BENCH_MQTT_BENCH_H

#include <stdatomic.h>
#include <stdint.h>

struct mosquitto;
#include <sys/types.h>

struct vb_broker {
    int port;
    pid_t pid;
    char dir[64]; /* scratch directory, removed by vb_broker_stop() */
};

/* Starts /usr/sbin/mosquitto on 127.0.0.1 at a free port with unlimited queues.
 * Returns 0, or -1 (message on stderr). */
int vb_broker_start(struct vb_broker *b);
void vb_broker_stop(struct vb_broker *b);

void vb_nap_ms(int ms);

/* A free TCP port on 127.0.0.1 (bound and released), or -1. */
int vb_free_port(void);

/* A publishing client connected to 127.0.0.1:port (TCP_NODELAY, no send limit); exits the
 * program when it cannot connect. obj: its callbacks' user data. */
struct mosquitto *vb_client(int port, void *obj);

/* Disconnects cleanly (the DISCONNECT is sent) and destroys it. */
void vb_client_close(struct mosquitto *m);

/* Ends a persistent session, so it does not queue the next case's stream while offline. */
void vb_drop_session(int port, const char *client_id);

/* A stream of n messages cycling through `variety` prepared ones, published as fast as the
 * broker takes them (QoS 1: at most 4000 unacknowledged). */
struct vb_stream {
    int port;
    int qos;
    int n;
    int variety;
    const char *const *topics;
    char *const *payloads;
    const int *lens;
    atomic_int acked;
};

/* pthread start routine: publishes the stream, waits for every PUBACK, disconnects. */
void *vb_publisher(void *stream);

/* Publishes the stream (on its own thread) to a plain subscriber of `filter` at the stream's
 * QoS and returns the ns per message between its first and last receive. */
double vb_plain_ns_per_msg(struct vb_stream *s, const char *filter);

#endif
