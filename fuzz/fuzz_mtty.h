/* SPDX-License-Identifier: MIT */
/*
 * The live device model the fuzz targets run against: the real core, the vfio module and the
 * mtty driver with one parent "mtty", set up once per process (LLVMFuzzerInitialize) and
 * never torn down, as in umdevd. Not thread-safe; call from the fuzzer's thread only.
 */
#ifndef UMDEV_FUZZ_MTTY_H
#define UMDEV_FUZZ_MTTY_H

#include <stdbool.h>

#include "umdev/mdev.h"
#include "umdev/pci.h"
#include "umdev/vfio.h"

/**
 * fuzz_mtty_start() - start the vfio module and register the mtty driver and its parent.
 * @sockets: true: vfio-user sockets in a private temporary rundir, removed at exit; false:
 *	numbering only (no server threads).
 *
 * Client-induced debug messages are formatted and dropped, so their code runs quietly.
 * Exits the process with a message on failure: a fuzz target without its device is useless.
 */
void fuzz_mtty_start(bool sockets);

/**
 * fuzz_mtty_create() - create an mtty mdev with a fresh random UUID.
 * @nr_ports: 1 (type mtty-1) or 2 (mtty-2).
 * @backend: "pty" or "loopback" (mtty.md §4.2).
 *
 * Return: the mdev, with a reference that is never dropped. Exits on failure.
 */
struct umdev_mdev *fuzz_mtty_create(unsigned int nr_ports, const char *backend);

/** fuzz_mtty_socket() - the vfio-user socket path of @mdev (a static buffer per call). */
const char *fuzz_mtty_socket(struct umdev_mdev *mdev);

#endif
