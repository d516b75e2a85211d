// SPDX-License-Identifier: GPL-2.0-only
/*
 * edu: a PCI driver for QEMU's educational device (1234:11e8), written the
 * way Linux drivers are written, so the same source builds and runs on a
 * real kernel against QEMU's device and on ftrace-mmio against its model.
 *
 * Probe maps BAR0 (pcim_*), checks the identification and liveness
 * registers, takes one interrupt vector (MSI when the device offers it,
 * INTx otherwise), and then exercises every part of the device:
 *
 *   - an interrupt raised by software through the raise register,
 *   - a factorial polled with readl_poll_timeout on the status busy bit,
 *   - a factorial that signals completion with an interrupt,
 *   - DMA from RAM into the device's buffer and back, out of one
 *     dma_alloc_coherent buffer, each transfer ending in an interrupt,
 *   - a timer_list whose callback reads the identification register,
 *   - a work item that computes a factorial (sleeping on the interrupt).
 *
 * Every step that makes the device interrupt waits on a completion before
 * the next access, and the timer and the work are waited for, so the order
 * of MMIO accesses is the same on every run and on both kernels; only the
 * number of polling reads and the DMA bus addresses differ.
 *
 *   ftrace-mmio run edu --machine docs/examples/edu.toml
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bits.h>
#include <linux/completion.h>
#include <linux/dma-mapping.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/iopoll.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/string.h>
#include <linux/timer.h>
#include <linux/workqueue.h>

#define EDU_VENDOR_ID		0x1234
#define EDU_DEVICE_ID		0x11e8
#define EDU_BAR			0

/* BAR0 registers (QEMU docs/specs/edu.rst). */
#define EDU_ID			0x00	/* 0xRRrr00ed: major, minor, magic */
#define EDU_LIVENESS		0x04	/* reads back the bitwise inverse */
#define EDU_FACTORIAL		0x08
#define EDU_STATUS		0x20
#define  EDU_STATUS_BUSY	BIT(0)	/* computing the factorial */
#define  EDU_STATUS_IRQ_FACT	BIT(7)	/* interrupt when it is done */
#define EDU_IRQ_STATUS		0x24
#define EDU_IRQ_RAISE		0x60
#define EDU_IRQ_ACK		0x64
#define EDU_DMA_SRC		0x80
#define EDU_DMA_DST		0x88
#define EDU_DMA_COUNT		0x90
#define EDU_DMA_CMD		0x98
#define  EDU_DMA_START		BIT(0)
#define  EDU_DMA_TO_RAM		BIT(1)
#define  EDU_DMA_IRQ		BIT(2)

/* Interrupt status bits: the device's own two, and one of ours for the raise test. */
#define EDU_INT_FACT		0x00000001
#define EDU_INT_DMA		0x00000100
#define EDU_INT_SOFT		0x00010000

#define EDU_ID_MAGIC		0xed
#define EDU_DMA_BUF_ADDR	0x40000	/* the device's 4 KiB buffer, device side */
#define EDU_DMA_LEN		1024	/* below 4 KiB: QEMU 7.2 refuses the whole buffer */
#define EDU_LIVE_PATTERN	0x12345678
#define EDU_FACT_POLLED		10	/* 10! = 3628800 */
#define EDU_FACT_IRQ		12	/* 12! = 479001600 */
#define EDU_FACT_WORK		7	/* 7! = 5040 */
#define EDU_TIMEOUT_MS		1000	/* QEMU's DMA takes 100 ms */

struct edu_dev {
	struct pci_dev *pdev;
	void __iomem *regs;
	int irq;
	struct completion irq_done;	/* completed by the interrupt handler */
	u32 irq_seen;			/* interrupt status bits the handler acknowledged */
	unsigned int irq_count;

	void *buf;			/* DMA buffer: pattern out, copy back in */
	dma_addr_t buf_bus;

	struct timer_list timer;
	struct completion timer_done;
	u32 timer_id;

	struct work_struct work;
	u32 work_result;
	int work_err;
};

static irqreturn_t edu_irq(int irq, void *data)
{
	struct edu_dev *edu = data;
	u32 status = readl(edu->regs + EDU_IRQ_STATUS);

	if (!status)
		return IRQ_NONE;	/* a shared INTx line, someone else's */
	/* Until it is acknowledged the device keeps its line asserted. */
	writel(status, edu->regs + EDU_IRQ_ACK);
	edu->irq_seen |= status;
	edu->irq_count++;
	complete(&edu->irq_done);
	return IRQ_HANDLED;
}

/* Wait for the handler to have acknowledged @bit; 0 or -ETIMEDOUT. */
static int edu_wait_irq(struct edu_dev *edu, u32 bit, const char *what)
{
	unsigned long left;

	left = wait_for_completion_timeout(&edu->irq_done,
					   msecs_to_jiffies(EDU_TIMEOUT_MS));
	if (!left || !(edu->irq_seen & bit)) {
		dev_err(&edu->pdev->dev, "%s: no interrupt (status seen %#x)\n",
			what, edu->irq_seen);
		return -ETIMEDOUT;
	}
	return 0;
}

