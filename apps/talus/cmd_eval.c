#include "commands.h"

#include <stdio.h>
#include <string.h>

int cmd_eval(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "tissue") == 0)
        return eval_tissue(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "needle") == 0)
        return eval_needle(argc - 1, argv + 1);
    int help = argc >= 2 && strcmp(argv[1], "--help") == 0;
    fprintf(help ? stdout : stderr,
            "usage: talus eval tissue|needle --cases N --seed S --json (--help for each)\n");
    return help ? 0 : 2;
}
