/* SPDX-License-Identifier: MIT */
/*
 * 16550A UART register model of one mtty port (mtty.md §5, §6.4-§6.9, §7.5, §8, §9).
 * Every function runs under the caller's device lock; see uart.h for the contract. The model
 * does not know that lock: the glue (device.c) asserts it in the ops and its helpers.
 */
#include "uart.h"

#include <errno.h>
#include <string.h>
#include <linux/serial_reg.h>

#define IER_MASK 0x0f /* IER bits 7:4 ignored on write, read 0 (§6.4) */
#define MCR_MASK 0x1f /* DTR, RTS, OUT1, OUT2, LOOP (§6.6) */
/* FCR bits kept when FCR[0] = 1: enable, DMA mode, RX trigger (§6.6, §9) */
#define FCR_STORED (UART_FCR_ENABLE_FIFO | UART_FCR_DMA_SELECT | UART_FCR_TRIGGER_MASK)
#define IIR_FIFO_BITS 0xc0 /* IIR bits 7:6 when FIFOs are on (§6.7) */
#define LSR_TX_EMPTY (UART_LSR_THRE | UART_LSR_TEMT)
/* Modem inputs outside loopback, both backends: DCD, DSR, CTS; RI = 0 (§6.6) */
#define MSR_INPUTS_NORMAL (UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS)

/* Image record layout (mtty.md §9): byte offsets inside one port's 32 bytes */
enum {
	IMG_IER,
	IMG_LCR,
	IMG_MCR,
	IMG_SCR,
	IMG_DLL,
	IMG_DLM,
	IMG_FCR,
	IMG_FLAGS,
	IMG_MSR_DELTA,
	IMG_RX_COUNT,
	IMG_RX_BYTES,
	IMG_RESERVED = IMG_RX_BYTES + MTTY_UART_FIFO_SIZE,
};
#define IMG_FLAG_OE 0x01
#define IMG_FLAG_THRE 0x02

_Static_assert(IMG_RESERVED + 6 == MTTY_UART_IMAGE_SIZE, "mtty.md §9 port record is 32 bytes");

static bool fifo_enabled(const struct mtty_uart *u)
{
	return u->fcr & UART_FCR_ENABLE_FIFO;
}

/* §5.1: 16 bytes in FIFO mode, the 1-byte holding register otherwise */
static unsigned int rx_capacity(const struct mtty_uart *u)
{
	return fifo_enabled(u) ? MTTY_UART_FIFO_SIZE : 1;
}

static void rx_clear(struct mtty_uart *u)
{
	u->rx_head = 0;
	u->rx_count = 0;
}

/* One byte arrives at the receiver, from the far end or looped back (§5.1). */
static bool rx_enqueue(struct mtty_uart *u, uint8_t byte)
{
	if (u->rx_count >= rx_capacity(u)) {
		u->oe = true; /* the FIFO keeps its contents; the new byte is lost */
		u->rx_overruns++;
		return false;
	}
	u->rx[(u->rx_head + u->rx_count) % MTTY_UART_FIFO_SIZE] = byte;
	u->rx_count++;
	u->rx_bytes++;
	return true;
}

static uint8_t rx_pop(struct mtty_uart *u)
{
	uint8_t byte;

	if (u->rx_count == 0)
		return 0x00; /* §6.9: deterministic 0x00, nothing changes */
	byte = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % MTTY_UART_FIFO_SIZE;
	u->rx_count--;
	return byte;
}

/* MSR bits 7:4 for a given MCR: fixed outside loopback, wired to MCR inside (§6.8). */
static uint8_t modem_inputs(uint8_t mcr)
{
	uint8_t in = 0;

	if (!(mcr & UART_MCR_LOOP))
		return MSR_INPUTS_NORMAL;
	if (mcr & UART_MCR_DTR)
		in |= UART_MSR_DSR;
	if (mcr & UART_MCR_RTS)
		in |= UART_MSR_CTS;
	if (mcr & UART_MCR_OUT1)
		in |= UART_MSR_RI;
	if (mcr & UART_MCR_OUT2)
		in |= UART_MSR_DCD;
	return in;
}

