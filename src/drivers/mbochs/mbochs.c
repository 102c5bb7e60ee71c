// SPDX-License-Identifier: MIT
/*
 * The mbochs driver: types and budget, probe and remove, the vfio callbacks of BAR0 (video
 * memory, a memfd the client maps) and BAR2 (EDID and dispi registers, device.c), and the
 * `mbochs/` attributes: mode, bar0_writes and screen.png. Public SDK only (include/umdev/).
 *
 * Locking: budget_lock (leaf) guards the budget; each device's lock (leaf) guards its
 * registers, its counters and its PNG cache; neither is held across a umdev call. Video
 * memory itself is not locked: the client writes it through its mapping at any time, as a
 * guest writes a real card's; a picture is whatever it holds while it is read.
 */
#include <errno.h>
#include <png.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/pci_regs.h>

#include "umdev/log.h"
#include "umdev/mdev.h"
#include "umdev/pci.h"
#include "umdev/vfio.h"
#include "device.h"
#include "mbochs.h"

#define MB (1024 * 1024ull)

/* An mdev type with its video memory and the largest mode its EDID offers. */
struct mbochs_type {
	struct umdev_type type;
	uint64_t memsize; /* bytes */
	uint32_t max_x, max_y;
};

/* The kernel sample's types; its large type has no limit, our EDID offers 2560x1600. */
static struct mbochs_type mbochs_types[] = {
    {.type = {.sysfs_name = "small", .pretty_name = "mbochs small: 4 MB, up to 800x600"},
     .memsize = 4 * MB,
     .max_x = 800,
     .max_y = 600},
    {.type = {.sysfs_name = "medium", .pretty_name = "mbochs medium: 16 MB, up to 1920x1440"},
     .memsize = 16 * MB,
     .max_x = 1920,
     .max_y = 1440},
    {.type = {.sysfs_name = "large", .pretty_name = "mbochs large: 64 MB, up to 2560x1600"},
     .memsize = 64 * MB,
     .max_x = 2560,
     .max_y = 1600},
};
static struct umdev_type *mbochs_type_ptrs[] = {&mbochs_types[0].type, &mbochs_types[1].type,
						&mbochs_types[2].type};

static pthread_mutex_t budget_lock = PTHREAD_MUTEX_INITIALIZER; /* leaf: budget */
static struct mbochs_budget budget;
static struct umdev_parent mbochs_parent;

/* One device, from probe until remove. */
struct mbochs_device {
	int memfd; /* video memory, BAR0; also offered to the client for mmap */
	uint8_t *vram; /* our MAP_SHARED mapping of memfd, memsize bytes */
	pthread_mutex_t lock; /* leaf: regs, bar0_writes, png */
	struct mbochs_regs regs;
	uint64_t bar0_writes; /* REGION_WRITE messages to BAR0 since probe */
	unsigned char *png; /* the last screen.png rendered at offset 0 */
	size_t png_len;
};

static struct mbochs_type *type_of(struct umdev_mdev *mdev)
{
	return umdev_container_of(umdev_mdev_type(mdev), struct mbochs_type, type);
}

/* ---- vfio callbacks ---- */

/* BAR0 through messages: the same memfd the client may map. */
static ssize_t mbochs_region_read(struct umdev_mdev *mdev, unsigned int index, uint64_t offset,
				  void *buf, size_t count)
{
	struct mbochs_device *dev = umdev_mdev_get_drvdata(mdev);

	if (index == 0) {
		memcpy(buf, dev->vram + offset, count); /* umdevd checked the region size */
	} else if (index == 2) {
		pthread_mutex_lock(&dev->lock);
		mbochs_mmio_read(&dev->regs, offset, buf, count);
		pthread_mutex_unlock(&dev->lock);
	} else {
		return -EINVAL;
	}
	return (ssize_t)count;
}

