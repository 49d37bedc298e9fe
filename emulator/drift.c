/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Drift sampling and its rule; see drift.h. The thread-pool work reads procfs only (and the
 * environment's /tmp through /proc/PID/root when it has a mount namespace of its own); it
 * touches no daemon state. Its result finds the environment again by function and id, so an
 * environment ended meanwhile is simply not found.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "drift.h"
#include "emulator.h"
#include "macro.h"
#include "metrics.h"
#include "procmem.h"
#include "xalloc.h"

static const char *const kind_of[_DRIFT_MAX] = {
        [DRIFT_FDS] = "fd_growth",          [DRIFT_THREADS] = "thread_growth",
        [DRIFT_RSS] = "memory_growth",      [DRIFT_TMP_FILES] = "tmp_growth",
        [DRIFT_TMP_BYTES] = "tmp_growth",
};

typedef struct DriftWork {
        uv_work_t req;
        Emulator *emu;
        size_t fn_index;
        unsigned env_id;
        uint64_t generation;
        uint64_t seq;
        pid_t pids[256];
        int n_pids;
        bool private_tmp;
        int64_t cg_rss_kb; /* -1: read RSS from procfs */
        DriftSample sample;
        int64_t max_hwm_kb; /* the largest single peak, for Max Memory Used */
} DriftWork;

void drift_reset(DriftState *d) {
        uint64_t gen = d->generation + 1;

        memset(d, 0, sizeof(*d));
        d->generation = gen;
}

static int64_t min_rise(int k, int64_t first) {
        switch (k) {
        case DRIFT_FDS:
        case DRIFT_THREADS: return 5;
        case DRIFT_RSS: return MAX(4 * 1024, first / 10); /* KiB */
        case DRIFT_TMP_FILES: return 1;
        case DRIFT_TMP_BYTES: return 1024 * 1024;
        default: return 1;
        }
}

int drift_check(DriftState *d, const DriftSample *s, char *ret_detail, size_t n) {
        d->samples++;
        if (d->samples <= 2)
                return -1; /* warm-up after init */
        if (d->n_window == 6) {
                memmove(d->window, d->window + 1, 5 * sizeof(DriftSample));
                d->n_window = 5;
        }
        d->window[d->n_window++] = *s;
        if (d->n_window < 6)
                return -1;
        for (int k = 0; k < _DRIFT_MAX; k++) {
                if (d->reported[k] || d->window[0].v[k] < 0)
                        continue;
                bool rising = true;
                for (int i = 1; i < 6 && rising; i++)
                        rising = d->window[i].v[k] > d->window[i - 1].v[k];
                int64_t total = d->window[5].v[k] - d->window[0].v[k];
                if (!rising || total < min_rise(k, d->window[0].v[k]))
                        continue;
                d->reported[k] = true;
                if (k == DRIFT_TMP_FILES || k == DRIFT_TMP_BYTES)
                        d->reported[DRIFT_TMP_FILES] = d->reported[DRIFT_TMP_BYTES] = true;
                static const char *const what[_DRIFT_MAX] = {
                        "open descriptors", "threads", "resident memory (KiB)", "files in /tmp",
                        "bytes in /tmp" };
                snprintf(ret_detail, n, "%s rose on 5 consecutive invocations: %lld -> %lld",
                         what[k], (long long) d->window[0].v[k], (long long) d->window[5].v[k]);
                return k;
        }
        return -1;
}

/* ---- the thread pool's part ------------------------------------------------------------ */

static bool is_launcher(pid_t pid) {
        char path[64], comm[32] = "";
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/comm", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        ssize_t r = read(fd, comm, sizeof(comm) - 1);
        close(fd);
        return r > 0 && strncmp(comm, "lemu-launcher", 13) == 0;
}

static int64_t count_dir(const char *path) {
        DIR *d = opendir(path);
        int64_t n = 0;

        if (!d)
                return -1;
        struct dirent *de;
        while ((de = readdir(d)))
                n += de->d_name[0] != '.';
        closedir(d);
        return n;
}

static void walk_tmp(const char *dir, int depth, int64_t *files, int64_t *bytes) {
        DIR *d = opendir(dir);

        if (!d || depth > 16) {
                if (d)
                        closedir(d);
                return;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
                    strcmp(de->d_name, "lost+found") == 0)
                        continue;
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                (*files)++;
                if (S_ISDIR(st.st_mode)) {
                        char *sub = xasprintf("%s/%s", dir, de->d_name);
                        walk_tmp(sub, depth + 1, files, bytes);
                        free(sub);
                } else {
                        *bytes += (int64_t) st.st_blocks * 512;
                }
        }
        closedir(d);
}

