// Loads and attaches xdp/responder.bpf.o (ironlb's XDP neighbor responder) and keeps its maps,
// as a Node-API addon of its own: a machine without libbpf still loads afpacket.node, and the
// speaker falls back to AF_PACKET when this addon or the program cannot load.
//
// Loader: libbpf (Debian libbpf1), not raw bpf(2): it does the ELF parsing, map creation and
// relocation, BTF and the verifier log that a hand-written loader would have to repeat.
// Attachment is a BPF link (bpf_program__attach_xdp, BPF_LINK_CREATE, Linux 5.9+): the kernel
// detaches the program when the last fd of the link closes, so it goes away when the process
// exits or is killed, and a crashed speaker leaves no stale program behind (we never pin it).
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <node_api.h>
#include "../napi-throw.h"

#define MAX_OWNED 65536
#define REASONS 9

// The last message libbpf printed (the verifier log's last line, a missing map), for errors.
static __thread char last_log[512];

static int on_libbpf_log(enum libbpf_print_level level, const char *fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[512];
  int n = vsnprintf(line, sizeof line, fmt, args);
  // vsnprintf returns the length it wanted, not what fits: clamp before indexing the buffer.
  if (n >= (int)sizeof line) n = (int)sizeof line - 1;
  if (n > 0 && line[0] != '\n') {
    while (n > 0 && line[n - 1] == '\n') line[--n] = 0;
    snprintf(last_log, sizeof last_log, "%s", line);
  }
  return 0;
}

typedef struct {
  struct bpf_object *obj;
  struct bpf_link *link; // NULL once closed
  int config_fd, v4_fd, v6_fd, reasons_fd;
} xdp_t;

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[900];
  if (last_log[0] != 0) snprintf(msg, sizeof msg, "%s: %s (libbpf: %s)", what, strerror(err), last_log);
  else snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  last_log[0] = 0;
  return throw_errno_message(env, msg, err);
}


// libbpf 1.x reports errors as NULL + errno or as a negative errno.
static int err_of(long ret) {
  return ret < 0 ? (int)-ret : errno != 0 ? errno : EINVAL;
}

static void close_xdp(xdp_t *x) {
  if (x->link != NULL) bpf_link__destroy(x->link); // detaches the program
  x->link = NULL;
  if (x->obj != NULL) bpf_object__close(x->obj);
  x->obj = NULL;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  close_xdp(data);
  free(data);
}

// Opens and loads (verifies) the object; NULL with errno set on failure.
static struct bpf_object *load(const char *path, int *err) {
  last_log[0] = 0;
  struct bpf_object *obj = bpf_object__open_file(path, NULL);
  if (obj == NULL) {
    *err = errno != 0 ? errno : ENOENT;
    return NULL;
  }
  int r = bpf_object__load(obj);
  if (r != 0) {
    *err = err_of(r);
    bpf_object__close(obj);
    return NULL;
  }
  return obj;
}

static int get_path(napi_env env, napi_value v, char *buf, size_t size) {
  size_t len;
  return napi_get_value_string_utf8(env, v, buf, size, &len) == napi_ok && len > 0 && len < size - 1;
}

// probe(objectPath): loads the program into the kernel and unloads it; throws what stops it
// (EPERM without CAP_BPF, a verifier refusal, a missing file).
static napi_value m_probe(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[4096];
  if (argc < 1 || !get_path(env, argv[0], path, sizeof path)) return throw_type(env, "objectPath must be a path");
  int err = 0;
  struct bpf_object *obj = load(path, &err);
  if (obj == NULL) return throw_errno(env, "loading the XDP program", err);
  bpf_object__close(obj);
  return NULL;
}

static int map_fd(struct bpf_object *obj, const char *name) {
  struct bpf_map *m = bpf_object__find_map_by_name(obj, name);
  return m == NULL ? -1 : bpf_map__fd(m);
}

