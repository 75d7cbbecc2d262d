// AF_PACKET sockets for ironlb's layer2 responder (ARP and NDP), as a plain Node-API addon.
//
// One PacketSocket = one AF_PACKET SOCK_RAW socket bound to (ifindex, ETH_P_ARP | ETH_P_IPV6),
// with a classic BPF filter so only ARP requests and replies / ICMPv6 Neighbor Solicitations and
// Advertisements with hop limit 255 reach userspace, PACKET_IGNORE_OUTGOING and a raised SO_RCVBUF.
//
// Each socket has its own receiver thread blocked in recv(): waking one thread that sleeps in
// the socket is much quicker than waking the Node event loop through epoll (docs/layer2.md).
// Fast paths: JS may hand an ARP socket a table of owned IPv4 addresses, and an NDP socket one of
// owned IPv6 addresses, with the interface MAC; the receiver thread answers requests /
// solicitations for a listed address itself and counts and drops the ones for other addresses.
// Everything else (frames the fast paths leave to JS) is queued and handed to JavaScript on the
// event loop through a uv_async, in batches.
//
// Lifecycle (one state, life_t below): close() stops answering and delivering at once (under
// the lock); the thread sees that within RECV_TIMEOUT_MS, closes the fd and wakes the loop a
// last time, which joins it and closes the uv_async handle. The struct has two owners, the JS
// object and the uv_async handle, and is freed when the last of them lets go.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <node_api.h>
#include "napi-throw.h"
#include <uv.h>
#include "arp-fast-path.h"
#include "ndp-fast-path.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define KIND_ARP 0
#define KIND_NDP 1
#define MAX_FRAME 2048
// Frames per JS call before yielding to the event loop (fairness under floods).
#define MAX_BATCH 256
// Frames waiting for JS beyond this are dropped and counted (queueDrops): a flood the event
// loop cannot keep up with must not grow memory, nor stall the thread's ARP answers.
#define MAX_QUEUED 4096
#define RCVBUF_BYTES (4 * 1024 * 1024)
// How often a blocked receiver thread looks at its state: the longest a closed socket's fd
// and thread outlive close() (they answer and deliver nothing meanwhile).
#define RECV_TIMEOUT_MS 200
// The receiver thread's EEVDF slice (sched_attr.sched_runtime for SCHED_OTHER, Linux 6.12+,
// "sched/eevdf: Allow shorter slices to wait less"): the kernel clamps it to 0.1-100 ms and takes
// the smallest. A task with a short slice gets an early virtual deadline when it wakes, so it
// preempts a CPU-bound task at once instead of waiting for the end of that task's slice (0.7 ms
// x (1 + log2 CPUs) by default: 1.4 ms on 2 CPUs).
// Its share of the CPU does not change (docs/layer2.md, "Where the time goes").
#define RECEIVER_SLICE_NS 100000ULL

// ARP requests and replies: ethertype 0x0806 and operation 1 or 2. Replies reach userspace
// (the fast path leaves them to JS) so another host answering one of our RFC 5227 probes, or
// a gratuitous ARP reply claiming an owned address, is seen; the socket is not promiscuous,
// so only broadcast replies and replies to this host arrive.
static struct sock_filter arp_filter[] = {
    {0x28, 0, 0, 12},     // ldh [12]            ethertype
    {0x15, 0, 4, 0x0806}, // jeq #0x806 ? next : drop
    {0x28, 0, 0, 20},     // ldh [20]            ARP operation
    {0x15, 1, 0, 1},      // jeq #1 ? accept : next
    {0x15, 0, 1, 2},      // jeq #2 ? accept : drop
    {0x06, 0, 0, 0x40000},// ret #262144         accept whole frame
    {0x06, 0, 0, 0},      // ret #0              drop
};

// ICMPv6 Neighbor Solicitations and Advertisements with hop limit 255 (RFC 4861 7.1.1,
// 7.1.2), no extension headers. Advertisements are how another host answers our DAD probe
// (RFC 4862 5.4.4) or claims an owned address.
static struct sock_filter ndp_filter[] = {
    {0x28, 0, 0, 12},     // ldh [12]            ethertype
    {0x15, 0, 8, 0x86dd}, // jeq #0x86dd
    {0x30, 0, 0, 20},     // ldb [20]            IPv6 next header
    {0x15, 0, 6, 58},     // jeq #58 (ICMPv6)
    {0x30, 0, 0, 21},     // ldb [21]            IPv6 hop limit
    {0x15, 0, 4, 255},    // jeq #255
    {0x30, 0, 0, 54},     // ldb [54]            ICMPv6 type
    {0x15, 1, 0, 135},    // jeq #135 (Neighbor Solicitation) ? accept : next
    {0x15, 0, 1, 136},    // jeq #136 (Neighbor Advertisement) ? accept : drop
    {0x06, 0, 0, 0x40000},// accept
    {0x06, 0, 0, 0},      // drop
};

