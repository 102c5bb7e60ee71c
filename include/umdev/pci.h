/* SPDX-License-Identifier: MIT */
/*
 * umdev/pci.h - the PCI config-space helper of the vfio device model (vfio-user.md §9): how a
 * driver declares, in probe, the PCI device its mdev is (IDs, BARs, interrupt pin, MSI
 * capability, register values and writable masks), and reads or changes config space later.
 *
 * The server applies config writes itself (region 7, VFIO_PCI_CONFIG_REGION_INDEX) and tells
 * the driver through umdev_vfio_ops.config_write (umdev/vfio.h). Register names follow
 * <linux/pci_regs.h>. Errors are negative errno values.
 */
#ifndef UMDEV_PCI_H
#define UMDEV_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "umdev/mdev.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Size of conventional PCI configuration space (region 7), in bytes (vfio-user.md §9.1). */
#define UMDEV_PCI_CONFIG_SIZE 256

/* Flags of umdev_pci_set_bar(). */
#define UMDEV_PCI_BAR_IO 0x1 /* I/O BAR (else a memory BAR) */
#define UMDEV_PCI_BAR_MEM64 0x2 /* 64-bit memory BAR: uses the next BAR as its upper dword */
#define UMDEV_PCI_BAR_PREFETCH 0x4 /* prefetchable memory BAR */
#define UMDEV_PCI_BAR_READONLY 0x8 /* the region refuses REGION_WRITE (flags READ only) */

/* Flags of umdev_pci_add_msi(). */
#define UMDEV_PCI_MSI_64BIT 0x1 /* 64-bit message address */
#define UMDEV_PCI_MSI_MASKABLE 0x2 /* per-vector masking (mask and pending registers) */

/**
 * umdev_pci_init() - start the PCI device model of @mdev (vfio-user.md §9, §10.3).
 * @mdev: the mdev being probed.
 * @vendor_id: PCI vendor ID (config 0x00), also the default subsystem vendor ID (0x2C).
 * @device_id: PCI device ID (config 0x02), also the default subsystem ID (0x2E).
 * @class_code: 24-bit class code: base class << 16 | subclass << 8 | programming interface.
 * @revision: revision ID (config 0x08).
 *
 * Call from probe, before the other umdev_pci_* declaration functions. Sets the helper's
 * defaults of §9.3 (Command mask 0x0547, Status RW1C bits, no BARs, no interrupt pin, no
 * capability). A driver with vfio_ops that never calls it fails create step C7 with -EINVAL.
 * Calling it again starts over. A probe that fails after it must call umdev_pci_fini().
 * Thread-safe.
 *
 * Return: 0; -EINVAL @mdev NULL or @class_code above 24 bits; -EBUSY create step C7 already
 * ran for @mdev; -ENOMEM.
 */
int umdev_pci_init(struct umdev_mdev *mdev, uint16_t vendor_id, uint16_t device_id,
		   uint32_t class_code, uint8_t revision);

/**
 * umdev_pci_fini() - withdraw the device model umdev_pci_init() declared for @mdev.
 * @mdev: the mdev; NULL is a no-op.
 *
 * The pair of umdev_pci_init(), as the kernel's vfio_uninit_group_dev() is of
 * vfio_init_group_dev(): call it on probe's error path once umdev_pci_init() succeeded (a
 * failed probe reaches no vfio hook of the core, so only the driver can say that the
 * declaration is dead), and in remove. Before create step C7 it frees the declaration; from C7
 * on the declaration belongs to the vfio device, which remove step R4 frees, and this does
 * nothing. Calling it twice, or without umdev_pci_init(), does nothing. Thread-safe; never
 * blocks for long. Source: vfio-user.md §10.3.
 */
void umdev_pci_fini(struct umdev_mdev *mdev);

/**
 * umdev_pci_set_bar() - declare BAR @bar of @mdev, i.e. vfio region @bar (§9.1, §9.3).
 * @mdev: the mdev being probed, after umdev_pci_init().
 * @bar: 0-5; a 64-bit BAR also takes @bar + 1 (which then must be free and < 6).
 * @size: bytes; 0 removes the BAR; else a power of two, at least 4 for I/O and 16 for memory,
 *	at most 2^31 unless UMDEV_PCI_BAR_MEM64.
 * @flags: UMDEV_PCI_BAR_* bits.
 *
 * The BAR register's power-on value is its type bits; its writable mask is ~(@size - 1), so
 * writing 0xFFFFFFFF reads back the size (the sizing protocol).
 *
 * Return: 0; -EINVAL a bad @bar, @size or @flags, or no umdev_pci_init(); -EBUSY after C7.
 */
int umdev_pci_set_bar(struct umdev_mdev *mdev, unsigned int bar, uint64_t size, unsigned int flags);

