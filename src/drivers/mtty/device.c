// SPDX-License-Identifier: MIT
/*
 * The mtty device (mtty.md §4-§8): a PCI 16550A serial card with one or two ports whose far
 * end is a host pty (default) or the kernel sample's loopback.
 *
 * - PCI model (§6.1, §6.2): declared in probe through the umdev_pci_* functions; the core
 *   PCI helper serves config space, this file serves the BARs (1-byte accesses, §6.3) with
 *   the register model of uart.c.
 * - Interrupts (§7): C, the OR of the ports' pending flags, is evaluated at the end of each
 *   region access, SET_IRQS, config write and batch of received bytes. A change of C is
 *   passed to umdev_intx_set_level() (INTx level, Status bit 3) and a rise of C to
 *   umdev_msi_notify() (MSI edge); the server does masking and delivery.
 * - Host side (§4, §5): per port a pty master; guest bytes are written to it without blocking
 *   while it is attached (§5.2); a poller thread reads at most the RX FIFO's room while a
 *   client is connected (§5.3), re-checking hung-up masters every 100 ms. The thread and its
 *   wake eventfd exist only while a client is connected in pty mode (bytes move only then,
 *   §5.1): an idle device costs no thread (issue 10).
 *
 * Locks (outer to inner; docs/locking.md "mtty device"; checked locks of src/util/lockdep.h,
 * so every "Caller holds" below is also an umdev__assert_held()):
 *   backend_lock  per device: the backend mode, the ptys and the poller thread's life; held by
 *                 a backend write, by create, open/close_device and destroy, across pty
 *                 creation, the poller's start and its join. Never taken by the poller.
 *   lock          per device: the ports' register state and counters, connected, irq_cond,
 *                 poll_mask; held for one register access or one batch. Held while calling
 *                 umdev_intx_set_level()/umdev_msi_notify(), whose vfio locks are leaves.
 *                 Never held across a join or a blocking call.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "umdev/log.h"
#include "umdev/mdev.h"
#include "device.h"
#include "lockdep.h"
#include "mtty.h"
#include "uart.h"

/* PCI identity (mtty.md §6.1) */
#define MTTY_VENDOR_ID 0x4348
#define MTTY_DEVICE_ID 0x3253
#define MTTY_CLASS_CODE 0x070002
#define MTTY_REVISION 0x10
#define MTTY_BAR_SIZE 8
#define MTTY_MSI_OFFSET 0x50
#define MTTY_VENDOR_STRING_OFFSET 0x60
#define MTTY_VENDOR_STRING "PCI Serial/UART"

#define HUP_RECHECK_MS 100 /* §5.3: a hung-up master is polled again at this period */

/* Daemon settings (mtty.h); written before any parent is registered, read-only afterwards. */
static char mtty_rundir[PATH_MAX];
static bool mtty_default_loopback;

struct mtty_port {
	struct mtty_device *dev;
	unsigned int index;
	struct mtty_uart uart; /* under dev->lock */
	/* under dev->backend_lock; stable (readable without locks) while the poller runs */
	struct mtty_pty pty;
	/* poller thread only */
	bool hup; /* the master reported POLLHUP: not attached */
	uint64_t hup_until_ms; /* when to poll it again */
};

struct mtty_device {
	struct umdev_mdev *mdev;
	unsigned int nr_ports;
	char uuid_str[UUID_STR_LEN];

	struct umdev_mutex backend_lock; /* see the top of this file */
	bool loopback; /* backend; written under both locks, read under either */
	bool connected; /* a client session is open; written under both locks */

	struct umdev_mutex lock; /* see the top of this file */
	struct mtty_port ports[MTTY_DEVICE_MAX_PORTS];
	bool irq_cond; /* C at the last evaluation point (§7.1) */
	unsigned int poll_mask; /* ports the poller watches for input (bit n: port n) */
	bool poller_stop; /* set under lock, then the poller is woken and joined */

	/* the poller thread; under backend_lock */
	pthread_t poller;
	bool poller_running;
	int wake_fd; /* eventfd waking the poller; -1 when none runs; written under both locks */
};

/* ---- settings (mtty.h) ---- */

int mtty_set_rundir(const char *rundir)
{
	if (!rundir) {
		mtty_rundir[0] = '\0';
		return 0;
	}
	if (strlen(rundir) >= sizeof(mtty_rundir))
		return -ENAMETOOLONG;
	strcpy(mtty_rundir, rundir);
	return 0;
}

