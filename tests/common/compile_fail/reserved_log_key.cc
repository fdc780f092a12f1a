// Must not compile: `node` is the writer's key (common/log_event.h). tests/common/CMakeLists.txt.
#include "common/log_event.h"

qkv::LogEvent event() {
  return qkv::LogEvent::info("node_up").with("node", "n2");
}
