/* lock.h - one writer at a time per catalog.
 *
 * A write transaction (catalog_begin .. catalog_commit / catalog_abort)
 * copies the catalog to "<catalog>.work" and renames the copy back at the
 * end. Two at once on one catalog (two sweep array tasks, a hand-run stage
 * during the nightly chain) would share that work path: the second would
 * remove the first's copy, and the first's commit would rename the second's
 * half-written copy over the catalog. So rank 0 of every transaction holds
 * an exclusive fcntl() lock on "<catalog>.lock" from before the copy until
 * after the rename; a second writer waits for it.
 *
 * The kernel drops the lock when its process exits, however it exits: no
 * stale locks. fcntl() locks are per process, so one process that begins a
 * second transaction on the same catalog does not deadlock with itself; they
 * work across nodes where the filesystem supports POSIX locks (NFSv4; Lustre
 * mounted with -o flock). Where it does not (ENOLCK), a warning is logged and
 * the transaction goes on unlocked. The lock file is never removed (removing
 * it would let two writers lock two different files); it holds one line
 * naming the holder, for the waiting side's messages.
 */
#ifndef ASSORT_CATALOG_LOCK_H
#define ASSORT_CATALOG_LOCK_H

/* Takes the writer lock of catalog `path` for `stage` (local: rank 0 calls
 * it). Waits while another process holds it, logging who holds it at once
 * and every minute; the wait is limited by ASSORT_LOCK_WAIT_S (seconds; 0 =
 * do not wait; unset = no limit). Returns ST_OK with *fd >= 0 (or -1 when
 * the filesystem has no locks); ST_ERR when the wait limit passed or the lock
 * file cannot be opened; ST_INTERRUPTED when a stop signal (SIGTERM/SIGUSR1)
 * came while waiting (nothing was done: rerun). Each message names the lock
 * file and the holder. */
int catalog_lock_take(const char *path, const char *stage, int *fd);

/* Drops the lock (closes *fd) and sets *fd = -1; no-op when *fd < 0. */
void catalog_lock_drop(int *fd);

#endif
