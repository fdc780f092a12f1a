// The dev-cluster datasets that `qkvctl load` writes and `qkvctl verify` reads back: real
// text from files every Debian machine has, turned into (key, value) pairs deterministically,
// so verify can recompute exactly what load wrote.
//
//   lines   (e.g. /usr/share/dict/words): each non-empty line L, at 1-based line number i,
//           becomes key "dict/" + L with the value
//             "word: L\nline: i\nprevious: <line i-1>\nnext: <line i+1>\n"
//           (an absent neighbour is empty). A trailing '\r' is dropped from each line.
//   stanzas (e.g. /var/lib/dpkg/status): each blank-line-separated stanza with Package and
//           Architecture fields becomes key "dpkg/<Package>:<Architecture>" with the whole
//           stanza (its lines, each ending in '\n') as value. Stanzas lacking either field
//           are skipped.
// A key seen again keeps its first value (a later one is counted as a duplicate), so each key
// has one expected value.
//
// Thread-safety: pure functions (read_file reads the file system).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace qkv::client {

struct DatasetEntry {
  std::string key;
  std::string value;
};

struct Dataset {
  std::vector<DatasetEntry> entries;  // in file order
  std::size_t duplicates = 0;         // keys seen again, dropped
  std::size_t skipped = 0;            // stanzas without Package/Architecture
};

Dataset dataset_from_lines(std::string_view text);
Dataset dataset_from_stanzas(std::string_view text);

// The whole file, or io_error naming the path and the cause.
Result<std::string> read_file(const std::string& path);

}  // namespace qkv::client
