/* levi/random.h — levi's one PRNG (data order, weight initialization). */
#ifndef LEVI_RANDOM_H
#define LEVI_RANDOM_H

#ifdef __cplusplus
extern "C" {
#endif

/* splitmix64: integer-only, so the same seed gives the same stream on every
 * machine. Advances *state and returns 64 random bits. */
unsigned long long levi_splitmix64(unsigned long long *state);

#ifdef __cplusplus
}
#endif
#endif