static void edu_arm_irq(struct edu_dev *edu)
{
	edu->irq_seen = 0;
	reinit_completion(&edu->irq_done);
}

static int edu_factorial_irq(struct edu_dev *edu, u32 n, u32 *result)
{
	int err;

	edu_arm_irq(edu);
	writel(EDU_STATUS_IRQ_FACT, edu->regs + EDU_STATUS);
	writel(n, edu->regs + EDU_FACTORIAL);
	err = edu_wait_irq(edu, EDU_INT_FACT, "factorial");
	writel(0, edu->regs + EDU_STATUS);
	if (err)
		return err;
	*result = readl(edu->regs + EDU_FACTORIAL);
	return 0;
}

static int edu_factorial_polled(struct edu_dev *edu, u32 n, u32 *result)
{
	u32 status;
	int err;

	writel(0, edu->regs + EDU_STATUS);	/* no interrupt for this one */
	writel(n, edu->regs + EDU_FACTORIAL);
	err = readl_poll_timeout(edu->regs + EDU_STATUS, status,
				 !(status & EDU_STATUS_BUSY), 10, 100000);
	if (err)
		return err;
	*result = readl(edu->regs + EDU_FACTORIAL);
	return 0;
}

/* One transfer between RAM (bus address) and the device's buffer. */
static int edu_dma(struct edu_dev *edu, u64 src, u64 dst, u32 len, bool to_ram)
{
	u32 cmd = EDU_DMA_START | EDU_DMA_IRQ | (to_ram ? EDU_DMA_TO_RAM : 0);
	int err;

	edu_arm_irq(edu);
	writeq(src, edu->regs + EDU_DMA_SRC);
	writeq(dst, edu->regs + EDU_DMA_DST);
	writel(len, edu->regs + EDU_DMA_COUNT);
	writel(cmd, edu->regs + EDU_DMA_CMD);
	err = edu_wait_irq(edu, EDU_INT_DMA, to_ram ? "dma to ram" : "dma to device");
	if (err)
		return err;
	if (readl(edu->regs + EDU_DMA_CMD) & EDU_DMA_START) {
		dev_err(&edu->pdev->dev, "dma: interrupt before the transfer ended\n");
		return -EIO;
	}
	return 0;
}

static int edu_dma_roundtrip(struct edu_dev *edu)
{
	u8 *out = edu->buf, *back = (u8 *)edu->buf + EDU_DMA_LEN;
	int i, err;

	for (i = 0; i < EDU_DMA_LEN; i++)
		out[i] = (u8)(i * 7 + 3);
	memset(back, 0, EDU_DMA_LEN);

	err = edu_dma(edu, edu->buf_bus, EDU_DMA_BUF_ADDR, EDU_DMA_LEN, false);
	if (err)
		return err;
	err = edu_dma(edu, EDU_DMA_BUF_ADDR, edu->buf_bus + EDU_DMA_LEN, EDU_DMA_LEN, true);
	if (err)
		return err;
	if (memcmp(out, back, EDU_DMA_LEN)) {
		for (i = 0; i < EDU_DMA_LEN && out[i] == back[i]; i++)
			;
		dev_err(&edu->pdev->dev, "dma: byte %d came back as %#x, sent %#x\n",
			i, back[i], out[i]);
		return -EIO;
	}
	return 0;
}

static void edu_timer_fn(struct timer_list *t)
{
	struct edu_dev *edu = from_timer(edu, t, timer);

	edu->timer_id = readl(edu->regs + EDU_ID);
	complete(&edu->timer_done);
}

static void edu_work_fn(struct work_struct *work)
{
	struct edu_dev *edu = container_of(work, struct edu_dev, work);

	edu->work_err = edu_factorial_irq(edu, EDU_FACT_WORK, &edu->work_result);
}

