// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the vfio-user command handler umdev__vfio_handle() (src/vfio/session.c)
 * called directly, without the socket and the server thread, against live mtty devices:
 * the same inputs as fuzz_vfio_user (its seeds, dictionary and options are this target's
 * too, by symlink), run several times faster and deterministically. Framing is the server's
 * and is not reached here; fuzz_vfio_user covers it.
 *
 * Input: the format of fuzz_vfio_user.c. Option bit 0 picks the device; the other option bits
 * and ctl bits 6-7 (msg_size, split) have no meaning here. As the server does, a message of
 * type 1 (a reply) is not handed to the handler, and a fatal result ends the session.
 *
 * Checks beyond the sanitizers, from private.h and vfio-user.md:
 *  - the handler adopts or closes every fd of a message (§6.2) and returns 0 or an errno;
 *  - a failed command leaves no reply; a reply carries at most one fd;
 *  - VERSION (§7.3): it succeeds only for a request every rule accepts, always for a bare one
 *    opening a session, and its reply has major 0, minor min(client's, 2) and exactly the
 *    capabilities the client proposed, with the server's values (a model written from the
 *    tables of §7.2-§7.4, parsing the request with json-c as a client library would);
 *  - a driver DMA (umdev_dma_read/write, §10.1) that a record asks for in its header's error
 *    field, unused in commands (bit 0 write, bits 1-7 the length 0-127, bits 8-31 the IOVA
 *    in units of 16 bytes), made after its message: the result is the one a model of the
 *    client's mappings predicts, and a write reads back;
 *  - after the session's teardown (§4.4) no DMA mapping, no eventfd and no session remain,
 *    config space and UART registers 1-7 read as at power-on (mtty.md §8), and the process
 *    holds exactly the fds it held before the input.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>

#include "private.h"
#include "fuzz_mtty.h"

#define HDR 16
#define CTL_NR_FDS 0x0fu
#define CTL_KIND_SHIFT 4
#define UART_REGS 7 /* offsets 1-7; reading RBR (0) pops */
#define MAX_DMA_MAPS 16 /* fuzz_mtty_start()'s vfio-max-dma-maps */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct target {
	struct umdev_mdev *mdev;
	struct umdev__vfio_device *dev;
	unsigned int nr_ports;
	uint8_t cfg[UMDEV_PCI_CONFIG_SIZE]; /* at power-on */
	uint8_t uart[2][UART_REGS];
};

static struct target targets[2];
static bool trace; /* FUZZ_TRACE set: print every command's and DMA's result */

/* Config space and UART registers 1-7 of every port, as a client reads them. */
static void state_read(const struct target *t, uint8_t cfg[UMDEV_PCI_CONFIG_SIZE],
		       uint8_t uart[2][UART_REGS])
{
	umdev__mutex_lock(&t->dev->lock);
	umdev__pci_read(&t->dev->pci, 0, cfg, UMDEV_PCI_CONFIG_SIZE);
	umdev__mutex_unlock(&t->dev->lock);
	for (unsigned int port = 0; port < t->nr_ports; port++)
		for (unsigned int off = 1; off <= UART_REGS; off++)
			if (t->dev->ops->region_read(t->mdev, port, off, &uart[port][off - 1], 1) !=
			    1)
				fuzz_bug("port %u: read of UART offset %u failed", port, off);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_mtty_start(false);
	targets[0] = (struct target){.mdev = fuzz_mtty_create(2, "pty"), .nr_ports = 2};
	targets[1] = (struct target){.mdev = fuzz_mtty_create(1, "loopback"), .nr_ports = 1};
	for (unsigned int i = 0; i < 2; i++) {
		targets[i].dev = umdev__vfio_device_find(targets[i].mdev);
		if (!targets[i].dev)
			fuzz_bug("device %u has no vfio device", i);
		state_read(&targets[i], targets[i].cfg, targets[i].uart);
	}
	trace = getenv("FUZZ_TRACE");
	return 0;
}

