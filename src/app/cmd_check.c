/* vigil check: validate a venue model file and print a summary (issue #3 builds it). */
#include "cmd.h"

#include <stdio.h>

int vg_cmd_check(int argc, char **argv)
{
    if (vg_cmd_wants_help(argc, argv)) {
        printf("usage: vigil check ...\n\nvalidate a venue model file and print a summary.\nNot built yet: issue #3.\n");
        return 0;
    }
    return vg_cmd_not_yet("check", 3);
}
