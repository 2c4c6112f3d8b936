/* vigil score: score an archive's alerts against a simulator's ground truth (issue #8 builds it). */
#include "cmd.h"

#include <stdio.h>

int vg_cmd_score(int argc, char **argv)
{
    if (vg_cmd_wants_help(argc, argv)) {
        printf("usage: vigil score ...\n\nscore an archive's alerts against a simulator's ground truth.\nNot built yet: issue #8.\n");
        return 0;
    }
    return vg_cmd_not_yet("score", 8);
}
