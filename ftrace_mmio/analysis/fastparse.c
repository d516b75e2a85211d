/*
 * The hot loops of the dump tools: a tokenizer for the lines that make up
 * nearly all of a dump (R, W, MAP, UNMAP), and the per-access counting of
 * `ftrace-mmio stats` (registers, polling loops, gaps, the plot's bins).
 *
 * Built by native.py with the host's gcc at first use and loaded with
 * ctypes.  Python keeps the grammar: a line is tokenized here only when it
 * is exactly what the kernel prints (single spaces, 0x-prefixed hex of at
 * most 16 digits, a six-digit microsecond field, a newline and no CR);
 * anything else -- a damaged line, a CR-LF ending, a number too long for 64
 * bits, a marker, a PCIDEV line -- is left to parse.py ("slow"), which
 * parses it and words its problem as before.  So the records are the same
 * with or without this file; only the time differs.
 *
 * The counting mirrors stats.py's StatsCollector and LoopDetector step for
 * step (tests run both and compare).  Register identity comes from Python:
 * the resolver says which register an address is; this file only caches
 * (address, map id, R/W/U) -> register id and calls back into Python (by
 * returning) when it meets an address it has not been told about.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- tokenizer */

enum { K_SLOW = 0, K_R = 1, K_W = 2, K_MAP = 3, K_UNMAP = 4 };

struct fp_rec {                 /* 72 bytes; mirrored in native.py */
    uint64_t ts;                /* microseconds */
    uint64_t phys;              /* R/W/MAP address */
    uint64_t value;             /* R/W value; MAP virt */
    uint64_t pc;
    uint64_t length;            /* MAP length */
    int64_t map_id;
    uint64_t pid;
    uint32_t start;             /* offset of the line in the buffer */
    uint32_t len;               /* without its newline */
    uint8_t kind;
    uint8_t width;
    uint8_t pad[6];
};

static const signed char *hexval;
static signed char hextab[256];

__attribute__((constructor)) static void fp_init(void)
{
    memset(hextab, -1, sizeof hextab);
    for (int i = 0; i < 10; i++)
        hextab['0' + i] = (signed char)i;
    for (int i = 0; i < 6; i++) {
        hextab['a' + i] = (signed char)(10 + i);
        hextab['A' + i] = (signed char)(10 + i);
    }
    hexval = hextab;
}

/* Each field parser advances *p past the field and the single space (or
 * newline) that must follow it; 0 on anything else. */

static inline int sep(const char **p, const char *end, int last)
{
    if (*p >= end)
        return 0;
    if (last)
        return **p == '\n';
    if (**p != ' ')
        return 0;
    (*p)++;
    return 1;
}

static inline int dec(const char **p, const char *end, uint64_t *out, int maxdigits)
{
    const char *s = *p;
    uint64_t v = 0;
    int n = 0;
    while (s < end && (unsigned)(*s - '0') < 10) {
        if (++n > maxdigits)
            return 0;
        v = v * 10 + (uint64_t)(*s - '0');
        s++;
    }
    if (!n)
        return 0;
    *p = s;
    *out = v;
    return 1;
}

static inline int sdec(const char **p, const char *end, int64_t *out)
{
    int neg = 0;
    uint64_t v;
    if (*p < end && **p == '-') {
        neg = 1;
        (*p)++;
    }
    if (!dec(p, end, &v, 18))
        return 0;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 1;
}

static inline int hex0x(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    int n = 0;
    if (end - s < 3 || s[0] != '0' || s[1] != 'x')
        return 0;
    s += 2;
    while (s < end) {
        int d = hexval[(unsigned char)*s];
        if (d < 0)
            break;
        if (++n > 16)
            return 0;
        v = v << 4 | (uint64_t)d;
        s++;
    }
    if (!n)
        return 0;
    *p = s;
    *out = v;
    return 1;
}

static inline int tstamp(const char **p, const char *end, uint64_t *out)
{
    uint64_t secs, usec;
    const char *s;
    if (!dec(p, end, &secs, 12))
        return 0;
    if (*p >= end || **p != '.')
        return 0;
    (*p)++;
    s = *p;
    if (!dec(p, end, &usec, 6) || *p - s != 6)
        return 0;
    *out = secs * 1000000 + usec;
    return 1;
}

