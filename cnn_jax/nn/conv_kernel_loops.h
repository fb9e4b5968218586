// The direct convolution's loops, written once for any vector width. conv_kernel.cc includes
// this file once per instruction set, inside a namespace that first defines
//
//   V          the vector register type (__m256, __m512)
//   kLanes     floats per register (8, 16)
//   kRows      rows of a tile: pixels, or rows of the kernel gradient (6, 12)
//   Zero(), Load(p), Store(p, v), Broadcast(p), MulAdd(a, b, c) = a * b + c
//
// and compiles it for that instruction set (#pragma GCC target). A tile is kRows rows x N
// registers of channels (N = 2, or 1 for the last 16 channels), held in registers while
// its whole contraction runs. Every output element is one chain of multiply-adds in a
// fixed order that depends neither on the tile size nor on the number of threads, so both
// instruction sets give the same numbers, bit for bit.

// acc[i][j] += sum over k < K, in order, of a[i][k * sa] * b[k * sb + j * kLanes].
template <int N>
inline __attribute__((always_inline)) void MultiplyAdd(V (&acc)[kRows][N],
                                                       const float* const (&a)[kRows],
                                                       int64_t sa, const float* b, int64_t sb,
                                                       int64_t K) {
  for (int64_t k = 0; k < K; ++k) {
    V bk[N];
#pragma GCC unroll 2
    for (int j = 0; j < N; ++j) bk[j] = Load(b + k * sb + j * kLanes);
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i) {
      const V s = Broadcast(a[i] + k * sa);
#pragma GCC unroll 2
      for (int j = 0; j < N; ++j) acc[i][j] = MulAdd(s, bk[j], acc[i][j]);
    }
  }
}

template <int N>
inline __attribute__((always_inline)) void LoadTile(V (&acc)[kRows][N],
                                                    float* const (&at)[kRows]) {
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i)
#pragma GCC unroll 2
    for (int j = 0; j < N; ++j) acc[i][j] = Load(at[i] + j * kLanes);
}

// Writes the first n rows (the others repeat row 0 of a tile cut short by the edge).
template <int N>
inline __attribute__((always_inline)) void StoreTile(const V (&acc)[kRows][N],
                                                     float* const (&at)[kRows], int64_t n) {
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i) {
    if (i < n) {
#pragma GCC unroll 2
      for (int j = 0; j < N; ++j) Store(at[i] + j * kLanes, acc[i][j]);
    }
  }
}

// Channels oc .. oc + N * kLanes of the tile of pixels whose inputs start at base[i].
template <int N>
void ForwardTile(const float* const (&base)[kRows], int64_t n, int64_t W, int64_t C,
                 const float* w, int64_t KH, int64_t KW, int64_t O, int64_t oc,
                 float* const (&out)[kRows]) {
  V acc[kRows][N];
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i)
#pragma GCC unroll 2
    for (int j = 0; j < N; ++j) acc[i][j] = Zero();
  for (int64_t ky = 0; ky < KH; ++ky) {
    for (int64_t kx = 0; kx < KW; ++kx) {
      const int64_t off = (ky * W + kx) * C;
      const float* a[kRows];
#pragma GCC unroll 16
      for (int i = 0; i < kRows; ++i) a[i] = base[i] + off;
      MultiplyAdd<N>(acc, a, 1, w + (ky * KW + kx) * C * O + oc, O, C);
    }
  }
  StoreTile<N>(acc, out, n);
}

