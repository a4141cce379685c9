#include "commands.h"

/* Placeholder: the needle part of `talus analyze --needle` lands with guidance/. */
int analyze_add_needle(const struct tl_bmode_s *img, struct cJSON *root)
{
    (void)img;
    (void)root;
    return cmd_not_built("analyze --needle");
}
