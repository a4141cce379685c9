#include "commands.h"

/* Placeholder: replaced when this command lands. */
int bench_sim(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cmd_not_built("bench sim");
}
