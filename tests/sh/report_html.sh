#!/usr/bin/env bash
# report_html.sh - `assort report` on a small real run: a catalog made through
# the catalog API (test_report_make: 480 products, images, features), then
# `assort train` and `assort similarity`, then the report. Checks:
#   - the HTML is well-formed (python3 html.parser, strict tag balance);
#   - no external URL (no http://, https://, or // in src/href);
#   - the product named <script>alert(1)</script> appears escaped;
#   - headless Chromium loads it without console errors; its DOM has every
#     section id; a screenshot is saved (build/tests/report_html/report.png);
#   - the numbers in the report equal /runs/<id> read with h5py (metric cards,
#     learning curves, confusion cells, per-class table, group counts);
#   - --run with an unknown id exits 2; a catalog without runs still renders
#     every section with "not available in this catalog".
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
keep="$ASSORT_BUILD/tests/report_html"; mkdir -p "$keep"
py="$ASSORT_SRC/.venv/bin/python"
if ! "$py" -c 'import h5py' 2>/dev/null; then
  echo "report_html: needs h5py in $ASSORT_SRC/.venv (run tools/setup-deps)"; exit 77
fi
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "report_html: installing chromium (Debian) for the browser check"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || true
  fi
  command -v chromium >/dev/null || { echo "report_html: chromium not installed and not installable (apt-get install chromium)"; exit 77; }
fi
cat="$tmp/c.h5"
"$ASSORT_BUILD/tests/test_report_make" "$cat"
"$ASSORT_BIN" report "$cat" --out "$tmp/empty.html" 2>"$tmp/log0" || { cat "$tmp/log0"; exit 1; }
set_train="--set train.levels=[master,type] --set train.epochs=15 --set train.lr=0.05 --set train.min_class_count=5"
$MPIEXEC -n 2 "$ASSORT_BIN" train "$cat" $set_train >"$tmp/log1" 2>&1 || { cat "$tmp/log1"; exit 1; }
"$ASSORT_BIN" similarity "$cat" --set similarity.k=8 >"$tmp/log2" 2>&1 || { cat "$tmp/log2"; exit 1; }
$MPIEXEC -n 2 "$ASSORT_BIN" report "$cat" --out "$tmp/report.html" --set report.gallery_rows=8 \
  >"$tmp/log3" 2>&1 || { cat "$tmp/log3"; exit 1; }
cp "$tmp/report.html" "$keep/report.html"
rc=0; "$ASSORT_BIN" report "$cat" --run no-such-run --out "$tmp/x.html" 2>"$tmp/err" || rc=$?
[ "$rc" = 2 ] || { echo "FAIL: unknown --run gave exit $rc, expected 2"; exit 1; }
grep -q "no run 'no-such-run'" "$tmp/err" || { echo "FAIL: message: $(cat "$tmp/err")"; exit 1; }
[ ! -e "$tmp/x.html" ] || { echo "FAIL: a report was written for an unknown run"; exit 1; }

# browser: console errors, DOM, screenshot
chrome=(chromium --headless --disable-gpu --no-sandbox --enable-logging=stderr --v=0
        --allow-file-access-from-files --window-size=1280,2400)
timeout 120 "${chrome[@]}" --dump-dom "file://$tmp/report.html" >"$tmp/dom.html" 2>"$tmp/chrome.err"
timeout 120 "${chrome[@]}" --screenshot="$keep/report.png" "file://$tmp/report.html" >/dev/null 2>>"$tmp/chrome.err"
[ -s "$keep/report.png" ] || { echo "FAIL: no screenshot"; exit 1; }
if grep -E "CONSOLE|Uncaught|SyntaxError|Refused to|net::ERR" "$tmp/chrome.err"; then
  echo "FAIL: console errors while loading the report"; exit 1
fi

"$py" - "$cat" "$tmp/report.html" "$tmp/dom.html" "$tmp/empty.html" <<'PY'
import html.parser, json, math, re, sys
import h5py, numpy as np
cat, report, dom, empty = sys.argv[1:5]
fails = []
def check(cond, msg):
    if not cond: fails.append(msg)

