/*
 * CRE2Shim: a tiny C API over RE2 (https://github.com/google/re2), so that Swift can use it
 * without C++ interoperability. Only the `Relabel` module's `RE2Regex` type calls this.
 *
 * Patterns are compiled with options that match Go's `regexp` package (the engine Prometheus
 * uses): UTF-8, Perl syntax (classes \d \s \w, \b, non-greedy operators, (?flags)),
 * leftmost-first matching, `.` not matching `\n` unless the `s` flag is set, and no logging.
 */
#ifndef CRE2SHIM_H
#define CRE2SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A compiled regular expression (an `RE2` object). Immutable once compiled, so it may be used
/// for matching from several threads at once.
typedef struct cre2_regex cre2_regex;

/// Where a capturing group matched, in bytes from the start of the text.
/// `start` is -1 (and `length` 0) when the group did not take part in the match.
typedef struct cre2_span {
    int64_t start;
    int64_t length;
} cre2_span;

/// Compiles `pattern` (`len` bytes of UTF-8, need not be NUL-terminated).
/// Returns NULL on failure and, if `error` is not NULL, sets `*error` to a malloc'd,
/// NUL-terminated message (RE2's own wording) that the caller frees with `cre2_string_free`.
cre2_regex *cre2_compile(const char *pattern, size_t len, char **error);

/// Frees a regex returned by `cre2_compile`. NULL is ignored.
void cre2_free(cre2_regex *regex);

/// Frees a message returned through `cre2_compile`'s `error`. NULL is ignored.
void cre2_string_free(char *string);

/// The number of capturing groups (not counting the whole match, group 0).
int cre2_group_count(const cre2_regex *regex);

/// The index (>= 1) of the capturing group named `name` (`len` bytes), or -1 if there is none.
int cre2_group_index(const cre2_regex *regex, const char *name, size_t len);

/// Matches the whole of `text` (`len` bytes; may be NULL when `len` is 0) against `regex`,
/// as if the pattern were wrapped in `^(?:...)$`.
/// Returns 1 on a match, 0 otherwise. On a match, fills `groups[0..<ngroups]`: index 0 is the
/// whole match, index i the i-th capturing group; indices past the group count get start -1.
/// `ngroups` may be 0 (fastest: no submatch extraction); `groups` may then be NULL.
int cre2_full_match(const cre2_regex *regex, const char *text, size_t len,
                    cre2_span *groups, int ngroups);

#ifdef __cplusplus
}
#endif

#endif /* CRE2SHIM_H */
