#include "client/cli_parse.h"

#include <fmt/format.h>

#include <algorithm>

#include "client/cli_conventions.h"

namespace qkv::client {
namespace {

// The innermost subcommand the command line chose (`app` itself when none).
const CLI::App* innermost(const CLI::App& app) {
  const CLI::App* at = &app;
  while (!at->get_subcommands().empty()) at = at->get_subcommands().front();
  return at;
}

std::vector<std::string> subcommand_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands(std::function<bool(const CLI::App*)>{})) {
    names.push_back(sub->get_name());
  }
  return names;
}

// The message of a parse error: an unknown or missing command where the innermost chosen
// command expects one, else CLI11's message prefixed with the command it is about.
std::string usage_message(const CLI::App& app, const CLI::ParseError& error) {
  const CLI::App* at = innermost(app);
  const std::string path = command_path(app);
  const std::vector<std::string> names = subcommand_names(*at);
  if (!names.empty()) {
    // Arguments nothing took fall through to `app`. A word among them is where a command
    // was expected when it comes first (else it may be an unknown option's value) or when
    // a command is required here.
    const std::vector<std::string> left = app.remaining(/*recurse=*/true);
    auto word = std::find_if(left.begin(), left.end(),
                             [](const std::string& arg) { return !arg.starts_with("-"); });
    const bool required = at->get_require_subcommand_min() > 0;
    if (word != left.end() && (word == left.begin() || required)) {
      return unknown_command_message(path.empty() ? "" : path + " ", *word, names);
    }
    if (required) {
      return fmt::format(
          "{} needs a command: {}{}", path.empty() ? "qkvctl" : path, fmt::join(names, ", "),
          left.empty() ? "" : fmt::format(" (not expected: {})", fmt::join(left, " ")));
    }
  }
  // CLI11 names the option when the error is about one (often a global one): no command.
  if (path.empty() || std::string_view(error.what()).starts_with("-")) return error.what();
  return fmt::format("{}: {}", path, error.what());
}

}  // namespace

std::string command_path(const CLI::App& app) {
  std::string path;
  for (const CLI::App* at = &app; !at->get_subcommands().empty();) {
    at = at->get_subcommands().front();
    path += (path.empty() ? "" : " ") + at->get_name();
  }
  return path;
}

std::optional<int> parse_command_line(CLI::App& app, const std::vector<std::string>& args) {
  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 parses from the back
    app.parse(reversed);
    return std::nullopt;
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
      return app.exit(error);  // --help, --help-all, --version: printed, exit 0
    }
    const std::string path = command_path(app);
    return print_usage_error(
        json_requested(args), usage_message(app, error),
        fmt::format("run 'qkvctl{}{} --help' for usage", path.empty() ? "" : " ", path));
  }
}

}  // namespace qkv::client
