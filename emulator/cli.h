/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>
#include <stdio.h>

/* cli_main() - lemu's commands; returns the process exit code (DESIGN "Exit codes"). */
int cli_main(int argc, char **argv);

/* Exit codes. When several apply: 2 > 3 > 4 > 1. */
enum {
        EXIT_OK = 0,
        EXIT_FUNCTION_ERROR = 1,
        EXIT_USAGE = 2,
        EXIT_FINDING = 3,
        EXIT_SERVICE = 4,
};

/* client.c: `lemu invoke` */
int cli_invoke(int argc, char **argv);
/* help.c */
void help_print(const char *topic);
/* help_man() - the help texts as a troff man page (`lemu help --man`, built into lemu.1). */
void help_man(FILE *out);
int help_topic_known(const char *topic);
/* Reads --event's argument: JSON text, @FILE or "-" (stdin). Return: malloc'd text or NULL. */
char *cli_read_event(const char *arg, size_t *ret_len, char *err, size_t errn);

/* events.c: `lemu event TYPE` */
int events_main(int argc, char **argv);
/* events_sample() - the sample event of @type (borrowed), or NULL. */
const char *events_sample(const char *type);