/* "pty" or "loopback", optionally with one trailing newline (§4.2). Return: 1, 0 or -EINVAL. */
static int parse_backend(const char *buf, size_t len)
{
	if (len && buf[len - 1] == '\n')
		len--;
	if (len == 3 && !memcmp(buf, "pty", 3))
		return 0;
	if (len == 8 && !memcmp(buf, "loopback", 8))
		return 1;
	return -EINVAL;
}

int mtty_set_default_backend(const char *name)
{
	int ret = name ? parse_backend(name, strlen(name)) : -EINVAL;

	if (ret < 0)
		return ret;
	mtty_default_loopback = ret;
	return 0;
}

/* ---- helpers ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void wake_poller(struct mtty_device *dev)
{
	uint64_t one = 1;

	if (dev->wake_fd >= 0)
		(void)!write(dev->wake_fd, &one, sizeof(one));
}

/* Ports whose far end the poller should read now (§5.1, §5.3). Caller holds dev->lock. */
static unsigned int want_input(const struct mtty_device *dev)
{
	unsigned int mask = 0;

	umdev__assert_held(&dev->lock);
	if (!dev->connected || dev->loopback)
		return 0;
	for (unsigned int i = 0; i < dev->nr_ports; i++)
		if (dev->ports[i].pty.master >= 0 && mtty_uart_rx_room(&dev->ports[i].uart))
			mask |= 1u << i;
	return mask;
}

/*
 * An evaluation point of §7.1. Caller holds dev->lock. C changes are passed to the server:
 * the INTx level (Status bit 3 and, if installed and unmasked, a signal) and, on a rise, one
 * MSI notification (§7.4). Also wakes the poller when the ports it should watch changed.
 */
static void evaluate(struct mtty_device *dev)
{
	bool c = false;

	umdev__assert_held(&dev->lock);
	for (unsigned int i = 0; i < dev->nr_ports; i++)
		c |= mtty_uart_irq_pending(&dev->ports[i].uart);
	if (c != dev->irq_cond) {
		dev->irq_cond = c;
		(void)umdev_intx_set_level(dev->mdev, c); /* -ENOTCONN before C7 / after R4 */
		if (c)
			(void)umdev_msi_notify(dev->mdev, 0);
	}
	if (want_input(dev) != dev->poll_mask)
		wake_poller(dev);
}

/* ---- the far end (uart.h ops), called with dev->lock held ---- */

/*
 * §5.2: non-blocking, only while attached; false = dropped and counted in tx_dropped. Caller
 * holds dev->lock (the uart model's contract, uart.h).
 */
static bool pty_transmit(void *opaque, uint8_t byte)
{
	struct mtty_port *port = opaque;

	umdev__assert_held(&port->dev->lock);
	if (!mtty_pty_attached(&port->pty))
		return false;
	return write(port->pty.master, &byte, 1) == 1; /* EAGAIN: the host is not reading */
}

/*
 * §4.4: LCR written with DLAB = 0: reflect divisor and LCR into the slave's termios. Caller
 * holds dev->lock (the uart model's contract, uart.h).
 */
static void pty_line_changed(void *opaque, uint16_t divisor, uint8_t lcr)
{
	struct mtty_port *port = opaque;
	struct termios t;

	umdev__assert_held(&port->dev->lock);
	if (port->pty.master < 0 || tcgetattr(port->pty.master, &t) < 0)
		return;
	mtty_uart_termios_apply(&t, divisor, lcr);
	(void)tcsetattr(port->pty.master, TCSANOW, &t);
}

static const struct mtty_uart_ops pty_ops = {
    .transmit = pty_transmit,
    .line_changed = pty_line_changed,
};

/* ---- poller thread (§5.3) ---- */

/* Read at most the FIFO's room from @port's master and push it. Caller holds dev->lock. */
static void port_receive(struct mtty_device *dev, struct mtty_port *port)
{
	uint8_t buf[MTTY_UART_FIFO_SIZE];
	size_t room;
	ssize_t n;

	umdev__assert_held(&dev->lock);
	if (!(want_input(dev) & (1u << port->index)))
		return;
	room = mtty_uart_rx_room(&port->uart);
	if (room > sizeof(buf))
		room = sizeof(buf);
	n = read(port->pty.master, buf, room);
	if (n > 0) {
		(void)mtty_uart_rx_push(&port->uart, buf, (size_t)n);
		evaluate(dev); /* once per batch (§5.3, §7.1) */
	} else if (n == 0 || errno == EIO) {
		port->hup = true; /* hung up with its buffer drained */
		port->hup_until_ms = now_ms() + HUP_RECHECK_MS;
	}
}

