/* The fast engine's compiled kernels, in C: each fuses elementwise passes into one loop.

   The same kernels, with the same arguments and the same arithmetic, as the NumPy forms in
   kernels.py and rules.py; see native.py for what each computes. Arrays arrive through the
   buffer protocol (C-contiguous; float32 or float64, one dtype per call), scalars as Python
   numbers rounded to that dtype first, as NumPy would. Every kernel releases the GIL, so an
   update can run beside a matrix product in another thread. Loops are serial: parallel
   loops would fight the BLAS threads for the cores.

   Built with -ffp-contract=off (no fused multiply-adds the NumPy form would not do),
   -fno-math-errno (sqrt without an errno check) and -fno-trapping-math (a select such as
   ReLU's may compute both sides): without the last two the loops do not vectorise. None
   changes a result. On x86-64 with
   GCC, the hot loops are also compiled for AVX2, picked when the module loads on a
   processor that has it (target_clones); AVX-512's wider vectors were slower for Adam's
   loop on an AVX-512 Xeon (148 us against 138 us a step at 784-256-128-10) and no faster
   elsewhere, so they are not built. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__APPLE__) && defined(__linux__)
#define HOT __attribute__((noinline, target_clones("avx2", "default")))
#elif defined(__GNUC__)
#define HOT __attribute__((noinline))
#else
#define HOT
#endif

/* Subnormal numbers as zero (flush-to-zero and denormals-are-zero, bits 15 and 6 of the
   thread's MXCSR) while one kernel runs, then the caller's mode again. Adam squares
   gradients as small as 1e-20 into the subnormal range, where x86 processors take a slow
   microcode path: near the end of best-noaug its arithmetic ran 1.7 times slower for it
   (in NumPy; BENCHMARKS.md). The values so zeroed are below 1.2e-38 (float32) and change
   no parameter. */
#if defined(__x86_64__) || defined(__SSE2__)
#include <xmmintrin.h>
static unsigned int subnormals_as_zero(void) {
    unsigned int caller = _mm_getcsr();
    _mm_setcsr(caller | 0x8040u);
    return caller;
}
static void restore_mode(unsigned int caller) { _mm_setcsr(caller); }
#else
static unsigned int subnormals_as_zero(void) { return 0; }
static void restore_mode(unsigned int caller) { (void)caller; }
#endif

enum { RELU = 0, LEAKY = 1, TANH = 2, SIGMOID = 3 };
enum { PLAIN = 0, MOMENTUM = 1, NESTEROV = 2, ADAM = 3 };

/* ---- the kernels, once per dtype -------------------------------------------------- */