// A received frame waiting for JS.
typedef struct frame {
  struct frame *next;
  uint32_t len;
  int mirrored; // answered by the fast path, handed over only for the debug log
  uint8_t data[];
} frame_t;

// Where a socket is in its life; it only moves forward. Written under mu (the receiver thread
// reads it); states from S_JOINED on are seen by the event loop thread only.
typedef enum {
  S_OPEN,        // answering and delivering
  S_STOPPING,    // close() was called: answer and deliver nothing; the thread is on its way out
  S_THREAD_DONE, // the thread closed the fd and touches nothing but `wake` once more
  S_JOINED,      // the thread was joined and uv_close(wake) called
} life_t;

typedef struct {
  int fd;
  napi_env env;
  napi_ref callback;
  napi_ref self;
  napi_async_context async;
  uv_async_t wake;
  pthread_t thread;
  pthread_mutex_t mu;
  // Event loop thread only: holders of the struct (the JS object, the uv_async handle); the
  // last one to let go frees it.
  int owners;
  // Guarded by mu: everything below.
  life_t state;
  frame_t *head, *tail;
  uint32_t queued;
  double queue_drops;
  // Fast path. ARP sockets: ips sorted ascending (host order); NDP sockets: ips6, n_ips
  // addresses of 16 bytes sorted by memcmp. Counters parallel to the table.
  int kind; // KIND_ARP | KIND_NDP, set once before the thread starts
  int fast;
  int mirror; // also hand answered requests to JS (for debug logging)
  uint8_t mac[6];
  uint32_t *ips;
  uint8_t *ips6;
  double *answered;
  size_t n_ips;
  double not_owned;
  double send_errors;
  double rx_frames;
} sock_t;

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  return throw_errno_message(env, msg, err);
}


// Returns 1 when the frame was fully handled (answered or dropped as not owned). Under mu.
static int fast_arp(sock_t *s, const uint8_t *f, ssize_t len, int *answered) {
  uint8_t reply[ARP_FRAME_LEN];
  size_t i;
  *answered = 0;
  switch (arp_fast_decide(f, (size_t)len, s->ips, s->n_ips, s->mac, reply, &i)) {
  case ARP_FAST_TO_JS:
    return 0;
  case ARP_FAST_NOT_OWNED:
    s->not_owned += 1;
    return 1;
  case ARP_FAST_REPLY:
    break;
  }
  if (send(s->fd, reply, sizeof reply, MSG_DONTWAIT) < 0) s->send_errors += 1;
  else s->answered[i] += 1;
  *answered = 1;
  return 1;
}

// The NDP counterpart of fast_arp. Under mu.
static int fast_ndp(sock_t *s, const uint8_t *f, ssize_t len, int *answered) {
  uint8_t reply[NA_FRAME_LEN];
  size_t i;
  *answered = 0;
  switch (ndp_fast_decide(f, (size_t)len, s->ips6, s->n_ips, s->mac, reply, &i)) {
  case NDP_FAST_TO_JS:
    return 0;
  case NDP_FAST_NOT_OWNED:
    s->not_owned += 1;
    return 1;
  case NDP_FAST_REPLY:
    break;
  }
  if (send(s->fd, reply, sizeof reply, MSG_DONTWAIT) < 0) s->send_errors += 1;
  else s->answered[i] += 1;
  *answered = 1;
  return 1;
}

static void deliver(sock_t *s, napi_value *frames, uint32_t nf, napi_value *mirrored, uint32_t nm) {
  napi_env env = s->env;
  napi_value cb, recv, argv[2];
  napi_get_reference_value(env, s->callback, &cb);
  napi_get_reference_value(env, s->self, &recv);
  napi_create_array_with_length(env, nf, &argv[0]);
  for (uint32_t i = 0; i < nf; i++) napi_set_element(env, argv[0], i, frames[i]);
  napi_create_array_with_length(env, nm, &argv[1]);
  for (uint32_t i = 0; i < nm; i++) napi_set_element(env, argv[1], i, mirrored[i]);
  napi_value result;
  napi_status st = napi_make_callback(env, s->async, recv, cb, 2, argv, &result);
  if (st != napi_ok && st != napi_pending_exception) {
    napi_throw_error(env, "ESYSCALL", "PacketSocket: calling onFrames failed");
    st = napi_pending_exception;
  }
  if (st == napi_pending_exception) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
}

