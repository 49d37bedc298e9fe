/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Start-up checks that run the launcher itself with --dry-run, so that what is probed is
 * exactly what every environment start will do: the kernel answers, not a guess from
 * /proc/sys. They run once, before the daemon's loop starts, each on a private loop.
 */

/*
 * sbx_probe() - runs "@launcher @args... --dry-run -- /" and waits for it (5 s at most).
 * @args: NULL-terminated launcher options (borrowed).
 * @ret_stage, @n: the launcher's failed stage ("mount-tmp"), or "" when it said nothing.
 * @ret_err: the stage's errno (positive), or 0.
 * Return: 0 when every stage worked; 1 when the launcher failed; -errno when it could not
 * be started.
 */
int sbx_probe(const char *launcher, const char *const *args, char *ret_stage, size_t n,
              int *ret_err);

/*
 * sbx_sandbox_user() - the user functions run as when lemu is root: uid 993, gid 990, as
 * Lambda's sbx_user1051, unless this host gives uid 993 to an account of its own; then
 * nobody (65534:65534). @ret_note (may be NULL) says which, when it is not 993.
 */
void sbx_sandbox_user(uid_t *ret_uid, gid_t *ret_gid, char *ret_note, size_t n);
