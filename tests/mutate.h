/* Deterministic mutation of test inputs (MQTT payloads, control requests, model files), for
 * the tests that check that every malformed variant is refused by name and nothing crashes.
 * Header-only: each test program includes it once. */
#ifndef VG_TEST_MUTATE_H
#define VG_TEST_MUTATE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* xorshift64: the same sequence on every machine, so a failing mutant is named by its
 * number and reproduced by running the test again. */
typedef struct vg_mut_rng {
    uint64_t s;
} vg_mut_rng;

/* A number in [0, n). */
static inline uint32_t vg_mut_next(vg_mut_rng *r, uint32_t n)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (uint32_t)(r->s % n);
}

/* Edits b[0, len) in place, once (three times in four) or two to four times: a byte
 * replaced (half the time by one of special[0, n_special), else by any byte), a byte of
 * special inserted, a run of up to 8 bytes deleted, the rest cut off, or a run of up to 16
 * bytes repeated. Returns the new length, at most cap. */
static inline size_t vg_mut_bytes(vg_mut_rng *r, unsigned char *b, size_t len, size_t cap,
                                  const char *special, size_t n_special)
{
    const int ops = vg_mut_next(r, 4) ? 1 : 2 + (int)vg_mut_next(r, 3);

    for (int k = 0; k < ops; k++) {
        const size_t at = len ? vg_mut_next(r, (uint32_t)len) : 0;
        const uint32_t op = vg_mut_next(r, 20);
        if (op < 10) { /* replace a byte */
            if (len)
                b[at] = vg_mut_next(r, 2)
                            ? (unsigned char)special[vg_mut_next(r, (uint32_t)n_special)]
                            : (unsigned char)vg_mut_next(r, 256);
        } else if (op < 14) { /* insert a byte */
            if (len < cap) {
                memmove(b + at + 1, b + at, len - at);
                b[at] = (unsigned char)special[vg_mut_next(r, (uint32_t)n_special)];
                len++;
            }
        } else if (op < 16) { /* delete a run */
            const size_t n = len - at < 8 ? len - at : 1 + vg_mut_next(r, 8);
            memmove(b + at, b + at + n, len - at - n);
            len -= n;
        } else if (op < 17) { /* cut off */
            len = at;
        } else { /* repeat a run */
            const size_t n = len - at < 16 ? len - at : 1 + vg_mut_next(r, 16);
            if (len + n <= cap) {
                memmove(b + at + n, b + at, len - at);
                len += n;
            }
        }
    }
    return len;
}

#endif
