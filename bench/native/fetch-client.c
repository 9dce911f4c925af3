// The receiving end of the fetch benchmark (bench/kafka.bench.ts), in C so that the receiver is
// not what is measured: a loopback reader costs the same kernel copy whatever sends.
//
//   fetch-client sendfile FILE LENGTH     baseline: a thread sendfile()s the first LENGTH bytes of
//                                         FILE to a loopback socket (blocking, 1 GiB per call),
//                                         this thread reads them into a 1 MiB buffer
//   fetch-client fetch PORT TOPIC END     a Kafka consumer of partition 0 of TOPIC on 127.0.0.1:
//                                         Fetch v4 requests one after another (maxBytes 50 MiB),
//                                         each response read whole, its batches walked for the
//                                         next offset, until END
// Prints "bytes=N ms=T" (record bytes for fetch, all bytes for sendfile) and exits 0.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"

struct sender {
  int listen_fd;
  const char* file;
  uint64_t length;
};

static void* send_file(void* arg) {
  struct sender* s = arg;
  int c = accept(s->listen_fd, NULL, NULL);
  if (c < 0) die("accept");
  int f = open(s->file, O_RDONLY);
  if (f < 0) die("open");
  off_t at = 0;
  while ((uint64_t)at < s->length) {
    size_t want = s->length - (uint64_t)at > (1u << 30) ? (1u << 30) : (size_t)(s->length - (uint64_t)at);
    ssize_t n = sendfile(c, f, &at, want);
    if (n <= 0) die("sendfile");
  }
  close(f);
  close(c);
  return NULL;
}

static int run_sendfile(const char* file, uint64_t length) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  if (bind(l, (struct sockaddr*)&a, sizeof a) < 0 || listen(l, 1) < 0) die("listen");
  getsockname(l, (struct sockaddr*)&a, &alen);
  struct sender s = {l, file, length};
  pthread_t t;
  int c = socket(AF_INET, SOCK_STREAM, 0);
  double t0 = now_ms();
  pthread_create(&t, NULL, send_file, &s);
  if (connect(c, (struct sockaddr*)&a, sizeof a) < 0) die("connect");
  static uint8_t buf[1 << 20];
  uint64_t got = 0;
  for (;;) {
    ssize_t r = recv(c, buf, sizeof buf, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) die("recv");
    if (r == 0) break;
    got += (uint64_t)r;
  }
  double ms = now_ms() - t0;
  pthread_join(t, NULL);
  if (got != length) {
    fprintf(stderr, "received %llu of %llu\n", (unsigned long long)got, (unsigned long long)length);
    return 1;
  }
  printf("bytes=%llu ms=%.1f\n", (unsigned long long)got, ms);
  return 0;
}

static int run_fetch(int port, const char* topic, int64_t end) {
  const int32_t max_bytes = 50 * 1024 * 1024;
  int c = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (connect(c, (struct sockaddr*)&a, sizeof a) < 0) die("connect");
  int one = 1;
  setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  size_t cap = (size_t)max_bytes + (1 << 20);
  uint8_t* buf = malloc(cap);
  if (buf == NULL) die("malloc");
  int64_t offset = 0;
  uint64_t bytes = 0;
  int32_t correlation = 0;
  size_t tlen = strlen(topic);
  double t0 = now_ms();
  while (offset < end) {
    uint8_t req[256];
    uint8_t* p = req + 4;
    p = put16(p, 1); p = put16(p, 4); p = put32(p, ++correlation); p = put16(p, 5); memcpy(p, "bench", 5); p += 5;
    p = put32(p, -1); p = put32(p, 500); p = put32(p, 1); p = put32(p, max_bytes); *p++ = 0;
    p = put32(p, 1); p = put16(p, (int)tlen); memcpy(p, topic, tlen); p += tlen;
    p = put32(p, 1); p = put32(p, 0); p = put64(p, offset); p = put32(p, max_bytes);
    uint8_t* q = req;
    put32(q, (int32_t)(p - req - 4));
    write_fully(c, req, (size_t)(p - req));
    uint8_t head[4];
    read_fully(c, head, 4);
    int32_t size = get32(head);
    if (size < 0 || (size_t)size > cap) { fprintf(stderr, "response of %d bytes\n", size); return 1; }
    read_fully(c, buf, (size_t)size);
    // v4: correlation, throttle, [topics: name, [partitions: index, error, hw, lso, [aborted], records]]
    const uint8_t* r = buf + 4 + 4 + 4;
    r += 2 + get16(r);
    r += 4 + 4;
    int16_t error = get16(r);
    if (error != 0) { fprintf(stderr, "fetch error %d at offset %lld\n", error, (long long)offset); return 1; }
    r += 2 + 8 + 8;
    int32_t aborted = get32(r);
    r += 4 + (aborted > 0 ? aborted * 16 : 0);
    int32_t n = get32(r);
    r += 4;
    bytes += (uint64_t)(n > 0 ? n : 0);
    for (int32_t at = 0; at + 61 <= n;) {
      int32_t total = 12 + get32(r + at + 8);
      if (at + total > n) break;
      offset = get64(r + at) + get32(r + at + 23) + 1;
      at += total;
    }
  }
  double ms = now_ms() - t0;
  printf("bytes=%llu ms=%.1f\n", (unsigned long long)bytes, ms);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 4 && strcmp(argv[1], "sendfile") == 0) return run_sendfile(argv[2], strtoull(argv[3], NULL, 10));
  if (argc == 5 && strcmp(argv[1], "fetch") == 0) return run_fetch(atoi(argv[2]), argv[3], strtoll(argv[4], NULL, 10));
  fprintf(stderr, "usage: fetch-client sendfile FILE LENGTH | fetch PORT TOPIC END\n");
  return 2;
}
