/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the config file (JSON with comments, the key table, validation, paths), then
 * --dump-config of what loaded, which must load again to the same dump.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Config c, again;
        CfgError err = { 0 };
        char msg[1024];

        cfg_init(&c);
        int r = cfg_load_string(&c, (const char *) data, size, "/fuzz", &err);
        if (r == 0)
                r = cfg_validate(&c, &err);
        if (r < 0) {
                cfg_format_error(&err, msg, sizeof(msg));
                if (!msg[0])
                        abort(); /* an error must say why */
                cfg_deinit(&c);
                return 0;
        }
        char *dump = cfg_dump(&c);
        cfg_init(&again);
        CfgError err2 = { 0 };
        if (cfg_load_string(&again, dump, strlen(dump), "/fuzz", &err2) < 0 ||
            cfg_validate(&again, &err2) < 0) {
                cfg_format_error(&err2, msg, sizeof(msg));
                fprintf(stderr, "the dump of a valid config does not load: %s\n%s\n", msg, dump);
                abort();
        }
        char *dump2 = cfg_dump(&again);
        if (strcmp(dump, dump2) != 0) {
                fprintf(stderr, "dump, load, dump differs:\n%s\n---\n%s\n", dump, dump2);
                abort();
        }
        free(dump);
        free(dump2);
        cfg_deinit(&again);
        cfg_deinit(&c);
        return 0;
}
