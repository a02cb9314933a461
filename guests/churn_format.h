/* The churn guest's memory layout and page format, shared with host-side checks. */
#ifndef REPLINK_GUESTS_CHURN_FORMAT_H_
#define REPLINK_GUESTS_CHURN_FORMAT_H_

#include <stdint.h>

/* Boot args (rg_boot_params.args[i]). */
#define CHURN_ARG_WORKING_SET 0   /* pages in the working set, default 1024 */
#define CHURN_ARG_PER_ROUND 1     /* pages dirtied per round (one output message per round), default 64 */
#define CHURN_ARG_INTERVAL_US 2   /* pause after each round (0: none): the rate */
#define CHURN_ARG_ROUNDS 3        /* stop after this many rounds (0: run forever) */
#define CHURN_ARG_DISK_EVERY 4    /* every Nth round also writes its progress to the disk (0: never) */

#define CHURN_STATE_GPA 0x200000ull           /* one page of state, then the working set */
#define CHURN_WORKING_SET_GPA 0x201000ull
#define CHURN_STATE_MAGIC 0x314e5255484b5052ull /* "RPKHURN1" */

struct churn_state {
  uint64_t magic;
  uint64_t working_set;
  uint64_t per_round;
  uint64_t round;        /* rounds completed */
  uint64_t cursor;       /* next working-set page to dirty */
  uint64_t pages_dirtied;
  uint64_t reserved[2];
};

/* Every working-set page: word 0 its frame number, word 1 its generation (the round that wrote it),
 * words 2.. churn_word(frame, generation, i). */
static inline uint64_t churn_word(uint64_t frame, uint64_t generation, uint64_t i) {
  uint64_t h = (frame * 0x9e3779b97f4a7c15ull) ^ (generation * 0xc2b2ae3d27d4eb4full) ^ i;
  return h ^ (h >> 31);
}

#endif
