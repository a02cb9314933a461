/* The ledger guest's state in memory and its disk log, shared with the host-side checks
 * (tests/kvm/ledger_check.h) that verify the invariant and replay the log after a restore. */
#ifndef REPLINK_GUESTS_LEDGER_FORMAT_H_
#define REPLINK_GUESTS_LEDGER_FORMAT_H_

#include <stdint.h>

/* Boot args (rg_boot_params.args[i]). */
#define LEDGER_ARG_ACCOUNTS 0        /* 2 .. LEDGER_MAX_ACCOUNTS, default 256 */
#define LEDGER_ARG_INITIAL 1         /* initial balance of each account, default 1000 */
#define LEDGER_ARG_TRANSACTIONS 2    /* stop after this many (0: run forever) */
#define LEDGER_ARG_INTERVAL_US 3     /* pause between transactions (0: none) */

#define LEDGER_MAX_ACCOUNTS 65536
#define LEDGER_STATE_GPA 0x200000ull /* RG_HEAP_GPA */
#define LEDGER_STATE_MAGIC 0x3152474445474c52ull /* "RLGEDGR1" */
#define LEDGER_RECORD_MAGIC 0x3152474cu          /* "LGR1" */
#define LEDGER_RECORDS_PER_SECTOR 16u

/* One committed transaction, 32 bytes; record seq lives at byte 32*(seq-1) of the disk. */
struct ledger_record {
  uint32_t magic;
  uint32_t from;
  uint64_t seq;     /* 1, 2, ... */
  uint32_t to;
  uint32_t amount;
  uint64_t check;   /* ledger_record_check() */
};

struct ledger_state {
  uint64_t magic;
  uint64_t accounts;
  uint64_t initial;
  uint64_t logged_seq;   /* last record written to the log (its write may still be in flight) */
  uint64_t applied_seq;  /* last transaction applied to the balances (its receipt follows) */
  uint64_t rng;
  uint64_t reserved[2];
  uint8_t sector[512];   /* the log sector being filled */
  int64_t balance[];     /* accounts entries */
};

static inline uint64_t ledger_record_check(uint64_t seq, uint32_t from, uint32_t to, uint32_t amount) {
  uint64_t h = seq * 0x9e3779b97f4a7c15ull ^ ((uint64_t)from << 32 | to) ^ (uint64_t)amount * 0xff51afd7ed558ccdull;
  return h ^ (h >> 29);
}

#ifdef __cplusplus
static_assert(sizeof(struct ledger_record) == 32, "ledger record");
static_assert(sizeof(struct ledger_state) == 576, "ledger state header");
#endif

#endif
