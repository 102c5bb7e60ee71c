/* SPDX-License-Identifier: MIT */
/*
 * Internals of the vfio module (vfio-user.md): the vfio device record, the PCI helper's state,
 * the interrupt and DMA state, one session's state, and the functions the files of src/vfio/
 * share. Not for use outside src/vfio/ and its unit tests.
 *
 * Threads and locks (docs/locking.md, "vfio session"):
 *  - every vfio device with a connection has one server thread: it accepts, reads, executes
 *    commands, calls the driver's callbacks and writes replies. Clients of different devices
 *    therefore never wait on each other (C1), and callbacks of one device never overlap (C7).
 *    An idle device has none: the listeners' thread (vfio.c) watches every idle socket in
 *    one epoll set and starts the server thread when a connection arrives.
 *  - dev->lock (checked: class "vfio device lock", rank 65) is a leaf: config space, irq state
 *    and the DMA table of one device. Taken by the server thread and by driver threads
 *    (umdev_intx_set_level(), umdev_dma_read(), ...); never held across a socket operation, a
 *    driver callback, a call into the core, or I/O that can wait for a client. A client's
 *    eventfds are signalled under it only through umdev__eventfd_signal(), which cannot sleep
 *    on the client; the unmask eventfd is drained without it (clientfd.c).
 *  - devices_lock (vfio.c; class "vfio devices_lock", rank 60) protects the list of device
 *    records; held only for a lookup or an insert/delete, and taken before dev->lock, never
 *    after.
 *  - a session holds no reference on its mdev: it lives on the device's server thread, and R4
 *    (vfio_detach()) ends the session and joins that thread before the core waits for the
 *    mdev's references (wait_refs) and releases it, so the mdev outlives every session.
 *  - dev->dma_cond waits on dev->lock: a driver thread for its message-based DMA reply, R4 for
 *    the last such waiter to leave (docs/locking.md).
 */
#ifndef UMDEV_VFIO_PRIVATE_H
#define UMDEV_VFIO_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "umdev/mdev.h"
#include "umdev/pci.h"
#include "umdev/vfio.h"
#include "list.h"
#include "lockdep.h"
#include "vfio.h"
#include "wire.h"

/* ---- the server's limits on what a client makes it hold (vfio-user.md §6.4, I4) ---- */

#define VFIO_USER_RX_FDS_MAX 32u /* fds kept per message; more are closed at once */
/*
 * fd-backed DMA mappings per session: beyond it DMA_MAP with an fd gets ENOSPC, the map limit's
 * errno (§6.4; fd-less maps are bounded by max_dma_maps alone). A VMM maps guest RAM with a
 * few fds (libvfio-user servers accept 16 regions in all); 1,024 would fill a 1024-fd table.
 * With it, the fds one session can make the daemon hold are bounded (I4): 64 DMA fds, 36 irq
 * eventfds (INTx trigger and unmask, 32 MSI, ERR, REQ; each assignment replaces), the fds of
 * the one message being read (VFIO_USER_RX_FDS_MAX), 4 queued for the client (server.c), the
 * connection and its twin socket: 138. Extra connections hold one fd each, their fds are
 * closed as they arrive (server.c).
 */
#define VFIO_USER_MAX_DMA_FDS 64u

/* ---- PCI helper (pci.c, vfio-user.md §9.3) ---- */

struct umdev__pci_bar {
	uint64_t size; /* bytes; 0: unimplemented */
	unsigned int flags; /* UMDEV_PCI_BAR_*; the upper half of a 64-bit BAR has size 0 */
};

/* Config space and its rules. Protected by the owning device's lock once C7 ran. */
struct umdev__pci {
	bool initialised; /* umdev_pci_init() ran */
	uint8_t cfg[UMDEV_PCI_CONFIG_SIZE]; /* current values */
	uint8_t poweron[UMDEV_PCI_CONFIG_SIZE]; /* restored at reset */
	uint8_t wmask[UMDEV_PCI_CONFIG_SIZE]; /* writable bits */
	uint8_t w1cmask[UMDEV_PCI_CONFIG_SIZE]; /* RW1C bits */
	struct umdev__pci_bar bar[6];
	bool intx_pin; /* config 0x3D = 1; INTx count 1 */
	unsigned int msi_offset; /* 0: no MSI capability */
	unsigned int msi_vectors; /* MMC-derived vector count */
	unsigned int msi_flags; /* UMDEV_PCI_MSI_* */
	bool intx_level; /* driver's INTx level; Status bit 3 */
};

