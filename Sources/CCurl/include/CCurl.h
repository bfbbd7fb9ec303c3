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
/* Callback shape for CURLOPT_READFUNCTION (the same as the data callback). */
typedef size_t (*ccurl_read_callback)(char *buffer, size_t size, size_t count, void *userdata);
/* Callback shape for CURLOPT_SEEKFUNCTION (rewinding an upload for a redirect). */
typedef int (*ccurl_seek_callback)(void *userdata, curl_off_t offset, int origin);

CURLcode ccurl_global_init(void);

CURLcode ccurl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode ccurl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode ccurl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode ccurl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value);
CURLcode ccurl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
/* A curl_blob option (CURLOPT_CAINFO_BLOB, CURLOPT_SSLCERT_BLOB, CURLOPT_SSLKEY_BLOB): libcurl
 * copies the bytes (CURL_BLOB_COPY), so they need not outlive the call. */
CURLcode ccurl_setopt_blob(CURL *handle, CURLoption option, const void *data, size_t length);
CURLcode ccurl_setopt_data_callback(CURL *handle, CURLoption option, ccurl_data_callback value);
CURLcode ccurl_setopt_read_callback(CURL *handle, ccurl_read_callback value);
CURLcode ccurl_setopt_seek_callback(CURL *handle, ccurl_seek_callback value);

CURLcode ccurl_getinfo_long(CURL *handle, CURLINFO info, long *value);

/* curl_multi_setopt is variadic too. */
CURLMcode ccurl_multi_setopt_long(CURLM *multi, CURLMoption option, long value);

/* The result of a CURLMSG_DONE message (a member of a union). */
static inline CURLcode ccurl_msg_result(const CURLMsg *message) { return message->data.result; }

/* Names the calling thread (pthread_setname_np needs _GNU_SOURCE, which Swift's Glibc
 * module does not define), for the transport's I/O thread. At most 15 characters on Linux. */
void ccurl_name_current_thread(const char *name);

/* The size CURLOPT_ERRORBUFFER's buffer must have (CURL_ERROR_SIZE). */
static inline size_t ccurl_error_size(void) { return CURL_ERROR_SIZE; }

/* Macros Swift cannot import (they contain casts). */
static inline long ccurl_auth_basic(void) { return (long)CURLAUTH_BASIC; }
static inline long ccurl_header_separate(void) { return (long)CURLHEADER_SEPARATE; }
static inline unsigned int ccurl_url_default_port(void) { return CURLU_DEFAULT_PORT; }
static inline size_t ccurl_writefunc_pause(void) { return CURL_WRITEFUNC_PAUSE; }
static inline size_t ccurl_readfunc_abort(void) { return CURL_READFUNC_ABORT; }
static inline int ccurl_pause_cont(void) { return CURLPAUSE_CONT; }
static inline int ccurl_seekfunc_ok(void) { return CURL_SEEKFUNC_OK; }
static inline int ccurl_seekfunc_cantseek(void) { return CURL_SEEKFUNC_CANTSEEK; }

#endif
