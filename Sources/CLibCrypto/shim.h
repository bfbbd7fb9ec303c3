/* OpenSSL's libcrypto, for SHA-256 and HMAC-SHA-256 (AWS Signature V4). Only the LibCrypto
 * Swift module imports it. libcurl links the same library on the agent's platforms. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