static void *poller_main(void *arg)
{
	struct mtty_device *dev = arg;

	for (;;) {
		struct pollfd pfd[1 + MTTY_DEVICE_MAX_PORTS];
		struct mtty_port *watched[MTTY_DEVICE_MAX_PORTS];
		unsigned int nfds = 1, mask;
		int timeout = -1;
		uint64_t now = now_ms(), v;

		pfd[0] = (struct pollfd){.fd = dev->wake_fd, .events = POLLIN};
		umdev__mutex_lock(&dev->lock);
		if (dev->poller_stop) {
			umdev__mutex_unlock(&dev->lock);
			break;
		}
		mask = want_input(dev);
		dev->poll_mask = mask;
		umdev__mutex_unlock(&dev->lock);
		for (unsigned int i = 0; i < dev->nr_ports; i++) {
			struct mtty_port *port = &dev->ports[i];

			if (!(mask & (1u << i)))
				continue;
			if (port->hup && port->hup_until_ms > now) {
				int left = (int)(port->hup_until_ms - now);

				if (timeout < 0 || left < timeout)
					timeout = left;
				continue;
			}
			watched[nfds - 1] = port;
			pfd[nfds++] = (struct pollfd){.fd = port->pty.master, .events = POLLIN};
		}
		if (poll(pfd, nfds, timeout) < 0)
			continue; /* EINTR */
		if (pfd[0].revents & POLLIN)
			(void)!read(dev->wake_fd, &v, sizeof(v));
		for (unsigned int i = 1; i < nfds; i++) {
			struct mtty_port *port = watched[i - 1];

			if (pfd[i].revents & POLLIN) {
				port->hup = false;
				umdev__mutex_lock(&dev->lock);
				port_receive(dev, port);
				umdev__mutex_unlock(&dev->lock);
			} else if (pfd[i].revents & (POLLHUP | POLLERR)) {
				port->hup = true; /* not attached: look again in 100 ms (§5.3) */
				port->hup_until_ms = now_ms() + HUP_RECHECK_MS;
			}
		}
	}
	return NULL;
}

/* Caller holds backend_lock; the device is in pty mode and a client is connecting. */
static int poller_start(struct mtty_device *dev)
{
	sigset_t all, old;
	int ret, fd;

	umdev__assert_held(&dev->backend_lock);
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	for (unsigned int i = 0; i < dev->nr_ports; i++)
		dev->ports[i].hup = false;
	umdev__mutex_lock(&dev->lock);
	dev->poller_stop = false;
	dev->poll_mask = 0;
	dev->wake_fd = fd;
	umdev__mutex_unlock(&dev->lock);
	/* the poller takes no signal: the daemon waits for them synchronously */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&dev->poller, NULL, poller_main, dev);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret < 0) {
		umdev__mutex_lock(&dev->lock);
		dev->wake_fd = -1;
		umdev__mutex_unlock(&dev->lock);
		close(fd);
		return ret;
	}
	dev->poller_running = true;
	return 0;
}

/* Caller holds backend_lock, not dev->lock. */
static void poller_stop(struct mtty_device *dev)
{
	umdev__assert_held(&dev->backend_lock);
	umdev__assert_not_held(&dev->lock); /* the poller takes it before it can see the stop */
	if (!dev->poller_running)
		return;
	umdev__mutex_lock(&dev->lock);
	dev->poller_stop = true;
	wake_poller(dev);
	umdev__mutex_unlock(&dev->lock);
	pthread_join(dev->poller, NULL);
	dev->poller_running = false;
	umdev__mutex_lock(&dev->lock);
	close(dev->wake_fd);
	dev->wake_fd = -1;
	umdev__mutex_unlock(&dev->lock);
}

/* ---- backends (§4.2, §4.3) ---- */

/* Close every port's pty, symlinks first (§5.5). Caller holds backend_lock; poller stopped. */
static void ptys_close(struct mtty_device *dev)
{
	umdev__assert_held(&dev->backend_lock);
	for (unsigned int i = 0; i < dev->nr_ports; i++) {
		umdev__mutex_lock(&dev->lock);
		mtty_pty_close(&dev->ports[i].pty);
		umdev__mutex_unlock(&dev->lock);
	}
	mtty_pty_rmdir(mtty_rundir, dev->uuid_str);
}

