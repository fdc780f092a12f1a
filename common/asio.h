// The one way to include Boost.Asio. With Boost 1.74, g++ 12 and C++20, <boost/asio.hpp>
// as the first include fails ("'exchange' is not a member of 'std'"): <utility> first.
// Asio costs seconds of compile per translation unit: include it only in transport,
// client and main files, never in protocol cores.
#pragma once

#include <utility>

#include <boost/asio.hpp>
