// SPDX-License-Identifier: GPL-2.0-only
/*
 * nvlike: a first look at an NVIDIA GPU, the way a new driver starts out.
 *
 * Find the card, map its register BAR, identify the chip, switch the
 * engines on, check that the timer runs, take one timer interrupt by
 * polling, and poke video memory through the PRAMIN window. Each step is a
 * handful of MMIO accesses at offsets nouveau and envytools know, so the
 * trace of this module is something demmio can name.
 *
 *   ftrace-mmio insmod nvlike && ftrace-mmio dmesg
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/errno.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/pci.h>

#define NV_VENDOR_ID		0x10de

/* BAR0 registers. */
#define NV_PMC_BOOT_0		0x000000
#define NV_PMC_INTR_0		0x000100
#define NV_PMC_INTR_EN_0	0x000140
#define NV_PMC_ENABLE		0x000200
#define NV_PBUS_BAR0_WINDOW	0x001700	/* PRAMIN base, in 64 KiB units */
#define NV_PTIMER_INTR_0	0x009100	/* write 1 to acknowledge */
#define NV_PTIMER_INTR_EN_0	0x009140
#define NV_PTIMER_NUMERATOR	0x009200
#define NV_PTIMER_DENOMINATOR	0x009210
#define NV_PTIMER_TIME_0	0x009400
#define NV_PTIMER_TIME_1	0x009410
#define NV_PTIMER_ALARM_0	0x009420
#define NV_PTHERM_TEMP		0x020400
#define NV_PRAMIN		0x700000

#define NV_PMC_INTR_PTIMER	(1u << 20)
#define NV_PMC_INTR_EN_HW	(1u << 0)
#define NV_PTIMER_INTR_ALARM	(1u << 0)

#define TEST_VRAM_OFFSET	0x200000
#define TEST_PATTERN		0xdeadbeef

static struct pci_dev *nv_pdev;
static void __iomem *nv_mmio;

static u32 nv_rd32(u32 reg)
{
	return readl(nv_mmio + reg);
}

static void nv_wr32(u32 reg, u32 val)
{
	writel(val, nv_mmio + reg);
}

/*
 * The counter is 64 bits read as two halves: if the low half wraps between
 * the reads the halves disagree, so read the high half again until it holds.
 */
static u64 nv_timer_ns(void)
{
	u32 hi, lo;

	do {
		hi = nv_rd32(NV_PTIMER_TIME_1);
		lo = nv_rd32(NV_PTIMER_TIME_0);
	} while (hi != nv_rd32(NV_PTIMER_TIME_1));
	return ((u64)hi << 32) | lo;
}

static const char *nv_chip_name(u32 chipset)
{
	switch (chipset) {
	case 0x0e4: return "GK104";
	case 0x0e6: return "GK106";
	case 0x0e7: return "GK107";
	case 0x0f0: return "GK110";
	case 0x117: return "GM107";
	case 0x124: return "GM204";
	default:    return "unknown chipset";
	}
}

static void nv_identify(void)
{
	u32 boot0 = nv_rd32(NV_PMC_BOOT_0);
	u32 chipset = (boot0 >> 20) & 0x1ff;

	pr_info("NVIDIA %s (%08x), chipset %03x stepping %02x\n",
		nv_chip_name(chipset), boot0, chipset, boot0 & 0xff);
}

static void nv_enable_engines(void)
{
	/* Ask for everything; the bits that stay set are the engines this chip has. */
	nv_wr32(NV_PMC_ENABLE, 0xffffffff);
	pr_info("PMC_ENABLE reads %08x after enabling all engines\n",
		nv_rd32(NV_PMC_ENABLE));
}

static void nv_check_timer(void)
{
	u64 before, after;
	int i;

	/* 1 GHz / 27 MHz: nanoseconds per tick of the reference crystal. */
	nv_wr32(NV_PTIMER_NUMERATOR, 1000);
	nv_wr32(NV_PTIMER_DENOMINATOR, 27);

	before = nv_timer_ns();
	for (i = 0; i < 3; i++) {
		udelay(10);
		after = nv_timer_ns();
		pr_info("PTIMER advanced %u ns across udelay(10)\n",
			(u32)(after - before));
		before = after;
	}
}

