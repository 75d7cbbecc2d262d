{
  "targets": [
    {
      "target_name": "xdp",
      "sources": ["xdp.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"],
      "libraries": ["-lbpf"]
    }
  ]
}