/* Create every port's pty, all or none. Caller holds backend_lock; poller stopped. */
static int ptys_open(struct mtty_device *dev)
{
	struct mtty_pty pty[MTTY_DEVICE_MAX_PORTS];
	int ret = 0;
	unsigned int i;

	umdev__assert_held(&dev->backend_lock);
	for (i = 0; i < dev->nr_ports; i++) {
		ret = mtty_pty_open(&pty[i], mtty_rundir, dev->uuid_str, i);
		if (ret < 0)
			goto err_close;
	}
	umdev__mutex_lock(&dev->lock);
	for (i = 0; i < dev->nr_ports; i++)
		dev->ports[i].pty = pty[i];
	umdev__mutex_unlock(&dev->lock);
	return 0;

err_close:
	while (i--)
		mtty_pty_close(&pty[i]);
	mtty_pty_rmdir(mtty_rundir, dev->uuid_str);
	return ret;
}

/* Caller holds backend_lock: dev->loopback is written under both locks. */
static void set_loopback(struct mtty_device *dev, bool loopback)
{
	umdev__assert_held(&dev->backend_lock);
	umdev__mutex_lock(&dev->lock);
	dev->loopback = loopback;
	for (unsigned int i = 0; i < dev->nr_ports; i++)
		mtty_uart_set_loopback_backend(&dev->ports[i].uart, loopback);
	umdev__mutex_unlock(&dev->lock);
}

/*
 * Switch the backend (§4.2). Caller holds backend_lock and checked that no client is there,
 * so no poller runs.
 */
static int backend_switch(struct mtty_device *dev, bool loopback)
{
	int ret;

	umdev__assert_held(&dev->backend_lock);
	if (loopback == dev->loopback)
		return 0; /* the current value: nothing changes (the pty and its path stay) */
	if (loopback) {
		set_loopback(dev, true);
		ptys_close(dev);
		return 0;
	}
	ret = ptys_open(dev);
	if (ret < 0)
		return ret; /* stays in loopback mode */
	set_loopback(dev, false);
	return 0;
}

/* ---- PCI declaration (§6.1, §6.2) ---- */

static int pci_declare(struct umdev_mdev *mdev, unsigned int nr_ports)
{
	static const uint8_t vendor_string[] = MTTY_VENDOR_STRING;
	int ret;

	ret = umdev_pci_init(mdev, MTTY_VENDOR_ID, MTTY_DEVICE_ID, MTTY_CLASS_CODE, MTTY_REVISION);
	for (unsigned int i = 0; ret == 0 && i < nr_ports; i++)
		ret = umdev_pci_set_bar(mdev, i, MTTY_BAR_SIZE, UMDEV_PCI_BAR_IO);
	if (ret == 0)
		ret = umdev_pci_set_intx(mdev, true);
	if (ret == 0)
		ret = umdev_pci_add_msi(mdev, MTTY_MSI_OFFSET, 1, 0);
	if (ret == 0) /* I/O space and INTx disable; the helper's default mask is wider */
		ret = umdev_pci_config_define(mdev, 0x04, 2, 0x0001, 0x0401);
	if (ret == 0) /* capability list, DEVSEL medium */
		ret = umdev_pci_config_define(mdev, 0x06, 2, 0x0210, 0);
	if (ret == 0) /* cache line, latency, header type, BIST: read-only 0 */
		ret = umdev_pci_config_define(mdev, 0x0c, 4, 0, 0);
	if (ret == 0) /* vendor bytes copied from the sample: 0x40 0x23, 0x43 0x80 */
		ret = umdev_pci_config_define(mdev, 0x40, 4, 0x80000023, 0);
	for (unsigned int off = 0x44; ret == 0 && off <= 0x4c; off += 4)
		ret = umdev_pci_config_define(mdev, off, 1, 0x23, 0);
	for (unsigned int i = 0; ret == 0 && i < sizeof(vendor_string) - 1; i++)
		ret = umdev_pci_config_define(mdev, MTTY_VENDOR_STRING_OFFSET + i, 1,
					      vendor_string[i], 0);
	return ret;
}

/* ---- life cycle ---- */