static int edu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct device *dev = &pdev->dev;
	struct edu_dev *edu;
	u32 ident, live, fact;
	int err;

	edu = devm_kzalloc(dev, sizeof(*edu), GFP_KERNEL);
	if (!edu)
		return -ENOMEM;
	edu->pdev = pdev;
	init_completion(&edu->irq_done);
	init_completion(&edu->timer_done);
	timer_setup(&edu->timer, edu_timer_fn, 0);
	INIT_WORK(&edu->work, edu_work_fn);
	pci_set_drvdata(pdev, edu);

	err = pcim_enable_device(pdev);
	if (err)
		return err;
	err = pcim_iomap_regions(pdev, BIT(EDU_BAR), KBUILD_MODNAME);
	if (err)
		return err;
	edu->regs = pcim_iomap_table(pdev)[EDU_BAR];

	ident = readl(edu->regs + EDU_ID);
	if ((ident & 0xff) != EDU_ID_MAGIC) {
		dev_err(dev, "identification %#010x is not an edu device\n", ident);
		return -ENODEV;
	}
	dev_info(dev, "edu version %u.%u (identification %#010x)\n",
		 ident >> 24, (ident >> 16) & 0xff, ident);

	writel(EDU_LIVE_PATTERN, edu->regs + EDU_LIVENESS);
	live = readl(edu->regs + EDU_LIVENESS);
	if (live != (u32)~EDU_LIVE_PATTERN) {
		dev_err(dev, "liveness: wrote %#010x, read %#010x\n", EDU_LIVE_PATTERN, live);
		return -EIO;
	}
	dev_info(dev, "liveness: wrote %#010x, read %#010x\n", EDU_LIVE_PATTERN, live);

	pci_set_master(pdev);
	err = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(28));
	if (err) {
		dev_err(dev, "no usable 28-bit DMA\n");
		return err;
	}

	/* Nothing of ours may be pending when the handler goes in. */
	writel(0xffffffff, edu->regs + EDU_IRQ_ACK);
	err = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI | PCI_IRQ_LEGACY);
	if (err < 0)
		return err;
	edu->irq = pci_irq_vector(pdev, 0);
	err = devm_request_irq(dev, edu->irq, edu_irq, IRQF_SHARED, KBUILD_MODNAME, edu);
	if (err)
		return err;
	dev_info(dev, "interrupts: %s\n", pdev->msi_enabled ? "MSI" : "INTx");

	/* An interrupt raised by hand. */
	edu_arm_irq(edu);
	writel(EDU_INT_SOFT, edu->regs + EDU_IRQ_RAISE);
	err = edu_wait_irq(edu, EDU_INT_SOFT, "raise");
	if (err)
		return err;
	dev_info(dev, "raised interrupt: status %#x acknowledged\n", edu->irq_seen);

	err = edu_factorial_polled(edu, EDU_FACT_POLLED, &fact);
	if (err) {
		dev_err(dev, "factorial: still busy\n");
		return err;
	}
	dev_info(dev, "factorial(%u) = %u (polled)\n", EDU_FACT_POLLED, fact);

	err = edu_factorial_irq(edu, EDU_FACT_IRQ, &fact);
	if (err)
		return err;
	dev_info(dev, "factorial(%u) = %u (interrupt)\n", EDU_FACT_IRQ, fact);

	edu->buf = dma_alloc_coherent(dev, 2 * EDU_DMA_LEN, &edu->buf_bus, GFP_KERNEL);
	if (!edu->buf)
		return -ENOMEM;
	err = edu_dma_roundtrip(edu);
	if (err)
		goto free_buf;
	dev_info(dev, "dma: %u bytes to the device and back, identical\n", EDU_DMA_LEN);

	mod_timer(&edu->timer, jiffies + msecs_to_jiffies(20));
	if (!wait_for_completion_timeout(&edu->timer_done, msecs_to_jiffies(EDU_TIMEOUT_MS))) {
		dev_err(dev, "timer: never ran\n");
		err = -ETIMEDOUT;
		goto stop_timer;
	}
	dev_info(dev, "timer: identification %#010x\n", edu->timer_id);

	schedule_work(&edu->work);
	flush_work(&edu->work);
	if (edu->work_err) {
		err = edu->work_err;
		goto stop_timer;
	}
	dev_info(dev, "work: factorial(%u) = %u\n", EDU_FACT_WORK, edu->work_result);

	dev_info(dev, "ready: %u interrupts handled\n", edu->irq_count);
	return 0;

stop_timer:
	del_timer_sync(&edu->timer);
	cancel_work_sync(&edu->work);
free_buf:
	dma_free_coherent(dev, 2 * EDU_DMA_LEN, edu->buf, edu->buf_bus);
	return err;
}

static void edu_remove(struct pci_dev *pdev)
{
	struct edu_dev *edu = pci_get_drvdata(pdev);

	del_timer_sync(&edu->timer);
	cancel_work_sync(&edu->work);
	/* Leave the device quiet: no interrupt on a factorial, nothing pending. */
	writel(0, edu->regs + EDU_STATUS);
	writel(readl(edu->regs + EDU_IRQ_STATUS), edu->regs + EDU_IRQ_ACK);
	dma_free_coherent(&pdev->dev, 2 * EDU_DMA_LEN, edu->buf, edu->buf_bus);
	dev_info(&pdev->dev, "removed after %u interrupts\n", edu->irq_count);
}

static const struct pci_device_id edu_ids[] = {
	{ PCI_DEVICE(EDU_VENDOR_ID, EDU_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, edu_ids);

static struct pci_driver edu_driver = {
	.name = KBUILD_MODNAME,
	.id_table = edu_ids,
	.probe = edu_probe,
	.remove = edu_remove,
};
module_pci_driver(edu_driver);

MODULE_DESCRIPTION("Driver for QEMU's educational PCI device (edu)");
MODULE_LICENSE("GPL");
