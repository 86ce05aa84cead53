# libpqxx 7 for the build that checks pgorm against it (Debian 12 packages only libpqxx 6.4): built
# from the release tarball into a private prefix under build/. Sourced by scripts/test.sh (after
# lib.sh); defines only.

PGORM_LIBPQXX7_VERSION=7.8.1
PGORM_LIBPQXX7_PREFIX=$PWD/build/libpqxx7/prefix

# build_libpqxx7 CXX: builds libpqxx $PGORM_LIBPQXX7_VERSION with the compiler CXX (static, C++20
# like pgorm, position-independent, no tests or docs) and installs it into $PGORM_LIBPQXX7_PREFIX,
# unless the prefix's stamp says it already holds that version built with CXX. The tarball is
# $PGORM_LIBPQXX7_TARBALL, else ../shared/third_party/libpqxx-<version>.tar.gz beside the checkout
# (or beside the repository a local clone came from); without it this fails.
build_libpqxx7() {
  local cxx=$1
  local name=libpqxx-$PGORM_LIBPQXX7_VERSION.tar.gz tarball candidate origin
  # Beside the checkout; for a local clone (a CI work tree), beside the repository it came from.
  origin=$(git config --get remote.origin.url 2> /dev/null || true)
  for candidate in "${PGORM_LIBPQXX7_TARBALL:-}" "../shared/third_party/$name" \
    "${origin:+$origin/../shared/third_party/$name}"; do
    if [ -n "$candidate" ] && [ -f "$candidate" ]; then
      tarball=$candidate
      break
    fi
  done
  tarball=${tarball:-${PGORM_LIBPQXX7_TARBALL:-../shared/third_party/$name}}
  local work=${PGORM_LIBPQXX7_PREFIX%/prefix}
  local stamp
  stamp="libpqxx $PGORM_LIBPQXX7_VERSION, $("$cxx" --version | head -n 1)"
  if [ "$(cat "$PGORM_LIBPQXX7_PREFIX/.pgorm-stamp" 2> /dev/null)" = "$stamp" ]; then
    echo "== libpqxx $PGORM_LIBPQXX7_VERSION already in $PGORM_LIBPQXX7_PREFIX"
    return 0
  fi
  if [ ! -f "$tarball" ]; then
    echo "libpqxx $PGORM_LIBPQXX7_VERSION source not found at $tarball" \
      "(set PGORM_LIBPQXX7_TARBALL to the release tarball)" >&2
    return 1
  fi
  echo "== building libpqxx $PGORM_LIBPQXX7_VERSION with $cxx into $PGORM_LIBPQXX7_PREFIX"
  rm -rf "$work"
  mkdir -p "$work"
  tar xzf "$tarball" -C "$work"
  local source=$work/libpqxx-$PGORM_LIBPQXX7_VERSION
  [ -f "$source/CMakeLists.txt" ] || { echo "no $source/CMakeLists.txt in $tarball" >&2; return 1; }
  cmake -S "$source" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_CXX_STANDARD=20 -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DSKIP_BUILD_TEST=ON -DBUILD_DOC=OFF -DCMAKE_INSTALL_PREFIX="$PGORM_LIBPQXX7_PREFIX" \
    -DCMAKE_INSTALL_LIBDIR=lib > "$work/configure.log" 2>&1 ||
    { cat "$work/configure.log"; return 1; }
  cmake --build "$work/build" -j "$(nproc)" > "$work/build.log" 2>&1 ||
    { tail -n 50 "$work/build.log"; return 1; }
  cmake --install "$work/build" > /dev/null
  echo "$stamp" > "$PGORM_LIBPQXX7_PREFIX/.pgorm-stamp"
}

# forget_other_libpqxx DIR: CMake caches what pkg-config found, so a build directory configured
# against another libpqxx would keep it; such a directory is configured afresh.
forget_other_libpqxx() {
  local cache=$1/CMakeCache.txt
  if [ -f "$cache" ] && ! grep -qx "PQXX_VERSION:INTERNAL=$PGORM_LIBPQXX7_VERSION" "$cache"; then
    rm -f "$cache"
  fi
}
