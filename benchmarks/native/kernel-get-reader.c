/*
 * kernel-get-reader: what one TRACE_MMAP_IOCTL_GET_READER costs in the kernel, on this machine,
 * for the get-reader benchmark (benchmarks/src/get-reader.ts), which runs it in the same run as
 * tracebuf's own figures.
 *
 *   kernel-get-reader TRACEFS_DIR PAGES ROUNDS
 *
 * Creates a private instance (instances/tbbench_<pid>, removed at exit), pins itself to the CPU
 * it runs on, and per round: writes 8-byte records to trace_marker_raw until PAGES sub-buffers
 * of that CPU are full (16-byte raw_data entries: 20-byte ring events, 204 per 4 KiB
 * sub-buffer), then times PAGES consecutive GET_READER calls on the mmapped trace_pipe_raw
 * (each swaps in one full sub-buffer; the count of events handed out is checked from the meta
 * page), drains the rest, and times 1000 GET_READER calls on the empty buffer.
 *
 * Prints one JSON object: {"ok":true,"full":{p50,mean,min,calls},"empty":{...},"events_per_page":N}
 * (ns per call, system call included), or {"ok":false,"reason":"..."} and exits 77 when the
 * machine cannot run it (no tracefs instances, no mmap of trace_pipe_raw, a refused setting).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GET_READER 0x5220 /* _IO('R', 0x20) */
#define EXIT_SKIP 77

struct meta {
	uint32_t meta_page_size, meta_struct_len, subbuf_size, nr_subbufs;
	struct { uint64_t lost_events; uint32_t id, read; } reader;
	uint64_t flags, entries, overrun, read, reserved1, reserved2;
};

static char inst[4096];
static int raw_fd = -1, marker = -1;
static void *meta_map, *data_map;
static size_t meta_len, data_len;

static void cleanup(void)
{
	if (data_map) munmap(data_map, data_len);
	if (meta_map) munmap(meta_map, meta_len);
	if (raw_fd >= 0) close(raw_fd);
	if (marker >= 0) close(marker);
	if (inst[0] && rmdir(inst) && errno != ENOENT) fprintf(stderr, "kernel-get-reader: rmdir %s: %s\n", inst, strerror(errno));
}

static void __attribute__((noreturn, format(printf, 2, 3))) fail(int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("{\"ok\":false,\"reason\":\"");
	for (const char *p = msg; *p; p++) {
		if (*p == '"' || *p == '\\') putchar('\\');
		putchar(*p >= ' ' ? *p : ' ');
	}
	printf("\"}\n");
	cleanup();
	exit(code);
}

static void set_file(const char *rel, const char *val)
{
	char path[4600];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", inst, rel);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0 || write(fd, val, strlen(val)) != (ssize_t)strlen(val)) {
		int err = errno;
		if (fd >= 0) close(fd);
		fail(EXIT_SKIP, "the kernel refuses %s=%s: %s", rel, val, strerror(err));
	}
	close(fd);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void summary(const char *key, uint64_t *v, size_t n, int comma)
{
	uint64_t sum = 0;

	qsort(v, n, sizeof(*v), cmp_u64);
	for (size_t i = 0; i < n; i++) sum += v[i];
	printf("\"%s\":{\"p50\":%llu,\"mean\":%.1f,\"min\":%llu,\"calls\":%zu}%s", key,
	       (unsigned long long)v[n / 2], (double)sum / (double)n, (unsigned long long)v[0], n,
	       comma ? "," : "");
}