static void sample_work(uv_work_t *req) {
        DriftWork *w = req->data;
        DriftSample *s = &w->sample;
        pid_t inside = 0;

        s->v[DRIFT_FDS] = 0;
        s->v[DRIFT_THREADS] = 0;
        s->v[DRIFT_RSS] = 0;
        for (int i = 0; i < w->n_pids; i++) {
                char path[64], buf[4096];
                if (is_launcher(w->pids[i]))
                        continue;
                inside = w->pids[i];
                snprintf(path, sizeof(path), "/proc/%d/fd", (int) w->pids[i]);
                int64_t fds = count_dir(path);
                if (fds > 0)
                        s->v[DRIFT_FDS] += fds;
                snprintf(path, sizeof(path), "/proc/%d/status", (int) w->pids[i]);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                ssize_t r = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
                if (fd >= 0)
                        close(fd);
                if (r > 0) {
                        buf[r] = '\0';
                        const char *t = strstr(buf, "Threads:");
                        const char *m = strstr(buf, "VmRSS:");
                        const char *h = strstr(buf, "VmHWM:");
                        if (h)
                                w->max_hwm_kb = MAX(w->max_hwm_kb, strtoll(h + 6, NULL, 10));
                        if (t)
                                s->v[DRIFT_THREADS] += strtoll(t + 8, NULL, 10);
                        if (m && w->cg_rss_kb < 0)
                                s->v[DRIFT_RSS] += strtoll(m + 6, NULL, 10);
                }
        }
        if (w->cg_rss_kb >= 0)
                s->v[DRIFT_RSS] = w->cg_rss_kb;
        s->v[DRIFT_TMP_FILES] = s->v[DRIFT_TMP_BYTES] = -1;
        if (w->private_tmp && inside) {
                char root[64];
                int64_t files = 0, bytes = 0;
                snprintf(root, sizeof(root), "/proc/%d/root/tmp", (int) inside);
                walk_tmp(root, 0, &files, &bytes);
                s->v[DRIFT_TMP_FILES] = files;
                s->v[DRIFT_TMP_BYTES] = bytes;
        }
}

static ExecEnv *find_env(Emulator *e, size_t fn_index, unsigned id) {
        ListNode *it;

        if (fn_index >= e->n_functions)
                return NULL;
        LIST_FOREACH(it, &e->functions[fn_index].envs) {
                ExecEnv *env = container_of(it, ExecEnv, link);
                if (env->id == id)
                        return env;
        }
        return NULL;
}

/* Records a finding of @kind on record @seq, in the function's counters and the log. */
void drift_report(ExecEnv *env, uint64_t seq, const char *kind, const char *detail) {
        Emulator *e = env->emu;
        Buf b = BUF_INIT;

        buf_printf(&b, "{\"kind\":\"%s\",\"path\":null,\"warm\":null,\"fresh\":null,\"detail\":\"",
                   kind);
        for (const char *p = detail; *p; p++) {
                if (*p == '"' || *p == '\\')
                        buf_append(&b, "\\", 1);
                buf_append(&b, p, 1);
        }
        buf_puts(&b, "\"}");
        records_add_finding(&e->records, seq, b.data);
        metrics_finding(&env->fn->metrics, kind);
        env->fn->counters.findings++;
        char line[768];
        snprintf(line, sizeof(line), "lemu: finding %s in %s: %s\n", kind, env->name, detail);
        logs_write(&e->logs, line, strlen(line));
        buf_free(&b);
}