static void free_frames(frame_t *f) {
  while (f != NULL) {
    frame_t *next = f->next;
    free(f);
    f = next;
  }
}

// struct sched_attr of sched_setattr(2), first version (SCHED_ATTR_SIZE_VER0, 48 bytes): glibc
// before 2.41 does not declare it, and <linux/sched/types.h> clashes with <sched.h>.
typedef struct {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
} thread_sched_attr_t;

// Asks for the shortest EEVDF slice for the calling thread, keeping its policy and nice value.
// Best effort and unprivileged: an unchanged nice value needs no CAP_SYS_NICE, and kernels
// before 6.12 ignore sched_runtime for SCHED_OTHER.
static void prefer_short_slice(void) {
  thread_sched_attr_t attr;
  memset(&attr, 0, sizeof attr);
  if (syscall(SYS_sched_getattr, 0, &attr, sizeof attr, 0) != 0 || attr.sched_policy != SCHED_OTHER) return;
  attr.size = sizeof attr;
  attr.sched_flags = 0;
  attr.sched_runtime = RECEIVER_SLICE_NS;
  syscall(SYS_sched_setattr, 0, &attr, 0);
}

// Receiver thread: blocks in recv(), answers the fast path under the lock, queues the rest.
static void *receive_loop(void *arg) {
  sock_t *s = arg;
  uint8_t buf[MAX_FRAME];
  prefer_short_slice();
  for (;;) {
    ssize_t len = recv(s->fd, buf, sizeof buf, MSG_TRUNC);
    int e = errno;
    pthread_mutex_lock(&s->mu);
    if (s->state != S_OPEN) {
      pthread_mutex_unlock(&s->mu);
      break;
    }
    if (len < 0) {
      pthread_mutex_unlock(&s->mu);
      // EAGAIN: the receive timeout. ENETDOWN and the like are reported once per event; a pause
      // keeps an unexpected persistent error from spinning.
      if (e != EAGAIN && e != EWOULDBLOCK && e != EINTR) usleep(10000);
      continue;
    }
    if (len > (ssize_t)sizeof buf) len = sizeof buf;
    s->rx_frames += 1;
    int answered = 0;
    int handled = s->fast && (s->kind == KIND_ARP ? fast_arp(s, buf, len, &answered) : fast_ndp(s, buf, len, &answered));
    int wake = 0;
    if (!handled || (answered && s->mirror)) {
      frame_t *f = s->queued < MAX_QUEUED ? malloc(sizeof *f + (size_t)len) : NULL;
      if (f == NULL) {
        s->queue_drops += 1;
      } else {
        f->next = NULL;
        f->len = (uint32_t)len;
        f->mirrored = handled;
        memcpy(f->data, buf, (size_t)len);
        if (s->tail != NULL) s->tail->next = f; else s->head = f;
        s->tail = f;
        wake = s->queued++ == 0; // the loop drains, or re-arms itself, once woken
      }
    }
    pthread_mutex_unlock(&s->mu);
    if (wake) uv_async_send(&s->wake);
  }
  close(s->fd);
  pthread_mutex_lock(&s->mu);
  s->state = S_THREAD_DONE;
  pthread_mutex_unlock(&s->mu);
  uv_async_send(&s->wake);
  return NULL;
}

