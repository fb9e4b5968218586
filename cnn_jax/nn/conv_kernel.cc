// Direct convolution on x86-64 CPUs, as XLA FFI handlers (jax.ffi), for two instruction
// sets: AVX-512 (a tile of 12 pixels x 32 channels in 24 of the 32 zmm registers) and AVX2
// with FMA (6 pixels x 16 channels in 12 of the 16 ymm registers). conv_kernel.py asks
// cnn_jax_conv_instruction_sets() which this CPU runs and calls that set's handlers:
//
//   cnn_jax_conv_forward_<isa>(x [B,H,W,C], w [KH,KW,C,O]) -> y [B,H-KH+1,W-KW+1,O]
//   cnn_jax_conv_input_grad_<isa>(dy [B,Ho,Wo,O], wt [KH,KW,O,C]) -> dx [B,Ho+KH-1,Wo+KW-1,C]
//   cnn_jax_conv_kernel_grad_<isa>(x [B,H,W,C], dy [B,Ho,Wo,O]) -> dw [KH,KW,C,O]
//
// Stride 1, VALID, NHWC inputs and HWIO kernels, float32, O and C multiples of 16. The
// loops (conv_kernel_loops.h) read the input where it lies (no patch matrix) and compute
// no multiply-add by a padding zero. Every output element is summed in the same order
// whatever the number of threads and the instruction set, so a seed gives the same numbers
// on any core count and either path.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "xla/ffi/api/ffi.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ffi = xla::ffi;

namespace {

// Runs f(0..n-1) on the calling thread and the pool's; returns when all n are done.
// Late pool tasks find no work left and touch only the shared counters.
template <typename F>
void ParallelFor(ffi::ThreadPool& pool, int64_t n, F f) {
  struct Counters {
    std::atomic<int64_t> next{0}, done{0};
  };
  auto counters = std::make_shared<Counters>();
  auto work = [counters, n, f]() {
    for (int64_t i; (i = counters->next.fetch_add(1)) < n;) {
      f(i);
      counters->done.fetch_add(1, std::memory_order_release);
    }
  };
  const int64_t helpers = std::min<int64_t>(pool.num_threads(), n) - 1;
  for (int64_t t = 0; t < helpers; ++t) pool.Schedule(decltype(work)(work));
  work();
  while (counters->done.load(std::memory_order_acquire) < n) std::this_thread::yield();
}

#if defined(__x86_64__)

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
using V = __m256;
constexpr int64_t kLanes = 8;
constexpr int kRows = 6;  // 6 x 2 accumulators, 2 kernel rows and a broadcast: 15 of 16 ymm
inline __attribute__((always_inline)) V Zero() { return _mm256_setzero_ps(); }
inline __attribute__((always_inline)) V Load(const float* p) { return _mm256_loadu_ps(p); }
inline __attribute__((always_inline)) void Store(float* p, V v) { _mm256_storeu_ps(p, v); }
inline __attribute__((always_inline)) V Broadcast(const float* p) { return _mm256_broadcast_ss(p); }
inline __attribute__((always_inline)) V MulAdd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
#include "conv_kernel_loops.h"
}  // namespace avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f")
namespace avx512 {
using V = __m512;
constexpr int64_t kLanes = 16;
constexpr int kRows = 12;  // 12 x 2 accumulators, 2 kernel rows and a broadcast: 27 of 32 zmm
inline __attribute__((always_inline)) V Zero() { return _mm512_setzero_ps(); }
inline __attribute__((always_inline)) V Load(const float* p) { return _mm512_loadu_ps(p); }
inline __attribute__((always_inline)) void Store(float* p, V v) { _mm512_storeu_ps(p, v); }
inline __attribute__((always_inline)) V Broadcast(const float* p) { return _mm512_set1_ps(*p); }
inline __attribute__((always_inline)) V MulAdd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
#include "conv_kernel_loops.h"
}  // namespace avx512
#pragma GCC pop_options

// The loops of one instruction set, for the handlers below.
#define CNN_JAX_LOOPS(isa)                                                                \
  struct isa##_loops {                                                                   \
    static constexpr int64_t kLanes = isa::kLanes, kRows = isa::kRows;                   \
    static constexpr auto Forward = isa::ForwardImage;                                   \
    static constexpr auto InputGrad = isa::InputGradImage;                               \
    static constexpr auto KernelGradWide = isa::KernelGradTile<2>;                       \
    static constexpr auto KernelGradNarrow = isa::KernelGradTile<1>;                     \
  };
CNN_JAX_LOOPS(avx2)
CNN_JAX_LOOPS(avx512)
#undef CNN_JAX_LOOPS


// The handlers of one instruction set's loops L. Work is split over XLA's intra-op thread
// pool: images for the forward and the input gradient, tiles of the kernel for its gradient.

template <class L>
ffi::Error Forward(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> w,
                   ffi::ResultBuffer<ffi::F32> y) {
  const auto xd = x.dimensions(), wd = w.dimensions();
  if (xd.size() != 4 || wd.size() != 4 || wd[2] != xd[3] || wd[3] % 16 != 0)
    return ffi::Error::InvalidArgument("conv: x [B,H,W,C], w [KH,KW,C,O] with O % 16 == 0");
  const int64_t B = xd[0], H = xd[1], W = xd[2], C = xd[3];
  const int64_t KH = wd[0], KW = wd[1], O = wd[3];
  const int64_t in_image = H * W * C, out_image = (H - KH + 1) * (W - KW + 1) * O;
  const float *xs = x.typed_data(), *ws = w.typed_data();
  float* ys = y->typed_data();
  ParallelFor(pool, B, [=](int64_t b) {
    L::Forward(xs + b * in_image, H, W, C, ws, KH, KW, O, ys + b * out_image);
  });
  return ffi::Error::Success();
}

