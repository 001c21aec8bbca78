// SPDX-License-Identifier: MIT
/*
 * kernel-probe.c - drive the real Linux tracing ring buffer through its
 * user-space mmap interface (Linux >= 6.10, TRACE_MMAP_IOCTL_GET_READER) and
 * report, as one JSON object, exactly what the kernel handed out.  Used by the
 * differential test that compares our JS ring buffer with the kernel.
 *
 * Usage:
 *   kernel-probe --tracefs DIR [--subbuf-kb N] [--size-kb N] [--overwrite 0|1]
 *                --lengths LIST [--drain-every N] [--cpu N]
 *   kernel-probe --tracefs DIR --check
 *
 *   --tracefs DIR     a mounted tracefs (e.g. /sys/kernel/tracing)
 *   --subbuf-kb N     written to the instance's buffer_subbuf_size_kb (default 4)
 *   --size-kb N       written to the instance's buffer_size_kb, i.e. the
 *                     per-CPU ring size (default 8)
 *   --overwrite 0|1   written to options/overwrite (default 1)
 *   --lengths LIST    event payload lengths L in bytes, comma/space separated;
 *                     "LxN" repeats L N times (e.g. "108x400,12,16x3").
 *                     "-" reads the same syntax from stdin.  Every L must be
 *                     >= 12: a payload of L bytes is produced by a raw marker
 *                     of L - 8 user bytes (the kernel prepends an 8-byte
 *                     struct trace_entry).  The first 4 user bytes are the
 *                     little-endian sequence number seq = 1, 2, 3, ...
 *                     (1-based), i.e. payload bytes 8..11.
 *   --drain-every N   also drain (GET_READER until nothing new) after every
 *                     N writes; 0 (default) = drain only at the end
 *   --cpu N           CPU to pin to and probe (default: the current CPU)
 *   --check           only verify that an instance can be created, mapped and
 *                     GET_READER works; prints {"ok":true,...} and exits 0
 *
 * Exit status: 0 success (JSON on stdout); 77 = environment cannot run the
 * probe (not root, no tracefs, no mmap/GET_READER support) with a message on
 * stderr; 78 = this kernel refuses a setting the scenario needs (a write of
 * buffer_subbuf_size_kb, buffer_size_kb or options/overwrite failed, e.g.
 * EPERM on some VMs, or the kernel chose another sub-buffer size than asked):
 * the scenario cannot run here, the reason is on stderr; 1 = any other error
 * (message on stderr); 2 = bad usage.
 *
 * A setting is written only when it differs from the value the instance
 * already has (some kernels refuse any write of buffer_subbuf_size_kb, even
 * of its current value).
 *
 * What it does:
 *   1. mkdir DIR/instances/tbprobe_<pid> (a private instance, removed on exit
 *      in every case, including errors and SIGINT/SIGTERM/SIGHUP);
 *   2. tracing_on=0, buffer_subbuf_size_kb, buffer_size_kb, options/overwrite;
 *   3. pins itself to one CPU, opens per_cpu/cpuN/trace_pipe_raw
 *      O_RDONLY|O_NONBLOCK and maps it: first one system page at offset 0
 *      (the meta page, struct trace_buffer_meta), then the nr_subbufs
 *      sub-buffers at offset meta_page_size;
 *   4. tracing_on=1, writes the markers to trace_marker_raw (draining every
 *      N writes if asked), tracing_on=0, final drain;
 *   5. prints the JSON described below.
 *
 * Output (single line of JSON):
 * {
 *   "kernel": uname -r,  "cpu": probed CPU,  "pid": our pid,
 *   "config": { "subbuf_kb", "size_kb", "overwrite", "drain_every",
 *               "subbuf_kb_read", "size_kb_read" (values read back) },
 *   "subbuf_size", "nr_subbufs", "meta_page_size", "meta_struct_len",
 *   "meta_initial": meta counters right after mapping (see "meta"),
 *   "writes": { "requested", "ok", "failed",
 *               "errnos": { "EBADF": n, ... },      failed write() errnos
 *               "failed_seqs": [[first,last], ...]   runs of failed seqs },
 *   "calls": [ one record per GET_READER call that handed out something new:
 *     { "after_writes": writes attempted before this call,
 *       "id": meta reader.id,  "read": meta reader.read (after the call),
 *       "same_id": 1 if the id equals the previous call's (range continues),
 *       "start": data offset where the new range starts (previous
 *                reader.read if same_id, else 0),
 *       "commit_raw": the 8-byte commit field as hex string,
 *       "commit_len": low 32 bits & 0x3fffffff,
 *       "missed": bit 31,  "stored": bit 30,
 *       "lost": stored lost-event count (u64 at data+commit_len) or null,
 *       "page_ts": sub-buffer time_stamp (decimal string, u64),
 *       "events": data events in [start, read),
 *       "first_seq", "last_seq": seq of first/last of them (null if none),
 *       "lengths": [reader-side payload length of each data event:
 *                   4*type_len, or array[0]-4 for the long form],
 *       "seqs": [seq of each data event],
 *       "extends": TIME_EXTEND count, "abs_stamps": TIME_STAMP count,
 *       "discards": type-29 events with delta != 0 inside the range (the
 *                   end-of-sub-buffer padding, or discarded events),
 *       "bytes": bytes walked, "entries","overrun","meta_read",
 *       "lost_events": meta counters after this call } ],
 *   "empty_calls": GET_READER calls that returned nothing new,
 *   "meta": { "entries", "overrun", "read", "lost_events", "reader_id",
 *             "reader_read" } after the final drain,
 *   "stats_before": per_cpu/cpuN/stats after writing, before the final drain,
 *   "stats": the same after the final drain; keys are the stats labels in
 *            snake_case ("entries", "overrun", "commit_overrun", "bytes",
 *            "oldest_event_ts", "now_ts", "dropped_events", "read_events"),
 *            numeric values as JSON numbers,
 *   "checks": { "pid_mismatch": data events whose trace_entry pid != ours,
 *               "length_mismatch": events whose payload length differs from
 *               roundup4(requested L), "seq_gaps": non-consecutive seqs,
 *               "read_ne_commit": calls where reader.read != commit_len }
 * }
 *
 * The sub-buffer format, commit flags, event encoding and meta page layout are
 * described in docs/kernel-semantics.md (sections 1, 2, 5).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <unistd.h>

/* _IO('R', 0x20): hand the next sub-buffer (or the rest of the current) out. */
#define PROBE_IOCTL_GET_READER 0x5220