static void free_sock(sock_t *s) {
  free_frames(s->head);
  free(s->ips);
  free(s->ips6);
  free(s->answered);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

// One owner lets go; the last one frees the struct.
static void release(sock_t *s) {
  if (--s->owners == 0) free_sock(s);
}

static void on_closed(uv_handle_t *handle) {
  release((sock_t *)handle->data);
}

// The state, read under the lock (the thread may be moving it from S_STOPPING on).
static life_t state_of(sock_t *s) {
  pthread_mutex_lock(&s->mu);
  life_t st = s->state;
  pthread_mutex_unlock(&s->mu);
  return st;
}

static void env_cleanup(void *arg);

// After stop: joins the thread (waiting at most RECV_TIMEOUT_MS) and closes the handle.
static void join_thread(sock_t *s) {
  if (state_of(s) == S_JOINED) return;
  pthread_join(s->thread, NULL);
  pthread_mutex_lock(&s->mu);
  s->state = S_JOINED;
  pthread_mutex_unlock(&s->mu);
  uv_close((uv_handle_t *)&s->wake, on_closed);
}

// Once closed and the thread has finished (its last wake-up): nothing left for the hook to do.
static void reap(sock_t *s) {
  napi_remove_env_cleanup_hook(s->env, env_cleanup, s);
  join_thread(s);
}

// Event loop side: hands up to MAX_BATCH queued frames to JS, then re-arms if more wait.
static void on_wake(uv_async_t *handle) {
  sock_t *s = (sock_t *)handle->data;
  pthread_mutex_lock(&s->mu);
  life_t st = s->state;
  if (st == S_JOINED) {
    pthread_mutex_unlock(&s->mu);
    return;
  }
  frame_t *batch = s->head, *last = NULL;
  uint32_t n = 0;
  for (frame_t *f = s->head; f != NULL && n < MAX_BATCH; f = f->next) {
    last = f;
    n++;
  }
  if (last != NULL) {
    s->head = last->next;
    if (s->head == NULL) s->tail = NULL;
    last->next = NULL;
    s->queued -= n;
  }
  int more = s->queued > 0;
  pthread_mutex_unlock(&s->mu);
  if (st == S_OPEN && batch != NULL) {
    napi_handle_scope scope;
    napi_open_handle_scope(s->env, &scope);
    napi_value frames[MAX_BATCH], mirrored[MAX_BATCH];
    uint32_t nf = 0, nm = 0;
    for (frame_t *f = batch; f != NULL; f = f->next) {
      void *data;
      napi_create_buffer_copy(s->env, f->len, f->data, &data, f->mirrored ? &mirrored[nm++] : &frames[nf++]);
    }
    deliver(s, frames, nf, mirrored, nm);
    napi_close_handle_scope(s->env, scope);
  }
  free_frames(batch);
  if (more && st == S_OPEN) uv_async_send(&s->wake);
  if (st == S_THREAD_DONE) reap(s);
}

// Stops answering and delivering at once; the thread and fd end within RECV_TIMEOUT_MS.
static void close_sock(sock_t *s) {
  pthread_mutex_lock(&s->mu);
  if (s->state != S_OPEN) {
    pthread_mutex_unlock(&s->mu);
    return;
  }
  s->state = S_STOPPING;
  s->fast = 0;
  pthread_mutex_unlock(&s->mu);
  // The thread's last wake-up must not keep a process alive that has nothing else to do.
  uv_unref((uv_handle_t *)&s->wake);
  napi_delete_reference(s->env, s->callback);
  napi_async_destroy(s->env, s->async);
  uint32_t refs;
  napi_reference_unref(s->env, s->self, &refs);
}

// The environment is going away (process exit, worker termination) with the socket open: stop
// and join the thread now, so it never signals a handle of a loop that no longer exists.
static void env_cleanup(void *arg) {
  sock_t *s = arg;
  close_sock(s);
  join_thread(s);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  sock_t *s = (sock_t *)data;
  close_sock(s);
  napi_delete_reference(env, s->self);
  release(s);
}

static sock_t *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  return unwrap_this(env, info, argc, argv, "not a PacketSocket");
}