template <class L>
ffi::Error InputGrad(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> dy, ffi::Buffer<ffi::F32> wt,
                     ffi::ResultBuffer<ffi::F32> dx) {
  const auto gd = dy.dimensions(), wd = wt.dimensions();
  if (gd.size() != 4 || wd.size() != 4 || wd[2] != gd[3] || wd[3] % 16 != 0)
    return ffi::Error::InvalidArgument("conv: dy [B,Ho,Wo,O], wt [KH,KW,O,C] with C % 16 == 0");
  const int64_t B = gd[0], OH = gd[1], OW = gd[2], O = gd[3];
  const int64_t KH = wd[0], KW = wd[1], C = wd[3];
  const int64_t in_image = OH * OW * O, out_image = (OH + KH - 1) * (OW + KW - 1) * C;
  const float *gs = dy.typed_data(), *ws = wt.typed_data();
  float* xs = dx->typed_data();
  ParallelFor(pool, B, [=](int64_t b) {
    L::InputGrad(gs + b * in_image, OH, OW, O, ws, KH, KW, C, xs + b * out_image);
  });
  return ffi::Error::Success();
}

template <class L>
ffi::Error KernelGrad(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> x,
                      ffi::Buffer<ffi::F32> dy, ffi::ResultBuffer<ffi::F32> dw) {
  const auto xd = x.dimensions(), gd = dy.dimensions(), wd = dw->dimensions();
  if (xd.size() != 4 || gd.size() != 4 || wd.size() != 4 || wd[3] % 16 != 0)
    return ffi::Error::InvalidArgument("conv: x, dy 4-D and dw [KH,KW,C,O], O % 16 == 0");
  const int64_t B = xd[0], W = xd[2], C = xd[3], OH = gd[1], OW = gd[2], O = gd[3];
  const int64_t KW = wd[1], M = wd[0] * wd[1] * wd[2];
  const int64_t wide = 2 * L::kLanes;  // a tile's columns; the last may be half as wide
  const int64_t m_tiles = (M + L::kRows - 1) / L::kRows, o_tiles = (O + wide - 1) / wide;
  const int64_t tiles = m_tiles * o_tiles;
  const int64_t in_image = xd[1] * W * C, out_image = OH * OW * O;
  const float *xs = x.typed_data(), *gs = dy.typed_data();
  float* dws = dw->typed_data();
  std::fill(dws, dws + M * O, 0.0f);
  // Each task: a run of tiles, over every image in order (the image stays in cache).
  const int64_t tasks = std::min<int64_t>(tiles, 4 * std::max<int64_t>(1, pool.num_threads()));
  ParallelFor(pool, tasks, [=](int64_t task) {
    const int64_t t0 = task * tiles / tasks, t1 = (task + 1) * tiles / tasks;
    for (int64_t b = 0; b < B; ++b) {
      const float *xb = xs + b * in_image, *gb = gs + b * out_image;
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t m0 = (t / o_tiles) * L::kRows, oc = (t % o_tiles) * wide;
        if (O - oc >= wide)
          L::KernelGradWide(xb, W, C, gb, OH, OW, O, KW, m0, M, oc, dws);
        else
          L::KernelGradNarrow(xb, W, C, gb, OH, OW, O, KW, m0, M, oc, dws);
      }
    }
  });
  return ffi::Error::Success();
}

#endif  // __x86_64__

}  // namespace

#ifndef CNN_JAX_SOURCE_SHA256
#define CNN_JAX_SOURCE_SHA256 ""
#endif

// The SHA-256 of the sources this library was compiled from (setup.py passes it), so that
// conv_kernel.py can tell a library older than its source.
extern "C" const char* cnn_jax_conv_source_sha256() { return CNN_JAX_SOURCE_SHA256; }

// The instruction sets this CPU (and its operating system) runs: 1 = AVX2 with FMA,
// 2 = AVX-512F; 0 off x86-64.
extern "C" int cnn_jax_conv_instruction_sets() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return (avx2 ? 1 : 0) | (__builtin_cpu_supports("avx512f") ? 2 : 0);
#else
  return 0;
#endif
}

#if defined(__x86_64__)
#define CNN_JAX_HANDLERS(isa)                                                             \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(cnn_jax_conv_forward_##isa, Forward<isa##_loops>,         \
                                ffi::Ffi::Bind()                                          \
                                    .Ctx<ffi::ThreadPool>()                               \
                                    .Arg<ffi::Buffer<ffi::F32>>()                         \
                                    .Arg<ffi::Buffer<ffi::F32>>()                         \
                                    .Ret<ffi::Buffer<ffi::F32>>());                       \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(cnn_jax_conv_input_grad_##isa, InputGrad<isa##_loops>,    \
                                ffi::Ffi::Bind()                                          \
                                    .Ctx<ffi::ThreadPool>()                               \
                                    .Arg<ffi::Buffer<ffi::F32>>()                         \
                                    .Arg<ffi::Buffer<ffi::F32>>()                         \
                                    .Ret<ffi::Buffer<ffi::F32>>());                       \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(cnn_jax_conv_kernel_grad_##isa, KernelGrad<isa##_loops>,  \
                                ffi::Ffi::Bind()                                          \
                                    .Ctx<ffi::ThreadPool>()                               \
                                    .Arg<ffi::Buffer<ffi::F32>>()                         \
                                    .Arg<ffi::Buffer<ffi::F32>>()                         \
                                    .Ret<ffi::Buffer<ffi::F32>>());
CNN_JAX_HANDLERS(avx2)
CNN_JAX_HANDLERS(avx512)
#undef CNN_JAX_HANDLERS
#endif  // __x86_64__
