"""The text of the event description files under ``events/``, as Linux 6.1 shows them.

These are formats, not code: trace-cmd and libtraceevent parse them to decode
the binary pages of ``trace_pipe_raw``, so every byte matters (offsets,
sizes, signedness, the print format). The texts are the ones a 6.1 kernel
(x86-64) prints; tests/data/kernel-6.1/tracefs/events/ holds the captured
originals and tests/test_trace_raw_files.py compares the two byte for byte.

The ftrace "events" are the ring buffer's own record types (TRACE_FN,
TRACE_PRINT, TRACE_MMIO_RW, ...): their IDs are fixed numbers, they cannot
be enabled, and only ``function`` and ``print`` have an ``id`` file (the
kernel creates one only for events it can register with perf).
"""

from __future__ import annotations

from dataclasses import dataclass

HEADER_PAGE = (
    "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"
    "\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n"
    "\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n"
    "\tfield: char data;\toffset:16;\tsize:4080;\tsigned:1;\n"
)

HEADER_EVENT = (
    "# compressed entry header\n"
    "\ttype_len    :    5 bits\n"
    "\ttime_delta  :   27 bits\n"
    "\tarray       :   32 bits\n"
    "\n"
    "\tpadding     : type == 29\n"
    "\ttime_extend : type == 30\n"
    "\ttime_stamp : type == 31\n"
    "\tdata max type_len  == 28\n"
)

# The four common fields every event starts with (struct trace_entry).
_COMMON = (
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
    "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
    "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
    "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
    "\n"
)


@dataclass(frozen=True)
class FtraceEvent:
    """One ftrace record type: its fixed ID, its own fields and its print format."""

    name: str
    id: int
    fields: str        # the lines after the common fields, each "\tfield:...\n"
    print_fmt: str     # what follows "print fmt: "
    has_id_file: bool = False

    @property
    def format(self) -> str:
        """The ``events/ftrace/<name>/format`` file."""
        return (f"name: {self.name}\nID: {self.id}\nformat:\n{_COMMON}{self.fields}\n"
                f"print fmt: {self.print_fmt}\n")


