#include "commands.h"

/* Placeholder: replaced when this command lands. */
int eval_tissue(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cmd_not_built("eval tissue");
}
