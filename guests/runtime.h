/* The guests' tiny runtime: port I/O, the block device, the output port, waiting, text formatting.
 * Freestanding: no libc, no interrupts, CPL3 (see hostshim/kvm/guest_abi.h). */
#ifndef REPLINK_GUESTS_RUNTIME_H_
#define REPLINK_GUESTS_RUNTIME_H_

#include <stddef.h>
#include <stdint.h>

#include "hostshim/kvm/guest_abi.h"

#define RG_BOOT ((const volatile struct rg_boot_params*)RG_BOOT_PARAMS_GPA)
#define RG_DEVICES ((volatile struct rg_device_page*)RG_DEVICE_PAGE_GPA)

static inline void rg_out(uint16_t port, uint32_t value) {
  __asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

void rg_console(const char* text);
/* Waits for a completion or at most `us` microseconds (the host parks the vCPU meanwhile). */
void rg_wait(uint32_t us);
/* Synchronous block I/O: returns 0 when the request completed with RG_STATUS_OK. A write completes
 * only once its epoch is committed by the peer. */
int rg_block_io(uint32_t op, uint64_t sector, void* buffer, uint32_t bytes);
/* Sends one message on the output port (the host copies it at once). */
void rg_output(const void* buffer, uint32_t bytes);
void rg_exit(uint32_t status) __attribute__((noreturn));

/* Text building: appends to buf at *pos (bounded by cap), returns nothing; formatting is decimal. */
void rg_put_str(char* buf, uint32_t* pos, uint32_t cap, const char* s);
void rg_put_u64(char* buf, uint32_t* pos, uint32_t cap, uint64_t v);

static inline uint64_t rg_xorshift(uint64_t* state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *state = x;
  return x;
}

void* memset(void* dst, int c, size_t n);
void* memcpy(void* dst, const void* src, size_t n);

#endif
