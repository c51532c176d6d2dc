/* fault.h - fault injection for tests (reliability, abort paths).
 *
 * ASSORT_FAULT="<point>@<rank>[,<point>@<rank>...]" makes fault_point(point)
 * fail on that rank: "fail:<point>@<rank>" (or a bare "<point>@<rank>")
 * returns ST_ERR with "injected fault at <point>"; "kill:<point>@<rank>"
 * raises SIGKILL (a crash); "<point>@*" matches every rank. Points may carry a
 * count suffix "#N" in the spec ("kill:extract.batch#3@0") to trigger on the
 * N-th call only. Unset: no cost beyond a getenv on first use.
 */
#ifndef ASSORT_FAULT_H
#define ASSORT_FAULT_H

/* ST_OK, or ST_ERR (message set) when an injected failure matches. */
int fault_point(const char *point);

#endif