int mtty_device_create(struct umdev_mdev *mdev, unsigned int nr_ports, struct mtty_device **ret_dev)
{
	struct mtty_device *dev;
	int ret;

	if (nr_ports < 1 || nr_ports > MTTY_DEVICE_MAX_PORTS)
		return -EINVAL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->mdev = mdev;
	dev->nr_ports = nr_ports;
	uuid_unparse_lower(*umdev_mdev_uuid(mdev), dev->uuid_str);
	umdev__mutex_init(&dev->backend_lock, &umdev__lock_class_mtty_backend, false);
	umdev__mutex_init(&dev->lock, &umdev__lock_class_mtty_device, false);
	for (unsigned int i = 0; i < nr_ports; i++) {
		struct mtty_port *port = &dev->ports[i];

		port->dev = dev;
		port->index = i;
		port->pty.master = -1;
		mtty_uart_init(&port->uart, &pty_ops, port);
	}
	dev->wake_fd = -1;
	umdev__mutex_lock(&dev->backend_lock);
	dev->loopback = true; /* until the ptys exist */
	set_loopback(dev, true);
	ret = 0;
	if (!mtty_default_loopback)
		ret = backend_switch(dev, false); /* §4.3: before the create write returns */
	umdev__mutex_unlock(&dev->backend_lock);
	if (ret < 0)
		goto err_free;
	ret = pci_declare(mdev, nr_ports);
	if (ret < 0)
		goto err_pci_fini;
	*ret_dev = dev;
	return 0;

err_pci_fini:
	umdev_pci_fini(mdev); /* the core calls no vfio hook for a failed probe */
	umdev__mutex_lock(&dev->backend_lock);
	(void)backend_switch(dev, true);
	umdev__mutex_unlock(&dev->backend_lock);
err_free:
	umdev__mutex_destroy(&dev->lock);
	umdev__mutex_destroy(&dev->backend_lock);
	free(dev);
	return ret;
}

void mtty_device_destroy(struct mtty_device *dev)
{
	if (!dev)
		return;
	umdev_pci_fini(dev->mdev); /* pairs with pci_declare(); after R4 it does nothing */
	umdev__mutex_lock(&dev->backend_lock);
	poller_stop(dev); /* none runs unless close_device was never called */
	(void)backend_switch(dev, true); /* symlinks then masters (§5.5) */
	umdev__mutex_unlock(&dev->backend_lock);
	umdev__mutex_destroy(&dev->lock);
	umdev__mutex_destroy(&dev->backend_lock);
	free(dev);
}

/* ---- vfio callbacks (vfio-user.md §10.3) ---- */

/* §6.3: the BAR of a port, 1-byte accesses only (the server checked offset + count <= 8). */
static struct mtty_port *bar_port(struct mtty_device *dev, unsigned int index, uint64_t offset,
				  size_t count)
{
	if (!dev || index >= dev->nr_ports || count != 1 || offset >= MTTY_BAR_SIZE)
		return NULL;
	return &dev->ports[index];
}

static ssize_t mtty_region_read(struct umdev_mdev *mdev, unsigned int index, uint64_t offset,
				void *buf, size_t count)
{
	struct mtty_device *dev = mtty_device_of(mdev);
	struct mtty_port *port = bar_port(dev, index, offset, count);

	if (!port)
		return -EINVAL;
	umdev__mutex_lock(&dev->lock);
	*(uint8_t *)buf = mtty_uart_read(&port->uart, (unsigned int)offset);
	evaluate(dev);
	umdev__mutex_unlock(&dev->lock);
	return 1;
}

static ssize_t mtty_region_write(struct umdev_mdev *mdev, unsigned int index, uint64_t offset,
				 const void *buf, size_t count)
{
	struct mtty_device *dev = mtty_device_of(mdev);
	struct mtty_port *port = bar_port(dev, index, offset, count);

	if (!port)
		return -EINVAL;
	umdev__mutex_lock(&dev->lock);
	mtty_uart_write(&port->uart, (unsigned int)offset, *(const uint8_t *)buf);
	evaluate(dev);
	umdev__mutex_unlock(&dev->lock);
	return 1;
}

/* §7.1: a config write is an evaluation point; Command[10] itself is the server's (§7.3). */
static void mtty_config_write(struct umdev_mdev *mdev, unsigned int offset, unsigned int count)
{
	struct mtty_device *dev = mtty_device_of(mdev);

	(void)offset;
	(void)count;
	umdev__mutex_lock(&dev->lock);
	evaluate(dev);
	umdev__mutex_unlock(&dev->lock);
}

/*
 * §7.4: an MSI eventfd installed while C is true is signalled once. Only an installation: a
 * loop-back trigger (UMDEV_IRQ_SIGNALLED) was signalled by the server already.
 */
