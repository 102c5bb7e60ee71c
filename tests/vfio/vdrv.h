/* SPDX-License-Identifier: MIT */
/*
 * vdrv: the vfio test driver. Its device keeps the PCI helper's defaults (vfio-user.md §9.3):
 * vendor 0x1234 device 0x5678, class 0x070002; BAR0 an 8-byte I/O BAR of plain registers,
 * BAR1 a 4 KiB memory BAR; INTx; an MSI capability at 0x50 with one vector (MMC 0). It counts
 * its callbacks, and a write to BAR0 offset 7 makes the callback try a DMA read (V-83).
 */
#ifndef UMDEV_TESTS_VDRV_H
#define UMDEV_TESTS_VDRV_H

#include <stdatomic.h>
#include <stdint.h>

#include "umdev/mdev.h"
#include "umdev/pci.h"
#include "umdev/vfio.h"

struct vdrv_dev {
	struct umdev_mdev *mdev;
	uint8_t bar0[8];
	uint8_t bar1[4096];
	atomic_uint resets, opens, closes, set_irqs, config_writes, maps, unmaps;
	atomic_int cb_dma_ret; /* result of the DMA attempted inside a callback */
	atomic_uint bar0_writes;
	atomic_uint irq_last; /* last set_irqs: index << 24 | start << 16 | count << 8 | action */
};

/* Non-zero: probe fails with this errno after its PCI declarations (then umdev_pci_fini()). */
extern int vdrv_fail_probe;
/*
 * Non-zero: probe also declares BAR2, a 16 KiB memory BAR whose [4096, 12288) is a sparse-mmap
 * area backed by a memfd (byte 4096 = 0xA5) via umdev_pci_region_mmap() (V-46).
 */
extern int vdrv_mmap_bar;
/*
 * Calls of remove since vdrv_register(), and how many of them found, at their entry, a session
 * still open on their device (open_device ran and close_device did not yet: M-61).
 */
extern atomic_uint vdrv_removes, vdrv_removes_with_session;

/* Register the driver and parent "vdrv0" with type "a". Return: 0 or -errno. */
int vdrv_register(void);
void vdrv_unregister(void);
/* Create an mdev with @uuid; Return: 0 or -errno. */
int vdrv_create(const uuid_t *uuid);
/* The state of the mdev @uuid (valid until its removal), or NULL. */
struct vdrv_dev *vdrv_find(const uuid_t *uuid);

#endif