void umdev__pci_defaults(struct umdev__pci *pci, uint16_t vendor_id, uint16_t device_id,
			 uint32_t class_code, uint8_t revision);
int umdev__pci_set_bar(struct umdev__pci *pci, unsigned int bar, uint64_t size, unsigned int flags);
int umdev__pci_add_msi(struct umdev__pci *pci, unsigned int offset, unsigned int nr_vectors,
		       unsigned int flags);
int umdev__pci_define(struct umdev__pci *pci, unsigned int offset, unsigned int size,
		      uint32_t value, uint32_t wmask);
/* current values of [offset, offset + count); caller checked the range */
void umdev__pci_read(const struct umdev__pci *pci, unsigned int offset, void *buf,
		     unsigned int count);
/* a client write, per byte through the masks; caller checked the range */
void umdev__pci_write(struct umdev__pci *pci, unsigned int offset, const void *buf,
		      unsigned int count);
/* a driver store bypassing the masks */
void umdev__pci_store(struct umdev__pci *pci, unsigned int offset, const void *buf,
		      unsigned int count);
void umdev__pci_reset(struct umdev__pci *pci);
uint16_t umdev__pci_command(const struct umdev__pci *pci);
/* Return: whether the MSI vector @vector is masked by the per-vector mask bits */
bool umdev__pci_msi_masked(const struct umdev__pci *pci, unsigned int vector);
void umdev__pci_msi_set_pending(struct umdev__pci *pci, unsigned int vector, bool pending);
/* vfio region flags (VFIO_REGION_INFO_FLAG_*) and size of region @index */
uint64_t umdev__pci_region_size(const struct umdev__pci *pci, unsigned int index);
uint32_t umdev__pci_region_flags(const struct umdev__pci *pci, unsigned int index);

/* ---- interrupts (irq.c, vfio-user.md §8.8, §9.4) ---- */

#define VFIO_IRQ_MSI_MAX 32u

/* Protected by the device's lock. -1: no eventfd. */
struct umdev__irq {
	int intx_trigger;
	int intx_unmask;
	bool intx_masked;
	int msi_trigger[VFIO_IRQ_MSI_MAX];
	int err_trigger;
	int req_trigger;
	uint64_t signals; /* INTx and MSI eventfd writes since C7 (umdev_irq_signal_count()) */
};

/* ---- DMA (dma.c, vfio-user.md §8.2, §8.3, §10.1) ---- */

struct umdev__dma_map {
	uint64_t iova;
	uint64_t size;
	uint64_t offset; /* in fd */
	uint32_t flags; /* VFIO_DMA_MAP_FLAG_READ/WRITE */
	int fd; /* -1: message-based */
};

/* Protected by the device's lock. Sorted by iova, non-overlapping. */
struct umdev__dma {
	struct umdev__dma_map *maps;
	unsigned int nr;
	unsigned int cap;
	unsigned int nr_fds; /* mappings with fd >= 0: at most VFIO_USER_MAX_DMA_FDS */
};

/*
 * One message-based transfer (DMA_READ or DMA_WRITE, §8.12) a driver thread waits for. Lives on
 * the waiter's stack, on dev->dma_reqs under dev->lock until it is done; the server thread sends
 * it, routes the client's reply to it, or aborts it at teardown (§4.4 step 1).
 */
struct umdev__dma_req {
	struct umdev_list node; /* dev->dma_reqs, under dev->lock */
	bool write; /* DMA_WRITE */
	uint64_t iova;
	size_t len; /* <= the session's dma_xfer_max */
	uint8_t *buf; /* the driver's; written (DMA_READ) by the server thread under dev->lock */
	bool sent; /* queued on a socket with msg_id */
	uint16_t msg_id;
	bool done; /* result is final; the server thread no longer touches the request */
	int result; /* 0 or a negative errno */
};

/* ---- the vfio device (vfio.c) ---- */

/* A BAR's sparse-mmap area (umdev_pci_region_mmap(), vfio-user.md §8.5). */
struct umdev__vfio_mmap {
	int fd; /* umdev's dup of the driver's fd, closed by device_free(); -1: none */
	uint64_t offset; /* area within the region == offset within fd */
	uint64_t size; /* bytes; 0: none */
};

enum umdev__vfio_state {
	VFIO_DEV_DECLARED, /* umdev_pci_init() ran in probe; C7 not yet */
	VFIO_DEV_LIVE, /* C7..R4 */
	VFIO_DEV_DETACHED, /* R4 began: driver calls fail -ENOTCONN */
};

