/*
 * Dev timing of dd_dwconv3d_cpu's three passes at X3D-S's batch-8 depthwise shapes (not a test; numbers go to
 * benchmarks/RESULTS.md only through JMH). Build from native/:
 *   make && cc -O2 -fopenmp -I../jextract dev/bench_dwconv.c -Lbuild -ldualdistill_kernels -Wl,-rpath,build -o build/bench_dwconv
 *   build/bench_dwconv [threads]
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include "dualdistill_kernels.h"

static double now(void) { return omp_get_wtime(); }

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    /* C, H_in, stride, kt, kh: res2 first, res2, res3 first, res4, res5, stem conv_xy */
    const int cases[][5] = {{54, 80, 2, 3, 3}, {54, 40, 1, 3, 3}, {108, 40, 2, 3, 3}, {216, 10, 1, 3, 3},
                            {432, 5, 1, 3, 3}, {24, 80, 1, 5, 1}};
    for (unsigned c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const int C = cases[c][0], H = cases[c][1], s = cases[c][2], kt = cases[c][3], k = cases[c][4];
        const int N = 8, T = 13, pad = k / 2;
        const int Ho = (H + 2 * pad - k) / s + 1;
        size_t nin = (size_t)N * C * T * H * H, nout = (size_t)N * C * T * Ho * Ho;
        float *x = malloc(nin * 4), *gx = malloc(nin * 4), *y = malloc(nout * 4), *w = malloc((size_t)C * kt * k * k * 4),
              *gw = malloc((size_t)C * kt * k * k * 4);
        for (size_t i = 0; i < nin; i++) x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
        for (int i = 0; i < C * kt * k * k; i++) w[i] = 0.01f * (i % 17);
        dd_dwconv3d_params p = {0};
        p.batch = N; p.channels = C; p.in_t = T; p.in_h = H; p.in_w = H; p.out_t = T; p.out_h = Ho; p.out_w = Ho;
        p.k_t = kt; p.k_h = k; p.k_w = k; p.stride_t = 1; p.stride_h = s; p.stride_w = s;
        p.pad_t = kt / 2; p.pad_h = pad; p.pad_w = pad; p.dtype = DD_FLOAT32; p.num_threads = threads;
        p.input = x; p.weight = w; p.output = y; p.grad_output = y; p.grad_input = gx; p.grad_weight = gw;
        double t[3];
        for (int m = 0; m < 3; m++) {
            p.mode = m;
            double best = 1e9;
            for (int r = 0; r < 3; r++) {
                double t0 = now();
                dd_status st = dd_dwconv3d_cpu(&p);
                double dt = now() - t0;
                if (st != DD_OK) { printf("status %d\n", st); return 1; }
                if (dt < best) best = dt;
            }
            t[m] = best * 1e3;
        }
        printf("C=%3d H=%2d s=%d k=%dx%d: forward %7.1f ms  grad_input %7.1f ms  grad_weight %7.1f ms\n", C, H, s, kt, k,
               t[0], t[1], t[2]);
        free(x); free(gx); free(y); free(w); free(gw);
    }
    return 0;
}
