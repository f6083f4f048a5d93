/*
 * tcp-quickack.node: one function, setQuickAck(fd) -> boolean, that sets
 * TCP_QUICKACK on a connected TCP socket (tcp(7)). Node has no API for it
 * (nodejs/node#21104). Why the vpcd card side wants it: docs/vpcd.md,
 * "Latency". Linux clears the flag as the connection goes on, so the caller
 * sets it again after every read.
 *
 * Node-API only, so one build works with every Node version >= 20.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <node_api.h>

static napi_value set_quick_ack(napi_env env, napi_callback_info info) {
    size_t argc = 1;
    napi_value argv[1];
    int32_t fd = -1;
    int on = 1;
    napi_value result;

    if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
        napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
        napi_get_boolean(env, 0, &result);
        return result;
    }
    napi_get_boolean(env, setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof on) == 0, &result);
    return result;
}

static napi_value init(napi_env env, napi_value exports) {
    napi_value fn;
    if (napi_create_function(env, "setQuickAck", NAPI_AUTO_LENGTH, set_quick_ack, NULL, &fn) != napi_ok) return NULL;
    if (napi_set_named_property(env, exports, "setQuickAck", fn) != napi_ok) return NULL;
    return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