#define EXIT_SKIP 77
#define EXIT_REFUSED 78

/* Flags in the low 32 bits of a sub-buffer's commit word. */
#define COMMIT_MISSED_EVENTS 0x80000000u
#define COMMIT_MISSED_STORED 0x40000000u
#define COMMIT_LEN_MASK 0x3fffffffu

/* Offsets inside a sub-buffer and inside an event. */
#define SUBBUF_TS_OFF 0
#define SUBBUF_COMMIT_OFF 8
#define SUBBUF_DATA_OFF 16

#define TYPE_DATA_MAX 28
#define TYPE_PADDING 29
#define TYPE_TIME_EXTEND 30
#define TYPE_TIME_STAMP 31

/* A raw marker payload = struct trace_entry (8 bytes) + the user bytes. */
#define MARKER_ENTRY_SIZE 8
#define MIN_PAYLOAD (MARKER_ENTRY_SIZE + 4)

/* Our view of struct trace_buffer_meta (uapi trace_mmap.h, 80 bytes). */
struct probe_meta {
	uint32_t meta_page_size;
	uint32_t meta_struct_len;
	uint32_t subbuf_size;
	uint32_t nr_subbufs;
	uint64_t reader_lost_events;
	uint32_t reader_id;
	uint32_t reader_read;
	uint64_t flags;
	uint64_t entries;
	uint64_t overrun;
	uint64_t read;
	uint64_t reserved1;
	uint64_t reserved2;
};

_Static_assert(sizeof(struct probe_meta) == 80, "trace_buffer_meta is 80 bytes");

/* Everything cleanup() must undo; global so the signal handler can reach it. */
static struct {
	char inst_dir[4096];
	int inst_created;
	int raw_fd;
	int marker_fd;
	void *meta_map;
	size_t meta_len;
	void *data_map;
	size_t data_len;
} g = { .raw_fd = -1, .marker_fd = -1 };

static void cleanup(void)
{
	/* Only syscalls here: this also runs from the signal handler. */
	if (g.data_map) {
		munmap(g.data_map, g.data_len);
		g.data_map = NULL;
	}
	if (g.meta_map) {
		munmap(g.meta_map, g.meta_len);
		g.meta_map = NULL;
	}
	if (g.raw_fd >= 0) {
		close(g.raw_fd);
		g.raw_fd = -1;
	}
	if (g.marker_fd >= 0) {
		close(g.marker_fd);
		g.marker_fd = -1;
	}
	if (g.inst_created) {
		/* The instance cannot be removed while one of its files is open. */
		rmdir(g.inst_dir);
		g.inst_created = 0;
	}
}