/* @v is a JSON integer in [@lo, @hi]. */
static bool int_in(struct json_object *v, int64_t lo, int64_t hi)
{
	return json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= lo &&
	       json_object_get_int64(v) <= hi;
}

/* The reply's capability @key: absent when @want is NULL, else equal to @want (JSON text). */
static void expect_cap(struct json_object *caps, const char *key, const char *want)
{
	struct json_object *v;
	const char *got;

	if (!json_object_object_get_ex(caps, key, &v)) {
		if (want)
			fuzz_bug("VERSION reply lacks proposed capability '%s'", key);
		return;
	}
	got = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
	if (!want)
		fuzz_bug("VERSION reply has capability '%s' the client did not propose", key);
	if (strcmp(got, want))
		fuzz_bug("VERSION reply capability '%s' is %s, not %s", key, got, want);
}

/*
 * §7.2-§7.4 for a VERSION of payload @p (@len bytes, @nr_fds fds) that returned @ret and
 * @reply, sent while the session was in @handshake state or not.
 */
static void check_version(const uint8_t *p, size_t len, unsigned int nr_fds, bool handshake,
			  int ret, const struct umdev__vfio_reply *reply)
{
	struct json_object *req = NULL, *caps = NULL, *rep, *rcaps, *v, *sup;
	bool twin = false;
	unsigned int fds = 1; /* max_msg_fds default */
	char want[32];

	if (ret < 0) {
		if (handshake && len == 4 && !nr_fds && !p[0] && !p[1])
			fuzz_bug("a bare VERSION 0.x opening a session failed: %d", ret);
		return;
	}
	if (!handshake || len < 4 || nr_fds || p[0] || p[1] || (len > 4 && p[len - 1]))
		fuzz_bug("VERSION succeeded against §7.3 (session open %d, %zu bytes, %u fds)",
			 !handshake, len, nr_fds);
	if (len > 4) {
		for (size_t i = 4 + strlen((const char *)p + 4) + 1; i < len; i++)
			if (p[i]) /* the field is one string; NULs may pad it (§7.1) */
				fuzz_bug("VERSION succeeded with bytes after its JSON's NUL");
		req = json_tokener_parse((const char *)p + 4);
		if (!json_object_is_type(req, json_type_object))
			fuzz_bug("VERSION succeeded with JSON that is no object");
		if (json_object_object_get_ex(req, "capabilities", &caps) &&
		    !json_object_is_type(caps, json_type_object))
			fuzz_bug("VERSION succeeded with capabilities that are no object");
	}
	if (caps) {
		if (json_object_object_get_ex(caps, "max_msg_fds", &v)) {
			if (!int_in(v, 0, 1024))
				fuzz_bug("VERSION succeeded with a bad max_msg_fds");
			fds = (unsigned int)json_object_get_int64(v);
		}
		if (json_object_object_get_ex(caps, "max_data_xfer_size", &v) &&
		    !int_in(v, 1, 67108864))
			fuzz_bug("VERSION succeeded with a bad max_data_xfer_size");
		if ((json_object_object_get_ex(caps, "pgsizes", &v) &&
		     !json_object_is_type(v, json_type_int)) ||
		    (json_object_object_get_ex(caps, "max_dma_maps", &v) &&
		     !json_object_is_type(v, json_type_int)) ||
		    (json_object_object_get_ex(caps, "migration", &v) &&
		     !json_object_is_type(v, json_type_object)) ||
		    (json_object_object_get_ex(caps, "write_multiple", &v) &&
		     !json_object_is_type(v, json_type_boolean)))
			fuzz_bug("VERSION succeeded with a capability of the wrong type");
		if (json_object_object_get_ex(caps, "twin_socket", &v)) {
			if (!json_object_is_type(v, json_type_object))
				fuzz_bug("VERSION succeeded with a twin_socket that is no object");
			if (json_object_object_get_ex(v, "supported", &sup)) {
				if (!json_object_is_type(sup, json_type_boolean))
					fuzz_bug(
					    "VERSION succeeded with a bad twin_socket.supported");
				twin = json_object_get_boolean(sup) && fds >= 1;
			}
		}
	}
	/* the reply: major 0, minor min(client's, 2), JSON with exactly what was proposed */
	if (reply->len < 5 || reply->payload[reply->len - 1] || fuzz_le16(reply->payload) != 0 ||
	    fuzz_le16(reply->payload + 2) != (fuzz_le16(p + 2) < 2 ? fuzz_le16(p + 2) : 2))
		fuzz_bug("VERSION reply header or NUL wrong");
	rep = json_tokener_parse((const char *)reply->payload + 4);
	if (!rep || !json_object_object_get_ex(rep, "capabilities", &rcaps) ||
	    !json_object_is_type(rcaps, json_type_object) || json_object_object_length(rep) != 1)
		fuzz_bug("VERSION reply JSON is not {\"capabilities\":{...}}");
	expect_cap(rcaps, "max_msg_fds",
		   caps && json_object_object_get_ex(caps, "max_msg_fds", NULL) ? "8" : NULL);
	expect_cap(rcaps, "max_data_xfer_size",
		   caps && json_object_object_get_ex(caps, "max_data_xfer_size", NULL) ? "1048576"
										       : NULL);
	expect_cap(rcaps, "pgsizes",
		   caps && json_object_object_get_ex(caps, "pgsizes", NULL) ? "4096" : NULL);
	snprintf(want, sizeof(want), "%u", MAX_DMA_MAPS);
	expect_cap(rcaps, "max_dma_maps",
		   caps && json_object_object_get_ex(caps, "max_dma_maps", NULL) ? want : NULL);
	expect_cap(rcaps, "write_multiple",
		   caps && json_object_object_get_ex(caps, "write_multiple", &v) &&
			   json_object_get_boolean(v)
		       ? "true"
		       : NULL);
	expect_cap(rcaps, "twin_socket", twin ? "{\"supported\":true,\"fd_index\":0}" : NULL);
	if (json_object_object_length(rcaps) !=
	    (caps && json_object_object_get_ex(caps, "max_msg_fds", NULL)) +
		(caps && json_object_object_get_ex(caps, "max_data_xfer_size", NULL)) +
		(caps && json_object_object_get_ex(caps, "pgsizes", NULL)) +
		(caps && json_object_object_get_ex(caps, "max_dma_maps", NULL)) +
		(caps && json_object_object_get_ex(caps, "write_multiple", &v) &&
		 json_object_get_boolean(v)) +
		twin)
		fuzz_bug("VERSION reply has capabilities nobody asked for");
	if (reply->nr_fds != twin)
		fuzz_bug("VERSION reply with %u fds, twin socket %d", reply->nr_fds, twin);
	json_object_put(rep);
	json_object_put(req);
}