#define DEFINE_KERNELS(T, SUFFIX, EXP, LOG, TANHF, SQRT, FABS, TINY)                     \
    HOT static void bias_activation_##SUFFIX(T *restrict z, const T *restrict b,        \
                                             Py_ssize_t rows, Py_ssize_t cols, int kind, \
                                             T *restrict out) {                          \
        const T slope = (T)0.01, one = (T)1;                                              \
        for (Py_ssize_t r = 0; r < rows; r++) {                                           \
            T *zr = z + r * cols, *outr = out + r * cols;                                 \
            if (kind == RELU) {                                                           \
                for (Py_ssize_t c = 0; c < cols; c++) {                                   \
                    T v = zr[c] + b[c];                                                   \
                    zr[c] = v;                                                            \
                    outr[c] = v > 0 || v != v ? v : 0; /* max(v, 0): a NaN stays a NaN */ \
                }                                                                         \
            } else if (kind == LEAKY) {                                                   \
                for (Py_ssize_t c = 0; c < cols; c++) {                                   \
                    T v = zr[c] + b[c];                                                   \
                    zr[c] = v;                                                            \
                    outr[c] = v > 0 ? v : v * slope;                                      \
                }                                                                         \
            } else if (kind == TANH) {                                                    \
                for (Py_ssize_t c = 0; c < cols; c++) {                                   \
                    T v = zr[c] + b[c];                                                   \
                    zr[c] = v;                                                            \
                    outr[c] = TANHF(v);                                                   \
                }                                                                         \
            } else { /* exp(-|v|) never overflows */                                      \
                for (Py_ssize_t c = 0; c < cols; c++) {                                   \
                    T v = zr[c] + b[c];                                                   \
                    zr[c] = v;                                                            \
                    T e = EXP(-FABS(v));                                                  \
                    outr[c] = (v >= 0 ? one : e) / (one + e);                             \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
    }                                                                                     \
                                                                                          \
    HOT static void activation_backward_##SUFFIX(T *restrict delta, const T *restrict z, \
                                                 const T *restrict a, Py_ssize_t rows,   \
                                                 Py_ssize_t cols, int kind,              \
                                                 T *restrict bias_grad) {                \
        const T slope = (T)0.01, one = (T)1;                                              \
        for (Py_ssize_t c = 0; c < cols; c++) bias_grad[c] = 0;                           \
        for (Py_ssize_t r = 0; r < rows; r++) {                                           \
            T *d = delta + r * cols;                                                      \
            const T *zr = z + r * cols, *ar = a + r * cols;                               \
            if (kind == RELU) {                                                           \
                for (Py_ssize_t c = 0; c < cols; c++) d[c] = ar[c] > 0 ? d[c] : d[c] * 0; \
            } else if (kind == LEAKY) {                                                   \
                for (Py_ssize_t c = 0; c < cols; c++)                                     \
                    d[c] = zr[c] > 0 ? d[c] : d[c] * slope;                               \
            } else if (kind == TANH) {                                                    \
                for (Py_ssize_t c = 0; c < cols; c++) d[c] = d[c] * (one - ar[c] * ar[c]); \
            } else {                                                                      \
                for (Py_ssize_t c = 0; c < cols; c++) d[c] = d[c] * (ar[c] * (one - ar[c])); \
            }                                                                             \
            for (Py_ssize_t c = 0; c < cols; c++) { /* subnormal: see kernels.py */      \
                T v = FABS(d[c]) < TINY ? (T)0 : d[c];                                    \
                d[c] = v;                                                                 \
                bias_grad[c] += v;                                                        \
            }                                                                             \
        }                                                                                 \
    }                                                                                     \
                                                                                          \
    static double softmax_cross_entropy_##SUFFIX(                                         \
        T *restrict logits, const int64_t *restrict labels, Py_ssize_t n,                 \
        Py_ssize_t classes, double smoothing, int64_t *restrict predicted,                \
        T *restrict bias_grad, const T *restrict weights) {                               \
        const T keep = (T)(1.0 - smoothing), spread = (T)(smoothing / classes);           \
        double total_weight = (double)n, total = 0.0;                                     \
        if (weights != NULL) {                                                            \
            total_weight = 0.0;                                                           \
            for (Py_ssize_t r = 0; r < n; r++) total_weight += weights[r];                \
            if (total_weight == 0.0) total_weight = 1.0; /* weight 0: loss, gradient 0 */ \
        }                                                                                 \
        const T inv_n = (T)(1.0 / total_weight);                                          \
        for (Py_ssize_t c = 0; c < classes; c++) bias_grad[c] = 0;                        \
        for (Py_ssize_t r = 0; r < n; r++) {                                              \
            T *row = logits + r * classes;                                                \
            Py_ssize_t best = 0;                                                          \
            for (Py_ssize_t c = 1; c < classes; c++)                                      \
                if (row[c] > row[best]) best = c;                                         \
            predicted[r] = best;                                                          \
            const T top = row[best];                                                      \
            double target = 0.0, mean = 0.0;                                              \
            T sums = 0;                                                                   \
            for (Py_ssize_t c = 0; c < classes; c++) {                                    \
                T e = row[c] - top;                                                       \
                mean += e;                                                                \
                if (c == labels[r]) target = e;                                           \
                e = EXP(e);                                                               \
                row[c] = e;                                                               \
                sums += e;                                                                \
            }                                                                             \
            double loss = (double)LOG(sums) -                                             \
                          ((1.0 - smoothing) * target + smoothing * mean / classes);      \
            T scale = inv_n;                                                              \
            if (weights != NULL) {                                                        \
                scale = inv_n * weights[r];                                               \
                loss = loss * weights[r];                                                 \
            }                                                                             \
            total += loss;                                                                \
            const T inv = (T)1 / sums;                                                    \
            for (Py_ssize_t c = 0; c < classes; c++) {                                    \
                T q = c == labels[r] ? keep : (T)0;                                       \
                T g = (row[c] * inv - q - spread) * scale;                                \
                g = FABS(g) < TINY ? (T)0 : g; /* subnormal: see kernels.py */            \
                row[c] = g;                                                               \
                bias_grad[c] += g;                                                        \
            }                                                                             \
        }                                                                                 \
        return total;                                                                     \
    }                                                                                     \
                                                                                          \
    HOT static void gather_features_##SUFFIX(const uint8_t *restrict rows,                \
                                             Py_ssize_t width, const int64_t *restrict idx, \
                                             Py_ssize_t n, T scale, T *restrict out) {   \
        for (Py_ssize_t i = 0; i < n; i++) {                                              \
            const uint8_t *source = rows + idx[i] * width;                                \
            T *target = out + i * width;                                                  \
            for (Py_ssize_t c = 0; c < width; c++) target[c] = (T)source[c] / scale;      \
        }                                                                                 \
    }                                                                                     \
                                                                                          \
    static double update_norm_##SUFFIX(const T *restrict g, const T *restrict p,         \
                                       Py_ssize_t n, T a, T c) {                          \
        double total = 0.0;                                                               \
        for (Py_ssize_t i = 0; i < n; i++) {                                              \
            double u = (double)(a * g[i] + c * p[i]);                                     \
            total += u * u;                                                               \
        }                                                                                 \
        return sqrt(total);                                                               \
    }                                                                                     \
                                                                                          \
    HOT static void fused_update_##SUFFIX(T *restrict p, const T *restrict g,             \
                                          T *restrict m1, T *restrict m2, Py_ssize_t n,   \
                                          int kind, T a, T c, T b1, T b2, T epsc, T s,    \
                                          T d) {                                          \
        if (kind == ADAM) {                                                               \
            for (Py_ssize_t i = 0; i < n; i++) {                                          \
                T u = a * g[i] + c * p[i];                                                \
                T s1 = b1 * m1[i] + u;                                                    \
                T s2 = b2 * m2[i] + u * u;                                                \
                m1[i] = s1;                                                               \
                m2[i] = s2;                                                               \
                p[i] += s * (s1 / (SQRT(s2) + epsc)) + d * p[i];                          \
            }                                                                             \
        } else if (kind == MOMENTUM) {                                                    \
            for (Py_ssize_t i = 0; i < n; i++) {                                          \
                T u = a * g[i] + c * p[i];                                                \
                T v = b1 * m1[i] + u;                                                     \
                m1[i] = v;                                                                \
                p[i] += s * v + d * p[i];                                                 \
            }                                                                             \
        } else if (kind == NESTEROV) {                                                    \
            for (Py_ssize_t i = 0; i < n; i++) {                                          \
                T u = a * g[i] + c * p[i];                                                \
                T v = b1 * m1[i] + u;                                                     \
                m1[i] = v;                                                                \
                p[i] += s * (u + b1 * v) + d * p[i];                                      \
            }                                                                             \
        } else {                                                                          \
            for (Py_ssize_t i = 0; i < n; i++) p[i] += s * (a * g[i] + c * p[i]) + d * p[i]; \
        }                                                                                 \
    }                                                                                     \
                                                                                          \
    /* Columns over `radius` scaled back onto it: w_j <- w_j radius / max(||w_j||, radius), \
       the norms accumulated in float64; nothing is written unless a column is over. */   \
    HOT static void max_norm_columns_##SUFFIX(T *restrict w, Py_ssize_t rows,              \
                                              Py_ssize_t cols, T radius,                   \
                                              double *restrict sums, T *restrict scale) {   \
        for (Py_ssize_t c = 0; c < cols; c++) sums[c] = 0.0;                              \
        for (Py_ssize_t r = 0; r < rows; r++) {                                           \
            const T *wr = w + r * cols;                                                   \
            for (Py_ssize_t c = 0; c < cols; c++) sums[c] += (double)wr[c] * (double)wr[c]; \
        }                                                                                 \
        int over = 0;                                                                     \
        for (Py_ssize_t c = 0; c < cols; c++) {                                           \
            double norm = sqrt(sums[c]);                                                  \
            double s = (double)radius / (norm > (double)radius ? norm : (double)radius);  \
            scale[c] = s < 1 ? (T)s : (T)1;                                               \
            over |= s < 1;                                                                \
        }                                                                                 \
        if (!over) return;                                                                \
        for (Py_ssize_t r = 0; r < rows; r++) {                                           \
            T *wr = w + r * cols;                                                         \
            for (Py_ssize_t c = 0; c < cols; c++) wr[c] *= scale[c];                      \
        }                                                                                 \
    }                                                                                     \
                                                                                          \
    HOT static void flush_subnormals_##SUFFIX(T *restrict x, Py_ssize_t n, T tiny) {       \
        for (Py_ssize_t i = 0; i < n; i++) x[i] = FABS(x[i]) < tiny ? 0 : x[i];            \
    }