static void on_signal(int sig)
{
	cleanup();
	_exit(128 + sig);
}

static void __attribute__((noreturn, format(printf, 2, 3)))
die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("kernel-probe: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cleanup();
	exit(code);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die(1, "out of memory");
	return p;
}

/* ---------- tracefs file helpers (paths relative to the instance) ---------- */

static void inst_path(char *buf, size_t len, const char *rel)
{
	if ((size_t)snprintf(buf, len, "%s/%s", g.inst_dir, rel) >= len)
		die(1, "path too long: %s/%s", g.inst_dir, rel);
}

static int write_file(const char *rel, const char *val)
{
	char path[4600];
	ssize_t n;
	int fd, err = 0;

	inst_path(path, sizeof(path), rel);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		err = -errno;
	else if ((size_t)n != strlen(val))
		err = -EIO;
	close(fd);
	return err;
}

static void must_write_file(const char *rel, const char *val)
{
	int err = write_file(rel, val);

	if (err)
		die(1, "writing '%s' to %s: %s", val, rel, strerror(-err));
}

/* Reads a whole (small) tracefs file into a malloc'd NUL-terminated string. */
static char *read_file(const char *rel)
{
	char path[4600];
	size_t cap = 4096, len = 0;
	char *buf;
	int fd;

	inst_path(path, sizeof(path), rel);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(1, "open %s: %s", path, strerror(errno));
	buf = xrealloc(NULL, cap);
	for (;;) {
		ssize_t n = read(fd, buf + len, cap - len - 1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			die(1, "read %s: %s", path, strerror(errno));
		}
		if (n == 0)
			break;
		len += n;
		if (cap - len < 2) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

static long read_long_file(const char *rel)
{
	char *s = read_file(rel);
	long v = strtol(s, NULL, 10);

	free(s);
	return v;
}

static const char *errno_name(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "E?";
}

/*
 * Sets one of the instance's settings to @want, writing only when the current
 * value differs.  A kernel that refuses the write (or has no such file) makes
 * the scenario unavailable on this machine: exit EXIT_REFUSED with the reason.
 */
static void set_setting(const char *rel, unsigned long want)
{
	char path[4600], val[32], now[64];
	ssize_t n;
	int fd, err;

	inst_path(path, sizeof(path), rel);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(EXIT_REFUSED, "the kernel refuses %s=%lu: no such setting (%s)", rel, want,
		    errno_name(errno));
	n = read(fd, now, sizeof(now) - 1);
	err = errno;
	close(fd);
	if (n < 0)
		die(1, "read %s: %s", path, strerror(err));
	now[n] = '\0';
	now[strcspn(now, "\n")] = '\0';
	snprintf(val, sizeof(val), "%lu", want);
	if (strcmp(now, val) == 0)
		return;
	err = write_file(rel, val);
	if (err)
		die(EXIT_REFUSED, "the kernel refuses %s=%lu (it is %s): %s (%s)", rel, want, now,
		    errno_name(-err), strerror(-err));
}

/* ---------------------------- JSON output ---------------------------- */

static FILE *out;		/* open_memstream: printed only on success */

static void json_u64(const char *key, uint64_t v, int comma)
{
	fprintf(out, "\"%s\":%" PRIu64 "%s", key, v, comma ? "," : "");
}

static void json_str(const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

/* True if s is a plain decimal number that is also a valid JSON number. */
static int is_json_number(const char *s)
{
	if (*s == '-')
		s++;
	if (!isdigit((unsigned char)*s))
		return 0;
	if (*s == '0' && isdigit((unsigned char)s[1]))
		return 0;
	while (isdigit((unsigned char)*s))
		s++;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return 0;
		while (isdigit((unsigned char)*s))
			s++;
	}
	return *s == '\0';
}

/*
 * per_cpu/cpuN/stats is "label: value" per line.  Emit it as a JSON object
 * with snake_case labels; numeric values (also "sec.usec" timestamps) stay
 * numbers, anything else becomes a string.
 */
static void json_stats(const char *key, int cpu)
{
	char rel[64], *text, *line, *save = NULL;
	int first = 1;

	snprintf(rel, sizeof(rel), "per_cpu/cpu%d/stats", cpu);
	text = read_file(rel);
	fprintf(out, "\"%s\":{", key);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':'), *val, *end, *p;

		if (!colon)
			continue;
		*colon = '\0';
		for (p = line; *p; p++)
			*p = (*p == ' ') ? '_' : tolower((unsigned char)*p);
		val = colon + 1;
		while (isspace((unsigned char)*val))
			val++;
		end = val + strlen(val);
		while (end > val && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (!first)
			fputc(',', out);
		first = 0;
		json_str(line);
		fputc(':', out);
		if (is_json_number(val))
			fputs(val, out);
		else
			json_str(val);
	}
	fputc('}', out);
	free(text);
}

/* ---------------------------- spec parsing ---------------------------- */

struct spec {
	unsigned int subbuf_kb;
	unsigned int size_kb;
	int overwrite;
	unsigned long drain_every;
	int cpu;			/* -1: current */
	int check_only;
	const char *tracefs;
	uint32_t *lengths;
	size_t nr_lengths;
};

static unsigned long parse_ulong(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end)
		die(2, "bad %s: '%s'", what, s);
	return v;
}