// new PacketSocket(ifindex: number, kind: 'arp' | 'ndp', onFrames: (frames, answered) => void)
static napi_value ctor(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self;
  napi_get_cb_info(env, info, &argc, argv, &self, NULL);
  int32_t ifindex;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &ifindex) != napi_ok) return throw_type(env, "ifindex must be a number");
  char kindstr[8] = {0};
  size_t klen;
  if (napi_get_value_string_utf8(env, argv[1], kindstr, sizeof kindstr, &klen) != napi_ok) return throw_type(env, "kind must be 'arp' or 'ndp'");
  int kind = strcmp(kindstr, "arp") == 0 ? KIND_ARP : strcmp(kindstr, "ndp") == 0 ? KIND_NDP : -1;
  if (kind < 0) return throw_type(env, "kind must be 'arp' or 'ndp'");
  napi_valuetype t;
  napi_typeof(env, argv[2], &t);
  if (t != napi_function) return throw_type(env, "onFrames must be a function");

  // Protocol 0: nothing is queued until the filter is attached and the socket bound. Blocking:
  // the receiver thread sleeps in recv(); sends use MSG_DONTWAIT.
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket(AF_PACKET)", errno);
  struct sock_fprog prog;
  prog.filter = kind == KIND_ARP ? arp_filter : ndp_filter;
  prog.len = kind == KIND_ARP ? sizeof arp_filter / sizeof arp_filter[0] : sizeof ndp_filter / sizeof ndp_filter[0];
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) {
    int e = errno; close(fd); return throw_errno(env, "SO_ATTACH_FILTER", e);
  }
  int one = 1;
  // Best effort: kernels before 4.20 lack it, and the filter already drops our own replies.
  setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
  // No PACKET_QDISC_BYPASS: frames sent that way skip the packet taps (dev_direct_xmit), so
  // tcpdump on the node would no longer show the answers; it saved ~10% on veth (docs/layer2.md).
  int rcvbuf = RCVBUF_BYTES;
  // SO_RCVBUFFORCE needs CAP_NET_ADMIN; SO_RCVBUF is capped by net.core.rmem_max.
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  struct timeval timeout = {0, RECV_TIMEOUT_MS * 1000};
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) < 0) {
    int e = errno; close(fd); return throw_errno(env, "SO_RCVTIMEO", e);
  }
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(kind == KIND_ARP ? ETH_P_ARP : ETH_P_IPV6);
  sll.sll_ifindex = ifindex;
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
    int e = errno; close(fd); return throw_errno(env, "bind(AF_PACKET)", e);
  }

  sock_t *s = calloc(1, sizeof *s);
  if (s == NULL) { close(fd); return throw_errno(env, "PacketSocket", ENOMEM); }
  // The event loop thread answers what the receivers hand to JS (`--js-arp`, DAD probes for owned
  // addresses, debug mirrors): a short slice for it too (idempotent). Before the NDP fast path,
  // when JS answered all of NDP, it took NDP answers to 0.83x (docs/layer2.md).
  prefer_short_slice();
  s->fd = fd;
  s->kind = kind;
  s->env = env;
  s->state = S_OPEN;
  s->owners = 1; // the uv_async handle; the JS object becomes the second once wrapped
  pthread_mutex_init(&s->mu, NULL);
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  uv_async_init(loop, &s->wake, on_wake);
  s->wake.data = s;
  // The thread takes no signals (Node's handlers run on the loop) and needs little stack.
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int err = pthread_create(&s->thread, &attr, receive_loop, s);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    close(fd);
    s->state = S_JOINED; // no thread to join; the handle, its only owner, frees it when closed
    uv_close((uv_handle_t *)&s->wake, on_closed);
    return throw_errno(env, "pthread_create", err);
  }
  pthread_setname_np(s->thread, kind == KIND_ARP ? "ironlb-arp" : "ironlb-ndp");
  napi_add_env_cleanup_hook(env, env_cleanup, s);
  napi_create_reference(env, argv[2], 1, &s->callback);
  napi_value name;
  napi_create_string_utf8(env, "ironlb.PacketSocket", NAPI_AUTO_LENGTH, &name);
  // The resource must be an object we keep alive: with NULL, Node creates one that a GC may
  // collect, after which napi_make_callback fails and frames silently stop reaching JS.
  napi_async_init(env, self, name, &s->async);
  napi_wrap(env, self, s, finalize, NULL, &s->self);
  s->owners += 1;
  // An open socket keeps its JS object alive (like a libuv handle): a strong reference until
  // close(), so a GC can never silently close a socket the announcer still relies on.
  uint32_t refs;
  napi_reference_ref(env, s->self, &refs);
  return NULL;
}

// send(frame: Uint8Array): boolean  (false when the kernel queue is full)
static napi_value m_send(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  sock_t *s = unwrap(env, info, &argc, argv);
  if (s == NULL) return NULL;
  if (state_of(s) != S_OPEN) return throw_type(env, "socket is closed");
  napi_typedarray_type type;
  size_t length, offset;
  void *data;
  napi_value ab;
  if (argc < 1 || napi_get_typedarray_info(env, argv[0], &type, &length, &data, &ab, &offset) != napi_ok || type != napi_uint8_array)
    return throw_type(env, "frame must be a Uint8Array");
  napi_value res;
  if (send(s->fd, data, length, MSG_DONTWAIT) < 0) {
    if (errno == EAGAIN || errno == ENOBUFS) { napi_get_boolean(env, false, &res); return res; }
    return throw_errno(env, "send(AF_PACKET)", errno);
  }
  napi_get_boolean(env, true, &res);
  return res;
}

