/* vigil watch: the control-room console: live alerts sorted by grade and age, ack and shelve (issue #5 builds it). */
#include "cmd.h"

#include <stdio.h>

int vg_cmd_watch(int argc, char **argv)
{
    if (vg_cmd_wants_help(argc, argv)) {
        printf("usage: vigil watch ...\n\nthe control-room console: live alerts sorted by grade and age, ack and shelve.\nNot built yet: issue #5.\n");
        return 0;
    }
    return vg_cmd_not_yet("watch", 5);
}