/* Parses "L[xN]" items separated by commas or whitespace. */
static void parse_lengths(struct spec *sp, const char *text)
{
	const char *p = text;
	size_t cap = 0;

	while (*p) {
		unsigned long len, rep = 1;
		char *end;

		if (*p == ',' || isspace((unsigned char)*p)) {
			p++;
			continue;
		}
		errno = 0;
		len = strtoul(p, &end, 10);
		if (errno || end == p)
			die(2, "bad --lengths near '%.20s'", p);
		p = end;
		if (*p == 'x' || *p == '*') {
			p++;
			rep = strtoul(p, &end, 10);
			if (end == p)
				die(2, "bad repeat count near '%.20s'", p);
			p = end;
		}
		if (*p && *p != ',' && !isspace((unsigned char)*p))
			die(2, "bad --lengths near '%.20s'", p);
		if (len < MIN_PAYLOAD || len > (1u << 20))
			die(2, "payload length %lu out of range (min %d)", len, MIN_PAYLOAD);
		if (rep > (1ul << 26) || sp->nr_lengths + rep > (1ul << 26))
			die(2, "too many events");
		while (rep--) {
			if (sp->nr_lengths == cap) {
				cap = cap ? cap * 2 : 1024;
				sp->lengths = xrealloc(sp->lengths, cap * sizeof(*sp->lengths));
			}
			sp->lengths[sp->nr_lengths++] = (uint32_t)len;
		}
	}
}

static char *slurp_stdin(void)
{
	size_t cap = 65536, len = 0;
	char *buf = xrealloc(NULL, cap);
	size_t n;

	while ((n = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
		len += n;
		if (cap - len < 2) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
	}
	buf[len] = '\0';
	return buf;
}

static void usage(void)
{
	fputs("usage: kernel-probe --tracefs DIR [--subbuf-kb N] [--size-kb N]\n"
	      "                    [--overwrite 0|1] --lengths L[xN],...|- [--drain-every N]\n"
	      "                    [--cpu N]\n"
	      "       kernel-probe --tracefs DIR --check\n", stderr);
	exit(2);
}

static void parse_args(struct spec *sp, int argc, char **argv)
{
	int have_lengths = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = (i + 1 < argc) ? argv[i + 1] : NULL;

		if (!strcmp(a, "--check")) {
			sp->check_only = 1;
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			usage();
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--tracefs"))
			sp->tracefs = v;
		else if (!strcmp(a, "--subbuf-kb"))
			sp->subbuf_kb = parse_ulong(v, a);
		else if (!strcmp(a, "--size-kb"))
			sp->size_kb = parse_ulong(v, a);
		else if (!strcmp(a, "--overwrite"))
			sp->overwrite = parse_ulong(v, a) ? 1 : 0;
		else if (!strcmp(a, "--drain-every"))
			sp->drain_every = parse_ulong(v, a);
		else if (!strcmp(a, "--cpu"))
			sp->cpu = (int)parse_ulong(v, a);
		else if (!strcmp(a, "--lengths")) {
			if (!strcmp(v, "-")) {
				char *text = slurp_stdin();

				parse_lengths(sp, text);
				free(text);
			} else {
				parse_lengths(sp, v);
			}
			have_lengths = 1;
		} else {
			usage();
		}
	}
	if (!sp->tracefs || (!sp->check_only && !have_lengths))
		usage();
}

/* ------------------------- sub-buffer decoding ------------------------- */

static inline uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;		/* x86_64 / little-endian hosts only */
}

static inline uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

