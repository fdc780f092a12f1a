// The web console (GET /console): one page, as Riak Control was, that draws the cluster
// from this node's JSON API (node/http_api.h) and refreshes itself every 2 s: members with
// status and phi, ring ownership drawn as a ring, transfers, hints pending, anti-entropy
// ages, and request rates and latency percentiles. The page (node/console/index.html) is
// built into the binary: no files to install, nothing fetched from elsewhere.
#pragma once

#include <string_view>

namespace qkv::node {

std::string_view console_html();

}  // namespace qkv::node
