# Builds the libtorch addon; torch-config.cjs says where libtorch is (LIBTORCH or the system's).
{
  "variables": {
    "torch_include%": "<!(node torch-config.cjs include)",
    "torch_lib%": "<!(node torch-config.cjs lib)",
    "torch_cxx11_abi%": "<!(node torch-config.cjs abi)",
    "torch_cxx_std%": "<!(node torch-config.cjs std)",
    "torch_cuda%": "<!(node torch-config.cjs cuda)",
    "torch_c10d%": "<!(node torch-config.cjs c10d)",
    "torch_gloo%": "<!(node torch-config.cjs gloo)",
    "torch_nccl%": "<!(node torch-config.cjs nccl)"
  },
  "targets": [
    {
      "target_name": "twinshot_native",
      "sources": [
        "src/addon.cc",
        "src/tensor_handle.cc",
        "src/ops/creation.cc",
        "src/ops/pointwise.cc",
        "src/ops/reduce.cc",
        "src/ops/shape.cc",
        "src/ops/nn.cc",
        "src/ops/autograd.cc",
        "src/ops/optim.cc",
        "src/distributed.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<(torch_include)",
        "<(torch_include)/torch/csrc/api/include"
      ],
      "defines": [
        "NAPI_EXPERIMENTAL",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "_GLIBCXX_USE_CXX11_ABI=<(torch_cxx11_abi)"
      ],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++<(torch_cxx_std)", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
      "libraries": [
        "-L<(torch_lib)",
        "-Wl,-rpath,<(torch_lib)",
        "-Wl,--no-as-needed",
        "-ltorch",
        "-ltorch_cpu",
        "-lc10",
        "-Wl,--as-needed"
      ],
      "conditions": [
        ["torch_cuda==1", {
          "libraries": ["-Wl,--no-as-needed", "-ltorch_cuda", "-lc10_cuda", "-Wl,--as-needed"]
        }],
        ["torch_c10d==1", { "defines": ["TWINSHOT_WITH_C10D"] }],
        ["torch_gloo==1", { "defines": ["USE_C10D_GLOO", "TWINSHOT_WITH_GLOO"] }],
        ["torch_nccl==1", {
          "defines": ["USE_C10D_NCCL", "TWINSHOT_WITH_NCCL"],
          "include_dirs": ["<!@(node torch-config.cjs nccl_include)"]
        }]
      ]
    }
  ]
}
