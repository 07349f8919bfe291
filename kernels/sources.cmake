# The CUDA kernel sources and their tests, listed once for both builds (CMakeLists.txt, section
# "kernels"): every kernels/*.cu here is compiled by nvcc into twp_kernels_cuda (when CUDA is
# found) and by the C++ compiler against the CUDA emulation into twp_kernels_emu; every test
# here runs against the emulation (twp_kernel_tests) and, with CUDA, on the GPU
# (twp_kernel_tests_gpu). Paths are relative to the repository root.
set(TWP_KERNEL_SOURCES
  kernels/device.cu
  kernels/device_memory.cu
  kernels/gemm.cu
  kernels/library_handles.cu
  kernels/timer.cu
  kernels/adam.cu
  kernels/add.cu
  kernels/attention.cu
  kernels/bias.cu
  kernels/conv2d.cu
  kernels/dropout.cu
  kernels/eigen.cu
  kernels/fill.cu
  kernels/gather.cu
  kernels/layer_norm.cu
  kernels/maxpool2.cu
  kernels/mse_loss.cu
  kernels/normal_fill.cu
  kernels/pca.cu
  kernels/reduce_sum.cu
  kernels/relu.cu
  kernels/row_combine.cu
  kernels/scatter_rows.cu
  kernels/sgd.cu
  kernels/softmax_cross_entropy.cu
  kernels/timestep_embedding.cu
)
set(TWP_KERNEL_TESTS
  tests/test_emulation.cpp      # emulation-only: its body is #if TWP_CUDA_EMULATION
  tests/test_device_memory.cpp
  tests/test_kernels_lenet.cpp
  tests/test_kernels_transformer.cpp
  tests/test_kernels_attention.cpp
  tests/test_kernels_diffusion.cpp
  tests/test_kernel_check.cpp     # the kernel tests' own helpers can fail: guards, comparisons
)
