/* Models and training. An rs_netview (rs_vocab.h) is the float64 view of a
 * feed-forward stack used by every measurement; an rs_trainer owns a model
 * replica, its optimiser state and its batch stream, in float32 or float64. */
#ifndef RS_MODEL_H
#define RS_MODEL_H

#include "ranksweep/rs_config.h"
#include "ranksweep/rs_data.h"
#include "ranksweep/rs_vocab.h"

typedef struct rs_trainer rs_trainer;

/* Creates the model replica (weights from RS_STREAM_INIT), optimiser state
 * and batch stream for one run. data must outlive the trainer. */
int rs_trainer_create(const rs_config *cfg, const rs_dataset *data,
                      rs_trainer **out);
void rs_trainer_destroy(rs_trainer **t);
/* Trains until step == target (no-op if already there). Stops early and sets
 * *diverged when a loss is NaN or Inf. */
int rs_trainer_run_to(rs_trainer *t, int64_t target, bool *diverged);
int64_t rs_trainer_step(const rs_trainer *t);
/* Loss of the most recent training step (NaN before the first step). */
double rs_trainer_last_loss(const rs_trainer *t);
/* A float64 view of the current weights (valid until the next call on t). */
int rs_trainer_view(rs_trainer *t, rs_netview *view);
/* Number of parameters and a flat float64 copy (layer by layer: W_l then b_l). */
size_t rs_trainer_nparams(const rs_trainer *t);
/* Which library runs the training step's matrix products (train.gemm and
 * its auto rule): "openblas", "libxsmm", or "libxsmm N of M products,
 * openblas K", into buf. */
void rs_trainer_gemm_backend(const rs_trainer *t, char *buf, size_t cap);
/* The instruction set libxsmm generates its kernels for on this CPU (its
 * name: "hsw", "skx", "cpx", ...), or "none" in a build without libxsmm. */
const char *rs_gemm_libxsmm_arch(void);
/* `run --profile`: with on, the training products' wall seconds and FLOPs
 * are summed for this process (a monotonic clock around each product, about
 * 30 ns a call); rs_gemm_timed reads the sums. */
void rs_gemm_time(bool on);
double rs_gemm_timed(double *flops);
void rs_trainer_get_params(const rs_trainer *t, double *out);
int rs_trainer_set_params(rs_trainer *t, const double *in);
/* Complete training state (weights, optimiser moments, step, generator
 * counters) as a byte blob of fixed size, for bit-identical resumption. */
size_t rs_trainer_state_size(const rs_trainer *t);
int rs_trainer_state_save(const rs_trainer *t, void *buf);
int rs_trainer_state_load(rs_trainer *t, const void *buf);
/* Minibatch order: epoch e = step / floor(ntrain / batch) uses the permutation
 * of the training indices drawn from (seed, RS_STREAM_BATCH, e); step's batch
 * is its (step mod floor(ntrain / batch))-th block of `batch` consecutive
 * entries (the incomplete tail is never used). Writes batch indices to idx. */
int rs_trainer_batch_size(const rs_trainer *t);
int rs_trainer_batch_indices(const rs_trainer *t, int64_t step, int64_t *idx);
/* VIB only: the mean over the n points x of KL(N(mu(x), sigma(x)^2) || N(0,I))
 * (the rate, an upper bound on I(Z;X)), in closed form. In a VIB's netview
 * W[nmeasure] is the head: its first sizes[nmeasure] = K rows give mu, the
 * next K rows (and b[nmeasure] + K) the pre-std s, sigma = softplus(s - 5). */
int rs_vib_kl(const rs_netview *v, const double *x, int n, double *mean_kl);
/* Checkpoint summaries (rs_vocab.h) of the trainer's current weights, with
 * cfg and data those the trainer was created with: rs_checkpoint_metrics of
 * its netview; for a VIB, the weight norms and ranks of the head (entry
 * nmeasure-1) cover the whole 2K-row head, mean and pre-std rows together,
 * and losses and accuracies are replaced by the
 * sampled evaluation (cfg->model.eval_samples latent draws per point, task
 * loss only, from fixed noise streams restarted at every call) and rate (mean
 * KL on the held-out set) and info_y (H(Y) - held-out task loss, NaN where
 * H(Y) is unknown or the loss is not a likelihood) are filled. Deterministic:
 * depends only on the weights and the configuration. */
int rs_trainer_metrics(rs_trainer *t, const rs_config *cfg, const rs_dataset *data,
                       rs_ckpt_metrics *m);
/* Builds a netview over a flat float64 parameter array (layout as above). */
int rs_netview_from_params(const rs_config *cfg, const rs_dataset *data,
                           const double *params, rs_netview *view);

#endif