static napi_value membership(napi_env env, napi_callback_info info, int opt) {
  size_t argc = 1;
  napi_value argv[1];
  sock_t *s = unwrap(env, info, &argc, argv);
  if (s == NULL) return NULL;
  if (state_of(s) != S_OPEN) return throw_type(env, "socket is closed");
  void *data;
  size_t len;
  if (argc < 1 || napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok || len != 6) return throw_type(env, "mac must be a 6-byte Buffer");
  struct sockaddr_ll sll;
  socklen_t sl = sizeof sll;
  if (getsockname(s->fd, (struct sockaddr *)&sll, &sl) < 0) return throw_errno(env, "getsockname(AF_PACKET)", errno);
  struct packet_mreq mr;
  memset(&mr, 0, sizeof mr);
  mr.mr_ifindex = sll.sll_ifindex;
  mr.mr_type = PACKET_MR_MULTICAST;
  mr.mr_alen = 6;
  memcpy(mr.mr_address, data, 6);
  if (setsockopt(s->fd, SOL_PACKET, opt, &mr, sizeof mr) < 0)
    return throw_errno(env, opt == PACKET_ADD_MEMBERSHIP ? "PACKET_ADD_MEMBERSHIP" : "PACKET_DROP_MEMBERSHIP", errno);
  return NULL;
}

static napi_value m_add_membership(napi_env env, napi_callback_info info) { return membership(env, info, PACKET_ADD_MEMBERSHIP); }
static napi_value m_drop_membership(napi_env env, napi_callback_info info) { return membership(env, info, PACKET_DROP_MEMBERSHIP); }

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

// Reads a Buffer of 4-byte IPv4 addresses (network order) into a sorted host-order table.
static uint32_t *read_table(const uint8_t *p, size_t n) {
  uint32_t *ips = malloc((n ? n : 1) * sizeof *ips);
  if (ips == NULL) return NULL;
  for (size_t i = 0; i < n; i++) ips[i] = ((uint32_t)p[4 * i] << 24) | ((uint32_t)p[4 * i + 1] << 16) | ((uint32_t)p[4 * i + 2] << 8) | p[4 * i + 3];
  qsort(ips, n, sizeof *ips, cmp_u32);
  return ips;
}

static int cmp_ip6(const void *a, const void *b) { return memcmp(a, b, 16); }

// Copies a Buffer of n 16-byte IPv6 addresses into a table sorted by memcmp.
static uint8_t *read_table6(const uint8_t *p, size_t n) {
  uint8_t *ips = malloc(n ? 16 * n : 16);
  if (ips == NULL) return NULL;
  memcpy(ips, p, 16 * n);
  qsort(ips, n, 16, cmp_ip6);
  return ips;
}

