// find_functions and check_function_lengths of source_rules.h: a heuristic scanner, not a
// parser. It walks the code with comments, literals and directives blanked, keeps a stack of
// namespace and class scopes, and classifies each `{` met at those scopes by the text before
// it (its "head", since the last `;`, `{` or `}`). A function body is skipped whole, so
// nothing inside it (lambdas, local classes, blocks) is classified.
#include <algorithm>
#include <cctype>
#include <regex>

#include "tests/tidy/source_rules.h"

namespace qkv::tidy {
namespace {

// The `}` matching the `{` at `open` (or the last offset, when the text is unbalanced).
std::size_t matching_brace(std::string_view code, std::size_t open) {
  int depth = 0;
  for (std::size_t i = open; i < code.size(); ++i) {
    if (code[i] == '{') {
      ++depth;
    } else if (code[i] == '}' && --depth == 0) {
      return i;
    }
  }
  return code.empty() ? 0 : code.size() - 1;
}

std::string collapse_spaces(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// The head without its leading template parameter lists, attributes and access specifiers:
// "public: template <typename T> [[nodiscard]] T f()" -> "T f()".
std::string strip_head(std::string head) {
  static const std::regex kAccess(R"(^(public|protected|private) ?: ?)");
  static const std::regex kTemplate(R"(^template ?<)");
  while (true) {
    std::smatch match;
    if (std::regex_search(head, match, kAccess)) {
      head.erase(0, match.length(0));
    } else if (std::regex_search(head, match, kTemplate)) {
      std::size_t i = match.length(0);
      for (int depth = 1; i < head.size() && depth > 0; ++i) {
        depth += head[i] == '<' ? 1 : head[i] == '>' ? -1 : 0;
      }
      head.erase(0, i);
    } else if (head.starts_with("[[")) {
      const std::size_t close = head.find("]]");
      head.erase(0, close == std::string::npos ? head.size() : close + 2);
    } else {
      break;
    }
    while (!head.empty() && head.front() == ' ') head.erase(0, 1);
  }
  return head;
}

enum class Brace { kNamespace, kClass, kFunction, kOther };

Brace classify(const std::string& head) {
  static const std::regex kNamespace(R"(^(inline )?namespace\b|^extern ?")");
  static const std::regex kClass(R"(^(class|struct|union)\b)");
  // `) const noexcept : member_(x)`: a constructor's initializer list has begun.
  static const std::regex kInitializers(
      R"(\) ?((const|volatile|noexcept|override|final)\b ?|&&? ?)*:(?!:))");
  // `) const override`, `) noexcept(false)`, `) && -> T`: a function head ends here.
  static const std::regex kFunctionEnd(
      R"(\) ?((const|volatile|noexcept|override|final|mutable)\b ?|&&? ?)*(-> ?[^;]*)?$)");
  if (std::regex_search(head, kNamespace)) return Brace::kNamespace;
  // Inside parentheses: a lambda or braced argument in an initializer or default argument.
  if (std::count(head.begin(), head.end(), '(') > std::count(head.begin(), head.end(), ')')) {
    return Brace::kOther;
  }
  const bool function_end = std::regex_search(head, kFunctionEnd);
  if (std::regex_search(head, kClass) && !function_end) return Brace::kClass;
  if (std::regex_search(head, kInitializers)) {
    // `: a_(x), b_{y} {` is the body; `: a_` + `{` is a member's braced initializer.
    return head.ends_with(')') || head.ends_with('}') ? Brace::kFunction : Brace::kOther;
  }
  return function_end ? Brace::kFunction : Brace::kOther;
}

std::string class_name(const std::string& head) {
  static const std::regex kName(
      R"(^(class|struct|union) ((\[\[[^\]]*\]\]|alignas ?\([^)]*\)) ?)*(\w*))");
  std::smatch match;
  return std::regex_search(head, match, kName) ? match[4].str() : std::string();
}

// "Node::on_tick" from "void Node::on_tick(TimePoint now) const", "Foo::operator==" from
// "bool Foo::operator==(const Foo&)"; "(lambda)" from "auto f = [](int x)".
std::string function_name(const std::string& head) {
  static const std::regex kOperator(
      R"(([\w:~]*)\boperator\b ?(\( ?\)|[^\w\s(]+|[\w :<>*&]+?) ?\()");
  std::smatch match;
  if (std::regex_search(head, match, kOperator)) {
    return match[1].str() + "operator" +
           (std::isalpha(static_cast<unsigned char>(match[2].str()[0])) ? " " : "") +
           match[2].str();
  }
  std::size_t paren = 0;
  for (int angle = 0; paren < head.size(); ++paren) {
    if (head[paren] == '<') ++angle;
    if (head[paren] == '>' && angle > 0) --angle;
    if (head[paren] == '(' && angle == 0) break;
  }
  std::size_t end = paren;
  while (end > 0 && head[end - 1] == ' ') --end;
  std::size_t start = end;
  while (start > 0 &&
         (std::isalnum(static_cast<unsigned char>(head[start - 1])) || head[start - 1] == '_' ||
          head[start - 1] == ':' || head[start - 1] == '~')) {
    --start;
  }
  std::string name = head.substr(start, end - start);
  while (name.starts_with(':')) name.erase(0, 1);
  return name.empty() ? "(lambda)" : name;
}

struct Scope {
  bool is_class = false;
  std::string name;
};

std::string qualified(const std::vector<Scope>& scopes, const std::string& name) {
  std::string out;
  for (const Scope& scope : scopes) {
    if (scope.is_class) out += scope.name + "::";
  }
  return out + name;
}

}  // namespace

std::vector<FunctionBody> find_functions(std::string_view text) {
  const std::string code = blank_source(text, /*blank_literals=*/true,
                                        /*blank_preprocessor=*/true);
  const LineIndex lines(code);
  std::vector<FunctionBody> found;
  std::vector<Scope> scopes;  // namespaces and classes open at `i`
  std::size_t head_start = 0;
  for (std::size_t i = 0; i < code.size(); ++i) {
    if (code[i] == ';') {
      head_start = i + 1;
    } else if (code[i] == '}') {
      if (!scopes.empty()) scopes.pop_back();
      head_start = i + 1;
    } else if (code[i] == '{') {
      const std::string head =
          strip_head(collapse_spaces(std::string_view(code).substr(head_start, i - head_start)));
      const Brace brace = classify(head);
      if (brace == Brace::kNamespace || brace == Brace::kClass) {
        scopes.push_back({brace == Brace::kClass, class_name(head)});
        head_start = i + 1;
      } else if (brace == Brace::kFunction) {
        const std::size_t end = matching_brace(code, i);
        found.push_back(
            {qualified(scopes, function_name(head)), lines.line_at(i), lines.line_at(end)});
        i = end;
        head_start = end + 1;
      } else {
        i = matching_brace(code, i);  // the head goes on: `int x_{0};`, `Foo f(Bar{}) {`
      }
    }
  }
  return found;
}

std::vector<Violation> check_function_lengths(const std::vector<SourceFile>& files, int limit,
                                              const std::vector<LengthException>& exceptions) {
  const auto exception_for = [&](const std::string& file, const std::string& function) {
    return std::find_if(exceptions.begin(), exceptions.end(), [&](const LengthException& e) {
      return e.file == file && e.function == function;
    });
  };
  std::vector<Violation> violations;
  std::vector<int> longest(exceptions.size(), -1);  // per exception; -1: not found
  const std::string advice =
      "design.md §4.2 aims for functions under ~" + std::to_string(limit) +
      " lines: split it by role (a helper per step, a named function for a long lambda).";
  for (const SourceFile& file : files) {
    for (const FunctionBody& fn : find_functions(file.text)) {
      const auto exception = exception_for(file.path, fn.name);
      const std::string length = std::to_string(fn.lines()) + " lines";
      if (exception == exceptions.end()) {
        if (fn.lines() <= limit) continue;
        violations.push_back({file.path, fn.first_line, "function_length",
                              fn.name + " is " + length + ", over the limit of " +
                                  std::to_string(limit) + "; " + advice});
        continue;
      }
      int& seen = longest[exception - exceptions.begin()];
      seen = std::max(seen, fn.lines());
      if (fn.lines() > exception->max_lines) {
        violations.push_back({file.path, fn.first_line, "function_length",
                              fn.name + " grew to " + length + ", past its exception of " +
                                  std::to_string(exception->max_lines) + "; " + advice});
      }
    }
  }
  for (std::size_t k = 0; k < exceptions.size(); ++k) {
    if (longest[k] > limit) continue;
    const LengthException& e = exceptions[k];
    violations.push_back(
        {e.file, 0, "function_length",
         e.function +
             (longest[k] < 0 ? " is gone"
                             : " is now " + std::to_string(longest[k]) + " lines, within " +
                                   std::to_string(limit)) +
             ": remove it from the function-length exception list in tests/tidy/tidy_test.cc."});
  }
  return violations;
}

}  // namespace qkv::tidy
