/* The representation spectrum of one layer of a network over many points:
 * each rank computes its own rows of H (pre- or post-activation of the layer)
 * with the float64 forward pass, then centring and the distributed SVD. */
#include <math.h>

#include "ranksweep/rs_error.h"
#include "ranksweep/rs_measure.h"
#include "ranksweep/rs_spectrum.h"

typedef struct {
  rs_netview view; /* truncated after the layer: its output is p_l */
  int post;        /* apply the activation that follows the layer */
  rs_activation act;
  const double *x;
  int d;
} rs__layer_ctx;

/* As the forward pass of the measure module (exact erf GELU). */
static double rs__act(rs_activation a, double v) {
  switch (a) {
  case RS_ACT_RELU: return v > 0.0 ? v : 0.0;
  case RS_ACT_TANH: return tanh(v);
  case RS_ACT_IDENTITY: return v;
  case RS_ACT_GELU: return 0.5 * v * (1.0 + erf(v * M_SQRT1_2));
  }
  RS_ASSERT(!"unknown activation");
  return 0.0;
}

static int rs__layer_rows(void *vctx, int row0, int nrows, double *out) {
  rs__layer_ctx *c = vctx;
  RS_CALL(rs_netview_forward(&c->view, c->x + (size_t)row0 * c->d, nrows, out, NULL));
  int w = c->view.sizes[c->view.nlayers];
  size_t cnt = (size_t)nrows * w;
  if (c->post)
    for (size_t i = 0; i < cnt; i++) out[i] = rs__act(c->act, out[i]);
  /* One NaN would spread through the column mean into every singular value. */
  for (size_t i = 0; i < cnt; i++)
    if (!isfinite(out[i]))
      return rs_error(RS_EDATA, "spectrum: layer %d representation is not finite at point %d",
                      c->view.nlayers, row0 + (int)(i / (size_t)w));
  return RS_OK;
}

int rs_spectrum_layer(rs_pgrid *g, const rs_netview *net, int layer, rs_repr_kind kind,
                      const double *x, int npoints, int nb, double *s) {
  if (layer < 1 || layer > net->nlayers)
    return rs_error(RS_EARG, "spectrum: layer %d: expected 1..%d", layer, net->nlayers);
  if (npoints < 1) return rs_error(RS_EARG, "spectrum: %d points: expected at least 1", npoints);
  rs__layer_ctx c = {.view = *net, .act = net->act, .x = x, .d = net->sizes[0]};
  c.view.nlayers = layer;
  if (c.view.nmeasure > layer) c.view.nmeasure = layer;
  c.post = kind == RS_REPR_POST && layer < net->nlayers &&
           !(net->last_measured_linear && layer == net->nmeasure) && net->act != RS_ACT_IDENTITY;
  rs_pmat *h = NULL;
  int err = rs_pmat_create(g, npoints, net->sizes[layer], nb, &h);
  if (err == RS_OK) err = rs_pmat_fill_rows(h, rs__layer_rows, &c);
  /* A failure on one rank (memory, rows) must stop every rank before the
   * collectives. */
  RS_TRY(err, rs_spectrum_agree(rs_pgrid_comm(g), "computing rows of H", err), done);
  RS_TRY(err, rs_pmat_center_columns(h, NULL), done);
  RS_TRY(err, rs_pdsvd_values(h, s), done);
done:
  rs_pmat_destroy(&h);
  return err;
}