// setArpTable(mac: Buffer(6) | null, ips: Buffer(4n), mirror: boolean) on an ARP socket, and
// setNdpTable(mac, ips: Buffer(16n), mirror) on an NDP socket: enables the fast path (mac
// non-null) or disables it (null). Counters of the previous table are discarded: read them with
// takeCounters() first. `kind` is the socket kind the method is for; `name` its JS name.
static napi_value set_table(napi_env env, napi_callback_info info, int kind, const char *name) {
  size_t argc = 3;
  napi_value argv[3];
  sock_t *s = unwrap(env, info, &argc, argv);
  if (s == NULL) return NULL;
  char msg[64];
  if (argc < 3) {
    snprintf(msg, sizeof msg, "%s(mac, ips, mirror)", name);
    return throw_type(env, msg);
  }
  if (s->kind != kind) {
    snprintf(msg, sizeof msg, "%s: not an %s socket", name, kind == KIND_ARP ? "ARP" : "NDP");
    return throw_type(env, msg);
  }
  napi_valuetype t;
  napi_typeof(env, argv[0], &t);
  if (t == napi_null) {
    pthread_mutex_lock(&s->mu);
    s->fast = 0;
    s->n_ips = 0;
    pthread_mutex_unlock(&s->mu);
    return NULL;
  }
  size_t width = kind == KIND_ARP ? 4 : 16;
  void *mac, *ipdata;
  size_t maclen, iplen;
  if (napi_get_buffer_info(env, argv[0], &mac, &maclen) != napi_ok || maclen != 6) return throw_type(env, "mac must be a 6-byte Buffer");
  if (napi_get_buffer_info(env, argv[1], &ipdata, &iplen) != napi_ok || iplen % width != 0) {
    snprintf(msg, sizeof msg, "ips must be a Buffer of %zu-byte addresses", width);
    return throw_type(env, msg);
  }
  bool mirror = false;
  napi_get_value_bool(env, argv[2], &mirror);
  size_t n = iplen / width;
  uint32_t *ips = kind == KIND_ARP ? read_table(ipdata, n) : NULL;
  uint8_t *ips6 = kind == KIND_NDP ? read_table6(ipdata, n) : NULL;
  double *answered = calloc(n ? n : 1, sizeof *answered);
  if ((ips == NULL && ips6 == NULL) || answered == NULL) {
    // The previous table stays in force: nothing was changed.
    free(ips);
    free(ips6);
    free(answered);
    return throw_errno(env, name, ENOMEM);
  }
  // Once this returns, the thread answers from the new table only. The table of the other kind
  // stays NULL: a socket has one kind for life.
  pthread_mutex_lock(&s->mu);
  uint32_t *old_ips = s->ips;
  uint8_t *old_ips6 = s->ips6;
  double *old_answered = s->answered;
  s->ips = ips;
  s->ips6 = ips6;
  s->answered = answered;
  s->n_ips = n;
  memcpy(s->mac, mac, 6);
  s->mirror = mirror;
  s->fast = s->state == S_OPEN;
  pthread_mutex_unlock(&s->mu);
  free(old_ips);
  free(old_ips6);
  free(old_answered);
  return NULL;
}

static napi_value m_set_arp_table(napi_env env, napi_callback_info info) { return set_table(env, info, KIND_ARP, "setArpTable"); }
static napi_value m_set_ndp_table(napi_env env, napi_callback_info info) { return set_table(env, info, KIND_NDP, "setNdpTable"); }

static void set_num(napi_env env, napi_value obj, const char *key, double v) {
  napi_value n;
  napi_create_double(env, v, &n);
  napi_set_named_property(env, obj, key, n);
}

// takeCounters(): { answered: [[ip, count]], notOwned, sendErrors, rxFrames, queueDrops },
// counting since the previous call (ip: the IPv4 address as a number on an ARP socket, the IPv6
// address as a 16-byte Buffer on an NDP socket); every counter restarts at zero. The one call
// that drains them, so no reader can take another's counts.
static napi_value m_take_counters(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  sock_t *s = unwrap(env, info, &argc, NULL);
  if (s == NULL) return NULL;
  napi_value obj, answered;
  napi_create_object(env, &obj);
  napi_create_array(env, &answered);
  uint32_t k = 0;
  pthread_mutex_lock(&s->mu);
  for (size_t i = 0; i < s->n_ips; i++) {
    if (s->answered[i] == 0) continue;
    napi_value pair, ip, cnt;
    napi_create_array_with_length(env, 2, &pair);
    if (s->kind == KIND_ARP) napi_create_uint32(env, s->ips[i], &ip);
    else {
      void *data;
      napi_create_buffer_copy(env, 16, s->ips6 + 16 * i, &data, &ip);
    }
    napi_create_double(env, s->answered[i], &cnt);
    napi_set_element(env, pair, 0, ip);
    napi_set_element(env, pair, 1, cnt);
    napi_set_element(env, answered, k++, pair);
    s->answered[i] = 0;
  }
  napi_set_named_property(env, obj, "answered", answered);
  set_num(env, obj, "notOwned", s->not_owned);
  set_num(env, obj, "sendErrors", s->send_errors);
  set_num(env, obj, "rxFrames", s->rx_frames);
  set_num(env, obj, "queueDrops", s->queue_drops);
  s->not_owned = s->send_errors = s->rx_frames = s->queue_drops = 0;
  pthread_mutex_unlock(&s->mu);
  return obj;
}

static napi_value m_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  sock_t *s = unwrap(env, info, &argc, NULL);
  if (s == NULL) return NULL;
  close_sock(s);
  return NULL;
}

// The reply frame buffer for decide(): large enough for either fast path's answer.
#define DECIDE_REPLY_MAX (ARP_FRAME_LEN > NA_FRAME_LEN ? ARP_FRAME_LEN : NA_FRAME_LEN)

