/* isolate.c - see isolate.h. */
#include "isolate.h"

#include "status.h"

#include <errno.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ISOLATE_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ISOLATE_ASAN 1
#endif

#ifdef ISOLATE_ASAN
/* Under AddressSanitizer a bad read inside the library is a report and an
 * exit(1), not a signal: make the child die by SIGABRT then, so that sanitizer
 * builds refuse the same files as the product build. */
void __sanitizer_set_death_callback(void (*callback)(void));
static void die_by_signal(void) {
    signal(SIGABRT, SIG_DFL);
    raise(SIGABRT);
}
#endif

int isolate_probe(int (*fn)(void *arg), void *arg, unsigned limit_s) {
    pid_t pid = fork();
    if (pid < 0) return 0;
    if (pid == 0) {
        /* Die quietly: no backtrace from Open MPI's (inherited) handlers. */
        static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
        for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) signal(fatal[i], SIG_DFL);
#ifdef ISOLATE_ASAN
        __sanitizer_set_death_callback(die_by_signal);
#endif
        signal(SIGALRM, SIG_DFL);
        alarm(limit_s);
        _exit(fn(arg) & 0x7f);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return 0;
    return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

int isolate_read(int (*fn)(void *arg), void *arg, unsigned limit_s, const char *path,
                 const char *kind, const char *object, const char *fix) {
    int sig = isolate_probe(fn, arg, limit_s);
    if (sig == SIGALRM)
        return err_set(ST_DATA,
                       "%s: corrupt %s: the HDF5 library did not finish reading %s in %u s; %s",
                       path, kind, object, limit_s, fix);
    if (sig)
        return err_set(ST_DATA, "%s: corrupt %s: the HDF5 library crashed reading %s (signal %d); %s",
                       path, kind, object, sig, fix);
    return ST_OK;
}
