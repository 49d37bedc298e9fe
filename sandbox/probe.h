/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Start-up checks that run the launcher itself with --dry-run, so that what is probed is
 * exactly what every environment start will do: the kernel answers, not a guess from
 * /proc/sys. They run once, before the daemon's loop starts, on a private loop.
 */

typedef struct SbxProbe {
        const char *const *args; /* NULL-terminated launcher options (borrowed) */
        /* Results: */
        char stage[64]; /* the launcher's failed stage ("mount-tmp"), or "" when it said nothing */
        int err;        /* the stage's errno (positive), or 0 */
        int result;     /* 0: every stage worked; 1: the launcher failed; -errno: not started */
} SbxProbe;

/*
 * sbx_probe_all() - runs "@launcher @args... --dry-run -- /" for each of @v's @n probes, all
 * at once, and waits for them (5 s at most each).
 */
void sbx_probe_all(const char *launcher, SbxProbe *v, size_t n);

/*
 * sbx_sandbox_user() - the user functions run as when lemu is root: uid 993, gid 990, as
 * Lambda's sbx_user1051, unless this host gives uid 993 to an account of its own; then
 * nobody (65534:65534). @ret_note (may be NULL) says which, when it is not 993.
 */
void sbx_sandbox_user(uid_t *ret_uid, gid_t *ret_gid, char *ret_note, size_t n);
