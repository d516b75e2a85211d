// SPDX-License-Identifier: GPL-2.0-only
/*
 * uart16550: bring up the default machine's MMIO 16550A and exercise the
 * registers whose reads and writes have side effects.
 *
 * Set 115200 8N1, enable the FIFOs, then in loopback: send a message and
 * read it back, watch modem-status delta bits clear on read, overrun the
 * receive FIFO and watch LSR's overrun bit clear on read, acknowledge the
 * adapter's latched events by writing ones, and see IIR's "transmitter
 * empty" interrupt go away when IIR is read. Finally greet the wire.
 *
 *   ftrace-mmio insmod uart16550 && ftrace-mmio dmesg
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/errno.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/pci.h>

#define UART_VENDOR_ID	0x1b36
#define UART_DEVICE_ID	0x0002

/* 16550A registers, one byte each. DLL/DLM replace RBR/THR/IER while LCR.DLAB is set. */
#define UART_RBR	0x00
#define UART_THR	0x00
#define UART_DLL	0x00
#define UART_IER	0x01
#define UART_DLM	0x01
#define UART_IIR	0x02
#define UART_FCR	0x02
#define UART_LCR	0x03
#define UART_MCR	0x04
#define UART_LSR	0x05
#define UART_MSR	0x06
#define UART_SCR	0x07

#define UART_IER_THRI		0x02
#define UART_IIR_NO_INT		0x01
#define UART_IIR_ID		0x0e
#define UART_IIR_THRI		0x02
#define UART_FCR_ENABLE		0x01
#define UART_FCR_CLEAR_RCVR	0x02
#define UART_FCR_CLEAR_XMIT	0x04
#define UART_LCR_WLEN8		0x03
#define UART_LCR_DLAB		0x80
#define UART_MCR_DTR		0x01
#define UART_MCR_RTS		0x02
#define UART_MCR_OUT2		0x08
#define UART_MCR_LOOP		0x10
#define UART_LSR_DR		0x01
#define UART_LSR_OE		0x02
#define UART_LSR_TEMT		0x40
#define UART_MSR_DELTAS		0x0f

/* The adapter's event block: 32-bit registers after the 16550 ones. */
#define EXT_EVT_STATUS		0x40	/* latched events, write 1 to clear */
#define EXT_EVT_MASK		0x44
#define EXT_FIFO_LEVEL		0x48
#define EXT_TX_COUNT		0x4c	/* bytes sent, clears when read */
#define EXT_ID			0x50
#define EXT_ID_16550A		0x16550a01

#define FIFO_DEPTH		16
#define CHAR_TIME_US		87	/* one 10-bit character at 115200 baud */

static struct pci_dev *uart_pdev;
static void __iomem *uart;

static u8 uart_in(unsigned int reg)
{
	return readb(uart + reg);
}

static void uart_out(unsigned int reg, u8 val)
{
	writeb(val, uart + reg);
}

/* Poll until the transmitter has sent everything; returns the LSR bits seen on the way. */
static u8 uart_drain(int *polls)
{
	u8 seen = 0, lsr;

	for (*polls = 0; *polls < 4 * FIFO_DEPTH; (*polls)++) {
		lsr = uart_in(UART_LSR);
		seen |= lsr;
		if (lsr & UART_LSR_TEMT)
			break;
		udelay(CHAR_TIME_US);
	}
	return seen;
}

static void uart_setup(void)
{
	/* 115200 baud = divisor 1, then 8 data bits, no parity, one stop bit. */
	uart_out(UART_LCR, UART_LCR_DLAB);
	uart_out(UART_DLL, 1);
	uart_out(UART_DLM, 0);
	uart_out(UART_LCR, UART_LCR_WLEN8);
	uart_out(UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_RCVR | UART_FCR_CLEAR_XMIT);
	uart_out(UART_IER, 0);
}