static ssize_t mbochs_region_write(struct umdev_mdev *mdev, unsigned int index, uint64_t offset,
				   const void *buf, size_t count)
{
	struct mbochs_device *dev = umdev_mdev_get_drvdata(mdev);

	if (index == 0) {
		memcpy(dev->vram + offset, buf, count);
		pthread_mutex_lock(&dev->lock);
		dev->bar0_writes++;
		pthread_mutex_unlock(&dev->lock);
	} else if (index == 2) {
		pthread_mutex_lock(&dev->lock);
		mbochs_mmio_write(&dev->regs, offset, buf, count);
		pthread_mutex_unlock(&dev->lock);
	} else {
		return -EINVAL;
	}
	return (ssize_t)count;
}

/* DEVICE_RESET and session end: dispi registers to power-on, video memory kept (kernel). */
static int mbochs_reset(struct umdev_mdev *mdev)
{
	struct mbochs_device *dev = umdev_mdev_get_drvdata(mdev);

	pthread_mutex_lock(&dev->lock);
	mbochs_regs_reset(&dev->regs);
	pthread_mutex_unlock(&dev->lock);
	return 0;
}

static const struct umdev_vfio_ops mbochs_vfio_ops = {
    .region_read = mbochs_region_read,
    .region_write = mbochs_region_write,
    .reset = mbochs_reset,
};

/* ---- attributes: mbochs/ ---- */

static ssize_t mode_show(struct umdev_mdev *mdev, char *buf, size_t len)
{
	struct mbochs_device *dev = umdev_mdev_get_drvdata(mdev);
	struct mbochs_mode mode;

	pthread_mutex_lock(&dev->lock);
	mbochs_mode_get(&dev->regs, &mode);
	pthread_mutex_unlock(&dev->lock);
	return (ssize_t)mbochs_mode_format(&mode, buf, len);
}

static ssize_t bar0_writes_show(struct umdev_mdev *mdev, char *buf, size_t len)
{
	struct mbochs_device *dev = umdev_mdev_get_drvdata(mdev);
	unsigned long long n;
	int ret;

	pthread_mutex_lock(&dev->lock);
	n = dev->bar0_writes;
	pthread_mutex_unlock(&dev->lock);
	ret = snprintf(buf, len, "%llu\n", n);
	return ret < 0 ? -EIO : (ssize_t)ret;
}

/* libpng's write callback into a growing buffer. */
struct png_out {
	unsigned char *buf;
	size_t len, cap;
	bool failed;
};

static void png_out_write(png_structp png, png_bytep data, png_size_t len)
{
	struct png_out *out = png_get_io_ptr(png);

	if (out->failed)
		return;
	if (out->len + len > out->cap) {
		size_t cap = out->cap ? out->cap * 2 : 65536;
		unsigned char *p;

		while (cap < out->len + len)
			cap *= 2;
		p = realloc(out->buf, cap);
		if (!p) {
			out->failed = true;
			return;
		}
		out->buf = p;
		out->cap = cap;
	}
	memcpy(out->buf + out->len, data, len);
	out->len += len;
}

static void png_out_flush(png_structp png)
{
	(void)png;
}

/*
 * Render @mode of @vram as an 8-bit RGB PNG. Return: 0 with *ret_buf (malloc'd) and *ret_len;
 * -ENOMEM; -EIO when libpng fails.
 */