/* IIR bits 3:0: the highest-priority source both enabled and active (§6.7 table). */
static uint8_t iir_id(const struct mtty_uart *u)
{
	if ((u->ier & UART_IER_RLSI) && u->oe)
		return UART_IIR_RLSI;
	if ((u->ier & UART_IER_RDI) && u->rx_count > 0) /* threshold always 1 (§6.9) */
		return UART_IIR_RDI;
	if ((u->ier & UART_IER_THRI) && u->thre_latch)
		return UART_IIR_THRI;
	if ((u->ier & UART_IER_MSI) && (u->msr_delta & UART_MSR_ANY_DELTA))
		return UART_IIR_MSI;
	return UART_IIR_NO_INT;
}

void mtty_uart_init(struct mtty_uart *u, const struct mtty_uart_ops *ops, void *opaque)
{
	memset(u, 0, sizeof(*u));
	u->ops = ops;
	u->opaque = opaque;
	mtty_uart_reset(u);
}

void mtty_uart_set_loopback_backend(struct mtty_uart *u, bool loopback)
{
	u->loopback_backend = loopback;
}

void mtty_uart_reset(struct mtty_uart *u)
{
	/* §6.5; LSR (0x60) and MSR (0xB0) follow from the state below */
	u->ier = 0;
	u->lcr = 0;
	u->mcr = 0;
	u->scr = 0;
	u->dll = 0;
	u->dlm = 0;
	u->fcr = 0;
	u->msr_delta = 0;
	u->oe = false;
	u->thre_latch = false;
	memset(u->rx, 0, sizeof(u->rx));
	rx_clear(u);
}

static void write_thr(struct mtty_uart *u, uint8_t val)
{
	const struct mtty_uart_ops *ops = u->ops;

	u->tx_bytes++;
	u->thre_latch = false; /* §6.6: the write clears the latch ... */
	if ((u->mcr & UART_MCR_LOOP) || u->loopback_backend) {
		/* §6.8 internal loopback / §5.4 sample backend: into the own RX FIFO */
		(void)rx_enqueue(u, val);
	} else if (!ops || !ops->transmit || !ops->transmit(u->opaque, val)) {
		u->tx_dropped++; /* §5.2: not attached, or the pty did not take it */
	}
	u->thre_latch = true; /* ... and the instantaneous emptying sets it again (§5.1) */
}

static void write_ier(struct mtty_uart *u, uint8_t val)
{
	uint8_t old = u->ier;

	u->ier = val & IER_MASK;
	if (!(old & UART_IER_THRI) && (u->ier & UART_IER_THRI))
		u->thre_latch = true; /* ETBEI 0 -> 1 with THR empty (§6.7, §7.5, T-43) */
	else if ((old & UART_IER_THRI) && !(u->ier & UART_IER_THRI))
		u->thre_latch = false; /* clearing ETBEI clears the source (§6.7) */
}

static void write_fcr(struct mtty_uart *u, uint8_t val)
{
	bool on = val & UART_FCR_ENABLE_FIFO;

	if (on != fifo_enabled(u))
		rx_clear(u); /* changing bit 0 clears both FIFOs; TX is always empty */
	if (!on) {
		u->fcr = 0; /* bits 1-7 ignored when bit 0 of the value is 0 */
		return;
	}
	if (val & UART_FCR_CLEAR_RCVR)
		rx_clear(u);
	/* UART_FCR_CLEAR_XMIT: the TX FIFO is empty at every observation point (§5.1) */
	u->fcr = val & FCR_STORED;
}

static void write_mcr(struct mtty_uart *u, uint8_t val)
{
	uint8_t before = modem_inputs(u->mcr);
	uint8_t after = modem_inputs(val & MCR_MASK);
	uint8_t changed = before ^ after;

	u->mcr = val & MCR_MASK;
	/* §6.6, §6.8: a delta for every input that changed; TERI only on RI 1 -> 0 */
	if (changed & UART_MSR_CTS)
		u->msr_delta |= UART_MSR_DCTS;
	if (changed & UART_MSR_DSR)
		u->msr_delta |= UART_MSR_DDSR;
	if (changed & UART_MSR_DCD)
		u->msr_delta |= UART_MSR_DDCD;
	if ((before & UART_MSR_RI) && !(after & UART_MSR_RI))
		u->msr_delta |= UART_MSR_TERI;
}