struct probe_state {
	struct spec *sp;
	const struct probe_meta *meta;
	const uint8_t *data;		/* sub-buffer 0 */
	uint32_t subbuf_size;
	uint32_t nr_subbufs;
	uint32_t cur_id;		/* reader id after the previous call */
	uint32_t cur_read;		/* reader.read after the previous call */
	unsigned long writes_done;
	unsigned long nr_calls;
	unsigned long empty_calls;
	uint32_t last_seq;		/* for the seq-gap check */
	unsigned long pid_mismatch, length_mismatch, seq_gaps, read_ne_commit;
	uint32_t pid;
};

static uint32_t *vec_push(uint32_t *v, size_t *n, size_t *cap, uint32_t x)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		v = xrealloc(v, *cap * sizeof(*v));
	}
	v[(*n)++] = x;
	return v;
}

/*
 * Walks the events of sub-buffer `sb` in the data range [start, end) and
 * appends the call record.  Returns nothing; counters go into `st`.
 */
static void record_call(struct probe_state *st, uint32_t id, uint32_t read, uint32_t start,
			int same_id)
{
	const uint8_t *sb = st->data + (size_t)id * st->subbuf_size;
	const uint8_t *d = sb + SUBBUF_DATA_OFF;
	uint32_t data_size = st->subbuf_size - SUBBUF_DATA_OFF;
	uint64_t commit_raw = rd64(sb + SUBBUF_COMMIT_OFF);
	uint32_t c32 = (uint32_t)commit_raw;
	uint32_t clen = c32 & COMMIT_LEN_MASK;
	uint32_t end = read, off;
	uint32_t *lens = NULL, *seqs = NULL;
	size_t nl = 0, cl = 0, ns = 0, cs = 0;
	unsigned long extends = 0, abs_stamps = 0, discards = 0;

	if (read != clen)
		st->read_ne_commit++;
	if (end > data_size)
		end = data_size;

	for (off = start; off + 4 <= end;) {
		uint32_t w = rd32(d + off);
		uint32_t type_len = w & 0x1f, delta = w >> 5;
		uint32_t size, plen = 0, poff = 0;

		if (type_len == 0) {
			if (off + 8 > end)
				break;
			size = rd32(d + off + 4) + 4;
			plen = size - 8;
			poff = 8;
		} else if (type_len <= TYPE_DATA_MAX) {
			size = 4 + 4 * type_len;
			plen = 4 * type_len;
			poff = 4;
		} else if (type_len == TYPE_PADDING) {
			if (delta == 0)
				break;	/* null padding: nothing valid beyond */
			size = rd32(d + off + 4) + 4;
			discards++;
		} else if (type_len == TYPE_TIME_EXTEND) {
			size = 8;
			extends++;
		} else {
			size = 8;
			abs_stamps++;
		}
		if (size < 8 || off + size > end) {
			fprintf(stderr, "kernel-probe: bad event at id %u off %u (w=0x%08x)\n",
				id, off, w);
			break;
		}
		if (poff) {
			const uint8_t *pl = d + off + poff;
			uint32_t seq = plen >= 12 ? rd32(pl + MARKER_ENTRY_SIZE) : 0;

			if (plen < 8 || rd32(pl + 4) != st->pid)
				st->pid_mismatch++;
			if (seq >= 1 && seq <= st->sp->nr_lengths) {
				if (plen != ((st->sp->lengths[seq - 1] + 3) & ~3u))
					st->length_mismatch++;
			} else {
				st->length_mismatch++;
			}
			if (st->last_seq && seq != st->last_seq + 1)
				st->seq_gaps++;
			st->last_seq = seq;
			lens = vec_push(lens, &nl, &cl, plen);
			seqs = vec_push(seqs, &ns, &cs, seq);
		}
		off += size;
	}

	fprintf(out, "%s{", st->nr_calls ? "," : "");
	json_u64("after_writes", st->writes_done, 1);
	json_u64("id", id, 1);
	json_u64("read", read, 1);
	json_u64("same_id", same_id, 1);
	json_u64("start", start, 1);
	fprintf(out, "\"commit_raw\":\"0x%016" PRIx64 "\",", commit_raw);
	json_u64("commit_len", clen, 1);
	json_u64("missed", !!(c32 & COMMIT_MISSED_EVENTS), 1);
	json_u64("stored", !!(c32 & COMMIT_MISSED_STORED), 1);
	if ((c32 & COMMIT_MISSED_STORED) && clen + 8 <= data_size)
		json_u64("lost", rd64(d + clen), 1);
	else
		fputs("\"lost\":null,", out);
	fprintf(out, "\"page_ts\":\"%" PRIu64 "\",", rd64(sb + SUBBUF_TS_OFF));
	json_u64("events", nl, 1);
	if (nl)
		fprintf(out, "\"first_seq\":%u,\"last_seq\":%u,", seqs[0], seqs[ns - 1]);
	else
		fputs("\"first_seq\":null,\"last_seq\":null,", out);
	fputs("\"lengths\":[", out);
	for (size_t i = 0; i < nl; i++)
		fprintf(out, "%s%u", i ? "," : "", lens[i]);
	fputs("],\"seqs\":[", out);
	for (size_t i = 0; i < ns; i++)
		fprintf(out, "%s%u", i ? "," : "", seqs[i]);
	fputs("],", out);
	json_u64("extends", extends, 1);
	json_u64("abs_stamps", abs_stamps, 1);
	json_u64("discards", discards, 1);
	json_u64("bytes", off - start, 1);
	json_u64("entries", st->meta->entries, 1);
	json_u64("overrun", st->meta->overrun, 1);
	json_u64("meta_read", st->meta->read, 1);
	json_u64("lost_events", st->meta->reader_lost_events, 0);
	fputc('}', out);

	free(lens);
	free(seqs);
	st->nr_calls++;
}

