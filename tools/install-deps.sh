#!/bin/sh
# install-deps.sh — installs the Debian packages qcal builds and tests with.
# --if-missing: do nothing when every build dependency is already there.
set -e
BUILD_PKGS="build-essential pkg-config libpng-dev libcjson-dev check libprotobuf-c-dev \
protobuf-c-compiler libonnx-dev libopenblas-dev libjpeg62-turbo-dev"
TEST_PKGS="libonnx-testdata dataset-fashion-mnist python3-numpy python3-pil python3-onnx \
parallel chromium valgrind clang python3-torch python3-torchvision groff-base"

# ONNX Runtime (the interoperability check) comes from PyPI, into the python3 first on PATH;
# only a full run installs it (--if-missing never goes to the network for it).
have_onnxruntime() {
    python3 -c "import onnxruntime" >/dev/null 2>&1
}

install_onnxruntime() {
    have_onnxruntime && return 0
    echo "installing onnxruntime from PyPI into $(command -v python3)" >&2
    python3 -m pip install -q onnxruntime || echo "warning: onnxruntime not installed; its tests will be skipped" >&2
}

# ONNX Runtime's quantize_dynamic (one model of the zoo, tools/make-zoo.py) needs the onnx
# package beside onnxruntime; it goes into a venv of its own, never into the python3 the tests
# pick: /opt/qcal-venv as root, else ~/.cache/qcal-venv (tools/make-zoo.py looks in both).
qcal_venv() {
    if [ "$(id -u)" = 0 ]; then echo /opt/qcal-venv; else echo "$HOME/.cache/qcal-venv"; fi
}

install_venv() {
    venv=$(qcal_venv)
    "$venv/bin/python" -c "import onnx, onnxruntime.quantization" >/dev/null 2>&1 && return 0
    echo "installing onnx and onnxruntime from PyPI into the venv $venv" >&2
    { python3 -m venv --system-site-packages "$venv" &&
        "$venv/bin/python" -m pip install -q onnx onnxruntime; } ||
        echo "warning: $venv not made; the zoo's quantize_dynamic model will be skipped" >&2
}

have_all() {
    pkg-config --exists libpng libjpeg libcjson libprotobuf-c openblas check || return 1
    command -v protoc-c >/dev/null 2>&1 || return 1
    [ -f /usr/include/onnx/onnx.proto ] || return 1
    [ -d /usr/share/libonnx-testdata/data/node ] || return 1
    return 0
}

if [ "$1" = "--if-missing" ] && have_all; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
    SUDO=sudo
fi
echo "installing Debian packages: $BUILD_PKGS $TEST_PKGS" >&2
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
    $BUILD_PKGS $TEST_PKGS
install_onnxruntime
install_venv
