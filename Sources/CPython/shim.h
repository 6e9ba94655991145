// Debian's libpython3.11 (pkg-config python3-embed). Only the BareosFD C target includes it; Swift code talks to
// Python through BareosFD's host API and never sees a PyObject.
#define PY_SSIZE_T_CLEAN
#include <Python.h>