/* GET_READER until a call hands out nothing new; records every useful call. */
static void drain(struct probe_state *st)
{
	for (unsigned long guard = 0; guard < 10000000ul; guard++) {
		uint32_t id, read, start;
		int same;

		if (ioctl(g.raw_fd, PROBE_IOCTL_GET_READER) < 0)
			die(errno == ENOTTY ? EXIT_SKIP : 1, "GET_READER: %s", strerror(errno));
		id = st->meta->reader_id;
		read = st->meta->reader_read;
		if (id >= st->nr_subbufs)
			die(1, "reader id %u out of range (nr_subbufs %u)", id, st->nr_subbufs);
		same = (id == st->cur_id);
		if (same && read == st->cur_read) {
			st->empty_calls++;
			return;		/* nothing new: drained */
		}
		/* Same page continues at the old offset (unless it was reset). */
		start = (same && read > st->cur_read) ? st->cur_read : 0;
		record_call(st, id, read, start, same);
		st->cur_id = id;
		st->cur_read = read;
	}
	die(1, "drain did not terminate");
}

static void json_meta(const char *key, const struct probe_meta *m)
{
	fprintf(out, "\"%s\":{", key);
	json_u64("entries", m->entries, 1);
	json_u64("overrun", m->overrun, 1);
	json_u64("read", m->read, 1);
	json_u64("lost_events", m->reader_lost_events, 1);
	json_u64("reader_id", m->reader_id, 1);
	json_u64("reader_read", m->reader_read, 0);
	fputc('}', out);
}

/* ------------------------------- setup ------------------------------- */

static int pin_cpu(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		cpu = sched_getcpu();
	if (cpu < 0)
		die(1, "sched_getcpu: %s", strerror(errno));
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die(1, "sched_setaffinity(%d): %s", cpu, strerror(errno));
	/* The kernel migrates us before returning; double-check. */
	for (int i = 0; i < 100 && sched_getcpu() != cpu; i++)
		sched_yield();
	if (sched_getcpu() != cpu)
		die(1, "could not move to CPU %d", cpu);
	return cpu;
}

static void create_instance(const char *tracefs)
{
	char dir[4096];
	struct stat stb;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/instances", tracefs) >= sizeof(dir) - 32)
		die(2, "tracefs path too long");
	if (stat(dir, &stb) || !S_ISDIR(stb.st_mode))
		die(EXIT_SKIP, "%s: no tracefs instances directory (is tracefs mounted?)", tracefs);
	if ((size_t)snprintf(g.inst_dir, sizeof(g.inst_dir), "%s/instances/tbprobe_%d", tracefs,
			     (int)getpid()) >= sizeof(g.inst_dir) - 16)
		die(2, "tracefs path too long");
	if (mkdir(g.inst_dir, 0750))
		die(errno == EEXIST ? 1 : EXIT_SKIP, "mkdir %s: %s", g.inst_dir, strerror(errno));
	g.inst_created = 1;
}

