/* Error text, clocks and log levels. */
#include "vigil/common.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

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
