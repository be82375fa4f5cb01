/* The vocabulary the model and measurement modules share: the float64 view
 * of a feed-forward stack (the model produces it, every measurement reads
 * it), the per-checkpoint summaries (measurement computes them, the trainer
 * completes them for a VIB) and the rules that resolve train.loss auto and
 * model.decoder auto.
 * rs_model.h and rs_measure.h include this header, never each other. */
#ifndef RS_VOCAB_H
#define RS_VOCAB_H

#include <stdbool.h>
#include <stdint.h>

#include "ranksweep/rs_config.h"

/* A feed-forward stack x -> p_1 = W_1 x + b_1 -> s(p_1) -> p_2 = ... in
 * float64. W_l is sizes[l] x sizes[l-1], row-major. Layers 1..nmeasure are the
 * ones whose pre-activation Jacobians are measured (MLP: the hidden layers;
 * VIB: the encoder hidden layers and the mean head). Layer nlayers is the
 * output layer (linear). The activation applies after layers 1..nlayers-1,
 * except that a VIB's mean head (layer nmeasure) is linear. */
typedef struct {
  int nlayers;
  int nmeasure;
  int sizes[RS_MAX_LAYERS + 3];
  rs_activation act;
  bool last_measured_linear; /* VIB mean head */
  const double *W[RS_MAX_LAYERS + 2]; /* W[1..nlayers] (index 0 unused) */
  const double *b[RS_MAX_LAYERS + 2];
} rs_netview;

/* Per-checkpoint summaries (float64, from a netview). Layer index l-1 for
 * weight layer l = 1..nlayers (the output layer included). Accuracies are NaN
 * for regression; rate and info_y are NaN except for VIB models. */
typedef struct {
  double train_loss, train_acc, heldout_loss, heldout_acc;
  double rate, info_y;
  int nlayers;
  double wfro[RS_MAX_LAYERS + 2];
  double wspec[RS_MAX_LAYERS + 2];
  int32_t wrank[RS_MAX_LAYERS + 2][RS_MAX_EPS]; /* rank_eps(W_l) per eps */
} rs_ckpt_metrics;

/* The loss actually used: train.loss as written, or for auto cross_entropy
 * on classification data and mse on regression data. The one statement of
 * the rule; rs_config_loss (no data yet) and the model and measurement
 * modules (data in hand) all call it. */
static inline rs_loss rs_loss_resolve(rs_loss requested, bool classification) {
  if (requested != RS_LOSS_AUTO) return requested;
  return classification ? RS_LOSS_CROSS_ENTROPY : RS_LOSS_MSE;
}

/* Whether a vib's decoder is the Gaussian one (learned per-output log-stds):
 * model.decoder gaussian, or auto on regression data with train.loss auto.
 * (vib.c refuses gaussian on classification data or with another loss.) */
static inline bool rs_decoder_is_gaussian(rs_decoder d, rs_loss requested, bool classification) {
  if (d == RS_DEC_AUTO) return !classification && requested == RS_LOSS_AUTO;
  return d == RS_DEC_GAUSSIAN;
}

#endif
