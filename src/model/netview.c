/* rs_netview_from_params: a float64 netview over a flat parameter array, by
 * the model kind of the configuration. Each model lays out its own
 * parameters (mlp.c, vib.c); this file only chooses. */
#include "ranksweep/rs_error.h"
#include "src/model/model_internal.h"

int rs_netview_from_params(const rs_config *cfg, const rs_dataset *data,
                           const double *params, rs_netview *view) {
  if (cfg->model.kind == RS_MODEL_VIB) return rs__vib_view_from_params(cfg, data, params, view);
  if (cfg->model.kind != RS_MODEL_MLP)
    return rs_error(RS_EARG, "model.kind: expected mlp or vib");
  return rs__mlp_view_from_params(cfg, data, params, view);
}
