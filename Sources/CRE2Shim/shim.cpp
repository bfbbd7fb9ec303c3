// C API over RE2 (see include/CRE2Shim.h). Every RE2 call of the package lives here.

#include "CRE2Shim.h"

#include <re2/re2.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <string>
#include <vector>

struct cre2_regex {
    re2::RE2 re;
    cre2_regex(const re2::StringPiece &pattern, const re2::RE2::Options &options)
        : re(pattern, options) {}
};

namespace {

/// Options that make RE2 behave like Go's regexp.Compile (Perl-like syntax, leftmost-first).
re2::RE2::Options goCompatibleOptions() {
    re2::RE2::Options options;
    options.set_encoding(re2::RE2::Options::EncodingUTF8);
    options.set_posix_syntax(false);   // Perl extensions: \d \w \s \b, (?flags), non-greedy
    options.set_longest_match(false);  // leftmost-first, as Go's (non-POSIX) regexp
    options.set_perl_classes(true);
    options.set_word_boundary(true);
    options.set_never_nl(false);
    options.set_dot_nl(false);         // `.` matches `\n` only with (?s)
    options.set_never_capture(false);
    options.set_case_sensitive(true);
    options.set_literal(false);
    options.set_one_line(false);
    options.set_log_errors(false);
    return options;
}

char *copyMessage(const std::string &message) {
    char *out = static_cast<char *>(std::malloc(message.size() + 1));
    if (out != nullptr) {
        std::memcpy(out, message.data(), message.size());
        out[message.size()] = '\0';
    }
    return out;
}

}  // namespace

extern "C" {

cre2_regex *cre2_compile(const char *pattern, size_t len, char **error) {
    if (error != nullptr) *error = nullptr;
    static const char empty[1] = {0};
    re2::StringPiece text(pattern != nullptr ? pattern : empty, pattern != nullptr ? len : 0);
    cre2_regex *regex = new (std::nothrow) cre2_regex(text, goCompatibleOptions());
    if (regex == nullptr) {
        if (error != nullptr) *error = copyMessage("out of memory");
        return nullptr;
    }
    if (!regex->re.ok()) {
        if (error != nullptr) *error = copyMessage(regex->re.error());
        delete regex;
        return nullptr;
    }
    // Go's regexp rejects a group name used twice; older RE2 releases accept it (the first
    // group wins a name lookup). Reject it here, as Go does.
    const std::map<std::string, int> &byName = regex->re.NamedCapturingGroups();
    for (const auto &entry : regex->re.CapturingGroupNames()) {
        auto first = byName.find(entry.second);
        if (first != byName.end() && first->second != entry.first) {
            if (error != nullptr) *error = copyMessage("duplicate capture group name: " + entry.second);
            delete regex;
            return nullptr;
        }
    }
    return regex;
}

void cre2_free(cre2_regex *regex) { delete regex; }

void cre2_string_free(char *string) { std::free(string); }

int cre2_group_count(const cre2_regex *regex) { return regex->re.NumberOfCapturingGroups(); }

int cre2_group_index(const cre2_regex *regex, const char *name, size_t len) {
    const std::map<std::string, int> &groups = regex->re.NamedCapturingGroups();
    auto found = groups.find(std::string(name, len));
    return found == groups.end() ? -1 : found->second;
}

int cre2_full_match(const cre2_regex *regex, const char *text, size_t len,
                    cre2_span *groups, int ngroups) {
    // RE2 reports a group that did not participate as a NULL data pointer, so the text must
    // never be NULL itself (an empty Swift string may hand us NULL).
    static const char empty[1] = {0};
    if (text == nullptr) {
        text = empty;
        len = 0;
    }
    re2::StringPiece input(text, len);
    if (ngroups <= 0 || groups == nullptr) {
        return regex->re.Match(input, 0, len, re2::RE2::ANCHOR_BOTH, nullptr, 0) ? 1 : 0;
    }
    const int available = 1 + regex->re.NumberOfCapturingGroups();
    const int wanted = ngroups < available ? ngroups : available;

    re2::StringPiece stackPieces[16];
    std::vector<re2::StringPiece> heapPieces;
    re2::StringPiece *pieces = stackPieces;
    if (wanted > 16) {
        heapPieces.resize(static_cast<size_t>(wanted));
        pieces = heapPieces.data();
    }
    if (!regex->re.Match(input, 0, len, re2::RE2::ANCHOR_BOTH, pieces, wanted)) {
        return 0;
    }
    for (int i = 0; i < ngroups; i++) {
        if (i < wanted && pieces[i].data() != nullptr) {
            groups[i].start = static_cast<int64_t>(pieces[i].data() - text);
            groups[i].length = static_cast<int64_t>(pieces[i].size());
        } else {
            groups[i].start = -1;
            groups[i].length = 0;
        }
    }
    return 1;
}

}  // extern "C"
