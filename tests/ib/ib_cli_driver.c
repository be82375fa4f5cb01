/* Test driver for `ranksweep ib` before (and independently of) the real
 * main: runs rs_cmd_ib with argv[0] replaced by "ib". */
int rs_cmd_ib(int argc, char **argv);

int main(int argc, char **argv) {
  char name[] = "ib";
  argv[0] = name;
  return rs_cmd_ib(argc, argv);
}
