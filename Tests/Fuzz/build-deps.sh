#!/usr/bin/env bash
# Builds DCMTK and OpenJPEG instrumented for libFuzzer (-fsanitize=fuzzer-no-link,address),
# static, from the same Debian sources as the system packages (libdcmtk17 3.6.7-9~deb12u4,
# libopenjp2-7 2.5.0-2+deb12u3: upstream tarball + Debian's security patches), so that the
# fuzz targets get coverage feedback from inside DCMTK and OpenJPEG and ASan sees their
# memory errors. Optional: without it, run.sh links the (uninstrumented) system libraries.
#
#   Tests/Fuzz/build-deps.sh [PREFIX]      (default /tmp/vrprep-fuzz-deps)
#
# Needs cmake and network access to deb.debian.org (apt-get source with a private source
# list in PREFIX, nothing in /etc/apt is changed). About 25 minutes on one core (-j1, nice).
# Set DCMTK_SRC / OPENJPEG_SRC to already patched source trees to skip the download.
set -euo pipefail

PREFIX=${1:-/tmp/vrprep-fuzz-deps}
JOBS=${JOBS:-1}
CC=${CC:-$(command -v clang)}
CXX=${CXX:-$(command -v clang++)}
DCMTK_VERSION=${DCMTK_VERSION:-3.6.7-9~deb12u4}
OPENJPEG_VERSION=${OPENJPEG_VERSION:-2.5.0-2+deb12u3}
FLAGS="-fsanitize=fuzzer-no-link,address -O1 -g -gline-tables-only -fno-omit-frame-pointer"

mkdir -p "$PREFIX/src"
cd "$PREFIX/src"

# apt-get source with a private source list (deb-src lines), leaving /etc/apt alone.
fetch_debian_source() {  # package=version directory
    local apt="$PREFIX/apt"
    if [ ! -f "$apt/sources.list" ]; then
        mkdir -p "$apt/lists/partial"
        cat >"$apt/sources.list" <<'EOF'
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
EOF
        apt-get -o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
            -o Dir::State::Lists="$apt/lists" update >/dev/null
    fi
    apt-get -o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
        -o Dir::State::Lists="$apt/lists" source --download-only "$1" >/dev/null
}

# Unpacks NAME_UPSTREAM.orig.tar.* and the Debian tarball into DIR and applies debian/patches/series.
unpack_debian_source() {  # name debian-version dir (kept when already unpacked: rebuilds stay incremental)
    local name=$1 version=$2 dir=$3 upstream=${2%-*}
    [ -f "$dir/.unpacked-$version" ] && return 0
    rm -rf "$dir" && mkdir -p "$dir"
    tar xf "${name}_${upstream}".orig.tar.* -C "$dir" --strip-components=1
    tar xf "${name}_${version}".debian.tar.* -C "$dir"
    (cd "$dir" && grep -v '^#' debian/patches/series | awk 'NF {print $1}' | while read -r patch; do
        patch -p1 -s --forward <"debian/patches/$patch"
    done)
    touch "$dir/.unpacked-$version"
}

if [ -z "${DCMTK_SRC:-}" ]; then
    [ -f "dcmtk_${DCMTK_VERSION}.dsc" ] || fetch_debian_source "dcmtk=${DCMTK_VERSION}"
    unpack_debian_source dcmtk "$DCMTK_VERSION" "$PREFIX/src/dcmtk"
    DCMTK_SRC=$PREFIX/src/dcmtk
fi
if [ -z "${OPENJPEG_SRC:-}" ]; then
    [ -f "openjpeg2_${OPENJPEG_VERSION}.dsc" ] || fetch_debian_source "openjpeg2=${OPENJPEG_VERSION}"
    unpack_debian_source openjpeg2 "$OPENJPEG_VERSION" "$PREFIX/src/openjpeg"
    OPENJPEG_SRC=$PREFIX/src/openjpeg
fi

# DCMTK: the modules the shim's reading and decoding use, static, the options Debian uses where
# they matter for parsing (private tags, STL, C++17, the JPEG-LS interleave define, the external
# dictionary dicom.dic + private.dic, installed under PREFIX/share/libdcmtk17 and found there by
# default, as Debian's library finds /usr/share/libdcmtk17).
cmake -S "$DCMTK_SRC" -B "$PREFIX/build/dcmtk" \
    -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
    -DCMAKE_BUILD_TYPE=None -DCMAKE_C_FLAGS="$FLAGS" \
    -DCMAKE_CXX_FLAGS="$FLAGS -DENABLE_DCMJPLS_INTERLEAVE_NONE" \
    -DCMAKE_INSTALL_PREFIX="$PREFIX" \
    -DDCMTK_MODULES="ofstd;oflog;dcmdata;dcmimgle;dcmjpeg;dcmjpls" \
    -DBUILD_APPS=OFF -DBUILD_SHARED_LIBS=OFF -DDCMTK_WITH_DOXYGEN=OFF -DDCMTK_ENABLE_MANPAGES=OFF \
    -DDCMTK_WITH_OPENSSL=OFF -DDCMTK_WITH_XML=OFF -DDCMTK_WITH_TIFF=OFF -DDCMTK_WITH_PNG=OFF \
    -DDCMTK_WITH_SNDFILE=OFF -DDCMTK_WITH_WRAP=OFF -DDCMTK_WITH_OPENJPEG=OFF \
    -DDCMTK_WITH_ICONV=OFF -DDCMTK_WITH_ICU=OFF -DDCMTK_WITH_ZLIB=ON \
    -DDCMTK_ENABLE_PRIVATE_TAGS=ON -DDCMTK_ENABLE_STL=ON -DCMAKE_CXX_STANDARD=17 \
    -DDCMTK_DEFAULT_DICT=external -DCMAKE_INSTALL_DATADIC=share/libdcmtk17 >"$PREFIX/dcmtk-configure.log"
nice -n 10 make -C "$PREFIX/build/dcmtk" -j"$JOBS" install >"$PREFIX/dcmtk-build.log"

# OpenJPEG: the library only.
cmake -S "$OPENJPEG_SRC" -B "$PREFIX/build/openjpeg" \
    -DCMAKE_C_COMPILER="$CC" -DCMAKE_BUILD_TYPE=None -DCMAKE_C_FLAGS="$FLAGS" \
    -DCMAKE_INSTALL_PREFIX="$PREFIX" -DBUILD_SHARED_LIBS=OFF -DBUILD_STATIC_LIBS=ON \
    -DBUILD_CODEC=OFF -DBUILD_TESTING=OFF -DBUILD_DOC=OFF >"$PREFIX/openjpeg-configure.log"
nice -n 10 make -C "$PREFIX/build/openjpeg" -j"$JOBS" install >"$PREFIX/openjpeg-build.log"

echo "instrumented DCMTK and OpenJPEG installed in $PREFIX (lib/, include/)"
