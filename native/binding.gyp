{
  "targets": [
    {
      "target_name": "afpacket",
      "sources": ["afpacket.c", "arp-fast-path.c", "ndp-fast-path.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"]
    }
  ]
}
