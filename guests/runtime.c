#include "runtime.h"

/* Request and message numbers live in guest memory, so they are part of every epoch and continue
 * exactly after a restore. */
static uint64_t g_block_no;
static uint64_t g_message_no;

void* memset(void* dst, int c, size_t n) {
  unsigned char* d = dst;
  while (n--) *d++ = (unsigned char)c;
  return dst;
}

void* memcpy(void* dst, const void* src, size_t n) {
  unsigned char* d = dst;
  const unsigned char* s = src;
  while (n--) *d++ = *s++;
  return dst;
}

void rg_console(const char* text) {
  while (*text) rg_out(RG_PORT_CONSOLE, (uint8_t)*text++);
}

void rg_wait(uint32_t us) { rg_out(RG_PORT_WAIT, us); }

int rg_block_io(uint32_t op, uint64_t sector, void* buffer, uint32_t bytes) {
  volatile struct rg_device_page* dev = RG_DEVICES;
  uint64_t no = ++g_block_no;
  dev->block.op = op;
  dev->block.bytes = bytes;
  dev->block.sector = sector;
  dev->block.buffer_gpa = (uint64_t)(uintptr_t)buffer;
  dev->block.status = RG_STATUS_PENDING;
  dev->block.request_no = no;
  rg_out(RG_PORT_BLOCK, 0);
  while (dev->block_completed < no) rg_wait(100000);
  return dev->block.status == RG_STATUS_OK ? 0 : -1;
}

void rg_output(const void* buffer, uint32_t bytes) {
  volatile struct rg_device_page* dev = RG_DEVICES;
  dev->output.buffer_gpa = (uint64_t)(uintptr_t)buffer;
  dev->output.bytes = bytes;
  dev->output.message_no = ++g_message_no;
  rg_out(RG_PORT_OUTPUT, 0);
}

void rg_exit(uint32_t status) {
  for (;;) rg_out(RG_PORT_EXIT, status);
}

void rg_put_str(char* buf, uint32_t* pos, uint32_t cap, const char* s) {
  while (*s && *pos < cap) buf[(*pos)++] = *s++;
}

void rg_put_u64(char* buf, uint32_t* pos, uint32_t cap, uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n && *pos < cap) buf[(*pos)++] = tmp[--n];
}
