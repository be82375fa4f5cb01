/* One run's complete configuration. Plain data: the numerical modules read an
 * rs_config and know nothing of YAML or of the job (rs_job.h) that expands
 * into runs. */
#ifndef RS_CONFIG_H
#define RS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RS_MAX_LAYERS 16 /* hidden layers */
#define RS_MAX_EPS 8     /* absolute thresholds in the eps ladder */
#define RS_MAX_RHO 32    /* canonical correlations (gaussian_ib) */
#define RS_MAX_NOISE 8   /* noise levels of the information proxy */
#define RS_MAX_CKPTS 512 /* explicit checkpoint list */
#define RS_PATH_MAX 512
/* Bounds on what one job may ask for, checked when the job is loaded (so
 * `plan` reports them before anything runs). */
#define RS_MAX_RUN_CKPTS 10000                  /* checkpoints of one run */
#define RS_MAX_WIDTH 65536                      /* any layer width, data.dim, model.latent */
#define RS_MAX_POINTS 1000000                   /* measure.points */
#define RS_MAX_EXAMPLES 100000000               /* data.train_size, data.heldout_size */
#define RS_MAX_PARAMS ((int64_t)1 << 30)        /* parameters of one run */
#define RS_MAX_ARCHIVE_BYTES ((int64_t)1 << 40) /* estimated archive size (1 TiB) */
#define RS_MAX_JOB_BYTES (1 << 20)              /* job file size */
#define RS_MAX_JOB_DEPTH 32                     /* nesting of brackets or indentation levels */
/* Ranges stated once: the key table (src/job/keys.c) checks jobs with these,
 * and the modules that take such a value from elsewhere (a test, the CLI)
 * check it with the same predicate. */
#define RS_RHO_LO 0.0 /* data.rho, ranksweep ib --rho: canonical correlations, */
#define RS_RHO_HI 1.0 /* each in the open interval (RS_RHO_LO, RS_RHO_HI) */
static inline bool rs_rho_in_range(double rho) { return rho > RS_RHO_LO && rho < RS_RHO_HI; }
/* The least value of each data key; rs_dataset_create checks a configuration
 * that did not come through a job file against the same bounds. */
#define RS_MIN_DIM 1           /* data.dim */
#define RS_MIN_CLASSES 2       /* data.classes */
#define RS_MIN_EXAMPLES 1      /* data.train_size, data.heldout_size */
#define RS_MIN_TEACHER_RANK 1  /* data.teacher_rank (at most data.dim) */
#define RS_MIN_TEACHER_WIDTH 1 /* data.teacher_width */
#define RS_MIN_OUTPUTS 1       /* data.outputs */
#define RS_MIN_RHO_COUNT 1     /* data.rho entries (at most data.dim and RS_MAX_RHO) */
#define RS_MIN_SPREAD 0.0      /* data.mean_scale, data.noise: standard deviations */
#define RS_STD_LO 0.0          /* data.std, normalize fixed's divisor: > RS_STD_LO */

typedef enum { RS_DATA_GAUSSIAN_MIXTURE, RS_DATA_TEACHER, RS_DATA_GAUSSIAN_IB, RS_DATA_IDX,
               RS_DATA_NPY } rs_data_kind;
/* input normalisation of file data (idx, npy); auto = fixed for idx, per_feature for npy */
typedef enum { RS_NORM_AUTO, RS_NORM_NONE, RS_NORM_FIXED, RS_NORM_GLOBAL,
               RS_NORM_PER_FEATURE } rs_normalize;
typedef enum { RS_MODEL_MLP, RS_MODEL_VIB } rs_model_kind;
/* vib decoder: auto = gaussian for regression with train.loss auto, else linear */
typedef enum { RS_DEC_AUTO, RS_DEC_LINEAR, RS_DEC_GAUSSIAN } rs_decoder;
typedef enum { RS_ACT_RELU, RS_ACT_TANH, RS_ACT_IDENTITY, RS_ACT_GELU } rs_activation;
typedef enum { RS_INIT_NORMAL_FAN_IN, RS_INIT_HE, RS_INIT_XAVIER } rs_init;
typedef enum { RS_LOSS_AUTO, RS_LOSS_CROSS_ENTROPY, RS_LOSS_MSE } rs_loss;
typedef enum { RS_OPT_SGD, RS_OPT_ADAM, RS_OPT_ADAMW } rs_optimizer;
typedef enum { RS_SCHED_CONSTANT, RS_SCHED_COSINE, RS_SCHED_STEP } rs_schedule;
typedef enum { RS_PREC_FLOAT32, RS_PREC_FLOAT64 } rs_precision;
/* train.gemm: who runs the training step's matrix products */
typedef enum { RS_GEMM_AUTO, RS_GEMM_LIBXSMM, RS_GEMM_OPENBLAS } rs_gemm_choice;
typedef enum { RS_CKPT_LOG, RS_CKPT_LINEAR, RS_CKPT_LIST } rs_ckpt_schedule;
typedef enum { RS_SAVE_NONE, RS_SAVE_FINAL, RS_SAVE_ALL } rs_save_weights;

