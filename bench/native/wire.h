// What the bench's small C programs (fetch-client.c, produce-load.c) share: a monotonic clock,
// fatal errors, whole reads and writes on a socket, and the Kafka protocol's big-endian integers.
#pragma once

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

static inline double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static inline void die(const char* what) {
  perror(what);
  exit(1);
}

static inline void read_fully(int fd, uint8_t* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = recv(fd, buf + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) die("recv");
    got += (size_t)r;
  }
}

static inline void write_fully(int fd, const uint8_t* buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t w = send(fd, buf + done, n - done, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) die("send");
    done += (size_t)w;
  }
}

static inline uint8_t* put16(uint8_t* p, int v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
  return p + 2;
}
static inline uint8_t* put32(uint8_t* p, int32_t v) {
  for (int i = 3; i >= 0; i--) *p++ = (uint8_t)((uint32_t)v >> (8 * i));
  return p;
}
static inline uint8_t* put64(uint8_t* p, int64_t v) {
  for (int i = 7; i >= 0; i--) *p++ = (uint8_t)((uint64_t)v >> (8 * i));
  return p;
}
static inline int16_t get16(const uint8_t* p) { return (int16_t)((p[0] << 8) | p[1]); }
static inline int32_t get32(const uint8_t* p) {
  return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}
static inline int64_t get64(const uint8_t* p) {
  return (int64_t)((uint64_t)(uint32_t)get32(p) << 32 | (uint32_t)get32(p + 4));
}
