/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Memory figures of an environment's processes read from procfs, for hosts without a
 * memory cgroup. Descendants are found through /proc/PID/task/PID/children.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "procmem.h"

static ssize_t read_small(const char *path, char *buf, size_t n) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return -1;
        ssize_t r = read(fd, buf, n - 1);
        close(fd);
        if (r < 0)
                return -1;
        buf[r] = '\0';
        return r;
}

static uint64_t status_kb(pid_t pid, const char *key) {
        char path[64], buf[4096];

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        if (read_small(path, buf, sizeof(buf)) < 0)
                return 0;
        /* The launcher and init are lemu's, not the function's: they do not count. */
        if (strncmp(buf, "Name:\tlemu-launcher", 19) == 0)
                return 0;
        const char *p = strstr(buf, key);
        return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

static uint64_t peak_of(pid_t pid) {
        return status_kb(pid, "VmHWM:");
}

static uint64_t tree(pid_t pid, int depth) {
        char path[64], buf[4096];
        uint64_t total = peak_of(pid);

        if (depth > 16)
                return total;
        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int) pid, (int) pid);
        if (read_small(path, buf, sizeof(buf)) <= 0)
                return total;
        char *save = NULL;
        for (char *tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
                total += tree((pid_t) atoi(tok), depth + 1);
        return total;
}

uint64_t sbx_tree_peak_kb(pid_t root) {
        return root > 0 ? tree(root, 0) : 0;
}

static int collect(pid_t pid, pid_t *out, int n, int max, int depth) {
        char path[64], buf[4096];

        if (n >= max)
                return n;
        out[n++] = pid;
        if (depth > 16)
                return n;
        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int) pid, (int) pid);
        if (read_small(path, buf, sizeof(buf)) <= 0)
                return n;
        char *save = NULL;
        for (char *tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
                n = collect((pid_t) atoi(tok), out, n, max, depth + 1);
        return n;
}

int sbx_tree_pids(pid_t root, pid_t *out, int max) {
        return root > 0 ? collect(root, out, 0, max, 0) : 0;
}

uint64_t sbx_tree_rss_kb(pid_t root) {
        pid_t pids[1024];
        uint64_t total = 0;
        int n = sbx_tree_pids(root, pids, 1024);

        for (int i = 0; i < n; i++)
                total += status_kb(pids[i], "VmRSS:");
        return total;
}

unsigned long long sbx_start_time_of(pid_t pid) {
        char path[64], buf[1024];

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        if (read_small(path, buf, sizeof(buf)) <= 0)
                return 0;
        char *p = strrchr(buf, ')');
        if (!p)
                return 0;
        /* Field 22 (starttime); p is at the end of field 2. */
        int field = 2;
        for (p++; *p && field < 22; p++)
                if (*p == ' ')
                        field++;
        return strtoull(p, NULL, 10);
}

bool sbx_pid_exiting(pid_t pid) {
        char path[64], buf[1024], state;
        unsigned long flags;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        if (read_small(path, buf, sizeof(buf)) <= 0)
                return true;
        char *p = strrchr(buf, ')');
        /* Fields after the name: 3 state, 4 ppid, 5 pgrp, 6 session, 7 tty, 8 tpgid, 9 flags. */
        if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2)
                return true;
        return state == 'Z' || state == 'X' || (flags & 0x4 /* PF_EXITING */);
}

uint64_t sbx_tree_max_hwm_kb(pid_t root) {
        pid_t pids[1024];
        uint64_t best = 0;
        int n = sbx_tree_pids(root, pids, 1024);

        for (int i = 0; i < n; i++)
                best = MAX(best, peak_of(pids[i]));
        return best;
}

pid_t sbx_tree_runtime(pid_t root) {
        pid_t pids[64];
        int n = sbx_tree_pids(root, pids, 64);

        for (int i = 0; i < n; i++)
                if (status_kb(pids[i], "VmHWM:") > 0)
                        return pids[i]; /* status_kb() reads 0 for lemu-launcher */
        return 0;
}

uint64_t sbx_pid_hwm_kb(pid_t pid) {
        return pid > 0 ? peak_of(pid) : 0;
}