typedef struct {
  char name[128];
  int64_t seed; /* the run's seed: keys every random stream of the run */

  struct {
    rs_data_kind kind;
    int64_t seed;      /* -1: use the run's seed; otherwise fixes the data across seeds */
    int dim;           /* input dimension (synthetic kinds) */
    int classes;       /* gaussian_mixture */
    double mean_scale; /* std of the class-mean coordinates (gaussian_mixture) */
    double noise;      /* isotropic noise std (gaussian_mixture, teacher output noise) */
    int train_size;
    int heldout_size;
    int teacher_rank;  /* k: rank of the projection P (teacher) */
    int teacher_width; /* hidden width of the random teacher f (teacher) */
    int outputs;       /* regression output dimension (teacher) */
    int nrho;
    double rho[RS_MAX_RHO]; /* canonical correlations (gaussian_ib) */
    char images[RS_PATH_MAX];         /* idx, npy: training inputs (idx: .gz or raw) */
    char labels[RS_PATH_MAX];
    char heldout_images[RS_PATH_MAX]; /* idx: "" = disjoint subset of `images` */
    char heldout_labels[RS_PATH_MAX];
    double mean, std; /* normalize fixed: (pixel/255 - mean) / std */
    rs_normalize normalize; /* idx, npy: how inputs are normalised */
  } data;

  struct {
    rs_model_kind kind;
    int nwidths;
    int widths[RS_MAX_LAYERS]; /* hidden widths (vib: encoder hidden widths) */
    int width, depth; /* 0: not set; otherwise widths is depth x [width] (the job
                         module fills it in; either alone keeps the other's default) */
    rs_activation activation;
    rs_init init;
    double bias_init;
    int latent;       /* vib: K */
    int eval_samples; /* vib: samples averaged in held-out evaluation */
    rs_decoder decoder; /* vib: linear (train.loss) or gaussian (learned variance) */
  } model;

  struct {
    rs_optimizer optimizer;
    double lr, momentum, beta1, beta2, adam_eps, weight_decay;
    bool decay_biases;
    rs_schedule schedule;
    int64_t step_every; /* step schedule: decay every this many steps */
    double step_gamma;  /* step schedule: multiply lr by this */
    int batch;
    int64_t steps;
    rs_precision precision;
    rs_loss loss;
    double beta;         /* vib: weight of the KL term (beta_vib) */
    int64_t state_every; /* persist training state every this many steps (0: never) */
    bool flush_denormals; /* flush-to-zero + denormals-are-zero while training and measuring */
    rs_gemm_choice gemm;  /* backend of the training products (model/rs_gemm.h) */
  } train;

  struct {
    rs_ckpt_schedule schedule;
    int log_points;  /* log: n of logspace(0, log10(steps), n) */
    int64_t every;   /* linear: every k steps */
    int nlist;
    int64_t list[RS_MAX_CKPTS];
    int points;      /* evaluation points for local rank */
    int neps;
    double eps[RS_MAX_EPS]; /* absolute thresholds */
    rs_save_weights save_weights;
    bool spectrum;   /* run the representation-spectrum pass after training */
    int nnoise;
    double noise[RS_MAX_NOISE]; /* noise levels of the Gaussian-channel proxy */
    int shard;       /* evaluation points per measurement task (0: automatic) */
  } measure;
} rs_config;

/* Fills every field with its documented default. */
void rs_config_defaults(rs_config *c);
/* The checkpoint steps of a run, ascending, unique, always including 0 and
 * train.steps. Returns the count; writes at most cap entries to steps. */
int rs_config_checkpoints(const rs_config *c, int64_t *steps, int cap);
/* The data files a run reads (idx and npy kinds; none for synthetic data):
 * up to 4 paths into files[] and their job keys into keys[] (either may be
 * NULL); returns how many. */
int rs_config_data_files(const rs_config *c, const char *files[4], const char *keys[4]);
/* Loss actually used (rs_loss_resolve, rs_vocab.h, with the classification
 * the data kind implies; for npy the labels' dtype decides, so auto stays
 * RS_LOSS_AUTO until the data are read). */
rs_loss rs_config_loss(const rs_config *c);

/* What a run's data set contributes to its shape. */
typedef struct {
  int d0;              /* input dimension */
  int outputs;         /* classes (classification) or target dimension */
  bool classification;
} rs_run_io;

/* A run's shape: the one statement of its layer sizes, used by the plan, the
 * job's limits, the sweep and the spectrum pass. */
typedef struct {
  rs_run_io io;
  int nmeasured;                 /* measured layers: the hidden (vib: encoder) layers,
                                    and a vib's mean head */
  int widths[RS_MAX_LAYERS + 1]; /* their widths (the mean head: model.latent) */
  int nweights;                  /* weight layers: the measured ones and the output layer */
  bool gaussian_decoder;         /* vib: the decoder has learned log-stds */
  int64_t nparams;               /* parameters (a vib's head has mean and scale rows) */
} rs_run_shape;

/* The data side of a run's shape as far as the configuration tells it:
 * exact for the synthetic kinds; for idx and npy, whose files are not read
 * here, the plan's estimate (idx: 28 x 28 inputs; npy: data.dim inputs; 10
 * classes). A run's data set (rs_dataset) gives the exact values. */
void rs_config_io(const rs_config *c, rs_run_io *io);
/* Fills out from the configuration and io, the data set's dimensions (NULL:
 * rs_config_io's). The widths and nmeasured do not depend on io. */
void rs_config_shape(const rs_config *c, const rs_run_io *io, rs_run_shape *out);

#endif
