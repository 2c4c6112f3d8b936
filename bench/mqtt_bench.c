/* See mqtt_bench.h. */
#include "mqtt_bench.h"

#include "vigil/common.h"

#include <arpa/inet.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void vb_nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int vb_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int port = -1;

    if (fd < 0)
        return -1;
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static int listening(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

void vb_broker_stop(struct vb_broker *b)
{
    char cmd[128];
    if (b->pid > 0) {
        kill(b->pid, SIGTERM);
        waitpid(b->pid, NULL, 0);
        b->pid = 0;
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->dir);
    if (b->dir[0] && system(cmd) != 0)
        fprintf(stderr, "bench: could not remove %s\n", b->dir);
    b->dir[0] = 0;
}

int vb_broker_start(struct vb_broker *b)
{
    char conf[128];

    memset(b, 0, sizeof(*b));
    snprintf(b->dir, sizeof(b->dir), "/tmp/vg-bench-mqtt.XXXXXX");
    if (!mkdtemp(b->dir) || (b->port = vb_free_port()) < 0) {
        fprintf(stderr, "bench: no scratch directory or port\n");
        return -1;
    }
    snprintf(conf, sizeof(conf), "%s/mosquitto.conf", b->dir);
    FILE *f = fopen(conf, "w");
    if (!f)
        return -1;
    fprintf(f, "listener %d 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"
               "max_inflight_messages 0\nmax_queued_bytes 0\n", b->port);
    fclose(f);
    fflush(NULL); /* or the child's freopen() writes our buffered output a second time */
    b->pid = fork();
    if (b->pid == 0) {
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
            _exit(126);
        execl("/usr/sbin/mosquitto", "mosquitto", "-c", conf, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200 && !listening(b->port); i++)
        vb_nap_ms(20);
    if (!listening(b->port)) {
        fprintf(stderr, "bench: mosquitto did not start on port %d\n", b->port);
        vb_broker_stop(b);
        return -1;
    }
    return 0;
}

void vb_drop_session(int port, const char *id)
{
    struct mosquitto *m = mosquitto_new(id, true, NULL);
    if (mosquitto_connect(m, "127.0.0.1", port, 60) == MOSQ_ERR_SUCCESS) {
        mosquitto_loop(m, 50, 1);
        mosquitto_disconnect(m);
        mosquitto_loop(m, 50, 1);
    }
    mosquitto_destroy(m);
}

static void on_pub(struct mosquitto *m, void *obj, int mid)
{
    atomic_fetch_add(&((struct vb_stream *)obj)->acked, 1);
}

struct mosquitto *vb_client(int port, void *obj)
{
    struct mosquitto *m = mosquitto_new(NULL, true, obj);

    mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, 65535);
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    if (mosquitto_connect(m, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "bench: a publisher cannot connect\n");
        exit(1);
    }
    return m;
}

void vb_client_close(struct mosquitto *m)
{
    mosquitto_disconnect(m);
    mosquitto_loop(m, 5, 1);
    mosquitto_destroy(m);
}

void *vb_publisher(void *arg)
{
    struct vb_stream *p = arg;
    struct mosquitto *m = vb_client(p->port, p);

    atomic_store(&p->acked, 0);
    mosquitto_publish_callback_set(m, on_pub);
    /* No network thread: publish writes straight to the socket from this thread, and the
     * PUBACKs are read here, so the publisher costs one send() per message. */
    for (int i = 0; i < p->n; i++) {
        int k = i % p->variety;
        int rc = mosquitto_publish(m, NULL, p->topics[k], p->lens[k], p->payloads[k], p->qos, false);
        if (rc != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "bench: publish: %s\n", mosquitto_strerror(rc));
            exit(1);
        }
        if (p->qos && (i % 64 == 0 || i - atomic_load(&p->acked) > 4000))
            do
                mosquitto_loop(m, i - atomic_load(&p->acked) > 4000 ? 5 : 0, 1);
            while (i - atomic_load(&p->acked) > 4000);
    }
    while (p->qos && atomic_load(&p->acked) < p->n)
        mosquitto_loop(m, 5, 1);
    vb_client_close(m);
    return NULL;
}

/* ---- the reference: a plain counting subscriber ---- */

struct plain {
    atomic_long n;
    long want;
    int64_t first_ns, last_ns; /* subscriber thread only until joined */
    atomic_int subscribed;
    struct mosquitto *m;
};

static void plain_msg(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
    struct plain *p = obj;
    int64_t t = vg_mono_ns();
    if (!p->first_ns)
        p->first_ns = t;
    p->last_ns = t;
    if (atomic_fetch_add(&p->n, 1) + 1 >= p->want)
        mosquitto_disconnect(m);
}

static void plain_sub(struct mosquitto *m, void *obj, int mid, int n, const int *g)
{
    atomic_store(&((struct plain *)obj)->subscribed, 1);
}

static void *plain_main(void *arg)
{
    struct plain *p = arg;
    /* The same loop shape as the ingestor: mosquitto_loop() on one thread. */
    while (atomic_load(&p->n) < p->want)
        if (mosquitto_loop(p->m, 100, 1) != MOSQ_ERR_SUCCESS)
            break;
    return NULL;
}

double vb_plain_ns_per_msg(struct vb_stream *s, const char *filter)
{
    static const char id[] = "vg-bench-plain";
    struct plain p;
    pthread_t ts, tp;

    memset(&p, 0, sizeof(p));
    p.want = s->n;
    p.m = mosquitto_new(s->qos ? id : NULL, s->qos ? false : true, &p);
    mosquitto_int_option(p.m, MOSQ_OPT_TCP_NODELAY, 1); /* as the ingestor does */
    mosquitto_message_callback_set(p.m, plain_msg);
    mosquitto_subscribe_callback_set(p.m, plain_sub);
    if (mosquitto_connect(p.m, "127.0.0.1", s->port, 60) != MOSQ_ERR_SUCCESS)
        exit(1);
    mosquitto_subscribe(p.m, NULL, filter, s->qos);
    while (!atomic_load(&p.subscribed))
        mosquitto_loop(p.m, 10, 1);
    pthread_create(&ts, NULL, plain_main, &p);
    pthread_create(&tp, NULL, vb_publisher, s);
    pthread_join(tp, NULL);
    pthread_join(ts, NULL);
    mosquitto_destroy(p.m);
    if (s->qos)
        vb_drop_session(s->port, id);
    if (atomic_load(&p.n) < s->n)
        fprintf(stderr, "bench: plain subscriber got %ld of %d\n", atomic_load(&p.n), s->n);
    return (double)(p.last_ns - p.first_ns) / (double)(atomic_load(&p.n) - 1);
}
