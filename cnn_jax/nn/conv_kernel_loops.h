// The direct convolution's loops, written once for any vector width. conv_kernel.cc includes
// this file once per instruction set, inside a namespace that first defines
//
//   V          the vector register type (__m256, __m512)
//   kLanes     floats per register (8, 16)
//   kRows      rows of a full tile: pixels, or rows of the kernel gradient (6, 12)
//   Zero(), Load(p), Store(p, v), Broadcast(p), MulAdd(a, b, c) = a * b + c
//
// and compiles it for that instruction set (#pragma GCC target). A tile is R rows x N
// registers of channels (N = 2, or 1 for the last 16 channels), held in registers while
// its whole contraction runs; R = kRows, or kRows / 2 for the last rows of an image where
// that is enough (fewer rows computed only to be dropped). Every output element is one
// chain of multiply-adds in a fixed order that depends neither on the tile size nor on the
// number of threads, so both instruction sets give the same numbers, bit for bit.

// acc[i][j] += sum over k < K, in order, of a[i][k * sa] * b[k * sb + j * kLanes].
template <int R, int N>
inline __attribute__((always_inline)) void MultiplyAdd(V (&acc)[R][N],
                                                       const float* const (&a)[R],
                                                       int64_t sa, const float* b, int64_t sb,
                                                       int64_t K) {
  for (int64_t k = 0; k < K; ++k) {
    V bk[N];
#pragma GCC unroll 2
    for (int j = 0; j < N; ++j) bk[j] = Load(b + k * sb + j * kLanes);
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
      const V s = Broadcast(a[i] + k * sa);
#pragma GCC unroll 2
      for (int j = 0; j < N; ++j) acc[i][j] = MulAdd(s, bk[j], acc[i][j]);
    }
  }
}

template <int R, int N>
inline __attribute__((always_inline)) void LoadTile(V (&acc)[R][N], float* const (&at)[R]) {
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 2
    for (int j = 0; j < N; ++j) acc[i][j] = Load(at[i] + j * kLanes);
}

// Writes the first n rows (the others repeat row 0 of a tile cut short by the edge).
template <int R, int N>
inline __attribute__((always_inline)) void StoreTile(const V (&acc)[R][N],
                                                     float* const (&at)[R], int64_t n) {
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i) {
    if (i < n) {
#pragma GCC unroll 2
      for (int j = 0; j < N; ++j) Store(at[i] + j * kLanes, acc[i][j]);
    }
  }
}

// Channels oc .. oc + N * kLanes of the tile of pixels whose inputs start at base[i].
template <int R, int N>
void ForwardTile(const float* const (&base)[R], int64_t n, int64_t W, int64_t C,
                 const float* w, int64_t KH, int64_t KW, int64_t O, int64_t oc,
                 float* const (&out)[R]) {
  V acc[R][N];
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 2
    for (int j = 0; j < N; ++j) acc[i][j] = Zero();
  for (int64_t ky = 0; ky < KH; ++ky) {
    for (int64_t kx = 0; kx < KW; ++kx) {
      const int64_t off = (ky * W + kx) * C;
      const float* a[R];
#pragma GCC unroll 16
      for (int i = 0; i < R; ++i) a[i] = base[i] + off;
      MultiplyAdd<R, N>(acc, a, 1, w + (ky * KW + kx) * C * O + oc, O, C);
    }
  }
  StoreTile<R, N>(acc, out, n);
}

// The n <= R pixels p0 .. p0 + n - 1 of one image, every channel.
template <int R>
void ForwardPixels(const float* x, int64_t W, int64_t C, const float* w, int64_t KH,
                   int64_t KW, int64_t OW, int64_t O, int64_t p0, int64_t n, float* y) {
  const float* base[R];
  float* out[R];
  for (int i = 0; i < R; ++i) {
    const int64_t p = p0 + (i < n ? i : 0);
    base[i] = x + ((p / OW) * W + p % OW) * C;
    out[i] = y + p * O;
  }
  int64_t oc = 0;
  for (; oc + 2 * kLanes <= O; oc += 2 * kLanes) {
    ForwardTile<R, 2>(base, n, W, C, w, KH, KW, O, oc, out);
    for (int i = 0; i < R; ++i) out[i] += 2 * kLanes;
  }
  if (oc < O) ForwardTile<R, 1>(base, n, W, C, w, KH, KW, O, oc, out);
}

