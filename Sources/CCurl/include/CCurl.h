/*
 * CCurl: libcurl for Swift. Umbrella header of the module; only the Curl
 * Swift module imports it.
 *
 * curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot
 * call, so this shim offers one typed function per argument type. Each
 * forwards to libcurl unchanged and returns its CURLcode.
 */
#ifndef CCURL_H
#define CCURL_H

#include <curl/curl.h>

/* Callback shapes for CURLOPT_WRITEFUNCTION and CURLOPT_HEADERFUNCTION. */
typedef size_t (*ccurl_data_callback)(char *data, size_t size, size_t count, void *userdata);
/* Callback shape for CURLOPT_XFERINFOFUNCTION (non-zero aborts the transfer). */
typedef int (*ccurl_xferinfo_callback)(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                                       curl_off_t ultotal, curl_off_t ulnow);

CURLcode ccurl_global_init(void);

CURLcode ccurl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode ccurl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode ccurl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode ccurl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value);
CURLcode ccurl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode ccurl_setopt_data_callback(CURL *handle, CURLoption option, ccurl_data_callback value);
CURLcode ccurl_setopt_xferinfo_callback(CURL *handle, ccurl_xferinfo_callback value);

CURLcode ccurl_getinfo_long(CURL *handle, CURLINFO info, long *value);

/* The size CURLOPT_ERRORBUFFER's buffer must have (CURL_ERROR_SIZE). */
static inline size_t ccurl_error_size(void) { return CURL_ERROR_SIZE; }

/* Macros Swift cannot import (they contain casts). */
static inline long ccurl_auth_basic(void) { return (long)CURLAUTH_BASIC; }
static inline unsigned int ccurl_url_default_port(void) { return CURLU_DEFAULT_PORT; }

#endif