static void map_buffer(struct probe_state *st, int cpu)
{
	char path[4600];
	long page = sysconf(_SC_PAGESIZE);
	const struct probe_meta *m;

	snprintf(path, sizeof(path), "%s/per_cpu/cpu%d/trace_pipe_raw", g.inst_dir, cpu);
	g.raw_fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (g.raw_fd < 0)
		die(errno == ENOENT ? EXIT_SKIP : 1, "open %s: %s", path, strerror(errno));

	/* Meta page first: one system page is enough to read the struct. */
	g.meta_len = page;
	g.meta_map = mmap(NULL, g.meta_len, PROT_READ, MAP_SHARED, g.raw_fd, 0);
	if (g.meta_map == MAP_FAILED) {
		int err = errno;

		g.meta_map = NULL;
		die(err == ENODEV || err == EINVAL || err == EPERM || err == EOPNOTSUPP ?
		    EXIT_SKIP : 1, "mmap of trace_pipe_raw not supported: %s", strerror(err));
	}
	m = g.meta_map;
	if (m->meta_struct_len > (uint32_t)page) {
		/* Struct grew beyond a page: remap the whole meta area. */
		munmap(g.meta_map, g.meta_len);
		g.meta_map = NULL;
		g.meta_len = m->meta_page_size;
		g.meta_map = mmap(NULL, g.meta_len, PROT_READ, MAP_SHARED, g.raw_fd, 0);
		if (g.meta_map == MAP_FAILED) {
			g.meta_map = NULL;
			die(1, "mmap meta (%zu bytes): %s", g.meta_len, strerror(errno));
		}
		m = g.meta_map;
	}
	if (m->meta_struct_len < sizeof(struct probe_meta))
		die(EXIT_SKIP, "meta_struct_len %u < 80: unsupported kernel", m->meta_struct_len);

	/* Then all sub-buffers, which start right after the meta area. */
	g.data_len = (size_t)m->subbuf_size * m->nr_subbufs;
	g.data_map = mmap(NULL, g.data_len, PROT_READ, MAP_SHARED, g.raw_fd, m->meta_page_size);
	if (g.data_map == MAP_FAILED) {
		g.data_map = NULL;
		die(1, "mmap data (%zu bytes at %u): %s", g.data_len, m->meta_page_size,
		    strerror(errno));
	}
	st->meta = m;
	st->data = g.data_map;
	st->subbuf_size = m->subbuf_size;
	st->nr_subbufs = m->nr_subbufs;
	st->cur_id = m->reader_id;
	st->cur_read = m->reader_read;
}

static void open_marker(void)
{
	char path[4600];

	inst_path(path, sizeof(path), "trace_marker_raw");
	g.marker_fd = open(path, O_WRONLY | O_CLOEXEC);
	if (g.marker_fd < 0)
		die(1, "open %s: %s", path, strerror(errno));
}

/* ------------------------------- main ------------------------------- */

struct fail_log {
	unsigned long count;
	unsigned long by_errno[256];
	uint32_t *runs;			/* pairs [first, last] */
	size_t nr, cap;
};

static void note_failure(struct fail_log *fl, uint32_t seq, int err)
{
	fl->count++;
	fl->by_errno[err > 0 && err < 256 ? err : 0]++;
	if (fl->nr && fl->runs[fl->nr - 1] + 1 == seq)
		fl->runs[fl->nr - 1] = seq;
	else {
		fl->runs = vec_push(fl->runs, &fl->nr, &fl->cap, seq);
		fl->runs = vec_push(fl->runs, &fl->nr, &fl->cap, seq);
	}
}

static void write_events(struct probe_state *st, struct fail_log *fl)
{
	struct spec *sp = st->sp;
	uint8_t buf[1 << 20];

	for (size_t i = 0; i < sp->nr_lengths; i++) {
		uint32_t seq = (uint32_t)i + 1;
		size_t n = sp->lengths[i] - MARKER_ENTRY_SIZE;
		ssize_t r;

		memcpy(buf, &seq, 4);
		for (size_t j = 4; j < n; j++)
			buf[j] = (uint8_t)(seq + j);
		r = write(g.marker_fd, buf, n);
		if (r < 0)
			note_failure(fl, seq, errno);
		else if ((size_t)r != n)
			die(1, "short marker write (%zd of %zu)", r, n);
		st->writes_done++;
		if (sp->drain_every && st->writes_done % sp->drain_every == 0)
			drain(st);
	}
}