// new XdpResponder(ifindex, objectPath): loads the program and attaches it to the interface
// through a BPF link (native mode where the driver has it, else generic).
static napi_value ctor(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self;
  napi_get_cb_info(env, info, &argc, argv, &self, NULL);
  int32_t ifindex;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &ifindex) != napi_ok || ifindex <= 0) return throw_type(env, "ifindex must be a positive number");
  char path[4096];
  if (!get_path(env, argv[1], path, sizeof path)) return throw_type(env, "objectPath must be a path");
  int err = 0;
  struct bpf_object *obj = load(path, &err);
  if (obj == NULL) return throw_errno(env, "loading the XDP program", err);
  struct bpf_program *prog = bpf_object__find_program_by_name(obj, "ironlb_responder");
  if (prog == NULL) {
    bpf_object__close(obj);
    return throw_errno(env, "XDP program ironlb_responder", ENOENT);
  }
  errno = 0;
  struct bpf_link *link = bpf_program__attach_xdp(prog, ifindex);
  if (link == NULL) {
    err = errno != 0 ? errno : EINVAL;
    bpf_object__close(obj);
    return throw_errno(env, "attaching the XDP program", err);
  }
  xdp_t *x = calloc(1, sizeof *x);
  if (x == NULL) {
    bpf_link__destroy(link);
    bpf_object__close(obj);
    return throw_errno(env, "XdpResponder", ENOMEM);
  }
  x->obj = obj;
  x->link = link;
  x->config_fd = map_fd(obj, "config");
  x->v4_fd = map_fd(obj, "owned_v4");
  x->v6_fd = map_fd(obj, "owned_v6");
  x->reasons_fd = map_fd(obj, "reasons");
  if (x->config_fd < 0 || x->v4_fd < 0 || x->v6_fd < 0 || x->reasons_fd < 0) {
    close_xdp(x);
    free(x);
    return throw_errno(env, "XDP program maps", ENOENT);
  }
  napi_wrap(env, self, x, finalize, NULL, NULL);
  return NULL;
}

static xdp_t *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  xdp_t *x = unwrap_this(env, info, argc, argv, "not an XdpResponder");
  if (x == NULL) return NULL;
  if (x->link == NULL) {
    throw_type(env, "XdpResponder is closed");
    return NULL;
  }
  return x;
}

// Must match struct config in xdp/responder.bpf.c.
struct config {
  unsigned char mac[6];
  unsigned char enabled;
  unsigned char pad;
};

// Makes the keys of `fd` exactly the `n` keys of `size` bytes in `keys`: adds the new ones with
// a zero count (keeping the counts of those that stay) and deletes the others. Returns 0 or an errno.
static int sync_keys(int fd, const unsigned char *keys, size_t n, size_t size) {
  for (size_t i = 0; i < n; i++) {
    unsigned long long zero = 0;
    if (bpf_map_update_elem(fd, keys + i * size, &zero, BPF_NOEXIST) != 0 && errno != EEXIST) return errno;
  }
  unsigned char key[16], next[16];
  const void *prev = NULL;
  unsigned char *gone = malloc(MAX_OWNED * size);
  if (gone == NULL) return ENOMEM;
  size_t ngone = 0;
  while (bpf_map_get_next_key(fd, prev, next) == 0) {
    int keep = 0;
    for (size_t i = 0; i < n && !keep; i++) keep = memcmp(keys + i * size, next, size) == 0;
    if (!keep && ngone < MAX_OWNED) memcpy(gone + size * ngone++, next, size);
    memcpy(key, next, size);
    prev = key;
  }
  for (size_t i = 0; i < ngone; i++) bpf_map_delete_elem(fd, gone + i * size);
  free(gone);
  return 0;
}

