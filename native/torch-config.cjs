// Where libtorch lives, for binding.gyp and the build script: the folder named by LIBTORCH
// (a pytorch.org download, CPU or CUDA), else the system's libtorch-dev.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

function findLibtorch() {
  const root = process.env.LIBTORCH;
  if (root) {
    const include = path.join(root, 'include');
    const lib = path.join(root, 'lib');
    return { source: `LIBTORCH=${root}`, include, lib, found: fs.existsSync(path.join(include, 'torch')) };
  }
  const include = '/usr/include';
  const libCandidates = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'];
  const lib = libCandidates.find((dir) => fs.existsSync(path.join(dir, 'libtorch_cpu.so'))) ?? libCandidates[0];
  const found = fs.existsSync(path.join(include, 'torch/csrc/api/include/torch/version.h'));
  return { source: 'system libtorch-dev', include, lib, found };
}

// The first match of `pattern` in libtorch's CMake config (a download keeps it under share/,
// Debian under the library folder), or undefined.
function fromTorchConfig(torch, pattern) {
  const candidates = [
    path.join(torch.lib, '..', 'share/cmake/Torch/TorchConfig.cmake'),
    path.join(torch.lib, 'cmake/Torch/TorchConfig.cmake'),
  ];
  for (const file of candidates) {
    if (!fs.existsSync(file)) continue;
    const match = pattern.exec(fs.readFileSync(file, 'utf8'));
    if (match) return match[1];
  }
  return undefined;
}

// Old pytorch.org downloads came in both C++ ABIs and say which in their CMake config; newer
// ones (2.7 on) and Debian's use the C++11 ABI.
function cxx11Abi(torch) {
  return fromTorchConfig(torch, /_GLIBCXX_USE_CXX11_ABI=([01])/) ?? '1';
}

// libtorch 2.10 on needs C++20 headers; older ones ask for 14 or 17. We need at least 17.
function cxxStandard(torch) {
  const asked = Number(fromTorchConfig(torch, /CXX_STANDARD\s+(\d+)/) ?? 17);
  return String(Math.max(17, asked));
}

function hasCuda(torch) {
  return fs.existsSync(path.join(torch.lib, 'libtorch_cuda.so')) ? '1' : '0';
}

// c10d (libtorch's distributed package) is in Linux builds; its Gloo backend needs Gloo's headers,
// which pytorch.org downloads may ship and Debian puts in libgloo-dev. Headers of another Gloo than
// the one libtorch was built with could disagree with it, so a download only uses its own.
function c10dHeader(torch, name) {
  return path.join(torch.include, 'torch/csrc/distributed/c10d', name);
}

function hasC10d(torch) {
  return fs.existsSync(c10dHeader(torch, 'TCPStore.hpp')) ? '1' : '0';
}

function hasGloo(torch) {
  if (hasC10d(torch) === '0' || !fs.existsSync(c10dHeader(torch, 'ProcessGroupGloo.hpp'))) return '0';
  return fs.existsSync(path.join(torch.include, 'gloo/algorithm.h')) ? '1' : '0';
}

// NCCL's process group needs nccl.h and the CUDA runtime headers besides libtorch's own.
function ncclIncludes(torch) {
  if (hasCuda(torch) === '0' || !fs.existsSync(c10dHeader(torch, 'ProcessGroupNCCL.hpp'))) return null;
  const cuda = [process.env.CUDA_HOME, '/usr/local/cuda'].filter(Boolean).map((d) => path.join(d, 'include'));
  const nccl = [
    torch.include,
    process.env.NCCL_HOME && path.join(process.env.NCCL_HOME, 'include'),
    ...cuda,
    '/usr/include',
  ];
  const find = (dirs, header) => dirs.filter(Boolean).find((d) => fs.existsSync(path.join(d, header)));
  const ncclDir = find(nccl, 'nccl.h');
  const cudaDir = find([...cuda, '/usr/include'], 'cuda_runtime_api.h');
  return ncclDir && cudaDir ? [...new Set([ncclDir, cudaDir])] : null;
}

module.exports = { findLibtorch, cxx11Abi, cxxStandard, hasCuda, hasC10d, hasGloo, ncclIncludes };

if (require.main === module) {
  const torch = findLibtorch();
  const what = process.argv[2];
  const answers = {
    include: torch.include,
    lib: torch.lib,
    abi: cxx11Abi(torch),
    std: cxxStandard(torch),
    cuda: hasCuda(torch),
    c10d: hasC10d(torch),
    gloo: hasGloo(torch),
    nccl: ncclIncludes(torch) ? '1' : '0',
    nccl_include: (ncclIncludes(torch) ?? []).join(' '),
  };
  if (!(what in answers)) {
    console.error(`usage: torch-config.cjs ${Object.keys(answers).join('|')}`);
    process.exit(2);
  }
  process.stdout.write(answers[what]);
}