/*
 * The result §10.1 gives a driver DMA of [@iova, @iova + @len) with the mappings of @dev:
 * -ENOTCONN without a session; -EFAULT a byte not mapped; -EPERM a mapping without the
 * access; else fd-backed pieces copy (the fuzzer's memfds are never truncated) and the first
 * piece without fd fails -ENOTCONN, as there is no server thread to carry it.
 */
static int dma_model(struct umdev__vfio_device *dev, uint64_t iova, size_t len, bool write)
{
	uint32_t need = write ? 2 : 1; /* VFIO_DMA_MAP_FLAG_WRITE, _READ */
	uint64_t cur = iova, end = iova + len - 1;
	bool perm = true, msg = false;
	int ret = 0;

	umdev__mutex_lock(&dev->lock);
	if (!dev->session_open)
		ret = -ENOTCONN;
	while (ret == 0 && len) {
		const struct umdev__dma_map *m = NULL;

		for (unsigned int i = 0; i < dev->dma.nr && !m; i++) /* a plain scan, no search */
			if (dev->dma.maps[i].iova <= cur &&
			    cur - dev->dma.maps[i].iova < dev->dma.maps[i].size)
				m = &dev->dma.maps[i];
		if (!m) {
			ret = -EFAULT;
			break;
		}
		perm = perm && (m->flags & need);
		msg = msg || m->fd < 0;
		if (end - m->iova < m->size)
			break;
		cur = m->iova + m->size;
	}
	umdev__mutex_unlock(&dev->lock);
	if (ret == 0 && len && !perm)
		ret = -EPERM;
	else if (ret == 0 && len && msg)
		ret = -ENOTCONN;
	return ret;
}