DEFINE_KERNELS(float, f32, expf, logf, tanhf, sqrtf, fabsf, FLT_MIN)
DEFINE_KERNELS(double, f64, exp, log, tanh, sqrt, fabs, DBL_MIN)

/* ---- arguments ------------------------------------------------------------------- */

/* A held buffer; released by release() whatever happened. */
typedef struct {
    Py_buffer view;
    int held;
} Arg;

static void release(Arg *args, int count) {
    for (int i = 0; i < count; i++)
        if (args[i].held) {
            PyBuffer_Release(&args[i].view);
            args[i].held = 0;
        }
}

/* Take a C-contiguous buffer of `ndim` dimensions (-1: any) whose items have format
   `format` ("f" or "d" for floats, "q" for int64, "B" for uint8). */
static int take(PyObject *obj, Arg *arg, const char *name, int ndim, char format, int writable) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, &arg->view, flags) < 0) return -1;
    arg->held = 1;
    const char *f = arg->view.format ? arg->view.format : "B";
    if (*f == '<' || *f == '=' || *f == '@') f++;
    char got = f[0];
    if (format == 'q' && (got == 'l' || got == 'q') && arg->view.itemsize == 8) got = 'q';
    if (format == 0 && strchr("bBhHiIlLqQ", got) != NULL) got = 0; /* any integer type */
    if (got != format || f[1] != '\0' || (ndim >= 0 && arg->view.ndim != ndim)) {
        PyErr_Format(PyExc_TypeError, "%s: expected a C-contiguous %d-d array of '%c', got '%s' (%d-d)",
                     name, ndim, format, arg->view.format ? arg->view.format : "B",
                     arg->view.ndim);
        return -1;
    }
    return 0;
}