VOID = {"area","base","br","col","embed","hr","img","input","link","meta","source","track","wbr"}
class Strict(html.parser.HTMLParser):
    """Tag balance: every non-void start tag closed in order; records data- attributes."""
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.elems, self.text = [], [], [], []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.elems.append((tag, a, list(self.stack)))
        if tag not in VOID: self.stack.append((tag, a))
    def handle_startendtag(self, tag, attrs):
        self.elems.append((tag, dict(attrs), list(self.stack)))
    def handle_endtag(self, tag):
        if tag in VOID: return
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append("unexpected </%s> at %s (open: %s)" % (tag, self.getpos(),
                               [t for t, _ in self.stack[-3:]]))
            return
        self.stack.pop()
    def handle_data(self, d): self.text.append(d)

for path in (report, empty):
    src = open(path, encoding="utf-8").read()
    p = Strict(); p.feed(src); p.close()
    check(not p.errors, "%s: %s" % (path, p.errors[:3]))
    check(not p.stack, "%s: unclosed tags %s" % (path, [t for t, _ in p.stack]))
    check(src.startswith("<!DOCTYPE html>"), "no doctype")
    for m in re.finditer(r'(?:src|href)\s*=\s*"([^"]*)"', src):
        u = m.group(1)
        check(u.startswith("data:") or u.startswith("#"), "external reference %r" % u[:60])
    check("http://" not in src and "https://" not in src, "an http(s) URL in %s" % path)
    check(src.count("<script") == 1, "%s: expected exactly one (inline) script" % path)
    for sec in ("summary","curves","confusion","per-class","calibration","neighbours","review","duplicates","nightly"):
        check('id="%s"' % sec in src, "%s: section %s missing" % (path, sec))
emp = open(empty, encoding="utf-8").read()
check(emp.count("not available in this catalog") >= 7, "empty catalog: sections should say 'not available'")

src = open(report, encoding="utf-8").read()
check("<script>alert(1)</script>" not in src, "product name not escaped")
check("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;" in src, "escaped product name not found")
d = open(dom, encoding="utf-8").read()
for sec in ("summary","curves","confusion","per-class","calibration","neighbours","review","duplicates","nightly"):
    check('id="%s"' % sec in d, "DOM lacks section #%s" % sec)
check(d.count('class="grow"') == 8, "DOM: expected 8 gallery rows, found %d" % d.count('class="grow"'))
check('class="thumb"' in d, "DOM: no thumbnails")
check('&lt;script&gt;alert(1)&lt;/script&gt;' in d, "DOM: escaped name not shown as text")

