/* isolate.h - run a risky read in a child process first.
 *
 * Some libraries crash (SIGSEGV, SIGABRT) on malformed files instead of
 * returning an error: HDF5 1.10.8 overreads its global heap while reading a
 * variable-length string attribute of a bit-flipped file (H5HG_read; found by
 * tests/fuzz/fuzz_weights, reproducer in tests/fuzz/weights/crashes/). To turn
 * that into an error, a reader can first run the same read in a forked child:
 * if the child dies by a signal the file is refused; if it exits, the parent
 * does the real read. Only for serial code (the child never calls MPI).
 */
#ifndef ASSORT_ISOLATE_H
#define ASSORT_ISOLATE_H

/* Runs fn(arg) in a forked child and waits for it, at most limit_s seconds
 * (then the child is killed by SIGALRM: HDF5 1.10.8 also loops forever on
 * some corrupt global heaps). Returns 0 when the child returned (whatever fn
 * returned: the parent repeats the work to get the result and message), or
 * the number of the signal that killed it (SIGALRM: out of time). Returns 0
 * too when fork() fails (then nothing was learnt; the caller goes on). The
 * child's stdout and stderr are the parent's; it leaves through _exit(). */
int isolate_probe(int (*fn)(void *arg), void *arg, unsigned limit_s);

/* isolate_probe() and its verdict as a status: ST_OK when the child returned,
 * else ST_DATA with one line "<path>: corrupt <kind>: the HDF5 library crashed
 * reading <object> (signal N); <fix>" (or "did not finish reading <object> in
 * <limit_s> s" when it ran out of time). */
int isolate_read(int (*fn)(void *arg), void *arg, unsigned limit_s, const char *path,
                 const char *kind, const char *object, const char *fix);

#endif