static void sample_done(uv_work_t *req, int status) {
        DriftWork *w = req->data;
        ExecEnv *env = status == 0 ? find_env(w->emu, w->fn_index, w->env_id) : NULL;
        char detail[256];

        if (env) {
                /* Max Memory Used: the tree's largest peak and its process memory now. */
                int64_t kb = MAX(w->max_hwm_kb, w->sample.v[DRIFT_RSS]);
                unsigned mb = (unsigned) ((kb + 1023) / 1024);
                if (mb > env->max_memory_mb)
                        env->max_memory_mb = mb;
        }
        if (env && env->drift.generation == w->generation) {
                int k = drift_check(&env->drift, &w->sample, detail, sizeof(detail));
                if (k >= 0)
                        drift_report(env, w->seq, kind_of[k], detail);
        }
        w->emu->background--;
        Emulator *e = w->emu;
        free(w);
        emu_check_idle(e);
        if (e->on_background_done && e->background == 0)
                e->on_background_done(e);
}

static bool private_mount_ns(pid_t pid) {
        struct stat a, b;
        char path[64];

        snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int) pid);
        return stat("/proc/self/ns/mnt", &a) == 0 && stat(path, &b) == 0 && a.st_ino != b.st_ino;
}

void drift_sample(ExecEnv *env, uint64_t seq) {
        Emulator *e = env->emu;
        uint64_t bytes;

        if (!env->fn->cfg->lifecycle.drift || !env->proc_alive)
                return;
        DriftWork *w = xcalloc(1, sizeof(*w));
        w->emu = e;
        w->fn_index = (size_t) (env->fn - e->functions);
        w->env_id = env->id;
        w->generation = env->drift.generation;
        w->seq = seq;
        w->n_pids = sbx_tree_pids(env->proc.pid, w->pids, 256);
        w->private_tmp = w->n_pids > 0 && private_mount_ns(w->pids[w->n_pids - 1]);
        w->cg_rss_kb = env->has_cg && cg_memory_now(&env->cg, &bytes) == 0 ? (int64_t) (bytes / 1024)
                                                                           : -1;
        w->req.data = w;
        if (uv_queue_work(e->loop, &w->req, sample_work, sample_done) < 0)
                free(w);
        else
                e->background++;
}

/* CPU time of the environment, ns: the cgroup's accounting (precise, dead threads and
 * processes included), else the processes' utime+stime from procfs (clock ticks). */
static uint64_t env_cpu_ns(ExecEnv *env) {
        uint64_t ns;

        if (env->has_cg && cg_cpu_usage_ns(&env->cg, &ns) == 0)
                return ns;
        pid_t pids[256];
        uint64_t ticks = 0;
        int n = sbx_tree_pids(env->proc.pid, pids, 256);
        for (int i = 0; i < n; i++) {
                char path[64], buf[1024];
                snprintf(path, sizeof(path), "/proc/%d/stat", (int) pids[i]);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                ssize_t r = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
                if (fd >= 0)
                        close(fd);
                if (r <= 0)
                        continue;
                buf[r] = '\0';
                char *p = strrchr(buf, ')');
                unsigned long long ut = 0, st = 0;
                if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                                &ut, &st) == 2)
                        ticks += ut + st;
        }
        return ticks * (1000000000ull / (uint64_t) sysconf(_SC_CLK_TCK));
}

void drift_settle_begin(ExecEnv *env) {
        env->drift.settle_cpu_ns = env->proc_alive ? env_cpu_ns(env) : 0;
}

void drift_settle_end(ExecEnv *env, uint64_t seq) {
        if (!env->proc_alive)
                return;
        uint64_t now = env_cpu_ns(env);
        uint64_t used = now > env->drift.settle_cpu_ns ? now - env->drift.settle_cpu_ns : 0;
        DriftState *d = &env->drift;
        d->war_streak = used >= 2000000 ? d->war_streak + 1 : 0;
        if (d->war_streak >= 3 && !d->war_reported) {
                char detail[160];
                d->war_reported = true;
                snprintf(detail, sizeof(detail),
                         "%.2f ms of CPU after the response, on 3 consecutive invocations",
                         (double) used / 1e6);
                drift_report(env, seq, "work_after_response", detail);
        }
}
