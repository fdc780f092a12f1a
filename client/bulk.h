// Bulk load and verify of a Dataset (client/dataset.h) against a cluster: what
// `qkvctl load` and `qkvctl verify` run.
//
//   load:   for each key, get it; if it holds exactly one sibling equal to the expected value
//           it is left alone (counted unchanged), otherwise the value is put with the context
//           the get returned, superseding whatever was there. Loading twice therefore does not
//           create siblings, and a re-run after a partial failure finishes the job.
//   verify: for each key, get it and compare: missing (no sibling), mismatch (more than one
//           sibling, or one that differs), or ok.
// Keys are spread over `concurrency` threads, each with its own Client (client/client.h).
//
// Thread-safety: run_bulk blocks its caller, which also runs on_progress; pure otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "client/client.h"
#include "client/dataset.h"

namespace qkv::client {

enum class BulkMode { kLoad, kVerify };

struct BulkCounts {
  std::size_t done = 0;        // keys finished, whatever the outcome
  std::size_t ops = 0;         // requests sent (a load is a get and maybe a put)
  std::size_t written = 0;     // load: keys put
  std::size_t unchanged = 0;   // load: keys already holding their value
  std::size_t ok = 0;          // verify: keys holding exactly their value
  std::size_t missing = 0;     // verify: keys with no sibling
  std::size_t mismatches = 0;  // verify: keys with a wrong value or several siblings
  std::size_t errors = 0;      // keys whose requests failed
};

struct BulkFailure {
  std::string key;
  std::string problem;  // "missing", "2 siblings", "value differs ...", or a Status
};

struct BulkReport {
  std::size_t keys = 0;
  BulkCounts counts;
  double seconds = 0;
  std::vector<BulkFailure> failures;  // the first BulkOptions::failures_max, in no set order

  double ops_per_second() const { return seconds > 0 ? counts.ops / seconds : 0; }
  // Every key done with no error, missing key or mismatch.
  bool ok() const {
    return counts.done == keys && counts.errors == 0 && counts.missing == 0 &&
           counts.mismatches == 0;
  }
};

struct BulkOptions {
  BulkMode mode = BulkMode::kVerify;
  std::size_t concurrency = 8;  // threads (and Clients); at least 1
  std::size_t failures_max = 10;
  uint32_t progress_interval_ms = 250;
  // Called on the calling thread every progress_interval_ms while running (may be empty).
  std::function<void(const BulkCounts&, double seconds)> on_progress;
};

// Runs the dataset's keys against the cluster in `client_options` and returns the totals.
BulkReport run_bulk(const Options& client_options, const std::vector<DatasetEntry>& entries,
                    const BulkOptions& options);

}  // namespace qkv::client
