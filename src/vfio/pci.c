// SPDX-License-Identifier: MIT
/*
 * The core PCI helper (vfio-user.md §9.3): a virtual type-0 config space whose power-on values
 * and writable masks the driver declares in probe, with the rules that are not values or
 * masks (RW1C Status bits, Status bit 3 = INTx level, BAR sizing, MME clamped to MMC, ROM BAR
 * reading 0): pure data, the caller holds the device lock. Below them, the helper drivers call
 * (umdev/pci.h), which finds the device record and takes its lock around those rules.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "private.h"

#define CMD_DEFAULT_WMASK                                                                          \
	(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |           \
	 PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE) /* 0x0547 */
#define STATUS_RW1C                                                                                \
	(PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_REC_TARGET_ABORT |           \
	 PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY)

static void put(uint8_t *a, unsigned int off, unsigned int size, uint32_t v)
{
	for (unsigned int i = 0; i < size; i++)
		a[off + i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get(const uint8_t *a, unsigned int off, unsigned int size)
{
	uint32_t v = 0;

	for (unsigned int i = 0; i < size; i++)
		v |= (uint32_t)a[off + i] << (8 * i);
	return v;
}

/* Set the power-on value and both masks of a register; the current value follows. */
static void reg(struct umdev__pci *pci, unsigned int off, unsigned int size, uint32_t value,
		uint32_t wmask, uint32_t w1c)
{
	put(pci->poweron, off, size, value);
	put(pci->cfg, off, size, value);
	put(pci->wmask, off, size, wmask);
	put(pci->w1cmask, off, size, w1c);
}

void umdev__pci_defaults(struct umdev__pci *pci, uint16_t vendor_id, uint16_t device_id,
			 uint32_t class_code, uint8_t revision)
{
	memset(pci, 0, sizeof(*pci));
	pci->initialised = true;
	reg(pci, PCI_VENDOR_ID, 2, vendor_id, 0, 0);
	reg(pci, PCI_DEVICE_ID, 2, device_id, 0, 0);
	reg(pci, PCI_COMMAND, 2, 0, CMD_DEFAULT_WMASK, 0);
	reg(pci, PCI_STATUS, 2, 0, 0, STATUS_RW1C);
	reg(pci, PCI_REVISION_ID, 1, revision, 0, 0);
	reg(pci, PCI_CLASS_PROG, 3, class_code, 0, 0);
	reg(pci, PCI_CACHE_LINE_SIZE, 1, 0, 0xff, 0);
	reg(pci, PCI_LATENCY_TIMER, 1, 0, 0xff, 0);
	reg(pci, PCI_SUBSYSTEM_VENDOR_ID, 2, vendor_id, 0, 0);
	reg(pci, PCI_SUBSYSTEM_ID, 2, device_id, 0, 0);
	reg(pci, PCI_INTERRUPT_LINE, 1, 0, 0xff, 0);
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

int umdev__pci_set_bar(struct umdev__pci *pci, unsigned int bar, uint64_t size, unsigned int flags)
{
	const unsigned int known = UMDEV_PCI_BAR_IO | UMDEV_PCI_BAR_MEM64 | UMDEV_PCI_BAR_PREFETCH |
				   UMDEV_PCI_BAR_READONLY;
	unsigned int off = PCI_BASE_ADDRESS_0 + 4 * bar;
	bool io = flags & UMDEV_PCI_BAR_IO;
	bool mem64 = flags & UMDEV_PCI_BAR_MEM64;
	uint32_t type;

	if (!pci->initialised || bar >= 6 || (flags & ~known))
		return -EINVAL;
	if (io && (flags & (UMDEV_PCI_BAR_MEM64 | UMDEV_PCI_BAR_PREFETCH)))
		return -EINVAL;
	if (bar > 0 && (pci->bar[bar - 1].flags & UMDEV_PCI_BAR_MEM64) && pci->bar[bar - 1].size)
		return -EINVAL; /* upper dword of a 64-bit BAR */
	if (size == 0) {
		if (pci->bar[bar].flags & UMDEV_PCI_BAR_MEM64)
			reg(pci, off + 4, 4, 0, 0, 0);
		pci->bar[bar] = (struct umdev__pci_bar){0};
		reg(pci, off, 4, 0, 0, 0);
		return 0;
	}
	if (!is_pow2(size) || size < (io ? 4u : 16u))
		return -EINVAL;
	if (mem64 ? (bar == 5 || pci->bar[bar + 1].size) : size > 0x80000000ull)
		return -EINVAL;
	if (io)
		type = PCI_BASE_ADDRESS_SPACE_IO;
	else
		type = (mem64 ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) |
		       ((flags & UMDEV_PCI_BAR_PREFETCH) ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
	pci->bar[bar].size = size;
	pci->bar[bar].flags = flags;
	reg(pci, off, 4, type, (uint32_t) ~(size - 1), 0);
	if (mem64)
		reg(pci, off + 4, 4, 0, (uint32_t)(~(size - 1) >> 32), 0);
	return 0;
}

int umdev__pci_add_msi(struct umdev__pci *pci, unsigned int offset, unsigned int nr_vectors,
		       unsigned int flags)
{
	bool is64 = flags & UMDEV_PCI_MSI_64BIT;
	bool maskable = flags & UMDEV_PCI_MSI_MASKABLE;
	unsigned int len = 10 + (is64 ? 4 : 0) + (maskable ? 10 : 0);
	unsigned int mmc = 0, data_off, mask_off;
	uint16_t ctl;

	if (!pci->initialised || pci->msi_offset || (flags & ~3u))
		return -EINVAL;
	if (offset < 0x40 || (offset & 3) || offset + len > UMDEV_PCI_CONFIG_SIZE)
		return -EINVAL;
	if (!is_pow2(nr_vectors) || nr_vectors > VFIO_IRQ_MSI_MAX)
		return -EINVAL;
	while ((1u << mmc) < nr_vectors)
		mmc++;
	ctl = (uint16_t)((mmc << 1) | (is64 ? PCI_MSI_FLAGS_64BIT : 0) |
			 (maskable ? PCI_MSI_FLAGS_MASKBIT : 0));
	reg(pci, offset + PCI_CAP_LIST_ID, 1, PCI_CAP_ID_MSI, 0, 0);
	reg(pci, offset + PCI_CAP_LIST_NEXT, 1, 0, 0, 0);
	reg(pci, offset + PCI_MSI_FLAGS, 2, ctl, PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE, 0);
	reg(pci, offset + PCI_MSI_ADDRESS_LO, 4, 0, 0xfffffffc, 0);
	if (is64)
		reg(pci, offset + PCI_MSI_ADDRESS_HI, 4, 0, 0xffffffff, 0);
	data_off = is64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32;
	reg(pci, offset + data_off, 2, 0, 0xffff, 0);
	if (maskable) {
		mask_off = is64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32;
		reg(pci, offset + mask_off, 4, 0,
		    nr_vectors == 32 ? 0xffffffffu : (1u << nr_vectors) - 1, 0);
		reg(pci, offset + mask_off + 4, 4, 0, 0, 0); /* pending: read-only */
	}
	pci->msi_offset = offset;
	pci->msi_vectors = nr_vectors;
	pci->msi_flags = flags;
	reg(pci, PCI_CAPABILITY_LIST, 1, offset, 0, 0);
	put(pci->poweron, PCI_STATUS, 2, get(pci->poweron, PCI_STATUS, 2) | PCI_STATUS_CAP_LIST);
	put(pci->cfg, PCI_STATUS, 2, get(pci->cfg, PCI_STATUS, 2) | PCI_STATUS_CAP_LIST);
	return 0;
}

int umdev__pci_define(struct umdev__pci *pci, unsigned int offset, unsigned int size,
		      uint32_t value, uint32_t wmask)
{
	if (!pci->initialised || (size != 1 && size != 2 && size != 4) ||
	    offset + size > UMDEV_PCI_CONFIG_SIZE)
		return -EINVAL;
	/* a writable bit is no longer RW1C; other RW1C bits of the register stay */
	put(pci->w1cmask, offset, size, get(pci->w1cmask, offset, size) & ~wmask);
	put(pci->poweron, offset, size, value);
	put(pci->cfg, offset, size, value);
	put(pci->wmask, offset, size, wmask);
	return 0;
}

void umdev__pci_read(const struct umdev__pci *pci, unsigned int offset, void *buf,
		     unsigned int count)
{
	uint8_t *out = buf;

	memcpy(out, pci->cfg + offset, count);
	/* Status bit 3 always equals the INTx level (§9.4) */
	if (offset <= PCI_STATUS && offset + count > PCI_STATUS) {
		uint8_t *b = out + (PCI_STATUS - offset);

		*b = (uint8_t)((*b & ~PCI_STATUS_INTERRUPT) |
			       (pci->intx_level ? PCI_STATUS_INTERRUPT : 0));
	}
}

/* Rules that are not masks: MME clamped to MMC (§9.3, V-70). */
static void fixup(struct umdev__pci *pci)
{
	unsigned int off = pci->msi_offset + PCI_MSI_FLAGS;
	uint32_t ctl, mmc, mme;

	if (!pci->msi_offset)
		return;
	ctl = get(pci->cfg, off, 2);
	mmc = (ctl & PCI_MSI_FLAGS_QMASK) >> 1;
	mme = (ctl & PCI_MSI_FLAGS_QSIZE) >> 4;
	if (mme > mmc)
		put(pci->cfg, off, 2, (ctl & ~(uint32_t)PCI_MSI_FLAGS_QSIZE) | (mmc << 4));
}

void umdev__pci_write(struct umdev__pci *pci, unsigned int offset, const void *buf,
		      unsigned int count)
{
	const uint8_t *in = buf;

	for (unsigned int i = 0; i < count; i++) {
		unsigned int o = offset + i;
		uint8_t v = in[i];

		pci->cfg[o] = (uint8_t)((pci->cfg[o] & ~pci->wmask[o]) | (v & pci->wmask[o]));
		pci->cfg[o] &= (uint8_t) ~(v & pci->w1cmask[o]);
	}
	fixup(pci);
}

void umdev__pci_store(struct umdev__pci *pci, unsigned int offset, const void *buf,
		      unsigned int count)
{
	memcpy(pci->cfg + offset, buf, count);
	fixup(pci);
}

void umdev__pci_reset(struct umdev__pci *pci)
{
	memcpy(pci->cfg, pci->poweron, sizeof(pci->cfg));
}

uint16_t umdev__pci_command(const struct umdev__pci *pci)
{
	return (uint16_t)get(pci->cfg, PCI_COMMAND, 2);
}

static unsigned int msi_mask_off(const struct umdev__pci *pci)
{
	return pci->msi_offset +
	       ((pci->msi_flags & UMDEV_PCI_MSI_64BIT) ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32);
}

bool umdev__pci_msi_masked(const struct umdev__pci *pci, unsigned int vector)
{
	if (!pci->msi_offset || !(pci->msi_flags & UMDEV_PCI_MSI_MASKABLE))
		return false;
	return get(pci->cfg, msi_mask_off(pci), 4) & (1u << vector);
}

void umdev__pci_msi_set_pending(struct umdev__pci *pci, unsigned int vector, bool pending)
{
	unsigned int off = msi_mask_off(pci) + 4;
	uint32_t v;

	if (!pci->msi_offset || !(pci->msi_flags & UMDEV_PCI_MSI_MASKABLE))
		return;
	v = get(pci->cfg, off, 4);
	v = pending ? v | (1u << vector) : v & ~(1u << vector);
	put(pci->cfg, off, 4, v);
}

uint64_t umdev__pci_region_size(const struct umdev__pci *pci, unsigned int index)
{
	if (index < 6)
		return pci->bar[index].size;
	if (index == VFIO_PCI_CONFIG_REGION_INDEX)
		return UMDEV_PCI_CONFIG_SIZE;
	return 0; /* ROM (no image support yet), VGA */
}

uint32_t umdev__pci_region_flags(const struct umdev__pci *pci, unsigned int index)
{
	if (index < 6) {
		if (!pci->bar[index].size)
			return 0;
		if (pci->bar[index].flags & UMDEV_PCI_BAR_READONLY)
			return VFIO_REGION_INFO_FLAG_READ;
		return VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
	}
	if (index == VFIO_PCI_CONFIG_REGION_INDEX)
		return VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
	return 0;
}

/* ---- the driver's helper (umdev/pci.h): declarations in probe, access afterwards ---- */

int umdev_pci_init(struct umdev_mdev *mdev, uint16_t vendor_id, uint16_t device_id,
		   uint32_t class_code, uint8_t revision)
{
	struct umdev__vfio_device *dev;
	int ret;

	if (class_code > 0xffffff)
		return -EINVAL;
	dev = umdev__vfio_lock_declared(mdev, true, &ret);
	if (!dev)
		return ret;
	umdev__pci_defaults(&dev->pci, vendor_id, device_id, class_code, revision);
	umdev__mutex_unlock(&dev->lock);
	return 0;
}

void umdev_pci_fini(struct umdev_mdev *mdev)
{
	if (mdev)
		umdev__vfio_declared_free(mdev);
}

int umdev_pci_set_bar(struct umdev_mdev *mdev, unsigned int bar, uint64_t size, unsigned int flags)
{
	struct umdev__vfio_device *dev;
	int ret;

	dev = umdev__vfio_lock_declared(mdev, false, &ret);
	if (!dev)
		return ret;
	ret = umdev__pci_set_bar(&dev->pci, bar, size, flags);
	umdev__mutex_unlock(&dev->lock);
	return ret;
}

int umdev_pci_region_mmap(struct umdev_mdev *mdev, unsigned int index, int fd, uint64_t offset,
			  uint64_t size)
{
	struct umdev__vfio_device *dev;
	int ret, nfd = -1;

	if (index >= 6)
		return -EINVAL;
	if (fd >= 0) {
		if (!size || (offset | size) % VFIO_USER_PGSIZE || offset + size < offset)
			return -EINVAL;
		nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (nfd < 0)
			return -errno;
	}
	dev = umdev__vfio_lock_declared(mdev, false, &ret);
	if (!dev)
		goto out;
	ret = -EINVAL;
	if (fd >= 0 && (!dev->pci.initialised || (dev->pci.bar[index].flags & UMDEV_PCI_BAR_IO) ||
			offset + size > dev->pci.bar[index].size)) {
		umdev__mutex_unlock(&dev->lock);
		goto out;
	}
	if (dev->mmap[index].fd >= 0)
		close(dev->mmap[index].fd);
	dev->mmap[index] = (struct umdev__vfio_mmap){.fd = nfd, .offset = offset, .size = size};
	if (nfd < 0)
		dev->mmap[index].size = 0;
	nfd = -1;
	ret = 0;
	umdev__mutex_unlock(&dev->lock);
out:
	if (nfd >= 0)
		close(nfd);
	return ret;
}

int umdev_pci_set_intx(struct umdev_mdev *mdev, bool enable)
{
	struct umdev__vfio_device *dev;
	int ret;

	dev = umdev__vfio_lock_declared(mdev, false, &ret);
	if (!dev)
		return ret;
	if (dev->pci.initialised) {
		dev->pci.intx_pin = enable;
		ret = umdev__pci_define(&dev->pci, PCI_INTERRUPT_PIN, 1, enable ? 1 : 0, 0);
	} else {
		ret = -EINVAL;
	}
	umdev__mutex_unlock(&dev->lock);
	return ret;
}

int umdev_pci_add_msi(struct umdev_mdev *mdev, unsigned int offset, unsigned int nr_vectors,
		      unsigned int flags)
{
	struct umdev__vfio_device *dev;
	int ret;

	dev = umdev__vfio_lock_declared(mdev, false, &ret);
	if (!dev)
		return ret;
	ret = umdev__pci_add_msi(&dev->pci, offset, nr_vectors, flags);
	umdev__mutex_unlock(&dev->lock);
	return ret;
}

int umdev_pci_config_define(struct umdev_mdev *mdev, unsigned int offset, unsigned int size,
			    uint32_t value, uint32_t wmask)
{
	struct umdev__vfio_device *dev;
	int ret;

	dev = umdev__vfio_lock_declared(mdev, false, &ret);
	if (!dev)
		return ret;
	ret = umdev__pci_define(&dev->pci, offset, size, value, wmask);
	umdev__mutex_unlock(&dev->lock);
	return ret;
}

static bool config_range_ok(unsigned int offset, unsigned int size)
{
	return (size == 1 || size == 2 || size == 4) && offset < UMDEV_PCI_CONFIG_SIZE &&
	       size <= UMDEV_PCI_CONFIG_SIZE - offset;
}

int umdev_pci_config_get(struct umdev_mdev *mdev, unsigned int offset, unsigned int size,
			 uint32_t *ret_value)
{
	struct umdev__vfio_device *dev;
	uint8_t b[4] = {0};

	if (!config_range_ok(offset, size) || !ret_value)
		return -EINVAL;
	dev = umdev__vfio_lock_model(mdev);
	if (!dev)
		return -ENOTCONN;
	umdev__pci_read(&dev->pci, offset, b, size);
	umdev__mutex_unlock(&dev->lock);
	*ret_value =
	    (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
	return 0;
}

int umdev_pci_config_set(struct umdev_mdev *mdev, unsigned int offset, unsigned int size,
			 uint32_t value)
{
	struct umdev__vfio_device *dev;
	uint8_t b[4] = {(uint8_t)value, (uint8_t)(value >> 8), (uint8_t)(value >> 16),
			(uint8_t)(value >> 24)};

	if (!config_range_ok(offset, size))
		return -EINVAL;
	dev = umdev__vfio_lock_model(mdev);
	if (!dev)
		return -ENOTCONN;
	umdev__pci_store(&dev->pci, offset, b, size);
	if (dev->state == VFIO_DEV_LIVE)
		umdev__irq_intx_eval(dev); /* Command bit 10 may have changed (§9.4) */
	umdev__mutex_unlock(&dev->lock);
	return 0;
}