// y[p, o] = sum over (ky, kx, c) of x[p + (ky, kx), c] w[ky, kx, c, o] for one image
// x [H, W, C], w [KH, KW, C, O], y [H-KH+1, W-KW+1, O]. Tiles run on across row ends.
void ForwardImage(const float* x, int64_t H, int64_t W, int64_t C, const float* w,
                  int64_t KH, int64_t KW, int64_t O, float* y) {
  const int64_t OW = W - KW + 1, P = (H - KH + 1) * OW;
  for (int64_t p0 = 0; p0 < P; p0 += kRows) {
    const int64_t n = std::min<int64_t>(kRows, P - p0);
    const float* base[kRows];
    float* out[kRows];
    for (int i = 0; i < kRows; ++i) {
      const int64_t p = p0 + (i < n ? i : 0);
      base[i] = x + ((p / OW) * W + p % OW) * C;
      out[i] = y + p * O;
    }
    int64_t oc = 0;
    for (; oc + 2 * kLanes <= O; oc += 2 * kLanes) {
      ForwardTile<2>(base, n, W, C, w, KH, KW, O, oc, out);
      for (int i = 0; i < kRows; ++i) out[i] += 2 * kLanes;
    }
    if (oc < O) ForwardTile<1>(base, n, W, C, w, KH, KW, O, oc, out);
  }
}

// dx[p + (ky, kx), c] += sum over o of dy[p, o] wt[ky, kx, o, c] for one image:
// dy [OH, OW, O], wt [KH, KW, O, C] (the kernel with its channel axes swapped), dx
// [OH+KH-1, OW+KW-1, C]. Each kernel offset scatters the whole image in turn, last offset
// first: every dx element then sums its terms in the order of the forward of the padded
// dy with the flipped kernel, and reads no padding.
void InputGradImage(const float* dy, int64_t OH, int64_t OW, int64_t O, const float* wt,
                    int64_t KH, int64_t KW, int64_t C, float* dx) {
  const int64_t W = OW + KW - 1, P = OH * OW;
  std::fill(dx, dx + (OH + KH - 1) * W * C, 0.0f);
  for (int64_t ky = KH - 1; ky >= 0; --ky) {
    for (int64_t kx = KW - 1; kx >= 0; --kx) {
      const float* wk = wt + (ky * KW + kx) * O * C;
      for (int64_t p0 = 0; p0 < P; p0 += kRows) {
        const int64_t n = std::min<int64_t>(kRows, P - p0);
        const float* a[kRows];
        float* at[kRows];
        for (int i = 0; i < kRows; ++i) {
          const int64_t p = p0 + (i < n ? i : 0), r = p / OW + ky, c = p % OW + kx;
          a[i] = dy + p * O;
          at[i] = dx + (r * W + c) * C;
        }
        int64_t cc = 0;
        for (; cc + 2 * kLanes <= C; cc += 2 * kLanes) {
          V acc[kRows][2];
          LoadTile<2>(acc, at);
          MultiplyAdd<2>(acc, a, 1, wk + cc, C, O);
          StoreTile<2>(acc, at, n);
          for (int i = 0; i < kRows; ++i) at[i] += 2 * kLanes;
        }
        if (cc < C) {
          V acc[kRows][1];
          LoadTile<1>(acc, at);
          MultiplyAdd<1>(acc, a, 1, wk + cc, C, O);
          StoreTile<1>(acc, at, n);
        }
      }
    }
  }
}

// dw[m, o] += sum over pixels p of x[p + offset(m)] dy[p, o] for one image, for the rows
// m0 .. m0 + kRows - 1 of dw seen as [KH*KW*C, O] and its columns oc .. oc + N * kLanes.
template <int N>
void KernelGradTile(const float* x, int64_t W, int64_t C, const float* dy, int64_t OH,
                    int64_t OW, int64_t O, int64_t KW, int64_t m0, int64_t M, int64_t oc,
                    float* dw) {
  const int64_t n = std::min<int64_t>(kRows, M - m0);
  int64_t offset[kRows];
  float* out[kRows];
  for (int i = 0; i < kRows; ++i) {
    const int64_t m = m0 + (i < n ? i : 0), c = m % C, k = m / C;
    offset[i] = ((k / KW) * W + (k % KW)) * C + c;
    out[i] = dw + m * O + oc;
  }
  V acc[kRows][N];
  LoadTile<N>(acc, out);
  for (int64_t r = 0; r < OH; ++r) {
    const float* a[kRows];
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i) a[i] = x + r * W * C + offset[i];
    MultiplyAdd<N>(acc, a, C, dy + r * OW * O + oc, O, OW);
  }
  StoreTile<N>(acc, out, n);
}