static int render_png(const uint8_t *vram, const struct mbochs_mode *mode, unsigned char **ret_buf,
		      size_t *ret_len)
{
	struct png_out out = {0};
	png_structp png;
	png_infop info = NULL;
	uint8_t *row;
	volatile int ret = -EIO; /* set across setjmp() */

	row = malloc((size_t)mode->width * 3);
	if (!row)
		return -ENOMEM;
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	if (png)
		info = png_create_info_struct(png);
	if (!png || !info) {
		ret = -ENOMEM;
		goto out;
	}
	if (setjmp(png_jmpbuf(png)))
		goto out; /* libpng error: ret is -EIO */
	png_set_write_fn(png, &out, png_out_write, png_out_flush);
	png_set_compression_level(png, 1); /* fast: the screen changes all the time */
	png_set_IHDR(png, info, mode->width, mode->height, 8, PNG_COLOR_TYPE_RGB,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (uint32_t y = 0; y < mode->height; y++) {
		const uint8_t *src = vram + mode->offset + y * mode->stride;

		for (uint32_t x = 0; x < mode->width; x++) { /* XRGB8888: B, G, R, X in memory */
			row[x * 3] = src[x * 4 + 2];
			row[x * 3 + 1] = src[x * 4 + 1];
			row[x * 3 + 2] = src[x * 4];
		}
		png_write_row(png, row);
	}
	png_write_end(png, info);
	if (out.failed) {
		ret = -ENOMEM;
		goto out;
	}
	*ret_buf = out.buf;
	*ret_len = out.len;
	out.buf = NULL;
	ret = 0;
out:
	png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
	free(out.buf);
	free(row);
	return ret;
}

/*
 * screen.png: a read at offset 0 renders the visible framebuffer as the registers describe it
 * now and keeps the PNG; reads at later offsets continue that PNG. -ENODATA while the display
 * is disabled (mode reads "disabled").
 */
static ssize_t screen_read(struct umdev_mdev *mdev, char *buf, size_t offset, size_t len)
{
	struct mbochs_device *dev = umdev_mdev_get_drvdata(mdev);
	struct mbochs_mode mode;
	unsigned char *png;
	size_t png_len, n;
	int ret;

	if (offset == 0) {
		pthread_mutex_lock(&dev->lock);
		mbochs_mode_get(&dev->regs, &mode);
		pthread_mutex_unlock(&dev->lock);
		if (!mode.enabled)
			return -ENODATA;
		ret = render_png(dev->vram, &mode, &png, &png_len); /* no lock: see the top */
		if (ret < 0)
			return ret;
		pthread_mutex_lock(&dev->lock);
		free(dev->png);
		dev->png = png;
		dev->png_len = png_len;
		pthread_mutex_unlock(&dev->lock);
	}
	pthread_mutex_lock(&dev->lock);
	n = offset < dev->png_len ? dev->png_len - offset : 0;
	if (n > len)
		n = len;
	if (n)
		memcpy(buf, dev->png + offset, n);
	pthread_mutex_unlock(&dev->lock);
	return (ssize_t)n;
}

static const struct umdev_attr mode_attr = {.name = "mode", .mode = 0444, .show = mode_show};
static const struct umdev_attr bar0_writes_attr = {
    .name = "bar0_writes", .mode = 0444, .show = bar0_writes_show};
static const struct umdev_bin_attr screen_attr = {
    .attr = {.name = "screen.png", .mode = 0444 | UMDEV_ATTR_BIN},
    .size = 0, /* a PNG's length is known once it is rendered */
    .read = screen_read,
};
static const struct umdev_attr *const mbochs_attrs[] = {&mode_attr, &bar0_writes_attr,
							&screen_attr.attr, NULL};
static const struct umdev_attr_group mbochs_group = {.name = "mbochs", .attrs = mbochs_attrs};
static const struct umdev_attr_group *const mbochs_groups[] = {&mbochs_group, NULL};

/* ---- probe and remove ---- */

static int pci_declare(struct umdev_mdev *mdev, struct mbochs_device *dev, uint64_t memsize)
{
	int ret;

	ret = umdev_pci_init(mdev, MBOCHS_VENDOR_ID, MBOCHS_DEVICE_ID, MBOCHS_CLASS_CODE,
			     MBOCHS_REVISION);
	if (ret == 0)
		ret = umdev_pci_config_define(mdev, PCI_SUBSYSTEM_VENDOR_ID, 2,
					      MBOCHS_SUBSYS_VENDOR_ID, 0);
	if (ret == 0)
		ret = umdev_pci_config_define(mdev, PCI_SUBSYSTEM_ID, 2, MBOCHS_SUBSYS_ID, 0);
	if (ret == 0) /* BAR0: video memory, 32-bit prefetchable */
		ret = umdev_pci_set_bar(mdev, 0, memsize, UMDEV_PCI_BAR_PREFETCH);
	if (ret == 0)
		ret = umdev_pci_region_mmap(mdev, 0, dev->memfd, 0, memsize);
	if (ret == 0) /* BAR2: MMIO */
		ret = umdev_pci_set_bar(mdev, 2, MBOCHS_MMIO_SIZE, 0);
	if (ret == 0)
		ret = umdev_pci_config_define(mdev, PCI_COMMAND, 2, 0, PCI_COMMAND_MEMORY);
	return ret;
}

static int mbochs_probe(struct umdev_mdev *mdev)
{
	struct mbochs_type *t = type_of(mdev);
	struct mbochs_device *dev;
	int ret;

	pthread_mutex_lock(&budget_lock);
	ret = mbochs_budget_reserve(&budget, t->memsize); /* -ENOSPC: nothing changed */
	pthread_mutex_unlock(&budget_lock);
	if (ret < 0)
		return ret;
	dev = calloc(1, sizeof(*dev));
	if (!dev) {
		ret = -ENOMEM;
		goto err_release;
	}
	pthread_mutex_init(&dev->lock, NULL);
	mbochs_regs_init(&dev->regs, t->memsize, t->max_x, t->max_y);
	dev->memfd = memfd_create("mbochs-vram", MFD_CLOEXEC);
	if (dev->memfd < 0) {
		ret = -errno;
		goto err_free;
	}
	if (ftruncate(dev->memfd, (off_t)t->memsize) < 0) {
		ret = -errno;
		goto err_close;
	}
	dev->vram = mmap(NULL, t->memsize, PROT_READ | PROT_WRITE, MAP_SHARED, dev->memfd, 0);
	if (dev->vram == MAP_FAILED) {
		ret = -errno;
		goto err_close;
	}
	ret = pci_declare(mdev, dev, t->memsize);
	if (ret < 0)
		goto err_pci_fini;
	umdev_mdev_set_drvdata(mdev, dev);
	return 0;

err_pci_fini:
	umdev_pci_fini(mdev);
	munmap(dev->vram, t->memsize);
err_close:
	close(dev->memfd);
err_free:
	pthread_mutex_destroy(&dev->lock);
	free(dev);
err_release:
	pthread_mutex_lock(&budget_lock);
	mbochs_budget_release(&budget, t->memsize);
	pthread_mutex_unlock(&budget_lock);
	return ret;
}

static void mbochs_remove(struct umdev_mdev *mdev)
{
	struct mbochs_device *dev = umdev_mdev_get_drvdata(mdev);
	struct mbochs_type *t = type_of(mdev);

	umdev_pci_fini(mdev);
	umdev_mdev_set_drvdata(mdev, NULL);
	munmap(dev->vram, t->memsize);
	close(dev->memfd);
	pthread_mutex_destroy(&dev->lock);
	free(dev->png);
	free(dev);
	pthread_mutex_lock(&budget_lock);
	mbochs_budget_release(&budget, t->memsize);
	pthread_mutex_unlock(&budget_lock);
}

/* Driver-managed accounting: what is left of the budget, in devices of @type's size. */
static unsigned int mbochs_get_available(struct umdev_type *type)
{
	struct mbochs_type *t = umdev_container_of(type, struct mbochs_type, type);
	unsigned int n;

	pthread_mutex_lock(&budget_lock);
	n = mbochs_budget_available(&budget, t->memsize);
	pthread_mutex_unlock(&budget_lock);
	return n;
}

static struct umdev_driver mbochs_driver = {
    .name = MBOCHS_NAME,
    .device_api = "vfio-pci",
    .probe = mbochs_probe,
    .remove = mbochs_remove,
    .get_available = mbochs_get_available,
    .dev_groups = mbochs_groups,
    .vfio_ops = &mbochs_vfio_ops,
};

int mbochs_add(unsigned int budget_mb)
{
	int ret;

	budget.total = budget_mb * MB;
	budget.used = 0;
	ret = umdev_register_driver(&mbochs_driver);
	if (ret < 0)
		return ret;
	ret = umdev_register_parent(&mbochs_parent, MBOCHS_NAME, NULL, &mbochs_driver,
				    mbochs_type_ptrs, 3);
	if (ret < 0)
		(void)umdev_unregister_driver(&mbochs_driver); /* no parent uses it */
	return ret;
}

void mbochs_del(void)
{
	umdev_unregister_parent(&mbochs_parent);
	(void)umdev_unregister_driver(&mbochs_driver);
}
