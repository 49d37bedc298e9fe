/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loads the seccomp program the daemon built (filter.c) from an inherited descriptor. The
 * launcher never links libseccomp: it only reads sock_filter records and hands them to the
 * kernel, last, right before execve.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "launcher.h"

int launch_seccomp(int fd) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_size <= 0 || st.st_size % (off_t) sizeof(struct sock_filter) != 0 ||
            st.st_size > 65536 * (off_t) sizeof(struct sock_filter))
                return -EINVAL;
        struct sock_filter *prog = malloc((size_t) st.st_size);
        if (!prog)
                return -ENOMEM;
        ssize_t n = pread(fd, prog, (size_t) st.st_size, 0);
        if (n != st.st_size) {
                free(prog);
                return n < 0 ? -errno : -EIO;
        }
        close(fd);
        struct sock_fprog fprog = {
                .len = (unsigned short) (st.st_size / (off_t) sizeof(struct sock_filter)),
                .filter = prog,
        };
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
            syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0) {
                int e = errno;
                free(prog);
                return -e;
        }
        free(prog);
        return 0;
}