static Py_ssize_t dim(Arg *arg, int i) { return arg->view.ndim > i ? arg->view.shape[i] : 1; }

static int float_format(PyObject *obj, char *format) {
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) return -1;
    const char *f = view.format ? view.format : "B";
    if (*f == '<' || *f == '=' || *f == '@') f++;
    *format = f[0];
    PyBuffer_Release(&view);
    if (*format != 'f' && *format != 'd') {
        PyErr_SetString(PyExc_TypeError, "expected a float32 or float64 array");
        return -1;
    }
    return 0;
}

static int check(int ok, const char *message) {
    if (!ok) PyErr_SetString(PyExc_ValueError, message);
    return ok ? 0 : -1;
}

#define DATA(arg, T) ((T *)(arg).view.buf)

/* ---- Python functions ------------------------------------------------------------ */

static PyObject *py_bias_activation(PyObject *self, PyObject *args) {
    PyObject *z, *b, *out;
    int kind;
    if (!PyArg_ParseTuple(args, "OOiO", &z, &b, &kind, &out)) return NULL;
    char f;
    if (float_format(z, &f) < 0) return NULL;
    Arg a[3];
    memset(a, 0, sizeof a);
    if (take(z, &a[0], "z", 2, f, 1) < 0 || take(b, &a[1], "b", 1, f, 0) < 0 ||
        take(out, &a[2], "out", 2, f, 1) < 0 ||
        check(dim(&a[1], 0) == dim(&a[0], 1) && dim(&a[2], 0) == dim(&a[0], 0) &&
                  dim(&a[2], 1) == dim(&a[0], 1),
              "bias_activation: shapes differ") < 0) {
        release(a, 3);
        return NULL;
    }
    Py_ssize_t rows = dim(&a[0], 0), cols = dim(&a[0], 1);
    Py_BEGIN_ALLOW_THREADS;
    if (f == 'f')
        bias_activation_f32(DATA(a[0], float), DATA(a[1], float), rows, cols, kind, DATA(a[2], float));
    else
        bias_activation_f64(DATA(a[0], double), DATA(a[1], double), rows, cols, kind,
                            DATA(a[2], double));
    Py_END_ALLOW_THREADS;
    release(a, 3);
    Py_RETURN_NONE;
}