// set(mac: Buffer(6), ipv4: Buffer(4n), ipv6: Buffer(16n)): the owned addresses and the MAC to
// answer with; in force for every frame the program sees after this returns.
static napi_value m_set(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  xdp_t *x = unwrap(env, info, &argc, argv);
  if (x == NULL) return NULL;
  void *mac, *v4, *v6;
  size_t maclen, v4len, v6len;
  if (argc < 3 || napi_get_buffer_info(env, argv[0], &mac, &maclen) != napi_ok || maclen != 6) return throw_type(env, "mac must be a 6-byte Buffer");
  if (napi_get_buffer_info(env, argv[1], &v4, &v4len) != napi_ok || v4len % 4 != 0 || v4len / 4 > MAX_OWNED) return throw_type(env, "ipv4 must be a Buffer of 4-byte addresses");
  if (napi_get_buffer_info(env, argv[2], &v6, &v6len) != napi_ok || v6len % 16 != 0 || v6len / 16 > MAX_OWNED) return throw_type(env, "ipv6 must be a Buffer of 16-byte addresses");
  struct config cfg = {{0}, 1, 0};
  memcpy(cfg.mac, mac, 6);
  unsigned int zero = 0;
  if (bpf_map_update_elem(x->config_fd, &zero, &cfg, BPF_ANY) != 0) return throw_errno(env, "XDP config map", errno);
  int err = sync_keys(x->v4_fd, v4, v4len / 4, 4);
  if (err == 0) err = sync_keys(x->v6_fd, v6, v6len / 16, 16);
  if (err != 0) return throw_errno(env, "XDP owned-address maps", err);
  return NULL;
}

static napi_value read_counts(napi_env env, int fd, size_t size) {
  napi_value arr;
  napi_create_array(env, &arr);
  unsigned char key[16], next[16];
  const void *prev = NULL;
  uint32_t k = 0;
  while (bpf_map_get_next_key(fd, prev, next) == 0) {
    unsigned long long n = 0;
    if (bpf_map_lookup_elem(fd, next, &n) == 0) {
      napi_value pair, buf, cnt;
      void *data;
      napi_create_array_with_length(env, 2, &pair);
      napi_create_buffer_copy(env, size, next, &data, &buf);
      napi_create_double(env, (double)n, &cnt);
      napi_set_element(env, pair, 0, buf);
      napi_set_element(env, pair, 1, cnt);
      napi_set_element(env, arr, k++, pair);
    }
    memcpy(key, next, size);
    prev = key;
  }
  return arr;
}

// counters(): { ipv4: [[Buffer(4), answered]], ipv6: [[Buffer(16), answered]], reasons: number[] },
// cumulative since the program was loaded (the caller takes differences).
static napi_value m_counters(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  xdp_t *x = unwrap(env, info, &argc, NULL);
  if (x == NULL) return NULL;
  napi_value obj, reasons;
  napi_create_object(env, &obj);
  napi_set_named_property(env, obj, "ipv4", read_counts(env, x->v4_fd, 4));
  napi_set_named_property(env, obj, "ipv6", read_counts(env, x->v6_fd, 16));
  int cpus = libbpf_num_possible_cpus();
  unsigned long long *per_cpu = calloc(cpus > 0 ? (size_t)cpus : 1, sizeof *per_cpu);
  if (per_cpu == NULL) return throw_errno(env, "XDP counters", ENOMEM);
  napi_create_array_with_length(env, REASONS, &reasons);
  for (unsigned int r = 0; r < REASONS; r++) {
    double sum = 0;
    if (bpf_map_lookup_elem(x->reasons_fd, &r, per_cpu) == 0)
      for (int c = 0; c < cpus; c++) sum += (double)per_cpu[c];
    napi_value v;
    napi_create_double(env, sum, &v);
    napi_set_element(env, reasons, r, v);
  }
  free(per_cpu);
  napi_set_named_property(env, obj, "reasons", reasons);
  return obj;
}

// close(): detaches the program and frees the maps. Idempotent.
static napi_value m_close(napi_env env, napi_callback_info info) {
  napi_value self;
  size_t argc = 0;
  napi_get_cb_info(env, info, &argc, NULL, &self, NULL);
  void *data = NULL;
  if (napi_unwrap(env, self, &data) == napi_ok && data != NULL) close_xdp(data);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  libbpf_set_print(on_libbpf_log);
  napi_property_descriptor methods[] = {
      {"set", NULL, m_set, NULL, NULL, NULL, napi_default, NULL},
      {"counters", NULL, m_counters, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, m_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value cls, probe;
  napi_define_class(env, "XdpResponder", NAPI_AUTO_LENGTH, ctor, NULL, sizeof methods / sizeof methods[0], methods, &cls);
  napi_set_named_property(env, exports, "XdpResponder", cls);
  napi_create_function(env, "probe", NAPI_AUTO_LENGTH, m_probe, NULL, &probe);
  napi_set_named_property(env, exports, "probe", probe);
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
