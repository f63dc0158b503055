#!/usr/bin/env bash
# CI's clean-system stage (after `make test` and `make package`, as root): install the .deb, run the
# installed reading station with an empty environment and no network, compare its scores with the
# checkout's (.venv), open the installed viewer under Xvfb, remove the package, then run the portable
# tarball. Exits 1 with one "check_installed: FAIL: ..." line at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -1)
DEB=dist/cxr-triage_${VERSION}_amd64.deb
TGZ=dist/cxr-triage-${VERSION}-linux-x86_64.tar.gz
SAMPLES_IN_APP=_internal/inference/_bundle/resources/samples  # under the frozen folder (inference/bundled.py)
PY=.venv/bin/python
TOLERANCE=1e-4
# DICOMs that must decode in the frozen app: JPEG baseline and JPEG 2000 among the samples; JPEG-LS,
# JPEG lossless and JPEG extended (hip images: re-tagged CHEST below, so that they are decoded and
# gated rather than refused from the header).
CODEC_SAMPLES=(samples/CR_chest_SIIM_jpegbaseline_8bit.dcm samples/DX_chest_PA_canon_J2KR_MONO1_966_fixed.dcm)
CODEC_FIXTURES=(tests/fixtures/dicom/RG2_JLSL.dcm tests/fixtures/dicom/RG2_JPLL.dcm resources/samples/RG2_JPLY_fixed.dcm)

fail() { echo "check_installed: FAIL: $*" >&2; exit 1; }
lap=$SECONDS
took() { echo "check_installed: $1 ok ($((SECONDS - lap)) s)"; lap=$SECONDS; }

[ "$(id -u)" = 0 ] || fail "run as root (dpkg -i, unshare -n)"
[ -f "$DEB" ] && [ -f "$TGZ" ] || fail "no $DEB or $TGZ: run make package first"
[ -x "$PY" ] || fail "no $PY: run make test first (the reference scores come from the checkout)"
(cd dist && sha256sum --quiet -c SHA256SUMS) || fail "dist/SHA256SUMS does not match the artifacts"

T=$(mktemp -d /tmp/cxr-check.XXXXXX)
installed=0
cleanup() {
    [ "$installed" = 0 ] || dpkg -r cxr-triage >/dev/null 2>&1 || true
    rm -rf "$T"
}
trap cleanup EXIT

# 1. No training stack in the package.
heavy=$(dpkg-deb -c "$DEB" | awk '{print $NF}' | grep -E '(^|/)libtorch|/torch/' | head -3 || true)
[ -z "$heavy" ] || fail "the .deb carries torch: $heavy"
took "1. .deb contents"

# 2. Install. apt cannot fetch missing dependencies offline: name them instead of a half-installed package.
missing=""
for dep in $(dpkg-deb -f "$DEB" Depends | tr ',' '\n' | sed 's/(.*)//; s/|.*//' | tr -d ' '); do
    dpkg-query -W -f='${Status}' "$dep" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $dep"
done
[ -z "$missing" ] || fail "dependencies not installed:$missing (apt-get install them)"
dpkg -i "$DEB" >"$T/dpkg.log" 2>&1 || { cat "$T/dpkg.log" >&2; fail "dpkg -i $DEB"; }
installed=1
[ -x /usr/bin/cxr-triage ] || fail "/usr/bin/cxr-triage missing after install"
for doc in administration.md cxr-triage-listen.service; do
    [ -f "/opt/cxr-triage/doc/$doc" ] || fail "/opt/cxr-triage/doc/$doc missing after install"
done
took "2. dpkg -i"

# 3. Headless triage from /, empty environment, no network; the same studies scored by the checkout.
mkdir -p "$T/codecs"
"$PY" - "$T/codecs" "${CODEC_FIXTURES[@]}" <<'EOF'
import sys
import pydicom
from pydicom.uid import generate_uid
for src in sys.argv[2:]:
    ds = pydicom.dcmread(src)
    ds.BodyPartExamined = "CHEST"
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[src])  # one study per file
    ds.save_as(f"{sys.argv[1]}/{src.rsplit('/', 1)[1]}")
EOF
run_triage() {  # OUT_NAME EXECUTABLE PATH...: the frozen app, env -i, unshare -n, from /
    local name=$1 exe=$2 rc=0; shift 2
    (cd / && env -i unshare -n "$exe" triage "$@" --out "$T/$name" --db "$T/$name.sqlite") \
        >"$T/$name.log" 2>&1 || rc=$?
    [ $rc = 0 ] || { tail -20 "$T/$name.log" >&2; fail "$exe triage exited $rc"; }
}
run_triage installed /usr/bin/cxr-triage "/opt/cxr-triage/$SAMPLES_IN_APP" "$T/codecs"
CXR_TRIAGE_HOME="$T/venv-home" .venv/bin/cxr-triage triage resources/samples "$T/codecs" \
    --out "$T/venv" --db "$T/venv.sqlite" >"$T/venv.log" 2>&1 \
    || { tail -20 "$T/venv.log" >&2; fail ".venv triage (the reference)"; }
