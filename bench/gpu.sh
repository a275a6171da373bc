#!/usr/bin/env bash
# One command for a machine with a real GPU: the trainer benchmark (bench/trainer.ts: pairs/s at batch 8 and 64,
# webgpu vs cpu, bundled RM) with Node + the `webgpu` package (Dawn over Vulkan), the default-experiment
# parity check (bench/parity.ts), and the transformer RM's LoRA trainer on WebGPU (bench/use-lite-webgpu-train.ts:
# pairs/s at batch 8 and 32, GFLOP/s, fraction of our matmul kernel's peak and of the GPU's nominal fp32 peak,
# 50-step loss parity with the cpu trainer). JSON goes to bench/results/ (and to $OUT when set, for the device tool).
#
#   bench/gpu.sh [--no-parity] [--no-use-lite] [trainer args...]   run (full checkout: node_modules/.bin/tsx; else the kit)
#   bench/gpu.sh --prepare                         build the self-contained kit in .cache/gpu-bench/ (here, with
#                                                  node_modules): bundled scripts, Dawn for linux-x64, a Vulkan
#                                                  loader and node itself (xz), for a GPU machine with no Node.
# With the device tool: run(command: "bash bench/gpu.sh", carry: [".cache/gpu-bench", "public/models/scpo-glove-rm"]).
#
# Hardware first: src/gpu/node-webgpu.node.ts points the Vulkan loader at SwiftShader only when VK_ICD_FILENAMES
# is unset, so this script sets it to the machine's hardware ICDs (NVIDIA/AMD/Intel) when there are any.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
KIT=$ROOT/.cache/gpu-bench

if [[ "${1:-}" == "--prepare" ]]; then
  set -e
  [[ -x node_modules/esbuild/bin/esbuild ]] || { echo "--prepare needs node_modules (npm ci)"; exit 2; }
  [[ -f public/models/scpo-glove-rm/onnx/model.onnx ]] || npm run build:models
  rm -rf "$KIT" && mkdir -p "$KIT/node_modules/webgpu/dist/linux-x64" "$KIT/lib"
  for s in trainer parity use-lite-webgpu-train; do
    # The web build of transformers.js (only its tokenizer is used): the node build pulls in sharp and onnxruntime-node.
    node_modules/esbuild/bin/esbuild "bench/$s.ts" --bundle --platform=node --format=esm --target=node20 \
      --external:webgpu --alias:@huggingface/transformers=./node_modules/@huggingface/transformers/dist/transformers.web.js \
      --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" \
      --log-level=warning --outfile="$KIT/$s.mjs"
  done
  cp node_modules/webgpu/index.js node_modules/webgpu/package.json "$KIT/node_modules/webgpu/"
  xz -T0 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node > "$KIT/dawn.node.xz"
  for l in /usr/lib/chromium/libvulkan.so.1 /usr/lib/x86_64-linux-gnu/libvulkan.so.1; do
    [[ -f $l ]] && { cp -L "$l" "$KIT/lib/libvulkan.so.1"; break; }
  done
  xz -T0 -6 -c "$(readlink -f "$(command -v node)")" > "$KIT/node.xz"
  du -sh "$KIT" public/models/scpo-glove-rm
  echo "kit ready: carry .cache/gpu-bench and public/models/scpo-glove-rm (64 MiB in all)"
  exit 0
fi

PARITY=1
USE_LITE=1
while [[ "${1:-}" == "--no-parity" || "${1:-}" == "--no-use-lite" ]]; do
  [[ "$1" == "--no-parity" ]] && PARITY=0
  [[ "$1" == "--no-use-lite" ]] && USE_LITE=0
  shift
done

