#!/usr/bin/env bash
# Lighthouse on four guest pages of a running demo site (docs/accessibility.md, "Lighthouse"). Not run in CI.
#
#   npm i -E --prefix /tmp/lh lighthouse@12.2.3      # 13.x wants Node 22; 12.2.3 runs on Debian's Node 20
#   make run                                           # or any server with `seed_demo` data
#   bench/lighthouse.sh http://127.0.0.1:8000 var/lighthouse
#
# Prints one line per page: accessibility, performance, SEO and best-practices scores (0-100), and writes each
# page's full JSON report to the output folder. Chromium is Debian's (/usr/bin/chromium), headless.
set -euo pipefail
BASE="${1:-http://127.0.0.1:8000}"
OUT="${2:-var/lighthouse}"
LH="${LIGHTHOUSE:-/tmp/lh/node_modules/.bin/lighthouse}"
export CHROME_PATH="${CHROME_PATH:-/usr/bin/chromium}"
mkdir -p "$OUT"
SLUG="${SLUG:-alfama-azulejo-loft}"
CHECK_IN="$(date -u -d '+75 days' +%F)"; CHECK_OUT="$(date -u -d '+78 days' +%F)"
declare -A PAGES=(
  [search]="$BASE/"
  [property]="$BASE/properties/$SLUG/"
  [booking-details]="$BASE/book/$SLUG/?check_in=$CHECK_IN&check_out=$CHECK_OUT&adults=2"
  [sign-in]="$BASE/accounts/login/"
)
for name in search property booking-details sign-in; do
  "$LH" "${PAGES[$name]}" --quiet --output=json --output-path="$OUT/$name.json" \
    --only-categories=accessibility,performance,seo,best-practices \
    --chrome-flags="--headless=new --no-sandbox --disable-gpu" >/dev/null 2>"$OUT/$name.log" || true
  python3 - "$name" "$OUT/$name.json" <<'PY'
import json, sys
name, path = sys.argv[1], sys.argv[2]
try:
    report = json.load(open(path))
except (OSError, ValueError):
    print(f"{name:16} no report (see {path[:-5]}.log)"); sys.exit()
cats = report["categories"]
score = lambda key: "-" if cats[key]["score"] is None else round(cats[key]["score"] * 100)
failed = [a for a in ("uses-responsive-images", "modern-image-formats", "meta-description", "target-size",
                      "html-has-lang", "color-contrast", "aria-valid-attr-value")
          if report["audits"].get(a, {}).get("score") not in (None, 1)]
saved = report["audits"].get("uses-responsive-images", {}).get("details", {}).get("overallSavingsBytes", 0) + \
    report["audits"].get("modern-image-formats", {}).get("details", {}).get("overallSavingsBytes", 0)
print(f"{name:16} a11y {score('accessibility'):>3}  perf {score('performance'):>3}  seo {score('seo'):>3}  "
      f"best {score('best-practices'):>3}  image savings est. {saved / 1024:.0f} KiB  failing: {', '.join(failed) or '-'}")
PY
done
