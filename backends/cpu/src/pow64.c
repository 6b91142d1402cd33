/* The one instance of pow64 (pow64.h: its tables are 7 KB), called by the elementwise pow of f64
   data and by vector norms of general order. */
#include "pow64.h"
#include "vmath.h"

double pow64_call(double x, double y) { return pow64(x, y); }
