/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the 16550A register model, src/drivers/mtty/uart.c (mtty.md §5-§9).
 *
 * Each test proves the register-level part of the mtty.md §11 item it is named after, with the
 * model alone: a fake far end stands in for the pty (transmit and termios hooks), and the
 * glue's flow-controlled reader (§5.3) is simulated with mtty_uart_rx_room()/rx_push().
 * Items that need the vfio-user server, eventfds or a real pty are left to functional tests.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <cmocka.h>
#include <linux/serial_reg.h>

#include "uart.h"

/* A far end that records what it is given (the pty of §5.2, seen from the model). */
struct far_end {
	bool attached; /* false: every byte is refused (no reader, §5.2) */
	size_t accept_max; /* bytes it takes in total before answering "EAGAIN" */
	uint8_t got[65536]; /* bytes taken, in order */
	size_t got_len;
	size_t transmit_calls;
	unsigned int line_calls; /* line_changed calls */
	uint16_t line_divisor; /* arguments of the last call */
	uint8_t line_lcr;
};

static bool fe_transmit(void *opaque, uint8_t byte)
{
	struct far_end *fe = opaque;

	fe->transmit_calls++;
	if (!fe->attached || fe->got_len >= fe->accept_max || fe->got_len >= sizeof(fe->got))
		return false;
	fe->got[fe->got_len++] = byte;
	return true;
}

static void fe_line_changed(void *opaque, uint16_t divisor, uint8_t lcr)
{
	struct far_end *fe = opaque;

	fe->line_calls++;
	fe->line_divisor = divisor;
	fe->line_lcr = lcr;
}

static const struct mtty_uart_ops fe_ops = {
    .transmit = fe_transmit,
    .line_changed = fe_line_changed,
};

struct fixture {
	struct mtty_uart u;
	struct far_end fe;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->fe.attached = true;
	f->fe.accept_max = SIZE_MAX;
	mtty_uart_init(&f->u, &fe_ops, &f->fe);
	*state = f;
	return 0;
}