int main(int argc, char **argv)
{
	const struct meta *m;
	long page = sysconf(_SC_PAGESIZE);
	char path[4600], val[64];
	int cpu;
	unsigned long pages, rounds;
	uint64_t *full, *empty;
	size_t nfull = 0, nempty = 0;
	uint32_t per_page = 0;

	if (argc != 4) fail(2, "usage: kernel-get-reader TRACEFS_DIR PAGES ROUNDS");
	pages = strtoul(argv[2], NULL, 10);
	rounds = strtoul(argv[3], NULL, 10);
	if (pages < 1 || pages > 65536 || rounds < 1 || rounds > 1000) fail(2, "bad PAGES or ROUNDS");
	full = calloc(pages * rounds, sizeof(*full));
	empty = calloc(1000 * rounds, sizeof(*empty));
	if (!full || !empty) fail(1, "out of memory");

	cpu = sched_getcpu();
	{
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) fail(1, "sched_setaffinity: %s", strerror(errno));
	}
	snprintf(inst, sizeof(inst), "%s/instances/tbbench_%d", argv[1], (int)getpid());
	if (mkdir(inst, 0750)) {
		int err = errno;
		inst[0] = 0;
		fail(EXIT_SKIP, "cannot create a tracefs instance under %s: %s", argv[1], strerror(err));
	}
	/* Room for PAGES full sub-buffers plus the writer's own and the reader's. */
	snprintf(val, sizeof(val), "%lu", (pages + 4) * 4);
	set_file("buffer_size_kb", val);
	set_file("options/overwrite", "0");

	snprintf(path, sizeof(path), "%s/per_cpu/cpu%d/trace_pipe_raw", inst, cpu);
	raw_fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (raw_fd < 0) fail(EXIT_SKIP, "open %s: %s", path, strerror(errno));
	meta_len = (size_t)page;
	meta_map = mmap(NULL, meta_len, PROT_READ, MAP_SHARED, raw_fd, 0);
	if (meta_map == MAP_FAILED) {
		int err = errno;
		meta_map = NULL;
		fail(EXIT_SKIP, "mmap of trace_pipe_raw: %s", strerror(err));
	}
	m = meta_map;
	if (m->subbuf_size != 4096) fail(EXIT_SKIP, "sub-buffers are %u bytes, not 4096", m->subbuf_size);
	data_len = (size_t)m->subbuf_size * m->nr_subbufs;
	data_map = mmap(NULL, data_len, PROT_READ, MAP_SHARED, raw_fd, m->meta_page_size);
	if (data_map == MAP_FAILED) {
		data_map = NULL;
		fail(1, "mmap data: %s", strerror(errno));
	}
	snprintf(path, sizeof(path), "%s/trace_marker_raw", inst);
	marker = open(path, O_WRONLY | O_CLOEXEC);
	if (marker < 0) fail(EXIT_SKIP, "open %s: %s", path, strerror(errno));

	for (unsigned long r = 0; r < rounds; r++) {
		/* Fill: 204 20-byte events per 4 KiB sub-buffer; a page more than is timed. */
		uint32_t rec[2] = { 1, 0 };
		while (rec[1] < (uint32_t)((pages + 1) * 204 + 16)) {
			if (write(marker, rec, sizeof(rec)) != sizeof(rec)) fail(1, "trace_marker_raw write: %s", strerror(errno));
			rec[1]++;
		}
		/* Time the hand-outs of full sub-buffers. */
		for (unsigned long i = 0; i < pages; i++) {
			uint64_t read0 = m->read, t0 = now_ns();
			if (ioctl(raw_fd, GET_READER) < 0) fail(1, "GET_READER: %s", strerror(errno));
			uint64_t t1 = now_ns();
			uint32_t got = (uint32_t)(m->read - read0);
			/* Only calls that swapped in one whole page count (the first may find a part). */
			if (m->reader.read >= 4080 - 20 + 1 && got > 0) {
				if (!per_page) per_page = got;
				if (got == per_page) full[nfull++] = t1 - t0;
			}
		}
		/* Drain, then time calls on the empty buffer. */
		for (int i = 0; i < 100000; i++) {
			uint64_t read0 = m->read;
			if (ioctl(raw_fd, GET_READER) < 0) fail(1, "GET_READER: %s", strerror(errno));
			if (m->read == read0) break;
		}
		for (int i = 0; i < 1000; i++) {
			uint64_t t0 = now_ns();
			if (ioctl(raw_fd, GET_READER) < 0) fail(1, "GET_READER: %s", strerror(errno));
			empty[nempty++] = now_ns() - t0;
		}
	}
	if (nfull == 0) fail(1, "no GET_READER handed out a full sub-buffer");
	printf("{\"ok\":true,\"cpu\":%d,\"events_per_page\":%u,", cpu, per_page);
	summary("full", full, nfull, 1);
	summary("empty", empty, nempty, 0);
	printf("}\n");
	cleanup();
	return 0;
}
