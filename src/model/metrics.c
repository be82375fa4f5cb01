/* Checkpoint summaries of a trainer: the measurement module's deterministic
 * metrics of the netview, and for a VIB the whole head's weight norms and
 * ranks and the sampled evaluation on top (task loss and accuracy over
 * model.eval_samples draws, rate, H(Y) - task loss).
 * Kept apart from trainer.c: it is the one model file that calls rs_measure. */
#include <math.h>
#include <stdlib.h>

#include "ranksweep/rs_error.h"
#include "ranksweep/rs_measure.h"
#include "src/model/model_internal.h"

/* H(Y) in nats where the task loss is a normalised likelihood and H(Y) is
 * known: the plug-in entropy of the held-out labels for a softmax decoder,
 * r/2 log(2 pi e) for a Gaussian decoder on gaussian_ib data (Y ~ N(0, I_r)).
 * NaN otherwise (MSE is not a likelihood; a teacher's H(Y) has no closed form). */
static double target_entropy(const rs__model *model, const rs_config *cfg,
                             const rs_dataset *data) {
  if (rs__vib_gaussian_decoder(model))
    return cfg->data.kind == RS_DATA_GAUSSIAN_IB ? 0.5 * data->outputs * log(2 * M_PI * M_E)
                                                  : NAN;
  if (rs__resolve_loss(cfg, data) != RS_LOSS_CROSS_ENTROPY || !data->lheld || data->nheld <= 0)
    return NAN;
  int64_t *cnt = calloc((size_t)data->outputs, sizeof *cnt);
  if (!cnt) return NAN;
  for (int i = 0; i < data->nheld; i++)
    if (data->lheld[i] >= 0 && data->lheld[i] < data->outputs) cnt[data->lheld[i]]++;
  double h = 0;
  for (int j = 0; j < data->outputs; j++)
    if (cnt[j] > 0) {
      double p = (double)cnt[j] / data->nheld;
      h -= p * log(p);
    }
  free(cnt);
  return h;
}

/* A VIB's netview shows the head as its K mean rows (the measured layer);
 * the weight norms and ranks of that layer cover the whole 2K x n head, the
 * mean rows and the K pre-std rows below them, as the head is one matrix. */
static int vib_head_norms(const rs_netview *v, const rs_config *cfg, rs_ckpt_metrics *m) {
  int l = v->nmeasure;
  return rs_weight_summary(v->W[l], 2 * v->sizes[l], v->sizes[l - 1], cfg->measure.neps,
                           cfg->measure.eps, &m->wfro[l - 1], &m->wspec[l - 1], m->wrank[l - 1]);
}

int rs_trainer_metrics(rs_trainer *t, const rs_config *cfg, const rs_dataset *data,
                       rs_ckpt_metrics *m) {
  rs_netview v;
  RS_CALL(rs_trainer_view(t, &v));
  if (cfg->model.kind != RS_MODEL_VIB)
    return rs_checkpoint_metrics(&v, data, rs__resolve_loss(cfg, data), cfg->measure.neps,
                                 cfg->measure.eps, m);
  /* A VIB's losses and accuracies come from its sampled evaluation below; the
   * netview's deterministic forward pass over every point would only be
   * overwritten (it cost as much as the encoder evaluation itself). */
  RS_CALL(rs_checkpoint_weight_metrics(&v, cfg->measure.neps, cfg->measure.eps, m));
  RS_CALL(vib_head_norms(&v, cfg, m));
  const rs__model *model = rs__trainer_model(t);
  rs__vib_eval e;
  RS_CALL(rs__vib_evaluate(model, rs__trainer_params64(t), data, (uint64_t)cfg->seed,
                           cfg->model.eval_samples, target_entropy(model, cfg, data), &e));
  m->train_loss = e.train_loss;
  m->train_acc = e.train_acc;
  m->heldout_loss = e.heldout_loss;
  m->heldout_acc = e.heldout_acc;
  m->rate = e.rate;
  m->info_y = e.info_y;
  return RS_OK;
}
