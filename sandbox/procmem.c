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

static uint64_t peak_of(pid_t pid) {
        char path[64], buf[4096];

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        if (read_small(path, buf, sizeof(buf)) < 0)
                return 0;
        const char *p = strstr(buf, "VmHWM:");
        return p ? strtoull(p + 6, NULL, 10) : 0;
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
