#include <gpgme.h>

/// gpgme_error_t carries a source and a code; these macros-as-functions keep the split in one place for Swift.
static inline unsigned int cgpgme_err_code(gpgme_error_t error) {
    return (unsigned int)gpgme_err_code(error);
}
static inline unsigned int cgpgme_err_source(gpgme_error_t error) {
    return (unsigned int)gpgme_err_source(error);
}
/// The error a passphrase callback returns to give up (gpgme_error is a macro-like inline of gpg-error).
static inline gpgme_error_t cgpgme_error_canceled(void) {
    return gpgme_error(GPG_ERR_CANCELED);
}
