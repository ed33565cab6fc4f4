/* fastsci internal: a test hook of profile.c. Not part of the public API. */
#ifndef FASTSCI_CORE_PROFILE_IMPL_H
#define FASTSCI_CORE_PROFILE_IMPL_H

typedef double (*fsci__clock_fn)(void);

/* Make fsci_clock (and so profiling events and progress reports) read `now`
 * instead of the monotonic clock; NULL restores the real clock. For tests
 * that must not depend on how fast the machine runs. */
void fsci__profile_set_clock(fsci__clock_fn now);

#endif