static PyObject *py_activation_backward(PyObject *self, PyObject *args) {
    PyObject *delta, *z, *act, *bias_grad;
    int kind;
    if (!PyArg_ParseTuple(args, "OOOiO", &delta, &z, &act, &kind, &bias_grad)) return NULL;
    char f;
    if (float_format(delta, &f) < 0) return NULL;
    Arg a[4];
    memset(a, 0, sizeof a);
    if (take(delta, &a[0], "delta", 2, f, 1) < 0 || take(z, &a[1], "z", 2, f, 0) < 0 ||
        take(act, &a[2], "a", 2, f, 0) < 0 || take(bias_grad, &a[3], "bias_grad", 1, f, 1) < 0 ||
        check(dim(&a[1], 0) == dim(&a[0], 0) && dim(&a[1], 1) == dim(&a[0], 1) &&
                  dim(&a[2], 0) == dim(&a[0], 0) && dim(&a[2], 1) == dim(&a[0], 1) &&
                  dim(&a[3], 0) == dim(&a[0], 1),
              "activation_backward: shapes differ") < 0) {
        release(a, 4);
        return NULL;
    }
    Py_ssize_t rows = dim(&a[0], 0), cols = dim(&a[0], 1);
    Py_BEGIN_ALLOW_THREADS;
    if (f == 'f')
        activation_backward_f32(DATA(a[0], float), DATA(a[1], float), DATA(a[2], float), rows,
                                cols, kind, DATA(a[3], float));
    else
        activation_backward_f64(DATA(a[0], double), DATA(a[1], double), DATA(a[2], double), rows,
                                cols, kind, DATA(a[3], double));
    Py_END_ALLOW_THREADS;
    release(a, 4);
    Py_RETURN_NONE;
}

static PyObject *py_softmax_cross_entropy(PyObject *self, PyObject *args) {
    PyObject *logits, *labels, *predicted, *bias_grad, *weights;
    double smoothing;
    if (!PyArg_ParseTuple(args, "OOdOOO", &logits, &labels, &smoothing, &predicted, &bias_grad,
                          &weights))
        return NULL;
    char f;
    if (float_format(logits, &f) < 0) return NULL;
    Arg a[5];
    memset(a, 0, sizeof a);
    if (take(logits, &a[0], "logits", 2, f, 1) < 0 || take(labels, &a[1], "labels", 1, 0, 0) < 0 ||
        take(predicted, &a[2], "predicted", 1, 'q', 1) < 0 ||
        take(bias_grad, &a[3], "bias_grad", 1, f, 1) < 0 ||
        take(weights, &a[4], "weights", 1, f, 0) < 0) {
        release(a, 5);
        return NULL;
    }
    Py_ssize_t n = dim(&a[0], 0), classes = dim(&a[0], 1), w = dim(&a[4], 0);
    if (check(dim(&a[1], 0) == n && dim(&a[2], 0) >= n && dim(&a[3], 0) == classes &&
                  (w == 0 || w == n) && classes > 0,
              "softmax_cross_entropy: shapes differ") < 0) {
        release(a, 5);
        return NULL;
    }
    int64_t *lab = PyMem_Malloc((n ? n : 1) * sizeof(int64_t));
    if (lab == NULL) {
        release(a, 5);
        return PyErr_NoMemory();
    }
    const char *f_labels = a[1].view.format;
    if (*f_labels == '<' || *f_labels == '=' || *f_labels == '@') f_labels++;
    int is_signed = islower((unsigned char)*f_labels);
    for (Py_ssize_t r = 0; r < n; r++) {
        const char *item = (const char *)a[1].view.buf + r * a[1].view.itemsize;
        int64_t v = 0;
        switch (a[1].view.itemsize) {
        case 1: v = is_signed ? *(const int8_t *)item : *(const uint8_t *)item; break;
        case 2: v = is_signed ? *(const int16_t *)item : *(const uint16_t *)item; break;
        case 4: v = is_signed ? *(const int32_t *)item : *(const uint32_t *)item; break;
        default: v = *(const int64_t *)item; break;
        }
        if (v < 0 || v >= classes) { /* a uint64 above 2**63 reads as negative */
            PyMem_Free(lab);
            release(a, 5);
            PyErr_SetString(PyExc_IndexError, "softmax_cross_entropy: a label is out of range");
            return NULL;
        }
        lab[r] = v;
    }
    double total;
    Py_BEGIN_ALLOW_THREADS;
    if (f == 'f')
        total = softmax_cross_entropy_f32(DATA(a[0], float), lab, n, classes, smoothing,
                                          DATA(a[2], int64_t), DATA(a[3], float),
                                          w ? DATA(a[4], float) : NULL);
    else
        total = softmax_cross_entropy_f64(DATA(a[0], double), lab, n, classes, smoothing,
                                          DATA(a[2], int64_t), DATA(a[3], double),
                                          w ? DATA(a[4], double) : NULL);
    Py_END_ALLOW_THREADS;
    PyMem_Free(lab);
    release(a, 5);
    return PyFloat_FromDouble(total);
}

