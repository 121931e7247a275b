/* libFuzzer target: the TOML subset parser (rgs_toml) and the
 * git_connectors.toml validation on top of it (rgs_config). */
#include "rgs_config.h"
#include "rgs_toml.h"
#include "rgs_util.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rgs_verbosity = -1;
    char err[300];
    rgs_toml *t = NULL;
    if (rgs_toml_parse((const char *)data, size, &t, err, sizeof err) == 0) {
        if (!t || t->type != RGS_TOML_TABLE)
            __builtin_trap();
        (void)rgs_toml_get(t, "git_connector");
        rgs_toml_free(t);
    } else if (t || strncmp(err, "line ", 5) != 0) {
        __builtin_trap();
    }
    rgs_config *c = NULL;
    if (rgs_config_parse("fuzz.toml", (const char *)data, size, &c) == 0) {
        for (size_t i = 0; i < c->n_connectors; i++) {
            const rgs_connector *k = rgs_config_find(c, c->connectors[i].relay, c->connectors[i].folder);
            while (k)
                k = rgs_config_next(c, k);
        }
        (void)rgs_config_author(c, "u");
        rgs_config_free(c);
    } else if (c) {
        __builtin_trap();
    }
    return 0;
}