static int line_rw(const char *s, const char *end, struct fp_rec *r)
{
    uint64_t w;
    const char *p = s + 2;
    if (!(dec(&p, end, &w, 18) && sep(&p, end, 0)))
        return 0;
    if (w != 1 && w != 2 && w != 4 && w != 8)
        return 0;
    if (!(tstamp(&p, end, &r->ts) && sep(&p, end, 0) && sdec(&p, end, &r->map_id) && sep(&p, end, 0)
          && hex0x(&p, end, &r->phys) && sep(&p, end, 0) && hex0x(&p, end, &r->value) && sep(&p, end, 0)
          && hex0x(&p, end, &r->pc) && sep(&p, end, 0) && dec(&p, end, &r->pid, 18) && sep(&p, end, 1)))
        return 0;
    r->width = (uint8_t)w;
    r->kind = s[0] == 'R' ? K_R : K_W;
    return 1;
}

static int line_map(const char *s, const char *end, struct fp_rec *r)
{
    const char *p = s + 4;
    if (!(tstamp(&p, end, &r->ts) && sep(&p, end, 0) && sdec(&p, end, &r->map_id) && sep(&p, end, 0)
          && hex0x(&p, end, &r->phys) && sep(&p, end, 0) && hex0x(&p, end, &r->value) && sep(&p, end, 0)
          && hex0x(&p, end, &r->length) && sep(&p, end, 0) && hex0x(&p, end, &r->pc) && sep(&p, end, 0)
          && dec(&p, end, &r->pid, 18) && sep(&p, end, 1)))
        return 0;
    r->kind = K_MAP;
    return 1;
}

static int line_unmap(const char *s, const char *end, struct fp_rec *r)
{
    const char *p = s + 6;
    if (!(tstamp(&p, end, &r->ts) && sep(&p, end, 0) && sdec(&p, end, &r->map_id) && sep(&p, end, 0)
          && hex0x(&p, end, &r->pc) && sep(&p, end, 0) && dec(&p, end, &r->pid, 18) && sep(&p, end, 1)))
        return 0;
    r->kind = K_UNMAP;
    return 1;
}

/*
 * Tokenize the complete lines of buf[0:len] (each ending in '\n'), at most
 * max of them, into out[].  Returns the number of lines; *consumed is the
 * bytes they took (a partial last line is left for the next call).  The
 * indices of lines that are not R/W go to slow[] (*nslow of them), so the
 * caller can walk runs of accesses without looking at each line.
 */
size_t fp_tokenize(const char *buf, size_t len, struct fp_rec *out, size_t max, uint64_t *consumed,
                   uint32_t *slow, uint64_t *nslow)
{
    size_t n = 0, ns = 0, off = 0;
    while (n < max && off < len) {
        const char *s = buf + off;
        const char *nl = memchr(s, '\n', len - off);
        if (!nl)
            break;
        const char *end = nl + 1;
        struct fp_rec *r = &out[n];
        r->start = (uint32_t)off;
        r->len = (uint32_t)(nl - s);
        r->kind = K_SLOW;
        r->width = 0;
        size_t l = (size_t)(nl - s);
        int ok = 0;
        if (l > 2 && (s[0] == 'R' || s[0] == 'W') && s[1] == ' ')
            ok = line_rw(s, end, r);
        else if (l > 4 && s[0] == 'M' && s[1] == 'A' && s[2] == 'P' && s[3] == ' ')
            ok = line_map(s, end, r);
        else if (l > 6 && memcmp(s, "UNMAP ", 6) == 0)
            ok = line_unmap(s, end, r);
        if (!ok)
            r->kind = K_SLOW;
        if (r->kind != K_R && r->kind != K_W)
            slow[ns++] = (uint32_t)n;
        n++;
        off = (size_t)(end - buf);
    }
    *consumed = off;
    *nslow = ns;
    return n;
}

/* ---------------------------------------------------------------- stats */

