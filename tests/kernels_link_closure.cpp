// An empty program linked with every object of a kernel library (CMakeLists.txt:
// twp_kernels_emu_closure, twp_kernels_cuda_closure). Building it is the check: the library's
// objects must resolve against what the library links (the vocabulary, twp_linalg under the
// emulation, CUDA's libraries natively) and the system's libraries alone, so a kernel that starts
// calling into twp_engine (the CPU backend, the file formats) breaks the build here.
int main() { return 0; }
