/*
 * The kmmio fault/trap pair for plain movs, on the host side of the CPU.
 *
 * Built by native.py with the host's gcc and loaded with ctypes; it is
 * unicorn's interrupt hook while mmiotrace traces with the faithful engine.
 * The mechanism is the same as the Python path's (kmmio.py): the access
 * page-faults because its page is not present, the page is made present,
 * TF is set, the instruction re-executes and reaches the device, the debug
 * trap after it records the value and re-arms the page.  What is different
 * is where it runs: a Python callback per exception costs about a
 * microsecond on its own, so the two exceptions of every readl/writel are
 * handled here when Python has already said how (a page it armed, a plan
 * for the instruction at that RIP), and everything else goes to the Python
 * hook unchanged ("fallback").
 *
 * Records go to a single-producer ring that Python drains in batches into
 * the trace's ring buffer (native.py).  The state below is shared with
 * Python through a ctypes mirror: every field is a 64-bit word so that the
 * two layouts cannot disagree.
 */

#include <stdint.h>
#include <time.h>

#define PTE_P     1ULL
#define EFLAGS_TF (1ULL << 8)
#define EFLAGS_IF (1ULL << 9)
#define PAGE_MASK (~0xfffULL)

#define EXC_DB 1
#define EXC_DF 8    /* a #PF whose old_exception reset was missed (cpu.py) */
#define EXC_PF 14

#define NO_REG (-1)

typedef void (*intr_fn)(void *uc, uint32_t intno, void *user);
typedef void (*drain_fn)(void);
typedef void (*invlpg_fn)(void *env, uint64_t addr);
typedef int (*ctl_fn)(void *uc, int request, ...);

/* A page armed by kmmio that this file may step: one probe, one mapping. */
struct ks_page {
	uint64_t va;            /* page base; 0: empty slot */
	uint64_t pte;           /* host address of its PTE */
	uint64_t present;       /* the PTE with P set */
	uint64_t probe_addr;    /* the mapping's virtual start ... */
	uint64_t probe_len;     /* ... and length */
	uint64_t phys;          /* its physical start */
	uint64_t map_id;
};

/* A plain mov at one RIP (mmio_mod.PlainPlan, with register indexes). */
struct ks_plan {
	uint64_t rip;           /* 0: empty slot */
	uint64_t opcode, width, load, at_fault;
	int64_t value_reg, base_reg, index_reg;  /* NO_REG or an index in off_reg */
	uint64_t shift, mask, imm, scale;
	uint64_t disp;
	uint64_t last;          /* bytes the access spans, minus one */
};

struct ks_record {
	uint64_t ts;            /* the machine clock (trace/clock.py), ns */
	uint64_t phys, value, pc, map_id, opcode, width;
};

struct ks {
	/* Where the live CPU state is (cpu.find_env) and its fields. */
	uint8_t *env;
	int64_t off_eflags, off_old, off_cr2, off_rip;
	int64_t off_reg[17];   /* the 16 GPRs, then RIP (stepctx order) */

	/* Open-addressed tables, filled by Python; capacity mask + 1. */
	struct ks_page *pages;
	uint64_t page_mask;
	struct ks_plan *plans;
	uint64_t plan_mask;

	/* The record ring: head is ours, tail is Python's. */
	struct ks_record *ring;
	uint64_t ring_mask;
	uint64_t head;
	uint64_t tail;
	uint64_t high_water;    /* call drain at this many unread records */
	uint64_t lost;          /* records that found the ring full */

	uint64_t enabled;
	uint64_t exact;         /* pf_in: record wherever the access is */
	uint64_t trace_pc;

	intr_fn fallback;       /* the Python hook */
	drain_fn drain;
	invlpg_fn invlpg;       /* one page's TLB entries; NULL: whole flush */
	ctl_fn ctl;
	uint64_t ctl_flush;

	/* The access being stepped. */
	uint64_t active;
	uint64_t s_va, s_pte, s_present;
	uint64_t s_saved_flags, s_rip, s_phys, s_map_id;
	uint64_t s_opcode, s_width, s_load, s_early, s_shift, s_mask;
	int64_t s_value_reg;

	uint64_t stepped;       /* accesses handled here */

	/* The machine clock as C sees it (TimeBase.c_clock); NULL: stamp
	 * with CLOCK_MONOTONIC.  Python's access path charges every access to
	 * its own copy of the clock; this side charges the accesses it steps
	 * to this word, and Python re-syncs the word (minus the access in
	 * flight) whenever its clock moves otherwise or it reads it: one
	 * store per access saved on the Python side. */
	uint64_t *clock;
	uint64_t read_cost, write_cost;
};

static inline uint64_t *env_word(struct ks *k, int64_t off)
{
	return (uint64_t *)(k->env + off);
}

static inline uint64_t reg(struct ks *k, int64_t index)
{
	return *env_word(k, k->off_reg[index]);
}

/* Fibonacci hashing of a key whose low bits are mostly equal (pages, RIPs). */
static inline uint64_t slot(uint64_t key, uint64_t mask)
{
	return (key * 0x9E3779B97F4A7C15ULL >> 20) & mask;
}

static struct ks_page *find_page(struct ks *k, uint64_t va)
{
	if (!k->pages)
		return 0;
	for (uint64_t i = slot(va, k->page_mask);; i = (i + 1) & k->page_mask) {
		struct ks_page *p = &k->pages[i];
		if (p->va == va)
			return p;
		if (!p->va)
			return 0;
	}
}

