// Must not compile: the event name is not in common/log_events.h.
#include "common/log_event.h"

qkv::LogEvent event() {
  return qkv::LogEvent::info("member_joined_twice");
}
