// OpenBLAS's C interface (Debian: libopenblas-dev). Training's dense products go through cblas_sgemm.
#include <cblas.h>