compare() {  # WORKLIST REFERENCE_WORKLIST [FILE...]: those files (default all) score within TOLERANCE
    "$PY" - "$TOLERANCE" "$@" <<'EOF'
import json, sys
from pathlib import Path
tol, got_path, ref_path, *only = sys.argv[1:]
def rows(path):
    doc = json.loads(Path(path).read_text())
    return doc["thresholds"], {"/".join(Path(r["file"]).parts[-2:]): r for r in doc["studies"]}
findings, got = rows(got_path)
_, ref = rows(ref_path)
problems = []
for key in only or sorted(ref):
    g, r = got.get(key), ref[key]
    if g is None:
        problems.append(f"{key}: missing from the installed app's worklist")
    elif g["status"] != r["status"]:
        problems.append(f"{key}: {g['status']} ({g['error']}) where the checkout has {r['status']}")
    else:
        for name in ["gate", *findings]:
            a, b = g[name], r[name]
            if (a is None) != (b is None) or (a is not None and abs(a - b) > float(tol)):
                problems.append(f"{key}: {name} {a} vs {b} in the checkout")
for line in problems:
    print("  " + line, file=sys.stderr)
print(f"  {len(only or ref) - len(problems)}/{len(only or ref)} studies as in the checkout (within {tol})")
sys.exit(1 if problems else 0)
EOF
}
compare "$T/installed/worklist.json" "$T/venv/worklist.json" \
    || fail "the installed app's scores differ from the checkout's (above)"
codecs=("${CODEC_SAMPLES[@]}")
for f in "${CODEC_FIXTURES[@]}"; do codecs+=("codecs/${f##*/}"); done
"$PY" - "$T/installed/worklist.json" "${codecs[@]}" <<'EOF' || fail "a compressed DICOM did not decode in the installed app (above)"
import json, sys
from pathlib import Path
rows = {"/".join(Path(r["file"]).parts[-2:]): r for r in json.loads(Path(sys.argv[1]).read_text())["studies"]}
bad = [f"{k}: {rows[k]['status']} {rows[k]['error']}" if k in rows else f"{k}: no row" for k in sys.argv[2:]
       if k not in rows or rows[k]["status"] == "error" or rows[k]["gate"] is None]  # gate: pixels were read
for line in bad:
    print("  " + line, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
took "3. installed triage (JPEG, JPEG-LS, JPEG 2000 decoded; scores as the checkout's)"

# 4. The installed viewer under Xvfb: scores the bundled samples, saves a screenshot, exits 0.
# shellcheck disable=SC2016  # $DISPLAY and $XAUTHORITY are xvfb-run's, expanded by its sh
xvfb-run -a -s "-screen 0 1600x1000x24" sh -c 'cd / && exec env -i DISPLAY="$DISPLAY" XAUTHORITY="$XAUTHORITY" \
    unshare -n /usr/bin/cxr-triage gui --samples --smoke-screenshot "$1" --db "$2"' sh "$T/gui.png" "$T/gui.sqlite" \
    >"$T/gui.log" 2>&1 || { tail -20 "$T/gui.log" >&2; fail "cxr-triage gui --smoke-screenshot exited nonzero"; }
"$PY" - "$T/gui.png" <<'EOF' || fail "the viewer's screenshot is missing or blank"
import sys
from PIL import Image, ImageStat
image = Image.open(sys.argv[1]).convert("L")
spread, colours = ImageStat.Stat(image).stddev[0], len(image.getcolors(1 << 16) or ())
print(f"  screenshot {image.size[0]}x{image.size[1]}, grey spread {spread:.1f}, {colours} grey levels")
sys.exit(0 if min(image.size) >= 200 and spread > 10 and colours > 32 else 1)
EOF
took "4. installed viewer (Xvfb)"

# 5. Remove: nothing of the package left.
dpkg -r cxr-triage >"$T/dpkg.log" 2>&1 || { cat "$T/dpkg.log" >&2; fail "dpkg -r cxr-triage"; }
installed=0
for left in /opt/cxr-triage /usr/bin/cxr-triage /usr/share/applications/cxr-triage.desktop \
    /usr/share/icons/hicolor/256x256/apps/cxr-triage.png; do
    [ ! -e "$left" ] && [ ! -L "$left" ] || fail "$left is left after dpkg -r"
done
took "5. dpkg -r"

# 6. The portable tarball, unpacked anywhere: one sample, scored as the checkout scores it.
mkdir "$T/portable" && tar -C "$T/portable" -xzf "$TGZ"
app="$T/portable/cxr-triage-$VERSION"
run_triage portable-out "$app/cxr-triage" "$app/$SAMPLES_IN_APP/CR_chest_SIIM_jpegbaseline_8bit.dcm"
compare "$T/portable-out/worklist.json" "$T/venv/worklist.json" samples/CR_chest_SIIM_jpegbaseline_8bit.dcm \
    || fail "the portable app's scores differ from the checkout's (above)"
took "6. portable tarball"
echo "check_installed: all checks passed"
