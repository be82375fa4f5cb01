/* Shared by the Check test programs: runs a suite, prints Check's summary
 * line, and turns failures into the exit status meson reads. */
#ifndef RS_CHECK_H
#define RS_CHECK_H

#include <check.h>
#include <stdlib.h>

static inline int rs_check_run(Suite *s) {
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
