// Direct convolution on x86-64 CPUs with AVX2 and FMA, as XLA FFI handlers (jax.ffi).
//
// Stride 1, VALID, NHWC inputs and HWIO kernels, float32. Each output is a tile of 6
// pixels x 16 channels held in 12 vector registers while the (ky, kx, c) contraction runs,
// reading the input where it lies (no patch matrix). Three handlers:
//
//   cnn_jax_conv_forward(x [B,H,W,C], w [KH,KW,C,O]) -> y [B,H-KH+1,W-KW+1,O]
//       also the input gradient, as the forward of the zero-padded output gradient with
//       the flipped kernel; the attributes band_rows = KH-1 and band_cols = KW-1 say which
//       border rows and columns are zeros, and each tile skips the offsets that read only those.
//   cnn_jax_conv_kernel_grad(x [B,H,W,C], dy [B,Ho,Wo,O]) -> dw [KH,KW,C,O]
//
// Work is split over XLA's intra-op thread pool: images for the forward, tiles of the
// kernel for its gradient. Every output element is summed in the same order whatever the
// number of threads, so a seed gives the same numbers on any core count.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "xla/ffi/api/ffi.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define CNN_JAX_AVX2 __attribute__((target("avx2,fma")))
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

// The 6 x 16 tile's multiply-adds for one contraction index: row i of the tile adds
// AT(i) (a float, broadcast) times the 16 values in v0, v1 to its accumulators a<i>0, a<i>1.
#define CNN_JAX_ROW(i, AT, v0, v1)                 \
  {                                                \
    const __m256 s = _mm256_broadcast_ss(AT(i));   \
    a##i##0 = _mm256_fmadd_ps(s, v0, a##i##0);     \
    a##i##1 = _mm256_fmadd_ps(s, v1, a##i##1);     \
  }
#define CNN_JAX_TILE(AT, v0, v1)                                          \
  CNN_JAX_ROW(0, AT, v0, v1) CNN_JAX_ROW(1, AT, v0, v1) CNN_JAX_ROW(2, AT, v0, v1) \
  CNN_JAX_ROW(3, AT, v0, v1) CNN_JAX_ROW(4, AT, v0, v1) CNN_JAX_ROW(5, AT, v0, v1)
#define CNN_JAX_ACCUMULATORS {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}, {a40, a41}, {a50, a51}}

// Writes the first n rows of a tile: row i's 16 values to out[i].
CNN_JAX_AVX2 inline void StoreTile(const __m256 (&acc)[6][2], float* const (&out)[6], int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    _mm256_storeu_ps(out[i], acc[i][0]);
    _mm256_storeu_ps(out[i] + 8, acc[i][1]);
  }
}

