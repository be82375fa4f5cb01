/* placeholder: timing of the distributed spectrum on Fashion-MNIST */
int main(void) { return 0; }
