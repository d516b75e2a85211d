# Shared set-up for ./scripts/demo and ./scripts/test: sourced, not run.
# Makes .venv if missing, installs the Debian packages FUSE needs when they are
# missing (apt-get, as root; with "test": busybox and trace-cmd too), and
# installs the project into the venv.
# Usage: source scripts/_setup.sh [test]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

need_debs=()
[ -e /usr/lib/x86_64-linux-gnu/libfuse.so.2 ] || ldconfig -p 2>/dev/null | grep -q 'libfuse\.so\.2' || need_debs+=(libfuse2)
command -v fusermount >/dev/null 2>&1 || command -v fusermount3 >/dev/null 2>&1 || need_debs+=(fuse3)
command -v gcc >/dev/null 2>&1 || need_debs+=(gcc)
if [ "${1:-}" = test ]; then
    # What the tests drive the mount with, besides coreutils: busybox (cat,
    # head, tail, dd as embedded systems have them) and trace-cmd. Under CI
    # the tests that need them fail rather than skip when they are missing.
    command -v busybox >/dev/null 2>&1 || need_debs+=(busybox)
    command -v trace-cmd >/dev/null 2>&1 || need_debs+=(trace-cmd)
fi
if [ ${#need_debs[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing Debian packages: ${need_debs[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq "${need_debs[@]}" >&2
    else
        echo "setup: missing Debian packages: ${need_debs[*]}" >&2
        echo "setup: run as root, or install them: sudo apt-get install ${need_debs[*]}" >&2
        exit 1
    fi
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv" >&2
    "$PY" -m venv .venv
fi
extra=""
[ "${1:-}" = test ] && extra="[test]"
stamp=".venv/.installed${extra}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: installing ftrace-mmio${extra} into .venv" >&2
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extra}" >&2
    touch "$stamp"
fi
# The tests build this project's wheel offline (tests/test_fakefs_wheel.py):
# setuptools before 70.1 needs the wheel package for that.
if [ "${1:-}" = test ] && ! .venv/bin/python -c "import wheel" 2>/dev/null; then
    echo "setup: installing wheel into .venv" >&2
    .venv/bin/python -m pip install -q --disable-pip-version-check wheel >&2
fi
export PATH="$ROOT/.venv/bin:$PATH"
