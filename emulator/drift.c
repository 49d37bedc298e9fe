/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Drift sampling and its rule; see drift.h. A sample reads procfs (and the cgroup's memory),
 * and /tmp: one statfs() of the environment's own /tmp filesystem through /proc/PID/root, or
 * a walk of its folder in dir mode.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "drift.h"
#include "emulator.h"
#include "macro.h"
#include "metrics.h"
#include "procmem.h"
#include "xalloc.h"

static const char *const kind_of[_DRIFT_MAX] = {
        [DRIFT_FDS] = "fd_growth",        [DRIFT_THREADS] = "thread_growth",
        [DRIFT_RSS] = "memory_growth",    [DRIFT_TMP_FILES] = "tmp_growth",
        [DRIFT_TMP_BYTES] = "tmp_growth",
};

static void procs_close(DriftState *d) {
        for (unsigned i = 0; i < d->n_procs; i++) {
                if (d->procs[i].children_fd >= 0)
                        close(d->procs[i].children_fd);
                if (d->procs[i].status_fd >= 0)
                        close(d->procs[i].status_fd);
        }
        d->n_procs = 0;
        d->ns_pid = 0;
}

void drift_reset(DriftState *d) {
        uint64_t gen = d->generation + 1;
        DriftProc *procs = d->procs;
        unsigned cap = d->cap_procs;

        procs_close(d);
        memset(d, 0, sizeof(*d));
        d->generation = gen;
        d->procs = procs;
        d->cap_procs = cap;
}

void drift_release(DriftState *d) {
        procs_close(d);
        free(d->procs);
        d->procs = NULL;
        d->cap_procs = 0;
}

static int64_t min_rise(int k, int64_t first) {
        switch (k) {
        case DRIFT_FDS:
        case DRIFT_THREADS:
                return 5;
        case DRIFT_RSS:
                return MAX(4 * 1024, first / 10); /* KiB */
        case DRIFT_TMP_FILES:
                return 1;
        case DRIFT_TMP_BYTES:
                return 1024 * 1024;
        default:
                return 1;
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
                static const char *const what[_DRIFT_MAX] = { "open descriptors", "threads",
                                                              "resident memory (KiB)",
                                                              "files in /tmp", "bytes in /tmp" };
                uint64_t from = d->window[0].invocation, to = d->window[5].invocation;
                if (to - from <= 5)
                        snprintf(ret_detail, n,
                                 "%s rose on 5 consecutive invocations: %lld -> %lld", what[k],
                                 (long long) d->window[0].v[k], (long long) d->window[5].v[k]);
                else
                        snprintf(ret_detail, n,
                                 "%s rose on 5 consecutive samples (invocations %llu to %llu "
                                 "after init): %lld -> %lld",
                                 what[k], (unsigned long long) from, (unsigned long long) to,
                                 (long long) d->window[0].v[k], (long long) d->window[5].v[k]);
                return k;
        }
        return -1;
}

/* ---- sampling ------------------------------------------------------------------------- */

/* At most this many entries of a /tmp folder are walked (dir mode); past it the sample has
 * no /tmp figures, which breaks a rise rather than inventing one. */
#define TMP_WALK_MAX 4096

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

/* Files and bytes under @dir, on its own filesystem only: code carried over under /tmp is a
 * bind mount of the host's, not the function's files. Return: false past TMP_WALK_MAX. */
static bool walk_tmp(const char *dir, int depth, int64_t *files, int64_t *bytes) {
        DIR *d = opendir(dir);
        struct stat top;
        bool ok = true;

        if (!d)
                return true;
        if (depth > 16 || fstat(dirfd(d), &top) < 0) {
                closedir(d);
                return true;
        }
        struct dirent *de;
        while (ok && (de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
                    strcmp(de->d_name, "lost+found") == 0)
                        continue;
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    st.st_dev != top.st_dev)
                        continue;
                if (++*files > TMP_WALK_MAX)
                        ok = false;
                else if (S_ISDIR(st.st_mode)) {
                        char *sub = xasprintf("%s/%s", dir, de->d_name);
                        ok = walk_tmp(sub, depth + 1, files, bytes);
                        free(sub);
                } else {
                        *bytes += (int64_t) st.st_blocks * 512;
                }
        }
        closedir(d);
        return ok;
}

static bool private_mount_ns(DriftState *d, pid_t pid) {
        struct stat a, b;
        char path[64];

        if (d->ns_pid == pid)
                return d->ns_private; /* a process never changes its mount namespace here */
        snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int) pid);
        d->ns_private =
                stat("/proc/self/ns/mnt", &a) == 0 && stat(path, &b) == 0 && a.st_ino != b.st_ino;
        d->ns_pid = pid;
        return d->ns_private;
}

