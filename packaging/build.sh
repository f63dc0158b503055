#!/usr/bin/env bash
# `make package`: freeze the reading station with PyInstaller (one folder, packaging/cxr-triage.spec)
# in its own venv without torch (build/package-venv), then write
#   dist/cxr-triage_<version>_amd64.deb            /opt/cxr-triage, /usr/bin/cxr-triage, menu entry, icon
#   dist/cxr-triage-<version>-linux-x86_64.tar.gz  portable: cxr-triage-<version>/cxr-triage
#   dist/SHA256SUMS
# The glibc floor (libc6 in Depends) is the newest GLIBC_ symbol version the frozen binaries import.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-python3.11}
VENV=build/package-venv
WORK=build/package
APP=$WORK/dist/cxr-triage
MAX_INSTALLED_MB=700
MAX_DEB_MB=250
HEAVY='torch|torchvision|captum|ray|timm|matplotlib'  # never in the package (requirements-train/-cluster)

fail() { echo "package: $*" >&2; exit 1; }
start=$SECONDS
lap=$SECONDS
took() { echo "package: $1 took $((SECONDS - lap)) s"; lap=$SECONDS; }

command -v "$PY" >/dev/null || fail "needs Python 3.11 ($PY not found)"
command -v dpkg-deb >/dev/null && command -v objdump >/dev/null || fail "needs dpkg-deb and objdump (binutils)"
VERSION=$("$PY" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')

# 1. The build venv: the reading station's pins and PyInstaller, reinstalled when a pin changes.
wanted=$(cat requirements.txt requirements-package.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$VENV/.installed" 2>/dev/null)" != "$wanted" ]; then
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -r requirements.txt -r requirements-package.txt
    echo "$wanted" > "$VENV/.installed"
fi
"$VENV/bin/python" -m pip list 2>/dev/null | grep -Eiw "^($HEAVY)" && fail "the build venv has the training stack ($VENV)"
took "build venv"

# 2. Freeze.
"$VENV/bin/pyinstaller" --noconfirm --log-level WARN --distpath "$WORK/dist" --workpath "$WORK/pyinstaller" \
    packaging/cxr-triage.spec
heavy=$(find "$APP" -regextype egrep -name 'libtorch*' -o -type d -regex ".*/($HEAVY)" | head)
[ -z "$heavy" ] || fail "the training stack got into the frozen app:"$'\n'"$heavy"
"$APP/cxr-triage" --help >/dev/null || fail "the frozen cxr-triage does not start"
# The administrator's guide and the listener's systemd unit travel with the program (.deb and archive).
install -Dm644 docs/administration.md "$APP/doc/administration.md"
install -Dm644 packaging/cxr-triage-listen.service "$APP/doc/cxr-triage-listen.service"
chmod -R u+rwX,go+rX,go-w "$APP"
took "PyInstaller"

# 3. What the frozen binaries need from the system: glibc (objdump -T: the newest GLIBC_x.y they import),
# the C++ runtime (left out of the bundle, see the spec) and the libraries of Qt's xcb plugin
# (viewer/qpa_check.py's list, which the viewer checks before it starts).
imported=$({ find "$APP" -type f \( -name '*.so*' -o -name cxr-triage \) -exec objdump -T {} + 2>/dev/null || true; } \
    | grep -o 'GLIBC\(XX\)\?_[0-9.]*' | sort -u)
glibc=$(grep '^GLIBC_' <<<"$imported" | sed 's/^GLIBC_//' | sort -V | tail -1)
glibcxx=$(grep '^GLIBCXX_' <<<"$imported" | sed 's/^GLIBCXX_//' | sort -V | tail -1 || true)
[ -n "$glibc" ] || fail "objdump found no GLIBC_ versions in $APP"
# GLIBCXX_3.4.30 is GCC 12's libstdc++ (Debian 12); a newer one needs a newer libstdc++6 below.
[ "$(printf '%s\n' "$glibcxx" 3.4.30 | sort -V | tail -1)" = 3.4.30 ] \
    || fail "the frozen binaries need GLIBCXX_$glibcxx: raise libstdc++6 (>= 12) in build.sh"
xcb=$("$VENV/bin/python" -c 'from viewer.qpa_check import XCB_LIBRARIES as x; print(", ".join(sorted(set(x.values()))))')
depends="libc6 (>= $glibc), libstdc++6 (>= 12), libgcc-s1, $xcb"
echo "package: glibc floor $glibc (GLIBC_$glibc, objdump -T over the frozen folder), C++ GLIBCXX_$glibcxx"

# 4. The .deb: the frozen folder as /opt/cxr-triage, the launcher, the menu entry and its icon.
deb=dist/cxr-triage_${VERSION}_amd64.deb
tgz=dist/cxr-triage-${VERSION}-linux-x86_64.tar.gz
root=$WORK/deb
rm -rf "$root" && mkdir -p "$root/DEBIAN" "$root/opt" "$root/usr/bin"
cp -al "$APP" "$root/opt/cxr-triage"
ln -s /opt/cxr-triage/cxr-triage "$root/usr/bin/cxr-triage"
install -Dm644 packaging/cxr-triage.desktop "$root/usr/share/applications/cxr-triage.desktop"
install -Dm644 packaging/cxr-triage.png "$root/usr/share/icons/hicolor/256x256/apps/cxr-triage.png"
installed_kb=$(du -sk "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<EOF
Package: cxr-triage
Version: $VERSION
Architecture: amd64
Maintainer: CXR Triage <cxr-triage@localhost>
Installed-Size: $installed_kb
Depends: $depends
Section: science
Priority: optional
Homepage: https://localhost/cxr-triage
Description: offline chest radiograph triage viewer (not for diagnostic use)
 Risk-ranked worklist of chest radiographs (DICOM, PNG, JPEG) scored on the CPU
 with ONNX Runtime, per-finding thresholds, Grad-CAM heat maps and a PACS link.
 Ships the demo model and sample studies. Not for diagnostic use.
EOF
mkdir -p dist
rm -f dist/cxr-triage_*_amd64.deb dist/cxr-triage-*-linux-x86_64.tar.gz dist/SHA256SUMS
dpkg-deb --root-owner-group -Zxz -z1 --threads-max="$(nproc)" --build "$root" "$deb" >/dev/null
took ".deb"

# 5. The portable tarball: the same folder as cxr-triage-<version>/.
tar -C "$WORK/dist" --transform "s,^cxr-triage,cxr-triage-$VERSION," --owner=0 --group=0 --numeric-owner \
    --sort=name -cf - cxr-triage | gzip -6 > "$tgz"
(cd dist && sha256sum "$(basename "$deb")" "$(basename "$tgz")" > SHA256SUMS)
took ".tar.gz and SHA256SUMS"

mb() { echo $(( ($(stat -c %s "$1") + 1048575) / 1048576 )); }
installed_mb=$(( (installed_kb + 1023) / 1024 ))
echo "package: installed ${installed_mb} MB, $deb $(mb "$deb") MB, $tgz $(mb "$tgz") MB, in $((SECONDS - start)) s"
[ "$installed_mb" -le $MAX_INSTALLED_MB ] || fail "installed size ${installed_mb} MB > $MAX_INSTALLED_MB MB"
[ "$(mb "$deb")" -le $MAX_DEB_MB ] || fail ".deb $(mb "$deb") MB > $MAX_DEB_MB MB"
