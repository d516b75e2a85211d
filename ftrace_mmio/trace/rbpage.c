/*
 * The ring buffer's two hot loops over binary pages (trace/page.py has the
 * layout; trace/rbnative.py loads this file and holds the pure-Python
 * versions, which produce the same bytes):
 *
 *   kp_write_rw   batches of mmiotrace records (the engines' 7 x u64 records:
 *                 machine-clock ts, phys, value, pc, map id, opcode, width)
 *                 written into one page's data area as mmiotrace_rw events,
 *                 as many as fit;
 *   kp_format_mmio  mmiotrace's text lines (docs/mmiotrace.md) for the
 *                 mmiotrace_rw / mmiotrace_map events of a page range, up to
 *                 a byte budget, stopping at any other event.
 *
 * Built with the flags of kmmio_step.c; no libc beyond snprintf-free
 * formatting (hand-rolled: snprintf costs as much as the rest together).
 */
#include <stdint.h>
#include <string.h>

#define TS_SHIFT 27
#define TS_MASK ((1ULL << TS_SHIFT) - 1)
#define TYPE_PADDING 29
#define TYPE_TIME_EXTEND 30
#define TYPE_TIME_STAMP 31
#define RW_EVENT 44     /* header + 40-byte record */
#define TRACE_MMIO_RW 7
#define TRACE_MMIO_MAP 8
#define RW_FLAGS 0x6d
#define RW_PREEMPT 3

struct kp_w {
	uint64_t used;     /* data bytes on the page */
	uint64_t cap;      /* data bytes a page holds */
	uint64_t last_ts;  /* the CPU's last event time */
	uint64_t count;    /* events on the page */
	uint64_t page_ts;  /* set with the page's first event */
	uint64_t bytes;    /* bytes written by this call (extends included) */
};

static inline void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

long kp_write_rw(uint8_t *data, struct kp_w *w, const uint64_t *rec, long n, int64_t offset, int32_t pid)
{
	long i;

	w->bytes = 0;
	for (i = 0; i < n; i++) {
		const uint64_t *r = rec + 7 * i;
		uint64_t ts = r[0] + (uint64_t)offset;
		uint64_t delta, need;
		uint8_t *p;

		if (ts < w->last_ts)
			ts = w->last_ts;    /* never backwards on one CPU */
		delta = w->count ? ts - w->last_ts : 0;
		need = RW_EVENT + (delta > TS_MASK ? 8 : 0);
		if (w->used + need > w->cap)
			break;
		p = data + w->used;
		if (delta > TS_MASK) {
			put32(p, TYPE_TIME_EXTEND | (uint32_t)(delta & TS_MASK) << 5);
			put32(p + 4, (uint32_t)(delta >> TS_SHIFT));
			p += 8;
			delta = 0;
		}
		if (!w->count)
			w->page_ts = ts;
		put32(p, 10 | (uint32_t)delta << 5);
		p[4] = TRACE_MMIO_RW; p[5] = 0; p[6] = RW_FLAGS; p[7] = RW_PREEMPT;
		put32(p + 8, (uint32_t)pid);
		put64(p + 12, r[1]);
		put64(p + 20, r[2]);
		put64(p + 28, r[3]);
		put32(p + 36, (uint32_t)r[4]);
		p[40] = (uint8_t)r[5];
		p[41] = (uint8_t)r[6];
		p[42] = 0; p[43] = 0;
		w->used += need;
		w->bytes += need;
		w->last_ts = ts;
		w->count++;
	}
	return i;
}

struct kp_f {
	uint64_t off;      /* next event (its time extend, if any) */
	uint64_t end;      /* stop here */
	uint64_t ts;       /* time of the event before off */
	uint64_t events;   /* out: events formatted */
	uint64_t used;     /* in: bytes the read already holds; out: plus ours */
	uint64_t cnt;      /* the reader's size: stop once used reaches it */
	uint64_t seqmax;   /* a line that would bring used to this stays */
	uint64_t outcap;   /* room in out */
	uint64_t full;     /* out: stopped because the next line did not fit */
};

