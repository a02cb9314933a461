/* churn: dirties a working set at a configurable rate. Each round rewrites the next `per_round` pages
 * of the working set (round-robin); every page carries its frame number and generation, and is checked
 * before it is rewritten (a page lost or torn by a restore stops the guest with status 4). After each
 * round: `progress <round> <pages dirtied>\n` on the output port. */
#include "churn_format.h"
#include "runtime.h"

static uint64_t arg_or(int i, uint64_t fallback) {
  uint64_t v = RG_BOOT->args[i];
  return v ? v : fallback;
}

int guest_main(void) {
  struct churn_state* s = (struct churn_state*)CHURN_STATE_GPA;
  s->magic = CHURN_STATE_MAGIC;
  s->working_set = arg_or(CHURN_ARG_WORKING_SET, 1024);
  s->per_round = arg_or(CHURN_ARG_PER_ROUND, 64);
  uint32_t interval = (uint32_t)RG_BOOT->args[CHURN_ARG_INTERVAL_US];
  uint64_t rounds = RG_BOOT->args[CHURN_ARG_ROUNDS];
  uint64_t disk_every = RG_BOOT->args[CHURN_ARG_DISK_EVERY];
  if (CHURN_WORKING_SET_GPA + s->working_set * 4096 > RG_BOOT->guest_bytes) {
    rg_console("churn: working set larger than memory\n");
    return 3;
  }
  static uint8_t sector[512] __attribute__((aligned(64)));
  while (rounds == 0 || s->round < rounds) {
    uint64_t generation = s->round + 1;
    for (uint64_t k = 0; k < s->per_round; ++k) {
      uint64_t* page = (uint64_t*)(CHURN_WORKING_SET_GPA + (s->cursor % s->working_set) * 4096);
      uint64_t frame = (uint64_t)(uintptr_t)page >> 12;
      uint64_t old = page[1];
      if (old != 0 && (page[0] != frame || page[2] != churn_word(frame, old, 2) ||
                       page[511] != churn_word(frame, old, 511))) {
        rg_console("churn: page content lost\n");
        return 4;
      }
      page[0] = frame;
      page[1] = generation;
      for (uint64_t i = 2; i < 512; ++i) page[i] = churn_word(frame, generation, i);
      ++s->cursor;
      ++s->pages_dirtied;
    }
    s->round = generation;
    char line[96];
    uint32_t n = 0;
    rg_put_str(line, &n, sizeof line, "progress ");
    rg_put_u64(line, &n, sizeof line, s->round);
    rg_put_str(line, &n, sizeof line, " ");
    rg_put_u64(line, &n, sizeof line, s->pages_dirtied);
    rg_put_str(line, &n, sizeof line, "\n");
    if (disk_every && s->round % disk_every == 0 && RG_BOOT->disk_sectors) {
      memset(sector, 0, sizeof sector);
      memcpy(sector, line, n);
      if (rg_block_io(RG_BLOCK_WRITE, s->round / disk_every % RG_BOOT->disk_sectors, sector, sizeof sector) != 0)
        return 5;
    }
    rg_output(line, n);
    if (interval) rg_wait(interval);
  }
  return 0;
}