struct umdev__vfio_session;

struct umdev__vfio_device {
	struct umdev_list node; /* under devices_lock */
	struct umdev_mdev *mdev; /* valid from C7 to R4 (no reference: R4 ends the session);
				    key with serial before C7 */
	uint64_t serial;
	const struct umdev_vfio_ops *ops; /* the driver's; may be NULL */
	unsigned int index; /* N of vfioN */

	/* leaf; protects state, pci, irq, dma and session_open; see the top of this file */
	struct umdev_mutex lock;
	enum umdev__vfio_state state;
	struct umdev__pci pci;
	struct umdev__vfio_mmap mmap[6]; /* umdev_pci_region_mmap(), per BAR */
	struct umdev__irq irq;
	struct umdev__dma dma;
	bool session_open; /* a session is in SESSION state: irq/dma state belongs to it */
	/* message-based DMA (dma.c, server.c): requests, waiters, the session's transfer limit */
	struct umdev_list dma_reqs; /* struct umdev__dma_req, in arrival order */
	pthread_cond_t dma_cond; /* CLOCK_MONOTONIC; broadcast when a request is done or a waiter
				    leaves; waited on with dev->lock */
	unsigned int dma_waiters; /* driver threads inside a message transfer; R4 waits for 0 */
	uint32_t dma_xfer_max; /* bytes per DMA message: min(client's max_data_xfer_size, 1 MiB) */

	/*
	 * Socket and server thread (vfio.c, "listeners"). An idle device has only its listening
	 * socket, watched by the listeners' thread; a connection starts the server thread, which
	 * hands the socket back and ends when it has nothing left to serve (issue 10).
	 */
	char path[108]; /* written at C7 */
	int listen_fd; /* -1: numbering only; closed by the server thread or R4 */
	bool listen_armed; /* under devices_lock: in the listeners' epoll set (one-shot) */
	bool thread_running; /* under devices_lock: a server thread serves the device */
	/* eventfd waking the server thread (R4, DMA requests to send) while one runs, else -1;
	 * written under devices_lock and dev->lock, read under either or by that thread */
	int wake_fd;
	pthread_t thread; /* the running server thread; under devices_lock */
	_Atomic bool removing; /* set at R4 step 1, under devices_lock */
	/* the server thread's deferred closes (clientfd.c); our reference is put at R4 */
	struct umdev__close_budget *close_budget;
	/*
	 * The session the server thread serves, or NULL; set and cleared by that thread only.
	 * The device record owns it while it lives, which makes it reachable from the device
	 * list (for debuggers and LeakSanitizer) and not only from a thread's stack.
	 */
	struct umdev__vfio_session *session;
};

/* daemon options in effect (vfio.c); read-only after umdev_vfio_init() */
struct umdev__vfio_config {
	unsigned int max_dma_maps;
	unsigned int handshake_timeout_ms;
	unsigned int req_timeout_ms;
	unsigned int dma_timeout_ms;
	bool has_group;
	gid_t group;
};
extern struct umdev__vfio_config umdev__vfio_config;
/* umdev_vfio_shutdown() was called: R4 does not wait T_req (vfio.c) */
extern atomic_bool umdev__vfio_shutting_down;

/* Return: the live device of @mdev with dev->lock held, or NULL (-ENOTCONN to the caller). */
struct umdev__vfio_device *umdev__vfio_lock_live(struct umdev_mdev *mdev);
/* Return: the device record of @mdev (any state), without locks; tests only. */
struct umdev__vfio_device *umdev__vfio_device_find(struct umdev_mdev *mdev);
/* Return: the number of device records (DECLARED and LIVE); tests only. */
unsigned int umdev__vfio_nr_devices(void);
/*
 * The server thread of @dev (the caller) found nothing to serve. Unless R4 began, gives the
 * listening socket back to the listeners' thread, detaches the caller and closes its wake
 * eventfd. Return: true when the caller must return at once without touching @dev again;
 * false when R4 began or the socket could not be handed back (the thread goes on).
 */
bool umdev__vfio_thread_idle(struct umdev__vfio_device *dev);
/*
 * The record of @mdev for a declaration (probe, before C7; pci.c), created if @create.
 * Return: the record with dev->lock held; NULL with *ret = -EINVAL (none, or @mdev NULL),
 * -EBUSY (C7 ran) or -ENOMEM.
 */
struct umdev__vfio_device *umdev__vfio_lock_declared(struct umdev_mdev *mdev, bool create,
						     int *ret);
