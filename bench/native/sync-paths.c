// What one durable round costs the kernel on this machine, by the way the bytes reach the file
// and by the state of the file's extents. It bounds the durable confirm rate of any engine on
// this device, Sluice included.
//
//   npm run bench:sync-paths      (cc -O2 -pthread, then runs it in BENCH_DIR, /tmp by default)
//
// A round writes 256 messages of 100 B (25,600 bytes) after the previous round's end and makes
// them durable, as Sluice's flusher does for 256 confirms in flight; 3000 rounds per path, every
// path twice, interleaved, on a fresh file each time:
//   mmap msync            fallocated file, memcpy into a MAP_SHARED mapping, msync(MS_SYNC) of
//                         the round's pages
//   mmap fdatasync        the same, with fdatasync
//   pwrite fdatasync      fallocated file, pwrite, fdatasync: Sluice's write path (kPwrite)
//   append fdatasync      empty file, pwrite past its end, fdatasync: the plain-Node baseline
//   zeroed mmap msync     the file zero-filled by write(2) and synced first: no extent unwritten
//   zeroed pwrite         the same with pwrite + fdatasync
//   zero-range pwrite     fallocate, then fallocate(FALLOC_FL_ZERO_RANGE) (ext4 leaves the
//                         extents unwritten; FALLOC_FL_WRITE_ZEROES is checked below)
//   filler W pwrite       fallocated file; a second thread pwrites zeros W bytes ahead of the
//                         writer in chunks of W/4 (FILL_CHUNK_KIB overrides), fdatasync after each chunk, while rounds run
//   dirtier W pwrite      the same, but the thread dirties the pages ahead through a MAP_SHARED
//                         mapping (MADV_POPULATE_WRITE, which never changes a byte) and msyncs them
//   beside fill pwrite    fallocated file while a second thread zero-fills ANOTHER file as fast
//                         as it can (pwrite 1 MiB, fdatasync every 8 MiB): a next segment
//                         prepared whole, costed on the rounds of the active one
// "round" is the whole round (write + sync); msg/s is 256 messages per round. After the table:
// zero-fill throughput alone, and whether FALLOC_FL_WRITE_ZEROES is supported here.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef FALLOC_FL_WRITE_ZEROES
#define FALLOC_FL_WRITE_ZEROES 0x80
#endif

