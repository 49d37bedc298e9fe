/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The filesystem side of each function's sandbox, decided once at start (DESIGN "Sandbox
 * keys"): how /tmp is capped (sandbox.tmp), whether everything else is read-only
 * (sandbox.fs), and which user the runtime runs as (sandbox.user). What the host cannot do
 * is said once on stderr and shown under `enforced`; a sandbox user that cannot read the
 * function's code is said at start and given to every invocation as its error.
 *
 * The sandbox user is uid 993, gid 990, as Lambda's sbx_user1051 (nobody when the host
 * gives those ids to an account of its own); see sbx_sandbox_user().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emulator.h"
#include "macro.h"
#include "probe.h"
#include "xalloc.h"

#define MIB (1024ull * 1024)

/* Each note once, however many functions share it. */
typedef struct Notes {
        char *said[32];
        size_t n;
} Notes;

static void say(Emulator *e, Notes *notes, const char *line) {
        for (size_t i = 0; i < notes->n; i++)
                if (strcmp(notes->said[i], line) == 0)
                        return;
        if (notes->n < ARRAY_SIZE(notes->said))
                notes->said[notes->n++] = xstrdup(line);
        logs_write(&e->logs, line, strlen(line));
}

static const char *strerror_lower(int err, char *buf, size_t n) {
        snprintf(buf, n, "%s", strerror(err));
        if (buf[0] >= 'A' && buf[0] <= 'Z' && (buf[1] < 'A' || buf[1] > 'Z'))
                buf[0] = (char) (buf[0] - 'A' + 'a');
        return buf;
}

/* Can the runtime's user reach the code? Asked of the kernel: the launcher drops to that
 * user and calls access(2) (--dry-run), so ACLs and mount options count too. */
typedef struct UserCheck {
        char uid[16], gid[16];
        const char *args[12];
        const char *paths[2];
        const char *names[2];
        int np;
} UserCheck;

static void user_check_args(Function *fn, UserCheck *c) {
        FunctionConfig *fc = fn->cfg;
        int k = 0;

        c->np = 0;
        c->names[0] = "code_dir";
        c->names[1] = "the bootstrap";
        c->paths[c->np++] = fc->code_dir;
        const char *boot = fc->command ? fc->command[0] : fc->bootstrap;
        if (boot && boot[0] == '/') {
                c->paths[c->np++] = boot;
                if (fc->command)
                        c->names[1] = "the command";
        }
        snprintf(c->uid, sizeof(c->uid), "%u", (unsigned) fn->iso.uid);
        snprintf(c->gid, sizeof(c->gid), "%u", (unsigned) fn->iso.gid);
        c->args[k++] = "--no-pidns";
        c->args[k++] = "--uid";
        c->args[k++] = c->uid;
        c->args[k++] = "--gid";
        c->args[k++] = c->gid;
        for (int i = 0; i < c->np; i++) {
                c->args[k++] = "--access";
                c->args[k++] = c->paths[i];
        }
        c->args[k] = NULL;
}

static void user_check_result(Function *fn, const UserCheck *c, const SbxProbe *p) {
        FnIsolation *iso = &fn->iso;
        char why[64];
        int which = -1;

        if (p->result == 0)
                return;
        if (p->result > 0 && sscanf(p->stage, "access-%d", &which) == 1 && which >= 0 &&
            which < c->np) {
                iso->error =
                        xasprintf("the sandbox user (uid %u) cannot read %s '%s': %s; use "
                                  "--sandbox-user keep or put the code in a world-readable folder",
                                  (unsigned) iso->uid, c->names[which], c->paths[which],
                                  strerror_lower(p->err, why, sizeof(why)));
                return;
        }
        if (p->result > 0 && (strcmp(p->stage, "setuid") == 0 || strcmp(p->stage, "setgid") == 0)) {
                /* Root without CAP_SETUID (a restricted container): no start could work. */
                iso->error =
                        xasprintf("lemu cannot switch to the sandbox user (uid %u): %s; use "
                                  "--sandbox-user keep",
                                  (unsigned) iso->uid, strerror_lower(p->err, why, sizeof(why)));
                return;
        }
        /* Anything else: the first start says precisely what failed; nothing is assumed. */
}

static void pick_user(Emulator *e, Function *fn, Notes *notes) {
        FnIsolation *iso = &fn->iso;
        char line[768];

        iso->uid = (uid_t) -1;
        iso->gid = (gid_t) -1;
        if (strcmp(fn->cfg->sandbox.user, "auto") == 0 && geteuid() == 0) {
                char note[256];
                sbx_sandbox_user(&iso->uid, &iso->gid, note, sizeof(note));
                if (note[0]) {
                        snprintf(line, sizeof(line), "lemu: %s\n", note);
                        say(e, notes, line);
                }
        }
}

