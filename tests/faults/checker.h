// The fault suite's checker (docs/testing.md, "The fault suite"). Always failures:
//   lost      an element whose add was acknowledged, missing from the final read of its key;
//   phantom   an element (or register value) that no client ever attempted to write;
//   unread    a key whose final R=N read never succeeded (its adds could not be checked);
//   crash     a qkvd that exited by itself; a fault the nemesis could not inject or heal.
// Failures only under a bound given (Bounds; each off when negative):
//   stale reads (register reads with no fault since the last acknowledged write that miss it),
//   availability and p99 of puts to nodes on a side of >= W nodes during partition/isolate,
//   convergence after each partition's heal, availability of gets to live nodes during kill.
// Reported: availability and latency overall, healthy, during faults and per fault kind.
#pragma once

#include <string>
#include <vector>

#include "tests/faults/history.h"
#include "tests/faults/nemesis.h"
#include "tests/faults/prober.h"

namespace qkv::faults {

struct Bounds {
  double min_partition_put_pct = -1;     // puts to >= W sides during partition/isolate
  double max_partition_put_p99_ms = -1;  // their p99, failures included
  double max_heal_ms = -1;               // each partition: heal to agree and R=N reads
  double min_kill_get_pct = -1;          // gets to live nodes during kill
  long max_stale_reads = -1;
};

struct Verdict {
  std::string report;                 // the summary to print
  std::vector<std::string> failures;  // empty: the run passed
};

struct RunFacts {
  const History& history;
  const std::vector<Fault>& faults;
  const std::vector<FinalKey>& final_keys;
  std::vector<std::string> errors;  // crashes, nemesis errors, setup notes that fail the run
};

Verdict check(const RunFacts& facts, const Bounds& bounds);

}  // namespace qkv::faults