static void mtty_set_irqs(struct umdev_mdev *mdev, unsigned int index, unsigned int start,
			  unsigned int count, enum umdev_irq_action action)
{
	struct mtty_device *dev = mtty_device_of(mdev);

	umdev__mutex_lock(&dev->lock);
	if (index == 1 && action == UMDEV_IRQ_ASSIGNED && start == 0 && count >= 1 &&
	    dev->irq_cond) /* VFIO_PCI_MSI_IRQ_INDEX, vector 0 */
		(void)umdev_msi_notify(mdev, 0);
	evaluate(dev);
	umdev__mutex_unlock(&dev->lock);
}

/* §8: registers to power-on values, FIFOs drained; the far end, backend, counters stay. */
static int mtty_reset(struct umdev_mdev *mdev)
{
	struct mtty_device *dev = mtty_device_of(mdev);

	umdev__mutex_lock(&dev->lock);
	for (unsigned int i = 0; i < dev->nr_ports; i++)
		mtty_uart_reset(&dev->ports[i].uart);
	evaluate(dev); /* C is false now; the server already cleared its INTx level (§8.10) */
	umdev__mutex_unlock(&dev->lock);
	return 0;
}

/*
 * A client connects or leaves. The poller runs exactly while one is connected in pty mode
 * (the backend cannot change then, §4.2). Return: 0, or poller_start()'s errno, for the
 * VERSION reply (nothing changed).
 */
static int set_connected(struct mtty_device *dev, bool connected)
{
	int ret = 0;

	umdev__mutex_lock(&dev->backend_lock); /* a backend write sees no half-open client */
	if (connected && !dev->loopback)
		ret = poller_start(dev);
	if (ret == 0) {
		umdev__mutex_lock(&dev->lock);
		dev->connected = connected; /* §5.1: bytes move only while a client is connected */
		evaluate(dev);
		wake_poller(dev);
		umdev__mutex_unlock(&dev->lock);
	}
	if (!connected)
		poller_stop(dev);
	umdev__mutex_unlock(&dev->backend_lock);
	return ret;
}

static int mtty_open_device(struct umdev_mdev *mdev)
{
	return set_connected(mtty_device_of(mdev), true);
}

static void mtty_close_device(struct umdev_mdev *mdev)
{
	(void)set_connected(mtty_device_of(mdev), false);
}

/* ---- state save and restore (§9) ---- */

#define IMAGE_MAGIC "UMDVMTTY"
#define IMAGE_VERSION 1
#define IMAGE_CONFIG_OFFSET 24
#define IMAGE_PORTS_OFFSET (IMAGE_CONFIG_OFFSET + UMDEV_PCI_CONFIG_SIZE) /* 280 */