static void resolve(Emulator *e, Function *fn, Notes *notes) {
        FunctionConfig *fc = fn->cfg;
        CfgSandbox *sb = &fc->sandbox;
        FnIsolation *iso = &fn->iso;
        SbxTmpHost *h = &e->tmp;
        char why[256], line[768];

        SbxTmpMode m = sbx_tmp_resolve(h, sb->tmp, why, sizeof(why));
        iso->tmp = (SbxTmpSpec){
                .mode = m,
                .cap_bytes = (uint64_t) fc->ephemeral_storage_mb * MIB,
                .uid = iso->uid,
                .gid = iso->gid,
                .mount = h->can_mount,
        };
        bool asked_auto = strcmp(sb->tmp, "auto") == 0;
        const char *asked = sb->tmp;
        if (m == SBX_TMP_TMPFS && (asked_auto || strcmp(asked, "image") == 0)) {
                snprintf(line, sizeof(line),
                         "lemu: /tmp is a size-capped tmpfs, not a filesystem image (%s): "
                         "writing past ephemeral_storage_mb fails with ENOSPC, but what a "
                         "function keeps in /tmp counts against its memory\n",
                         why);
                say(e, notes, line);
        } else if (m == SBX_TMP_DIR && strcmp(asked, "dir") != 0) {
                snprintf(line, sizeof(line),
                         "lemu: /tmp is a private folder, not a %s (%s): its cap "
                         "(ephemeral_storage_mb) is reported, not enforced\n",
                         asked_auto ? "filesystem image or tmpfs" : asked, why);
                say(e, notes, line);
        }

        iso->read_only = false;
        if (strcmp(sb->fs, "read_only") == 0) {
                iso->read_only = h->can_mount;
                if (!h->can_mount) {
                        snprintf(line, sizeof(line),
                                 "lemu: the filesystem outside /tmp is not made read-only (%s): "
                                 "functions can write wherever their user may\n",
                                 h->mount_reason);
                        say(e, notes, line);
                }
        }
        if (iso->error) {
                snprintf(line, sizeof(line), "lemu: function '%s': %s\n", fc->name, iso->error);
                say(e, notes, line);
        }
}

/*
 * The launcher's probes (can it mount? can each function's sandbox user read its code?) run
 * side by side: start-up waits for the slowest one, not for their sum.
 */
void iso_init(Emulator *e) {
        Notes notes = { 0 };
        size_t n = e->n_functions, np = 0;
        SbxProbe *probes = xcalloc(n + 1, sizeof(*probes));
        UserCheck *checks = xcalloc(n ? n : 1, sizeof(*checks));
        int *probe_of = xcalloc(n ? n : 1, sizeof(int));

        if (n > 0)
                probes[np++].args = sbx_tmp_mount_probe;
        for (size_t i = 0; i < n; i++) {
                Function *fn = &e->functions[i];
                pick_user(e, fn, &notes);
                probe_of[i] = -1;
                if (fn->iso.uid == (uid_t) -1)
                        continue;
                user_check_args(fn, &checks[i]);
                probe_of[i] = (int) np;
                probes[np++].args = checks[i].args;
        }
        sbx_probe_all(e->launcher_path, probes, np);
        sbx_tmp_host_init(&e->tmp, e->loop, n > 0 ? &probes[0] : NULL);
        for (size_t i = 0; i < n; i++) {
                if (probe_of[i] >= 0)
                        user_check_result(&e->functions[i], &checks[i], &probes[probe_of[i]]);
                resolve(e, &e->functions[i], &notes);
        }
        /* Spare images now, so that the first cold start does not wait for mkfs. */
        for (size_t i = 0; i < n; i++)
                sbx_tmp_host_prepare(&e->tmp, &e->functions[i].iso.tmp);
        for (size_t i = 0; i < notes.n; i++)
                free(notes.said[i]);
        free(probes);
        free(checks);
        free(probe_of);
}

void iso_deinit(Emulator *e) {
        for (size_t i = 0; i < e->n_functions; i++) {
                free(e->functions[i].iso.error);
                e->functions[i].iso.error = NULL;
        }
        sbx_tmp_host_deinit(&e->tmp);
}

void iso_enforced(const Function *fn, bool *ret_tmp_cap, bool *ret_fs, bool *ret_user) {
        const FnIsolation *iso = &fn->iso;

        *ret_tmp_cap = iso->tmp.mode == SBX_TMP_IMAGE || iso->tmp.mode == SBX_TMP_TMPFS;
        *ret_fs = iso->read_only;
        /* The runtime is not root: a sandbox user, or lemu itself is not root. */
        *ret_user = iso->uid != (uid_t) -1 ? iso->uid != 0 : geteuid() != 0;
}