enum { kRounds = 3000, kRoundBytes = 256 * 100, kPaths = 13, kMiB = 1 << 20 };
enum Path {
  kMmapMsync, kMmapFdatasync, kPwrite, kAppend, kZeroedMmap, kZeroedPwrite, kZeroRange,
  kFiller1M, kFiller8M, kDirtier8M, kBesideFill, kFiller2M, kDirtier2M
};
static const char* names[kPaths] = {
    "mmap msync",        "mmap fdatasync",    "pwrite fdatasync", "append fdatasync",
    "zeroed mmap msync", "zeroed pwrite",     "zero-range pwrite", "filler 1M pwrite",
    "filler 8M pwrite",  "dirtier 8M pwrite", "beside fill pwrite", "filler 2M pwrite", "dirtier 2M pwrite"};

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int by_value(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static void die(const char* what) {
  perror(what);
  exit(1);
}

static char zeros[kMiB];

struct Filler {
  int fd;
  char* map;              // kDirtier8M: dirty through this mapping instead of writing zeros
  size_t window, capacity;
  atomic_size_t written;  // the writer's end
  atomic_int stop;
  size_t filled_bytes;
};

// Keeps [writer end, writer end + window) zero-filled and synced, skipping ahead when overtaken.
static void* fill_ahead(void* arg) {
  struct Filler* f = arg;
  const size_t chunk = getenv("FILL_CHUNK_KIB") ? (size_t)atoi(getenv("FILL_CHUNK_KIB")) << 10 : f->window / 4;
  size_t next = 0;
  while (!atomic_load(&f->stop)) {
    const size_t end = atomic_load(&f->written);
    if (next < end) next = (end + chunk - 1) / chunk * chunk;
    if (next >= end + f->window || next + chunk > f->capacity) {
      usleep(200);
      continue;
    }
    if (f->map) {
      if (madvise(f->map + next, chunk, MADV_POPULATE_WRITE) != 0) die("madvise");
      if (msync(f->map + next, chunk, MS_SYNC) != 0) die("msync");
    } else {
      for (size_t o = 0; o < chunk; o += kMiB) {
        size_t n = chunk - o < kMiB ? chunk - o : kMiB;
        if (pwrite(f->fd, zeros, n, (off_t)(next + o)) != (ssize_t)n) die("pwrite");
      }
      if (fdatasync(f->fd) != 0) die("fdatasync");
    }
    f->filled_bytes += chunk;
    next += chunk;
  }
  return NULL;
}

// Zero-fills a file of its own as fast as it can until stopped.
static void* fill_other(void* arg) {
  struct Filler* f = arg;
  size_t at = 0;
  while (!atomic_load(&f->stop) && at + kMiB <= f->capacity) {
    if (pwrite(f->fd, zeros, kMiB, (off_t)at) != kMiB) die("pwrite");
    at += kMiB;
    if (at % (8 * kMiB) == 0 && fdatasync(f->fd) != 0) die("fdatasync");
  }
  f->filled_bytes = at;
  return NULL;
}

static int open_temp(const char* dir, int path, const char* tag) {
  char file[4096];
  snprintf(file, sizeof file, "%s/sluice-sync-paths-%d-%d%s", dir, (int)getpid(), path, tag);
  int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die(file);
  unlink(file);
  return fd;
}

static void zero_fill(int fd, size_t bytes) {
  for (size_t o = 0; o < bytes; o += kMiB) {
    if (pwrite(fd, zeros, kMiB, (off_t)o) != kMiB) die("pwrite");
  }
}

static void run(int path, const char* dir) {
  static double sync_us[kRounds];
  static char round[kRoundBytes];
  const size_t capacity = ((size_t)kRounds * kRoundBytes + 16 * kMiB) / kMiB * kMiB;
  const int fd = open_temp(dir, path, "");
  const int mapped = path == kMmapMsync || path == kMmapFdatasync || path == kZeroedMmap;
  const int msynced = path == kMmapMsync || path == kZeroedMmap;
  if (path == kZeroedMmap || path == kZeroedPwrite) {
    zero_fill(fd, capacity);
  } else if (path != kAppend && fallocate(fd, 0, 0, (off_t)capacity) != 0) {
    die("fallocate");
  }
  if (path == kZeroRange && fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, (off_t)capacity) != 0) {
    die("fallocate zero range");
  }
  fsync(fd);
  char* map = NULL;
  if (mapped || path == kDirtier8M || path == kDirtier2M) {
    map = mmap(NULL, capacity, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) die("mmap");
  }
  if (mapped) {
    madvise(map, capacity, MADV_POPULATE_WRITE);  // as Sluice's preparer does
    fsync(fd);
  }
  struct Filler filler = {.fd = fd, .capacity = capacity};
  pthread_t thread;
  const int ahead = path == kFiller1M || path == kFiller2M || path == kFiller8M || path == kDirtier8M ||
                    path == kDirtier2M;
  if (ahead) {
    filler.window = path == kFiller1M                         ? kMiB
                    : path == kFiller2M || path == kDirtier2M ? 2 * kMiB
                                                              : 8 * kMiB;
    filler.map = path == kDirtier8M || path == kDirtier2M ? map : NULL;
    pthread_create(&thread, NULL, fill_ahead, &filler);
  } else if (path == kBesideFill) {
    filler.fd = open_temp(dir, path, "-other");
    filler.capacity = 1024 * (size_t)kMiB;
    if (fallocate(filler.fd, 0, 0, (off_t)filler.capacity) != 0) die("fallocate");
    pthread_create(&thread, NULL, fill_other, &filler);
  }
  if (ahead) usleep(20000);  // the first window, as a prepared segment would have it
  memset(round, 7, sizeof round);
  const double start = now_us();
  for (int i = 0; i < kRounds; i++) {
    const size_t at = (size_t)i * kRoundBytes;
    const size_t page = at & ~(size_t)4095;
    if (mapped) {
      memcpy(map + at, round, kRoundBytes);
    } else if (pwrite(fd, round, kRoundBytes, (off_t)at) != kRoundBytes) {
      die("pwrite");
    }
    atomic_store(&filler.written, at + kRoundBytes);
    const double t = now_us();
    int rc = msynced ? msync(map + page, at + kRoundBytes - page, MS_SYNC) : fdatasync(fd);
    if (rc != 0) die("sync");
    sync_us[i] = now_us() - t;
  }
  const double total = now_us() - start;
  char note[64] = "";
  if (ahead || path == kBesideFill) {
    atomic_store(&filler.stop, 1);
    pthread_join(thread, NULL);
    snprintf(note, sizeof note, "%.0f MB zeroed meanwhile", filler.filled_bytes / 1e6);
    if (path == kBesideFill) close(filler.fd);
  }
  qsort(sync_us, kRounds, sizeof(double), by_value);
  printf("| %s | %.0f µs | %.0f µs | %.0f µs | %.0f k | %s |\n", names[path], sync_us[kRounds / 2],
         sync_us[kRounds * 99 / 100], total / kRounds, kRounds * 256.0 / total * 1e3, note);
  if (map) munmap(map, capacity);
  close(fd);
}

