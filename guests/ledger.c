/* ledger: accounts in memory and random transfers between them. Each transaction is written ahead to
 * the disk log (block device) and, once the write completed (= its epoch is committed by the peer),
 * applied to the balances and announced with a receipt on the output port:
 *     receipt <seq> <from> <to> <amount> <total>\n
 * The total of all balances never changes; replaying the log from the initial balances gives the
 * balances in memory (up to a transaction whose write was still in flight). */
#include "ledger_format.h"
#include "runtime.h"

static uint64_t arg_or(int i, uint64_t fallback) {
  uint64_t v = RG_BOOT->args[i];
  return v ? v : fallback;
}

static void fail(const char* why) {
  rg_console("ledger: ");
  rg_console(why);
  rg_console("\n");
  rg_exit(3);
}

int guest_main(void) {
  struct ledger_state* s = (struct ledger_state*)LEDGER_STATE_GPA;
  uint64_t accounts = arg_or(LEDGER_ARG_ACCOUNTS, 256);
  uint64_t initial = arg_or(LEDGER_ARG_INITIAL, 1000);
  uint64_t limit = RG_BOOT->args[LEDGER_ARG_TRANSACTIONS];
  uint32_t interval = (uint32_t)RG_BOOT->args[LEDGER_ARG_INTERVAL_US];
  if (accounts < 2 || accounts > LEDGER_MAX_ACCOUNTS) fail("bad account count");
  if (LEDGER_STATE_GPA + sizeof *s + accounts * 8 > RG_BOOT->guest_bytes) fail("memory too small");
  if (RG_BOOT->disk_sectors == 0) fail("no disk");
  s->magic = LEDGER_STATE_MAGIC;
  s->accounts = accounts;
  s->initial = initial;
  s->rng = RG_BOOT->seed | 1;
  for (uint64_t i = 0; i < accounts; ++i) s->balance[i] = (int64_t)initial;
  const int64_t expected_total = (int64_t)(accounts * initial);
  rg_console("ledger: started\n");

  while (limit == 0 || s->applied_seq < limit) {
    uint64_t seq = s->applied_seq + 1;
    uint64_t sector = (seq - 1) / LEDGER_RECORDS_PER_SECTOR;
    if (sector >= RG_BOOT->disk_sectors) fail("log full");
    uint32_t from = (uint32_t)(rg_xorshift(&s->rng) % accounts);
    uint32_t to = (uint32_t)(rg_xorshift(&s->rng) % (accounts - 1));
    if (to >= from) ++to;
    uint32_t amount = (uint32_t)(rg_xorshift(&s->rng) % ((uint64_t)s->balance[from] + 1));
    if ((seq - 1) % LEDGER_RECORDS_PER_SECTOR == 0) memset(s->sector, 0, sizeof s->sector);
    struct ledger_record* r = (struct ledger_record*)s->sector + (seq - 1) % LEDGER_RECORDS_PER_SECTOR;
    r->magic = LEDGER_RECORD_MAGIC;
    r->from = from;
    r->seq = seq;
    r->to = to;
    r->amount = amount;
    r->check = ledger_record_check(seq, from, to, amount);
    s->logged_seq = seq;
    if (rg_block_io(RG_BLOCK_WRITE, sector, s->sector, sizeof s->sector) != 0) fail("log write failed");
    s->balance[from] -= amount;
    s->balance[to] += amount;
    s->applied_seq = seq;

    int64_t total = 0;
    for (uint64_t i = 0; i < accounts; ++i) total += s->balance[i];
    if (total != expected_total) fail("invariant broken: total changed");
    char line[128];
    uint32_t n = 0;
    rg_put_str(line, &n, sizeof line, "receipt ");
    rg_put_u64(line, &n, sizeof line, seq);
    rg_put_str(line, &n, sizeof line, " ");
    rg_put_u64(line, &n, sizeof line, from);
    rg_put_str(line, &n, sizeof line, " ");
    rg_put_u64(line, &n, sizeof line, to);
    rg_put_str(line, &n, sizeof line, " ");
    rg_put_u64(line, &n, sizeof line, amount);
    rg_put_str(line, &n, sizeof line, " ");
    rg_put_u64(line, &n, sizeof line, (uint64_t)total);
    rg_put_str(line, &n, sizeof line, "\n");
    rg_output(line, n);
    if (interval) rg_wait(interval);
  }
  rg_console("ledger: done\n");
  return 0;
}