static struct ks_plan *find_plan(struct ks *k, uint64_t rip)
{
	if (!k->plans)
		return 0;
	for (uint64_t i = slot(rip, k->plan_mask);; i = (i + 1) & k->plan_mask) {
		struct ks_plan *p = &k->plans[i];
		if (p->rip == rip)
			return p;
		if (!p->rip)
			return 0;
	}
}

/* The page fault: set up the step, or return 0 having changed nothing. */
static int fault(struct ks *k)
{
	uint64_t cr2 = *env_word(k, k->off_cr2);
	uint64_t rip = *env_word(k, k->off_rip);
	uint64_t *flags = env_word(k, k->off_eflags);
	struct ks_page *page = find_page(k, cr2 & PAGE_MASK);
	struct ks_plan *plan;
	uint64_t *pte, a, addr;

	/* TF already set: a Python step in flight, or a debugger's. */
	if (!page || *flags & EFLAGS_TF)
		return 0;
	pte = (uint64_t *)page->pte;
	if (*pte != (page->present & ~PTE_P))
		return 0;               /* not armed: not our fault */
	plan = find_plan(k, rip);
	if (!plan)
		return 0;               /* Python decodes it first */
	a = plan->disp;
	if (plan->base_reg != NO_REG) {
		a += reg(k, plan->base_reg);
		if (plan->index_reg != NO_REG)
			a += reg(k, plan->index_reg) * plan->scale;
	}
	/* Another page in the same access: Python opens both for one step. */
	if (((a ^ cr2) & PAGE_MASK) || (((a + plan->last) ^ cr2) & PAGE_MASK))
		return 0;
	addr = plan->at_fault ? cr2 : a;
	if (!k->exact && !(page->probe_addr - plan->width < addr &&
			   addr < page->probe_addr + page->probe_len))
		return 0;               /* outside the mapping: Python sorts it out */

	k->s_va = page->va;
	k->s_pte = page->pte;
	k->s_present = page->present;
	k->s_rip = rip;
	k->s_phys = addr - page->probe_addr + page->phys;
	k->s_map_id = page->map_id;
	k->s_opcode = plan->opcode;
	k->s_width = plan->width;
	k->s_load = plan->load;
	k->s_shift = plan->shift;
	k->s_mask = plan->mask;
	k->s_value_reg = plan->value_reg;
	if (plan->load)
		k->s_early = 0;
	else if (plan->value_reg != NO_REG)
		k->s_early = (reg(k, plan->value_reg) >> plan->shift) & plan->mask;
	else
		k->s_early = plan->imm;

	/* Unicorn never resets old_exception itself (cpu.py, P1). */
	*(int32_t *)(k->env + k->off_old) = -1;
	k->s_saved_flags = *flags & (EFLAGS_TF | EFLAGS_IF);
	*flags = (*flags | EFLAGS_TF) & ~EFLAGS_IF;
	*pte = page->present;
	k->active = 1;
	return 1;
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/* Put the page back as it was: not present, and out of the TLB. */
static void rearm(struct ks *k, void *uc)
{
	*(uint64_t *)k->s_pte = k->s_present & ~PTE_P;
	if (k->invlpg)
		k->invlpg(k->env, k->s_va);
	else
		k->ctl(uc, (int)k->ctl_flush);
}

/* The debug trap after the step: record, re-arm, restore the flags. */
static void trap(struct ks *k, void *uc)
{
	uint64_t *flags = env_word(k, k->off_eflags);
	uint64_t value = k->s_load ? (reg(k, k->s_value_reg) >> k->s_shift) & k->s_mask : k->s_early;
	uint64_t tail = __atomic_load_n(&k->tail, __ATOMIC_ACQUIRE);
	uint64_t ts;

	if (k->clock)
		ts = *k->clock += k->s_load ? k->read_cost : k->write_cost;
	else
		ts = now_ns();
	*flags = (*flags & ~EFLAGS_TF) | k->s_saved_flags;
	rearm(k, uc);
	k->active = 0;
	k->stepped++;

	if (k->head - tail > k->ring_mask) {
		k->lost++;
	} else {
		struct ks_record *r = &k->ring[k->head & k->ring_mask];

		r->ts = ts;
		r->phys = k->s_phys;
		r->value = value;
		r->pc = k->trace_pc ? k->s_rip : 0;
		r->map_id = k->s_map_id;
		r->opcode = k->s_opcode;
		r->width = k->s_width;
		__atomic_store_n(&k->head, k->head + 1, __ATOMIC_RELEASE);
	}
	if (k->head - tail >= k->high_water)
		k->drain();
}

/* unicorn's UC_HOOK_INTR callback. */
void ks_intr(void *uc, uint32_t intno, void *user)
{
	struct ks *k = user;

	if (intno == EXC_PF || intno == EXC_DF) {
		if (k->enabled && !k->active && fault(k))
			return;
	} else if (intno == EXC_DB && k->active) {
		trap(k, uc);
		return;
	}
	k->fallback(uc, intno, 0);
}

/* The run ended between a fault and its trap (an oops): undo the step. */
void ks_abort(struct ks *k, void *uc)
{
	uint64_t *flags;

	if (!k->active)
		return;
	flags = env_word(k, k->off_eflags);
	*flags = (*flags & ~EFLAGS_TF) | k->s_saved_flags;
	rearm(k, uc);
	k->active = 0;
}

/* The four struct sizes, for the loader to compare with its mirror. */
uint64_t ks_layout(void)
{
	return sizeof(struct ks) | sizeof(struct ks_page) << 16 |
	       (uint64_t)sizeof(struct ks_plan) << 32 | (uint64_t)sizeof(struct ks_record) << 48;
}
