/* Per-checkpoint summaries from a float64 netview: training and held-out loss
 * and accuracy, and each weight matrix's Frobenius norm, spectral norm and
 * eps-ranks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "measure_internal.h"
#include "ranksweep/rs_error.h"

/* Mean loss and accuracy over n samples (accuracy NaN for regression). */
static int rs__eval_set(const rs_netview *net, const double *x, const int *labels,
                        const double *y, int n, rs_loss loss, double *mloss, double *acc) {
  *mloss = NAN;
  *acc = NAN;
  if (n <= 0) return RS_OK;
  int o = net->sizes[net->nlayers], d0 = net->sizes[0];
  const int chunk = 1024;
  int cn = n < chunk ? n : chunk;
  double *out = malloc(sizeof(double) * (size_t)cn * o);
  if (!out) return rs_error(RS_ENOMEM, "checkpoint metrics: cannot allocate %d x %d", cn, o);
  double lsum = 0.0;
  int64_t correct = 0;
  int rc = RS_OK;
  for (int r0 = 0; r0 < n; r0 += chunk) {
    int rn = n - r0 < chunk ? n - r0 : chunk;
    RS_TRY(rc, rs_netview_forward(net, x + (size_t)r0 * d0, rn, out, NULL), done);
    for (int i = 0; i < rn; i++) {
      const double *z = out + (size_t)i * o;
      if (loss == RS_LOSS_CROSS_ENTROPY) {
        int lab = labels[r0 + i];
        double zmax = z[0];
        int arg = 0;
        for (int j = 1; j < o; j++)
          if (z[j] > zmax) {
            zmax = z[j];
            arg = j;
          }
        double s = 0.0;
        for (int j = 0; j < o; j++) s += exp(z[j] - zmax);
        lsum += zmax + log(s) - z[lab];
        if (arg == lab) correct++;
      } else if (y) {
        const double *t = y + (size_t)(r0 + i) * o;
        for (int j = 0; j < o; j++) lsum += (z[j] - t[j]) * (z[j] - t[j]);
      } else {
        /* MSE on a classification set: one-hot targets, as in training; the
         * accuracy is that of the largest output. */
        int lab = labels[r0 + i], arg = 0;
        for (int j = 0; j < o; j++) {
          double t = j == lab ? 1.0 : 0.0;
          lsum += (z[j] - t) * (z[j] - t);
          if (z[j] > z[arg]) arg = j;
        }
        if (arg == lab) correct++;
      }
    }
  }
  if (loss == RS_LOSS_CROSS_ENTROPY) {
    *mloss = lsum / n;
    *acc = (double)correct / n;
  } else {
    *mloss = lsum / ((double)n * o); /* torch nn.MSELoss: mean over all elements */
    if (!y) *acc = (double)correct / n;
  }
done:
  free(out);
  return rc;
}

int rs_weight_summary(const double *W, int rows, int cols, int neps, const double *eps,
                      double *fro, double *spec, int32_t *ranks) {
  int k = rows < cols ? rows : cols, r;
  double *sv = malloc(sizeof(double) * (size_t)k);
  if (!sv) return rs_error(RS_ENOMEM, "checkpoint metrics: cannot allocate");
  int rc;
  RS_TRY(rc, rs_rank_eps(W, rows, cols, 0.0, &r, sv), done);
  double f = 0.0;
  for (size_t i = 0; i < (size_t)rows * cols; i++) f += W[i] * W[i];
  *fro = sqrt(f);
  *spec = sv[0];
  for (int e = 0; e < neps; e++) ranks[e] = rs_count_above(sv, k, 1.0, eps[e]);
done:
  free(sv);
  return rc;
}

int rs_checkpoint_metrics(const rs_netview *net, const rs_dataset *data, rs_loss loss, int neps,
                          const double *eps, rs_ckpt_metrics *out) {
  if (neps < 0 || neps > RS_MAX_EPS || (neps > 0 && !eps))
    return rs_error(RS_EARG, "checkpoint metrics: neps %d not in 0..%d", neps, RS_MAX_EPS);
  if (net->nlayers < 1 || net->nlayers > RS_MAX_LAYERS + 1)
    return rs_error(RS_EARG, "checkpoint metrics: nlayers %d", net->nlayers);
  if (data->dim != net->sizes[0] || data->outputs != net->sizes[net->nlayers])
    return rs_error(RS_EARG, "checkpoint metrics: data is %d -> %d, network %d -> %d", data->dim,
                    data->outputs, net->sizes[0], net->sizes[net->nlayers]);
  loss = rs_loss_resolve(loss, data->classification);
  if (loss == RS_LOSS_CROSS_ENTROPY && (!data->classification || (data->ntrain > 0 && !data->ltrain) ||
                                        (data->nheld > 0 && !data->lheld)))
    return rs_error(RS_EARG, "checkpoint metrics: cross entropy needs class labels");
  if (loss == RS_LOSS_MSE && ((data->ntrain > 0 && !data->ytrain && !data->ltrain) ||
                              (data->nheld > 0 && !data->yheld && !data->lheld)))
    return rs_error(RS_EARG, "checkpoint metrics: mse needs regression targets or class labels");
  RS_CALL(rs_checkpoint_weight_metrics(net, neps, eps, out));
  RS_CALL(rs__eval_set(net, data->xtrain, data->ltrain, data->ytrain, data->ntrain, loss,
                       &out->train_loss, &out->train_acc));
  RS_CALL(rs__eval_set(net, data->xheld, data->lheld, data->yheld, data->nheld, loss,
                       &out->heldout_loss, &out->heldout_acc));
  return RS_OK;
}

int rs_checkpoint_weight_metrics(const rs_netview *net, int neps, const double *eps,
                                 rs_ckpt_metrics *out) {
  if (neps < 0 || neps > RS_MAX_EPS || (neps > 0 && !eps))
    return rs_error(RS_EARG, "checkpoint metrics: neps %d not in 0..%d", neps, RS_MAX_EPS);
  if (net->nlayers < 1 || net->nlayers > RS_MAX_LAYERS + 1)
    return rs_error(RS_EARG, "checkpoint metrics: nlayers %d", net->nlayers);
  memset(out, 0, sizeof *out);
  out->train_loss = out->train_acc = out->heldout_loss = out->heldout_acc = NAN;
  out->rate = NAN;
  out->info_y = NAN;
  out->nlayers = net->nlayers;
  for (int l = 1; l <= net->nlayers; l++)
    RS_CALL(rs_weight_summary(net->W[l], net->sizes[l], net->sizes[l - 1], neps, eps,
                              &out->wfro[l - 1], &out->wspec[l - 1], out->wrank[l - 1]));
  return RS_OK;
}
