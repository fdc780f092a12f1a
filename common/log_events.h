// The stable list of log event names (`event=` of every line qkvd writes). Operators and
// their tools match on these: a name is never renamed or reused; new names and new keys on
// an event may be added. docs/operations.md ("Log events") documents each one with its
// level, keys and meaning; tests/tidy/log_events_test.cc keeps that list and this one equal
// and checks that every name here is still used. A LogEvent (common/log_event.h) can only
// be made with a name from this list: anything else does not compile.
#pragma once

#include <array>
#include <string_view>

namespace qkv {

inline constexpr auto kLogEventNames = std::to_array<std::string_view>({
    // qkvd's life (node/main.cc, node/server.cc)
    "ready",
    "config_warning",
    "signal",
    "left_cluster",
    "shutdown_begin",
    "shutdown_drain_expired",
    "stopped",
    "stop_unclean",
    "unclean_restart",
    "restored_start",
    "data_restored",
    "restore_failed",
    "ring_failed",
    "storage_open_failed",
    "storage_failed",
    "listen_failed",
    // connections (node/server.cc)
    "client_frame_error",
    "client_reply_dropped",
    "peer_frame_error",
    "peer_message_malformed",
    "peer_unreachable",
    "peer_sender_refused",
    "tls_on",
    "tls_handshake_failed",
    "tls_reloaded",
    "tls_reload_failed",
    // users and grants (node/server_auth.cc)
    "auth_on",
    "auth_failed",
    "permission_denied",
    "admin_request",
    "users_reloaded",
    "users_reload_failed",
    // membership and the ring (node/membership.cc)
    "member_joined",
    "member_changed",
    "node_up",
    "node_down",
    "node_removed",
    "ring_changed",
    "ring_not_saved",
    "ring_not_published",
    "ring_transition_complete",
    "ring_change_staged",
    "ring_plan_committed",
    "ring_transition_cancelled",
    "ring_admin_refused",
    "meta_not_saved",
    // cluster identity (node/membership_identity.cc)
    "first_ring_waiting",
    "first_ring_created",
    "first_ring_refused",
    "gossip_foreign_cluster",
    "ring_conflict",
    "ring_refused",
    // auto-join (node/membership_auto_join.cc, node/auto_join.cc)
    "auto_join_requested",
    "auto_join_refused",
    "auto_join_unstaged",
    "ring_auto_committed",
    "ring_auto_commit_failed",
    // writes and read repair (node/coordinator/put_coordinator.cc, node/server.cc)
    "siblings_warn",
    "read_repairs",
    // hinted handoff (node/handoff/hinted_handoff.cc, node/server.cc)
    "hints_loaded",
    "hints_delivered",
    "hint_delivery_failed",
    "hints_expired",
    "hints_refused_full",
    "hint_corrupt",
    "hint_missing",
    "hint_storage_error",
    "handoff_log_lines_suppressed",
    // anti-entropy (node/anti_entropy*.cc, node/server.cc, node/main.cc)
    "aae_exchange",
    "aae_exchange_failed",
    "aae_tree_build_failed",
    "aae_trees_loaded",
    "aae_trees_not_loaded",
    "aae_trees_not_saved",
});

}  // namespace qkv
