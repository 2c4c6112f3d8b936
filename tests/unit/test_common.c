/* Error text, clocks and log levels. */
#include "vigil/common.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

Test(common, strerror_names_vigil_codes_either_sign)
{
    cr_expect_str_eq(vg_strerror(0), "success");
    cr_expect_str_eq(vg_strerror(-EPROTO), "malformed payload");
    cr_expect_str_eq(vg_strerror(EPROTO), "malformed payload");
    cr_expect_str_eq(vg_strerror(-EINVAL), strerror(EINVAL));
}

Test(common, monotonic_clock_does_not_go_back)
{
    int64_t a = vg_mono_ns(), b = vg_mono_ns();
    cr_expect_geq(b, a);
    cr_expect_gt(vg_wall_ns(), INT64_C(1600000000) * VG_NS_PER_S);
}

Test(common, log_levels_parse_and_unknown_is_einval)
{
    enum vg_log_level l = VG_LOG_INFO;
    cr_expect_eq(vg_log_parse_level("debug", &l), 0);
    cr_expect_eq(l, VG_LOG_DEBUG);
    cr_expect_eq(vg_log_parse_level("loud", &l), -EINVAL);
    cr_expect_eq(l, VG_LOG_DEBUG);
    cr_expect_eq(vg_log_parse_level(NULL, &l), -EINVAL);
    vg_log_set_level(VG_LOG_WARN);
    cr_expect_eq(vg_log_get_level(), VG_LOG_WARN);
}

/* The one ISO instant parser behind scenario starts, `vigil sim --start` and model phases. */
Test(common, instants_parse_with_their_offset_and_impossible_ones_are_refused)
{
    const struct {
        const char *text;
        int64_t ns;
    } good[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2026-07-18T19:00:00+02:00", INT64_C(1784394000) * VG_NS_PER_S},
        {"2026-07-18T17:00:00Z", INT64_C(1784394000) * VG_NS_PER_S},
        {"2026-07-18T17:00:00UTC", INT64_C(1784394000) * VG_NS_PER_S},
        {"2026-07-18T12:30:00-04:30", INT64_C(1784394000) * VG_NS_PER_S},
        {"2026-07-18T17:00:00.25Z", INT64_C(1784394000) * VG_NS_PER_S + 250000000},
        {"2028-02-29T00:00:00Z", INT64_C(1835395200) * VG_NS_PER_S}, /* a leap day */
        {"2026-07-18T17:00:59.000000001Z", INT64_C(1784394059) * VG_NS_PER_S + 1},
    };
    static const char *const bad[] = {
        "2026-02-30T10:00:00Z",      /* no such day */
        "2027-02-29T10:00:00Z",      /* not a leap year */
        "2026-04-31T10:00:00Z",      /* April has 30 days */
        "2026-13-01T10:00:00Z",      /* no such month */
        "2026-07-18T24:00:00Z",      /* hours are 0-23 */
        "2026-07-18T10:60:00Z",      /* minutes are 0-59 */
        "2026-07-18T10:00:60Z",      /* seconds are below 60 */
        "2026-07-18T10:00:00",       /* local time: ambiguous */
        "2026-07-18T10:00:00+2:00",  /* offsets are +HH:MM */
        "2026-07-18T10:00:00+15:00", /* no such offset */
        "2026-07-18T10:00:00Zjunk",  /* trailing text */
        "2026-07-18 10:00:00Z",      /* the T is required */
        "2026-+7-18T10:00:00Z",      /* signs inside the date */
        "1969-12-31T23:59:59Z",      /* before 1970 */
        "2262-01-01T00:00:00Z",      /* its nanoseconds overflow 64 bits */
        "2026-07-18T10:00:00e1Z",    /* exponent, not a fraction */
        "2026-07-18T10:00:00.5e1Z",  /* an exponent in the fraction */
        "2026-07-18T10:00:00.Z",     /* a point without digits */
        "2026-07-18T10:00:00+-1:00", /* a sign inside the offset */
        "2026-07-18T10:00:00+ 1:00", /* a space inside the offset */
        "2026-07-18T10:00:00+01",    /* an offset without minutes */
        "2026-07-18",                /* a date alone */
        "",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int64_t ns = -1;
        cr_expect_eq(vg_parse_instant(good[i].text, &ns), 0, "%s", good[i].text);
        cr_expect_eq(ns, good[i].ns, "%s: %lld", good[i].text, (long long)ns);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ns = 42;
        cr_expect_eq(vg_parse_instant(bad[i], &ns), -EINVAL, "%s", bad[i]);
        cr_expect_eq(ns, 42, "%s: ret_ns untouched", bad[i]);
    }
}

Test(common, copy_text_cuts_before_a_character_never_inside_one)
{
    char d[6];

    vg_copy_text(d, sizeof(d), "abcdé"); /* é is 2 bytes: 6 with the a..d, one too many */
    cr_assert_str_eq(d, "abcd");
    vg_copy_text(d, sizeof(d), "ab€"); /* € is 3 bytes: fits exactly in 5 */
    cr_assert_str_eq(d, "ab€");
    vg_copy_text(d, sizeof(d), "a😀x"); /* 4-byte character after one byte: 5, then cut */
    cr_assert_str_eq(d, "a😀");
    vg_copy_text(d, sizeof(d), "abc😀");
    cr_assert_str_eq(d, "abc");
    vg_copy_text(d, sizeof(d), NULL);
    cr_assert_str_eq(d, "");
    vg_copy_text(d, 1, "abc");
    cr_assert_str_eq(d, "");
}

/* vg_read_file: the whole file, NUL bytes and all, past its 64 KiB first buffer; the open's
 * errno for a missing file; -EIO for a directory (glibc opens one, reads fail). */
Test(common, read_file_reads_it_whole_or_says_why_not)
{
    char dir[] = "/tmp/vg-test-common-XXXXXX", path[64], *text = NULL;
    static char data[200000];
    size_t len = 0;
    FILE *f;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/f", dir);
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)(i * 7 % 251);
    f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, sizeof(data), f), sizeof(data));
    fclose(f);
    cr_assert_eq(vg_read_file(path, &text, &len), 0);
    cr_assert_eq(len, sizeof(data));
    cr_assert_eq(memcmp(text, data, len), 0);
    cr_assert_eq(text[len], '\0');
    free(text);
    cr_assert_eq(vg_read_file(dir, &text, &len), -EIO);
    remove(path);
    cr_assert_eq(vg_read_file(path, &text, &len), -ENOENT);
    rmdir(dir);
}
