/* Helpers shared by the integration tests that run `vigil` as a process: pacing, a free
 * loopback port, and reading its Prometheus metrics. */
#ifndef VIGIL_TESTS_ITEST_UTIL_H
#define VIGIL_TESTS_ITEST_UTIL_H

void nap_ms(int ms);

/* A TCP port on 127.0.0.1 that was free a moment ago (bound, then released). */
int free_port(void);

/* GET /metrics on 127.0.0.1:mport; the body in a static buffer, or NULL when nothing
 * listens or the answer is not 200. */
const char *scrape(int mport);

/* The value of the sample named exactly `name` (with labels), or -1. */
long long metric(const char *text, const char *name);

/* Scrapes every 50 ms until `name` reaches `want` or timeout_ms pass; its last value. */
long long wait_metric(int mport, const char *name, long long want, int timeout_ms);

#endif
