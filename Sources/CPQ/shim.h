#include <libpq-fe.h>

/// PG_DIAG_SQLSTATE is a character-literal macro ('C'); a function gives Swift its value with the C type.
static inline int cpq_diag_sqlstate(void) { return PG_DIAG_SQLSTATE; }
/// PG_DIAG_MESSAGE_PRIMARY ('M'): the error message without the "ERROR:" prefix and the detail lines.
static inline int cpq_diag_message_primary(void) { return PG_DIAG_MESSAGE_PRIMARY; }
/// PG_DIAG_MESSAGE_DETAIL ('D'): the detail line, e.g. which key a unique constraint found twice.
static inline int cpq_diag_message_detail(void) { return PG_DIAG_MESSAGE_DETAIL; }
