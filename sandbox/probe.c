/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Start-up probes: the launcher run with --dry-run on a private loop, all at once, and the
 * choice of the sandbox user. Both run once, before the daemon's own loop starts serving,
 * so waiting for the probes' exits here blocks nobody.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "macro.h"
#include "probe.h"
#include "xalloc.h"

#define PROBE_TIMEOUT_MS 5000

typedef struct Probe {
        uv_process_t proc;
        uv_pipe_t status;
        uv_timer_t timer;
        char buf[128];
        size_t len;
        int64_t exit_status;
        int term_signal;
        int spawn_error; /* uv_spawn()'s, or 0 */
} Probe;

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
        Probe *p = h->data;

        *buf = uv_buf_init(p->buf + p->len, (unsigned) (sizeof(p->buf) - 1 - p->len));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
        Probe *p = s->data;

        if (n > 0)
                p->len += (size_t) n;
        if (n < 0 || p->len + 1 >= sizeof(p->buf))
                uv_close((uv_handle_t *) s, NULL);
}

static void exit_cb(uv_process_t *proc, int64_t exit_status, int term_signal) {
        Probe *p = proc->data;

        p->exit_status = exit_status;
        p->term_signal = term_signal;
        uv_close((uv_handle_t *) proc, NULL);
        uv_close((uv_handle_t *) &p->timer, NULL);
}

static void timeout_cb(uv_timer_t *t) {
        Probe *p = t->data;

        uv_process_kill(&p->proc, SIGKILL);
}

static void probe_start(uv_loop_t *loop, Probe *p, const char *launcher, const char *const *args) {
        const char *argv[64];
        size_t k = 0;
        uv_stdio_container_t stdio[4];
        uv_process_options_t o = { 0 };

        argv[k++] = launcher;
        argv[k++] = "--status-fd";
        argv[k++] = "3";
        for (size_t i = 0; args[i] && k < ARRAY_SIZE(argv) - 5; i++)
                argv[k++] = args[i];
        argv[k++] = "--dry-run";
        argv[k++] = "--";
        argv[k++] = "/";
        argv[k] = NULL;

        uv_pipe_init(loop, &p->status, 0);
        uv_timer_init(loop, &p->timer);
        p->status.data = p->timer.data = p->proc.data = p;
        stdio[0].flags = stdio[1].flags = stdio[2].flags = UV_IGNORE;
        stdio[3].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
        stdio[3].data.stream = (uv_stream_t *) &p->status;
        o.file = launcher;
        o.args = (char **) argv;
        o.stdio_count = 4;
        o.stdio = stdio;
        o.exit_cb = exit_cb;
        int r = uv_spawn(loop, &p->proc, &o);
        if (r < 0) {
                p->spawn_error = r;
                uv_close((uv_handle_t *) &p->proc, NULL);
                uv_close((uv_handle_t *) &p->status, NULL);
                uv_close((uv_handle_t *) &p->timer, NULL);
                return;
        }
        uv_read_start((uv_stream_t *) &p->status, alloc_cb, read_cb);
        uv_timer_start(&p->timer, timeout_cb, PROBE_TIMEOUT_MS, 0);
}

static void probe_result(Probe *p, SbxProbe *v) {
        char stage[64];
        int err;

        v->stage[0] = '\0';
        v->err = 0;
        if (p->spawn_error < 0) {
                v->result = p->spawn_error;
                return;
        }
        p->buf[p->len] = '\0';
        if (sscanf(p->buf, "%63s %d", stage, &err) == 2) {
                snprintf(v->stage, sizeof(v->stage), "%s", stage);
                v->err = err;
        } else if (p->term_signal) {
                snprintf(v->stage, sizeof(v->stage), "signal-%d", p->term_signal);
        }
        v->result = p->exit_status == 0 && !p->term_signal ? 0 : 1;
}

void sbx_probe_all(const char *launcher, SbxProbe *v, size_t n) {
        uv_loop_t loop;
        Probe *p = xcalloc(n ? n : 1, sizeof(*p));

        int r = uv_loop_init(&loop);
        for (size_t i = 0; i < n; i++) {
                if (r < 0)
                        p[i].spawn_error = r;
                else
                        probe_start(&loop, &p[i], launcher, v[i].args);
        }
        if (r == 0) {
                uv_run(&loop, UV_RUN_DEFAULT);
                (void) uv_loop_close(&loop);
        }
        for (size_t i = 0; i < n; i++)
                probe_result(&p[i], &v[i]);
        free(p);
}

/* Lambda runs functions as sbx_user1051: uid 993, gid 990. */
#define LAMBDA_UID 993
#define LAMBDA_GID 990

void sbx_sandbox_user(uid_t *ret_uid, gid_t *ret_gid, char *ret_note, size_t n) {
        struct passwd *pw = getpwuid(LAMBDA_UID);
        struct group *gr = getgrgid(LAMBDA_GID);
        bool pw_ours = !pw || strncmp(pw->pw_name, "sbx_user", 8) == 0;
        bool gr_ours = !gr || strncmp(gr->gr_name, "sbx_user", 8) == 0;

        if (ret_note && n)
                ret_note[0] = '\0';
        if (pw_ours && gr_ours) {
                *ret_uid = LAMBDA_UID;
                *ret_gid = LAMBDA_GID;
                return;
        }
        /* Never share an account the host gave to something else: its files would be the
         * function's. */
        *ret_uid = 65534;
        *ret_gid = 65534;
        if (ret_note && n)
                snprintf(ret_note, n,
                         "uid %d or gid %d (Lambda's sbx_user1051) belongs to '%s' on this "
                         "host; functions run as nobody (65534) instead",
                         LAMBDA_UID, LAMBDA_GID, !pw_ours ? pw->pw_name : gr->gr_name);
}
