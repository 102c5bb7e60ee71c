/* SPDX-License-Identifier: MIT */
/*
 * The live device model the fuzz targets run against: the real core, the vfio module and the
 * mtty driver with one parent "mtty", set up once per process (LLVMFuzzerInitialize) and
 * never torn down, as in umdevd. Not thread-safe; call from the fuzzer's thread only.
 */
#ifndef UMDEV_FUZZ_MTTY_H
#define UMDEV_FUZZ_MTTY_H

#include <stdbool.h>
#include <stdint.h>

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

/**
 * fuzz_bug() - report what a target found and abort, so that libFuzzer saves the input.
 * @fmt: printf format of the message, printed after the program's name.
 */
__attribute__((noreturn, format(printf, 1, 2))) void fuzz_bug(const char *fmt, ...);

/** fuzz_nr_open_fds() - the number of entries in /proc/self/fd (its own listing fd included). */
unsigned int fuzz_nr_open_fds(void);

/**
 * fuzz_fd_make() - a new fd of @kind for a message to carry (SCM_RIGHTS), or -1.
 * @kind: taken modulo 4: 0 a memfd of FUZZ_MEMFD_SIZE bytes, 1 an eventfd with count 1 (so an
 *	INTx unmask eventfd fires at once, vfio-user.md §9.4), 2 /dev/null (a file whose close
 *	the vfio module defers), 3 one end of a socketpair whose other end is closed.
 */
int fuzz_fd_make(unsigned int kind);
#define FUZZ_MEMFD_SIZE 65536

/* Little-endian fields of the wire format (vfio-user.md §6). */
static inline uint16_t fuzz_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t fuzz_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