#define MAX_PERIOD 4
#define TOP_GAPS 10
#define DISTINCT_CAP 4096
#define PLOT_BINS 2048
#define MAX_BINW (1ULL << 52)
#define KEY_EMPTY UINT64_MAX

struct fp_reg {
    uint64_t reads, writes, unknown;
    uint64_t last_us, last_line, last_value, has_last_value;
    uint64_t widths;            /* up to 4 widths, a byte each, in order of first use */
    uint64_t nwidths;
    uint64_t overflow;
    uint64_t nvalues;
    uint64_t vcap;              /* slots in values (a power of two, 0 before the first) */
    uint64_t *values;
    uint8_t *bins;              /* 4 x PLOT_BINS bits: R, W, U, in a polling loop (only when plotting) */
};

struct fp_slot {
    int64_t key;
    uint64_t first_value, last_value, reads, same, changed;
};

struct fp_cand {
    uint64_t streak, start_line, start_us, last_line, last_us;
    struct fp_slot slots[MAX_PERIOD];
};

struct fp_loop {                /* one closed polling loop; mirrored in native.py */
    uint64_t period, iterations, reads, first_line, last_line, first_us, last_us;
    struct fp_slot slots[MAX_PERIOD];
};

struct fp_hist {
    int64_t key;
    uint64_t value, ts, line;
};

struct fp_gap {
    int64_t gap;
    uint64_t line, prev_line, at_us;
};

struct fp_keyent {
    uint64_t phys;
    int64_t map_id;
    uint64_t op;                /* 1 R, 2 W, 3 U; KEY_EMPTY: free */
    int64_t reg;
};

struct fp_stats {
    uint64_t min_iterations, gap_threshold, plot;
    struct fp_reg *regs;
    uint64_t nregs, regcap;
    struct fp_keyent *keys;
    uint64_t keymask, nkeys;
    struct fp_hist hist[MAX_PERIOD];
    uint64_t hlen, hpos;
    struct fp_cand cands[MAX_PERIOD];
    struct fp_loop *loops;
    uint64_t nloops, loopcap;
    struct fp_gap gaps[TOP_GAPS];
    uint64_t ngaps, gaps_over;
    uint64_t has_prev, prev_ts, prev_line;
    uint64_t has_first, first_us, last_us;
    uint64_t rw_records;
    /* plot bins: bin b covers [t0 + b*w, t0 + (b+1)*w) */
    uint64_t has_t0, t0, binw;
};

struct fp_stats *fp_stats_new(uint64_t min_iterations, uint64_t gap_threshold, uint64_t plot)
{
    struct fp_stats *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->min_iterations = min_iterations;
    s->gap_threshold = gap_threshold;
    s->plot = plot;
    s->keymask = 1023;
    s->keys = malloc((s->keymask + 1) * sizeof *s->keys);
    if (!s->keys) {
        free(s);
        return NULL;
    }
    for (uint64_t i = 0; i <= s->keymask; i++)
        s->keys[i].op = KEY_EMPTY;
    s->binw = 1;
    return s;
}

void fp_stats_free(struct fp_stats *s)
{
    if (!s)
        return;
    for (uint64_t i = 0; i < s->nregs; i++) {
        free(s->regs[i].values);
        free(s->regs[i].bins);
    }
    free(s->regs);
    free(s->keys);
    free(s->loops);
    free(s);
}

static inline uint64_t mix(uint64_t phys, int64_t map_id, uint64_t op)
{
    uint64_t h = phys * 0x9E3779B97F4A7C15ULL ^ ((uint64_t)map_id * 0xC2B2AE3D27D4EB4FULL) ^ (op << 61);
    return h ^ (h >> 29);
}

static int64_t key_get(struct fp_stats *s, uint64_t phys, int64_t map_id, uint64_t op)
{
    uint64_t i = mix(phys, map_id, op) & s->keymask;
    for (;;) {
        struct fp_keyent *e = &s->keys[i];
        if (e->op == KEY_EMPTY)
            return -1;
        if (e->phys == phys && e->map_id == map_id && e->op == op)
            return e->reg;
        i = (i + 1) & s->keymask;
    }
}

