/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox/tmp.c without root: the image sizing, the mode each host gets, and the life of a
 * private folder (made off the loop, removed off the loop, freed while still being made).
 * Images and loop devices need root: tests/integration/test_sandbox_fs.py covers them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "macro.h"
#include "tmp.h"
#include "xalloc.h"

#define MIB (1024ull * 1024)

static void image_sizes(void **state) {
        uint64_t prev = 0;

        for (uint64_t mb = 512; mb <= 10240; mb += 256) {
                uint64_t cap = mb * MIB, img = sbx_tmp_image_bytes(cap);
                /* Room for inode tables (1/64) and ext4's reserved clusters, but not much
                 * more: the cap must hold, and writing far past it must not. */
                assert_true(img >= cap + cap / 64 + MIN(cap / 50, 16 * MIB));
                assert_true(img <= cap + cap / 32 + 24 * MIB);
                assert_int_equal(img % MIB, 0);
                assert_true(img > prev);
                prev = img;
        }
        /* Measured on Linux 6.x with mkfs.ext4 1.47: 512 MiB needs a 533 MiB image. */
        assert_int_equal(sbx_tmp_image_bytes(512 * MIB), 533 * MIB);
}

static void modes(void **state) {
        SbxTmpHost h = { 0 };
        char why[256];

        snprintf(h.image_reason, sizeof(h.image_reason), "no loop");
        snprintf(h.mount_reason, sizeof(h.mount_reason), "no userns");
        h.can_image = h.can_mount = true;
        assert_int_equal(sbx_tmp_resolve(&h, "auto", why, sizeof(why)), SBX_TMP_IMAGE);
        assert_string_equal(why, "");
        assert_int_equal(sbx_tmp_resolve(&h, "tmpfs", why, sizeof(why)), SBX_TMP_TMPFS);
        assert_int_equal(sbx_tmp_resolve(&h, "dir", why, sizeof(why)), SBX_TMP_DIR);

        h.can_image = false; /* not root */
        assert_int_equal(sbx_tmp_resolve(&h, "auto", why, sizeof(why)), SBX_TMP_TMPFS);
        assert_string_equal(why, "no loop");
        assert_int_equal(sbx_tmp_resolve(&h, "image", why, sizeof(why)), SBX_TMP_TMPFS);

        h.can_mount = false; /* no namespaces at all */
        assert_int_equal(sbx_tmp_resolve(&h, "auto", why, sizeof(why)), SBX_TMP_DIR);
        assert_string_equal(why, "no userns");
        assert_int_equal(sbx_tmp_resolve(&h, "tmpfs", why, sizeof(why)), SBX_TMP_DIR);

        h.can_image = true; /* images still need a mount namespace */
        assert_int_equal(sbx_tmp_resolve(&h, "image", why, sizeof(why)), SBX_TMP_DIR);
        assert_string_equal(sbx_tmp_mode_to_string(SBX_TMP_TMPFS), "tmpfs");
        assert_null(sbx_tmp_mode_to_string(_SBX_TMP_MODE_MAX));
}

/* A host as sbx_tmp_host_init() leaves it, without probing a launcher. */
static void host_init(SbxTmpHost *h, uv_loop_t *loop, char *base) {
        memset(h, 0, sizeof(*h));
        h->loop = loop;
        list_init(&h->spares);
        list_init(&h->preparing);
        h->dir = xasprintf("%s/lemu-test", base);
}

static int ready_calls;

static void on_ready(SbxTmp *t, int status, void *userdata) {
        assert_int_equal(status, 0);
        assert_ptr_equal(userdata, &ready_calls);
        ready_calls++;
}

static void folders(void **state) {
        char base[] = "/tmp/lemu-unit-XXXXXX";
        char arg[4200];
        uv_loop_t loop;
        SbxTmpHost h;
        struct stat st;

        assert_non_null(mkdtemp(base));
        assert_int_equal(uv_loop_init(&loop), 0);
        host_init(&h, &loop, base);
        SbxTmpSpec spec = { .mode = SBX_TMP_DIR,
                            .cap_bytes = 512 * MIB,
                            .uid = (uid_t) -1,
                            .gid = (gid_t) -1,
                            .mount = false };

        SbxTmp *t = sbx_tmp_new(&h, &spec, "fn-1");
        assert_false(sbx_tmp_ready(t));
        sbx_tmp_wait(t, on_ready, &ready_calls);
        uv_run(&loop, UV_RUN_DEFAULT);
        assert_int_equal(ready_calls, 1);
        assert_true(sbx_tmp_ready(t));
        assert_int_equal(sbx_tmp_error(t, NULL, 0), 0);
        const char *dir = sbx_tmp_tmpdir(t);
        assert_non_null(dir);
        assert_int_equal(stat(dir, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        assert_false(sbx_tmp_launch_arg(t, -1, arg, sizeof(arg))); /* TMPDIR, no --tmp */
        char *kept = xstrdup(dir);
        char file[4200];
        snprintf(file, sizeof(file), "%s/file", kept);
        FILE *f = fopen(file, "w");
        assert_non_null(f);
        fclose(f);
        t = sbx_tmp_free(t);
        uv_run(&loop, UV_RUN_DEFAULT);
        assert_int_equal(stat(kept, &st), -1); /* removed, with what it held */
        free(kept);

        /* With a mount namespace the folder is bind-mounted on /tmp. */
        spec.mount = true;
        t = sbx_tmp_new(&h, &spec, "fn-2");
        uv_run(&loop, UV_RUN_DEFAULT);
        assert_true(sbx_tmp_launch_arg(t, -1, arg, sizeof(arg)));
        assert_int_equal(strncmp(arg, "bind:", 5), 0);
        assert_null(sbx_tmp_tmpdir(t));
        t = sbx_tmp_free(t);

        /* Freed while still being made: finished and removed by the folder's own work. */
        t = sbx_tmp_new(&h, &spec, "fn-3");
        t = sbx_tmp_free(t);
        uv_run(&loop, UV_RUN_DEFAULT);
        assert_int_equal(h.pending, 0);

        /* tmpfs needs nothing prepared. */
        spec.mode = SBX_TMP_TMPFS;
        t = sbx_tmp_new(&h, &spec, "fn-4");
        assert_true(sbx_tmp_ready(t));
        assert_true(sbx_tmp_launch_arg(t, 7, arg, sizeof(arg)));
        assert_string_equal(arg, "tmpfs:536870912");
        assert_int_equal(sbx_tmp_mntns_fd(t), -1);
        t = sbx_tmp_free(t);

        uv_run(&loop, UV_RUN_DEFAULT);
        sbx_tmp_host_deinit(&h);
        assert_int_equal(uv_loop_close(&loop), 0);
        char *left = xasprintf("%s/lemu-test", base);
        assert_int_equal(stat(left, &st), -1);
        free(left);
        assert_int_equal(rmdir(base), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(image_sizes),
                cmocka_unit_test(modes),
                cmocka_unit_test(folders),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