static void write_lcr(struct mtty_uart *u, uint8_t val)
{
	const struct mtty_uart_ops *ops = u->ops;

	u->lcr = val;
	if (!(val & UART_LCR_DLAB) && ops && ops->line_changed)
		ops->line_changed(u->opaque, mtty_uart_divisor(u), val); /* §4.4 */
}

void mtty_uart_write(struct mtty_uart *u, unsigned int offset, uint8_t val)
{
	bool dlab = u->lcr & UART_LCR_DLAB;

	switch (offset) {
	case UART_TX: /* also UART_DLL */
		if (dlab)
			u->dll = val; /* plain storage (§6.4) */
		else
			write_thr(u, val);
		break;
	case UART_IER: /* also UART_DLM */
		if (dlab)
			u->dlm = val;
		else
			write_ier(u, val);
		break;
	case UART_FCR:
		write_fcr(u, val);
		break;
	case UART_LCR:
		write_lcr(u, val);
		break;
	case UART_MCR:
		write_mcr(u, val);
		break;
	case UART_LSR:
	case UART_MSR:
		break; /* read-only: ignored (§6.4) */
	case UART_SCR:
		u->scr = val;
		break;
	default:
		break; /* outside the BAR: the glue refuses these (§6.3) */
	}
}

static uint8_t read_iir(struct mtty_uart *u)
{
	uint8_t id = iir_id(u);

	if (id == UART_IIR_THRI)
		u->thre_latch = false; /* reading IIR when it reports THRE clears it (§6.7) */
	return id | (fifo_enabled(u) ? IIR_FIFO_BITS : 0);
}

static uint8_t read_lsr(struct mtty_uart *u)
{
	uint8_t lsr = LSR_TX_EMPTY; /* TX empty at every observation point (§5.1) */

	if (u->rx_count > 0)
		lsr |= UART_LSR_DR;
	if (u->oe)
		lsr |= UART_LSR_OE;
	u->oe = false; /* read clears OE; PE, FE, BI, bit 7 are never set (§6.6, §6.9) */
	return lsr;
}

static uint8_t read_msr(struct mtty_uart *u)
{
	uint8_t msr = modem_inputs(u->mcr) | u->msr_delta;

	u->msr_delta = 0; /* read clears bits 3:0 (§6.6) */
	return msr;
}

uint8_t mtty_uart_read(struct mtty_uart *u, unsigned int offset)
{
	bool dlab = u->lcr & UART_LCR_DLAB;

	switch (offset) {
	case UART_RX: /* also UART_DLL */
		return dlab ? u->dll : rx_pop(u);
	case UART_IER: /* also UART_DLM */
		return dlab ? u->dlm : u->ier;
	case UART_IIR:
		return read_iir(u);
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		return read_lsr(u);
	case UART_MSR:
		return read_msr(u);
	case UART_SCR:
		return u->scr;
	default:
		return 0xff; /* outside the BAR: the glue refuses these (§6.3) */
	}
}

size_t mtty_uart_rx_room(const struct mtty_uart *u)
{
	if ((u->mcr & UART_MCR_LOOP) || u->loopback_backend)
		return 0; /* the far end is not read (§5.1, §5.4, §6.8) */
	return rx_capacity(u) - u->rx_count;
}

size_t mtty_uart_rx_push(struct mtty_uart *u, const uint8_t *bytes, size_t n)
{
	size_t stored = 0;

	for (size_t i = 0; i < n; i++)
		stored += rx_enqueue(u, bytes[i]);
	return stored;
}

bool mtty_uart_irq_pending(const struct mtty_uart *u)
{
	return iir_id(u) != UART_IIR_NO_INT;
}

uint16_t mtty_uart_divisor(const struct mtty_uart *u)
{
	return (uint16_t)(u->dlm << 8 | u->dll);
}

speed_t mtty_uart_divisor_speed(uint16_t divisor)
{
	/* the standard rates of §4.4 */
	static const struct {
		unsigned int baud;
		speed_t speed;
	} rates[] = {
	    {50, B50},	   {75, B75},	    {150, B150},     {200, B200},     {300, B300},
	    {600, B600},   {1200, B1200},   {1800, B1800},   {2400, B2400},   {4800, B4800},
	    {9600, B9600}, {19200, B19200}, {38400, B38400}, {57600, B57600}, {115200, B115200},
	};
	unsigned int baud;

	if (divisor == 0 || 115200 % divisor != 0)
		return B0;
	baud = 115200 / divisor;
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++)
		if (rates[i].baud == baud)
			return rates[i].speed;
	return B0;
}