/**
 * umdev_pci_region_mmap() - make part of BAR @index of @mdev mmap-able by the client: one
 * sparse-mmap area backed by @fd (vfio-user.md §8.5).
 * @mdev: the mdev being probed, after umdev_pci_set_bar() declared memory BAR @index.
 * @index: 0-5, a memory BAR (not UMDEV_PCI_BAR_IO).
 * @fd: a shareable fd (e.g. a memfd) mapping the whole region: region offset X is file offset X
 *	(the REGION_INFO offset is 0). Borrowed: umdev keeps its own dup (F_DUPFD_CLOEXEC), closed
 *	when remove step R4 (or a failed create) frees the vfio device; the caller keeps and may
 *	close @fd at once. -1 removes the area.
 * @offset: start of the area in the region; a multiple of 4096.
 * @size: bytes; a multiple of 4096, non-zero, @offset + @size <= the BAR size.
 *
 * REGION_INFO on @index then reports MMAP, and a complete reply (argsz >= 64) carries CAPS, the
 * sparse-mmap capability at cap_offset 32 listing the area, and one dup of the fd. A client with
 * max_msg_fds 0 sees no MMAP. Accesses through REGION_READ/WRITE still go to the driver's
 * callbacks; keeping the fd's contents and those callbacks coherent is the driver's business.
 * A second call replaces the area.
 *
 * Return: 0; -EINVAL bad arguments, not a declared memory BAR or no umdev_pci_init(); -EBUSY
 * after C7; -EMFILE etc. from dup.
 */
int umdev_pci_region_mmap(struct umdev_mdev *mdev, unsigned int index, int fd, uint64_t offset,
			  uint64_t size);

/**
 * umdev_pci_set_intx() - give @mdev an interrupt pin (INTA#, config 0x3D = 1) and so an INTx
 * irq with count 1 (§8.7), or remove it (@enable false).
 *
 * Return: 0; -EINVAL no umdev_pci_init(); -EBUSY after C7.
 */
int umdev_pci_set_intx(struct umdev_mdev *mdev, bool enable);

/**
 * umdev_pci_add_msi() - add an MSI capability (ID 0x05) at config offset @offset (§9.3).
 * @mdev: the mdev being probed, after umdev_pci_init().
 * @offset: 0x40..0xF0, dword aligned, room for the capability (10, 14, 20 or 24 bytes).
 * @nr_vectors: 1, 2, 4, 8, 16 or 32; the Multiple Message Capable field and the MSI irq count.
 * @flags: UMDEV_PCI_MSI_* bits.
 *
 * The capability is linked into the capability list (pointer 0x34, Status bit 4). One MSI
 * capability per device.
 *
 * Return: 0; -EINVAL bad arguments, no umdev_pci_init() or an MSI capability already there;
 * -EBUSY after C7.
 */
int umdev_pci_add_msi(struct umdev_mdev *mdev, unsigned int offset, unsigned int nr_vectors,
		      unsigned int flags);

/**
 * umdev_pci_config_define() - set the power-on value and the writable mask of config bytes.
 * @mdev: the mdev being probed, after umdev_pci_init().
 * @offset: config offset; @offset + @size <= UMDEV_PCI_CONFIG_SIZE.
 * @size: 1, 2 or 4 bytes.
 * @value: power-on value (little-endian in config space), restored at every reset.
 * @wmask: bits the client may write; other bits keep their value on writes.
 *
 * Overrides the helper's defaults of §9.3 (e.g. mtty's Command 0x0001 with mask 0x0401).
 * Writable bits of a register with RW1C bits lose their RW1C rule. Call after umdev_pci_set_bar()
 * and umdev_pci_add_msi() for registers those set.
 *
 * Return: 0; -EINVAL bad range or no umdev_pci_init(); -EBUSY after C7.
 */
int umdev_pci_config_define(struct umdev_mdev *mdev, unsigned int offset, unsigned int size,
			    uint32_t value, uint32_t wmask);

/**
 * umdev_pci_config_get() - read @size (1, 2 or 4) bytes of @mdev's current config space.
 * @ret_value: the value, unchanged on error.
 *
 * Callable from probe (after umdev_pci_init()) until remove step R4 completed, from any
 * thread and from the driver's callbacks. Never blocks for long.
 *
 * Return: 0; -EINVAL bad range; -ENOTCONN no device model.
 */
int umdev_pci_config_get(struct umdev_mdev *mdev, unsigned int offset, unsigned int size,
			 uint32_t *ret_value);

/**
 * umdev_pci_config_set() - store @value into @size (1, 2 or 4) bytes of current config space,
 * bypassing the writable masks (e.g. to set a Status error bit, V-68). Status bit 3 stays the
 * INTx level whatever is stored. Same context rules as umdev_pci_config_get().
 *
 * Return: 0; -EINVAL bad range; -ENOTCONN no device model.
 */
int umdev_pci_config_set(struct umdev_mdev *mdev, unsigned int offset, unsigned int size,
			 uint32_t value);

#ifdef __cplusplus
}
#endif

#endif /* UMDEV_PCI_H */
