#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

/// Selections and identifiers that OpenSSL spells as macros of macros, as constants Swift can see.
static inline int clibcrypto_pkey_public_key_selection(void) { return EVP_PKEY_PUBLIC_KEY; }
static inline int clibcrypto_pkey_x25519(void) { return EVP_PKEY_X25519; }
static inline int clibcrypto_rsa_pkcs1_padding(void) { return RSA_PKCS1_PADDING; }
static inline int clibcrypto_cipher_wrap_allow(void) { return EVP_CIPHER_CTX_FLAG_WRAP_ALLOW; }
/// Parameter names with static storage: OSSL_PARAM_BLD keeps the name pointer until OSSL_PARAM_BLD_to_param,
/// so a temporary string bridged from Swift would dangle.
static inline const char *clibcrypto_param_rsa_n(void) { return OSSL_PKEY_PARAM_RSA_N; }
static inline const char *clibcrypto_param_rsa_e(void) { return OSSL_PKEY_PARAM_RSA_E; }
