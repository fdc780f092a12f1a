// libFuzzer harness: parse_daemon_config (node/daemon_config.h), qkvd's TOML config file,
// and the --members and --seeds flags that can stand in for parts of it. Bad text must be a
// typed error naming what is wrong, never an exception or an abort.
#include <string>

#include "node/daemon_config.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace qkv;
  const std::string text(fuzz::as_view(data, size));
  auto config = node::parse_daemon_config(text, "fuzz.toml");
  if (config.is_ok()) (void)config.value().validate();
  (void)node::parse_members_flag(text);
  (void)node::parse_seeds(text);
  return 0;
}