/* ---- the process tree, with its files kept open -------------------------------------- */

static int open_proc(pid_t pid, const char *what) {
        char path[128];

        snprintf(path, sizeof(path), "/proc/%d/%s", (int) pid, what);
        return open(path, O_RDONLY | O_CLOEXEC);
}

/* Reads a kept procfs file from its start. Return: bytes, or -1 (the process is gone). */
static ssize_t reread(int fd, char *buf, size_t n) {
        ssize_t r = pread(fd, buf, n - 1, 0);

        if (r < 0)
                return -1;
        buf[r] = '\0';
        return r;
}

static void proc_drop(DriftState *d, unsigned i) {
        if (d->procs[i].children_fd >= 0)
                close(d->procs[i].children_fd);
        if (d->procs[i].status_fd >= 0)
                close(d->procs[i].status_fd);
        d->procs[i] = d->procs[--d->n_procs];
}

/* The kept entry of @pid, opened on first sight. Return: NULL when it is gone. */
static DriftProc *proc_get(DriftState *d, pid_t pid) {
        char path[64];

        for (unsigned i = 0; i < d->n_procs; i++)
                if (d->procs[i].pid == pid)
                        return &d->procs[i];
        snprintf(path, sizeof(path), "task/%d/children", (int) pid);
        int cfd = open_proc(pid, path);
        if (cfd < 0)
                return NULL;
        if (d->n_procs == d->cap_procs) {
                d->cap_procs = d->cap_procs ? d->cap_procs * 2 : 4;
                d->procs = xrealloc(d->procs, d->cap_procs * sizeof(*d->procs));
        }
        DriftProc *p = &d->procs[d->n_procs++];
        *p = (DriftProc){ .pid = pid, .children_fd = cfd, .status_fd = -1 };
        p->launcher = is_launcher(pid);
        if (!p->launcher)
                p->status_fd = open_proc(pid, "status");
        return p;
}

/* @pid and its descendants, parents first, into @out (indexes of d->procs are not stable
 * while the walk adds entries, so pids are listed). */