// y[p, o] = sum over (ky, kx, c) of x[p + (ky, kx), c] w[ky, kx, c, o] for one image.
// Input rows outside [band_r, H - band_r) and columns outside [band_c, W - band_c) are
// zeros, and the kernel offsets that would read only those are skipped.
CNN_JAX_AVX2 void ForwardImage(const float* x, int64_t H, int64_t W, int64_t C,
                               const float* w, int64_t KH, int64_t KW, int64_t O,
                               int64_t band_r, int64_t band_c, float* y) {
  const int64_t OH = H - KH + 1, OW = W - KW + 1, P = OH * OW;
  for (int64_t p0 = 0; p0 < P; p0 += 6) {
    const int64_t n = std::min<int64_t>(6, P - p0);
    const float* base[6];
    int64_t r_lo = OH, r_hi = 0, c_lo = OW, c_hi = 0;
    for (int64_t i = 0; i < 6; ++i) {
      const int64_t p = p0 + (i < n ? i : 0), r = p / OW, c = p % OW;
      base[i] = x + (r * W + c) * C;
      r_lo = std::min(r_lo, r), r_hi = std::max(r_hi, r);
      c_lo = std::min(c_lo, c), c_hi = std::max(c_hi, c);
    }
    // Kernel offsets that reach a non-zero input row / column for some pixel of the tile.
    const int64_t ky0 = std::max<int64_t>(0, band_r - r_hi);
    const int64_t ky1 = std::min<int64_t>(KH, H - band_r - r_lo);
    const int64_t kx0 = std::max<int64_t>(0, band_c - c_hi);
    const int64_t kx1 = std::min<int64_t>(KW, W - band_c - c_lo);
    const float *b0 = base[0], *b1 = base[1], *b2 = base[2], *b3 = base[3], *b4 = base[4],
                *b5 = base[5];
    for (int64_t oc = 0; oc < O; oc += 16) {
      __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00,
             a21 = a00, a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
      for (int64_t ky = ky0; ky < ky1; ++ky) {
        for (int64_t kx = kx0; kx < kx1; ++kx) {
          const int64_t off = (ky * W + kx) * C;
          const float* wk = w + (ky * KW + kx) * C * O + oc;
          for (int64_t c = 0; c < C; ++c) {
            const __m256 w0 = _mm256_loadu_ps(wk + c * O), w1 = _mm256_loadu_ps(wk + c * O + 8);
#define CNN_JAX_AT(i) (b##i + off + c)
            CNN_JAX_TILE(CNN_JAX_AT, w0, w1)
#undef CNN_JAX_AT
          }
        }
      }
      float* const out[6] = {y + (p0 + 0) * O + oc, y + (p0 + 1) * O + oc, y + (p0 + 2) * O + oc,
                             y + (p0 + 3) * O + oc, y + (p0 + 4) * O + oc, y + (p0 + 5) * O + oc};
      StoreTile(CNN_JAX_ACCUMULATORS, out, n);
    }
  }
}

// dw[m, o] += sum over pixels p of x[p + offset(m)] dy[p, o] for one image, for the rows
// m0..m0+5 of dw seen as [KH*KW*C, O] and its columns oc..oc+15.
CNN_JAX_AVX2 void KernelGradTile(const float* x, int64_t W, int64_t C, const float* dy,
                                 int64_t OH, int64_t OW, int64_t O, int64_t KW,
                                 int64_t m0, int64_t M, int64_t oc, float* dw) {
  const int64_t n = std::min<int64_t>(6, M - m0);
  int64_t offset[6];
  for (int64_t i = 0; i < 6; ++i) {
    const int64_t m = m0 + (i < n ? i : 0), c = m % C, k = m / C;
    offset[i] = ((k / KW) * W + (k % KW)) * C + c;
  }
  float* out[6];
  for (int64_t i = 0; i < 6; ++i) out[i] = dw + (m0 + (i < n ? i : 0)) * O + oc;
  __m256 a00 = _mm256_loadu_ps(out[0]), a01 = _mm256_loadu_ps(out[0] + 8);
  __m256 a10 = _mm256_loadu_ps(out[1]), a11 = _mm256_loadu_ps(out[1] + 8);
  __m256 a20 = _mm256_loadu_ps(out[2]), a21 = _mm256_loadu_ps(out[2] + 8);
  __m256 a30 = _mm256_loadu_ps(out[3]), a31 = _mm256_loadu_ps(out[3] + 8);
  __m256 a40 = _mm256_loadu_ps(out[4]), a41 = _mm256_loadu_ps(out[4] + 8);
  __m256 a50 = _mm256_loadu_ps(out[5]), a51 = _mm256_loadu_ps(out[5] + 8);
  const int64_t o0 = offset[0], o1 = offset[1], o2 = offset[2], o3 = offset[3],
                o4 = offset[4], o5 = offset[5];
  for (int64_t r = 0; r < OH; ++r) {
    for (int64_t c = 0; c < OW; ++c) {
      const float* xp = x + (r * W + c) * C;
      const float* g = dy + (r * OW + c) * O + oc;
      const __m256 g0 = _mm256_loadu_ps(g), g1 = _mm256_loadu_ps(g + 8);
#define CNN_JAX_AT(i) (xp + o##i)
      CNN_JAX_TILE(CNN_JAX_AT, g0, g1)
#undef CNN_JAX_AT
    }
  }
  StoreTile(CNN_JAX_ACCUMULATORS, out, n);
}