static size_t image_size(const struct mtty_device *dev)
{
	return IMAGE_PORTS_OFFSET + (size_t)MTTY_UART_IMAGE_SIZE * dev->nr_ports;
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (unsigned int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/*
 * The config bits of this device's model (pci_declare() over the helper's rules, vfio-user.md
 * §9.3) whose value may differ from power-on: the guest-writable bits and the RW1C Status bits.
 * Every other bit is read-only and must match in a restored image. Status bit 3 (the INTx
 * level) is handled apart: ignored on restore (§9).
 */
static uint8_t config_var_mask(const struct mtty_device *dev, unsigned int off)
{
	if (off == 0x04)
		return 0x01; /* Command: I/O space */
	if (off == 0x05)
		return 0x04; /* Command: INTx disable */
	if (off == 0x07)
		return 0xf9; /* Status 8, 11-15: RW1C */
	if (off >= 0x10 && off < 0x10 + 4 * dev->nr_ports) /* I/O BAR of 8 bytes: 31:3 */
		return (off & 3) ? 0xff : 0xf8;
	if (off == 0x3c)
		return 0xff; /* Interrupt line */
	if (off == MTTY_MSI_OFFSET + 2)
		return 0x01; /* MSI enable; MME is clamped to MMC = 0 */
	if (off >= MTTY_MSI_OFFSET + 4 && off < MTTY_MSI_OFFSET + 8) /* address, 32-bit */
		return (off & 3) ? 0xff : 0xfc;
	if (off == MTTY_MSI_OFFSET + 8 || off == MTTY_MSI_OFFSET + 9)
		return 0xff; /* data */
	return 0;
}

/* Config space as a guest reads it. */
static int config_read_all(struct umdev_mdev *mdev, uint8_t cfg[UMDEV_PCI_CONFIG_SIZE])
{
	for (unsigned int off = 0; off < UMDEV_PCI_CONFIG_SIZE; off += 4) {
		uint32_t v;
		int ret = umdev_pci_config_get(mdev, off, 4, &v);

		if (ret < 0)
			return ret;
		put_le32(cfg + off, v);
	}
	return 0;
}

/* §9: the image of a quiescent device. Return: its size; -ENOSPC @len too small. */
static ssize_t mtty_save(struct umdev_mdev *mdev, void *buf, size_t len)
{
	struct mtty_device *dev = mtty_device_of(mdev);
	size_t size = image_size(dev);
	uint8_t *img = buf;
	int ret;

	if (len < size)
		return -ENOSPC;
	memset(img, 0, size);
	memcpy(img, IMAGE_MAGIC, 8);
	put_le32(img + 8, IMAGE_VERSION);
	put_le32(img + 12, dev->nr_ports);
	ret = config_read_all(mdev, img + IMAGE_CONFIG_OFFSET);
	if (ret < 0)
		return ret;
	umdev__mutex_lock(&dev->lock);
	for (unsigned int i = 0; i < dev->nr_ports; i++)
		mtty_uart_save(&dev->ports[i].uart,
			       img + IMAGE_PORTS_OFFSET + MTTY_UART_IMAGE_SIZE * i);
	umdev__mutex_unlock(&dev->lock);
	return (ssize_t)size;
}

/*
 * §9: load an image of mtty_save(); validates everything first and changes nothing on
 * failure. Return: 0; -EINVAL a bad image.
 */
static int mtty_restore(struct umdev_mdev *mdev, const void *buf, size_t len)
{
	struct mtty_device *dev = mtty_device_of(mdev);
	const uint8_t *img = buf;
	const uint8_t *icfg = img + IMAGE_CONFIG_OFFSET;
	uint8_t cfg[UMDEV_PCI_CONFIG_SIZE];
	int ret;

	if (!img || len != image_size(dev) || memcmp(img, IMAGE_MAGIC, 8) ||
	    get_le32(img + 8) != IMAGE_VERSION || get_le32(img + 12) != dev->nr_ports ||
	    get_le32(img + 16) || get_le32(img + 20))
		return -EINVAL;
	ret = config_read_all(mdev, cfg);
	if (ret < 0)
		return ret;
	for (unsigned int off = 0; off < UMDEV_PCI_CONFIG_SIZE; off++) {
		uint8_t fixed = (uint8_t)~config_var_mask(dev, off);

		if (off == 0x06)
			fixed &= (uint8_t)~0x08; /* Status[3] ignored */
		if ((icfg[off] ^ cfg[off]) & fixed)
			return -EINVAL; /* a read-only bit differs from this device's */
	}
	umdev__mutex_lock(&dev->lock);
	for (unsigned int i = 0; i < dev->nr_ports; i++) {
		struct mtty_uart probe = dev->ports[i].uart;

		if (mtty_uart_restore(&probe,
				      img + IMAGE_PORTS_OFFSET + MTTY_UART_IMAGE_SIZE * i)) {
			umdev__mutex_unlock(&dev->lock);
			return -EINVAL;
		}
	}
	/* valid: nothing below fails */
	for (unsigned int off = 0; off < UMDEV_PCI_CONFIG_SIZE; off++)
		if (config_var_mask(dev, off) && icfg[off] != cfg[off])
			(void)umdev_pci_config_set(mdev, off, 1, icfg[off]);
	for (unsigned int i = 0; i < dev->nr_ports; i++) {
		struct mtty_port *port = &dev->ports[i];

		(void)mtty_uart_restore(&port->uart,
					img + IMAGE_PORTS_OFFSET + MTTY_UART_IMAGE_SIZE * i);
		if (!dev->loopback) /* §4.4: the slave's termios follows the line settings */
			pty_line_changed(port, mtty_uart_divisor(&port->uart), port->uart.lcr);
	}
	evaluate(dev);
	umdev__mutex_unlock(&dev->lock);
	return 0;
}

const struct umdev_vfio_ops mtty_vfio_ops = {
    .region_read = mtty_region_read,
    .region_write = mtty_region_write,
    .config_write = mtty_config_write,
    .set_irqs = mtty_set_irqs,
    .reset = mtty_reset,
    .open_device = mtty_open_device,
    .close_device = mtty_close_device,
    .save = mtty_save,
    .restore = mtty_restore,
};

/* ---- the mtty/ attributes (§4.1, §4.2, §4.5) ---- */

static ssize_t backend_show(struct umdev_mdev *mdev, char *buf, size_t len)
{
	struct mtty_device *dev = mtty_device_of(mdev);
	int n;

	umdev__mutex_lock(&dev->lock);
	n = snprintf(buf, len, "%s\n", dev->loopback ? "loopback" : "pty");
	umdev__mutex_unlock(&dev->lock);
	return n;
}

/* §4.2: EINVAL for other text, EBUSY while a client is connected; a failure changes nothing. */
static ssize_t backend_store(struct umdev_mdev *mdev, const char *buf, size_t len)
{
	struct mtty_device *dev = mtty_device_of(mdev);
	int loopback = parse_backend(buf, len);
	int ret;

	if (loopback < 0)
		return loopback;
	umdev__mutex_lock(&dev->backend_lock);
	if (dev->connected)
		ret = -EBUSY;
	else
		ret = backend_switch(dev, loopback);
	umdev__mutex_unlock(&dev->backend_lock);
	return ret < 0 ? ret : (ssize_t)len;
}

static ssize_t port_pty_show(struct umdev_mdev *mdev, unsigned int port, char *buf, size_t len)
{
	struct mtty_device *dev = mtty_device_of(mdev);
	ssize_t n = 0;

	if (port >= dev->nr_ports)
		return -ENODEV; /* port1_pty of an mtty-1 device */
	umdev__mutex_lock(&dev->lock);
	if (dev->ports[port].pty.path[0])
		n = snprintf(buf, len, "%s\n", dev->ports[port].pty.path);
	umdev__mutex_unlock(&dev->lock);
	return n; /* 0 bytes in loopback mode */
}

static ssize_t port0_pty_show(struct umdev_mdev *mdev, char *buf, size_t len)
{
	return port_pty_show(mdev, 0, buf, len);
}

static ssize_t port1_pty_show(struct umdev_mdev *mdev, char *buf, size_t len)
{
	return port_pty_show(mdev, 1, buf, len);
}

static ssize_t stats_show(struct umdev_mdev *mdev, char *buf, size_t len)
{
	struct mtty_device *dev = mtty_device_of(mdev);
	uint64_t irq_signals = 0;
	size_t n;

	/* §4.5: eventfd writes are the server's (masking, loop-back triggers), so it counts them */
	(void)umdev_irq_signal_count(mdev, &irq_signals); /* -ENOTCONN before C7: 0 */
	n = (size_t)snprintf(buf, len, "irq_signals %llu\n", (unsigned long long)irq_signals);
	umdev__mutex_lock(&dev->lock);
	for (unsigned int i = 0; i < dev->nr_ports && n < len; i++) {
		const struct mtty_uart *u = &dev->ports[i].uart;

		n += (size_t)snprintf(
		    buf + n, len - n,
		    "port%u_tx_bytes %llu\nport%u_tx_dropped %llu\n"
		    "port%u_rx_bytes %llu\nport%u_rx_overruns %llu\n",
		    i, (unsigned long long)u->tx_bytes, i, (unsigned long long)u->tx_dropped, i,
		    (unsigned long long)u->rx_bytes, i, (unsigned long long)u->rx_overruns);
	}
	umdev__mutex_unlock(&dev->lock);
	return n < len ? (ssize_t)n : -EINVAL;
}

static const struct umdev_attr backend_attr = {
    .name = "backend",
    .mode = 0644,
    .show = backend_show,
    .store = backend_store,
};

static const struct umdev_attr port0_pty_attr = {
    .name = "port0_pty",
    .mode = 0444,
    .show = port0_pty_show,
};

static const struct umdev_attr port1_pty_attr = {
    .name = "port1_pty",
    .mode = 0444,
    .show = port1_pty_show,
};

static const struct umdev_attr stats_attr = {
    .name = "stats",
    .mode = 0444,
    .show = stats_show,
};

static const struct umdev_attr *const mtty_attrs[] = {
    &backend_attr, &port0_pty_attr, &port1_pty_attr, &stats_attr, NULL,
};

/* port1_pty exists only for devices with a second port (mtty.md §4.1, T-8) */
static bool mtty_attr_visible(struct umdev_mdev *mdev, const struct umdev_attr *attr)
{
	return attr != &port1_pty_attr || mtty_device_of(mdev)->nr_ports > 1;
}

const struct umdev_attr_group mtty_attr_group = {
    .name = "mtty",
    .attrs = mtty_attrs,
    .is_visible = mtty_attr_visible,
};