/* Return: the record of @mdev with a device model, in any state up to LIVE, dev->lock held;
 * NULL (-ENOTCONN to the caller): none, no umdev_pci_init(), or detached (R4). */
struct umdev__vfio_device *umdev__vfio_lock_model(struct umdev_mdev *mdev);
/* Free the record of @mdev if it is still DECLARED (umdev_pci_fini()); else nothing. */
void umdev__vfio_declared_free(struct umdev_mdev *mdev);

/* ---- irq.c: callers hold dev->lock (checked), except for umdev__irq_init() ---- */
void umdev__irq_init(struct umdev__irq *irq);
void umdev__irq_intx_eval(struct umdev__vfio_device *dev);
void umdev__irq_release_all(struct umdev__vfio_device *dev);
unsigned int umdev__irq_count(const struct umdev__vfio_device *dev, unsigned int index);
uint32_t umdev__irq_flags(unsigned int index);
void umdev__irq_reset(struct umdev__vfio_device *dev);
void umdev__irq_msi_eval(struct umdev__vfio_device *dev);

/* ---- dma.c: callers of these two hold dev->lock (checked) ---- */
void umdev__dma_release_all(struct umdev__vfio_device *dev);
/* §4.4 step 1: fail every message transfer with -ENOTCONN and refuse new ones */
void umdev__dma_abort_all(struct umdev__vfio_device *dev);
/*
 * Route the client's reply (type 1) to the sent request @msg_id: @err is the reply's errno
 * (Error bit set) or 0, @payload/@len its payload. Return: whether a request took it.
 */
bool umdev__dma_reply(struct umdev__vfio_device *dev, uint16_t msg_id, uint32_t err,
		      const uint8_t *payload, size_t len);

/* ---- clientfd.c: a client's fds, never blocking (see the top of clientfd.c) ---- */

/* A device's closes that may wait: past it, the device reads nothing more (server.c). */
#define VFIO_CLOSE_PENDING_MAX 32u

struct umdev__closing;

/*
 * One device's deferred closes (clientfd.c). Shared by the device's server thread and the
 * closer threads; it outlives the device if a close is still pending at R4, which never waits
 * for one.
 */
struct umdev__close_budget {
	atomic_uint pending; /* fds handed to closer threads, not yet closed */
	atomic_uint refs; /* the device's (put at R4), plus one per pending fd; last put frees */
	/* under clientfd.c's closers.lock: */
	unsigned int active; /* records queued or being closed; at most VFIO_CLOSE_PENDING_MAX */
	struct umdev__closing *overflow, **overflow_tail; /* the rest, until one is done */
};

/* The budget the calling thread's deferred closes count against; NULL: none (the server
 * thread sets its device's). */
extern _Thread_local struct umdev__close_budget *umdev__close_budget_cur;
struct umdev__close_budget *umdev__close_budget_new(void);
void umdev__close_budget_put(struct umdev__close_budget *b);

/* Set up the process-wide AIO context once. Return: false without AIO. */
bool umdev__clientfd_init(void);
/* Close a client's fd without waiting for anyone: at once, or on a closer thread. */
void umdev__clientfd_close(int fd);
/* Whether @fd is a memory file (memfd, tmpfs, hugetlbfs); asks nothing of its file system. */
bool umdev__clientfd_is_memory(int fd);
/* Signal @fd (-1: none) as the kernel's eventfd_signal() does: saturating, never sleeping. */
void umdev__eventfd_signal(int fd);
/* Read and reset @fd's counter without sleeping. Return: whether it was non-zero. */
bool umdev__eventfd_drain(int fd);

/* ---- messages and sessions (session.c) ---- */

/* One received message: header fields, payload and its fds. */
struct umdev__vfio_msg {
	uint16_t msg_id;
	uint16_t command;
	uint32_t msg_size;
	uint32_t flags;
	uint32_t error;
	uint8_t *payload; /* msg_size - 16 bytes */
	size_t len;
	int fds[VFIO_USER_RX_FDS_MAX];
	unsigned int nr_fds; /* kept in fds[] */
	unsigned int nr_fds_total; /* received; more than nr_fds means some were closed */
};

/* One reply under construction: payload (owned) and fds (owned until sent). */
struct umdev__vfio_reply {
	uint8_t *payload;
	size_t len;
	int fds[1];
	unsigned int nr_fds;
};

