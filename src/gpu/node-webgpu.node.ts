// Node-only: a WebGPU `GPU` object from the `webgpu` package (Dawn), for kernel tests and headless runs.
// Dawn's Vulkan backend needs a Vulkan loader and an ICD; on these machines both come from Debian's chromium
// package (/usr/lib/chromium: libvulkan.so.1 + SwiftShader's vk_swiftshader_icd.json) and no system
// libvulkan1 is installed. LD_LIBRARY_PATH cannot be changed after the process starts, so when the system
// has no loader we dlopen chromium's with RTLD_NODELETE|RTLD_GLOBAL: it stays resident under its soname
// and Dawn's later dlopen("libvulkan.so.1") finds it. Never imported by browser code.
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';

const CHROMIUM_DIR = '/usr/lib/chromium';
const SWIFTSHADER_ICD = `${CHROMIUM_DIR}/vk_swiftshader_icd.json`;
const SYSTEM_LIB_DIRS = ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib64', '/lib'];
// glibc values (os.constants.dlopen lacks RTLD_NODELETE).
const RTLD_NOW = 0x2;
const RTLD_GLOBAL = 0x100;
const RTLD_NODELETE = 0x1000;

export interface NodeGpuResult {
  gpu: GPU | null;
  /** What was done to make Vulkan reachable, or why there is no GPU object. */
  notes: string[];
}

let cached: Promise<NodeGpuResult> | null = null;

function hasSystemVulkanLoader(): boolean {
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...SYSTEM_LIB_DIRS];
  return dirs.some((d) => existsSync(`${d}/libvulkan.so.1`));
}

/** A real Vulkan driver registered with the loader (e.g. NVIDIA's), which must not be hidden behind SwiftShader. */
function hasSystemIcd(): boolean {
  const dirs = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];
  return dirs.some((d) => {
    try {
      return readdirSync(d).some((f) => f.endsWith('.json'));
    } catch {
      return false;
    }
  });
}

/**
 * Makes Vulkan reachable for Dawn (see the top). Call it on the main thread before starting worker threads that
 * will use Dawn: a worker's process.env is a JS-only copy, so VK_ICD_FILENAMES set inside a worker never reaches
 * the Vulkan loader (it prints "Found no drivers" to stderr, which no --quiet can hide). Idempotent.
 */
export function prepareVulkan(notes: string[] = []): void {
  if (process.platform !== 'linux') return;
  if (!process.env.VK_ICD_FILENAMES && !hasSystemIcd() && existsSync(SWIFTSHADER_ICD)) {
    // Read by the Vulkan loader when Dawn creates its instance, so setting it now is early enough.
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    notes.push(`VK_ICD_FILENAMES=${SWIFTSHADER_ICD}`);
  }
  const chromiumLoader = `${CHROMIUM_DIR}/libvulkan.so.1`;
  if (!hasSystemVulkanLoader() && existsSync(chromiumLoader)) {
    try {
      process.dlopen({ exports: {} }, chromiumLoader, RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE);
    } catch {
      // Expected: "Module did not self-register" (it is not a Node addon); RTLD_NODELETE keeps it loaded.
    }
    notes.push(`preloaded ${chromiumLoader}`);
  }
}

/**
 * The process-wide Dawn `GPU` object (created once), with the WebGPU globals (GPUBufferUsage, ...)
 * installed on globalThis. Resolves with gpu = null and a note when the package cannot load.
 */
export function getNodeGpu(): Promise<NodeGpuResult> {
  cached ??= (async () => {
    const notes: string[] = [];
    try {
      prepareVulkan(notes);
      const require = createRequire(import.meta.url);
      // Resolve first so a missing package gives a clear note rather than a bundler error.
      require.resolve('webgpu');
      const mod = (await import('webgpu')) as { create: (o: string[]) => GPU; globals: object };
      Object.assign(globalThis, mod.globals);
      return { gpu: mod.create([]), notes };
    } catch (e) {
      notes.push(`webgpu package unavailable: ${(e as Error).message}`);
      return { gpu: null, notes };
    }
  })();
  return cached;
}
