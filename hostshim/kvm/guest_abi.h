/* The hand-written guests' machine: memory map, I/O ports and the device descriptors they share with
 * the KVM runner (hostshim/kvm/). Plain C so the freestanding guests (guests/) include it too; every
 * struct has a fixed size (checked below) and little-endian fields. docs/PROTOCOL.md "KVM guest
 * machine" is the prose for it.
 *
 * The guest runs in 64-bit mode at CPL3 (on this host's kvm_pvm, CPL0 code is emulated at ~2.5 M
 * instructions/s): identity-mapped 2 MiB pages with the user bit, CS 0x2b, SS/DS 0x23, IOPL 3 so that
 * `out` works. There are no interrupts: a guest that has nothing to do waits with PORT_WAIT. */
#ifndef REPLINK_HOSTSHIM_KVM_GUEST_ABI_H_
#define REPLINK_HOSTSHIM_KVM_GUEST_ABI_H_

#include <stdint.h>

/* ---- memory map (guest physical = guest virtual) ---- */
#define RG_BOOT_PARAMS_GPA 0x1000ull   /* struct rg_boot_params, written by the host before boot */
#define RG_DEVICE_PAGE_GPA 0x2000ull   /* struct rg_device_page: descriptors + completion counters */
#define RG_PAGE_TABLE_GPA 0x8000ull    /* PML4, PDPT, 4 PDs (host-built, 6 pages) */
#define RG_GDT_GPA 0xe000ull
#define RG_STACK_TOP_GPA 0x100000ull   /* stack grows down from 1 MiB */
#define RG_IMAGE_GPA 0x100000ull       /* the flat binary is loaded here; entry = its first byte */
#define RG_IMAGE_MAX_BYTES 0x100000ull /* code + data + bss below 2 MiB */
#define RG_HEAP_GPA 0x200000ull        /* free memory from here to guest_pages * 4096 */
#define RG_MAX_GUEST_BYTES (4ull << 30)

/* ---- I/O ports (32-bit `out`) ---- */
#define RG_PORT_CONSOLE 0x00e9u  /* one byte of debug text; not protected (may repeat after failover) */
#define RG_PORT_BLOCK 0x0100u    /* doorbell: the block request in the device page is ready */
#define RG_PORT_OUTPUT 0x0104u   /* doorbell: the output message in the device page is ready */
#define RG_PORT_WAIT 0x0108u     /* value: microseconds to wait at most; returns early on a completion */
#define RG_PORT_EXIT 0x010cu     /* value: exit status; the guest is finished */

#define RG_BOOT_MAGIC 0x544f4f424b4c5052ull   /* "RPLKBOOT" */
#define RG_BLOCK_SECTOR_BYTES 512u
#define RG_BLOCK_MAX_BYTES (1u << 20)
#define RG_OUTPUT_MAX_BYTES 4096u

/* Written by the host into the boot params page before the first instruction; read-only for the
 * guest by convention. `args` are guest-specific (see guests/ *.c). */
struct rg_boot_params {
  uint64_t magic;
  uint64_t guest_bytes;    /* memory size */
  uint64_t disk_sectors;   /* block device size (0: no disk) */
  uint64_t seed;
  uint64_t args[12];
};

enum rg_block_op { RG_BLOCK_READ = 1, RG_BLOCK_WRITE = 2, RG_BLOCK_FLUSH = 3 };
enum rg_status { RG_STATUS_PENDING = 0, RG_STATUS_OK = 1, RG_STATUS_ERROR = 2 };

/* One block request at a time: the guest fills it, writes RG_PORT_BLOCK, and waits until
 * block_completed reaches its request number. A read completes before the `out` returns; a write
 * completes when its epoch is committed by the peer (output commit). */
struct rg_block_request {
  uint32_t op;         /* enum rg_block_op */
  uint32_t bytes;      /* multiple of 512, <= RG_BLOCK_MAX_BYTES */
  uint64_t sector;
  uint64_t buffer_gpa; /* guest buffer; must not change until the request completes */
  uint64_t request_no; /* guest-chosen, increasing; echoed in block_completed */
  uint32_t status;     /* enum rg_status, written by the host on completion */
  uint32_t reserved;
};

/* One output message ("the network": bytes the outside world sees). The host copies the bytes at the
 * doorbell, so the buffer is free again when the `out` returns; the bytes leave the host only when the
 * epoch of the doorbell is committed. output_completed counts released messages. */
struct rg_output_request {
  uint64_t buffer_gpa;
  uint32_t bytes;      /* 1 .. RG_OUTPUT_MAX_BYTES */
  uint32_t reserved;
  uint64_t message_no; /* guest-chosen, increasing */
};

struct rg_device_page {
  struct rg_block_request block;
  struct rg_output_request output;
  /* Written by the host only (completion side). */
  uint64_t block_completed;   /* request_no of the last completed block request */
  uint64_t output_completed;  /* message_no of the last released output message */
  uint64_t reserved[8];
};

#ifdef __cplusplus
static_assert(sizeof(struct rg_boot_params) == 128, "boot params ABI");
static_assert(sizeof(struct rg_block_request) == 40, "block request ABI");
static_assert(sizeof(struct rg_output_request) == 24, "output request ABI");
static_assert(sizeof(struct rg_device_page) == 144, "device page ABI");
#endif

#endif /* REPLINK_HOSTSHIM_KVM_GUEST_ABI_H_ */