static void nv_check_alarm(void)
{
	u32 pmc_intr, timer_intr;

	nv_wr32(NV_PTIMER_INTR_0, NV_PTIMER_INTR_ALARM);
	nv_wr32(NV_PTIMER_INTR_EN_0, NV_PTIMER_INTR_ALARM);
	nv_wr32(NV_PMC_INTR_EN_0, NV_PMC_INTR_EN_HW);
	nv_wr32(NV_PTIMER_ALARM_0, (u32)nv_timer_ns() + 5000);
	udelay(20);

	/* No interrupt controller here: poll the summary, then acknowledge. */
	pmc_intr = nv_rd32(NV_PMC_INTR_0);
	timer_intr = nv_rd32(NV_PTIMER_INTR_0);
	pr_info("alarm: PMC_INTR_0 %08x (PTIMER %s), PTIMER_INTR_0 %08x\n",
		pmc_intr, (pmc_intr & NV_PMC_INTR_PTIMER) ? "pending" : "idle",
		timer_intr);
	nv_wr32(NV_PTIMER_INTR_0, timer_intr);
	pr_info("alarm acknowledged: PTIMER_INTR_0 %08x\n",
		nv_rd32(NV_PTIMER_INTR_0));
	nv_wr32(NV_PMC_INTR_EN_0, 0);
	nv_wr32(NV_PTIMER_INTR_EN_0, 0);
}

static void nv_check_vram(void)
{
	void __iomem *aperture;
	u32 seen;

	/* Point PRAMIN at a VRAM offset and write through it... */
	nv_wr32(NV_PBUS_BAR0_WINDOW, TEST_VRAM_OFFSET >> 16);
	nv_wr32(NV_PRAMIN, TEST_PATTERN);
	seen = nv_rd32(NV_PRAMIN);
	pr_info("PRAMIN: wrote %08x at VRAM %x, read back %08x\n",
		TEST_PATTERN, TEST_VRAM_OFFSET, seen);

	/* ...then look at the same VRAM through the BAR1 aperture. */
	aperture = ioremap(pci_resource_start(nv_pdev, 1) + TEST_VRAM_OFFSET,
			   PAGE_SIZE);
	if (!aperture) {
		pr_err("could not map BAR1\n");
		return;
	}
	pr_info("BAR1: VRAM %x reads %08x\n", TEST_VRAM_OFFSET, readl(aperture));
	iounmap(aperture);
}

static int __init nvlike_init(void)
{
	int ret;

	nv_pdev = pci_get_device(NV_VENDOR_ID, PCI_ANY_ID, NULL);
	if (!nv_pdev) {
		pr_err("no NVIDIA device found\n");
		return -ENODEV;
	}
	ret = pci_enable_device(nv_pdev);
	if (ret) {
		pr_err("cannot enable the device: %d\n", ret);
		goto err_put;
	}
	if (!(pci_resource_flags(nv_pdev, 0) & IORESOURCE_MEM)) {
		pr_err("BAR0 is not a memory BAR\n");
		ret = -ENODEV;
		goto err_put;
	}
	nv_mmio = ioremap(pci_resource_start(nv_pdev, 0),
			  pci_resource_len(nv_pdev, 0));
	if (!nv_mmio) {
		pr_err("could not map BAR0\n");
		ret = -ENOMEM;
		goto err_put;
	}
	pr_info("BAR0 %lx, %lu MiB\n",
		(unsigned long)pci_resource_start(nv_pdev, 0),
		(unsigned long)(pci_resource_len(nv_pdev, 0) >> 20));

	nv_identify();
	nv_enable_engines();
	nv_check_timer();
	nv_check_alarm();
	nv_check_vram();
	pr_info("temperature %u C\n", nv_rd32(NV_PTHERM_TEMP));
	return 0;

err_put:
	pci_dev_put(nv_pdev);
	return ret;
}

static void __exit nvlike_exit(void)
{
	iounmap(nv_mmio);
	pci_dev_put(nv_pdev);
	pr_info("unloaded\n");
}

module_init(nvlike_init);
module_exit(nvlike_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("First contact with an NVIDIA-style GPU");