/* A command's payload as the command table's decoder left it (session.c, wire.h). */
union umdev__vfio_args {
	struct vfio_user_version version;
	struct vfio_user_dma_map dma_map;
	struct vfio_user_dma_unmap dma_unmap;
	uint32_t argsz; /* DEVICE_GET_INFO */
	struct vfio_region_info region_info;
	struct vfio_user_region_io_fds io_fds;
	struct vfio_irq_info irq_info;
	struct vfio_user_set_irqs set_irqs;
	struct vfio_user_region_access access; /* REGION_READ, REGION_WRITE */
	uint64_t wr_cnt; /* REGION_WRITE_MULTI: entries via umdev__wire_write_multi_entry() */
};

enum umdev__session_state {
	VFIO_SESSION_HANDSHAKE,
	VFIO_SESSION_ACTIVE,
};

/* Negotiated values (vfio-user.md §7). */
struct umdev__vfio_caps {
	unsigned int major, minor;
	unsigned int max_msg_fds; /* client's; default 1 */
	uint32_t max_data_xfer_size; /* client's; default 1048576 */
	bool write_multiple;
	bool proposed[8]; /* see VFIO_CAP_* in session.c */
};

struct umdev__vfio_session {
	struct umdev__vfio_device *dev;
	int fd; /* the connection; -1 in unit tests */
	int twin_fd; /* our end of the twin socket (§7.4); -1: none */
	enum umdev__session_state state;
	struct umdev__vfio_caps caps;
	bool opened; /* open_device succeeded; close_device due */
	/* receive state of the message being read */
	uint8_t hdr[VFIO_USER_HDR_SIZE];
	size_t have;
	struct umdev__vfio_msg rx;
	/* rate limit of client-error logging (C8) */
	uint64_t log_window_ms;
	unsigned int log_count;
};

/*
 * umdev__vfio_handle() - execute one complete message of a session (validation, side effects)
 * and build its reply. Adopts or closes every fd of @msg.
 * Return: 0 with @reply filled; a negative errno for the error reply; the session flags
 * fatal errors in @ret_fatal (connection closes after the reply).
 */
int umdev__vfio_handle(struct umdev__vfio_session *s, struct umdev__vfio_msg *msg,
		       struct umdev__vfio_reply *reply, bool *ret_fatal);
/* session object for @dev (fd may be -1 in unit tests); NULL on -ENOMEM */
struct umdev__vfio_session *umdev__vfio_session_new(struct umdev__vfio_device *dev, int fd);
/* teardown of §4.4 and free; closes fd */
void umdev__vfio_session_free(struct umdev__vfio_session *s);
void umdev__vfio_msg_close_fds(struct umdev__vfio_msg *msg);
void umdev__vfio_reply_free(struct umdev__vfio_reply *reply);
/* Check the 16-byte header's msg_size. Return: 0, or -EINVAL / -E2BIG (fatal: close after
 * reply). The same as umdev__wire_check_size(); kept for the unit tests. */
int umdev__vfio_check_header(uint32_t msg_size);
/* command handlers outside session.c; they take dev->lock themselves */
/* What SET_IRQS changed, for the driver's set_irqs callback; action 0: nothing. */
struct umdev__irq_change {
	unsigned int index, start, count;
	enum umdev_irq_action action;
};
/* SET_IRQS @set (decoded by the command table) with the fds of @msg */
int umdev__irq_set(struct umdev__vfio_device *dev, const struct vfio_user_set_irqs *set,
		   struct umdev__vfio_msg *msg, struct umdev__irq_change *ret_change);
/* the unmask eventfd @fd polled readable (server thread): drain it, then unmask (§8.8) */
void umdev__irq_unmask_event(struct umdev__vfio_device *dev, int fd);
/* DMA_MAP @m with the fd of @msg, if any (adopted on success) */
int umdev__dma_map(struct umdev__vfio_device *dev, const struct vfio_user_dma_map *m,
		   struct umdev__vfio_msg *msg);
/* DMA_UNMAP @u; the reply echoes it */
int umdev__dma_unmap(struct umdev__vfio_device *dev, const struct vfio_user_dma_unmap *u,
		     struct umdev__vfio_reply *reply);
/* Remove every mapping, telling the driver of each (DMA_UNMAP's FLAG_ALL, §4.4 step 2). */
void umdev__dma_unmap_all(struct umdev__vfio_device *dev);
/* server thread main loop (server.c) */
void *umdev__vfio_server_thread(void *arg);

/* set while a server callback runs on this thread (message DMA -> -EDEADLK) */
extern _Thread_local bool umdev__vfio_in_callback;

#endif
