/* SPDX-License-Identifier: MIT */
/*
 * The vfio module's entry header: vfio devices (vfioN) for mdevs (mdev.md §6.7) and the
 * vfio-user server on <rundir>/vfio/devices/vfioN (vfio-user.md). Numbers come from one
 * lowest-free allocator shared by all parents. Not installed; the driver-facing vfio API is
 * include/umdev/vfio.h.
 */
#ifndef UMDEV_VFIO_INTERNAL_H
#define UMDEV_VFIO_INTERNAL_H

/* Defaults of vfio-user.md §12. */
#define UMDEV_VFIO_DEFAULT_MAX_DMA_MAPS 1024u
#define UMDEV_VFIO_DEFAULT_HANDSHAKE_TIMEOUT_MS 5000u
#define UMDEV_VFIO_DEFAULT_DMA_TIMEOUT_MS 5000u

/*
 * Daemon options of vfio-user.md §12. Zero-initialise; a 0 field means its default.
 */
struct umdev_vfio_options {
	const char *rundir; /* copied; NULL: numbering only, no sockets (unit tests) */
	const char *socket_group; /* vfio-socket-group: group name or number; NULL: none */
	unsigned int max_dma_maps; /* vfio-max-dma-maps, 1..65535; 0: 1024 */
	unsigned int handshake_timeout_ms; /* vfio-handshake-timeout; 0: 5000 */
	unsigned int req_timeout_ms; /* vfio-req-timeout; 0: terminate at once (default) */
	unsigned int dma_timeout_ms; /* vfio-dma-timeout; 0: 5000 */
};

/**
 * umdev_vfio_init() - install the core's vfio hooks. Call before any parent is registered.
 * @opt: options, or NULL for numbering only; copied.
 *
 * With a rundir, creates <rundir>/vfio/devices/ (mode 0755) and removes stale vfio* entries
 * in it (vfio-user.md §3.1, §3.2 step 2).
 *
 * Return: 0; -EINVAL a bad option or unknown group; -ENAMETOOLONG a socket path would exceed
 * 107 bytes; -ENOMEM; or the errno of creating the directories.
 */
int umdev_vfio_init(const struct umdev_vfio_options *opt);

/**
 * umdev_vfio_shutdown() - daemon shutdown begins: from now on no removal waits T_req for a
 * client, including one waiting already (vfio-user.md §3.3: shutdown uses T_req = 0 whatever
 * the option says); REQ is still signalled. Call before removing every mdev. Thread-safe,
 * never blocks; umdev_vfio_init() clears it.
 */
void umdev_vfio_shutdown(void);

/** umdev_vfio_fini() - uninstall; every vfio device must have been detached. */
/* (umdev_rundir() of umdev/module.h is implemented here: the rundir of umdev_vfio_init().) */
void umdev_vfio_fini(void);

#endif