static int key_put(struct fp_stats *s, uint64_t phys, int64_t map_id, uint64_t op, int64_t reg)
{
    if ((s->nkeys + 1) * 2 > s->keymask + 1) {
        uint64_t old = s->keymask + 1, size = old * 2;
        struct fp_keyent *k = malloc(size * sizeof *k), *prev = s->keys;
        if (!k)
            return -1;
        for (uint64_t i = 0; i < size; i++)
            k[i].op = KEY_EMPTY;
        s->keys = k;
        s->keymask = size - 1;
        s->nkeys = 0;
        for (uint64_t i = 0; i < old; i++)
            if (prev[i].op != KEY_EMPTY)
                key_put(s, prev[i].phys, prev[i].map_id, prev[i].op, prev[i].reg);
        free(prev);
    }
    uint64_t i = mix(phys, map_id, op) & s->keymask;
    while (s->keys[i].op != KEY_EMPTY)
        i = (i + 1) & s->keymask;
    s->keys[i] = (struct fp_keyent){phys, map_id, op, reg};
    s->nkeys++;
    return 0;
}

/* Python tells which register an (address, map id, op) is; -1 on no memory. */
int fp_stats_set_key(struct fp_stats *s, uint64_t phys, int64_t map_id, uint64_t op, int64_t reg)
{
    return key_put(s, phys, map_id, op, reg);
}

/* The resolver's answers change with MAP, UNMAP and PCIDEV: forget them all. */
void fp_stats_clear_keys(struct fp_stats *s)
{
    for (uint64_t i = 0; i <= s->keymask; i++)
        s->keys[i].op = KEY_EMPTY;
    s->nkeys = 0;
}

/* A new register row; returns its id (rows are numbered in creation order), -1 on no memory. */
int64_t fp_stats_new_reg(struct fp_stats *s)
{
    if (s->nregs == s->regcap) {
        uint64_t cap = s->regcap ? s->regcap * 2 : 64;
        struct fp_reg *r = realloc(s->regs, cap * sizeof *r);
        if (!r)
            return -1;
        s->regs = r;
        s->regcap = cap;
    }
    memset(&s->regs[s->nregs], 0, sizeof s->regs[0]);
    return (int64_t)s->nregs++;
}

struct fp_reg *fp_stats_reg(struct fp_stats *s, int64_t reg)
{
    return &s->regs[reg];
}

/* The distinct values of a register: counted exactly up to DISTINCT_CAP. */
static int values_add(struct fp_reg *r, uint64_t v)
{
    if (r->vcap == 0) {
        r->values = malloc(16 * sizeof *r->values);
        if (!r->values)
            return -1;
        r->vcap = 16;
        for (uint64_t i = 0; i < 16; i++)
            r->values[i] = KEY_EMPTY;
    }
    /* KEY_EMPTY itself is a value a register can hold: it is kept aside as a flag bit. */
    uint64_t mask = r->vcap - 1, i = (v * 0x9E3779B97F4A7C15ULL >> 17) & mask;
    if (v == KEY_EMPTY) {
        if (r->overflow & 2)
            return 0;
        if (r->nvalues < DISTINCT_CAP) {
            r->overflow |= 2;
            r->nvalues++;
        } else {
            r->overflow |= 1;
        }
        return 0;
    }
    for (;;) {
        if (r->values[i] == v)
            return 0;
        if (r->values[i] == KEY_EMPTY)
            break;
        i = (i + 1) & mask;
    }
    if (r->nvalues >= DISTINCT_CAP) {
        r->overflow |= 1;
        return 0;
    }
    r->values[i] = v;
    r->nvalues++;
    if (r->nvalues * 2 > r->vcap) {
        uint64_t old = r->vcap, size = old * 2;
        uint64_t *n = malloc(size * sizeof *n), *prev = r->values;
        if (!n)
            return -1;
        for (uint64_t j = 0; j < size; j++)
            n[j] = KEY_EMPTY;
        for (uint64_t j = 0; j < old; j++) {
            uint64_t x = prev[j];
            if (x == KEY_EMPTY)
                continue;
            uint64_t k = (x * 0x9E3779B97F4A7C15ULL >> 17) & (size - 1);
            while (n[k] != KEY_EMPTY)
                k = (k + 1) & (size - 1);
            n[k] = x;
        }
        free(prev);
        r->values = n;
        r->vcap = size;
    }
    return 0;
}