void mtty_uart_termios_apply(struct termios *t, uint16_t divisor, uint8_t lcr)
{
	static const tcflag_t sizes[4] = {CS5, CS6, CS7, CS8};
	tcflag_t cflag = t->c_cflag & ~(tcflag_t)(CSIZE | CSTOPB | PARENB | PARODD | CMSPAR);
	speed_t speed = mtty_uart_divisor_speed(divisor);

	cflag |= sizes[lcr & UART_LCR_WLEN8];
	if (lcr & UART_LCR_STOP)
		cflag |= CSTOPB;
	if (lcr & UART_LCR_PARITY) {
		cflag |= PARENB;
		if (!(lcr & UART_LCR_EPAR))
			cflag |= PARODD;
		if (lcr & UART_LCR_SPAR)
			cflag |= CMSPAR; /* stick parity: mark with PARODD, space without */
	}
	t->c_cflag = cflag;
	if (speed != B0) {
		(void)cfsetispeed(t, speed); /* cannot fail: speed is a valid constant */
		(void)cfsetospeed(t, speed);
	}
}

void mtty_uart_save(const struct mtty_uart *u, uint8_t image[MTTY_UART_IMAGE_SIZE])
{
	memset(image, 0, MTTY_UART_IMAGE_SIZE); /* unused RX bytes and reserved bytes are 0 */
	image[IMG_IER] = u->ier;
	image[IMG_LCR] = u->lcr;
	image[IMG_MCR] = u->mcr;
	image[IMG_SCR] = u->scr;
	image[IMG_DLL] = u->dll;
	image[IMG_DLM] = u->dlm;
	image[IMG_FCR] = u->fcr;
	image[IMG_FLAGS] = (u->oe ? IMG_FLAG_OE : 0) | (u->thre_latch ? IMG_FLAG_THRE : 0);
	image[IMG_MSR_DELTA] = u->msr_delta;
	image[IMG_RX_COUNT] = (uint8_t)u->rx_count;
	for (unsigned int i = 0; i < u->rx_count; i++)
		image[IMG_RX_BYTES + i] = u->rx[(u->rx_head + i) % MTTY_UART_FIFO_SIZE];
}

int mtty_uart_restore(struct mtty_uart *u, const uint8_t image[MTTY_UART_IMAGE_SIZE])
{
	uint8_t fcr = image[IMG_FCR];
	unsigned int capacity = (fcr & UART_FCR_ENABLE_FIFO) ? MTTY_UART_FIFO_SIZE : 1;

	/* validate everything before touching @u: a failed restore changes nothing (§9) */
	if ((image[IMG_IER] & ~IER_MASK) || (image[IMG_MCR] & ~MCR_MASK))
		return -EINVAL;
	if ((fcr & ~FCR_STORED) || (!(fcr & UART_FCR_ENABLE_FIFO) && fcr))
		return -EINVAL; /* with FIFOs off no other FCR bit can have been stored */
	if ((image[IMG_FLAGS] & ~(IMG_FLAG_OE | IMG_FLAG_THRE)) ||
	    (image[IMG_MSR_DELTA] & ~UART_MSR_ANY_DELTA))
		return -EINVAL;
	for (unsigned int i = IMG_RESERVED; i < MTTY_UART_IMAGE_SIZE; i++)
		if (image[i])
			return -EINVAL;
	if (image[IMG_RX_COUNT] > capacity)
		return -EINVAL;

	u->ier = image[IMG_IER];
	u->lcr = image[IMG_LCR];
	u->mcr = image[IMG_MCR];
	u->scr = image[IMG_SCR];
	u->dll = image[IMG_DLL];
	u->dlm = image[IMG_DLM];
	u->fcr = fcr;
	u->oe = image[IMG_FLAGS] & IMG_FLAG_OE;
	u->thre_latch = image[IMG_FLAGS] & IMG_FLAG_THRE;
	u->msr_delta = image[IMG_MSR_DELTA];
	memset(u->rx, 0, sizeof(u->rx));
	memcpy(u->rx, &image[IMG_RX_BYTES], image[IMG_RX_COUNT]);
	u->rx_head = 0;
	u->rx_count = image[IMG_RX_COUNT];
	return 0;
}