# --- Vulkan: hardware ICDs, a loader ------------------------------------------------------------------------
if [[ -z "${VK_ICD_FILENAMES:-}" ]]; then
  icds=()
  for f in /usr/local/nvidia/share/vulkan/icd.d/*.json /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json /usr/local/share/vulkan/icd.d/*.json; do
    [[ -e $f ]] || continue
    case "$(basename "$f")" in *swiftshader* | *lvp* | *lavapipe*) continue ;; esac
    icds+=("$f")
  done
  # NVIDIA containers often mount the driver (libGLX_nvidia) without its ICD file: write one.
  if [[ ${#icds[@]} -eq 0 ]] && { ldconfig -p 2>/dev/null | grep -q libGLX_nvidia.so.0 || ls /usr/local/nvidia/lib64/libGLX_nvidia.so.0 >/dev/null 2>&1; }; then
    mkdir -p "$ROOT/.cache"
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"libGLX_nvidia.so.0","api_version":"1.3.0"}}\n' >"$ROOT/.cache/nvidia_icd.json"
    icds+=("$ROOT/.cache/nvidia_icd.json")
  fi
  if [[ ${#icds[@]} -gt 0 ]]; then
    VK_ICD_FILENAMES=$(IFS=:; echo "${icds[*]}")
    export VK_ICD_FILENAMES VK_DRIVER_FILES=$VK_ICD_FILENAMES
    echo "hardware Vulkan ICDs: $VK_ICD_FILENAMES"
  else
    echo "no hardware Vulkan ICD found: Dawn will fall back to SwiftShader (chromium's) if present"
  fi
fi
[[ -d /usr/local/nvidia/lib64 ]] && export LD_LIBRARY_PATH=/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 '; then
  if [[ -f /usr/lib/chromium/libvulkan.so.1 ]]; then
    echo "no system Vulkan loader: Dawn gets chromium's (preloaded by src/gpu/node-webgpu.node.ts)"
  elif [[ -f $KIT/lib/libvulkan.so.1 ]]; then
    export LD_LIBRARY_PATH=$KIT/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    echo "no system Vulkan loader: using the kit's ($KIT/lib/libvulkan.so.1)"
  else
    echo "no system Vulkan loader (libvulkan.so.1): install libvulkan1, or run bench/gpu.sh --prepare and carry the kit"
  fi
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

# Nominal dense fp32 (non-tensor-core) peak of common GPUs in GFLOP/s, from the vendors' data sheets, so the
# transformer benchmark can print its fraction of the device's peak (our kernels use plain f32 FMA, no tensor cores).
GPU_NAME=$(command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
PEAK_GFLOPS=
case "$GPU_NAME" in
  *H200* | *"H100 80GB HBM3"* | *"H100 SXM"*) PEAK_GFLOPS=66900 ;;
  *H100*) PEAK_GFLOPS=51200 ;;
  *A100*) PEAK_GFLOPS=19500 ;;
  *L40S*) PEAK_GFLOPS=91600 ;;
  *L4*) PEAK_GFLOPS=30300 ;;
  *A10G*) PEAK_GFLOPS=31200 ;;
  *A10*) PEAK_GFLOPS=31200 ;;
  *T4*) PEAK_GFLOPS=8100 ;;
  *V100*) PEAK_GFLOPS=15700 ;;
  *"RTX 4090"*) PEAK_GFLOPS=82600 ;;
esac
[[ -n $GPU_NAME ]] && echo "GPU: $GPU_NAME; nominal fp32 peak: ${PEAK_GFLOPS:-unknown (pass it: bench/use-lite-webgpu-train.ts --peak-gflops G)} GFLOP/s"

# --- runner: tsx in a full checkout, else the kit -----------------------------------------------------------
if [[ -x node_modules/.bin/tsx && -d node_modules/webgpu ]]; then
  run() { node_modules/.bin/tsx "bench/$1.ts" "${@:2}"; }
elif [[ -f $KIT/trainer.mjs ]]; then
  NODE=$(command -v node || true)
  if [[ -z $NODE || "$("$NODE" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -lt 20 ]]; then
    [[ -f $KIT/node.xz ]] || { echo "no Node >= 20 here and none in the kit"; exit 2; }
    mkdir -p /tmp/gpu-bench && xz -dc "$KIT/node.xz" >/tmp/gpu-bench/node && chmod +x /tmp/gpu-bench/node
    NODE=/tmp/gpu-bench/node
  fi
  [[ -f $KIT/node_modules/webgpu/dist/linux-x64/dawn.node ]] || xz -dc "$KIT/dawn.node.xz" >"$KIT/node_modules/webgpu/dist/linux-x64/dawn.node"
  echo "node $("$NODE" -v) (kit)"
  run() { "$NODE" "$KIT/$1.mjs" "${@:2}"; }
else
  echo "neither node_modules (npm ci) nor the kit (bench/gpu.sh --prepare) is here"
  exit 2
fi

status=0
run trainer "$@" || status=$?
if [[ $PARITY == 1 ]]; then run parity || status=$?; fi
if [[ $USE_LITE == 1 ]]; then
  run use-lite-webgpu-train ${GPU_NAME:+--device-name "$GPU_NAME"} ${PEAK_GFLOPS:+--peak-gflops $PEAK_GFLOPS} || status=$?
fi
if [[ -n "${OUT:-}" ]]; then cp bench/results/trainer-*.json bench/results/parity*.json bench/results/use-lite-webgpu-train-*.json "$OUT"/ 2>/dev/null || true; fi
exit $status
