// A small native Kafka producer for bench/kafka.bench.ts: the server's ingest without a client
// library's own costs in the way. One connection to 127.0.0.1:PORT; Produce v3 requests, each
// one RecordBatch (magic 2, uncompressed, no producer id) of BATCH records of SIZE-byte values
// for partition 0 of TOPIC, up to INFLIGHT requests outstanding; every response is read and its
// error code checked. The batch is encoded once (its CRC32C too) and sent again and again: the
// server assigns offsets, so the same bytes are valid every time.
//
//   produce-load PORT TOPIC SIZE MESSAGES BATCH ACKS INFLIGHT
//
// Prints "msgs=N ms=T" and exits 0; exits 1 with the error code of a failed partition.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"

static uint32_t crc_table[256];

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    crc_table[i] = c;
  }
}

static uint32_t crc32c(const uint8_t* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  while (n--) c = crc_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

static uint8_t* varint(uint8_t* p, int64_t v) {
  uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
  while (z >= 0x80) { *p++ = (uint8_t)(z | 0x80); z >>= 7; }
  *p++ = (uint8_t)z;
  return p;
}

// The whole Produce v3 request frame (size prefix included) carrying one batch.
static size_t build_request(uint8_t* out, const char* topic, int size, int batch, int acks) {
  uint8_t* p = out + 4;
  p = put16(p, 0); p = put16(p, 3); p = put32(p, 0); p = put16(p, 4); memcpy(p, "load", 4); p += 4;
  p = put16(p, -1);              // transactional_id: null
  p = put16(p, acks);
  p = put32(p, 30000);           // timeout
  p = put32(p, 1); size_t tlen = strlen(topic); p = put16(p, (int)tlen); memcpy(p, topic, tlen); p += tlen;
  p = put32(p, 1); p = put32(p, 0);
  uint8_t* records_len = p; p += 4;
  uint8_t* b = p;
  int64_t ts = (int64_t)time(NULL) * 1000;
  p = put64(p, 0);               // baseOffset
  uint8_t* batch_len = p; p += 4;
  p = put32(p, -1);              // partitionLeaderEpoch
  *p++ = 2;                      // magic
  uint8_t* crc_at = p; p += 4;
  uint8_t* attrs = p;
  p = put16(p, 0);
  p = put32(p, batch - 1);       // lastOffsetDelta
  p = put64(p, ts); p = put64(p, ts);
  p = put64(p, -1); p = put16(p, -1); p = put32(p, -1);
  p = put32(p, batch);
  for (int i = 0; i < batch; i++) {
    uint8_t body[64];
    uint8_t* q = body;
    *q++ = 0;                    // attributes
    q = varint(q, 0);            // timestampDelta
    q = varint(q, i);            // offsetDelta
    q = varint(q, -1);           // key: null
    q = varint(q, size);
    size_t head = (size_t)(q - body);
    p = varint(p, (int64_t)(head + (size_t)size + 1));
    memcpy(p, body, head); p += head;
    memset(p, 'x', (size_t)size); p += size;
    p = varint(p, 0);            // headers
  }
  put32(batch_len, (int32_t)(p - b - 12));
  put32(crc_at, (int32_t)crc32c(attrs, (size_t)(p - attrs)));
  put32(records_len, (int32_t)(p - b));
  put32(out, (int32_t)(p - out - 4));
  return (size_t)(p - out);
}

int main(int argc, char** argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: produce-load PORT TOPIC SIZE MESSAGES BATCH ACKS INFLIGHT\n");
    return 2;
  }
  int port = atoi(argv[1]);
  const char* topic = argv[2];
  int size = atoi(argv[3]);
  long long messages = atoll(argv[4]);
  int batch = atoi(argv[5]);
  int acks = atoi(argv[6]);
  int inflight = atoi(argv[7]);
  crc_init();
  size_t cap = (size_t)batch * ((size_t)size + 32) + 4096;
  uint8_t* req = malloc(cap);
  if (req == NULL) die("malloc");
  size_t req_len = build_request(req, topic, size, batch, acks);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (connect(c, (struct sockaddr*)&a, sizeof a) < 0) die("connect");
  int one = 1;
  setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  long long requests = (messages + batch - 1) / batch;
  long long sent = 0, answered = 0;
  uint8_t resp[65536];
  double t0 = now_ms();
  while (answered < requests) {
    while (sent < requests && sent - answered < inflight) {
      write_fully(c, req, req_len);
      sent++;
      if (acks == 0) answered++;
    }
    if (acks == 0) continue;
    uint8_t head[4];
    read_fully(c, head, 4);
    int32_t n = get32(head);
    if (n < 0 || (size_t)n > sizeof resp) { fprintf(stderr, "response of %d bytes\n", n); return 1; }
    read_fully(c, resp, (size_t)n);
    // v3: correlation, [topics: name, [partitions: index, error, base_offset, log_append_time]], throttle
    const uint8_t* r = resp + 4 + 4;
    r += 2 + get16(r);
    r += 4 + 4;
    int16_t error = get16(r);
    if (error != 0) { fprintf(stderr, "partition error %d\n", error); return 1; }
    answered++;
  }
  double ms = now_ms() - t0;
  printf("msgs=%lld ms=%.1f\n", requests * batch, ms);
  return 0;
}