static PyObject *py_gather_features(PyObject *self, PyObject *args) {
    PyObject *rows, *idx, *out;
    double scale;
    if (!PyArg_ParseTuple(args, "OOdO", &rows, &idx, &scale, &out)) return NULL;
    char f;
    if (float_format(out, &f) < 0) return NULL;
    Arg a[3];
    memset(a, 0, sizeof a);
    if (take(rows, &a[0], "rows", 2, 'B', 0) < 0 || take(idx, &a[1], "idx", 1, 'q', 0) < 0 ||
        take(out, &a[2], "out", 2, f, 1) < 0 ||
        check(dim(&a[2], 0) == dim(&a[1], 0) && dim(&a[2], 1) == dim(&a[0], 1),
              "gather_features: shapes differ") < 0) {
        release(a, 3);
        return NULL;
    }
    Py_ssize_t n = dim(&a[1], 0), width = dim(&a[0], 1), count = dim(&a[0], 0);
    const int64_t *index = DATA(a[1], int64_t);
    for (Py_ssize_t i = 0; i < n; i++)
        if (index[i] < 0 || index[i] >= count) {
            release(a, 3);
            PyErr_SetString(PyExc_IndexError, "gather_features: an index is out of range");
            return NULL;
        }
    Py_BEGIN_ALLOW_THREADS;
    if (f == 'f')
        gather_features_f32(DATA(a[0], uint8_t), width, index, n, (float)scale, DATA(a[2], float));
    else
        gather_features_f64(DATA(a[0], uint8_t), width, index, n, scale, DATA(a[2], double));
    Py_END_ALLOW_THREADS;
    release(a, 3);
    Py_RETURN_NONE;
}

static PyObject *py_update_norm(PyObject *self, PyObject *args) {
    PyObject *g, *p;
    double ca, cc;
    if (!PyArg_ParseTuple(args, "OOdd", &g, &p, &ca, &cc)) return NULL;
    char f;
    if (float_format(g, &f) < 0) return NULL;
    Arg a[2];
    memset(a, 0, sizeof a);
    if (take(g, &a[0], "g", 1, f, 0) < 0 || take(p, &a[1], "p", 1, f, 0) < 0 ||
        check(dim(&a[0], 0) == dim(&a[1], 0), "update_norm: shapes differ") < 0) {
        release(a, 2);
        return NULL;
    }
    Py_ssize_t n = dim(&a[0], 0);
    double norm;
    Py_BEGIN_ALLOW_THREADS;
    if (f == 'f')
        norm = update_norm_f32(DATA(a[0], float), DATA(a[1], float), n, (float)ca, (float)cc);
    else
        norm = update_norm_f64(DATA(a[0], double), DATA(a[1], double), n, ca, cc);
    Py_END_ALLOW_THREADS;
    release(a, 2);
    return PyFloat_FromDouble(norm);
}

