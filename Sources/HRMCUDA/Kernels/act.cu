// act.cu: ACT bookkeeping on [B] vectors (halting decision, Q-learning target).
// No backward: these run without gradient.
#include "common.cuh"

/// steps += 1; halted = steps >= maxSteps; if useQ: halted |= qHalt > qCont,
/// then halted &= steps >= minSteps.
extern "C" __global__ void act_halt_kernel(int* steps, const void* qHalt, int qhdt, const void* qCont, int qcdt,
                                           const int* minSteps, int maxSteps, int useQ, int* halted, i64 n) {
  GRID_LOOP(i, n) {
    const int s = steps[i] + 1;
    steps[i] = s;
    bool h = s >= maxSteps;
    if (useQ) {
      h = h || (load_f(qHalt, qhdt, i) > load_f(qCont, qcdt, i));
      h = h && (s >= minSteps[i]);
    }
    halted[i] = h ? 1 : 0;
  }
}

/// target = sigmoid(steps >= maxSteps ? nextHalt : max(nextHalt, nextCont)).
extern "C" __global__ void act_target_kernel(const void* nextHalt, int nhdt, const void* nextCont, int ncdt,
                                             const int* steps, int maxSteps, void* target, int tdt, i64 n) {
  GRID_LOOP(i, n) {
    const float h = load_f(nextHalt, nhdt, i), c = load_f(nextCont, ncdt, i);
    const float x = steps[i] >= maxSteps ? h : fmaxf(h, c);
    store_f(target, tdt, i, sigmoid_f(x));
  }
}
