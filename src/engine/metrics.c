/* The metrics endpoint: libmicrohttpd with its own polling thread answers GET /metrics with
 * the Prometheus text format (version 0.0.4). Rendering reads the engine's atomic counters,
 * so a scrape never takes a lock the hot path holds. Anything but GET /metrics is a 404. */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

struct vg__metrics {
    struct MHD_Daemon *daemon;
    vg__metrics_render_fn render;
    void *ctx;
    uint16_t port;
};

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    vg__metrics *mx = cls;
    struct MHD_Response *resp;
    enum MHD_Result r;
    unsigned status = MHD_HTTP_OK;
    char *buf = NULL;
    size_t len = 0;

    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
    } else if (strcmp(url, "/metrics") != 0) {
        status = MHD_HTTP_NOT_FOUND;
    } else {
        size_t cap = 16384;
        for (int tries = 0; tries < 4; tries++) {
            char *nb = realloc(buf, cap);
            if (!nb)
                break;
            buf = nb;
            len = mx->render(mx->ctx, buf, cap);
            if (len < cap) /* one byte spare: a render that fills buf may end in vsnprintf's NUL */
                break;
            cap = len + 4096; /* counters may grow between the two renders */
        }
        if (!buf || len >= cap) {
            status = MHD_HTTP_INTERNAL_SERVER_ERROR;
            len = 0;
        }
    }
    if (status != MHD_HTTP_OK) {
        static const char nf[] = "only GET /metrics is served here\n";
        free(buf);
        resp = MHD_create_response_from_buffer(sizeof(nf) - 1, (void *)nf, MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
        if (!resp)
            free(buf);
    }
    if (!resp)
        return MHD_NO;
    if (status == MHD_HTTP_OK)
        MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

int vg__metrics_start(const char *host, uint16_t port, vg__metrics_render_fn render, void *ctx,
                      vg__metrics **ret)
{
    struct sockaddr_in sa;
    vg__metrics *mx;

    if (!host || !render || !ret)
        return -EINVAL;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -EINVAL;
    mx = calloc(1, sizeof(*mx));
    if (!mx)
        return -ENOMEM;
    mx->render = render;
    mx->ctx = ctx;
    /* One internal polling thread: a scrape every few seconds needs nothing more. */
    mx->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, port, NULL, NULL,
                                  answer, mx, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
                                  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (!mx->daemon) {
        free(mx);
        return port ? -EADDRINUSE : -EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(mx->daemon, MHD_DAEMON_INFO_BIND_PORT);
    mx->port = info ? info->port : port;
    *ret = mx;
    return 0;
}

uint16_t vg__metrics_port(const vg__metrics *mx)
{
    return mx ? mx->port : 0;
}

void vg__metrics_stop(vg__metrics **mxp)
{
    if (!mxp || !*mxp)
        return;
    if ((*mxp)->daemon)
        MHD_stop_daemon((*mxp)->daemon);
    free(*mxp);
    *mxp = NULL;
}