static inline int gap_less(const struct fp_gap *a, const struct fp_gap *b)
{
    if (a->gap != b->gap)
        return a->gap < b->gap;
    if (a->line != b->line)
        return a->line < b->line;
    if (a->prev_line != b->prev_line)
        return a->prev_line < b->prev_line;
    return a->at_us < b->at_us;
}

static void gap_sift_down(struct fp_gap *h, uint64_t n, uint64_t i)
{
    for (;;) {
        uint64_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && gap_less(&h[l], &h[m]))
            m = l;
        if (r < n && gap_less(&h[r], &h[m]))
            m = r;
        if (m == i)
            return;
        struct fp_gap t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* A timed record: first/last time, and the gap before it (StatsCollector._time). */
void fp_stats_time(struct fp_stats *s, uint64_t ts, uint64_t line)
{
    if (!s->has_first) {
        s->has_first = 1;
        s->first_us = ts;
        s->last_us = ts;
    } else if (ts > s->last_us) {
        s->last_us = ts;
    }
    if (s->has_prev) {
        int64_t gap = (int64_t)(ts - s->prev_ts);
        if (gap >= (int64_t)s->gap_threshold)
            s->gaps_over++;
        struct fp_gap g = {gap, line, s->prev_line, ts};
        if (s->ngaps < TOP_GAPS) {
            uint64_t i = s->ngaps++;
            s->gaps[i] = g;
            while (i) {
                uint64_t p = (i - 1) / 2;
                if (!gap_less(&s->gaps[i], &s->gaps[p]))
                    break;
                struct fp_gap t = s->gaps[i];
                s->gaps[i] = s->gaps[p];
                s->gaps[p] = t;
                i = p;
            }
        } else if (gap > s->gaps[0].gap) {
            s->gaps[0] = g;
            gap_sift_down(s->gaps, s->ngaps, 0);
        }
    }
    s->has_prev = 1;
    s->prev_ts = ts;
    s->prev_line = line;
}

static int loop_emit(struct fp_stats *s, const struct fp_loop *lp)
{
    if (s->nloops == s->loopcap) {
        uint64_t cap = s->loopcap ? s->loopcap * 2 : 64;
        struct fp_loop *n = realloc(s->loops, cap * sizeof *n);
        if (!n)
            return -1;
        s->loops = n;
        s->loopcap = cap;
    }
    s->loops[s->nloops++] = *lp;
    return 0;
}

static void plot_span(struct fp_stats *s, struct fp_reg *r, uint64_t from, uint64_t to);

static void cand_close(struct fp_stats *s, uint64_t p)
{
    struct fp_cand *c = &s->cands[p - 1];
    uint64_t streak = c->streak;
    c->streak = 0;
    uint64_t iterations = (streak + p) / p;
    if (iterations < s->min_iterations)
        return;
    /* A cycle that repeats within itself is a shorter loop, reported by its own period. */
    for (uint64_t d = 1; d < p; d++) {
        if (p % d)
            continue;
        int same = 1;
        for (uint64_t i = 0; i < p; i++)
            if (c->slots[i].key != c->slots[i % d].key) {
                same = 0;
                break;
            }
        if (same)
            return;
    }
    struct fp_loop lp = {p, iterations, streak + p, c->start_line, c->last_line, c->start_us, c->last_us, {{0}}};
    memcpy(lp.slots, c->slots, p * sizeof c->slots[0]);
    loop_emit(s, &lp);
    if (s->plot)
        for (uint64_t i = 0; i < p; i++)
            plot_span(s, &s->regs[c->slots[i].key], c->start_us, c->last_us);
}

/* Anything that ends a polling loop: a write, a map change, lost events. */
void fp_stats_interrupt(struct fp_stats *s)
{
    for (uint64_t p = 1; p <= MAX_PERIOD; p++)
        if (s->cands[p - 1].streak)
            cand_close(s, p);
    s->hlen = 0;
}

static inline void slot_add(struct fp_slot *sl, uint64_t value)
{
    sl->reads++;
    if (value != sl->last_value)
        sl->changed = 1;
    else if (!sl->changed)
        sl->same++;
    sl->last_value = value;
}

static void loop_read(struct fp_stats *s, int64_t key, uint64_t value, uint64_t ts, uint64_t line)
{
    for (uint64_t p = 1; p <= MAX_PERIOD; p++) {
        struct fp_cand *c = &s->cands[p - 1];
        if (s->hlen >= p && s->hist[(s->hpos + MAX_PERIOD - p) % MAX_PERIOD].key == key) {
            if (c->streak == 0) {
                /* The first iteration is the p reads before this one. */
                for (uint64_t i = 0; i < p; i++) {
                    const struct fp_hist *e = &s->hist[(s->hpos + MAX_PERIOD - p + i) % MAX_PERIOD];
                    c->slots[i] = (struct fp_slot){e->key, e->value, e->value, 1, 1, 0};
                    if (i == 0) {
                        c->start_line = e->line;
                        c->start_us = e->ts;
                    }
                }
            }
            slot_add(&c->slots[c->streak % p], value);
            c->streak++;
            c->last_line = line;
            c->last_us = ts;
        } else if (c->streak) {
            cand_close(s, p);
        }
    }
    s->hist[s->hpos] = (struct fp_hist){key, value, ts, line};
    s->hpos = (s->hpos + 1) % MAX_PERIOD;
    if (s->hlen < MAX_PERIOD)
        s->hlen++;
}

static int bins_alloc(struct fp_reg *r)
{
    if (!r->bins)
        r->bins = calloc(4, PLOT_BINS / 8);
    return r->bins ? 0 : -1;
}

/* Halve the plot's resolution until ts falls in it: bins 2k and 2k+1 become bin k. */
static void bins_widen(struct fp_stats *s, uint64_t ts)
{
    /* Bins stop widening at 2^52 us (143 years): binw * PLOT_BINS must not wrap. */
    while (ts - s->t0 >= s->binw * PLOT_BINS && s->binw < MAX_BINW) {
        for (uint64_t i = 0; i < s->nregs; i++) {
            uint8_t *b = s->regs[i].bins;
            if (!b)
                continue;
            for (int k = 0; k < 4; k++) {
                uint8_t *row = b + k * (PLOT_BINS / 8);
                uint8_t merged[PLOT_BINS / 8] = {0};
                for (uint64_t j = 0; j < PLOT_BINS; j++)
                    if (row[j >> 3] >> (j & 7) & 1)
                        merged[(j / 2) >> 3] |= (uint8_t)(1 << ((j / 2) & 7));
                memcpy(row, merged, sizeof merged);
            }
        }
        s->binw *= 2;
    }
}

/* A polling loop's time on one of its registers' rows (bins from..to, inside the range already). */
static void plot_span(struct fp_stats *s, struct fp_reg *r, uint64_t from, uint64_t to)
{
    if (!s->has_t0 || bins_alloc(r))
        return;
    uint64_t a = (from < s->t0 ? 0 : from - s->t0) / s->binw, b = (to < s->t0 ? 0 : to - s->t0) / s->binw;
    if (b >= PLOT_BINS)
        b = PLOT_BINS - 1;
    for (uint64_t i = a; i <= b; i++)
        r->bins[3 * (PLOT_BINS / 8) + (i >> 3)] |= (uint8_t)(1 << (i & 7));
}

/* kind: 0 read, 1 write, 2 unknown */
static void plot_point(struct fp_stats *s, struct fp_reg *r, uint64_t ts, int kind)
{
    if (!s->has_t0) {
        s->has_t0 = 1;
        s->t0 = ts;
    }
    if (bins_alloc(r))
        return;
    uint64_t off = ts < s->t0 ? 0 : ts - s->t0;
    if (off >= s->binw * PLOT_BINS)
        bins_widen(s, ts);
    uint64_t b = off / s->binw;
    if (b >= PLOT_BINS)
        b = PLOT_BINS - 1;
    r->bins[kind * (PLOT_BINS / 8) + (b >> 3)] |= (uint8_t)(1 << (b & 7));
}

static inline void access(struct fp_stats *s, int64_t reg, int write, uint64_t width, uint64_t ts,
                          uint64_t line, uint64_t value)
{
    struct fp_reg *r = &s->regs[reg];
    fp_stats_time(s, ts, line);
    r->last_us = ts;
    r->last_line = line;
    if (write) {
        r->writes++;
        fp_stats_interrupt(s);
    } else {
        r->reads++;
        loop_read(s, reg, value, ts, line);
    }
    int known = 0;
    for (uint64_t i = 0; i < r->nwidths; i++)
        if ((r->widths >> (8 * i) & 0xff) == width)
            known = 1;
    if (!known && r->nwidths < 8) {
        r->widths |= width << (8 * r->nwidths);
        r->nwidths++;
    }
    values_add(r, value);
    r->last_value = value;
    r->has_last_value = 1;
    if (s->plot)
        plot_point(s, r, ts, write);
}

/* One R/W access whose register Python already knows (a record of the slow path). */
void fp_stats_access(struct fp_stats *s, int64_t reg, uint64_t write, uint64_t width, uint64_t ts,
                     uint64_t line, uint64_t value)
{
    s->rw_records++;
    access(s, reg, (int)write, width, ts, line, value);
}

/* An UNKNOWN record (StatsCollector.feed's Unknown branch, after the time). */
void fp_stats_unknown(struct fp_stats *s, int64_t reg, uint64_t ts, uint64_t line)
{
    struct fp_reg *r = &s->regs[reg];
    r->last_us = ts;
    r->last_line = line;
    r->unknown++;
    fp_stats_interrupt(s);
    if (s->plot)
        plot_point(s, r, ts, 2);
}

/*
 * A run of R/W records recs[0:n], the first on line first_line.  Returns n
 * when all are counted, or the index of the first whose (address, map id,
 * op) has no register yet: Python resolves it, sets the key and calls again
 * from there.
 */
uint64_t fp_stats_feed(struct fp_stats *s, const struct fp_rec *recs, uint64_t n, uint64_t first_line)
{
    for (uint64_t i = 0; i < n; i++) {
        const struct fp_rec *r = &recs[i];
        int64_t reg = key_get(s, r->phys, r->map_id, r->kind);
        if (reg < 0)
            return i;
        s->rw_records++;
        access(s, reg, r->kind == K_W, r->width, r->ts, first_line + i, r->value);
    }
    return n;
}

/* Results for Python. */
struct fp_summary {             /* mirrored in native.py */
    uint64_t rw_records, nregs, nloops, ngaps, gaps_over, has_prev, prev_ts, has_first, first_us, last_us;
    uint64_t t0, binw, has_t0;
};

void fp_stats_summary(const struct fp_stats *s, struct fp_summary *out)
{
    *out = (struct fp_summary){s->rw_records, s->nregs, s->nloops, s->ngaps, s->gaps_over, s->has_prev,
                               s->prev_ts, s->has_first, s->first_us, s->last_us, s->t0, s->binw, s->has_t0};
}

/* Copies the loops closed since the last call (at most max) and forgets them. */
uint64_t fp_stats_take_loops(struct fp_stats *s, struct fp_loop *out, uint64_t max)
{
    uint64_t n = s->nloops < max ? s->nloops : max;
    memcpy(out, s->loops, n * sizeof *out);
    memmove(s->loops, s->loops + n, (s->nloops - n) * sizeof *out);
    s->nloops -= n;
    return n;
}

void fp_stats_gaps(const struct fp_stats *s, struct fp_gap *out)
{
    memcpy(out, s->gaps, s->ngaps * sizeof *out);
}

uint64_t fp_layout(void)
{
    return (uint64_t)sizeof(struct fp_rec) | (uint64_t)sizeof(struct fp_reg) << 16
           | (uint64_t)sizeof(struct fp_loop) << 32 | (uint64_t)sizeof(struct fp_summary) << 48;
}
