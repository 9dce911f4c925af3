// What one durable round costs the kernel on this machine, by the way the bytes reach the file.
// It bounds the durable confirm rate of any engine on this device, Sluice included.
//
//   npm run bench:sync-paths      (cc -O2, then runs it in the bench directory, /tmp by default)
//
// A round writes 256 messages of 100 B (25,600 bytes) after the previous round's end and makes
// them durable, as Sluice's flusher does for 256 confirms in flight; 3000 rounds per path, every
// path twice, interleaved, on a fresh file each time:
//   mmap msync          fallocated file, memcpy into a MAP_SHARED mapping, msync(MS_SYNC) of the
//                       round's pages: Sluice's write path
//   mmap fdatasync      the same, with fdatasync
//   pwrite fdatasync    fallocated file, pwrite, fdatasync
//   append fdatasync    empty file, pwrite past its end, fdatasync: the plain-Node baseline
//   zeroed mmap msync   the file zero-filled by write(2) first, so no extent is left unwritten
// "round" is the whole round (write + sync); msg/s is 256 messages per round.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

enum { kRounds = 3000, kRoundBytes = 256 * 100, kPaths = 5 };

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int by_value(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static void run(int path, const char* dir) {
  static const char* names[kPaths] = {"mmap msync", "mmap fdatasync", "pwrite fdatasync",
                                      "append fdatasync", "zeroed mmap msync"};
  static double sync_us[kRounds];
  static char round[kRoundBytes];
  const size_t capacity = (size_t)kRounds * kRoundBytes + 4096;
  char file[4096];
  snprintf(file, sizeof file, "%s/sluice-sync-paths-%d-%d", dir, (int)getpid(), path);
  int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) { perror(file); exit(1); }
  unlink(file);
  const int mapped = path == 0 || path == 1 || path == 4;
  if (path == 4) {
    char* zeros = calloc(1, 1 << 20);
    for (size_t o = 0; o < capacity; o += 1 << 20) {
      if (pwrite(fd, zeros, 1 << 20, (off_t)o) != 1 << 20) { perror("pwrite"); exit(1); }
    }
    free(zeros);
  } else if (path != 3 && fallocate(fd, 0, 0, (off_t)capacity) != 0) {
    perror("fallocate");
    exit(1);
  }
  fsync(fd);
  char* map = NULL;
  if (mapped) {
    map = mmap(NULL, capacity, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) { perror("mmap"); exit(1); }
    madvise(map, capacity, 23 /* MADV_POPULATE_WRITE, as Sluice's preparer does */);
    fsync(fd);
  }
  memset(round, 7, sizeof round);
  const double start = now_us();
  for (int i = 0; i < kRounds; i++) {
    const size_t at = (size_t)i * kRoundBytes;
    const size_t page = at & ~(size_t)4095;
    if (mapped) {
      memcpy(map + at, round, kRoundBytes);
    } else if (pwrite(fd, round, kRoundBytes, (off_t)at) != kRoundBytes) {
      perror("pwrite");
      exit(1);
    }
    const double t = now_us();
    int rc = (path == 0 || path == 4) ? msync(map + page, at + kRoundBytes - page, MS_SYNC)
                                      : fdatasync(fd);
    if (rc != 0) { perror("sync"); exit(1); }
    sync_us[i] = now_us() - t;
  }
  const double total = now_us() - start;
  qsort(sync_us, kRounds, sizeof(double), by_value);
  printf("| %s | %.0f µs | %.0f µs | %.0f µs | %.0f k |\n", names[path], sync_us[kRounds / 2],
         sync_us[kRounds * 99 / 100], total / kRounds, kRounds * 256.0 / total * 1e3);
  if (map) munmap(map, capacity);
  close(fd);
}

int main(int argc, char** argv) {
  const char* dir = argc > 1 ? argv[1] : "/tmp";
  printf("| path | sync p50 | sync p99 | round | msg/s at 256 per round |\n| --- | ---: | ---: | ---: | ---: |\n");
  for (int rep = 0; rep < 2; rep++) {
    for (int path = 0; path < kPaths; path++) run(path, dir);
  }
  return 0;
}
