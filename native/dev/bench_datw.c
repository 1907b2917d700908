/* Standalone timing of dd_datw_cpu (no JVM, no Python):
 *   gcc -O2 -I../jextract dev/bench_datw.c -Lbuild -ldualdistill_kernels -Wl,-rpath,$PWD/build -o build/bench_datw -lm
 *   build/bench_datw B C K threads */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "dualdistill_kernels.h"

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

int main(int argc, char **argv) {
    long B = argc > 1 ? atol(argv[1]) : 64, C = argc > 2 ? atol(argv[2]) : 400;
    int K = argc > 3 ? atoi(argv[3]) : 2, th = argc > 4 ? atoi(argv[4]) : 0;
    float *s = malloc(B * C * 4), *t[8], *g = malloc(B * C * 4), w[8 * 4096], rl[2 * 4096 * 4], loss[3];
    int64_t *y = malloc(B * 8);
    srand(1);
    for (long i = 0; i < B * C; i++) s[i] = (rand() / (float)RAND_MAX - 0.5f) * 6;
    for (int k = 0; k < K; k++) { t[k] = malloc(B * C * 4); for (long i = 0; i < B * C; i++) t[k][i] = (rand() / (float)RAND_MAX - 0.5f) * 6 * (k + 1); }
    for (long b = 0; b < B; b++) y[b] = b % C;
    dd_datw_params p = {0};
    p.batch = B; p.classes = C; p.teachers = K; p.dtype = DD_FLOAT32; p.student = s; p.student_stride = C;
    for (int k = 0; k < K; k++) { p.teacher[k] = t[k]; p.teacher_stride[k] = C; }
    p.labels = y; p.temperature = 4; p.tau_conf = 1; p.tau_weight = 0.25f; p.lambda = 0.5f; p.linear_eps = 1e-8f;
    p.alpha_ce = 1; p.alpha_kd = 1; p.grad_student = g; p.grad_stride = C; p.weights = w; p.row_loss = rl; p.loss = loss;
    p.num_threads = th;
    float *rlb = malloc(B * 2 * 4); p.row_loss = rlb;
    for (int i = 0; i < 50; i++) dd_datw_cpu(&p);
    int n = 2000000 / (B * C / 64 + 1); if (n < 20) n = 20;
    double t0 = now();
    for (int i = 0; i < n; i++) dd_datw_cpu(&p);
    double dt = (now() - t0) / n;
    printf("B=%ld C=%ld K=%d threads=%d: %.1f us/call, %.2f ns/element (loss %f)\n", B, C, K, th, dt * 1e6, dt * 1e9 / (B * C), loss[0]);
    return 0;
}