static void uart_loopback_echo(void)
{
	static const char msg[] = "hello, mmio";
	char got[FIFO_DEPTH + 1];
	u32 sent, sent_again;
	int i, n = 0, polls;

	for (i = 0; msg[i]; i++)
		uart_out(UART_THR, msg[i]);
	uart_drain(&polls);
	while ((uart_in(UART_LSR) & UART_LSR_DR) && n < FIFO_DEPTH)
		got[n++] = uart_in(UART_RBR);
	got[n] = 0;
	pr_info("loopback: sent %d bytes, %d LSR polls, received %d: \"%s\"\n",
		i, polls, n, got);

	sent = readl(uart + EXT_TX_COUNT);
	sent_again = readl(uart + EXT_TX_COUNT);
	pr_info("TX_COUNT %u, then %u\n", sent, sent_again);
}

static void uart_overrun(void)
{
	u8 seen, after;
	int i, polls;

	/* One byte more than the receive FIFO holds, and nobody reading. */
	for (i = 0; i <= FIFO_DEPTH; i++)
		uart_out(UART_THR, 'A' + i);
	seen = uart_drain(&polls);
	after = uart_in(UART_LSR);
	pr_info("overrun: LSR showed OE %d while draining, OE %d on the next read, RX level %u\n",
		!!(seen & UART_LSR_OE), !!(after & UART_LSR_OE),
		readl(uart + EXT_FIFO_LEVEL) & 0xff);
	uart_out(UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_RCVR);
}

static int __init uart16550_init(void)
{
	u32 id, events;
	u8 msr, msr_again, iir, iir_again;
	int ret, polls;

	uart_pdev = pci_get_device(UART_VENDOR_ID, UART_DEVICE_ID, NULL);
	if (!uart_pdev) {
		pr_err("no 16550 adapter found\n");
		return -ENODEV;
	}
	ret = pci_enable_device(uart_pdev);
	if (ret)
		goto err_put;
	uart = pci_iomap(uart_pdev, 0, 0);
	if (!uart) {
		ret = -ENOMEM;
		goto err_put;
	}
	id = readl(uart + EXT_ID);
	if (id != EXT_ID_16550A) {
		pr_err("unexpected adapter id %08x\n", id);
		ret = -ENODEV;
		goto err_unmap;
	}

	uart_setup();
	uart_out(UART_SCR, 0x5a);
	pr_info("16550A at BAR0, scratch register reads %02x\n", uart_in(UART_SCR));

	/* Loopback with every modem output low: the inputs all drop at once. */
	uart_out(UART_MCR, UART_MCR_LOOP);
	msr = uart_in(UART_MSR);
	msr_again = uart_in(UART_MSR);
	pr_info("MSR %02x, then %02x (delta bits clear on read)\n", msr, msr_again);
	writel(0xffffffff, uart + EXT_EVT_STATUS);

	uart_loopback_echo();
	uart_overrun();

	events = readl(uart + EXT_EVT_STATUS);
	writel(events, uart + EXT_EVT_STATUS);
	pr_info("events %08x, after writing them back %08x\n",
		events, readl(uart + EXT_EVT_STATUS));

	/* Enabling the THR-empty interrupt with nothing to send raises it; reading IIR answers it. */
	uart_out(UART_IER, UART_IER_THRI);
	iir = uart_in(UART_IIR);
	iir_again = uart_in(UART_IIR);
	uart_out(UART_IER, 0);
	pr_info("IIR %02x (%s), then %02x\n", iir,
		(iir & UART_IIR_ID) == UART_IIR_THRI ? "THR empty" : "other",
		iir_again);

	/* Out of loopback: say hello to whoever is on the line. */
	uart_out(UART_MCR, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
	for (id = 0; id < 7; id++)
		uart_out(UART_THR, "ready\r\n"[id]);
	uart_drain(&polls);
	return 0;

err_unmap:
	pci_iounmap(uart_pdev, uart);
err_put:
	pci_dev_put(uart_pdev);
	return ret;
}

static void __exit uart16550_exit(void)
{
	uart_out(UART_IER, 0);
	uart_out(UART_MCR, 0);
	pci_iounmap(uart_pdev, uart);
	pci_dev_put(uart_pdev);
}

module_init(uart16550_init);
module_exit(uart16550_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Exercise the MMIO 16550A of the default machine");
