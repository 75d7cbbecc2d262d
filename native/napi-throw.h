// Throwing from ironlb's Node-API addons (afpacket.node, xdp.node): one shape for every error, so
// src/sys reads `code` (the errno's name, or ESYSCALL for the rest) and `errno` the same way.
#ifndef IRONLB_NAPI_THROW_H
#define IRONLB_NAPI_THROW_H
#include <errno.h>
#include <node_api.h>

// Throws an Error whose message is `msg`, with `code` named after `err` and `errno` = err.
static inline napi_value throw_errno_message(napi_env env, const char *msg, int err) {
  const char *code = err == EPERM ? "EPERM" : err == EACCES ? "EACCES" : err == ENODEV ? "ENODEV" : err == EBUSY ? "EBUSY" : err == ENOENT ? "ENOENT" : "ESYSCALL";
  napi_value ecode, emsg, error, errnoval;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &ecode);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &emsg);
  napi_create_error(env, ecode, emsg, &error);
  napi_create_int32(env, err, &errnoval);
  napi_set_named_property(env, error, "errno", errnoval);
  napi_throw(env, error);
  return NULL;
}

// Throws a TypeError (a bad argument from JavaScript).
static inline napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

// The native object behind `this` of a method call (reading `*argc` arguments into `argv`), or
// NULL after throwing a TypeError with `not_one` (e.g. "not a PacketSocket") when there is none.
static inline void *unwrap_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv, const char *not_one) {
  napi_value self;
  napi_get_cb_info(env, info, argc, argv, &self, NULL);
  void *data = NULL;
  if (napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
    throw_type(env, not_one);
    return NULL;
  }
  return data;
}

#endif