FTRACE_EVENTS: tuple[FtraceEvent, ...] = (
    FtraceEvent(
        'function', 1,
        (
            '\tfield:unsigned long ip;\toffset:8;\tsize:8;\tsigned:0;\n'
            '\tfield:unsigned long parent_ip;\toffset:16;\tsize:8;\tsigned:0;\n'
        ),
        '" %ps <-- %ps", (void *)REC->ip, (void *)REC->parent_ip',
        has_id_file=True,
    ),
    FtraceEvent(
        'context_switch', 2,
        (
            '\tfield:unsigned int prev_pid;\toffset:8;\tsize:4;\tsigned:0;\n'
            '\tfield:unsigned int next_pid;\toffset:12;\tsize:4;\tsigned:0;\n'
            '\tfield:unsigned int next_cpu;\toffset:16;\tsize:4;\tsigned:0;\n'
            '\tfield:unsigned char prev_prio;\toffset:20;\tsize:1;\tsigned:0;\n'
            '\tfield:unsigned char prev_state;\toffset:21;\tsize:1;\tsigned:0;\n'
            '\tfield:unsigned char next_prio;\toffset:22;\tsize:1;\tsigned:0;\n'
            '\tfield:unsigned char next_state;\toffset:23;\tsize:1;\tsigned:0;\n'
        ),
        '"%u:%u:%u  ==> %u:%u:%u [%03u]", REC->prev_pid, REC->prev_prio, REC->prev_state, REC->next_pid, REC->next_prio, REC->next_state, REC->next_cpu',
    ),
    FtraceEvent(
        'wakeup', 3,
        (
            '\tfield:unsigned int prev_pid;\toffset:8;\tsize:4;\tsigned:0;\n'
            '\tfield:unsigned int next_pid;\toffset:12;\tsize:4;\tsigned:0;\n'
            '\tfield:unsigned int next_cpu;\toffset:16;\tsize:4;\tsigned:0;\n'
            '\tfield:unsigned char prev_prio;\toffset:20;\tsize:1;\tsigned:0;\n'
            '\tfield:unsigned char prev_state;\toffset:21;\tsize:1;\tsigned:0;\n'
            '\tfield:unsigned char next_prio;\toffset:22;\tsize:1;\tsigned:0;\n'
            '\tfield:unsigned char next_state;\toffset:23;\tsize:1;\tsigned:0;\n'
        ),
        '"%u:%u:%u  ==+ %u:%u:%u [%03u]", REC->prev_pid, REC->prev_prio, REC->prev_state, REC->next_pid, REC->next_prio, REC->next_state, REC->next_cpu',
    ),
    FtraceEvent(
        'kernel_stack', 4,
        (
            '\tfield:int size;\toffset:8;\tsize:4;\tsigned:1;\n'
            '\tfield:unsigned long caller[8];\toffset:16;\tsize:64;\tsigned:0;\n'
        ),
        '"\\t=> %ps\\n\\t=> %ps\\n\\t=> %ps\\n" "\\t=> %ps\\n\\t=> %ps\\n\\t=> %ps\\n" "\\t=> %ps\\n\\t=> %ps\\n", (void *)REC->caller[0], (void *)REC->caller[1], (void *)REC->caller[2], (void *)REC->caller[3], (void *)REC->caller[4], (void *)REC->caller[5], (void *)REC->caller[6], (void *)REC->caller[7]',
    ),
    FtraceEvent(
        'print', 5,
        (
            '\tfield:unsigned long ip;\toffset:8;\tsize:8;\tsigned:0;\n'
            '\tfield:char buf[];\toffset:16;\tsize:0;\tsigned:1;\n'
        ),
        '"%ps: %s", (void *)REC->ip, REC->buf',
        has_id_file=True,
    ),
    FtraceEvent(
        'bprint', 6,
        (
            '\tfield:unsigned long ip;\toffset:8;\tsize:8;\tsigned:0;\n'
            '\tfield:const char * fmt;\toffset:16;\tsize:8;\tsigned:0;\n'
            '\tfield:u32 buf[];\toffset:24;\tsize:0;\tsigned:0;\n'
        ),
        '"%ps: %s", (void *)REC->ip, REC->fmt',
    ),
    FtraceEvent(
        'mmiotrace_rw', 7,
        (
            '\tfield:resource_size_t phys;\toffset:8;\tsize:8;\tsigned:0;\n'
            '\tfield:unsigned long value;\toffset:16;\tsize:8;\tsigned:0;\n'
            '\tfield:unsigned long pc;\toffset:24;\tsize:8;\tsigned:0;\n'
            '\tfield:int map_id;\toffset:32;\tsize:4;\tsigned:1;\n'
            '\tfield:unsigned char opcode;\toffset:36;\tsize:1;\tsigned:0;\n'
            '\tfield:unsigned char width;\toffset:37;\tsize:1;\tsigned:0;\n'
        ),
        '"%lx %lx %lx %d %x %x", (unsigned long)REC->phys, REC->value, REC->pc, REC->map_id, REC->opcode, REC->width',
    ),
    FtraceEvent(
        'mmiotrace_map', 8,
        (
            '\tfield:resource_size_t phys;\toffset:8;\tsize:8;\tsigned:0;\n'
            '\tfield:unsigned long virt;\toffset:16;\tsize:8;\tsigned:0;\n'
            '\tfield:unsigned long len;\toffset:24;\tsize:8;\tsigned:0;\n'
            '\tfield:int map_id;\toffset:32;\tsize:4;\tsigned:1;\n'
            '\tfield:unsigned char opcode;\toffset:36;\tsize:1;\tsigned:0;\n'
        ),
        '"%lx %lx %lx %d %x", (unsigned long)REC->phys, REC->virt, REC->len, REC->map_id, REC->opcode',
    ),
    FtraceEvent(
        'branch', 9,
        (
            '\tfield:unsigned int line;\toffset:8;\tsize:4;\tsigned:0;\n'
            '\tfield:char func[31];\toffset:12;\tsize:31;\tsigned:1;\n'
            '\tfield:char file[21];\toffset:43;\tsize:21;\tsigned:1;\n'
            '\tfield:char correct;\toffset:64;\tsize:1;\tsigned:1;\n'
            '\tfield:char constant;\toffset:65;\tsize:1;\tsigned:1;\n'
        ),
        '"%u:%s:%s (%u)%s", REC->line, REC->func, REC->file, REC->correct, REC->constant ? " CONSTANT" : ""',
    ),
    FtraceEvent(
        'funcgraph_exit', 10,
        (
            '\tfield:unsigned long func;\toffset:8;\tsize:8;\tsigned:0;\n'
            '\tfield:int depth;\toffset:16;\tsize:4;\tsigned:1;\n'
            '\tfield:unsigned int overrun;\toffset:20;\tsize:4;\tsigned:0;\n'
            '\tfield:unsigned long long calltime;\toffset:24;\tsize:8;\tsigned:0;\n'
            '\tfield:unsigned long long rettime;\toffset:32;\tsize:8;\tsigned:0;\n'
        ),
        '"<-- %ps (%d) (start: %llx  end: %llx) over: %d", (void *)REC->func, REC->depth, REC->calltime, REC->rettime, REC->depth',
    ),
    FtraceEvent(
        'funcgraph_entry', 11,
        (
            '\tfield:unsigned long func;\toffset:8;\tsize:8;\tsigned:0;\n'
            '\tfield:int depth;\toffset:16;\tsize:4;\tsigned:1;\n'
        ),
        '"--> %ps (%d)", (void *)REC->func, REC->depth',
    ),
    FtraceEvent(
        'user_stack', 12,
        (
            '\tfield:unsigned int tgid;\toffset:8;\tsize:4;\tsigned:0;\n'
            '\tfield:unsigned long caller[8];\toffset:16;\tsize:64;\tsigned:0;\n'
        ),
        '"\\t=> %ps\\n\\t=> %ps\\n\\t=> %ps\\n" "\\t=> %ps\\n\\t=> %ps\\n\\t=> %ps\\n" "\\t=> %ps\\n\\t=> %ps\\n", (void *)REC->caller[0], (void *)REC->caller[1], (void *)REC->caller[2], (void *)REC->caller[3], (void *)REC->caller[4], (void *)REC->caller[5], (void *)REC->caller[6], (void *)REC->caller[7]',
    ),
    FtraceEvent(
        'bputs', 14,
        (
            '\tfield:unsigned long ip;\toffset:8;\tsize:8;\tsigned:0;\n'
            '\tfield:const char * str;\toffset:16;\tsize:8;\tsigned:0;\n'
        ),
        '"%ps: %s", (void *)REC->ip, REC->str',
    ),
    FtraceEvent(
        'hwlat', 15,
        (
            '\tfield:u64 duration;\toffset:8;\tsize:8;\tsigned:0;\n'
            '\tfield:u64 outer_duration;\toffset:16;\tsize:8;\tsigned:0;\n'
            '\tfield:u64 nmi_total_ts;\toffset:24;\tsize:8;\tsigned:0;\n'
            '\tfield:s64 tv_sec;\toffset:32;\tsize:8;\tsigned:1;\n'
            '\tfield:long tv_nsec;\toffset:40;\tsize:8;\tsigned:1;\n'
            '\tfield:unsigned int nmi_count;\toffset:48;\tsize:4;\tsigned:0;\n'
            '\tfield:unsigned int seqnum;\toffset:52;\tsize:4;\tsigned:0;\n'
            '\tfield:unsigned int count;\toffset:56;\tsize:4;\tsigned:0;\n'
        ),
        '"cnt:%u\\tts:%010llu.%010lu\\tinner:%llu\\touter:%llu\\tcount:%d\\tnmi-ts:%llu\\tnmi-count:%u\\n", REC->seqnum, REC->tv_sec, REC->tv_nsec, REC->duration, REC->outer_duration, REC->count, REC->nmi_total_ts, REC->nmi_count',
    ),
    FtraceEvent(
        'osnoise', 16,
        (
            '\tfield:u64 noise;\toffset:8;\tsize:8;\tsigned:0;\n'
            '\tfield:u64 runtime;\toffset:16;\tsize:8;\tsigned:0;\n'
            '\tfield:u64 max_sample;\toffset:24;\tsize:8;\tsigned:0;\n'
            '\tfield:unsigned int hw_count;\toffset:32;\tsize:4;\tsigned:0;\n'
            '\tfield:unsigned int nmi_count;\toffset:36;\tsize:4;\tsigned:0;\n'
            '\tfield:unsigned int irq_count;\toffset:40;\tsize:4;\tsigned:0;\n'
            '\tfield:unsigned int softirq_count;\toffset:44;\tsize:4;\tsigned:0;\n'
            '\tfield:unsigned int thread_count;\toffset:48;\tsize:4;\tsigned:0;\n'
        ),
        '"noise:%llu\\tmax_sample:%llu\\thw:%u\\tnmi:%u\\tirq:%u\\tsoftirq:%u\\tthread:%u\\n", REC->noise, REC->max_sample, REC->hw_count, REC->nmi_count, REC->irq_count, REC->softirq_count, REC->thread_count',
    ),
    FtraceEvent(
        'timerlat', 17,
        (
            '\tfield:unsigned int seqnum;\toffset:8;\tsize:4;\tsigned:0;\n'
            '\tfield:int context;\toffset:12;\tsize:4;\tsigned:1;\n'
            '\tfield:u64 timer_latency;\toffset:16;\tsize:8;\tsigned:0;\n'
        ),
        '"seq:%u\\tcontext:%d\\ttimer_latency:%llu\\n", REC->seqnum, REC->context, REC->timer_latency',
    ),
    FtraceEvent(
        'raw_data', 18,
        (
            '\tfield:unsigned int id;\toffset:8;\tsize:4;\tsigned:0;\n'
            '\tfield:char buf[];\toffset:12;\tsize:0;\tsigned:1;\n'
        ),
        '"id:%04x %08x", REC->id, (int)REC->buf[0]',
    ),
    FtraceEvent(
        'func_repeats', 19,
        (
            '\tfield:unsigned long ip;\toffset:8;\tsize:8;\tsigned:0;\n'
            '\tfield:unsigned long parent_ip;\toffset:16;\tsize:8;\tsigned:0;\n'
            '\tfield:u16 count;\toffset:24;\tsize:2;\tsigned:0;\n'
            '\tfield:u16 top_delta_ts;\toffset:26;\tsize:2;\tsigned:0;\n'
            '\tfield:u32 bottom_delta_ts;\toffset:28;\tsize:4;\tsigned:0;\n'
        ),
        '" %ps <-%ps\\t(repeats:%u  delta: -%llu)", (void *)REC->ip, (void *)REC->parent_ip, REC->count, (((u64)(REC)->top_delta_ts << 32) | (REC)->bottom_delta_ts)',
    ),
)

#: By name, in the kernel's directory order.
FTRACE_BY_NAME: dict[str, FtraceEvent] = {e.name: e for e in sorted(FTRACE_EVENTS, key=lambda e: e.name)}