#endif  // __x86_64__

ffi::Error Forward(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> w,
                   ffi::ResultBuffer<ffi::F32> y, int64_t band_r, int64_t band_c) {
#if defined(__x86_64__)
  const auto xd = x.dimensions(), wd = w.dimensions();
  if (xd.size() != 4 || wd.size() != 4 || wd[2] != xd[3] || wd[3] % 16 != 0)
    return ffi::Error::InvalidArgument("conv: x [B,H,W,C], w [KH,KW,C,O] with O % 16 == 0");
  const int64_t B = xd[0], H = xd[1], W = xd[2], C = xd[3];
  const int64_t KH = wd[0], KW = wd[1], O = wd[3];
  const int64_t in_image = H * W * C, out_image = (H - KH + 1) * (W - KW + 1) * O;
  const float *xs = x.typed_data(), *ws = w.typed_data();
  float* ys = y->typed_data();
  ParallelFor(pool, B, [=](int64_t b) {
    ForwardImage(xs + b * in_image, H, W, C, ws, KH, KW, O, band_r, band_c,
                 ys + b * out_image);
  });
  return ffi::Error::Success();
#else
  return ffi::Error::Internal("cnn_jax's direct convolution needs an x86-64 CPU");
#endif
}

ffi::Error KernelGrad(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> x,
                      ffi::Buffer<ffi::F32> dy, ffi::ResultBuffer<ffi::F32> dw) {
#if defined(__x86_64__)
  const auto xd = x.dimensions(), gd = dy.dimensions(), wd = dw->dimensions();
  if (xd.size() != 4 || gd.size() != 4 || wd.size() != 4 || wd[3] % 16 != 0)
    return ffi::Error::InvalidArgument("conv: x, dy 4-D and dw [KH,KW,C,O], O % 16 == 0");
  const int64_t B = xd[0], W = xd[2], C = xd[3], OH = gd[1], OW = gd[2], O = gd[3];
  const int64_t KW = wd[1], M = wd[0] * wd[1] * wd[2];
  const int64_t m_tiles = (M + 5) / 6, o_tiles = O / 16, tiles = m_tiles * o_tiles;
  const int64_t in_image = xd[1] * W * C, out_image = OH * OW * O;
  const float *xs = x.typed_data(), *gs = dy.typed_data();
  float* dws = dw->typed_data();
  std::fill(dws, dws + M * O, 0.0f);
  // Each task: a run of tiles, over every image in order (the image stays in cache).
  const int64_t tasks = std::min<int64_t>(tiles, 4 * std::max<int64_t>(1, pool.num_threads()));
  ParallelFor(pool, tasks, [=](int64_t task) {
    const int64_t t0 = task * tiles / tasks, t1 = (task + 1) * tiles / tasks;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = t0; t < t1; ++t)
        KernelGradTile(xs + b * in_image, W, C, gs + b * out_image, OH, OW, O, KW,
                       (t / o_tiles) * 6, M, (t % o_tiles) * 16, dws);
  });
  return ffi::Error::Success();
#else
  return ffi::Error::Internal("cnn_jax's direct convolution needs an x86-64 CPU");
#endif
}

}  // namespace

extern "C" int cnn_jax_conv_supported() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return 0;
#endif
}

XLA_FFI_DEFINE_HANDLER_SYMBOL(cnn_jax_conv_forward, Forward,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<int64_t>("band_rows")
                                  .Attr<int64_t>("band_cols"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(cnn_jax_conv_kernel_grad, KernelGrad,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>());