// y[p, o] = sum over (ky, kx, c) of x[p + (ky, kx), c] w[ky, kx, c, o] for one image
// x [H, W, C], w [KH, KW, C, O], y [H-KH+1, W-KW+1, O]. Tiles run on across row ends.
void ForwardImage(const float* x, int64_t H, int64_t W, int64_t C, const float* w,
                  int64_t KH, int64_t KW, int64_t O, float* y) {
  const int64_t OW = W - KW + 1, P = (H - KH + 1) * OW;
  for (int64_t p0 = 0; p0 < P; p0 += kRows) {
    const int64_t n = std::min<int64_t>(kRows, P - p0);
    if (n > kRows / 2)
      ForwardPixels<kRows>(x, W, C, w, KH, KW, OW, O, p0, n, y);
    else
      ForwardPixels<kRows / 2>(x, W, C, w, KH, KW, OW, O, p0, n, y);
  }
}

// The dy pixels p0 .. p0 + n - 1 (n <= R) of one kernel offset (ky, kx), every channel.
template <int R>
void InputGradPixels(const float* dy, int64_t OW, int64_t O, const float* wk, int64_t ky,
                     int64_t kx, int64_t W, int64_t C, int64_t p0, int64_t n, float* dx) {
  const float* a[R];
  float* at[R];
  for (int i = 0; i < R; ++i) {
    const int64_t p = p0 + (i < n ? i : 0), r = p / OW + ky, c = p % OW + kx;
    a[i] = dy + p * O;
    at[i] = dx + (r * W + c) * C;
  }
  int64_t cc = 0;
  for (; cc + 2 * kLanes <= C; cc += 2 * kLanes) {
    V acc[R][2];
    LoadTile<R, 2>(acc, at);
    MultiplyAdd<R, 2>(acc, a, 1, wk + cc, C, O);
    StoreTile<R, 2>(acc, at, n);
    for (int i = 0; i < R; ++i) at[i] += 2 * kLanes;
  }
  if (cc < C) {
    V acc[R][1];
    LoadTile<R, 1>(acc, at);
    MultiplyAdd<R, 1>(acc, a, 1, wk + cc, C, O);
    StoreTile<R, 1>(acc, at, n);
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
        if (n > kRows / 2)
          InputGradPixels<kRows>(dy, OW, O, wk, ky, kx, W, C, p0, n, dx);
        else
          InputGradPixels<kRows / 2>(dy, OW, O, wk, ky, kx, W, C, p0, n, dx);
      }
    }
  }
}

// The rows m0 .. m0 + n - 1 (n <= R) of one kernel-gradient tile.
template <int R, int N>
void KernelGradRows(const float* x, int64_t W, int64_t C, const float* dy, int64_t OH,
                    int64_t OW, int64_t O, int64_t KW, int64_t m0, int64_t n, int64_t oc,
                    float* dw) {
  int64_t offset[R];
  float* out[R];
  for (int i = 0; i < R; ++i) {
    const int64_t m = m0 + (i < n ? i : 0), c = m % C, k = m / C;
    offset[i] = ((k / KW) * W + (k % KW)) * C + c;
    out[i] = dw + m * O + oc;
  }
  V acc[R][N];
  LoadTile<R, N>(acc, out);
  for (int64_t r = 0; r < OH; ++r) {
    const float* a[R];
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) a[i] = x + r * W * C + offset[i];
    MultiplyAdd<R, N>(acc, a, C, dy + r * OW * O + oc, O, OW);
  }
  StoreTile<R, N>(acc, out, n);
}

// dw[m, o] += sum over pixels p of x[p + offset(m)] dy[p, o] for one image, for the rows
// m0 .. m0 + kRows - 1 of dw seen as [KH*KW*C, O] and its columns oc .. oc + N * kLanes.
template <int N>
void KernelGradTile(const float* x, int64_t W, int64_t C, const float* dy, int64_t OH,
                    int64_t OW, int64_t O, int64_t KW, int64_t m0, int64_t M, int64_t oc,
                    float* dw) {
  const int64_t n = std::min<int64_t>(kRows, M - m0);
  if (n > kRows / 2)
    KernelGradRows<kRows, N>(x, W, C, dy, OH, OW, O, KW, m0, n, oc, dw);
  else
    KernelGradRows<kRows / 2, N>(x, W, C, dy, OH, OW, O, KW, m0, n, oc, dw);
}
