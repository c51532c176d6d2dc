/* fault.h - fault injection for tests (reliability, abort paths).
 *
 * ASSORT_FAULT="<point>@<rank>[,<point>@<rank>...]" makes fault_point(point)
 * fail on that rank: "fail:<point>@<rank>" (or a bare "<point>@<rank>")
 * returns ST_ERR with "injected fault at <point>"; "kill:<point>@<rank>"
 * raises SIGKILL (a crash); "term:<point>@<rank>" / "usr1:<point>@<rank>"
 * raise SIGTERM / SIGUSR1 on that rank and carry on (the installed handler
 * sets the stop flag, as a signal from Slurm would; the stage's next stop
 * check acts on it); "<point>@*" matches every rank. Points may carry a
 * count suffix "#N" in the spec ("kill:extract.batch#3@0") to trigger on the
 * N-th call only. Unset: no cost beyond a getenv on first use.
 *
 * Points in the tree: ingest.batch, extract.batch, train.step,
 * similarity.step, classify.level, info, and "<stage>.end" (ingest.end,
 * extract.end, ...: signals_finish, after a stage's last stop check, for the
 * late-signal tests) (docs/reliability.md).
 */
#ifndef ASSORT_FAULT_H
#define ASSORT_FAULT_H

/* ST_OK, or ST_ERR (message set) when an injected failure matches; a
 * matching kill does not return; a matching signal returns ST_OK after
 * raise(). */
int fault_point(const char *point);

/* 1 when ASSORT_FAULT names any point. Every rank of a job sees the same
 * environment, so loops with collectives can agree an injected failure only
 * when armed: `if (fault_armed()) TRY(dist_agree(fault_point("x")));`. */
int fault_armed(void);

#endif