static void dma_probe(const struct target *t, uint32_t e)
{
	uint64_t iova = (uint64_t)(e >> 8) << 4;
	size_t len = (e >> 1) & 0x7f;
	bool write = e & 1;
	uint8_t out[128], in[128];
	int want = dma_model(t->dev, iova, len, write), ret;

	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(e + i);
	ret = write ? umdev_dma_write(t->mdev, iova, out, len)
		    : umdev_dma_read(t->mdev, iova, in, len);
	if (trace)
		fprintf(stderr, "DMA %s of %zu bytes at 0x%llx: %d\n", write ? "write" : "read",
			len, (unsigned long long)iova, ret);
	if (ret != want)
		fuzz_bug("DMA %s of %zu bytes at 0x%llx: %d, the model says %d",
			 write ? "write" : "read", len, (unsigned long long)iova, ret, want);
	if (write && ret == 0 && dma_model(t->dev, iova, len, false) == 0) {
		if (umdev_dma_read(t->mdev, iova, in, len) != 0 || memcmp(in, out, len))
			fuzz_bug("DMA write of %zu bytes at 0x%llx does not read back", len,
				 (unsigned long long)iova);
	}
}

/* Hand one record to the handler. Return: false when the session must end (fatal). */
static bool message_run(const struct target *t, struct umdev__vfio_session *s, uint8_t ctl,
			const uint8_t *h, const uint8_t *payload, size_t len)
{
	struct umdev__vfio_msg msg = {0};
	struct umdev__vfio_reply reply = {0};
	unsigned int nr_fds = ctl & CTL_NR_FDS;
	bool fatal = false, handshake;
	int ret;

	msg.msg_id = fuzz_le16(h);
	msg.command = fuzz_le16(h + 2);
	msg.msg_size = (uint32_t)(HDR + len);
	msg.flags = fuzz_le32(h + 8);
	msg.error = fuzz_le32(h + 12);
	if ((msg.flags & VFIO_USER_F_TYPE_MASK) == VFIO_USER_F_TYPE_REPLY)
		return true; /* the server routes replies elsewhere (server.c) */
	msg.payload = malloc(len ? len : 1); /* exactly len bytes: ASan sees any overread */
	if (!msg.payload)
		fuzz_bug("out of memory");
	memcpy(msg.payload, payload, len);
	msg.len = len;
	for (unsigned int k = 0; k < VFIO_USER_RX_FDS_MAX; k++)
		msg.fds[k] = -1;
	for (unsigned int k = 0; k < nr_fds; k++) {
		int fd = fuzz_fd_make(((ctl >> CTL_KIND_SHIFT) & 3) + k);

		if (fd >= 0)
			msg.fds[msg.nr_fds++] = fd;
	}
	msg.nr_fds_total = msg.nr_fds;
	handshake = s->state == VFIO_SESSION_HANDSHAKE;
	ret = umdev__vfio_handle(s, &msg, &reply, &fatal);
	if (trace)
		fprintf(stderr, "command %u: %d%s\n", msg.command, ret, fatal ? ", fatal" : "");
	for (unsigned int k = 0; k < VFIO_USER_RX_FDS_MAX; k++)
		if (msg.fds[k] != -1)
			fuzz_bug("command %u: fd %u of the message neither adopted nor closed",
				 msg.command, k);
	if (ret > 0 || ret < -4095)
		fuzz_bug("command %u returned %d", msg.command, ret);
	if (ret < 0 && (reply.payload || reply.nr_fds))
		fuzz_bug("command %u failed (%d) leaving a reply", msg.command, ret);
	if (reply.nr_fds > 1)
		fuzz_bug("command %u: reply with %u fds", msg.command, reply.nr_fds);
	if (msg.command == 1 && (msg.flags & VFIO_USER_F_TYPE_MASK) == VFIO_USER_F_TYPE_COMMAND)
		check_version(payload, len, msg.nr_fds_total, handshake, ret, &reply);
	umdev__vfio_reply_free(&reply);
	free(msg.payload);
	if (msg.error)
		dma_probe(t, msg.error);
	return !fatal;
}

