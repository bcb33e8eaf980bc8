/*
 * How far apart the machine's first two CPUs are right now: one cache line passed back and forth between a thread
 * pinned on CPU 0 and one on CPU 1; prints the median one-way time of REPS rounds of 100 000 round trips in ns.
 * On the 2-vCPU EPYC VMs this project is measured on it reads ~30-40 ns while the vCPUs share a CCD (one L3) and
 * ~160-175 ns while the hypervisor runs them on different CCDs, which makes every kernel that reads rows the other
 * core wrote slower (bench/PERFORMANCE.md, "The two vCPUs on different CCDs"). Used by compare-torch.sh.
 *   cc -O2 -pthread -o vcpu-pingpong vcpu-pingpong.c && ./vcpu-pingpong [REPS]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define TRIPS 100000L

static _Atomic long line __attribute__((aligned(128)));

static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *answer(void *unused) {
    (void) unused;
    pin(1);
    for (long i = 0; i < TRIPS; i++) {
        while (atomic_load_explicit(&line, memory_order_acquire) != 2 * i + 1) {}
        atomic_store_explicit(&line, 2 * i + 2, memory_order_release);
    }
    return NULL;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1) reps = 1;
    double *ns = malloc(sizeof(double) * reps);
    pin(0);
    for (int r = 0; r < reps; r++) {
        atomic_store(&line, 0);
        pthread_t t;
        pthread_create(&t, NULL, answer, NULL);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long i = 0; i < TRIPS; i++) {
            atomic_store_explicit(&line, 2 * i + 1, memory_order_release);
            while (atomic_load_explicit(&line, memory_order_acquire) != 2 * i + 2) {}
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        pthread_join(t, NULL);
        ns[r] = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / TRIPS / 2;
    }
    qsort(ns, reps, sizeof(double), by_value);
    printf("%.0f\n", ns[reps / 2]);
    free(ns);
    return 0;
}