int main(int argc, char **argv)
{
	struct spec sp = { .subbuf_kb = 4, .size_kb = 8, .overwrite = 1, .cpu = -1 };
	struct probe_state st = { .sp = &sp };
	struct fail_log fl = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	struct utsname uts;
	char *json = NULL;
	size_t json_len = 0;
	int cpu;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	parse_args(&sp, argc, argv);
	if (geteuid() != 0)
		die(EXIT_SKIP, "must run as root");
	uname(&uts);

	cpu = pin_cpu(sp.cpu);
	st.pid = (uint32_t)getpid();
	create_instance(sp.tracefs);

	must_write_file("tracing_on", "0");
	if (!sp.check_only) {
		/* Sub-buffer size first: changing it recomputes the page count. */
		set_setting("buffer_subbuf_size_kb", sp.subbuf_kb);
		set_setting("buffer_size_kb", sp.size_kb);
		set_setting("options/overwrite", sp.overwrite ? 1 : 0);
	}

	map_buffer(&st, cpu);
	if (!sp.check_only && st.subbuf_size != sp.subbuf_kb * 1024u)
		die(EXIT_REFUSED, "the kernel made %u-byte sub-buffers for buffer_subbuf_size_kb=%u "
		    "(system page size %ld)", st.subbuf_size, sp.subbuf_kb, sysconf(_SC_PAGESIZE));

	if (sp.check_only) {
		if (ioctl(g.raw_fd, PROBE_IOCTL_GET_READER) < 0)
			die(errno == ENOTTY ? EXIT_SKIP : 1, "GET_READER: %s", strerror(errno));
		printf("{\"ok\":true,\"kernel\":\"%s\",\"cpu\":%d,\"subbuf_size\":%u,"
		       "\"nr_subbufs\":%u}\n", uts.release, cpu, st.subbuf_size, st.nr_subbufs);
		cleanup();
		return 0;
	}

	out = open_memstream(&json, &json_len);
	if (!out)
		die(1, "open_memstream: %s", strerror(errno));
	fputc('{', out);
	fputs("\"kernel\":", out);
	json_str(uts.release);
	fprintf(out, ",\"cpu\":%d,\"pid\":%u,\"config\":{", cpu, st.pid);
	json_u64("subbuf_kb", sp.subbuf_kb, 1);
	json_u64("size_kb", sp.size_kb, 1);
	json_u64("overwrite", sp.overwrite, 1);
	json_u64("drain_every", sp.drain_every, 1);
	json_u64("subbuf_kb_read", read_long_file("buffer_subbuf_size_kb"), 1);
	json_u64("size_kb_read", read_long_file("buffer_size_kb"), 0);
	fputs("},", out);
	json_u64("subbuf_size", st.subbuf_size, 1);
	json_u64("nr_subbufs", st.nr_subbufs, 1);
	json_u64("meta_page_size", st.meta->meta_page_size, 1);
	json_u64("meta_struct_len", st.meta->meta_struct_len, 1);
	json_meta("meta_initial", st.meta);
	fputs(",\"calls\":[", out);

	open_marker();
	must_write_file("tracing_on", "1");
	write_events(&st, &fl);
	must_write_file("tracing_on", "0");

	/* Stats are written into the JSON later; capture text now via a temp stream. */
	{
		char *before = NULL;
		size_t before_len = 0;
		FILE *saved = out;

		out = open_memstream(&before, &before_len);
		if (!out)
			die(1, "open_memstream: %s", strerror(errno));
		json_stats("stats_before", cpu);
		fclose(out);
		out = saved;

		drain(&st);
		fputs("],", out);
		json_u64("empty_calls", st.empty_calls, 1);
		fprintf(out, "\"writes\":{");
		json_u64("requested", sp.nr_lengths, 1);
		json_u64("ok", sp.nr_lengths - fl.count, 1);
		json_u64("failed", fl.count, 1);
		fputs("\"errnos\":{", out);
		for (int e = 0, first = 1; e < 256; e++) {
			if (!fl.by_errno[e])
				continue;
			fprintf(out, "%s", first ? "" : ",");
			json_str(errno_name(e));
			fprintf(out, ":%lu", fl.by_errno[e]);
			first = 0;
		}
		fputs("},\"failed_seqs\":[", out);
		for (size_t i = 0; i + 1 < fl.nr; i += 2)
			fprintf(out, "%s[%u,%u]", i ? "," : "", fl.runs[i], fl.runs[i + 1]);
		fputs("]},", out);
		json_meta("meta", st.meta);
		fputc(',', out);
		fputs(before, out);
		free(before);
	}
	fputc(',', out);
	json_stats("stats", cpu);
	fputs(",\"checks\":{", out);
	json_u64("pid_mismatch", st.pid_mismatch, 1);
	json_u64("length_mismatch", st.length_mismatch, 1);
	json_u64("seq_gaps", st.seq_gaps, 1);
	json_u64("read_ne_commit", st.read_ne_commit, 0);
	fputs("}}\n", out);

	cleanup();
	if (fclose(out))
		die(1, "building output failed");
	if (fwrite(json, 1, json_len, stdout) != json_len || fflush(stdout))
		die(1, "writing output: %s", strerror(errno));
	free(json);
	free(fl.runs);
	free(sp.lengths);
	return 0;
}