p = Strict(); p.feed(src); p.close()
def num(s): return float("nan") if s == "NaN" else float(s)
with h5py.File(cat, "r") as f:
    runs = sorted(f["runs"].keys())
    train = [r for r in runs if f["runs"][r].attrs["command"] in (b"train", "train")][-1]
    sim = [r for r in runs if f["runs"][r].attrs["command"] in (b"similarity", "similarity")][-1]
    g = f["runs"][train]
    m = json.loads(g["metrics_json"][()].decode())
    def path(o, keys):
        for k in keys:
            o = o[k]
        return o
    # metric cards: data-key (dotted path into the metrics JSON) = data-value
    cards = [(a["data-key"], num(a["data-value"])) for t, a, _ in p.elems if "data-key" in a]
    check(len(cards) >= 20, "too few metric cards (%d)" % len(cards))
    n_checked = 0
    for key, val in cards:
        if key.startswith("catalog."):
            continue
        want = path(m, key.split("."))
        check(abs(val - want) <= 1e-12 * max(1, abs(want)), "%s: report %r, run %r" % (key, val, want))
        n_checked += 1
    check(n_checked >= 20, "only %d run metrics checked" % n_checked)
    check(dict(cards).get("catalog.products") == f["products/id"].shape[0], "product count")
    # learning curves: the series' data-values = /runs/<id>/curves_<level>
    for lev in m["levels"]:
        cv = g["curves_" + lev][()]
        ser = {a["data-series"]: [num(v) for v in a["data-values"].split()] for t, a, st in p.elems
               if t == "g" and "data-series" in a and "data-values" in a
               and any(x[1].get("data-level") == lev for x in st)}
        for col, name in enumerate(["train loss", "train accuracy", "validation loss", "validation accuracy"]):
            check(name in ser and np.allclose(ser[name], cv[:, col], rtol=0, atol=0),
                  "curve %s/%s differs" % (lev, name))
        # confusion: the shown cells = the stored matrix (top classes + aggregated rest)
        cm = g["confusion_" + lev][()]
        wrap = [a for t, a, _ in p.elems if t == "div" and a.get("data-level") == lev and "data-classes" in a][0]
        order = [int(v) for v in wrap["data-classes"].split()]
        cells = {(int(a["data-row"]), int(a["data-col"])): int(a["data-count"]) for t, a, st in p.elems
                 if "data-count" in a and "data-row" in a and any(x[1] is wrap for x in st)}
        k = len(order)
        check(len(cells) == k * k, "confusion %s: %d cells, expected %d" % (lev, len(cells), k * k))
        idx = [o for o in order if o >= 0]
        rest = [c for c in range(cm.shape[0]) if c not in idx]
        for i, oi in enumerate(order):
            for j, oj in enumerate(order):
                ri = [oi] if oi >= 0 else rest
                cj = [oj] if oj >= 0 else rest
                check(cells.get((i, j)) == int(cm[np.ix_(ri, cj)].sum()), "confusion %s cell %d,%d" % (lev, i, j))
        check(sum(cells.values()) == int(cm.sum()), "confusion total")
        check(int(cm.sum()) == m["levels"][lev]["test"]["n"], "confusion total != test n")
        # per-class table
        rows = [(a["data-class"], st) for t, a, st in p.elems if t == "tr" and "data-class" in a
                and any(x[1].get("data-level") == lev for x in st)]
        pc = m["levels"][lev]["test"]["per_class"]
        check([r for r, _ in rows] == list(pc.keys()), "per-class rows of %s" % lev)
    tds = [(st, a) for t, a, st in p.elems if t == "td" and "data-metric" in a]
    for st, a in tds:
        tr = [x for x in st if x[0] == "tr"][-1][1]
        tab = [x for x in st if x[0] == "table"][-1][1]
        want = m["levels"][tab["data-level"]]["test"]["per_class"][tr["data-class"]][a["data-metric"]]
        check(num(a["data-value"]) == want, "per-class %s %s" % (tr["data-class"], a["data-metric"]))
    check(len(tds) > 0, "no per-class cells")
    # reliability: recomputed ECE close to the recorded one (same bins, same head)
    for t, a, st in p.elems:
        if "data-ece-before" in a:
            lev = a["data-level"]
            check(abs(num(a["data-ece-before"]) - m["levels"][lev]["test"]["ece"]) < 1e-4,
                  "ECE before %s: %s vs %s" % (lev, a["data-ece-before"], m["levels"][lev]["test"]["ece"]))
            check(abs(num(a["data-ece-after"]) - m["levels"][lev]["test_calibrated"]["ece"]) < 1e-4,
                  "ECE after %s" % lev)
            check(int(a["data-n"]) == m["levels"][lev]["test"]["n"], "reliability n %s" % lev)
    check(sum("data-ece-before" in a for _, a, _ in p.elems) == len(m["levels"]), "reliability per level")
    # near-duplicate groups
    s = f["similarity"][sim]
    gid, gsz = s["group_id"][()], s["group_size"][()]
    ng = int(sum(1 for i in range(len(gid)) if gsz[i] >= 2 and gid[i] == i))
    dc = [a for t, a, _ in p.elems if a.get("id") == "dup-count"][0]
    check(int(dc["data-groups"]) == ng, "groups %s vs %d" % (dc["data-groups"], ng))
    check(int(dc["data-products"]) == int((gsz >= 2).sum()), "products in groups")
    # gallery: neighbour fused scores match the stored ones
    q = list(s["query_rows"][()]); nb = s["neighbours"][()]; sf = s["score_fused"][()]
    for t, a, st in p.elems:
        if "data-fused" in a:
            qrow = int([x for x in st if "data-query" in x[1]][-1][1]["data-query"])
            row = int([x for x in st if x[0] == "div" and "data-row" in x[1]][-1][1]["data-row"])
            i = q.index(qrow); j = list(nb[i]).index(row)
            check(abs(float(a["data-fused"]) - float(sf[i, j])) < 1e-6, "fused score %d->%d" % (qrow, row))
if fails:
    print("\n".join("FAIL: " + x for x in fails[:30])); sys.exit(1)
print("report checks: ok (%d metric cards)" % n_checked)
PY
echo "report_html: ok (screenshot: $keep/report.png)"
