/* Internal interfaces of the model module: the model vtable the trainer drives
 * (MLP now, VIB later), the flat parameter layout, and the optimiser. Tests and
 * benchmarks include this header; nothing outside src/model, tests/model and
 * bench does. */
#ifndef RS_MODEL_INTERNAL_H
#define RS_MODEL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ranksweep/rs_model.h"
#include "ranksweep/rs_rng.h"
#include "src/model/rs_gemm.h"

/* Clones of the per-element loops for the CPU's vector width, picked by the
 * loader (AVX-512, AVX2, baseline). Every clone does the same IEEE operations
 * per element in the same order (fp-contract is off under -std=c11, and no
 * reduction is reassociated without -ffast-math), so results are identical;
 * a function with the attribute compiles the static inline kernels it calls
 * for each target. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define RS__CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RS__CLONES
#endif

/* A contiguous run of parameters that the optimiser treats alike: weights
 * (decayed) or biases (decayed only with train.decay_biases). */
typedef struct {
  size_t off, n;
  bool is_weight;
} rs__segment;

#define RS__MAX_SEGMENTS (2 * (RS_MAX_LAYERS + 4))

/* Called by a model's backward pass as soon as segment `seg`'s gradient is
 * final and the backward pass no longer reads its parameters, so the
 * optimiser can update it while the gradient is still in cache. */
typedef void (*rs__segment_hook)(void *ctx, int seg);

typedef struct rs__model rs__model;

typedef struct {
  const char *name;
  void (*destroy)(rs__model *m);
  /* Initial parameters in float64 (the trainer rounds them to float32). */
  void (*init_params)(const rs__model *m, double *params);
  /* Loss of the batch idx[0..nb) at params (precision m->prec). When grad is
   * not NULL and the loss is finite, also the gradient; hook (may be NULL) is
   * called once per segment once that segment is final. */
  int (*loss_grad)(rs__model *m, const void *params, void *grad,
                   const int64_t *idx, int nb, rs_rng *noise, double *loss,
                   rs__segment_hook hook, void *ctx);
  /* A float64 netview over a float64 flat parameter array. */
  int (*view)(const rs__model *m, const double *params, rs_netview *v);
  /* Exactly the BLAS calls of one loss_grad with nb rows, and nothing else:
   * the benchmark's floor. */
  void (*gemm_only)(rs__model *m, const void *params, void *grad, int nb);
  /* The planned products of one step, in step order, into out (at most
   * RS__MAX_PRODUCTS); returns their count. */
  int (*plans)(const rs__model *m, const rs__gemm **out);
} rs__model_ops;

#define RS__MAX_PRODUCTS (3 * (RS_MAX_LAYERS + 2))

struct rs__model {
  const rs__model_ops *ops;
  rs_precision prec;
  size_t nparams;
  int nseg;
  rs__segment seg[RS__MAX_SEGMENTS];
};

/* The MLP of cfg->model over data (dims from data). batch_cap bounds nb. */
int rs__mlp_create(const rs_config *cfg, const rs_dataset *data, int batch_cap,
                   rs__model **out);
/* The deep VIB of cfg->model (see vib.c). */
int rs__vib_create(const rs_config *cfg, const rs_dataset *data, int batch_cap,
                   rs__model **out);
/* Each model's netview over its flat float64 parameters, without a model
 * (rs_netview_from_params, netview.c, picks one by cfg->model.kind). */
int rs__mlp_view_from_params(const rs_config *cfg, const rs_dataset *data,
                             const double *params, rs_netview *view);
int rs__vib_view_from_params(const rs_config *cfg, const rs_dataset *data,
                             const double *params, rs_netview *view);
/* Sampled evaluation of a VIB at float64 params (its flat layout): task loss
 * (the decoder's NLL, or MSE for a linear decoder on regression) averaged over
 * `samples` latent draws per point, accuracy from the sample-averaged softmax,
 * rate = mean closed-form KL on the held-out set, info_y = hy - held-out loss.
 * Noise: held-out from (seed, RS_STREAM_NOISE, 1), training set from
 * (seed, RS_STREAM_NOISE, 2), both restarted at every call. */
typedef struct {
  double train_loss, train_acc, heldout_loss, heldout_acc, rate, info_y;
} rs__vib_eval;
int rs__vib_evaluate(const rs__model *m, const double *params, const rs_dataset *data,
                     uint64_t seed, int samples, double hy, rs__vib_eval *out);
/* True for a VIB with the Gaussian decoder (its NLL is a normalised likelihood). */
bool rs__vib_gaussian_decoder(const rs__model *m);
/* Loss actually used: rs_loss_resolve (rs_vocab.h) with data->classification. */
rs_loss rs__resolve_loss(const rs_config *cfg, const rs_dataset *data);

/* ---- optimiser (PyTorch 1.13 torch.optim formulas, see docs/numerics.md, "Models and training") ---- */
typedef struct {
  rs_optimizer kind;
  rs_precision prec;
  double lr, momentum, beta1, beta2, eps, wd;
  bool decay_biases;
  rs_schedule schedule;
  int64_t steps, step_every;
  double gamma;
  size_t n;
  void *m, *v; /* SGD: m = momentum buffer; Adam(W): first/second moments */
  int64_t t;   /* updates completed */
  /* scalars of the update in progress (set by rs__optim_begin) */
  double lr_t;
} rs__optim;

int rs__optim_init(rs__optim *o, const rs_config *cfg, rs_precision prec,
                   size_t n);
void rs__optim_free(rs__optim *o);
/* Learning rate of update t (0-based): base lr times the schedule factor. */
double rs__schedule_lr(const rs__optim *o, int64_t t);
/* Prepares update number o->t; then update every segment once; then end. */
void rs__optim_begin(rs__optim *o);
void rs__optim_update(rs__optim *o, void *params, const void *grad,
                      const rs__segment *seg);
void rs__optim_end(rs__optim *o);

/* ---- trainer internals for tests and the benchmark ---- */
rs__model *rs__trainer_model(rs_trainer *t);
/* The current parameters as float64 (float32 training: a converted copy),
 * valid until the next call on t. */
const double *rs__trainer_params64(rs_trainer *t);
/* Runs exactly the BLAS calls of one training step (benchmark floor). */
void rs__trainer_gemm_only(rs_trainer *t);

#endif