static PyObject *py_fused_update(PyObject *self, PyObject *args) {
    PyObject *p, *g, *m1, *m2;
    int kind;
    double ca, cc, b1, b2, epsc, s, d;
    if (!PyArg_ParseTuple(args, "OOOOidd(dd)ddd", &p, &g, &m1, &m2, &kind, &ca, &cc, &b1, &b2,
                          &epsc, &s, &d))
        return NULL;
    char f;
    if (float_format(p, &f) < 0) return NULL;
    Arg a[4];
    memset(a, 0, sizeof a);
    if (take(p, &a[0], "p", 1, f, 1) < 0 || take(g, &a[1], "g", 1, f, 0) < 0 ||
        take(m1, &a[2], "m1", 1, f, 1) < 0 || take(m2, &a[3], "m2", 1, f, 1) < 0) {
        release(a, 4);
        return NULL;
    }
    Py_ssize_t n = dim(&a[0], 0);
    int moments = kind == ADAM ? 2 : (kind == MOMENTUM || kind == NESTEROV ? 1 : 0);
    if (check(dim(&a[1], 0) == n && (moments < 1 || dim(&a[2], 0) == n) &&
                  (moments < 2 || dim(&a[3], 0) == n) && kind >= 0 && kind <= ADAM,
              "fused_update: shapes differ") < 0) {
        release(a, 4);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS;
    unsigned int caller = subnormals_as_zero();
    if (f == 'f')
        fused_update_f32(DATA(a[0], float), DATA(a[1], float), DATA(a[2], float),
                         DATA(a[3], float), n, kind, (float)ca, (float)cc, (float)b1, (float)b2,
                         (float)epsc, (float)s, (float)d);
    else
        fused_update_f64(DATA(a[0], double), DATA(a[1], double), DATA(a[2], double),
                         DATA(a[3], double), n, kind, ca, cc, b1, b2, epsc, s, d);
    restore_mode(caller);
    Py_END_ALLOW_THREADS;
    release(a, 4);
    Py_RETURN_NONE;
}

static PyObject *py_flush_subnormals(PyObject *self, PyObject *args) {
    PyObject *x;
    if (!PyArg_ParseTuple(args, "O", &x)) return NULL;
    char f;
    if (float_format(x, &f) < 0) return NULL;
    Arg a[1];
    memset(a, 0, sizeof a);
    if (take(x, &a[0], "x", -1, f, 1) < 0) {
        release(a, 1);
        return NULL;
    }
    Py_ssize_t n = a[0].view.len / a[0].view.itemsize;
    Py_BEGIN_ALLOW_THREADS;
    if (f == 'f')
        flush_subnormals_f32(DATA(a[0], float), n, FLT_MIN);
    else
        flush_subnormals_f64(DATA(a[0], double), n, DBL_MIN);
    Py_END_ALLOW_THREADS;
    release(a, 1);
    Py_RETURN_NONE;
}

static PyObject *py_max_norm_columns(PyObject *self, PyObject *args) {
    PyObject *w;
    double radius;
    if (!PyArg_ParseTuple(args, "Od", &w, &radius)) return NULL;
    char f;
    if (float_format(w, &f) < 0) return NULL;
    Arg a[1];
    memset(a, 0, sizeof a);
    if (take(w, &a[0], "w", 2, f, 1) < 0 ||
        check(radius > 0, "max_norm_columns: radius must be > 0") < 0) {
        release(a, 1);
        return NULL;
    }
    Py_ssize_t rows = dim(&a[0], 0), cols = dim(&a[0], 1);
    double *sums = PyMem_Malloc((cols ? cols : 1) * sizeof(double));
    void *scale = PyMem_Malloc((cols ? cols : 1) * a[0].view.itemsize);
    if (sums == NULL || scale == NULL) {
        PyMem_Free(sums);
        PyMem_Free(scale);
        release(a, 1);
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS;
    if (f == 'f')
        max_norm_columns_f32(DATA(a[0], float), rows, cols, (float)radius, sums, scale);
    else
        max_norm_columns_f64(DATA(a[0], double), rows, cols, radius, sums, scale);
    Py_END_ALLOW_THREADS;
    PyMem_Free(sums);
    PyMem_Free(scale);
    release(a, 1);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"bias_activation", py_bias_activation, METH_VARARGS, "z += b in place and out = f(z)."},
    {"activation_backward", py_activation_backward, METH_VARARGS,
     "delta *= f'(z) in place; bias_grad = column sums of the result."},
    {"softmax_cross_entropy", py_softmax_cross_entropy, METH_VARARGS,
     "Weighted loss sum; logits become dL/dz; argmax and last bias gradient."},
    {"gather_features", py_gather_features, METH_VARARGS, "out[i] = rows[idx[i]] / scale."},
    {"update_norm", py_update_norm, METH_VARARGS, "|| a g + c p ||, in float64."},
    {"fused_update", py_fused_update, METH_VARARGS, "One optimizer step of a fused chain."},
    {"flush_subnormals", py_flush_subnormals, METH_VARARGS, "Subnormal entries set to zero."},
    {"max_norm_columns", py_max_norm_columns, METH_VARARGS,
     "Columns of w longer than radius scaled back onto it, in place."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native",
                                    "The fast engine's compiled kernels (see native.py).", -1,
                                    methods};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