static char *u64dec(char *p, uint64_t v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *s64dec(char *p, int64_t v)
{
	if (v < 0) {
		*p++ = '-';
		return u64dec(p, (uint64_t)0 - (uint64_t)v);
	}
	return u64dec(p, (uint64_t)v);
}

static const char hexd[] = "0123456789abcdef";

static char *hex0x(char *p, uint64_t v)
{
	char tmp[16];
	int n = 0;

	*p++ = '0';
	*p++ = 'x';
	do {
		tmp[n++] = hexd[v & 15];
		v >>= 4;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *stamp(char *p, uint64_t ns)
{
	uint64_t us = (ns + 500) / 1000;
	uint64_t usec = us % 1000000;
	int i;

	p = u64dec(p, (us / 1000000) & 0xffffffffULL);
	*p++ = '.';
	for (i = 5; i >= 0; i--) {
		p[i] = (char)('0' + usec % 10);
		usec /= 10;
	}
	return p + 6;
}

static const char *lit(const char *s, char **pp)
{
	size_t n = strlen(s);
	memcpy(*pp, s, n);
	*pp += n;
	return s;
}

/* One line for the event at p (its data after the header word); its length. */
static long line(char *out, const uint8_t *rec, uint64_t ts)
{
	char *p = out;
	unsigned type = rec[0] | rec[1] << 8;

	if (type == TRACE_MMIO_RW) {
		uint64_t phys = get64(rec + 8), value = get64(rec + 16), pc = get64(rec + 24);
		int32_t map_id = (int32_t)get32(rec + 32);
		unsigned op = rec[36], width = rec[37];

		if (op == 1 || op == 2) {
			*p++ = op == 1 ? 'R' : 'W';
			*p++ = ' ';
			p = u64dec(p, width);
			*p++ = ' ';
			p = stamp(p, ts);
			*p++ = ' ';
			p = s64dec(p, map_id);
			*p++ = ' ';
			p = hex0x(p, phys);
			*p++ = ' ';
			p = hex0x(p, value);
			*p++ = ' ';
			p = hex0x(p, pc);
			lit(" 0\n", &p);
		} else if (op == 5) {
			lit("UNKNOWN ", &p);
			p = stamp(p, ts);
			*p++ = ' ';
			p = s64dec(p, map_id);
			*p++ = ' ';
			p = hex0x(p, phys);
			*p++ = ' ';
			*p++ = hexd[value >> 20 & 15]; *p++ = hexd[value >> 16 & 15]; *p++ = ',';
			*p++ = hexd[value >> 12 & 15]; *p++ = hexd[value >> 8 & 15]; *p++ = ',';
			*p++ = hexd[value >> 4 & 15]; *p++ = hexd[value & 15];
			*p++ = ' ';
			p = hex0x(p, pc);
			lit(" 0\n", &p);
		} else {
			lit("rw what?\n", &p);
		}
		return p - out;
	}
	/* TRACE_MMIO_MAP */
	{
		uint64_t phys = get64(rec + 8), virt = get64(rec + 16), len = get64(rec + 24);
		int32_t map_id = (int32_t)get32(rec + 32);
		unsigned op = rec[36];

		if (op == 3) {
			lit("MAP ", &p);
			p = stamp(p, ts);
			*p++ = ' ';
			p = s64dec(p, map_id);
			*p++ = ' ';
			p = hex0x(p, phys);
			*p++ = ' ';
			p = hex0x(p, virt);
			*p++ = ' ';
			p = hex0x(p, len);
			lit(" 0x0 0\n", &p);
		} else if (op == 4) {
			lit("UNMAP ", &p);
			p = stamp(p, ts);
			*p++ = ' ';
			p = s64dec(p, map_id);
			lit(" 0x0 0\n", &p);
		} else {
			lit("map what?\n", &p);
		}
		return p - out;
	}
}

/* Returns the bytes written to out. Stops before anything that is not a
 * small mmiotrace_rw / mmiotrace_map event (Python handles it). */
long kp_format_mmio(const uint8_t *data, struct kp_f *f, char *out)
{
	char *o = out;
	uint64_t off = f->off, ts = f->ts;

	f->events = 0;
	f->full = 0;
	while (off + 4 <= f->end && f->used < f->cnt) {
		uint32_t word = get32(data + off);
		unsigned type_len = word & 31;
		uint64_t t = ts, at = off;
		char tmp[256];
		long n;

		if (type_len == TYPE_TIME_EXTEND) {
			t += (word >> 5) | (uint64_t)get32(data + off + 4) << TS_SHIFT;
			at += 8;
			if (at + 4 > f->end)
				break;
			word = get32(data + at);
			type_len = word & 31;
		} else if (type_len == TYPE_TIME_STAMP) {
			t = (word >> 5) | (uint64_t)get32(data + off + 4) << TS_SHIFT;
			at += 8;
			if (at + 4 > f->end)
				break;
			word = get32(data + at);
			type_len = word & 31;
		}
		if (type_len == 0 || type_len > 28)
			break;
		{
			const uint8_t *rec = data + at + 4;
			unsigned type = rec[0] | rec[1] << 8;

			if ((type != TRACE_MMIO_RW && type != TRACE_MMIO_MAP) || type_len * 4 < 40)
				break;
			t += word >> 5;
			n = line(tmp, rec, t);
		}
		if (f->used + (uint64_t)n >= f->seqmax || (uint64_t)(o - out) + (uint64_t)n > f->outcap) {
			f->full = f->used > 0;
			break;
		}
		memcpy(o, tmp, (size_t)n);
		o += n;
		f->used += (uint64_t)n;
		off = at + 4 + type_len * 4;
		ts = t;
		f->events++;
	}
	f->off = off;
	f->ts = ts;
	return o - out;
}

/*
 * The default line of a `print` record (trace_marker, trace_printk) for the
 * tracers without lines of their own (nop): context columns, then
 * "ip: message". Only events of pid f->pid are formatted (the caller passes
 * that pid's comm); anything else stops.
 *
 *   "%16s-%-7d [%03d] %5s %5lu.%06lu: %s: %s"
 */
struct kp_p {
	struct kp_f f;
	uint64_t pid;      /* in: the pid whose comm is given (as u32) */
	uint64_t cpu;
	uint64_t in_ns;    /* timestamps as seconds.micros, else raw counts */
	uint64_t mark_ip;  /* the ip that prints as tracing_mark_write */
};

static char *lat(char *p, unsigned flags, unsigned pc)
{
	unsigned nr = flags & 0x04, pr = flags & 0x20;
	unsigned nmi = flags & 0x40, hard = flags & 0x08, soft = flags & 0x10;

	*p++ = (flags & 0x01) && (flags & 0x80) ? 'D' : (flags & 0x01) ? 'd' : (flags & 0x80) ? 'b' :
	       (flags & 0x02) ? 'X' : '.';
	*p++ = nr && pr ? 'N' : nr ? 'n' : pr ? 'p' : '.';
	*p++ = nmi && hard ? 'Z' : nmi ? 'z' : hard && soft ? 'H' : hard ? 'h' : soft ? 's' : '.';
	*p++ = (pc & 15) ? hexd[pc & 15] : '.';
	*p++ = (pc >> 4 & 15) ? hexd[pc >> 4 & 15] : '.';
	return p;
}

static char *padl(char *p, const char *s, long n, long width)
{
	long i;

	for (i = n; i < width; i++)
		*p++ = ' ';
	memcpy(p, s, (size_t)n);
	return p + n;
}

long kp_format_print(const uint8_t *data, struct kp_p *pp, const char *comm, long commlen, char *out)
{
	struct kp_f *f = &pp->f;
	char *o = out;
	uint64_t off = f->off, ts = f->ts;

	f->events = 0;
	f->full = 0;
	while (off + 4 <= f->end && f->used < f->cnt) {
		uint32_t word = get32(data + off);
		unsigned type_len = word & 31;
		uint64_t t = ts, at = off, len, start;
		const uint8_t *rec;
		char head[160], *p;
		long n, msglen;
		uint64_t ip;
		int32_t pid;

		if (type_len == TYPE_TIME_EXTEND || type_len == TYPE_TIME_STAMP) {
			uint64_t v = (word >> 5) | (uint64_t)get32(data + off + 4) << TS_SHIFT;

			t = type_len == TYPE_TIME_EXTEND ? t + v : v;
			at += 8;
			if (at + 4 > f->end)
				break;
			word = get32(data + at);
			type_len = word & 31;
		}
		if (type_len > 28)
			break;
		if (type_len) {
			start = at + 4;
			len = type_len * 4;
		} else {
			start = at + 8;
			len = get32(data + at + 4) - 4;
		}
		if (len < 17 || start + len > f->end)
			break;
		rec = data + start;
		if ((rec[0] | rec[1] << 8) != 5)
			break;
		memcpy(&pid, rec + 4, 4);
		if ((uint32_t)pid != (uint32_t)pp->pid)
			break;
		ip = get64(rec + 8);
		if (ip != 0 && ip != pp->mark_ip)
			break;
		t += word >> 5;
		{
			const uint8_t *nul = memchr(rec + 16, 0, len - 16);
			msglen = nul ? (long)(nul - (rec + 16)) : (long)(len - 16);
		}
		p = head;
		p = padl(p, comm, commlen, 16);
		*p++ = '-';
		{
			char num[24], *q = s64dec(num, pid);
			long k = q - num, i;

			memcpy(p, num, (size_t)k);
			p += k;
			for (i = k; i < 7; i++)
				*p++ = ' ';
		}
		*p++ = ' ';
		*p++ = '[';
		{
			char num[24], *q = u64dec(num, pp->cpu);
			long k = q - num, i;

			for (i = k; i < 3; i++)
				*p++ = '0';
			memcpy(p, num, (size_t)k);
			p += k;
		}
		*p++ = ']';
		*p++ = ' ';
		p = lat(p, rec[2], rec[3]);
		*p++ = ' ';
		if (pp->in_ns) {
			uint64_t us = (t + 500) / 1000, usec = us % 1000000;
			char num[24], *q = u64dec(num, us / 1000000);
			int i;

			p = padl(p, num, q - num, 5);
			*p++ = '.';
			for (i = 5; i >= 0; i--) {
				p[i] = (char)('0' + usec % 10);
				usec /= 10;
			}
			p += 6;
		} else {
			char num[24], *q = u64dec(num, t);

			p = padl(p, num, q - num, 12);
		}
		*p++ = ':';
		*p++ = ' ';
		if (ip)
			lit("tracing_mark_write: ", &p);
		else
			lit("0: ", &p);
		n = (p - head) + msglen;
		if (f->used + (uint64_t)n >= f->seqmax || (uint64_t)(o - out) + (uint64_t)n > f->outcap) {
			/* alone in the read it is too big: the caller says so */
			f->full = f->used > 0;
			break;
		}
		memcpy(o, head, (size_t)(p - head));
		o += p - head;
		memcpy(o, rec + 16, (size_t)msglen);
		o += msglen;
		f->used += (uint64_t)n;
		off = start + len;
		ts = t;
		f->events++;
	}
	f->off = off;
	f->ts = ts;
	return o - out;
}
