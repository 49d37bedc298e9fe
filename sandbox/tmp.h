/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

#include "list.h"

/*
 * Each environment's private /tmp, capped at ephemeral_storage_mb (DESIGN "Sandbox keys"):
 *
 *   image  an ext4 filesystem in a sparse file on a loop device, sized so that the cap
 *          fits and little more: writing past it fails with ENOSPC, and its page cache is
 *          reclaimable, so it never ends in an out-of-memory kill. Root only.
 *   tmpfs  a size-capped tmpfs made by the launcher, possibly in a user namespace; its pages
 *          count against the function's memory. The mount namespace that holds it is kept
 *          (a descriptor) so that it survives resets.
 *   dir    a private folder, bind-mounted on /tmp where a mount namespace can be made, else
 *          passed as TMPDIR; the cap is reported, not enforced.
 *
 * Images and folders live in "<base>/lemu-<pid>-<starttime>/" with base /var/tmp (on disk:
 * /tmp and $XDG_RUNTIME_DIR are often tmpfs, whose pages would be memory again), named after
 * the owning lemu like its cgroups; a dead lemu's are removed at start. An image file is
 * unlinked as soon as its loop device holds it (LO_FLAGS_AUTOCLEAR), so the daemon's loop
 * descriptor is its only owner: when it is closed and the environment's mount namespace is
 * gone, the kernel detaches the device and frees the file, even if lemu was killed.
 *
 * mkfs.ext4 takes about 10 ms, so images are prepared ahead: the host keeps one spare per
 * (size, owner), refilled each time one is taken. Nothing here blocks the loop: file work
 * and the loop ioctls run in uv_queue_work, mkfs through uv_spawn.
 */

typedef enum SbxTmpMode {
        SBX_TMP_IMAGE,
        SBX_TMP_TMPFS,
        SBX_TMP_DIR,
        _SBX_TMP_MODE_MAX,
        _SBX_TMP_MODE_INVALID = -22,
} SbxTmpMode;

typedef struct SbxTmpSpec {
        SbxTmpMode mode;
        uint64_t cap_bytes;
        uid_t uid; /* owner of /tmp's root (image, dir); (uid_t) -1: lemu's own */
        gid_t gid;
        bool mount; /* a mount namespace: /tmp is mounted, not passed as TMPDIR */
} SbxTmpSpec;

typedef struct SbxTmpHost {
        uv_loop_t *loop;
        char *dir;  /* /var/tmp/lemu-<pid>-<starttime> (made on first use) */
        char *mkfs; /* mkfs.ext4's path, or NULL */
        bool root;
        bool can_image;         /* root, /dev/loop-control and mkfs.ext4 */
        bool can_mount;         /* the launcher can make a mount namespace with /tmp and a read-only
                                 * tree (probed with --dry-run at start) */
        char image_reason[192]; /* why not, when not */
        char mount_reason[192];
        ListNode spares;    /* SbxImage ready and not taken yet */
        ListNode preparing; /* SbxImage being made */
        unsigned seq;
        unsigned pending; /* operations in flight (they keep the loop alive) */
} SbxTmpHost;

typedef struct SbxTmp SbxTmp;

/* Called once when a /tmp that was not ready becomes ready (@status 0) or cannot be made
 * (@status < 0; sbx_tmp_error() says why). */
typedef void (*sbx_tmp_ready_cb)(SbxTmp *t, int status, void *userdata);

/* The launcher's options that probe mount namespaces, a tmpfs /tmp and a read-only root
 * (for sbx_probe_all()). */
extern const char *const sbx_tmp_mount_probe[];

struct SbxProbe;
/*
 * sbx_tmp_host_init() - detects what this host can do and starts removing what dead lemus
 * left in /var/tmp (in the background).
 * @mount: the sbx_tmp_mount_probe run, or NULL when no function asks for fs or /tmp
 * isolation (mounts are then not used).
 */
int sbx_tmp_host_init(SbxTmpHost *h, uv_loop_t *loop, const struct SbxProbe *mount);
/* sbx_tmp_host_deinit() - after the loop ended: releases spares and the instance folder. */
void sbx_tmp_host_deinit(SbxTmpHost *h);

/*
 * sbx_tmp_resolve() - the mode @configured ("auto", "image", "tmpfs", "dir") gets on this
 * host. @ret_why (may be NULL) explains a fallback from what was asked, else is "".
 */
SbxTmpMode sbx_tmp_resolve(const SbxTmpHost *h, const char *configured, char *ret_why, size_t n);
const char *sbx_tmp_mode_to_string(SbxTmpMode m);

/* sbx_tmp_image_bytes() - the image size that holds @cap_bytes of files (ext4 overhead). */
uint64_t sbx_tmp_image_bytes(uint64_t cap_bytes);

/* sbx_tmp_host_prepare() - makes sure a spare image for @spec is ready or on its way. */
void sbx_tmp_host_prepare(SbxTmpHost *h, const SbxTmpSpec *spec);

/*
 * sbx_tmp_new() - an environment's /tmp: a spare image taken at once, or a preparation
 * started (image, dir); a tmpfs is ready at once. @name (borrowed) names the folder.
 */
SbxTmp *sbx_tmp_new(SbxTmpHost *h, const SbxTmpSpec *spec, const char *name);
/* sbx_tmp_free() - releases the backing off the loop (detach, unlink, remove); NULL-safe.
 * A preparation still running finishes as a spare. Return: NULL. */
SbxTmp *sbx_tmp_free(SbxTmp *t);

bool sbx_tmp_ready(const SbxTmp *t);
/* sbx_tmp_error() - <0 when the backing could not be made, with @msg saying why. */
int sbx_tmp_error(const SbxTmp *t, char *msg, size_t n);
/* sbx_tmp_wait() - @cb runs once the preparation ends; only while !sbx_tmp_ready(). A new
 * call replaces the previous callback; NULL cancels it. */
void sbx_tmp_wait(SbxTmp *t, sbx_tmp_ready_cb cb, void *userdata);

/*
 * sbx_tmp_launch_arg() - the launcher's --tmp value into @out: "dev:/dev/loopN",
 * "tmpfs:BYTES", "bind:DIR", or "ns:FD" when a kept mount namespace is passed as
 * descriptor @mntns_slot. Return: false when no --tmp is given (TMPDIR mode).
 */
bool sbx_tmp_launch_arg(const SbxTmp *t, int mntns_slot, char *out, size_t n);
/* sbx_tmp_mntns_fd() - the kept mount namespace to pass to the launcher (borrowed), or -1. */
int sbx_tmp_mntns_fd(const SbxTmp *t);
/* sbx_tmp_tmpdir() - the TMPDIR the function gets (dir mode without a mount namespace), or
 * NULL. Borrowed. */
const char *sbx_tmp_tmpdir(const SbxTmp *t);
/*
 * sbx_tmp_keep_ns() - tmpfs: keeps the mount namespace of @pid (a launcher whose mounts are
 * done), so the next start joins it and finds the same /tmp. When that namespace belongs to
 * a user namespace of its own and *@userns_fd is -1, it is opened into *@userns_fd, which
 * the caller owns. Does nothing for other modes or when kept already.
 */
void sbx_tmp_keep_ns(SbxTmp *t, pid_t pid, int *userns_fd);