/* The same port with the §5.4 loopback backend (the default of the FIFO tests, §11). */
static int setup_loopback(void **state)
{
	struct fixture *f;

	if (setup(state))
		return -1;
	f = *state;
	mtty_uart_set_loopback_backend(&f->u, true);
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static uint8_t rd(struct mtty_uart *u, unsigned int offset)
{
	return mtty_uart_read(u, offset);
}

static void wr(struct mtty_uart *u, unsigned int offset, uint8_t val)
{
	mtty_uart_write(u, offset, val);
}

static void wr_str(struct mtty_uart *u, const char *s)
{
	while (*s)
		wr(u, UART_TX, (uint8_t)*s++);
}

/* Offsets 1-7 read the T-29 power-on values. Reads have side effects only on a non-reset port. */
static void assert_power_on_regs(struct mtty_uart *u)
{
	static const uint8_t want[8] = {0, 0x00, 0x01, 0x00, 0x00, 0x60, 0xb0, 0x00};

	for (unsigned int off = 1; off < 8; off++)
		assert_int_equal(rd(u, off), want[off]);
}

/* ----- UART registers ------------------------------------------------------------------- */

static void test_T29_power_on_register_values(void **state)
{
	struct fixture *f = *state;

	assert_power_on_regs(&f->u);
	assert_power_on_regs(&f->u); /* and reading them changed nothing */
	assert_int_equal(rd(&f->u, UART_RX), 0x00);
	assert_false(mtty_uart_irq_pending(&f->u));
	assert_int_equal(f->u.tx_bytes + f->u.tx_dropped + f->u.rx_bytes + f->u.rx_overruns, 0);
	assert_int_equal(f->fe.transmit_calls, 0);
}

static void test_T30_dlab_selects_divisor_latch_and_keeps_it(void **state)
{
	struct fixture *f = *state;

	wr(&f->u, UART_IER, 0x05);
	wr(&f->u, UART_LCR, 0x80);
	wr(&f->u, UART_DLL, 0x0c);
	wr(&f->u, UART_DLM, 0x00);
	assert_int_equal(rd(&f->u, UART_DLL), 0x0c);
	assert_int_equal(rd(&f->u, UART_DLM), 0x00);
	wr(&f->u, UART_DLM, 0x12);
	assert_int_equal(rd(&f->u, UART_DLM), 0x12);
	assert_int_equal(mtty_uart_divisor(&f->u), 0x120c);
	wr(&f->u, UART_DLM, 0x00);

	wr(&f->u, UART_LCR, 0x03);
	assert_int_equal(rd(&f->u, UART_IER), 0x05); /* IER again, untouched by DLM writes */
	wr(&f->u, UART_LCR, 0x80);
	assert_int_equal(rd(&f->u, UART_DLL), 0x0c); /* plain storage: not cleared by DLAB */
	assert_int_equal(rd(&f->u, UART_DLM), 0x00);
	assert_int_equal(mtty_uart_divisor(&f->u), 12);
}

static void test_T31_dlab_offset0_neither_transmits_nor_pops(void **state)
{
	struct fixture *f = *state;
	const uint8_t in = 'q';

	assert_int_equal(mtty_uart_rx_push(&f->u, &in, 1), 1);
	wr(&f->u, UART_LCR, 0x80);
	wr(&f->u, UART_TX, 0x41);
	assert_int_equal(f->fe.transmit_calls, 0);
	assert_int_equal(f->u.tx_bytes, 0);
	assert_int_equal(rd(&f->u, UART_RX), 0x41); /* DLL, not the RX byte */
	assert_int_equal(rd(&f->u, UART_LSR), 0x61); /* the byte is still there */
	wr(&f->u, UART_LCR, 0x03);
	assert_int_equal(rd(&f->u, UART_RX), 'q');
	assert_int_equal(rd(&f->u, UART_LSR), 0x60);
}

static void test_T32_register_write_masks(void **state)
{
	struct fixture *f = *state;

	wr(&f->u, UART_LCR, 0x1b);
	assert_int_equal(rd(&f->u, UART_LCR), 0x1b);
	wr(&f->u, UART_SCR, 0xa5);
	assert_int_equal(rd(&f->u, UART_SCR), 0xa5);
	wr(&f->u, UART_IER, 0xff);
	assert_int_equal(rd(&f->u, UART_IER), 0x0f);
	wr(&f->u, UART_MCR, 0xff);
	assert_int_equal(rd(&f->u, UART_MCR), 0x1f);
	wr(&f->u, UART_MCR, 0x00);
	(void)rd(&f->u, UART_MSR); /* clear the deltas of leaving loopback */
	(void)rd(&f->u, UART_LSR);
	(void)rd(&f->u, UART_IIR); /* consume the THRE raised by IER = 0x0F */
	assert_false(mtty_uart_irq_pending(&f->u));

	/* LSR and MSR writes are ignored */
	wr(&f->u, UART_LSR, 0xff);
	wr(&f->u, UART_MSR, 0xff);
	assert_int_equal(rd(&f->u, UART_LSR), 0x60);
	assert_int_equal(rd(&f->u, UART_MSR), 0xb0);
	assert_int_equal(rd(&f->u, UART_LCR), 0x1b);
	assert_int_equal(rd(&f->u, UART_SCR), 0xa5);
	assert_int_equal(rd(&f->u, UART_IER), 0x0f);
	assert_int_equal(rd(&f->u, UART_IIR), 0x01);
}

static void test_T33_lcr_write_reflects_termios(void **state)
{
	struct fixture *f = *state;
	struct termios t;

	memset(&t, 0, sizeof(t));
	cfmakeraw(&t); /* as §4.3 step 2 */
	t.c_cflag |= CS8 | CREAD | CLOCAL;
	(void)cfsetispeed(&t, B115200);
	(void)cfsetospeed(&t, B115200);
	const tcflag_t iflag = t.c_iflag, oflag = t.c_oflag, lflag = t.c_lflag;

	wr(&f->u, UART_LCR, 0x83);
	assert_int_equal(f->fe.line_calls, 0); /* DLAB = 1: no reflection */
	wr(&f->u, UART_DLL, 0x0c);
	wr(&f->u, UART_DLM, 0x00);
	assert_int_equal(f->fe.line_calls, 0);
	wr(&f->u, UART_LCR, 0x03);
	assert_int_equal(f->fe.line_calls, 1);
	assert_int_equal(f->fe.line_divisor, 12);
	assert_int_equal(f->fe.line_lcr, 0x03);

	mtty_uart_termios_apply(&t, f->fe.line_divisor, f->fe.line_lcr);
	assert_int_equal(cfgetispeed(&t), B9600);
	assert_int_equal(cfgetospeed(&t), B9600);
	assert_int_equal(t.c_cflag & CSIZE, CS8);
	assert_int_equal(t.c_cflag & (PARENB | CSTOPB | PARODD | CMSPAR), 0);
	assert_int_equal(t.c_cflag & (CREAD | CLOCAL), CREAD | CLOCAL);
	assert_int_equal(t.c_iflag, iflag);
	assert_int_equal(t.c_oflag, oflag);
	assert_int_equal(t.c_lflag, lflag);

	wr(&f->u, UART_LCR, 0x1f);
	assert_int_equal(f->fe.line_calls, 2);
	mtty_uart_termios_apply(&t, f->fe.line_divisor, f->fe.line_lcr);
	assert_int_equal(t.c_cflag & CSIZE, CS8);
	assert_int_equal(t.c_cflag & (CSTOPB | PARENB | PARODD | CMSPAR), CSTOPB | PARENB);
	assert_int_equal(cfgetospeed(&t), B9600);
}

static void test_T33_termios_mapping_of_every_lcr_format(void **state)
{
	static const tcflag_t sizes[4] = {CS5, CS6, CS7, CS8};
	struct termios t;

	(void)state;
	for (unsigned int lcr = 0; lcr < 0x100; lcr++) {
		memset(&t, 0, sizeof(t));
		t.c_cflag = CSIZE | CSTOPB | PARENB | PARODD | CMSPAR | CREAD; /* all set before */
		mtty_uart_termios_apply(&t, 12, (uint8_t)lcr);

		tcflag_t want = CREAD | sizes[lcr & 3];
		if (lcr & 0x04)
			want |= CSTOPB;
		if (lcr & 0x08) {
			want |= PARENB;
			if (!(lcr & 0x10))
				want |= PARODD;
			if (lcr & 0x20)
				want |= CMSPAR;
		}
		assert_int_equal(t.c_cflag & ~(tcflag_t)CBAUD, want);
		assert_int_equal(cfgetospeed(&t), B9600);
	}
}

static void test_T33_standard_divisors_map_to_speeds(void **state)
{
	static const struct {
		uint16_t divisor;
		speed_t speed;
	} map[] = {
	    {2304, B50}, {1536, B75}, {768, B150}, {576, B200}, {384, B300},
	    {192, B600}, {96, B1200}, {64, B1800}, {48, B2400}, {24, B4800},
	    {12, B9600}, {6, B19200}, {3, B38400}, {2, B57600}, {1, B115200},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		assert_int_equal(mtty_uart_divisor_speed(map[i].divisor), map[i].speed);
}

static void test_T34_nonstandard_divisor_leaves_speed(void **state)
{
	struct fixture *f = *state;
	static const uint16_t odd[] = {0, 4, 5, 7, 9, 13, 1000, 2305, 0xffff};
	struct termios t;

	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		assert_int_equal(mtty_uart_divisor_speed(odd[i]), B0);

	memset(&t, 0, sizeof(t));
	(void)cfsetispeed(&t, B57600);
	(void)cfsetospeed(&t, B57600);
	wr(&f->u, UART_LCR, 0x80);
	wr(&f->u, UART_DLL, 7);
	wr(&f->u, UART_DLM, 0);
	wr(&f->u, UART_LCR, 0x02);
	assert_int_equal(f->fe.line_divisor, 7);
	mtty_uart_termios_apply(&t, f->fe.line_divisor, f->fe.line_lcr);
	assert_int_equal(cfgetispeed(&t), B57600);
	assert_int_equal(cfgetospeed(&t), B57600);
	assert_int_equal(t.c_cflag & CSIZE, CS7); /* the format is still reflected */
}

/* ----- FIFOs, LSR, overrun (loopback backend) --------------------------------------------- */

static void test_T35_iir_fifo_bits_follow_fcr0(void **state)
{
	struct fixture *f = *state;

	wr(&f->u, UART_FCR, 0x00);
	assert_int_equal(rd(&f->u, UART_IIR), 0x01);
	wr(&f->u, UART_FCR, 0x01);
	assert_int_equal(rd(&f->u, UART_IIR), 0xc1);
	wr(&f->u, UART_FCR, 0x00);
	assert_int_equal(rd(&f->u, UART_IIR), 0x01);
}

static void test_T36_sixteen_bytes_fit_and_return_in_order(void **state)
{
	struct fixture *f = *state;

	wr(&f->u, UART_FCR, 0x07);
	for (unsigned int i = 0; i < 16; i++)
		wr(&f->u, UART_TX, (uint8_t)('a' + i));
	assert_int_equal(rd(&f->u, UART_LSR), 0x61);
	for (unsigned int i = 0; i < 16; i++)
		assert_int_equal(rd(&f->u, UART_RX), 'a' + i);
	assert_int_equal(rd(&f->u, UART_LSR), 0x60);
	assert_int_equal(f->u.rx_bytes, 16);
	assert_int_equal(f->u.rx_overruns, 0);
	assert_int_equal(f->u.tx_bytes, 16);
	assert_int_equal(f->fe.transmit_calls, 0); /* loopback: the far end never sees them */
}

static void test_T37_seventeenth_byte_overruns(void **state)
{
	struct fixture *f = *state;

	wr(&f->u, UART_FCR, 0x07);
	for (unsigned int i = 0; i < 17; i++)
		wr(&f->u, UART_TX, (uint8_t)('A' + i));
	assert_int_equal(rd(&f->u, UART_LSR), 0x63);
	assert_int_equal(f->u.rx_overruns, 1);
	assert_int_equal(f->u.rx_bytes, 16);
	for (unsigned int i = 0; i < 16; i++)
		assert_int_equal(rd(&f->u, UART_RX), 'A' + i);
	assert_int_equal(rd(&f->u, UART_LSR), 0x60); /* OE was cleared by the first read */
	assert_int_equal(rd(&f->u, UART_RX), 0x00);
}

static void test_T38_holding_register_keeps_first_byte(void **state)
{
	struct fixture *f = *state;

	wr(&f->u, UART_FCR, 0x00);
	wr_str(&f->u, "AB");
	assert_int_equal(f->u.rx_overruns, 1);
	assert_int_equal(rd(&f->u, UART_RX), 'A');
	assert_int_equal(rd(&f->u, UART_LSR), 0x62);
	assert_int_equal(rd(&f->u, UART_LSR), 0x60);
	assert_int_equal(rd(&f->u, UART_RX), 0x00);
}

static void put5(struct mtty_uart *u)
{
	wr_str(u, "12345");
	assert_int_equal(rd(u, UART_LSR) & UART_LSR_DR, UART_LSR_DR);
}

static void test_T39_fcr_clears_rx_fifo(void **state)
{
	struct fixture *f = *state;

	wr(&f->u, UART_FCR, 0x01);
	put5(&f->u);
	wr(&f->u, UART_FCR, 0x03); /* clear RX */
	assert_int_equal(rd(&f->u, UART_LSR), 0x60);

	put5(&f->u);
	wr(&f->u, UART_FCR, 0x05); /* clear TX only */
	assert_int_equal(rd(&f->u, UART_LSR), 0x61);
	assert_int_equal(rd(&f->u, UART_IIR) & 0xc0, 0xc0); /* still in FIFO mode */
	wr(&f->u, UART_FCR, 0x01); /* same bit 0: no clear */
	for (unsigned int i = 0; i < 5; i++)
		assert_int_equal(rd(&f->u, UART_RX), '1' + i);

	put5(&f->u);
	wr(&f->u, UART_FCR, 0x00); /* disable: both FIFOs cleared */
	assert_int_equal(rd(&f->u, UART_LSR), 0x60);
	assert_int_equal(rd(&f->u, UART_IIR), 0x01);
	wr_str(&f->u, "xy"); /* now a 1-byte holding register */
	assert_int_equal(rd(&f->u, UART_RX), 'x');
	assert_int_equal(rd(&f->u, UART_LSR), 0x62);
}

static void test_T39_fcr_bit0_change_clears_but_bits_ignored_when_off(void **state)
{
	struct fixture *f = *state;

	wr(&f->u, UART_FCR, 0x00);
	wr(&f->u, UART_TX, 'h');
	wr(&f->u, UART_FCR, 0xce); /* bit 0 = 0: bits 1-7 ignored, FIFO stays off */
	uint8_t image[MTTY_UART_IMAGE_SIZE];
	mtty_uart_save(&f->u, image);
	assert_int_equal(image[6], 0x00); /* nothing of 0xce was stored */
	assert_int_equal(rd(&f->u, UART_LSR), 0x61);
	assert_int_equal(rd(&f->u, UART_IIR), 0x01);
	wr(&f->u, UART_FCR, 0x01); /* enabling changes bit 0: clears */
	assert_int_equal(rd(&f->u, UART_LSR), 0x60);
	assert_int_equal(f->u.rx_overruns, 0);
}

static void test_T40_trigger_level_is_always_one(void **state)
{
	struct fixture *f = *state;

	wr(&f->u, UART_IER, 0x01);
	wr(&f->u, UART_FCR, 0xc1);
	assert_false(mtty_uart_irq_pending(&f->u));
	wr(&f->u, UART_TX, 'z');
	assert_true(mtty_uart_irq_pending(&f->u));
	assert_int_equal(rd(&f->u, UART_IIR), 0xc4);
}

static void test_T41_rbr_read_when_empty(void **state)
{
	struct fixture *f = *state;

	wr(&f->u, UART_FCR, 0x01);
	assert_int_equal(rd(&f->u, UART_RX), 0x00);
	assert_int_equal(rd(&f->u, UART_LSR), 0x60);
	wr(&f->u, UART_TX, 'k');
	assert_int_equal(rd(&f->u, UART_RX), 'k');
	assert_int_equal(rd(&f->u, UART_RX), 0x00); /* not the previous byte */
	assert_int_equal(rd(&f->u, UART_LSR), 0x60);
	assert_int_equal(f->u.rx_bytes, 1);
}

/* ----- IIR priority and interrupt sources (FCR = 0x01 first) ------------------------------ */

static void test_T42_thre_reported_once(void **state)
{
	struct fixture *f = *state;

	wr(&f->u, UART_FCR, 0x01);
	assert_false(mtty_uart_irq_pending(&f->u));
	wr(&f->u, UART_IER, 0x02);
	assert_true(mtty_uart_irq_pending(&f->u));
	assert_true(mtty_uart_irq_pending(&f->u)); /* the query has no side effect */
	assert_int_equal(rd(&f->u, UART_IIR), 0xc2);
	assert_false(mtty_uart_irq_pending(&f->u));
	assert_int_equal(rd(&f->u, UART_IIR), 0xc1);
	assert_int_equal(rd(&f->u, UART_LSR), 0x60);

	/* a THR write sets it again (§6.7), and a second IER = 0x02 does not */
	wr(&f->u, UART_IER, 0x02);
	assert_int_equal(rd(&f->u, UART_IIR), 0xc1);
	wr(&f->u, UART_TX, '!');
	assert_int_equal(rd(&f->u, UART_IIR), 0xc2);
	assert_int_equal(rd(&f->u, UART_IIR), 0xc1);
}

static void test_T43_etbei_reenable_reasserts_thre(void **state)
{
	struct fixture *f = *state;

	wr(&f->u, UART_FCR, 0x01);
	wr(&f->u, UART_IER, 0x02);
	wr(&f->u, UART_IER, 0x00);
	assert_false(mtty_uart_irq_pending(&f->u));
	assert_int_equal(rd(&f->u, UART_IIR), 0xc1);
	wr(&f->u, UART_IER, 0x02);
	assert_int_equal(rd(&f->u, UART_IIR), 0xc2);

	/* clearing ETBEI clears the latch (visible in the §9 image, flags bit 1) */
	uint8_t image[MTTY_UART_IMAGE_SIZE];
	wr(&f->u, UART_TX, 'x');
	mtty_uart_save(&f->u, image);
	assert_int_equal(image[7], 0x02);
	wr(&f->u, UART_IER, 0x00);
	mtty_uart_save(&f->u, image);
	assert_int_equal(image[7], 0x00);

	/* re-enabling is what sets it again: re-enabling is what sets it again */
	wr(&f->u, UART_TX, 'x');
	wr(&f->u, UART_IER, 0x00);
	wr(&f->u, UART_IER, 0x01);
	assert_int_equal(rd(&f->u, UART_IIR), 0xc1);
}

static void test_T44_iir_priority_walk(void **state)
{
	struct fixture *f = *state;

	wr(&f->u, UART_FCR, 0x01);
	wr(&f->u, UART_IER, 0x0f);
	(void)rd(&f->u, UART_IIR); /* consume the THRE from enabling ETBEI */
	for (unsigned int i = 0; i < 17; i++)
		wr(&f->u, UART_TX, (uint8_t)i);
	assert_int_equal(rd(&f->u, UART_IIR), 0xc6);
	assert_int_equal(rd(&f->u, UART_IIR), 0xc6); /* reading IIR does not clear OE */
	assert_int_equal(rd(&f->u, UART_LSR), 0x63);
	assert_int_equal(rd(&f->u, UART_IIR), 0xc4);
	for (unsigned int i = 0; i < 16; i++) {
		assert_int_equal(rd(&f->u, UART_IIR), 0xc4); /* THRE stays latched below */
		assert_int_equal(rd(&f->u, UART_RX), i);
	}
	assert_int_equal(rd(&f->u, UART_IIR), 0xc2);
	assert_int_equal(rd(&f->u, UART_IIR), 0xc1);
	assert_false(mtty_uart_irq_pending(&f->u));
}

static void test_T44_spec_example_without_prior_iir_read(void **state)
{
	struct fixture *f = *state; /* §6.7 example: IER = 0x0F, 17 bytes written */

	wr(&f->u, UART_FCR, 0x01);
	wr(&f->u, UART_IER, 0x0f);
	for (unsigned int i = 0; i < 17; i++)
		wr(&f->u, UART_TX, (uint8_t)i);
	assert_int_equal(rd(&f->u, UART_IIR), 0xc6);
	assert_int_equal(rd(&f->u, UART_LSR), 0x63);
	assert_int_equal(rd(&f->u, UART_IIR), 0xc4);
	for (unsigned int i = 0; i < 16; i++)
		(void)rd(&f->u, UART_RX);
	assert_int_equal(rd(&f->u, UART_IIR), 0xc2);
	assert_int_equal(rd(&f->u, UART_IIR), 0xc1);
}

static void test_T45_data_available_until_read(void **state)
{
	struct fixture *f = *state;
	const uint8_t b = 'd';

	wr(&f->u, UART_FCR, 0x01);
	wr(&f->u, UART_IER, 0x01);
	assert_int_equal(mtty_uart_rx_push(&f->u, &b, 1), 1);
	assert_true(mtty_uart_irq_pending(&f->u));
	assert_int_equal(rd(&f->u, UART_IIR), 0xc4);
	assert_int_equal(rd(&f->u, UART_IIR), 0xc4);
	assert_int_equal(rd(&f->u, UART_RX), 'd');
	assert_int_equal(rd(&f->u, UART_IIR), 0xc1);
	assert_false(mtty_uart_irq_pending(&f->u));

	wr(&f->u, UART_IER, 0x00);
	assert_int_equal(mtty_uart_rx_push(&f->u, &b, 1), 1);
	assert_false(mtty_uart_irq_pending(&f->u));
	assert_int_equal(rd(&f->u, UART_IIR), 0xc1);
	assert_int_equal(rd(&f->u, UART_LSR), 0x61);
	assert_int_equal(f->u.rx_bytes, 2);
}

static void test_T46_loopback_modem_status_interrupt(void **state)
{
	struct fixture *f = *state;

	wr(&f->u, UART_FCR, 0x01);
	wr(&f->u, UART_IER, 0x08);
	wr(&f->u, UART_MCR, 0x10);
	assert_int_equal(rd(&f->u, UART_IIR), 0xc0);
	assert_int_equal(rd(&f->u, UART_MSR), 0x0b); /* DCD, DSR, CTS fell to 0 */
	assert_int_equal(rd(&f->u, UART_IIR), 0xc1);
	wr(&f->u, UART_MCR, 0x13);
	assert_true(mtty_uart_irq_pending(&f->u));
	assert_int_equal(rd(&f->u, UART_IIR), 0xc0);
	assert_int_equal(rd(&f->u, UART_IIR), 0xc0); /* only an MSR read clears it */
	assert_int_equal(rd(&f->u, UART_MSR), 0x33);
	assert_int_equal(rd(&f->u, UART_IIR), 0xc1);
	assert_int_equal(rd(&f->u, UART_MSR), 0x30);
	assert_false(mtty_uart_irq_pending(&f->u));
}

static void test_T46_ring_indicator_trailing_edge(void **state)
{
	struct fixture *f = *state;

	wr(&f->u, UART_MCR, 0x10 | UART_MCR_OUT1); /* RI = 1 */
	assert_int_equal(rd(&f->u, UART_MSR), UART_MSR_RI | 0x0b); /* no TERI on 0 -> 1 */
	wr(&f->u, UART_MCR, 0x10); /* RI 1 -> 0 */
	assert_int_equal(rd(&f->u, UART_MSR), UART_MSR_TERI);
	wr(&f->u, UART_MCR, 0x00); /* leave loopback: DCD, DSR, CTS rise */
	assert_int_equal(rd(&f->u, UART_MSR), 0xb0 | 0x0b);
	assert_int_equal(rd(&f->u, UART_MSR), 0xb0);
}

static void test_T47_loopback_mcr_0x1a_msr_inputs(void **state)
{
	struct fixture *f = *state;

	wr(&f->u, UART_MCR, 0x1a);
	assert_int_equal(rd(&f->u, UART_MSR) & 0xf0, 0x90);
	wr(&f->u, UART_MCR, 0x15); /* DTR, OUT1 -> DSR, RI */
	assert_int_equal(rd(&f->u, UART_MSR) & 0xf0, UART_MSR_DSR | UART_MSR_RI);
}

static void test_T48_mcr_outside_loop_never_sets_deltas(void **state)
{
	struct fixture *f = *state;

	wr(&f->u, UART_FCR, 0x01);
	wr(&f->u, UART_IER, 0x08);
	for (unsigned int round = 0; round < 2; round++) {
		for (unsigned int v = 0; v < 0x100; v++) {
			if (v & UART_MCR_LOOP)
				continue;
			wr(&f->u, UART_MCR, (uint8_t)v);
			assert_false(mtty_uart_irq_pending(&f->u));
			assert_int_equal(rd(&f->u, UART_IIR), 0xc1);
		}
	}
	assert_int_equal(rd(&f->u, UART_MSR), 0xb0);
}

static void test_T49_out2_does_not_gate_interrupt(void **state)
{
	struct fixture *f = *state;

	wr(&f->u, UART_MCR, 0x00);
	wr(&f->u, UART_IER, 0x02);
	assert_true(mtty_uart_irq_pending(&f->u));
	wr(&f->u, UART_MCR, UART_MCR_OUT2);
	assert_true(mtty_uart_irq_pending(&f->u));
	wr(&f->u, UART_MCR, 0x00);
	assert_true(mtty_uart_irq_pending(&f->u));
}

/* ----- pty backend, model side ------------------------------------------------------------ */

static void test_T58_transmit_reaches_far_end_lsr_stays_empty(void **state)
{
	struct fixture *f = *state;
	const char *s = "hello";

	for (const char *p = s; *p; p++) {
		wr(&f->u, UART_TX, (uint8_t)*p);
		assert_int_equal(rd(&f->u, UART_LSR), 0x60);
	}
	assert_int_equal(f->fe.got_len, 5);
	assert_memory_equal(f->fe.got, s, 5);
	assert_int_equal(f->u.tx_bytes, 5);
	assert_int_equal(f->u.tx_dropped, 0);
	assert_int_equal(f->u.rx_bytes, 0);
}

static void test_T60_unattached_far_end_drops_and_counts(void **state)
{
	struct fixture *f = *state;

	f->fe.attached = false;
	for (unsigned int i = 0; i < 100; i++) {
		wr(&f->u, UART_TX, (uint8_t)i);
		assert_int_equal(rd(&f->u, UART_LSR), 0x60);
	}
	assert_int_equal(f->u.tx_dropped, 100);
	assert_int_equal(f->fe.transmit_calls, 100); /* asked for every byte (§5.2) */
	f->fe.attached = true;
	wr_str(&f->u, "SEEN");
	assert_int_equal(f->fe.got_len, 4);
	assert_memory_equal(f->fe.got, "SEEN", 4);
	assert_int_equal(f->u.tx_bytes, 104);
	assert_int_equal(f->u.tx_dropped, 100);
}

static void test_T60_no_ops_drops_everything(void **state)
{
	struct mtty_uart u;

	(void)state;
	mtty_uart_init(&u, NULL, NULL);
	wr(&u, UART_LCR, 0x03); /* no line_changed: no crash */
	wr(&u, UART_TX, 'x');
	assert_int_equal(u.tx_bytes, 1);
	assert_int_equal(u.tx_dropped, 1);
	assert_int_equal(rd(&u, UART_LSR), 0x60);
}

static void test_T61_tx_bytes_minus_dropped_is_what_far_end_took(void **state)
{
	struct fixture *f = *state;

	f->fe.accept_max = 4096; /* the pty buffer fills, then EAGAIN */
	for (unsigned int i = 0; i < 65536; i++)
		wr(&f->u, UART_TX, (uint8_t)(i * 7));
	assert_int_equal(f->u.tx_bytes, 65536);
	assert_int_equal(f->u.tx_bytes - f->u.tx_dropped, f->fe.got_len);
	assert_int_equal(f->fe.got_len, 4096);
	for (unsigned int i = 0; i < 4096; i++)
		assert_int_equal(f->fe.got[i], (uint8_t)(i * 7));
}

/* The glue's reader (§5.3): moves at most the room from a pending host buffer. */
static size_t pump(struct mtty_uart *u, const uint8_t *host, size_t len, size_t *pos)
{
	size_t n = mtty_uart_rx_room(u);

	if (n > len - *pos)
		n = len - *pos;
	assert_int_equal(mtty_uart_rx_push(u, host + *pos, n), n);
	*pos += n;
	return n;
}

static void test_T62_flow_control_never_overruns(void **state)
{
	struct fixture *f = *state;
	static uint8_t host[4096];
	size_t pos = 0, got = 0;

	for (size_t i = 0; i < sizeof(host); i++)
		host[i] = (uint8_t)(i ^ (i >> 8));
	wr(&f->u, UART_FCR, 0x01);
	assert_int_equal(mtty_uart_rx_room(&f->u), 16);
	assert_int_equal(pump(&f->u, host, sizeof(host), &pos), 16);
	assert_int_equal(pump(&f->u, host, sizeof(host), &pos), 0); /* full: host input waits */
	assert_int_equal(f->u.rx_bytes, 16);
	assert_int_equal(f->u.rx_overruns, 0);

	while (got < sizeof(host) && (rd(&f->u, UART_LSR) & UART_LSR_DR)) {
		assert_int_equal(rd(&f->u, UART_RX), host[got]);
		got++;
		(void)pump(&f->u, host, sizeof(host), &pos);
	}
	assert_int_equal(got, sizeof(host));
	assert_int_equal(rd(&f->u, UART_LSR), 0x60);
	assert_int_equal(f->u.rx_bytes, sizeof(host));
	assert_int_equal(f->u.rx_overruns, 0);

	wr(&f->u, UART_FCR, 0x00);
	assert_int_equal(mtty_uart_rx_room(&f->u), 1);
}

static void test_T62_push_beyond_room_overruns(void **state)
{
	struct fixture *f = *state;
	uint8_t bytes[20];

	for (unsigned int i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(0x30 + i);
	wr(&f->u, UART_FCR, 0x01);
	assert_int_equal(mtty_uart_rx_push(&f->u, bytes, sizeof(bytes)), 16);
	assert_int_equal(f->u.rx_overruns, 4);
	assert_int_equal(mtty_uart_rx_room(&f->u), 0);
	assert_int_equal(rd(&f->u, UART_LSR), 0x63);
	assert_int_equal(rd(&f->u, UART_RX), 0x30);
	assert_int_equal(mtty_uart_rx_room(&f->u), 1);
}

static void test_T63_mcr_loop_diverts_tx_and_stops_rx(void **state)
{
	struct fixture *f = *state;

	wr(&f->u, UART_FCR, 0x01);
	wr(&f->u, UART_MCR, 0x10);
	assert_int_equal(mtty_uart_rx_room(&f->u), 0); /* the pty is not read */
	wr_str(&f->u, "loop");
	assert_int_equal(f->fe.transmit_calls, 0);
	assert_int_equal(f->u.tx_bytes, 4);
	assert_int_equal(f->u.tx_dropped, 0);
	assert_int_equal(f->u.rx_bytes, 4);
	for (const char *p = "loop"; *p; p++)
		assert_int_equal(rd(&f->u, UART_RX), *p);
	assert_int_equal(mtty_uart_rx_room(&f->u), 0);
	wr(&f->u, UART_MCR, 0x00);
	assert_int_equal(mtty_uart_rx_room(&f->u), 16);
	wr(&f->u, UART_TX, 'p');
	assert_int_equal(f->fe.got_len, 1);
	assert_int_equal(rd(&f->u, UART_LSR), 0x60);
}

static void test_T65_two_ports_reach_only_their_far_end(void **state)
{
	struct far_end *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct mtty_uart ua, ub;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	a->attached = b->attached = true;
	a->accept_max = b->accept_max = SIZE_MAX;
	mtty_uart_init(&ua, &fe_ops, a);
	mtty_uart_init(&ub, &fe_ops, b);
	wr_str(&ua, "AAA");
	wr_str(&ub, "B");
	assert_int_equal(a->got_len, 3);
	assert_memory_equal(a->got, "AAA", 3);
	assert_int_equal(b->got_len, 1);
	assert_int_equal(b->got[0], 'B');
	free(a);
	free(b);
}

/* ----- loopback equivalence with the kernel sample (§5.4) --------------------------------- */

/*
 * Reference: the kernel sample's per-port loop buffer, transcribed from the behaviour of
 * samples/vfio-mdev/mtty.c handle_bar_write()/handle_bar_read() for THR, RBR, LSR.DR and FCR:
 * max_fifo_size starts at 16; a THR write stores the byte if count < max_fifo_size, else drops
 * it; any FCR write with bit 1 or 2 empties the buffer; FCR[0] selects 16 or 1.
 * Emptiness is taken from the count. (The sample itself tests head != tail on a 16-slot ring,
 * which makes a completely full buffer read as empty; the spec's equivalence, and T-66, hold
 * against the count, i.e. the sample's evident intent.)
 */
struct sample_port {
	uint8_t fifo[16];
	unsigned int head, tail, count, max_fifo_size;
};

static void sample_init(struct sample_port *p)
{
	memset(p, 0, sizeof(*p));
	p->max_fifo_size = 16;
}

static bool sample_thr(struct sample_port *p, uint8_t b)
{
	if (p->count >= p->max_fifo_size)
		return false; /* dropped */
	p->fifo[p->head] = b;
	p->head = (p->head + 1) % 16;
	p->count++;
	return true;
}

static void sample_fcr(struct sample_port *p, uint8_t v)
{
	if (v & (UART_FCR_CLEAR_RCVR | UART_FCR_CLEAR_XMIT))
		p->head = p->tail = p->count = 0;
	p->max_fifo_size = (v & UART_FCR_ENABLE_FIFO) ? 16 : 1;
}

static bool sample_dr(const struct sample_port *p)
{
	return p->count != 0;
}

static uint8_t sample_rbr(struct sample_port *p)
{
	uint8_t b = p->fifo[p->tail];

	p->tail = (p->tail + 1) % 16;
	p->count--;
	return b;
}

/* Runs one guest access on both; returns false when a compared observation differs. */
struct pair {
	struct mtty_uart *u;
	struct sample_port s;
	uint8_t got_u[4096], got_s[4096], drop_u[4096], drop_s[4096];
	size_t n_got_u, n_got_s, n_drop_u, n_drop_s;
};

static void pair_thr(struct pair *p, uint8_t b)
{
	uint64_t before = p->u->rx_overruns;

	wr(p->u, UART_TX, b);
	if (p->u->rx_overruns != before)
		p->drop_u[p->n_drop_u++] = b;
	if (!sample_thr(&p->s, b))
		p->drop_s[p->n_drop_s++] = b;
}

/* The guest's poll: read LSR, and RBR if LSR.DR = 1. */
static void pair_poll(struct pair *p)
{
	bool dr_u = rd(p->u, UART_LSR) & UART_LSR_DR;
	bool dr_s = sample_dr(&p->s);

	assert_int_equal(dr_u, dr_s);
	if (dr_u)
		p->got_u[p->n_got_u++] = rd(p->u, UART_RX);
	if (dr_s)
		p->got_s[p->n_got_s++] = sample_rbr(&p->s);
}

static void pair_fcr(struct pair *p, uint8_t v)
{
	wr(p->u, UART_FCR, v);
	sample_fcr(&p->s, v);
}

static void pair_assert_equal(const struct pair *p)
{
	assert_int_equal(p->n_got_u, p->n_got_s);
	assert_memory_equal(p->got_u, p->got_s, p->n_got_u);
	assert_int_equal(p->n_drop_u, p->n_drop_s);
	assert_memory_equal(p->drop_u, p->drop_s, p->n_drop_u);
}

static void test_T66_linux_8250_pattern_matches_sample(void **state)
{
	struct fixture *f = *state;
	struct pair *p = calloc(1, sizeof(*p));
	const char *msg = "0123456789abcdefXYZ";

	assert_non_null(p);
	p->u = &f->u;
	sample_init(&p->s);
	/* serial8250_clear_fifos() then the 16550A FCR, divisor and format, IER */
	pair_fcr(p, 0x07);
	pair_fcr(p, 0xc1);
	wr(&f->u, UART_LCR, 0x83);
	wr(&f->u, UART_DLL, 0x01);
	wr(&f->u, UART_DLM, 0x00);
	wr(&f->u, UART_LCR, 0x03);
	wr(&f->u, UART_IER, 0x05);
	for (const char *c = msg; *c; c++)
		pair_thr(p, (uint8_t)*c);

	assert_int_equal(rd(&f->u, UART_LSR), 0x63); /* OE shown */
	assert_int_equal(f->u.rx_overruns, 3);
	assert_int_equal(f->u.tx_dropped, 0);
	for (unsigned int i = 0; i < 18; i++)
		pair_poll(p); /* the last two polls see LSR.DR = 0 in both */
	pair_assert_equal(p);
	assert_int_equal(p->n_got_u, 16);
	assert_memory_equal(p->got_u, "0123456789abcdef", 16);
	assert_int_equal(p->n_drop_u, 3);
	assert_memory_equal(p->drop_u, "XYZ", 3);
	free(p);
}

static uint32_t lcg(uint32_t *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 8;
}

/*
 * Random access sequences within §5.4's three conditions: FCR written before the first THR
 * write, FCR bits 1 and 2 set together, FCR[0] unchanged while data is held. FCR values with
 * bit 0 = 0 are limited to 0x00: §6.6 ignores bits 1-7 then, while the sample would still
 * clear on bit 1 or 2 (a case §5.4's conditions do not exclude; the 8250 driver never does it).
 */
static void test_T66_random_sequences_match_sample(void **state)
{
	struct fixture *f = *state;
	uint32_t seed = 0x5eed;

	for (unsigned int seq = 0; seq < 400; seq++) {
		struct pair *p = calloc(1, sizeof(*p));

		assert_non_null(p);
		mtty_uart_reset(&f->u);
		p->u = &f->u;
		sample_init(&p->s);
		pair_fcr(p, (lcg(&seed) & 1) ? 0x07 : 0x00);
		for (unsigned int op = 0; op < 600; op++) {
			uint32_t r = lcg(&seed) % 100;

			if (r < 50) {
				pair_thr(p, (uint8_t)lcg(&seed));
			} else if (r < 90) {
				pair_poll(p);
			} else {
				uint8_t v = (uint8_t)lcg(&seed);
				bool cur_on = f->u.fcr & UART_FCR_ENABLE_FIFO;

				v &= (uint8_t) ~(UART_FCR_CLEAR_RCVR | UART_FCR_CLEAR_XMIT);
				if (lcg(&seed) & 1)
					v |= UART_FCR_CLEAR_RCVR | UART_FCR_CLEAR_XMIT;
				if (!(v & UART_FCR_ENABLE_FIFO))
					v = 0x00;
				if (p->s.count && (bool)(v & UART_FCR_ENABLE_FIFO) != cur_on)
					continue; /* condition 3 */
				pair_fcr(p, v);
			}
			if (p->n_got_u > 3000 || p->n_drop_u > 3000)
				break;
		}
		pair_assert_equal(p);
		assert_int_equal(f->u.tx_dropped, 0);
		free(p);
	}
}

static void test_T67_loopback_backend_never_calls_far_end(void **state)
{
	struct fixture *f = *state;

	wr(&f->u, UART_FCR, 0x01);
	for (unsigned int i = 0; i < 40; i++)
		wr(&f->u, UART_TX, (uint8_t)i);
	assert_int_equal(f->fe.transmit_calls, 0);
	assert_int_equal(f->u.tx_bytes, 40);
	assert_int_equal(f->u.tx_dropped, 0);
	assert_int_equal(f->u.rx_bytes, 16);
	assert_int_equal(f->u.rx_overruns, 24);
	assert_int_equal(mtty_uart_rx_room(&f->u), 0); /* nothing is read from a far end */
}

/* ----- reset, counters -------------------------------------------------------------------- */

static void test_T68_reset_returns_power_on_values(void **state)
{
	struct fixture *f = *state;

	wr(&f->u, UART_IER, 0x0f);
	wr(&f->u, UART_FCR, 0xc7);
	wr(&f->u, UART_SCR, 0x5a);
	wr(&f->u, UART_MCR, 0x1f);
	wr_str(&f->u, "abc"); /* looped into the RX FIFO (MCR loop) */
	wr(&f->u, UART_LCR, 0x9b);
	wr(&f->u, UART_DLL, 0x01);
	assert_true(mtty_uart_irq_pending(&f->u));
	const unsigned int line_calls = f->fe.line_calls;

	mtty_uart_reset(&f->u);
	assert_false(mtty_uart_irq_pending(&f->u));
	assert_int_equal(f->fe.line_calls, line_calls); /* reset calls no op */
	assert_power_on_regs(&f->u);
	wr(&f->u, UART_LCR, 0x80);
	assert_int_equal(rd(&f->u, UART_DLL), 0x00);
	assert_int_equal(rd(&f->u, UART_DLM), 0x00);
	wr(&f->u, UART_LCR, 0x00);
	assert_int_equal(rd(&f->u, UART_RX), 0x00);
	/* the THRE latch is clear: enabling ETBEI is what raises it (T-42 after reset) */
	wr(&f->u, UART_IER, 0x02);
	assert_int_equal(rd(&f->u, UART_IIR), 0x02);
	assert_int_equal(rd(&f->u, UART_IIR), 0x01);
}

static void test_T15_counters_survive_reset(void **state)
{
	struct fixture *f = *state;
	const uint8_t in[2] = {1, 2};

	wr_str(&f->u, "abc");
	f->fe.attached = false;
	wr(&f->u, UART_TX, 'd');
	assert_int_equal(mtty_uart_rx_push(&f->u, in, 2), 1); /* FIFOs off: 1 held, 1 overrun */
	mtty_uart_reset(&f->u);
	assert_int_equal(f->u.tx_bytes, 4);
	assert_int_equal(f->u.tx_dropped, 1);
	assert_int_equal(f->u.rx_bytes, 1);
	assert_int_equal(f->u.rx_overruns, 1);
	assert_ptr_equal(f->u.ops, &fe_ops);
	assert_ptr_equal(f->u.opaque, &f->fe);
}

static void test_T15_reset_keeps_loopback_backend(void **state)
{
	struct fixture *f = *state;

	mtty_uart_reset(&f->u);
	wr(&f->u, UART_TX, 'r');
	assert_int_equal(f->fe.transmit_calls, 0);
	assert_int_equal(rd(&f->u, UART_RX), 'r');
}

/* ----- robustness ------------------------------------------------------------------------- */

static void test_T75_random_accesses_keep_invariants_then_reset(void **state)
{
	struct fixture *f = *state;
	uint32_t seed = 75;

	for (unsigned int i = 0; i < 100000; i++) {
		uint32_t r = lcg(&seed);
		unsigned int off = r % 9; /* 8: out of range, must be harmless */
		uint8_t val = (uint8_t)(r >> 8);

		if ((r >> 16) % 3 == 0) {
			wr(&f->u, off, val);
		} else if ((r >> 16) % 3 == 1) {
			uint8_t v = rd(&f->u, off);

			if (off == UART_LSR)
				assert_int_equal(v & 0x9c, 0); /* PE, FE, BI, bit 7 never set */
			if (off == UART_IIR)
				assert_int_equal(v & 0x30, 0);
			if (off == UART_IIR)
				assert_true((v & 0xc0) == 0 || (v & 0xc0) == 0xc0);
		} else {
			size_t room = mtty_uart_rx_room(&f->u);
			size_t n = (room && (r & 1)) ? room : 1;
			uint8_t buf[16];

			memset(buf, val, sizeof(buf));
			(void)mtty_uart_rx_push(&f->u, buf, n);
		}
		assert_true(f->u.rx_count <= ((f->u.fcr & 1) ? 16u : 1u));
		assert_int_equal(f->u.ier & 0xf0, 0);
		assert_int_equal(f->u.mcr & 0xe0, 0);
	}
	/* every byte the far end was offered is either delivered or counted as dropped */
	assert_int_equal(f->fe.got_len + f->u.tx_dropped, f->fe.transmit_calls);
	assert_true(f->fe.transmit_calls <= f->u.tx_bytes);
	mtty_uart_reset(&f->u);
	assert_power_on_regs(&f->u);
	assert_false(mtty_uart_irq_pending(&f->u));
}

/* ----- save and restore (port record of §9) ---------------------------------------------- */

/* A port with non-default registers, 3 RX bytes, OE, THRE latch and an MSR delta. */
static void make_busy(struct mtty_uart *u)
{
	wr(u, UART_FCR, 0x89);
	wr(u, UART_LCR, 0x80);
	wr(u, UART_DLL, 0x34);
	wr(u, UART_DLM, 0x12);
	wr(u, UART_LCR, 0x1b);
	wr(u, UART_SCR, 0x77);
	wr(u, UART_MCR, 0x10); /* deltas DDCD, DDSR, DCTS */
	wr(u, UART_IER, 0x0e);
	for (unsigned int i = 0; i < 20; i++)
		wr(u, UART_TX, (uint8_t)(0xa0 + i)); /* 16 kept, OE */
	for (unsigned int i = 0; i < 13; i++)
		(void)rd(u, UART_RX); /* 3 left, the ring wrapped-around start */
	wr(u, UART_MCR, 0x1b);
}

/* Reads every observable register of @a and @b in the same order: identical answers. */
static void assert_same_reads(struct mtty_uart *a, struct mtty_uart *b)
{
	static const unsigned int order[] = {UART_IER, UART_LCR, UART_MCR, UART_SCR, UART_IIR,
					     UART_LSR, UART_MSR, UART_IIR, UART_IIR, UART_LSR,
					     UART_RX,  UART_RX,	 UART_RX,  UART_RX,  UART_LSR};

	assert_int_equal(mtty_uart_divisor(a), mtty_uart_divisor(b));
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		assert_int_equal(rd(a, order[i]), rd(b, order[i]));
	wr(a, UART_LCR, 0x80);
	wr(b, UART_LCR, 0x80);
	assert_int_equal(rd(a, UART_DLL), rd(b, UART_DLL));
	assert_int_equal(rd(a, UART_DLM), rd(b, UART_DLM));
}

static void test_T79_save_reset_restore_round_trip(void **state)
{
	struct fixture *f = *state;
	uint8_t image[MTTY_UART_IMAGE_SIZE], again[MTTY_UART_IMAGE_SIZE];
	struct mtty_uart snapshot;

	make_busy(&f->u);
	mtty_uart_save(&f->u, image);
	assert_int_equal(image[9], 3); /* RX count */
	assert_int_equal(image[10], 0xad);
	assert_int_equal(image[11], 0xae);
	assert_int_equal(image[12], 0xaf);
	for (unsigned int i = 13; i < MTTY_UART_IMAGE_SIZE; i++)
		assert_int_equal(image[i], 0);
	assert_int_equal(image[6], 0x89);
	assert_int_equal(image[7], 0x03); /* OE and THRE latch */
	assert_int_equal(image[8], 0x0b); /* deltas of MCR 0 -> 0x10 */
	snapshot = f->u;

	mtty_uart_reset(&f->u);
	assert_int_equal(mtty_uart_restore(&f->u, image), 0);
	mtty_uart_save(&f->u, again);
	assert_memory_equal(image, again, sizeof(image));
	assert_int_equal(f->u.tx_bytes, snapshot.tx_bytes); /* counters are host-side */
	assert_same_reads(&f->u, &snapshot);
}

static void test_T79_restore_into_other_port_behaves_the_same(void **state)
{
	struct fixture *f = *state;
	uint8_t image[MTTY_UART_IMAGE_SIZE];
	struct mtty_uart other;

	make_busy(&f->u);
	mtty_uart_save(&f->u, image);
	mtty_uart_init(&other, NULL, NULL);
	mtty_uart_set_loopback_backend(&other, true);
	assert_int_equal(mtty_uart_restore(&other, image), 0);
	assert_int_equal(mtty_uart_irq_pending(&other), mtty_uart_irq_pending(&f->u));
	assert_same_reads(&f->u, &other);
	/* and keeps behaving the same: transmit into both */
	wr(&f->u, UART_LCR, 0x03);
	wr(&other, UART_LCR, 0x03);
	wr(&f->u, UART_TX, 0x55);
	wr(&other, UART_TX, 0x55);
	assert_same_reads(&f->u, &other);
}

static void test_T80_invalid_image_changes_nothing(void **state)
{
	struct fixture *f = *state;
	uint8_t good[MTTY_UART_IMAGE_SIZE], bad[MTTY_UART_IMAGE_SIZE];
	static const struct {
		unsigned int at;
		uint8_t val;
		int rx_count; /* -1: keep the saved 3 */
	} cases[] = {
	    {9, 17, -1}, /* RX count 17 (T-80) */
	    {0, 0x10, -1}, /* IER bit 4 */
	    {2, 0x20, -1}, /* MCR bit 5 */
	    {6, 0x03, -1}, /* FCR bit 1 is self-clearing, never stored */
	    {6, 0x31, -1}, /* FCR bits 5:4 */
	    {6, 0x08, 0}, /* FCR DMA bit while FIFOs are off */
	    {6, 0x40, 1}, /* FCR trigger bits while FIFOs are off */
	    {7, 0x04, -1}, /* flags bit 2 */
	    {8, 0x10, -1}, /* MSR delta byte with an input bit */
	    {26, 1, -1}, /* reserved */
	    {31, 0x80, -1},
	};
	struct mtty_uart before;

	make_busy(&f->u);
	mtty_uart_save(&f->u, good);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(bad, good, sizeof(bad));
		bad[cases[i].at] = cases[i].val;
		if (cases[i].rx_count >= 0)
			bad[9] = (uint8_t)cases[i].rx_count;
		before = f->u;
		assert_int_equal(mtty_uart_restore(&f->u, bad), -EINVAL);
		assert_memory_equal(&f->u, &before, sizeof(before));
	}
	/* FIFOs off: capacity 1 */
	memcpy(bad, good, sizeof(bad));
	bad[6] = 0x00;
	bad[9] = 2;
	before = f->u;
	assert_int_equal(mtty_uart_restore(&f->u, bad), -EINVAL);
	assert_memory_equal(&f->u, &before, sizeof(before));
	bad[9] = 1;
	assert_int_equal(mtty_uart_restore(&f->u, bad), 0);
	assert_int_equal(rd(&f->u, UART_RX), 0xad);
	/* the largest valid count */
	memcpy(bad, good, sizeof(bad));
	bad[9] = 16;
	assert_int_equal(mtty_uart_restore(&f->u, bad), 0);
	assert_int_equal(rd(&f->u, UART_LSR) & UART_LSR_DR, UART_LSR_DR);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define TL(fn) cmocka_unit_test_setup_teardown(fn, setup_loopback, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_T29_power_on_register_values),
	    T(test_T30_dlab_selects_divisor_latch_and_keeps_it),
	    T(test_T31_dlab_offset0_neither_transmits_nor_pops),
	    T(test_T32_register_write_masks),
	    T(test_T33_lcr_write_reflects_termios),
	    T(test_T33_termios_mapping_of_every_lcr_format),
	    T(test_T33_standard_divisors_map_to_speeds),
	    T(test_T34_nonstandard_divisor_leaves_speed),
	    TL(test_T35_iir_fifo_bits_follow_fcr0),
	    TL(test_T36_sixteen_bytes_fit_and_return_in_order),
	    TL(test_T37_seventeenth_byte_overruns),
	    TL(test_T38_holding_register_keeps_first_byte),
	    TL(test_T39_fcr_clears_rx_fifo),
	    TL(test_T39_fcr_bit0_change_clears_but_bits_ignored_when_off),
	    TL(test_T40_trigger_level_is_always_one),
	    TL(test_T41_rbr_read_when_empty),
	    T(test_T42_thre_reported_once),
	    T(test_T43_etbei_reenable_reasserts_thre),
	    TL(test_T44_iir_priority_walk),
	    TL(test_T44_spec_example_without_prior_iir_read),
	    T(test_T45_data_available_until_read),
	    T(test_T46_loopback_modem_status_interrupt),
	    T(test_T46_ring_indicator_trailing_edge),
	    T(test_T47_loopback_mcr_0x1a_msr_inputs),
	    T(test_T48_mcr_outside_loop_never_sets_deltas),
	    T(test_T49_out2_does_not_gate_interrupt),
	    T(test_T58_transmit_reaches_far_end_lsr_stays_empty),
	    T(test_T60_unattached_far_end_drops_and_counts),
	    T(test_T60_no_ops_drops_everything),
	    T(test_T61_tx_bytes_minus_dropped_is_what_far_end_took),
	    T(test_T62_flow_control_never_overruns),
	    T(test_T62_push_beyond_room_overruns),
	    T(test_T63_mcr_loop_diverts_tx_and_stops_rx),
	    T(test_T65_two_ports_reach_only_their_far_end),
	    TL(test_T66_linux_8250_pattern_matches_sample),
	    TL(test_T66_random_sequences_match_sample),
	    TL(test_T67_loopback_backend_never_calls_far_end),
	    T(test_T68_reset_returns_power_on_values),
	    T(test_T15_counters_survive_reset),
	    TL(test_T15_reset_keeps_loopback_backend),
	    T(test_T75_random_accesses_keep_invariants_then_reset),
	    T(test_T79_save_reset_restore_round_trip),
	    TL(test_T79_restore_into_other_port_behaves_the_same),
	    T(test_T80_invalid_image_changes_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Spec items proved by the tests of this file (their names start with the item):
 *   T-15, T-29, T-30, T-31, T-32, T-33, T-34, T-35, T-36, T-37, T-38, T-39, T-40, T-41,
 *   T-42, T-43, T-44, T-45, T-46, T-47, T-48, T-49, T-58, T-60, T-61, T-62, T-63, T-65,
 *   T-66, T-67, T-68, T-75, T-79, T-80
 */
