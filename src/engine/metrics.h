/* Private: the Prometheus text endpoint of `vigil run --metrics HOST:PORT` (libmicrohttpd).
 * The engine owns the counters; this file only serves whatever the render callback writes. */
#ifndef VIGIL_ENGINE_METRICS_H
#define VIGIL_ENGINE_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct vg__metrics vg__metrics;

/* Writes the exposition text into buf (at most cap bytes, no NUL needed) and returns the
 * length it needs; the server retries with a bigger buffer when that exceeds cap.
 * Thread: the server's own thread (reads counters only). */
typedef size_t (*vg__metrics_render_fn)(void *ctx, char *buf, size_t cap);

/* Serves GET /metrics on host:port (IPv4 dotted quad or "localhost"; port 0 picks a free
 * port, see vg__metrics_port()). ctx is borrowed until vg__metrics_stop().
 * Returns 0, -EINVAL (bad host), -EADDRINUSE or -EIO when the daemon does not start,
 * -ENOMEM. Thread: main. */
int vg__metrics_start(const char *host, uint16_t port, vg__metrics_render_fn render, void *ctx,
                      vg__metrics **ret);

/* The port actually bound. Thread: any. */
uint16_t vg__metrics_port(const vg__metrics *mx);

/* Stops the server and frees it; accepts NULL. Thread: main. */
void vg__metrics_stop(vg__metrics **mxp);

#endif