// Zero-fill throughput alone: 256 MiB into a fallocated file, synced every 8 MiB.
static void fill_rate(const char* dir) {
  const size_t bytes = 256 * (size_t)kMiB;
  for (int how = 0; how < 2; how++) {
    const int fd = open_temp(dir, 100 + how, "-rate");
    if (fallocate(fd, 0, 0, (off_t)bytes) != 0) die("fallocate");
    fsync(fd);
    char* map = how == 1 ? mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : NULL;
    if (map == MAP_FAILED) die("mmap");
    const double start = now_us();
    for (size_t o = 0; o < bytes; o += 8 * kMiB) {
      if (how == 0) {
        for (size_t c = 0; c < 8 * kMiB; c += kMiB) {
          if (pwrite(fd, zeros, kMiB, (off_t)(o + c)) != kMiB) die("pwrite");
        }
        if (fdatasync(fd) != 0) die("fdatasync");
      } else {
        if (madvise(map + o, 8 * kMiB, MADV_POPULATE_WRITE) != 0) die("madvise");
        if (msync(map + o, 8 * kMiB, MS_SYNC) != 0) die("msync");
      }
    }
    const double us = now_us() - start;
    printf("zero-fill %s: %.0f MB/s\n", how == 0 ? "pwrite + fdatasync per 8 MiB" :
           "MADV_POPULATE_WRITE + msync per 8 MiB", bytes / us);
    if (map) munmap(map, bytes);
    close(fd);
  }
  const int fd = open_temp(dir, 102, "-wz");
  const int rc = fallocate(fd, FALLOC_FL_WRITE_ZEROES, 0, 8 * kMiB);
  printf("fallocate(FALLOC_FL_WRITE_ZEROES): %s\n", rc == 0 ? "supported" : strerror(errno));
  close(fd);
}

int main(int argc, char** argv) {
  const char* dir = argc > 1 ? argv[1] : "/tmp";
  printf("| path | sync p50 | sync p99 | round | msg/s at 256 per round | note |\n"
         "| --- | ---: | ---: | ---: | ---: | --- |\n");
  const char* only = getenv("PATHS");  // a comma-separated subset of path numbers
  for (int rep = 0; rep < (getenv("REPS") ? atoi(getenv("REPS")) : 2); rep++) {
    for (int path = 0; path < kPaths; path++) {
      char tag[8];
      snprintf(tag, sizeof tag, ",%d,", path);
      char list[256];
      snprintf(list, sizeof list, ",%s,", only ? only : "");
      if (!only || strstr(list, tag)) run(path, dir);
    }
  }
  if (only) return 0;
  fill_rate(dir);
  return 0;
}