// decideArp(frame: Uint8Array, mac: Buffer(6), ips: Buffer(4n)) and decideNdp(frame, mac,
// ips: Buffer(16n)): { kind: 'toJs' | 'notOwned' } or { kind: 'reply', frame: Buffer }. The fast
// paths' pure decisions (arp-fast-path.c, ndp-fast-path.c), for tests (no socket).
static napi_value decide(napi_env env, napi_callback_info info, int kind) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_typedarray_type type;
  size_t flen, offset, maclen, iplen;
  void *frame, *mac, *ipdata;
  napi_value ab;
  if (argc < 3 || napi_get_typedarray_info(env, argv[0], &type, &flen, &frame, &ab, &offset) != napi_ok || type != napi_uint8_array)
    return throw_type(env, "frame must be a Uint8Array");
  if (napi_get_buffer_info(env, argv[1], &mac, &maclen) != napi_ok || maclen != 6) return throw_type(env, "mac must be a 6-byte Buffer");
  size_t width = kind == KIND_ARP ? 4 : 16;
  if (napi_get_buffer_info(env, argv[2], &ipdata, &iplen) != napi_ok || iplen % width != 0)
    return throw_type(env, kind == KIND_ARP ? "ips must be a Buffer of 4-byte addresses" : "ips must be a Buffer of 16-byte addresses");
  size_t n = iplen / width;
  uint8_t reply[DECIDE_REPLY_MAX];
  size_t index, reply_len = 0;
  const char *name;
  if (kind == KIND_ARP) {
    uint32_t *ips = read_table(ipdata, n);
    if (ips == NULL) return throw_errno(env, "decideArp", ENOMEM);
    arp_fast_t d = arp_fast_decide(frame, flen, ips, n, mac, reply, &index);
    free(ips);
    name = d == ARP_FAST_REPLY ? "reply" : d == ARP_FAST_NOT_OWNED ? "notOwned" : "toJs";
    if (d == ARP_FAST_REPLY) reply_len = ARP_FRAME_LEN;
  } else {
    uint8_t *ips = read_table6(ipdata, n);
    if (ips == NULL) return throw_errno(env, "decideNdp", ENOMEM);
    ndp_fast_t d = ndp_fast_decide(frame, flen, ips, n, mac, reply, &index);
    free(ips);
    name = d == NDP_FAST_REPLY ? "reply" : d == NDP_FAST_NOT_OWNED ? "notOwned" : "toJs";
    if (d == NDP_FAST_REPLY) reply_len = NA_FRAME_LEN;
  }
  napi_value obj, kindval;
  napi_create_object(env, &obj);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &kindval);
  napi_set_named_property(env, obj, "kind", kindval);
  if (reply_len > 0) {
    napi_value buf;
    void *data;
    napi_create_buffer_copy(env, reply_len, reply, &data, &buf);
    napi_set_named_property(env, obj, "frame", buf);
  }
  return obj;
}

static napi_value m_decide_arp(napi_env env, napi_callback_info info) { return decide(env, info, KIND_ARP); }
static napi_value m_decide_ndp(napi_env env, napi_callback_info info) { return decide(env, info, KIND_NDP); }

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"send", NULL, m_send, NULL, NULL, NULL, napi_default, NULL},
      {"addMembership", NULL, m_add_membership, NULL, NULL, NULL, napi_default, NULL},
      {"dropMembership", NULL, m_drop_membership, NULL, NULL, NULL, napi_default, NULL},
      {"setArpTable", NULL, m_set_arp_table, NULL, NULL, NULL, napi_default, NULL},
      {"setNdpTable", NULL, m_set_ndp_table, NULL, NULL, NULL, napi_default, NULL},
      {"takeCounters", NULL, m_take_counters, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, m_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value cls;
  napi_define_class(env, "PacketSocket", NAPI_AUTO_LENGTH, ctor, NULL, sizeof methods / sizeof methods[0], methods, &cls);
  napi_set_named_property(env, exports, "PacketSocket", cls);
  napi_value decide;
  napi_create_function(env, "decideArp", NAPI_AUTO_LENGTH, m_decide_arp, NULL, &decide);
  napi_set_named_property(env, exports, "decideArp", decide);
  napi_create_function(env, "decideNdp", NAPI_AUTO_LENGTH, m_decide_ndp, NULL, &decide);
  napi_set_named_property(env, exports, "decideNdp", decide);
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