static void check_teardown(const struct target *t)
{
	struct umdev__vfio_device *dev = t->dev;
	uint8_t cfg[UMDEV_PCI_CONFIG_SIZE], uart[2][UART_REGS];
	bool clean;

	umdev__mutex_lock(&dev->lock);
	clean = dev->dma.nr == 0 && !dev->session_open && dev->irq.intx_trigger < 0 &&
		dev->irq.intx_unmask < 0 && dev->irq.err_trigger < 0 && dev->irq.req_trigger < 0;
	for (unsigned int i = 0; i < VFIO_IRQ_MSI_MAX; i++)
		clean = clean && dev->irq.msi_trigger[i] < 0;
	umdev__mutex_unlock(&dev->lock);
	if (!clean)
		fuzz_bug("teardown left DMA mappings, eventfds or the session (§4.4)");
	state_read(t, cfg, uart);
	for (unsigned int i = 0; i < UMDEV_PCI_CONFIG_SIZE; i++)
		if (cfg[i] != t->cfg[i])
			fuzz_bug(
			    "after teardown config offset 0x%02x reads 0x%02x, at power-on 0x%02x",
			    i, cfg[i], t->cfg[i]);
	for (unsigned int port = 0; port < t->nr_ports; port++)
		for (unsigned int i = 0; i < UART_REGS; i++)
			if (uart[port][i] != t->uart[port][i])
				fuzz_bug(
				    "after teardown port %u offset %u reads 0x%02x, at power-on "
				    "0x%02x",
				    port, i + 1, uart[port][i], t->uart[port][i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct target *t;
	struct umdev__vfio_session *s;
	unsigned int fds_before = fuzz_nr_open_fds(), fds_after;
	size_t i = 1;
	int fd;

	if (size < 1)
		return 0;
	t = &targets[data[0] & 1];
	fd = open("/dev/null", O_RDWR | O_CLOEXEC); /* the connection: a twin socket needs one */
	s = fd >= 0 ? umdev__vfio_session_new(t->dev, fd) : NULL;
	if (!s)
		fuzz_bug("no session");
	while (size - i >= 3 + HDR) {
		uint8_t ctl = data[i];
		size_t len = fuzz_le16(data + i + 1);

		i += 3;
		if (len > size - i - HDR)
			break; /* cut short */
		if (!message_run(t, s, ctl, data + i, data + i + HDR, len))
			break;
		i += HDR + len;
	}
	umdev__vfio_session_free(s); /* teardown (§4.4); closes fd */
	check_teardown(t);
	/*
	 * fds whose close could wait (a character device, a regular file) are closed by the vfio
	 * module's detached closer threads (src/vfio/clientfd.c), so they may still be open here:
	 * give them a moment rather than call it a leak.
	 */
	for (unsigned int ms = 0; (fds_after = fuzz_nr_open_fds()) != fds_before; ms += 5) {
		if (ms >= 2000)
			fuzz_bug("%u fds open before the session, %u after", fds_before, fds_after);
		usleep(5000);
	}
	return 0;
}