static void walk_tree(DriftState *d, pid_t pid, int depth, pid_t *out, int *n, int max) {
        char buf[4096];
        DriftProc *p = proc_get(d, pid);

        if (!p || *n >= max)
                return;
        ssize_t r = reread(p->children_fd, buf, sizeof(buf));
        if (r < 0) {
                /* The process we kept is gone: the pid may be a new one's now. */
                proc_drop(d, (unsigned) (p - d->procs));
                p = proc_get(d, pid);
                r = p ? reread(p->children_fd, buf, sizeof(buf)) : -1;
                if (r < 0)
                        return;
        }
        p->seen = true;
        out[(*n)++] = pid;
        if (depth > 16 || r == 0)
                return;
        char *save = NULL;
        for (char *tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
                walk_tree(d, (pid_t) atoi(tok), depth + 1, out, n, max);
}

/* The tree now; entries of processes no longer in it are closed. */
static int tree_pids(DriftState *d, pid_t root, pid_t *out, int max) {
        int n = 0;

        for (unsigned i = 0; i < d->n_procs; i++)
                d->procs[i].seen = false;
        walk_tree(d, root, 0, out, &n, max);
        for (unsigned i = 0; i < d->n_procs;)
                if (d->procs[i].seen)
                        i++;
                else
                        proc_drop(d, i);
        return n;
}

static DriftProc *proc_find(DriftState *d, pid_t pid) {
        for (unsigned i = 0; i < d->n_procs; i++)
                if (d->procs[i].pid == pid)
                        return &d->procs[i];
        return NULL;
}

/* Open descriptors of @pid: the size procfs gives /proc/PID/fd (Linux 6.2 and later), else
 * a count of its entries. */
static int64_t fd_count(pid_t pid) {
        char path[64];
        struct stat st;

        snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
        if (stat(path, &st) == 0 && st.st_size > 0)
                return (int64_t) st.st_size;
        return count_dir(path);
}

uint64_t drift_pid_hwm_kb(DriftState *d, pid_t pid) {
        DriftProc *p = proc_find(d, pid);
        char buf[4096];

        if (!p || p->status_fd < 0)
                return sbx_pid_hwm_kb(pid);
        if (reread(p->status_fd, buf, sizeof(buf)) <= 0)
                return 0;
        const char *h = strstr(buf, "VmHWM:");
        return h ? strtoull(h + 6, NULL, 10) : 0;
}

/* /tmp's files and bytes: a folder of the host (dir mode, bind-mounted or as TMPDIR) is
 * walked; a filesystem of the environment's own (image, tmpfs), seen from inside its mount
 * namespace through process @inside, is one statfs(). */
static void sample_tmp(ExecEnv *env, pid_t inside, DriftSample *s) {
        DriftState *d = &env->drift;
        char arg[4096 + 8], path[64];
        const char *dir = env->tmp ? sbx_tmp_tmpdir(env->tmp) : NULL;
        struct statfs f;

        s->v[DRIFT_TMP_FILES] = s->v[DRIFT_TMP_BYTES] = -1;
        if (!dir && env->tmp && sbx_tmp_launch_arg(env->tmp, -1, arg, sizeof(arg)) &&
            strncmp(arg, "bind:", 5) == 0)
                dir = arg + 5;
        if (dir) {
                int64_t files = 0, bytes = 0;
                if (walk_tmp(dir, 0, &files, &bytes)) {
                        s->v[DRIFT_TMP_FILES] = files;
                        s->v[DRIFT_TMP_BYTES] = bytes;
                }
                return;
        }
        if (!inside || !private_mount_ns(d, inside))
                return; /* the host's /tmp: not the environment's to judge */
        snprintf(path, sizeof(path), "/proc/%d/root/tmp", (int) inside);
        if (statfs(path, &f) == 0) {
                s->v[DRIFT_TMP_FILES] = (int64_t) (f.f_files - f.f_ffree);
                s->v[DRIFT_TMP_BYTES] = (int64_t) ((f.f_blocks - f.f_bfree) * f.f_frsize);
        }
}

/* Records a finding of @kind on record @seq, in the function's counters and the log. */
void drift_report(ExecEnv *env, uint64_t seq, const char *kind, const char *detail) {
        Emulator *e = env->emu;
        Buf b = BUF_INIT;

        buf_printf(&b,
                   "{\"kind\":\"%s\",\"path\":null,\"warm\":null,\"fresh\":null,\"detail\":", kind);
        buf_put_json_str(&b, detail, strlen(detail));
        buf_puts(&b, "}");
        records_add_finding(&e->records, seq, b.data);
        metrics_finding(&env->fn->metrics, kind);
        env->fn->counters.findings++;
        char line[768];
        snprintf(line, sizeof(line), "lemu: finding %s in %s: %s\n", kind, env->name, detail);
        logs_write(&e->logs, line, strlen(line));
        buf_free(&b);
}

/*
 * Read on the loop, when the runtime has just asked for its next event and before that event
 * is delivered: the only moment the figures are those between two invocations. (Read later,
 * off the loop, they raced with the next invocation, which may already have been given its
 * event, and samples finished out of order.) A few procfs reads and one statfs(); the tree's
 * memory peak they give is Max Memory Used's too.
 */
void drift_sample(ExecEnv *env, uint64_t seq) {
        pid_t pids[256], inside = 0;
        DriftSample s = { .v = { 0 } };
        int64_t max_hwm_kb = 0; /* the largest single peak, for Max Memory Used */
        uint64_t bytes;
        char detail[256];

        if (!env->fn->cfg->lifecycle.drift || !env->proc_alive)
                return;
        uint64_t nth = ++env->drift.invocations;
        if (!drift_sample_due(nth))
                return;
        s.invocation = nth;
        int n = tree_pids(&env->drift, env->proc.pid, pids, 256);
        for (int i = 0; i < n; i++) {
                char buf[4096];
                DriftProc *p = proc_find(&env->drift, pids[i]);
                if (!p || p->launcher)
                        continue;
                inside = pids[i];
                int64_t fds = fd_count(pids[i]);
                if (fds > 0)
                        s.v[DRIFT_FDS] += fds;
                if (p->status_fd >= 0 && reread(p->status_fd, buf, sizeof(buf)) > 0) {
                        const char *t = strstr(buf, "Threads:");
                        const char *m = strstr(buf, "VmRSS:");
                        const char *h = strstr(buf, "VmHWM:");
                        if (h)
                                max_hwm_kb = MAX(max_hwm_kb, strtoll(h + 6, NULL, 10));
                        if (t)
                                s.v[DRIFT_THREADS] += strtoll(t + 8, NULL, 10);
                        if (m)
                                s.v[DRIFT_RSS] += strtoll(m + 6, NULL, 10);
                }
        }
        if (env->has_cg && cg_memory_now(&env->cg, &bytes) == 0)
                s.v[DRIFT_RSS] = (int64_t) (bytes / 1024);
        /* Max Memory Used: the tree's largest peak and its process memory now. */
        unsigned mb = (unsigned) ((MAX(max_hwm_kb, s.v[DRIFT_RSS]) + 1023) / 1024);
        if (mb > env->max_memory_mb)
                env->max_memory_mb = mb;
        sample_tmp(env, inside, &s);
        int k = drift_check(&env->drift, &s, detail, sizeof(detail));
        if (k >= 0)
                drift_report(env, seq, kind_of[k], detail);
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
                if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                                &st) == 2)
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
